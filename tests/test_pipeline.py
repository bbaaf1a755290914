"""The pipeline's stages seen from outside: one plan, answered live or from a snapshot."""

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from kpireport import snapshots
from kpireport.batch import snapshot_bytes
from kpireport.config import load_config
from kpireport.data import Query
from kpireport.figures_csv import figures_csv
from kpireport.periods import resolve, today_in
from kpireport.pipeline.assess import assess_objectives
from kpireport.pipeline.compute import compute_kpis
from kpireport.pipeline.fetch import Fetcher, LiveFetcher, SnapshotFetcher
from kpireport.pipeline.plan import plan_client, plan_report
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.render import render_report

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def example():
    config = load_config(ROOT / "config.example.yaml")
    return config, load_plugins()


def snapshot_of(config, client, plugins, tmp_path, period="2026-10"):
    report = compute_report(config, client, plugins, period_spec=period, now=NOW)
    path = tmp_path / f"{client.id}.json.gz"
    snapshots.write(path, snapshot_bytes(config, client, report, NOW))
    return report, snapshots.load(path)


def plan_for(config, client, plugins, period_spec="2026-10", specs=None):
    today = today_in(config.timezone_of(client), NOW)
    return plan_report(plan_client(config, client, plugins, today, specs=specs),
                       resolve(period_spec, today))


def test_live_and_snapshot_fetchers_answer_one_plan_with_equal_figures(example, tmp_path):
    config, plugins = example
    client = config.clients[0]
    _, snap = snapshot_of(config, client, plugins, tmp_path)
    assert snap["format"] == snapshots.FORMAT == 2
    plan = plan_for(config, client, plugins)
    try:
        fetchers: list[Fetcher] = [LiveFetcher(), SnapshotFetcher(snap)]
        live, stored = (f.fetch(plan) for f in fetchers)
    finally:
        plan.close()
    assert live.tables.keys() == stored.tables.keys() and live.tables
    assert all(live.tables[k].rows == stored.tables[k].rows for k in live.tables)
    figures = [compute_kpis(plan, fetched, "en") for fetched in (live, stored)]
    assert figures[0].keys() == figures[1].keys()
    for key, value in figures[0].items():
        other = figures[1][key]
        assert (value.value, value.previous, value.last_year, value.rows) == (
            other.value, other.previous, other.last_year, other.rows)
        assert value.monthly == other.monthly and value.daily == other.daily


def test_each_query_is_built_once_by_the_plan(example, tmp_path, monkeypatch):
    config, plugins = example
    client = next(c for c in config.clients if c.objectives)
    _, snap = snapshot_of(config, client, plugins, tmp_path)
    plan = plan_for(config, client, plugins, specs=snap["specs"])
    # What the fetcher answers is keyed by the very query objects the plan asks.
    fetched = SnapshotFetcher(snap).fetch(plan)
    asked = {(source, id(q)) for source, queries in plan.asks.items() for q in queries}
    assert {(source, id(q)) for source, q in fetched.tables} <= asked
    assert len(fetched.tables) == len(asked)
    # Each KPI query is answered by one of them.
    for queries in plan.queries.values():
        for source, qs in queries.by_source().items():
            for q in qs:
                assert any(plan.answered_by[(source, q)] is a for a in plan.asks[source])
    # Computing and assessing build no query of their own.
    built = []
    original = Query.__init__

    def counting(self, *args, **kwargs):
        built.append(args)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Query, "__init__", counting)
    kpis = compute_kpis(plan, fetched, "en")
    assessments = assess_objectives(plan, kpis, fetched)
    assert built == [] and assessments and kpis


@pytest.mark.pdf
def test_a_format_1_snapshot_still_rerenders_with_the_same_figures(example, tmp_path):
    import gzip
    import json

    config, plugins = example
    client = next(c for c in config.clients if c.objectives)
    report, _ = snapshot_of(config, client, plugins, tmp_path)
    # Format 1 wrote each table under its own query and read it back by its shape: the
    # query asked for a KPI's month series is another range than the one stored here.
    payload = json.loads(gzip.decompress(snapshot_bytes(config, client, report, NOW)))
    payload["format"] = 1
    for item in payload["tables"]:
        item["query"]["metrics"] = list(reversed(item["query"]["metrics"]))
    path = tmp_path / "old.json.gz"
    path.write_bytes(gzip.compress(json.dumps(payload).encode()))
    snap = snapshots.load(path)
    assert snap["format"] == 1
    again = compute_report(config, client, plugins, period=report.period, now=NOW,
                           snapshot=snap)
    assert figures_csv(again) == figures_csv(report)
    assert render_report(again, plugins).pages == render_report(report, plugins).pages
    assert [dataclasses.asdict(a) for a in again.objectives] == [
        dataclasses.asdict(a) for a in report.objectives]


def test_a_quota_error_says_when_to_ask_again():
    from kpireport.errors import QuotaExhausted
    from kpireport.pipeline.fetch import _worded

    assert _worded(QuotaExhausted("the daily quota is spent", retry_after=5400)) == \
        "the daily quota is spent (it can be asked again in 1.5 h)"
    assert _worded(QuotaExhausted("spent", retry_after=90)).endswith("again in 2 min)")
    assert _worded(QuotaExhausted("spent")) == "spent"
