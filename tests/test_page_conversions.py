"""Issue #15 item 6: top pages show the conversions (and revenue) of each page where the
client's source gives them by page, and leave those columns out where it does not.

Expected figures are summed here from the example's CSV files and the GA4 fake's rows, never
taken from the code under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from ga4_fixtures import PROPERTY, google_fake

from kpireport.config import load_config
from kpireport.data import DateRange
from kpireport.kpis import Breakdown, KpiDefinition, KpiValue, Unit
from kpireport.pipeline.columns import attribution
from kpireport.pipeline.compute import compute_kpi
from kpireport.pipeline.fetch import LiveFetcher
from kpireport.pipeline.plan import plan_client, plan_report
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.render import render_html
from kpireport.template_context import table_columns

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "data"
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
OCT = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))


def rows(client: str, name: str) -> list[dict[str, str]]:
    with open(DATA / client / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def by_page(client: str, month: str, column: str) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for r in rows(client, "pages_daily.csv"):
        if r["date"].startswith(month):
            out[r["page"]] += float(r[column])
    return out


@pytest.fixture(scope="module")
def example():
    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    reports = {c.id: compute_report(config, c, plugins, now=NOW) for c in config.clients}
    return config, plugins, reports


# --- The bundled example ---------------------------------------------------------------------


@pytest.mark.parametrize("client,columns", [("maison-lumiere", ["conversions", "revenue"]),
                                            ("acme-robotics", ["conversions"])])
def test_the_examples_pages_credit_the_days_conversions_to_pages(client, columns):
    # Generated data: what the pages are credited with adds up to the site's, day by day.
    site: dict[tuple[str, str], float] = defaultdict(float)
    pages: dict[tuple[str, str], float] = defaultdict(float)
    for r in rows(client, "web_daily.csv"):
        for c in columns:
            site[(r["date"], c)] += round(float(r[c]) * 100)
    for r in rows(client, "pages_daily.csv"):
        for c in columns:
            pages[(r["date"], c)] += round(float(r[c]) * 100)
    assert pages == site
    assert sum(v for (_, c), v in pages.items() if c == "conversions") > 0


def test_the_examples_top_pages_show_each_pages_conversions_and_revenue(example):
    _, _, reports = example
    table = reports["maison-lumiere"].kpis["top_pages"]
    views = by_page("maison-lumiere", "2026-10", "pageviews")
    conversions = by_page("maison-lumiere", "2026-10", "conversions")
    revenue = by_page("maison-lumiere", "2026-10", "revenue")
    top = sorted(views, key=lambda p: -views[p])[:10]
    assert [r["page"] for r in table.rows] == top
    assert [r["conversions"] for r in table.rows] == [conversions[p] for p in top]
    assert [r["revenue"] for r in table.rows] == pytest.approx([revenue[p] for p in top])
    assert table_columns(table) == ["pageviews", "time_on_page", "conversions", "revenue"]
    # The change column still tells the ranking metric's: the page views of September.
    september = by_page("maison-lumiere", "2026-09", "pageviews")
    assert table.previous_rows == [september[p] for p in top]

    acme = reports["acme-robotics"].kpis["top_pages"]
    acme_conversions = by_page("acme-robotics", "2026-10", "conversions")
    assert [r["conversions"] for r in acme.rows] == [acme_conversions[r["page"]]
                                                     for r in acme.rows]
    assert table_columns(acme) == ["pageviews", "time_on_page", "conversions"]


def top_pages_section(html: str) -> str:
    from html import unescape

    return unescape(html.split('id="table-top_pages"')[1].split("</section>")[0])


CSV_EN = "Conversions: as reported by the analytics tool the file comes from."
CSV_FR = ("Conversions et chiffre d’affaires\u202f: tels que les indique l’outil d’analyse dont "
          "provient le fichier.")


def test_the_top_pages_say_once_how_the_source_credits_the_columns_in_the_reports_language(
        example):
    _, plugins, reports = example
    # French: both columns, one wording (the CSV source's), French spacing before the colon.
    french = top_pages_section(render_html(reports["maison-lumiere"], plugins)[0])
    assert french.count(CSV_FR) == 1
    assert french.index("</table>") < french.index(CSV_FR)  # under the table
    assert reports["maison-lumiere"].kpis["top_pages"].column_attribution == {
        "conversions": "tels que les indique l’outil d’analyse dont provient le fichier",
        "revenue": "tels que les indique l’outil d’analyse dont provient le fichier"}
    # English: the one column printed is the one named.
    english = top_pages_section(render_html(reports["acme-robotics"], plugins)[0])
    assert english.count(CSV_EN) == 1
    assert "revenue" not in english.lower()
    # No column printed (a pages file without them): no note either.
    northwind = top_pages_section(render_html(reports["northwind-dental"], plugins)[0])
    assert reports["northwind-dental"].kpis["top_pages"].column_attribution == {}
    assert "as reported by" not in northwind and "credited" not in northwind


def test_a_pages_file_without_conversions_prints_the_table_without_those_columns(example):
    _, plugins, reports = example
    table = reports["northwind-dental"].kpis["top_pages"]  # its pages file has none
    assert table.error is None and len(table.rows) == 10
    assert not any("conversions" in r or "revenue" in r for r in table.rows)
    assert table_columns(table) == ["pageviews", "time_on_page"]
    assert any(p is not None for p in table.previous_rows)  # its changes are still there
    html = render_html(reports["northwind-dental"], plugins)[0]
    section = html.split('id="table-top_pages"')[1].split("</table>")[0]
    assert "Conversions" not in section and "Revenue" not in section
    assert "vs previous period" in section


def test_a_source_that_cannot_split_conversions_by_page_is_not_asked_them(example):
    # The CSV source says which dimensions each metric's files have (contract 1.2's
    # metric_dimensions): northwind's pages file has no conversions, so the plan asks no
    # column query of it, and a KPI splitting conversions by page fails validate, not a run.
    config, plugins, _ = example
    plan = plan_client(config, config.client("northwind-dental"), plugins, NOW.date())
    try:
        assert plan.bindings["top_pages"].column_sources == {}
        caps = plan.sources["web"].capabilities()
        assert "page" not in caps.metric_dimensions["conversions"]
        assert "page" in caps.dimensions  # pageviews split by page, from the same file
        assert "page" in caps.metric_dimensions.get("pageviews", caps.dimensions)
    finally:
        plan.close()
    maison = plan_client(config, config.client("maison-lumiere"), plugins, NOW.date())
    try:
        assert set(maison.bindings["top_pages"].column_sources) == {"conversions", "revenue"}
    finally:
        maison.close()


def test_the_columns_are_an_optional_query_of_their_own(example):
    config, plugins, reports = example
    client = config.client("maison-lumiere")
    plan = plan_report(plan_client(config, client, plugins, NOW.date()),
                       reports["maison-lumiere"].period)
    try:
        queries = plan.queries["top_pages"]
        (source, asked), = queries.breakdown_columns.items()
        (_, shown), = queries.breakdown.items()
        assert asked.metrics == ("pageviews", "conversions", "revenue")
        assert asked.dimensions == shown.dimensions and asked.order == shown.order
        assert asked.limit is not None and shown.limit is not None
        assert asked.limit > shown.limit  # never merged into the table's own query
        assert (source, plan.answered_by[(source, asked)]) in plan.optional
        assert (source, plan.answered_by[(source, shown)]) not in plan.optional
        assert "conversions" not in shown.metrics

        # Its answer missing (failed, or a snapshot taken before it was asked): the table
        # prints whole, without the columns.
        fetched = LiveFetcher().fetch(plan)
        binding = plan.bindings["top_pages"]
        period = plan.period
        whole = compute_kpi(binding, queries, period, fetched, "fr", plan.answered_by)
        assert "conversions" in whole.rows[0]
        del fetched.tables[(source, plan.answered_by[(source, asked)])]
        without = compute_kpi(binding, queries, period, fetched, "fr", plan.answered_by)
        assert without.error is None
        assert [r["page"] for r in without.rows] == [r["page"] for r in whole.rows]
        assert without.previous_rows == whole.previous_rows
        assert not any("conversions" in r for r in without.rows)
        assert table_columns(without) == ["pageviews", "time_on_page"]
        # Nor is its crediting said: the note goes with the column.
        assert set(attribution(binding, whole.rows, plan.specs, "fr")) == {"conversions",
                                                                           "revenue"}
        assert attribution(binding, without.rows, plan.specs, "fr") == {}
    finally:
        plan.close()


@pytest.mark.pdf
def test_the_pdf_prints_the_pages_conversions_and_revenue(example):
    import io

    from pypdf import PdfReader

    from kpireport.render import render_report

    _, plugins, reports = example
    pdf = render_report(reports["maison-lumiere"], plugins).pdf
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    flat = re.sub(r"[ \n]+", " ", text)  # (str.split would split at no-break spaces too)
    # The heading may be hyphenated in its narrow column.
    assert "Conversions" in flat.replace("\u2010 ", "")
    assert "Chiffre d’affaires" in flat
    views = by_page("maison-lumiere", "2026-10", "pageviews")
    conversions = by_page("maison-lumiere", "2026-10", "conversions")
    revenue = by_page("maison-lumiere", "2026-10", "revenue")
    # Each of the top ten rows ends with its conversions and revenue, as the French report
    # prints them (narrow no-break spaces between thousands, a no-break one before €).
    nnbsp, nbsp = "\u202f", "\xa0"
    for page in sorted(views, key=lambda p: -views[p])[:10]:
        euros = f"{round(revenue[page]):,}".replace(",", nnbsp) + f"{nbsp}€"
        assert f"{int(conversions[page]):,}".replace(",", nnbsp) + f" {euros}" in flat, page
    # How the columns are credited, once, under the table (the PDF may break the line
    # anywhere: compared without spaces).
    assert re.sub(r"\s+", "", flat).count(re.sub(r"\s+", "", CSV_FR)) == 1


# --- GA4 ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def google(tmp_path_factory):
    yield from google_fake(tmp_path_factory.mktemp("ga4"), start=dt.date(2024, 10, 1))


def write_config(tmp_path: Path, google: Any) -> Path:
    (tmp_path / "key.json").write_bytes((google.tmp_path / "key.json").read_bytes())
    settings = {"property_id": PROPERTY, "auth": {"service_account_file": "key.json"},
                "base_url": google.server.url, "conversions": ["sign_up"]}
    data = {"agency": {"name": "Agency"},
            "defaults": {"period": "2026-10", "output": "out", "currency": "EUR",
                         "timezone": "Europe/Paris"},
            "clients": [{"id": "shop", "name": "The Shop", "kpis": ["top_pages"],
                         "sources": {"web": {"plugin": "ga4", "settings": settings}}}]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.usefixtures("only_localhost")
def test_ga4_pages_show_their_key_events_and_revenue_asked_by_page_path(tmp_path, google):
    from kpireport.testing.plugins import plugin_set

    before = len(google.server.calls)
    config = load_config(write_config(tmp_path, google))
    report = compute_report(config, config.client("shop"), plugin_set(), now=NOW,
                            state_root=tmp_path / "state")
    views: dict[str, float] = defaultdict(float)
    events: dict[str, float] = defaultdict(float)
    revenue: dict[str, float] = defaultdict(float)
    for r in google.rows(OCT.start, OCT.end):
        views[r.page] += r.metrics["screenPageViews"]
        events[r.page] += r.key_events["sign_up"]
        revenue[r.page] += r.metrics["purchaseRevenue"]
    table = report.kpis["top_pages"]
    assert table.error is None and table.rows
    top = sorted(views, key=lambda p: -views[p])[:len(table.rows)]
    assert [r["page"] for r in table.rows] == top
    assert [r["conversions"] for r in table.rows] == pytest.approx([events[p] for p in top])
    assert [r["revenue"] for r in table.rows] == pytest.approx([revenue[p] for p in top])
    assert table_columns(table) == ["pageviews", "time_on_page", "conversions", "revenue"]
    # The request asked the key event and the revenue by page path, in a report of its own.
    requests = [request for call in google.server.calls[before:] if "Report" in call.path
                for request in call.json().get("requests", [call.json()])]
    by_page_path = [r for r in requests
                    if [d["name"] for d in r.get("dimensions", [])][:1] == ["pagePath"]]
    asked = [{m["name"] for m in r["metrics"]} for r in by_page_path]
    assert {"keyEvents:sign_up", "purchaseRevenue"} <= set().union(*asked)
    assert not any("keyEvents:sign_up" in a and "userEngagementDuration" in a for a in asked)
    # GA4 credits a key event to the page where it happened: the report says so.
    assert table.column_attribution["conversions"].startswith(
        "counted on the page where they happened (an order is credited to the page where it "
        "was placed")
    html = top_pages_section(render_html(report, plugin_set())[0])
    assert html.count("Conversions and revenue: counted on the page where they happened (an "
                      "order is credited to the page where it was placed, not to the page the "
                      "visitor arrived on).") == 1


# --- The contract ---------------------------------------------------------------------------


def test_optional_columns_default_to_none_and_are_shown_only_when_given():
    plain = Breakdown(dimensions=("page",), metric="views")
    assert plain.optional_columns == ()
    definition = KpiDefinition(
        id="t", label={"en": "T"}, unit=Unit.COUNT, metrics=("views",),
        breakdown=Breakdown(dimensions=("page",), metric="views",
                            optional_columns=("conversions", "revenue")))
    value = KpiValue(key="t", definition=definition, label="T",
                     rows=[{"page": "/a", "views": 3.0, "revenue": None},
                           {"page": "/b", "views": 2.0, "revenue": 4.0}])
    # A row holding the column (even empty) shows it; none holding it leaves it out.
    assert table_columns(value) == ["views", "revenue"]


def test_each_optional_column_is_asked_of_one_source_or_left_out():
    from kpireport.config.models import KpiRef
    from kpireport.data import MetricSpec
    from kpireport.pipeline.columns import column_sources

    definition = KpiDefinition(
        id="t", label={"en": "T"}, unit=Unit.COUNT, metrics=("pageviews",),
        breakdown=Breakdown(dimensions=("page",), metric="pageviews",
                            optional_columns=("conversions", "revenue")))
    spec = MetricSpec(name="x")
    ga4 = {"pageviews": spec, "conversions": spec, "revenue": spec}
    shop = {"conversions": spec, "revenue": spec}
    ranking = {"pageviews": "ga4"}
    # The table's own source first, when it gives the column.
    assert column_sources(definition, KpiRef(kpi="t"), ranking, {"ga4": ga4, "shop": shop},
                          set()) == {"conversions": "ga4", "revenue": "ga4"}
    # Else the one other source giving it; none, or two: left out.
    assert column_sources(definition, KpiRef(kpi="t"), ranking,
                          {"ga4": {"pageviews": spec}, "shop": shop},
                          set()) == {"conversions": "shop", "revenue": "shop"}
    assert column_sources(definition, KpiRef(kpi="t"), ranking,
                          {"ga4": {"pageviews": spec}, "a": shop, "b": shop}, set()) == {}
    # The client's choice wins; a broken source gives nothing.
    ref = KpiRef(kpi="t", source={"pageviews": "ga4", "revenue": "shop"})
    assert column_sources(definition, ref, ranking, {"ga4": ga4, "shop": shop},
                          set()) == {"conversions": "ga4", "revenue": "shop"}
    assert column_sources(definition, ref, ranking, {"ga4": ga4, "shop": shop},
                          {"shop"}) == {"conversions": "ga4"}
    # A whole-KPI source that lacks the column: left out, the table stands.
    assert column_sources(definition, KpiRef(kpi="t", source="ga4"), ranking,
                          {"ga4": {"pageviews": spec}, "shop": shop}, set()) == {}


def test_a_metrics_attribution_is_optional_keyword_only_and_kept_by_snapshots(tmp_path):
    import datetime as dt

    from kpireport import snapshots
    from kpireport.data import MetricSpec

    plain = MetricSpec(name="conversions")
    assert plain.attribution == {}
    hash(plain)  # a spec is still hashable: its wording is not compared
    worded = MetricSpec(name="conversions", attribution={"page": {"en": "on the page"}})
    assert worded == plain and hash(worded) == hash(plain)
    data = snapshots.dump(client={}, agency={}, defaults={}, period="2026-10",
                          now=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                          specs={"web": {"conversions": worded, "sessions": plain}},
                          tables={}, errors={}, logos={})
    snapshots.write(tmp_path / "s.json.gz", data)
    specs = snapshots.load(tmp_path / "s.json.gz")["specs"]["web"]
    assert specs["conversions"].attribution == {"page": {"en": "on the page"}}
    assert specs["sessions"].attribution == {}
    # A spec without wording writes the snapshot it wrote before the field existed.
    import gzip
    import json

    stored = json.loads(gzip.decompress(data))["specs"]["web"]
    assert "attribution" not in stored["sessions"]
