#!/usr/bin/env python3
"""GA4 fetch speed: one report's Google Analytics data with a fake answering after 150 ms.

    .venv/bin/python benchmarks/ga4_fetch.py
    .venv/bin/python benchmarks/ga4_fetch.py --latency 0.15 --runs 3

A client with eleven web KPIs from the ``ga4`` source, computed through the real pipeline
(``compute_report``) against the kit's GA4 fake and token endpoint on 127.0.0.1, every reply
delayed ``--latency`` seconds. Measures, and checks:

- the first report's fetch: wall time of ``compute_report`` (target ≤ 1.5 s), the queries
  the engine hands the source, the requests and HTTP calls it makes;
- a second run of the same report (a re-render, a ``preview`` refresh): no call (target 0);
- next month's report, a month later: only the new month is asked;
- twenty distinct queries (the totals, series and tables of a larger report, each over the
  25 months of the charts or a month) handed to the source at once, empty cache: wall time
  (target ≤ 1.5 s).

Prints JSON; exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kpireport import DateRange, Filter, Granularity, Operator, Order, Query  # noqa: E402
from kpireport.config import load_config  # noqa: E402
from kpireport.pipeline.report import compute_report  # noqa: E402
from kpireport.testing import FakeServer, make_context  # noqa: E402
from kpireport.testing.fakes.ga4 import GA4Fake  # noqa: E402
from kpireport.testing.fakes.google_oauth import GoogleOAuthFake  # noqa: E402
from kpireport.testing.plugins import plugin_set  # noqa: E402
from kpireport_ga4 import Ga4Settings, Ga4Source  # noqa: E402

KPIS = ["sessions", "users", "pageviews", "avg_session_duration", "time_on_page", "leads",
        "conversion_rate", "orders", "revenue", "top_pages", "traffic_sources"]
REPORTS = r"/v1beta/properties/\d+:(runReport|batchRunReports)"
TARGET_S = 1.5


def config(folder: Path, url: str, period: str) -> Path:
    data = {"agency": {"name": "Bench Agency"},
            "defaults": {"period": period, "output": "out", "currency": "EUR",
                         "timezone": "Europe/Paris"},
            "clients": [{"id": "shop", "name": "Shop", "kpis": KPIS, "sources": {"web": {
                "plugin": "ga4", "settings": {
                    "property_id": "123456789", "auth": {"service_account_file": "key.json"},
                    "base_url": url, "leads": ["generate_lead", "form_submit"],
                    "conversions": ["sign_up"]}}}}]}
    path = folder / f"config-{period}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def run(path: Path, now: dt.datetime, state: Path, plugins: object) -> float:
    cfg = load_config(path)
    started = time.perf_counter()
    report = compute_report(cfg, cfg.client("shop"), plugins, now=now,  # type: ignore[arg-type]
                            state_root=state)
    elapsed = time.perf_counter() - started
    failed = [k for k, v in report.kpis.items() if v.error]
    if failed:
        raise SystemExit(f"KPIs failed: {failed}")
    return elapsed


def twenty_queries() -> list[Query]:
    october = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
    months = DateRange(start=dt.date(2024, 10, 1), end=dt.date(2026, 10, 31))
    organic = (Filter(dimension="channel", operator=Operator.EQUALS, values=("Organic Search",)),)
    out = []
    for metrics in (("sessions", "pageviews"), ("users",), ("leads", "conversions"),
                    ("revenue", "transactions")):
        out.append(Query(metrics=metrics, range=october))
        out.append(Query(metrics=metrics, range=months, granularity=Granularity.MONTH))
        out.append(Query(metrics=metrics, range=october, granularity=Granularity.DAY))
    for dim in ("channel", "source", "page", "landing_page", "device", "country"):
        out.append(Query(metrics=("sessions",), range=october, dimensions=(dim,),
                         order=(Order(metric="sessions"),), limit=10))
    out.append(Query(metrics=("sessions", "users"), range=october, filters=organic))
    out.append(Query(metrics=("sessions",), range=months, granularity=Granularity.MONTH,
                     filters=organic))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--runs", type=int, default=3, help="first reports measured, each "
                                                            "with an empty cache")
    args = parser.parse_args()
    plugins = plugin_set()
    queries: list[int] = []
    real = Ga4Source.fetch_many

    def counting(self: Ga4Source, qs: object) -> object:
        queries.append(len(qs))  # type: ignore[arg-type]
        return real(self, qs)  # type: ignore[arg-type]

    Ga4Source.fetch_many = counting  # type: ignore[method-assign,assignment]
    firsts: list[float] = []
    out: dict[str, object] = {"latency_s": args.latency}
    with tempfile.TemporaryDirectory() as tmp, FakeServer(latency=args.latency) as server:
        folder = Path(tmp)
        oauth = GoogleOAuthFake(server)
        GA4Fake(server, oauth, seed=7, start=dt.date(2024, 10, 1), end=dt.date(2026, 12, 24),
                today=dt.date(2026, 12, 25), properties=("123456789",))
        oauth.write_service_account_key(folder / "key.json")
        october = config(folder, server.url, "2026-10")
        now = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
        for i in range(args.runs):
            before = len(server.calls_to(REPORTS))
            firsts.append(run(october, now, folder / f"state-{i}", plugins))
            out["requests_http"] = len(server.calls_to(REPORTS)) - before
        state = folder / f"state-{args.runs - 1}"
        out["queries"] = queries[-1]
        before = len(server.calls_to(REPORTS))
        out["second_run_s"] = round(run(october, now, state, plugins), 3)
        out["second_run_calls"] = len(server.calls_to(REPORTS)) - before
        before_bodies = len(server.calls_to(REPORTS))
        november = config(folder, server.url, "2026-11")
        out["next_month_s"] = round(run(november, dt.datetime(2026, 12, 25, 9, 0,
                                                              tzinfo=dt.UTC), state, plugins), 3)
        calls = server.calls_to(REPORTS)[before_bodies:]
        bodies = [b for c in calls for b in c.json().get("requests", [c.json()])]
        out["next_month_calls"] = len(calls)
        out["next_month_reports"] = len(bodies)
        out["next_month_ranges"] = sorted({json.dumps(b["dateRanges"][0]) for b in bodies})
        wide = []
        for i in range(args.runs):
            context = make_context(folder / f"wide-{i}", plugin="ga4",
                                   today=dt.date(2026, 11, 25))
            (folder / f"wide-{i}").mkdir()
            (folder / f"wide-{i}" / "key.json").write_bytes((folder / "key.json").read_bytes())
            source = Ga4Source(Ga4Settings(property_id="123456789", base_url=server.url,
                                           auth={"service_account_file": "key.json"},
                                           leads=["generate_lead"]), context)
            asked = twenty_queries()
            before = len(server.calls_to(REPORTS))
            started = time.perf_counter()
            answers = real(source, asked)
            wide.append(time.perf_counter() - started)
            if not all(hasattr(a, "rows") for a in answers.values()):
                raise SystemExit(f"queries failed: {answers}")
            calls = server.calls_to(REPORTS)[before:]
            out["twenty_queries_calls"] = len(calls)
            out["twenty_queries_reports"] = sum(len(c.json().get("requests", [1]))
                                                for c in calls)
        out["twenty_queries"] = len(asked)
        out["twenty_queries_s"] = [round(w, 3) for w in wide]
        out["twenty_queries_median_s"] = round(statistics.median(wide), 3)
    out["first_report_s"] = [round(f, 3) for f in firsts]
    out["first_report_median_s"] = round(statistics.median(firsts), 3)
    met = (statistics.median(firsts) <= TARGET_S and out["second_run_calls"] == 0
           and statistics.median(wide) <= TARGET_S)
    out["targets_met"] = met
    print(json.dumps(out, indent=2))
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
