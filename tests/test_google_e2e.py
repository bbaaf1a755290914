"""Issue #12's check: one client with both Google sources — its GA4 property for the web
KPIs, its Search Console site for the SEO ones, one service account for both — and every
figure, in the report and in its PDF, equal to the one computed here from the fakes' seeded
rows (unique visitors the month's distinct people, never a sum of days; CTR and position
from sums)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from ga4_fixtures import PROPERTY, SA_EMAIL, Google, expected_web
from search_console_data import SITE, figures, select

from kpireport import DateRange
from kpireport.config import load_config
from kpireport.pipeline.report import compute_report
from kpireport.testing import FakeServer
from kpireport.testing.fakes.ga4 import GA4Fake
from kpireport.testing.fakes.google_oauth import GoogleOAuthFake
from kpireport.testing.fakes.search_console import SearchConsoleFake

pytestmark = pytest.mark.usefixtures("only_localhost")

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
OCT = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
SEP = DateRange(start=dt.date(2026, 9, 1), end=dt.date(2026, 9, 30))
BRAND = "kpi ?report"
WEB = ["sessions", "users", "pageviews", "avg_session_duration", "time_on_page", "leads",
       "conversion_rate", "orders", "revenue"]
SEO = ["organic_clicks", "impressions", "ctr", "avg_position"]


@dataclass
class Fakes:
    google: Google
    gsc: SearchConsoleFake


@pytest.fixture(scope="module")
def fakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fakes]:
    folder = tmp_path_factory.mktemp("google")
    with FakeServer() as server:
        oauth = GoogleOAuthFake(server)
        ga4 = GA4Fake(server, oauth, seed=7, start=dt.date(2024, 10, 1),
                      end=dt.date(2026, 11, 24), today=dt.date(2026, 11, 25),
                      properties=(PROPERTY,))
        gsc = SearchConsoleFake(server, oauth, seed=21, start=dt.date(2024, 10, 1),
                                today=dt.date(2026, 11, 25))
        oauth.write_service_account_key(folder / "key.json", SA_EMAIL)
        yield Fakes(Google(server, oauth, ga4, folder), gsc)


def write_config(tmp_path: Path, fakes: Fakes) -> Path:
    (tmp_path / "key.json").write_bytes((fakes.google.tmp_path / "key.json").read_bytes())
    url = fakes.google.server.url
    auth = {"service_account_file": "key.json"}
    data = {"agency": {"name": "Agency"},
            "defaults": {"period": "2026-10", "output": "out", "currency": "EUR",
                         "timezone": "Europe/Paris"},
            "clients": [{"id": "shop", "name": "The Shop", "sources": {
                "web": {"plugin": "ga4", "settings": {
                    "property_id": PROPERTY, "auth": auth, "base_url": url,
                    "leads": ["generate_lead", "form_submit"], "conversions": ["sign_up"]}},
                "seo": {"plugin": "search_console", "settings": {
                    "site": SITE, "auth": auth, "base_url": url}}},
                "kpis": [*({"kpi": k, "source": "web"} for k in WEB),
                         *({"kpi": k, "source": "seo"} for k in SEO),
                         {"kpi": "branded_clicks", "source": "seo",
                          "filters": [{"dimension": "query", "regex": BRAND}]}]}]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def expected(fakes: Fakes, rng: DateRange) -> dict[str, float]:
    web = expected_web(fakes.google, rng.start, rng.end)
    rows = fakes.gsc.rows[SITE]
    seo = figures(select(rows, rng.start, rng.end))
    branded = select(rows, rng.start, rng.end,
                     keep=lambda r: r.query is not None  # anonymised: in no query filter
                     and re.search(BRAND, r.query, re.IGNORECASE) is not None)
    return {**web, "organic_clicks": seo["clicks"], "impressions": seo["impressions"],
            "ctr": seo["ctr"], "avg_position": seo["position"],
            "branded_clicks": float(sum(r.clicks for r in branded))}


def test_each_figure_of_both_sources_equals_the_seeded_data(tmp_path: Path,
                                                              fakes: Fakes) -> None:
    from kpireport.testing.plugins import plugin_set

    config = load_config(write_config(tmp_path, fakes))
    report = compute_report(config, config.client("shop"), plugin_set(), now=NOW,
                            state_root=tmp_path / "state")
    assert not report.fetched.errors
    now, previous = expected(fakes, OCT), expected(fakes, SEP)
    assert set(now) == set(report.kpis)
    for key, value in now.items():
        kpi = report.kpis[key]
        assert kpi.error is None, (key, kpi.error)
        assert value > 0, key  # the seeds give every figure something to count
        assert kpi.value == pytest.approx(value), key
        assert kpi.previous == pytest.approx(previous[key]), key
    # The month's unique visitors are fewer than the sum of its days' (distinct, not summed).
    assert sum(p.value for p in report.kpis["users"].daily) > report.kpis["users"].value
    # One service account, one token per API scope, for the whole report.
    scopes = sorted(" ".join(sorted(a["scope"].split())) for a in fakes.google.oauth.assertions)
    assert len(scopes) == len(set(scopes)) == 2


@pytest.mark.pdf
def test_the_pdf_prints_each_figure(tmp_path: Path, fakes: Fakes) -> None:
    from kpireport.testing import render_report

    rendered = render_report(write_config(tmp_path, fakes), "shop")
    want = expected(fakes, OCT)
    text = rendered.pdf_text
    for key in ("sessions", "users", "pageviews", "leads", "orders", "organic_clicks",
                "impressions", "branded_clicks"):
        assert rendered.figures[key] == pytest.approx(want[key]), key
        assert f"{round(want[key]):,}" in text, key
    # Rates as the report prints them (three significant digits), positions to one decimal.
    assert f"Click-through rate {want['ctr'] * 100:.3g}%" in text
    assert f"Conversion rate {want['conversion_rate'] * 100:.3g}%" in text
    assert f"Average position {want['avg_position']:.1f}" in text
