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
