"""A :class:`~kpireport.SourceContext` for a source's tests: a temporary state folder, no wait
between retries."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from kpireport.sources import SourceContext

TODAY = dt.date(2026, 11, 25)
"""The run date tests use unless they say otherwise: October 2026 is final, November not."""


def make_context(tmp_path: Path, *, name: str = "source", plugin: str = "", label: str = "",
                 today: dt.date = TODAY, timezone: str = "Europe/London",
                 currency: str = "EUR", client_id: str = "test-client") -> SourceContext:
    """The context the engine would give a source, for a test.

    Relative paths in settings resolve against ``tmp_path``; the state folder (``state_dir``,
    ``cache``, rate limiters) is ``tmp_path / "state"``, so a second source built on the same
    ``tmp_path`` sees the first one's cache, as next run would; ``http_session()`` retries
    without waiting (``retry_backoff=0``), ``Retry-After`` included.
    """
    return SourceContext(name=name, client_id=client_id, timezone=ZoneInfo(timezone),
                         base_dir=tmp_path, today=today, plugin=plugin, label=label,
                         currency=currency, state_root=tmp_path / "state", retry_backoff=0.0)
