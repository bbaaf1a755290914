"""A client's web KPIs from its GA4 property, through the real pipeline (compute_report):
each figure equals the one computed here from the GA4 fake's seeded rows — unique visitors
asked for the whole month (never summed from days), rates and averages from sums."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from ga4_fixtures import PROPERTY, SA_EMAIL, TODAY, expected_web, google_fake

from kpireport import NoteKind, SourceError
from kpireport.config import load_config
from kpireport.data import DateRange
from kpireport.pipeline.report import compute_report

pytestmark = pytest.mark.usefixtures("only_localhost")

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
OCT = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
SEP = DateRange(start=dt.date(2026, 9, 1), end=dt.date(2026, 9, 30))
OCT_LAST_YEAR = DateRange(start=dt.date(2025, 10, 1), end=dt.date(2025, 10, 31))
KPIS = ["sessions", "users", "pageviews", "avg_session_duration", "time_on_page", "leads",
        "conversion_rate", "orders", "revenue", "top_pages", "traffic_sources"]


@pytest.fixture(scope="module")
def google(tmp_path_factory):
    # 25 months of data for the charts' series: this year's thirteen and the twelve before.
    yield from google_fake(tmp_path_factory.mktemp("ga4"), start=dt.date(2024, 10, 1))


@pytest.fixture(scope="module")
def plugins():
    from kpireport.testing.plugins import plugin_set

    return plugin_set()


def write_config(tmp_path: Path, google: Any, settings: dict[str, Any] | None = None,
                 **client: Any) -> Path:
    (tmp_path / "key.json").write_bytes((google.tmp_path / "key.json").read_bytes())
    settings = {"property_id": PROPERTY, "auth": {"service_account_file": "key.json"},
                "base_url": google.server.url, "leads": ["generate_lead", "form_submit"],
                "conversions": ["sign_up"], **(settings or {})}
    data = {"agency": {"name": "Agency"},
            "defaults": {"period": "2026-10", "output": "out", "currency": "EUR",
                         "timezone": "Europe/Paris"},
            "clients": [{"id": "shop", "name": "The Shop", "kpis": KPIS,
                         "sources": {"web": {"plugin": "ga4", "settings": settings}},
                         **client}]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def compute(path: Path, plugins: Any) -> Any:
    config = load_config(path)
    return compute_report(config, config.client("shop"), plugins, now=NOW,
                          state_root=path.parent / "state")


def expected(google: Any, rng: DateRange) -> dict[str, float]:
    return expected_web(google, rng.start, rng.end)


def test_a_clients_web_kpis_are_the_figures_of_its_ga4_property(tmp_path, google, plugins):
    before = google.api_calls()
    report = compute(write_config(tmp_path, google), plugins)
    now, previous, last_year = (expected(google, r) for r in (OCT, SEP, OCT_LAST_YEAR))
    for key, value in now.items():
        kpi = report.kpis[key]
        assert kpi.error is None, (key, kpi.error)
        assert kpi.value == pytest.approx(value), key
        assert kpi.previous == pytest.approx(previous[key]), key
        assert kpi.last_year == pytest.approx(last_year[key]), key
    # Unique visitors: the month's distinct people, fewer than the sum of its days'.
    daily_users = [p.value for p in report.kpis["users"].daily]
    assert len(daily_users) == 31 and sum(daily_users) > report.kpis["users"].value
    # Monthly series, each month's distinct users asked for that month.
    series = {p.start: p.value for p in report.kpis["users"].monthly}
    assert len(series) == 25
    for start in (dt.date(2025, 1, 1), dt.date(2026, 10, 1)):
        end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(1)
        assert series[start] == expected(google, DateRange(start=start, end=end))["users"]
    # The top pages and the channels of October.
    pages: dict[str, float] = {}
    channels: dict[str, float] = {}
    for r in google.rows(OCT.start, OCT.end):
        pages[r.page] = pages.get(r.page, 0) + r.metrics["screenPageViews"]
        channels[r.channel] = channels.get(r.channel, 0) + r.metrics["sessions"]
    top = report.kpis["top_pages"].rows
    assert [(r["page"], r["pageviews"]) for r in top] == sorted(
        pages.items(), key=lambda kv: -kv[1])[:len(top)]
    assert {r["channel"]: r["sessions"] for r in report.kpis["traffic_sources"].rows} == channels
    # The property is in the client's time zone and currency: no note about either.
    assert not [n for n in report.notes if n.kind in (NoteKind.TIMEZONE, NoteKind.CURRENCY)]
    assert report.usage["web"]["tokensPerDay"].endswith("/200000")
    # A second run: everything it asks is final and cached, so Google is not asked again.
    asked = google.api_calls() - before
    assert 0 < asked <= 15
    compute(write_config(tmp_path, google), plugins)
    assert google.api_calls() - before == asked


def test_a_property_the_service_account_cannot_read_fails_the_client_naming_both(
        tmp_path, google, plugins):
    path = write_config(tmp_path, google)
    text = path.read_text().replace(f"'{PROPERTY}'", "'555'").replace(
        f"property_id: {PROPERTY}", "property_id: '555'")
    path.write_text(text)
    with pytest.raises(SourceError) as raised:
        compute(path, plugins)
    assert "GA4 property 555" in str(raised.value) and SA_EMAIL in str(raised.value)


def test_exhausted_quota_partial_report_states_the_gap_and_shows_the_quota(tmp_path, plugins):
    (tmp_path / "fake").mkdir()
    for google in google_fake(tmp_path / "fake", start=dt.date(2024, 10, 1),
                              tokens_per_day=0):
        # One request at a time, so that what follows the 429 can be counted exactly.
        path = write_config(tmp_path, google, {"concurrent_requests": 1},
                            on_source_error="partial")
        report = compute(path, plugins)
        assert set(report.fetched.errors) == {"web"}
        assert "tokens per day" in report.fetched.errors["web"]
        [gap] = [n for n in report.notes if n.kind is NoteKind.SOURCE_FAILED]
        assert gap.source == "web"
        # The first batch refused, none of the others sent.
        assert google.api_calls() == 1
        assert report.usage["web"]["tokensPerDay"] == "200000/200000"
        assert TODAY == dt.date(2026, 11, 25)


@pytest.mark.pdf
def test_the_pdf_prints_the_figures_of_the_property(tmp_path, google):
    from kpireport.testing import render_report

    rendered = render_report(write_config(tmp_path, google), "shop")
    want = expected(google, OCT)
    for key in ("sessions", "users", "pageviews", "leads", "orders"):
        assert rendered.figures[key] == pytest.approx(want[key])
        assert f"{int(want[key]):,}" in rendered.pdf_text, key


def test_validate_refuses_leads_when_no_key_event_is_named(tmp_path, google, capsys):
    from kpireport.cli import main

    path = write_config(tmp_path, google)
    text = path.read_text()
    text = text.replace("        leads:\n        - generate_lead\n        - form_submit\n", "")
    path.write_text(text)
    assert "generate_lead" not in text
    before = len(google.server.calls)
    assert main(["validate", str(path)]) != 0
    out = capsys.readouterr()
    assert "leads" in out.out + out.err
    assert len(google.server.calls) == before  # offline


def test_a_property_in_another_currency_and_time_zone_is_said_so(tmp_path, plugins):
    (tmp_path / "fake").mkdir()
    for google in google_fake(tmp_path / "fake", start=dt.date(2024, 10, 1), currency="USD",
                              timezone="America/New_York"):
        report = compute(write_config(tmp_path, google), plugins)
        kinds = {n.kind: n for n in report.notes}
        assert dict(kinds[NoteKind.TIMEZONE].params)["timezone"] == "America/New_York"
        assert dict(kinds[NoteKind.CURRENCY].params)["currency"] == "USD"
        # No exchange rate in the config: the revenue stays in dollars, said so.
        revenue = report.kpis["revenue"]
        assert revenue.currency == "USD"
        assert revenue.value == pytest.approx(expected(google, OCT)["revenue"])
