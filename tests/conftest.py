import contextlib
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent / "plugins"))


@pytest.fixture(autouse=True)
def _isolated_plugins(monkeypatch):
    # Only kpireport's own entry points: a plugin installed on the machine must not change
    # what the suite sees.
    monkeypatch.setenv("KPIREPORT_PLUGIN_DISTRIBUTIONS", "kpireport")
    for name in ("KPIREPORT_PLUGINS", "KPIREPORT_DISABLE_PLUGINS", "KPIREPORT_STRICT_PLUGINS",
                 "KPIREPORT_LOAD_ENTRYPOINTS", "KPIREPORT_TRACE_PLUGINS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _restore_logging():
    # ``kpireport.cli.main`` installs its own root handler on the stream pytest captures; put
    # the root logger back so later tests do not log to a closed stream.
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


# --- The markers stay honest ------------------------------------------------------------------
# ``pytest -m "not pdf and not workers"`` is the fast part. A test that reaches WeasyPrint, or
# forks, starts a Python subprocess or a thread running kpireport code, without the matching
# marker fails: a new slow test cannot slip into the fast part. Checked around each phase of
# each test (setup included, so a module-scoped fixture counts for the first test using it).
# The cost: a few attribute swaps per phase.


class _BlockWeasyPrint:
    """A meta-path finder refusing ``import weasyprint`` (the first one) where unmarked."""

    def __init__(self, hit):
        self.hit = hit

    def find_spec(self, name, path=None, target=None):
        if name == "weasyprint" or name.startswith("weasyprint."):
            self.hit({"pdf"}, f"import {name}")
        return None


@contextlib.contextmanager
def _heavy_work_guard(marks: set[str]):
    import multiprocessing.process
    import subprocess
    import threading

    from kpireport import weasy

    hits: list[str] = []

    def hit(needs: set[str], what: str) -> None:
        if needs & marks:
            return
        hits.append(what)  # also reported after the phase: a thread's exception is lost
        raise AssertionError(f"{what} in a test not marked {' or '.join(sorted(needs))}")

    real_load = weasy.load
    real_fork, real_start = os.fork, multiprocessing.process.BaseProcess.start
    real_popen, real_thread = subprocess.Popen.__init__, threading.Thread.start

    def load():
        hit({"pdf"}, "kpireport.weasy.load()")
        return real_load()

    def fork():
        hit({"workers"}, "os.fork()")
        return real_fork()

    def start(self):
        hit({"workers"}, "starting a multiprocessing process")
        return real_start(self)

    def popen(self, args, *rest, **kwargs):
        argv = [args] if isinstance(args, str | bytes | os.PathLike) else list(args)
        if argv and os.fspath(argv[0]) == sys.executable:
            # What the child does is out of this check's sight: marked for what it does.
            hit({"pdf", "workers"}, "a Python subprocess")
        return real_popen(self, args, *rest, **kwargs)

    def thread_start(self):
        target = getattr(self, "_target", None)
        if (getattr(target, "__module__", None) or "").startswith("kpireport"):
            hit({"workers"}, f"a thread running {target.__module__}.{target.__qualname__}")
        return real_thread(self)

    finder = _BlockWeasyPrint(hit)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(weasy, "load", load)
        if "weasyprint" in sys.modules:  # imported by an earlier test: guard its use instead
            html = sys.modules["weasyprint"].HTML
            real_render = html.render

            def render(self, *args, **kwargs):
                hit({"pdf"}, "weasyprint.HTML.render()")
                return real_render(self, *args, **kwargs)

            mp.setattr(html, "render", render)
        mp.setattr(os, "fork", fork)
        mp.setattr(multiprocessing.process.BaseProcess, "start", start)
        mp.setattr(subprocess.Popen, "__init__", popen)
        mp.setattr(threading.Thread, "start", thread_start)
        sys.meta_path.insert(0, finder)
        try:
            yield hits
        finally:
            # Every guard's finder, not only this one: pytester puts back the sys.meta_path of
            # its setup (holding that phase's finder) when it tears down.
            sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _BlockWeasyPrint)]


def _guarded(item):
    marks = {mark.name for mark in item.iter_markers()}
    with _heavy_work_guard(marks) as hits:
        result = yield
    if hits:
        raise AssertionError(f"not marked for what it does: {hits}")
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    return (yield from _guarded(item))
