#!/usr/bin/env python3
"""Search Console: one client's SEO report fetched from the kit's fake answering every call
after 150 ms (the issue's speed target), then a second run and next month's report.

    .venv/bin/python benchmarks/search_console_fetch.py

The time is that of the report's fetch stage (every source's ``fetch_many``, from the
first call to the last answer, including the token exchange), in a process that has imported
google-auth already; the fake runs in a process of its own. The client has the SEO KPIs of
the web plugin (clicks, impressions, CTR, position, top queries) and three filtered ones
(branded, non-branded, mobile clicks): with each KPI's totals (period, previous, last year),
its days and its 25 months, that is Search Console's share of the issue's ≈20 queries of a
report (21 tables here, 19 calls). Targets: the first fetch of the report at most
1.5 s wall; a second run makes no call; next month's report asks only what is new.
Prints JSON; exit status 1 when a target is missed.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

import kpireport.pipeline.fetch as fetch_stage
from kpireport.config import load_config
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.testing import FakeServer
from kpireport.testing.fakes.google_oauth import GoogleOAuthFake
from kpireport.testing.fakes.search_console import SearchConsoleFake

LATENCY = 0.150
SITE = "https://www.example.com/"
CALLS = r"/webmasters/v3/sites/[^/]+/searchAnalytics/query"
KPIS = ["organic_clicks", "impressions", "ctr", "avg_position", "top_queries",
        {"kpi": "organic_clicks", "id": "branded_clicks", "label": "Branded clicks",
         "description": "Clicks on searches naming the brand.",
         "filters": [{"dimension": "query", "contains": "kpi"}]},
        {"kpi": "organic_clicks", "id": "non_branded_clicks", "label": "Non-branded clicks",
         "description": "Clicks on other searches.",
         "filters": [{"dimension": "query", "not_contains": "kpi"}]},
        {"kpi": "organic_clicks", "id": "mobile_clicks", "label": "Mobile clicks",
         "description": "Clicks from phones.",
         "filters": [{"dimension": "device", "equals": "Mobile"}]}]


def serve(folder: Path, ready: Any, stop: Any) -> None:
    """The fakes, in a process of their own: Google's servers do not share our CPU (the fake
    computes each answer from 15,000 rows in Python, which in-process would hold the GIL)."""
    with FakeServer(latency=LATENCY) as server:
        oauth = GoogleOAuthFake(server)
        oauth.write_service_account_key(folder / "key.json")
        SearchConsoleFake(server, oauth, seed=3, start=dt.date(2024, 10, 1),
                          today=dt.date(2026, 12, 3))
        server.route("GET", "/_calls", lambda call: {"calls": len(server.calls_to(CALLS))})
        ready.put(server.url)
        stop.wait()


def main() -> int:
    plugins = load_plugins([])
    # Imports a run pays once per process, whatever the number of reports: not the fetch's.
    import google.auth.transport.requests
    import google.oauth2.service_account  # noqa: F401
    import requests

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ready: Any = multiprocessing.Queue()
        stop: Any = multiprocessing.Event()
        fakes = multiprocessing.Process(target=serve, args=(folder, ready, stop), daemon=True)
        fakes.start()
        url = ready.get(timeout=60)

        def count() -> int:
            # The counting call itself waits the fake's latency: outside the timed stage.
            return int(requests.get(f"{url}/_calls", timeout=10).json()["calls"])

        config_path = folder / "config.yaml"
        config_path.write_text(yaml.safe_dump({
            "agency": {"name": "Bench"},
            "defaults": {"period": "2026-10", "output": "out", "timezone": "Europe/Paris"},
            "clients": [{"id": "acme", "name": "Acme", "kpis": KPIS, "sources": {"seo": {
                "plugin": "search_console", "settings": {
                    "site": SITE, "base_url": url,
                    "auth": {"service_account_file": "key.json"}}}}}]}), encoding="utf-8")
        config = load_config(config_path)
        client = config.client("acme")

        def run(now: dt.datetime, period: str) -> tuple[float, int, int]:
            """The wall time of the report's fetch stage, the calls made and the tables."""
            before = count()
            spent: list[float] = []
            real = fetch_stage.ask_sources

            def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return real(*args, **kwargs)
                finally:
                    spent.append(time.perf_counter() - started)

            fetch_stage.ask_sources = timed
            try:
                report = compute_report(config, client, plugins, now=now, period_spec=period,
                                        state_root=folder / "state")
            finally:
                fetch_stage.ask_sources = real
            assert not report.fetched.errors, report.fetched.errors
            return sum(spent), count() - before, len(report.fetched.tables)

        now = dt.datetime(2026, 11, 25, 9, tzinfo=dt.UTC)
        first_s, first_calls, queries = run(now, "2026-10")
        second_s, second_calls, _ = run(now, "2026-10")
        next_s, next_calls, _ = run(dt.datetime(2026, 12, 3, 9, tzinfo=dt.UTC), "2026-11")
        stop.set()
        fakes.join(timeout=10)
    figures = {
        "latency_s": LATENCY, "queries": queries,
        "first_report_s": round(first_s, 3), "first_report_calls": first_calls,
        "second_run_s": round(second_s, 3), "second_run_calls": second_calls,
        "next_month_s": round(next_s, 3), "next_month_calls": next_calls,
        "targets": {"first_report_s<=1.5": first_s <= 1.5, "second_run_calls==0":
                    second_calls == 0, "next_month_calls<first": next_calls < first_calls},
    }
    print(json.dumps(figures, indent=2))
    return 0 if all(figures["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
