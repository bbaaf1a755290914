"""A client's SEO KPIs from the search_console source, through the real pipeline
(``compute_report``): every figure equals the one computed here from the fake's seeded rows
(CTR and position from sums, never averaged), the notes say what Google hides and which days
are Pacific-time days, and a second run or next month's report asks Google only what is new."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from search_console_data import SITE, START, figures, grouped, months, select

from kpireport import NoteKind
from kpireport.config import load_config
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.testing import FakeServer
from kpireport.testing.fakes.google_oauth import GoogleOAuthFake
from kpireport.testing.fakes.search_console import SearchConsoleFake

pytestmark = pytest.mark.usefixtures("only_localhost")

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
NEXT_MONTH = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
CALLS = r"/webmasters/v3/sites/[^/]+/searchAnalytics/query"
BRAND = "kpi ?report"
"""The client's brand terms: a regular expression on the query, as the config gives them."""
MOBILE = {"kpi": "organic_clicks", "id": "mobile_clicks", "label": "Mobile clicks",
          "description": "Clicks from phones.",
          "filters": [{"dimension": "device", "equals": "Mobile"}]}
KPIS = ["organic_clicks", "impressions", "ctr", "avg_position", "top_queries",
        "search_top_pages", "clicks_by_device", "clicks_by_country",
        {"kpi": "branded_clicks", "filters": [{"dimension": "query", "regex": BRAND}]},
        {"kpi": "non_branded_clicks", "filters": [{"dimension": "query", "not_regex": BRAND}]},
        MOBILE]
COUNTRY_NAMES = {"usa": "United States", "deu": "Germany", "fra": "France",
                 "gbr": "United Kingdom", "jpn": "Japan", "esp": "Spain"}

@pytest.fixture(scope="module")
def plugins():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KPIREPORT_PLUGIN_DISTRIBUTIONS", "kpireport")
        return load_plugins([])


@pytest.fixture
def server():
    with FakeServer() as fake:
        yield fake


@pytest.fixture
def gsc(server, tmp_path):
    oauth = GoogleOAuthFake(server)
    oauth.write_service_account_key(tmp_path / "google-key.json")
    # Data until 2 December 2026, its last two days incomplete.
    return SearchConsoleFake(server, oauth, seed=21, start=START, today=dt.date(2026, 12, 3))


def write_config(tmp_path: Path, url: str) -> Path:
    data: dict[str, Any] = {
        "agency": {"name": "SEO Agency"},
        "defaults": {"period": "2026-10", "output": "out", "currency": "EUR",
                     "timezone": "Europe/Paris"},
        "clients": [{"id": "acme", "name": "Acme", "kpis": KPIS, "sources": {"seo": {
            "plugin": "search_console", "label": "Search Console", "settings": {
                "site": SITE, "base_url": url,
                "auth": {"service_account_file": "google-key.json"}}}}}]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def compute(path: Path, plugins: Any, now: dt.datetime, period: str | None = None) -> Any:
    config = load_config(path)
    client = config.client("acme")
    kwargs = {"period_spec": period} if period else {}
    return compute_report(config, client, plugins, now=now, state_root=path.parent / "state",
                          **kwargs)


def month_range(first: dt.date) -> tuple[dt.date, dt.date]:
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def test_a_clients_seo_kpis_are_the_figures_google_shows(tmp_path, server, gsc, plugins):
    report = compute(write_config(tmp_path, server.url), plugins, NOW)
    rows = gsc.rows[SITE]

    def fig(metric: str, first: dt.date, last: dt.date, keep=lambda r: True) -> float:
        return figures(select(rows, first, last, keep=keep))[metric]

    periods = {"value": month_range(dt.date(2026, 10, 1)),
               "previous": month_range(dt.date(2026, 9, 1)),
               "last_year": month_range(dt.date(2025, 10, 1))}
    for kpi, metric in (("organic_clicks", "clicks"), ("impressions", "impressions"),
                        ("ctr", "ctr"), ("avg_position", "position")):
        value = report.kpis[kpi]
        assert value.error is None
        for field, (first, last) in periods.items():
            assert getattr(value, field) == pytest.approx(fig(metric, first, last)), (kpi, field)
        wanted = months(dt.date(2024, 10, 1), dt.date(2026, 10, 31))
        assert [p.start for p in value.monthly] == [m[0] for m in wanted]
        assert [p.value for p in value.monthly] == pytest.approx(
            [fig(metric, *m) for m in wanted])
        by_day = grouped(select(rows, *periods["value"]), lambda r: r.date)
        assert [p.value for p in value.daily] == pytest.approx(
            [by_day[p.start][metric] if p.start in by_day else 0.0 for p in value.daily])
    # CTR and position are not means of days: a wrong aggregation would differ.
    days = grouped(select(rows, *periods["value"]), lambda r: r.date)
    assert report.kpis["avg_position"].value != pytest.approx(
        sum(d["position"] for d in days.values()) / len(days))

    # Branded and non-branded clicks: Google's filters, hidden searches in neither.
    def branded(r):
        return r.query is not None and re.search(BRAND, r.query, re.IGNORECASE) is not None

    def other(r):
        return r.query is not None and not branded(r)

    assert report.kpis["branded_clicks"].value == fig("clicks", *periods["value"], branded)
    assert report.kpis["non_branded_clicks"].value == fig("clicks", *periods["value"], other)
    assert report.kpis["branded_clicks"].last_year == fig("clicks", *periods["last_year"],
                                                          branded)
    assert report.kpis["mobile_clicks"].value == fig("clicks", *periods["value"],
                                                     lambda r: r.device == "MOBILE")
    hidden = fig("clicks", *periods["value"], lambda r: r.query is None)
    total = fig("clicks", *periods["value"])
    assert report.kpis["branded_clicks"].value + report.kpis["non_branded_clicks"].value + \
        hidden == total
    [note] = [n for n in report.kpis["branded_clicks"].notes if n.kind is NoteKind.OTHER]
    assert f"({hidden:,.0f} of {total:,.0f})" in note.message

    # Top queries: by clicks, then impressions; Google's own figures for each query.
    top = report.kpis["top_queries"]
    shown = grouped(select(rows, *periods["value"], keep=lambda r: r.query is not None),
                    lambda r: r.query)
    ranked = sorted(shown, key=lambda q: (-shown[q]["clicks"], -shown[q]["impressions"]))
    assert [r["query"] for r in top.rows] == ranked[:10]
    for row in top.rows:
        assert row["clicks"] == shown[row["query"]]["clicks"]
        assert row["position"] == pytest.approx(shown[row["query"]]["position"])
    assert any("searches Google does not show" in n.message for n in top.notes)

    # Top pages, devices, countries: every row Google's, ranked by clicks then impressions.
    october = select(rows, *periods["value"])
    for kpi, dimension, key, name in (
            ("search_top_pages", "page", lambda r: r.page, lambda k: k),
            ("clicks_by_device", "device", lambda r: r.device, str.capitalize),
            ("clicks_by_country", "country", lambda r: r.country, COUNTRY_NAMES.get)):
        table = grouped(october, key)
        ranked = sorted(table, key=lambda k: (-table[k]["clicks"], -table[k]["impressions"]))
        got = report.kpis[kpi].rows
        assert [r[dimension] for r in got] == [name(k) for k in ranked][:10], kpi
        for row, k in zip(got, ranked, strict=False):
            for metric in ("clicks", "impressions", "ctr", "position"):
                assert row[metric] == pytest.approx(table[k][metric]), (kpi, k, metric)

    # Pacific-time days, said once in the report's notes.
    [tz] = [n for n in report.notes if n.kind is NoteKind.TIMEZONE]
    assert dict(tz.params) == {"timezone": "America/Los_Angeles"} and tz.source == "seo"


def test_a_second_run_asks_nothing_and_next_month_only_whats_new(tmp_path, server, gsc,
                                                                 plugins):
    path = write_config(tmp_path, server.url)
    compute(path, plugins, NOW)
    first = server.calls_to(CALLS)
    assert first
    # Every range of October's report is final: none of its calls was about freshness.
    assert all(c.json()["endDate"] <= "2026-10-31" for c in first)
    compute(path, plugins, NOW)
    assert len(server.calls_to(CALLS)) == len(first)  # all from the cache

    report = compute(path, plugins, NEXT_MONTH, period="2026-11")
    new = [c.json() for c in server.calls_to(CALLS)[len(first):]]
    november, last_year = month_range(dt.date(2026, 11, 1)), month_range(dt.date(2025, 11, 1))
    for body in new:
        span = (body["startDate"], body["endDate"])
        # November (and the freshness question), or last year's November: nothing older.
        assert span[1] >= "2026-11-01" or span == (last_year[0].isoformat(),
                                                   last_year[1].isoformat()), span
    assert report.kpis["organic_clicks"].value == figures(select(gsc.rows[SITE],
                                                                 *november))["clicks"]
    assert report.kpis["organic_clicks"].previous == figures(select(
        gsc.rows[SITE], *month_range(dt.date(2026, 10, 1))))["clicks"]
    # November is final on 3 December (Google's first incomplete day is the 1st).
    assert not [n for n in report.kpis["organic_clicks"].notes
                if n.kind is NoteKind.INCOMPLETE]


def test_the_docs_config_snippet_validates_offline(tmp_path, capsys):
    from kpireport.cli import main

    doc = (Path(__file__).resolve().parent.parent / "docs" / "sources" /
           "search_console.md").read_text(encoding="utf-8")
    snippet = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    clients = yaml.safe_load(snippet)["clients"]
    clients[0]["name"] = "Acme"
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "agency-reports.json").write_text("{}", encoding="utf-8")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"agency": {"name": "Agency"},
                                    "defaults": {"period": "2026-10", "output": "out"},
                                    "clients": clients}), encoding="utf-8")
    assert main(["validate", str(path), "--no-data"]) == 0, capsys.readouterr()
    # A site in neither form is caught offline, naming the field.
    clients[0]["sources"]["seo"]["settings"]["site"] = "acme.example"
    path.write_text(yaml.safe_dump({"agency": {"name": "Agency"},
                                    "defaults": {"period": "2026-10", "output": "out"},
                                    "clients": clients}), encoding="utf-8")
    assert main(["validate", str(path), "--no-data"]) == 2
    err = capsys.readouterr().err
    assert "site" in err and "sc-domain:example.com" in err


def test_a_site_the_service_account_cannot_read_names_it_and_the_email(tmp_path, server, gsc,
                                                                       plugins):
    from kpireport import SourceError

    path = write_config(tmp_path, server.url)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["clients"][0]["sources"]["seo"]["settings"]["site"] = "sc-domain:client.example"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SourceError) as raised:
        compute(path, plugins, NOW)
    message = str(raised.value)
    assert message.startswith("Search Console: Search Console site sc-domain:client.example")
    assert "add kpireport@kpireport-test.iam.gserviceaccount.com as a user" in message
    assert len(server.calls_to(CALLS)) == 1  # one refusal, and the source is asked no more


@pytest.mark.parametrize("on_error", ["fail", "partial"])
def test_a_spent_quota_stops_the_source_for_the_run(tmp_path, server, gsc, plugins, on_error,
                                                    monkeypatch):
    from kpireport import SourceError
    from kpireport_google.client import GoogleClient

    # A run backs off for real (2, 4, 8 s): the waits are recorded, not slept.
    waits: list[float] = []
    real_wait = GoogleClient._wait

    def no_sleep(self, response, attempt):
        waits.append(real_wait(self, response, attempt))
        return 0.0

    monkeypatch.setattr(GoogleClient, "_wait", no_sleep)
    gsc.fail(429, times=100)
    path = write_config(tmp_path, server.url)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["clients"][0]["on_source_error"] = on_error
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    if on_error == "fail":
        with pytest.raises(SourceError, match="Rate Limit Exceeded — the source is not "
                                              "asked again in this run"):
            compute(path, plugins, NOW)
    else:
        report = compute(path, plugins, NOW)
        assert "Rate Limit Exceeded" in report.fetched.errors["seo"]
        assert all(kpi.value is None and kpi.failed_source == "seo"
                   for kpi in report.kpis.values())
        assert [n.kind for n in report.notes].count(NoteKind.SOURCE_FAILED) == 1
    assert len(server.calls_to(CALLS)) == 4  # one call and its three retries, nothing more
    assert waits == [2.0, 4.0, 8.0]
