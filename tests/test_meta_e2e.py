"""Issue #14's acceptance tests: a client with a Meta source, through the real pipeline.

The ads KPIs of a client's report come from the ``meta`` source reading the kit's fake Graph
API; every expected figure is computed here from the fake's raw rows (one per campaign and
day), never through the plugin's code.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from kpireport import NoteKind, SourceError
from kpireport.config import load_config
from kpireport.data import DateRange
from kpireport.pipeline.report import compute_report
from kpireport.testing import FakeServer
from kpireport.testing.fakes.meta import CampaignDay, MetaFake
from kpireport_meta import graph as meta_graph
from kpireport_meta import source as meta_source

pytestmark = pytest.mark.usefixtures("only_localhost")

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
"""The run's moment: the report is November's, whose last days are still being attributed."""
NOV = DateRange(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
OCT = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
NOV_LAST_YEAR = DateRange(start=dt.date(2025, 11, 1), end=dt.date(2025, 11, 30))
PARIS = dt.timezone(dt.timedelta(hours=1))  # Europe/Paris in late November
WINDOWS = ("7d_click", "1d_view")
KPIS = ["ad_spend", "ad_purchases", "ad_reach", "cost_per_purchase", "roas", "ad_conversions",
        "ad_conversion_value", "ad_impressions", "ad_clicks", "ad_ctr", "ad_cpc", "ad_cpm",
        "cost_per_result", "top_campaigns"]


@pytest.fixture
def graph() -> Any:
    with FakeServer() as server:
        yield MetaFake(server, seed=11, now=NOW)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The source's waits, recorded instead of slept (a run's retry_backoff is 1)."""
    recorded: list[float] = []
    monkeypatch.setattr(meta_graph, "pause", recorded.append)
    monkeypatch.setattr(meta_source, "utcnow", lambda: NOW)
    return recorded


def write_config(tmp_path: Path, graph: MetaFake, **settings: Any) -> Path:
    ads = {"plugin": "meta", "label": "Meta Ads", "settings": {
        "ad_account_id": graph.account_id, "pixel_id": graph.pixel_id,
        "graph_url": graph.server.url, "access_token": "${META_TOKEN}",
        "events": ["purchase", "lead"], "calls_per_minute": 10_000, **settings}}
    if settings.get("access_token", "") is None:  # the token from META_ACCESS_TOKEN instead
        del ads["settings"]["access_token"]
    data = {"agency": {"name": "Ads Agency"},
            "defaults": {"period": "2026-11", "output": "out", "currency": "EUR",
                         "timezone": "Europe/Paris"},
            "clients": [{"id": "shop", "name": "Shop", "sources": {"ads": ads},
                         "kpis": KPIS}]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def compute(path: Path, kpireport_plugins: Any) -> Any:
    config = load_config(path)
    return compute_report(config, config.client("shop"), kpireport_plugins(),
                          now=NOW, state_root=path.parent / "state")


def rows(graph: MetaFake, rng: DateRange, campaign: str | None = None) -> list[CampaignDay]:
    return [d for d in graph.days if rng.start <= d.day <= rng.end
            and (campaign is None or d.campaign.id == campaign)]


def spend(raw: list[CampaignDay]) -> float:
    return sum(d.spend for d in raw)


def purchases(raw: list[CampaignDay]) -> int:
    return sum(d.purchases[w] for d in raw for w in WINDOWS)


def value(raw: list[CampaignDay]) -> float:
    return sum(d.purchase_value[w] for d in raw for w in WINDOWS)


def test_the_ads_kpis_equal_the_figures_of_the_raw_rows(tmp_path, graph, waits, monkeypatch,
                                                         kpireport_plugins):
    monkeypatch.setenv("META_TOKEN", graph.token)
    report = compute(write_config(tmp_path, graph), kpireport_plugins)
    k = report.kpis
    for key in KPIS:
        assert k[key].error is None, (key, k[key].error)
    for rng, attr in ((NOV, "value"), (OCT, "previous"), (NOV_LAST_YEAR, "last_year")):
        raw = rows(graph, rng)
        assert getattr(k["ad_spend"], attr) == pytest.approx(spend(raw))
        # Each purchase is listed three times by Meta (pixel, purchase, omni): counted once.
        assert getattr(k["ad_purchases"], attr) == purchases(raw)
        assert getattr(k["ad_conversions"], attr) == purchases(raw)
        assert getattr(k["ad_reach"], attr) == graph.reach(raw)
        assert getattr(k["cost_per_purchase"], attr) == pytest.approx(spend(raw) /
                                                                      purchases(raw))
        assert getattr(k["cost_per_result"], attr) == pytest.approx(spend(raw) / purchases(raw))
        assert getattr(k["roas"], attr) == pytest.approx(value(raw) / spend(raw))
    raw = rows(graph, NOV)
    impressions, clicks = sum(d.impressions for d in raw), sum(d.clicks for d in raw)
    assert k["ad_conversion_value"].value == pytest.approx(value(raw))
    assert k["ad_impressions"].value == impressions and k["ad_clicks"].value == clicks
    assert k["ad_ctr"].value == pytest.approx(clicks / impressions)
    assert k["ad_cpc"].value == pytest.approx(spend(raw) / clicks)
    assert k["ad_cpm"].value == pytest.approx(1000 * spend(raw) / impressions)
    # Reach is never summed from days: the month's is less than its days' sum, and each
    # month of the series is that month's own deduplicated count.
    assert k["ad_reach"].value < sum(p.value or 0 for p in k["ad_reach"].daily)
    for point in k["ad_reach"].monthly[-3:]:
        end = (point.start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        month = DateRange(start=point.start, end=end - dt.timedelta(days=1))
        assert point.value == graph.reach(rows(graph, month))
    assert [p.value for p in k["ad_spend"].daily] == pytest.approx(
        [spend(rows(graph, DateRange(start=d, end=d))) for d in NOV.iter_days()])

    # Top campaigns: one row per campaign, never collapsed into one figure.
    table = k["top_campaigns"].rows
    running = {d.campaign.id: d.campaign.name for d in raw}
    assert sorted(r["campaign"] for r in table) == sorted(running.values())
    assert len(table) == len(running) > 1
    for row in table:
        [cid] = [c for c, name in running.items() if name == row["campaign"]]
        mine = rows(graph, NOV, cid)
        assert row["spend"] == pytest.approx(spend(mine))
        assert row["ad_conversions"] == purchases(mine)
        assert row["roas"] == pytest.approx(value(mine) / spend(mine))
    assert [r["spend"] for r in table] == sorted((r["spend"] for r in table), reverse=True)

    # The notes: the attribution setting, and November's last 7 days not final.
    notes = k["ad_purchases"].notes
    assert any(n.kind is NoteKind.OTHER and "7-day click, 1-day view" in n.message
               for n in notes)
    [late] = [n for n in notes if n.kind is NoteKind.INCOMPLETE]
    assert late.dates == tuple(dt.date(2026, 11, d) for d in range(24, 31))
    assert waits == []
    assert not report.findings or all(f.rule != "conversions-falling-spend-holding"
                                      for f in report.findings)


def test_a_silent_pixel_feeds_the_check_tracking_rule(tmp_path, graph, waits, monkeypatch,
                                                      kpireport_plugins):
    monkeypatch.setenv("META_TOKEN", graph.token)
    graph.silence_pixel(dt.datetime(2026, 11, 28, tzinfo=PARIS),
                        dt.datetime(2026, 11, 29, tzinfo=PARIS))
    report = compute(write_config(tmp_path, graph), kpireport_plugins)
    [gap] = [n for n in report.kpis["ad_purchases"].notes if n.kind is NoteKind.TRACKING_GAP]
    assert gap.dates == (dt.date(2026, 11, 28),)
    [finding] = [f for f in report.findings if f.rule == "conversions-falling-spend-holding"]
    assert "no event on 28 Nov 2026" in finding.in_language("en")[1]
    assert "ad_purchases" in finding.kpis


def test_throttling_mid_report_waits_what_the_header_says(tmp_path, graph, waits, monkeypatch,
                                                          kpireport_plugins, caplog):
    monkeypatch.setenv("META_TOKEN", graph.token)
    graph.throttle(80004, minutes=2, after=6)
    with caplog.at_level(logging.WARNING):
        report = compute(write_config(tmp_path, graph), kpireport_plugins)
    assert waits == [120.0]
    assert "waiting 120 s as x-business-use-case-usage asks" in caplog.text
    assert report.kpis["ad_spend"].value == pytest.approx(spend(rows(graph, NOV)))
    assert all(report.kpis[key].error is None for key in KPIS)


def test_throttling_beyond_the_maximum_wait_fails_clearly(tmp_path, graph, waits, monkeypatch,
                                                          kpireport_plugins):
    monkeypatch.setenv("META_TOKEN", graph.token)
    graph.throttle(613, minutes=45, after=3)
    with pytest.raises(SourceError) as raised:
        compute(write_config(tmp_path, graph, max_throttle_wait=1800), kpireport_plugins)
    assert waits == []  # never waited: the wait asked is beyond the maximum
    assert str(raised.value) == (
        "Meta Ads: Meta throttled the calls to ad account act_1234567890 (code 613) and asks "
        "to wait 45 minutes, more than max_throttle_wait (1800 s): run the report later, or "
        "raise max_throttle_wait (it can be asked again in 45 min)")
    assert graph.token not in str(raised.value)


def test_validate_names_a_bad_setting_offline(tmp_path, graph, capsys, monkeypatch):
    from kpireport.cli import main

    monkeypatch.setenv("META_TOKEN", graph.token)
    path = write_config(tmp_path, graph, events=["purchases"], result_event="purchases")
    before = len(graph.server.calls)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "events" in err and "unknown event 'purchases'" in err
    assert len(graph.server.calls) == before  # offline


def test_validate_says_the_tokens_variable_is_not_set(tmp_path, graph, capsys, monkeypatch):
    from kpireport.cli import main

    monkeypatch.delenv("META_ACCESS_TOKEN", raising=False)
    path = write_config(tmp_path, graph, access_token=None)
    assert main(["validate", str(path)]) != 0
    out = capsys.readouterr()
    assert "META_ACCESS_TOKEN (the system user's access token) is not set" in out.err + out.out
    assert graph.server.calls == []
