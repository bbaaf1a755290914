"""The plugin author's kit: what kpireport's own tests use, shipped for plugins' tests.

Imported by tests only (never by kpireport itself); the fixtures are in kpireport's pytest
plugin (:mod:`kpireport.testing.pytest_plugin`), which pytest loads wherever kpireport is
installed: ``source_context``, ``only_localhost``, ``kpireport_plugins``.

- :class:`SourceContract`: the contract suite a source's test class inherits;
- :func:`make_context`: a :class:`~kpireport.SourceContext` for a test (temporary state
  folder, retries without waiting);
- :func:`render_report`: a client's report computed and rendered, with its PDF's text
  (:class:`Rendered`);
- :class:`FakeServer` (with :class:`Reply`, :class:`Call`): a fake HTTP API on 127.0.0.1
  that logs every call and scripts failures, so a source's real client code runs in tests.

Names are imported when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "Call": "kpireport.testing.server",
    "FakeServer": "kpireport.testing.server",
    "Reply": "kpireport.testing.server",
    "Rendered": "kpireport.testing.rendering",
    "SourceContract": "kpireport.testing.contract",
    "make_context": "kpireport.testing.context",
    "render_report": "kpireport.testing.rendering",
}

__all__ = ["Call", "FakeServer", "Rendered", "Reply", "SourceContract", "make_context",
           "render_report"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kpireport.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from kpireport.testing.context import make_context
    from kpireport.testing.contract import SourceContract
    from kpireport.testing.rendering import Rendered, render_report
    from kpireport.testing.server import Call, FakeServer, Reply
