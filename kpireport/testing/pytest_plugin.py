"""kpireport's pytest plugin, loaded by pytest wherever kpireport is installed (entry point
``pytest11``). Its fixtures, for a plugin's tests:

- ``source_context``: a :class:`~kpireport.SourceContext` for a source under test
  (:func:`kpireport.testing.make_context` on the test's ``tmp_path``);
- ``only_localhost``: any connection beyond 127.0.0.1/::1/localhost fails the test;
- ``kpireport_plugins``: ``kpireport_plugins("my_plugin")`` is a ``PluginSet`` of the
  built-ins and the named plugin modules only, never a plugin installed by accident.

Importing this module is light: what the fixtures need is imported when they run.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kpireport.testing.guard import CALL_REPORT, guarded

if TYPE_CHECKING:
    from kpireport.plugins import PluginSet
    from kpireport.sources import SourceContext


@pytest.fixture
def source_context(tmp_path: Path) -> SourceContext:
    """A source's context on ``tmp_path``: state folder ``tmp_path / "state"``, today
    2026-11-25, Europe/London, EUR, retries without waiting. Build your source with it, or
    ``dataclasses.replace`` it to change a field."""
    from kpireport.testing.context import make_context

    return make_context(tmp_path)


@pytest.fixture
def only_localhost(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test when it connects to anything but this machine (a FakeServer is fine)."""
    for _ in guarded(request):
        yield


@pytest.fixture
def kpireport_plugins(monkeypatch: pytest.MonkeyPatch) -> Callable[..., PluginSet]:
    """``kpireport_plugins(*modules, builtins=True)``: the built-in plugins (unless
    ``builtins=False``) and the plugin modules named, nothing installed by accident. For the
    test's duration the environment variables that choose plugins say the same, so code that
    loads plugins itself (the CLI) sees the same set."""
    from kpireport.plugins import BUILT_IN
    from kpireport.testing.plugins import plugin_set

    for name in ("KPIREPORT_PLUGINS", "KPIREPORT_DISABLE_PLUGINS", "KPIREPORT_LOAD_ENTRYPOINTS",
                 "KPIREPORT_STRICT_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KPIREPORT_PLUGIN_DISTRIBUTIONS", BUILT_IN)

    def load(*modules: str, builtins: bool = True) -> PluginSet:
        if modules:
            monkeypatch.setenv("KPIREPORT_PLUGINS", ",".join(modules))
        if not builtins:
            monkeypatch.setenv("KPIREPORT_LOAD_ENTRYPOINTS", "0")
        return plugin_set(*modules, builtins=builtins)

    return load


def pytest_configure(config: pytest.Config) -> None:
    # render_report's tests are marked pdf (WeasyPrint takes seconds): the mark is known in a
    # plugin's own suite too, even under --strict-markers.
    if not any(line.split(":")[0].strip() == "pdf" for line in config.getini("markers")):
        config.addinivalue_line("markers", "pdf: renders a report with WeasyPrint (slow)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
        item: pytest.Item, call: pytest.CallInfo[None],
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # The network guard fails a test at teardown only when it passed (an attempt the code
    # swallowed); a test that already failed keeps its one failure.
    report = yield
    if report.when == "call":
        item.stash[CALL_REPORT] = report
    return report
