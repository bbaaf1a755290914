"""Helpers shared by the tests: the example's reports computed, the example config made
portable, and a server that records every request it gets (to prove that nothing was
fetched)."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from kpireport.data import DateRange

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
"""When the example's monthly reports (October 2026) are computed."""


def example_reports(*clients: str, now: dt.datetime = EXAMPLE_NOW) -> tuple[dict[str, Any], Any]:
    """The example's reports by client id (``clients``, else all), computed as of ``now``,
    with the plugins that computed them."""
    from kpireport.config import load_config
    from kpireport.pipeline.report import compute_report
    from kpireport.plugins import load_plugins

    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    chosen = [config.client(c) for c in clients] if clients else list(config.clients)
    return {c.id: compute_report(config, c, plugins, now=now) for c in chosen}, plugins


def example_copy(tmp_path: Path, edit: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """config.example.yaml with absolute data and logo paths, edited, written to tmp_path."""
    data = yaml.safe_load((ROOT / "config.example.yaml").read_text(encoding="utf-8"))
    data["agency"]["logo"] = str(ROOT / data["agency"]["logo"])
    for client in data["clients"]:
        client["logo"] = str(ROOT / client["logo"])
        for source in client["sources"].values():
            settings = source["settings"]
            for table in settings.get("tables", []):
                table["path"] = str(ROOT / table["path"])
            if "search_console" in settings:
                settings["search_console"] = str(ROOT / settings["search_console"])
    if edit:
        edit(data)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@contextmanager
def recording_server() -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on 127.0.0.1: yields its port and the list of paths requested."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], hits
    finally:
        server.shutdown()


def months(first: dt.date, last: dt.date) -> list[DateRange]:
    """The calendar months from the one starting ``first`` to the one starting ``last``, each
    whole (what a report's monthly series holds), counted here without kpireport's help."""
    out = []
    start = first
    while start <= last:
        following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        out.append(DateRange(start=start, end=following - dt.timedelta(days=1)))
        start = following
    return out
