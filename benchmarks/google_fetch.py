#!/usr/bin/env python3
"""Google sources: one client's report fetched from GA4 and Search Console fakes answering
every call after 150 ms, then the same report again, and next month's.

    .venv/bin/python benchmarks/google_fetch.py            # --latency 0.15 --runs 3

One client with both Google sources — ``ga4`` for the web KPIs (sessions, unique visitors,
pages, session duration, time on page, leads, conversion rate, orders, revenue, top pages,
traffic sources) and ``search_console`` for the SEO ones (clicks, impressions, CTR, position,
top queries, top pages, branded and non-branded clicks, clicks by device) — computed through
the real pipeline (``compute_report``, no PDF). The fakes (the kit's GA4, Search Console and
token endpoint) run in a process of their own, as Google's servers do not share our CPU.

Measured, in the same run:

- the yardstick: one call to the fake (its latency plus a round trip), median of 10;
- the report's fetch stage (every source's ``fetch_many``, token exchanges included), with
  an empty state folder, median of ``--runs``: its wall time, and that time in yardstick
  calls (target ≤ 1.5 s at 150 ms a call, i.e. ten calls' time);
- the same report again, as a second run or a ``preview`` refresh does (target: no call; a
  ``rerender`` reads the run's snapshot and asks no source at all);
- next month's report a month later (target: only what is new — the date ranges asked are
  printed; none is a month already final at the first run, but last year's November total).

Prints JSON; exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import kpireport.pipeline.fetch as fetch_stage  # noqa: E402
from kpireport.config import load_config  # noqa: E402
from kpireport.pipeline.report import compute_report  # noqa: E402
from kpireport.plugins import load_plugins  # noqa: E402
from kpireport.testing import FakeServer  # noqa: E402
from kpireport.testing.fakes.ga4 import GA4Fake  # noqa: E402
from kpireport.testing.fakes.google_oauth import GoogleOAuthFake  # noqa: E402
from kpireport.testing.fakes.search_console import SearchConsoleFake  # noqa: E402

TARGET_S = 1.5
SITE = "https://www.example.com/"
API = r"(/v1beta/properties/\d+:(runReport|batchRunReports)" \
      r"|/webmasters/v3/sites/[^/]+/searchAnalytics/query)"
WEB = ["sessions", "users", "pageviews", "avg_session_duration", "time_on_page", "leads",
       "conversion_rate", "orders", "revenue", "top_pages", "traffic_sources"]
SEO = ["organic_clicks", "impressions", "ctr", "avg_position", "top_queries",
       "search_top_pages", "clicks_by_device",
       {"kpi": "branded_clicks", "filters": [{"dimension": "query", "contains": "kpi"}]},
       {"kpi": "non_branded_clicks", "filters": [{"dimension": "query",
                                                  "not_contains": "kpi"}]}]


def serve(folder: Path, latency: float, ready: Any, stop: Any) -> None:
    with FakeServer(latency=latency) as server:
        oauth = GoogleOAuthFake(server)
        oauth.write_service_account_key(folder / "key.json")
        GA4Fake(server, oauth, seed=7, start=dt.date(2024, 10, 1), end=dt.date(2026, 12, 24),
                today=dt.date(2026, 12, 25))
        SearchConsoleFake(server, oauth, seed=3, start=dt.date(2024, 10, 1),
                          today=dt.date(2026, 12, 25))
        server.route("GET", "/_ping", lambda call: {})
        server.route("GET", "/_calls", lambda call: {"calls": [
            {"path": c.path, "body": c.json()} for c in server.calls_to(API)]})
        ready.put(server.url)
        stop.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    plugins = load_plugins([])
    # Imports a run pays once per process, whatever the number of reports: not the fetch's.
    import google.auth.transport.requests
    import google.oauth2.service_account  # noqa: F401
    import requests

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ready: Any = multiprocessing.Queue()
        stop: Any = multiprocessing.Event()
        fakes = multiprocessing.Process(target=serve, args=(folder, args.latency, ready, stop),
                                        daemon=True)
        fakes.start()
        url = ready.get(timeout=120)

        def calls() -> list[dict[str, Any]]:
            return list(requests.get(f"{url}/_calls", timeout=30).json()["calls"])

        session = requests.Session()
        pings = []
        for _ in range(10):
            started = time.perf_counter()
            session.get(f"{url}/_ping", timeout=10)
            pings.append(time.perf_counter() - started)
        one_call = statistics.median(pings)

        def config(period: str) -> Any:
            path = folder / f"config-{period}.yaml"
            path.write_text(yaml.safe_dump({
                "agency": {"name": "Bench"},
                "defaults": {"period": period, "output": "out", "currency": "EUR",
                             "timezone": "Europe/Paris"},
                "clients": [{"id": "shop", "name": "Shop", "kpis": [
                    *({"kpi": k, "source": "web"} for k in WEB),
                    *({"kpi": k, "source": "seo"} if isinstance(k, str)
                      else {**k, "source": "seo"} for k in SEO)],
                    "sources": {
                        "web": {"plugin": "ga4", "settings": {
                            "property_id": "123456789", "base_url": url,
                            "auth": {"service_account_file": "key.json"},
                            "leads": ["generate_lead", "form_submit"],
                            "conversions": ["sign_up"]}},
                        "seo": {"plugin": "search_console", "settings": {
                            "site": SITE, "base_url": url,
                            "auth": {"service_account_file": "key.json"}}}}}]},
                sort_keys=False), encoding="utf-8")
            return load_config(path)

        def run(period: str, now: dt.datetime, state: Path) -> tuple[float, int, int]:
            """The fetch stage's wall time, the API calls made and the queries asked."""
            cfg = config(period)
            before = len(calls())
            spent: list[float] = []
            real = fetch_stage.ask_sources

            def timed(*a: Any, **k: Any) -> Any:
                started = time.perf_counter()
                try:
                    return real(*a, **k)
                finally:
                    spent.append(time.perf_counter() - started)

            fetch_stage.ask_sources = timed
            try:
                report = compute_report(cfg, cfg.client("shop"), plugins, now=now,
                                        state_root=state)
            finally:
                fetch_stage.ask_sources = real
            failed = {k: v.error for k, v in report.kpis.items() if v.error}
            if report.fetched.errors or failed:
                raise SystemExit(f"the report failed: {report.fetched.errors or failed}")
            return sum(spent), len(calls()) - before, len(report.fetched.tables)

        october_now = dt.datetime(2026, 11, 25, 9, tzinfo=dt.UTC)
        firsts = [run("2026-10", october_now, folder / f"state-{i}") for i in range(args.runs)]
        state = folder / f"state-{args.runs - 1}"
        second_s, second_calls, _ = run("2026-10", october_now, state)
        seen = len(calls())
        next_s, next_calls, _ = run("2026-11", dt.datetime(2026, 12, 25, 9, tzinfo=dt.UTC),
                                    state)
        asked: set[str] = set()
        for call in calls()[seen:]:
            for body in call["body"].get("requests", [call["body"]]):
                for rng in body.get("dateRanges") or [body]:
                    asked.add(f"{rng['startDate']}..{rng['endDate']}")
        stop.set()
        fakes.join(timeout=10)
    first_s = statistics.median(f[0] for f in firsts)
    stale = sorted(r for r in asked if r.split("..")[1] < "2026-11-01"
                   and not r.startswith("2025-11"))
    out = {
        "date": dt.date.today().isoformat(), "latency_s": args.latency,
        "one_call_s": round(one_call, 3),
        "queries": firsts[-1][2], "first_report_calls": firsts[-1][1],
        "first_report_s": [round(f[0], 3) for f in firsts],
        "first_report_median_s": round(first_s, 3),
        "first_report_in_calls": round(first_s / one_call, 1),
        "second_run_s": round(second_s, 3), "second_run_calls": second_calls,
        "next_month_s": round(next_s, 3), "next_month_calls": next_calls,
        "next_month_ranges": sorted(asked),
        "targets": {"first_report<=1.5s": first_s <= TARGET_S * args.latency / 0.15,
                    "second_run_calls==0": second_calls == 0,
                    "next_month_asks_nothing_final": not stale},
    }
    print(json.dumps(out, indent=2))
    return 0 if all(out["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
