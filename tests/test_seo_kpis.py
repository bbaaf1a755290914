"""The SEO KPIs an agency's client expects, from Search Console exports and from any source
offering the same metrics and dimensions (a tidy table stands for an API here): top pages,
branded and non-branded clicks, clicks by device and country, position change in places.

Expected figures are computed from the fixture files with the ``csv`` module.
"""

import csv
import datetime as dt
import io
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

from kpireport import NoteKind, formatting
from kpireport.config import load_config
from kpireport.config.checks import check_config
from kpireport.figures_csv import figures_csv
from kpireport.narrative import summarise
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.render import render_html

DATA = Path(__file__).parent / "data" / "csv"
NOW = dt.datetime(2026, 11, 5, 9, 0, tzinfo=dt.UTC)  # last month: October 2026
BRAND = "birdwatch[ -]?notes"

CONFIG = """\
agency: {name: Test Agency}
defaults: {timezone: Europe/London}
clients:
  - id: birds
    name: Birdwatch Notes
    locale: LOCALE
    sources:
      search:
        plugin: csv
        label: Google Search Console
        settings:
          search_console: DATA/EXPORTS
    kpis:
      - kpi: organic_clicks
      - kpi: avg_position
      - kpi: top_queries
        limit: 15
      - kpi: search_top_pages
      - kpi: branded_clicks
        filters: [{dimension: query, regex: "BRAND"}]
      - kpi: non_branded_clicks
        filters: [{dimension: query, not_regex: "BRAND"}]
      - kpi: clicks_by_device
      - kpi: clicks_by_country
"""


def config_file(tmp_path: Path, *, exports: str = "gsc_2026/*", locale: str = "en_GB",
                text: str = CONFIG) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text.replace("DATA", str(DATA)).replace("EXPORTS", exports)
                    .replace("LOCALE", locale).replace("BRAND", BRAND), encoding="utf-8")
    return path


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def export(month: str, name: str) -> list[dict[str, str]]:
    return read(DATA / "gsc_2026" / month / name)


def position(rows: list[dict[str, str]]) -> float:
    return (sum(float(r["Position"]) * int(r["Impressions"]) for r in rows)
            / sum(int(r["Impressions"]) for r in rows))


@pytest.fixture(scope="module")
def plugins():
    return load_plugins()


@pytest.fixture(scope="module")
def report(tmp_path_factory, plugins):
    config = load_config(config_file(tmp_path_factory.mktemp("seo")))
    assert check_config(config, plugins) == []
    return compute_report(config, config.clients[0], plugins, now=NOW)


def test_search_top_pages_from_the_export(report):
    pages = report.kpis["search_top_pages"]
    assert pages.error is None
    rows = export("2026-10", "Pages.csv")
    expected = sorted(rows, key=lambda r: (-int(r["Clicks"]), -int(r["Impressions"])))[:10]
    assert [r["page"] for r in pages.rows] == [r["Top pages"] for r in expected]
    assert [(r["clicks"], r["impressions"]) for r in pages.rows] == [
        (int(r["Clicks"]), int(r["Impressions"])) for r in expected]
    # CTR from the row's own clicks and impressions (the file's rounded percentage agrees).
    for row, r in zip(pages.rows, expected, strict=True):
        assert row["ctr"] == pytest.approx(int(r["Clicks"]) / int(r["Impressions"]))
        assert row["ctr"] * 100 == pytest.approx(float(r["CTR"].rstrip("%")), abs=0.006)
        assert row["position"] == pytest.approx(float(r["Position"]))
    # The two pages with 9 clicks: the one with more impressions first.
    nine = [r["page"] for r in pages.rows if r["clicks"] == 9]
    assert nine == ["https://www.birdwatch-notes.example/guides/binoculars",
                    "https://www.birdwatch-notes.example/species/robin"]


def test_top_queries_ranked_by_clicks_then_impressions_with_the_empty_query_labelled(report):
    queries = report.kpis["top_queries"]
    rows = export("2026-10", "Queries.csv")
    expected = sorted(rows, key=lambda r: (-int(r["Clicks"]), -int(r["Impressions"])))
    assert [(r["clicks"], r["impressions"]) for r in queries.rows] == [
        (int(r["Clicks"]), int(r["Impressions"])) for r in expected]
    labels = [r["query"] for r in queries.rows]
    assert "(empty query)" in labels and "" not in labels
    assert labels.index("best bird seed for winter") < labels.index(
        '"site:birdwatch-notes.example"')


def test_branded_and_non_branded_clicks(report):
    branded, others = report.kpis["branded_clicks"], report.kpis["non_branded_clicks"]
    for month, attr in (("2026-10", "value"), ("2026-09", "previous")):
        rows = export(month, "Queries.csv")
        mine = [r for r in rows if "birdwatch notes" in r["Top queries"]
                or "birdwatch-notes" in r["Top queries"]]
        assert getattr(branded, attr) == sum(int(r["Clicks"]) for r in mine)
        assert getattr(others, attr) == sum(int(r["Clicks"]) for r in rows if r not in mine)
    # The sum of the visible queries: Google's hidden ones make the total larger.
    total = sum(int(r["Clicks"]) for r in export("2026-10", "Chart.csv"))
    assert report.kpis["organic_clicks"].value == total
    assert branded.value + others.value < total
    # No export of October 2025: last year's figure is missing, said so; the report stands.
    assert branded.last_year is None and branded.error is None
    assert report.kpis["organic_clicks"].error is None


def test_clicks_by_device_and_by_country(report):
    for key, name, column in (("clicks_by_device", "Devices.csv", "device"),
                              ("clicks_by_country", "Countries.csv", "country")):
        rows = export("2026-10", name)
        expected = sorted(rows, key=lambda r: (-int(r["Clicks"]), -int(r["Impressions"])))
        kpi = report.kpis[key]
        first = next(iter(rows[0]))  # Device / Country
        assert [(r[column], r["clicks"], r["impressions"]) for r in kpi.rows] == [
            (r[first], int(r["Clicks"]), int(r["Impressions"])) for r in expected]
        assert [r["position"] for r in kpi.rows] == [float(r["Position"]) for r in expected]


def test_average_position_change_is_in_places(report):
    kpi = report.kpis["avg_position"]
    now = position(export("2026-10", "Chart.csv"))
    before = position(export("2026-09", "Chart.csv"))
    assert kpi.value == pytest.approx(now) and kpi.previous == pytest.approx(before)
    assert kpi.difference_previous == pytest.approx(now - before)
    places = formatting.format_number(round(abs(now - before), 1), "en_GB", 1)
    word = "up" if now < before else "down"
    figures = {row.split(",")[3]: row.split(",")[5] for row in
               figures_csv(report).splitlines() if row.startswith("kpi,avg_position,")}
    assert figures["difference_previous"] == f"{word} {places}\xa0places"
    assert figures["difference_last_year"] == "—"


def test_the_report_prints_a_position_change_in_places(report, plugins):
    html, _, _ = render_html(report, plugins)
    kpi = report.kpis["avg_position"]
    places = formatting.format_number(round(abs(kpi.difference_previous), 1), "en_GB", 1)
    word = "up" if kpi.difference_previous < 0 else "down"
    good = "better" if word == "up" else "worse"
    assert f'<span class="delta {good}">{word} {places}\xa0places</span>' in html
    # The labelled empty query and the new tables are in the report.
    for text in ("(empty query)", "Top pages in Google Search", "Branded clicks",
                 "Search clicks by device"):
        assert text in html


class Words:
    """A catalogue that marks what it translated, to see each message pass through it."""

    def gettext(self, message: str) -> str:
        return f"«{message}»"

    def ngettext(self, one: str, many: str, n: int) -> str:
        return f"«{one if n == 1 else many}»"


@pytest.mark.parametrize("difference,locale,expected", [
    (-2.34, "en_GB", "«up %(places)s places»"),
    (1.0, "en_GB", "«down %(places)s places»"),  # "1.0 places", as CLDR has it
    (-1.0, "fr_FR", "«up %(places)s place»"),
    (0.04, "en_GB", "«same position»"),
    (-1.5, "fr_FR", "«up %(places)s place»"),  # CLDR: 1,5 is singular in French
    (-2.0, "fr_FR", "«up %(places)s places»"),
])
def test_format_places(difference, locale, expected):
    text = formatting.format_places(difference, locale, Words())
    number = formatting.format_number(round(abs(difference), 1), locale, 1)
    # The figure stays with its unit at a line's end: a no-break space between them.
    assert text == expected.replace("%(places)s ", number + "\xa0")
    assert formatting.format_places(None, locale, Words()) == formatting.MISSING


def test_french_report_words_for_places(tmp_path, plugins):
    config = load_config(config_file(tmp_path, locale="fr_FR"))
    report = compute_report(config, config.clients[0], plugins, now=NOW)
    html, _, _ = render_html(report, plugins)
    kpi = report.kpis["avg_position"]
    places = formatting.format_number(round(abs(kpi.difference_previous), 1), "fr_FR", 1)
    verb = "gagne" if kpi.difference_previous < 0 else "perd"
    assert f"{verb} {places}\xa0place" in html
    assert "(requête vide)" in html and "(empty query)" not in html


def test_the_summary_tells_a_position_move_in_places(report):
    kpi = report.kpis["avg_position"]
    # 8 places better than the month before: among the three biggest improvements.
    kpi.previous = kpi.value + 8.0
    try:
        rose_or_fell = summarise(report, lambda s: s)
    finally:
        kpi.previous = position(export("2026-09", "Chart.csv"))
    # A smaller position number is better: listed under "Improved", not "Worsened".
    assert not any(s.startswith("Average position") for s in rose_or_fell.worsened)
    sentences = [s for s in rose_or_fell.improved if s.startswith("Average position")]
    assert sentences and "(up 8.0\xa0places vs September\xa02026)" in sentences[0]


def test_a_brand_kpi_without_its_brand_terms_fails_validation(tmp_path, plugins):
    text = CONFIG.replace('        filters: [{dimension: query, regex: "BRAND"}]\n', "")
    text = text.replace('not_regex: "BRAND"', 'regex: "BRAND"')
    problems = check_config(load_config(config_file(tmp_path, text=text)), plugins)
    messages = {p.field: p.message for p in problems}
    assert messages == {
        "clients[0].kpis[4]": "KPI 'branded_clicks' needs a filter on 'query', e.g. filters: "
                              '[{dimension: query, regex: "acme|akme"}]',
        "clients[0].kpis[5].filters": "KPI 'non_branded_clicks' needs a filter on 'query' "
                                      "(negated: not_…), e.g. filters: [{dimension: query, "
                                      'not_regex: "acme|akme"}]'}


def test_validate_refuses_monthly_top_queries_from_a_multi_month_export(tmp_path, plugins):
    config = load_config(config_file(tmp_path, exports="gsc_rolling/*"))
    problems = check_config(config, plugins)
    by_kpi = {p.field: p.message for p in problems}
    # Every KPI split by (or filtered on) what only the export's files give.
    assert set(by_kpi) == {f"clients[0].kpis[{k}]" for k in range(2, 8)}
    message = by_kpi["clients[0].kpis[2]"]
    assert message.startswith("client 'birds', KPI 'top_queries': Google Search Console "
                              "(search) cannot give "
                              "monthly query totals")
    assert "2026-08..2026-11 (4 months, from 2026-08-29, to 2026-11-28)" in message
    assert "Export the Performance report once per month" in message


ANY_SOURCE = """\
agency: {name: Test Agency}
defaults: {timezone: Europe/London}
clients:
  - id: birds
    name: Birdwatch Notes
    sources:
      search:
        plugin: csv
        settings:
          tables: [{path: DATA/seo/queries_daily.csv, dimensions: [query]}]
    kpis:
      - kpi: top_queries
      - kpi: branded_clicks
        filters: [{dimension: query, regex: "BRAND"}]
      - kpi: non_branded_clicks
        filters: [{dimension: query, not_regex: "BRAND"}]
"""


def test_the_kpis_from_a_source_with_daily_rows_by_query(tmp_path, plugins):
    """Any source giving clicks by query (an API, a table): the same KPIs, and a daily series
    of branded clicks, which exports cannot give."""
    config = load_config(config_file(tmp_path, text=ANY_SOURCE))
    assert check_config(config, plugins) == []
    report = compute_report(config, config.clients[0], plugins, now=NOW)
    rows = [r for r in read(DATA / "seo/queries_daily.csv") if r["date"].startswith("2026-10")]
    by_query: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    daily: dict[str, int] = defaultdict(int)
    for r in rows:
        by_query[r["query"]][0] += int(r["clicks"])
        by_query[r["query"]][1] += int(r["impressions"])
        if r["query"] == "birdwatch notes":
            daily[r["date"]] += int(r["clicks"])
    expected = sorted(by_query, key=lambda q: (-by_query[q][0], -by_query[q][1]))
    top = report.kpis["top_queries"]
    assert [r["query"] for r in top.rows] == expected
    # Two queries tie on clicks: the one with more impressions first, whatever its name.
    assert by_query["garden bird feeder ideas"][0] == by_query["robin nest box height"][0]
    assert expected.index("robin nest box height") < expected.index("garden bird feeder ideas")
    branded = report.kpis["branded_clicks"]
    assert branded.value == by_query["birdwatch notes"][0]
    assert report.kpis["non_branded_clicks"].value == sum(
        v[0] for q, v in by_query.items() if q != "birdwatch notes")
    assert {p.start.isoformat(): p.value for p in branded.daily} == daily


def test_validate_with_a_config_file(tmp_path, capsys):
    """`kpireport validate` prints the multi-month export's problem, not 'valid' then a failed
    run."""
    from kpireport.cli import main

    path = config_file(tmp_path, exports="gsc_rolling/*", text=textwrap.dedent(CONFIG))
    assert main(["validate", str(path), "--no-data"]) != 0
    out = capsys.readouterr()
    assert "cannot give monthly query totals" in out.out + out.err
    assert "configuration is valid" not in out.out + out.err


def test_search_consoles_pacific_days_are_said_once(report, plugins):
    from kpireport.data import NoteKind

    zones = {n.message for k in report.kpis.values() for n in k.notes
             if n.kind is NoteKind.TIMEZONE}
    assert zones == {"Google Search Console counts days in America/Los_Angeles time, the "
                     "report in Europe/London time"}
    html, _, _ = render_html(report, plugins)
    assert html.count("Google Search Console counts its days in Pacific Time.") == 1


def test_branded_clicks_month_by_month_from_the_monthly_exports(report):
    branded, others = report.kpis["branded_clicks"], report.kpis["non_branded_clicks"]
    expected: dict[str, tuple[int, int]] = {}
    for month in ("2026-09", "2026-10"):
        rows = export(month, "Queries.csv")
        mine = [r for r in rows if "birdwatch notes" in r["Top queries"]
                or "birdwatch-notes" in r["Top queries"]]
        expected[month] = (sum(int(r["Clicks"]) for r in mine),
                           sum(int(r["Clicks"]) for r in rows if r not in mine))
    got = {p.start.strftime("%Y-%m"): (p.value, q.value)
           for p, q in zip(branded.monthly, others.monthly, strict=True)
           if p.value is not None or q.value is not None}
    assert got == expected
    # An export is one total: no daily series.
    assert all(p.value is None for p in branded.daily)
    # The month's total clicks still come from the dates table, every day of it.
    clicks = {p.start.strftime("%Y-%m"): p.value for p in report.kpis["organic_clicks"].monthly
              if p.value is not None}
    assert clicks == {m: sum(int(r["Clicks"]) for r in export(m, "Chart.csv"))
                      for m in ("2026-09", "2026-10")}


def test_branded_clicks_over_several_months_sum_each_months_export(tmp_path, plugins):
    # September and October 2026 as one period: each month's listed queries, summed, as the
    # monthly chart shows them; the hidden queries noted over both exports.
    config = load_config(config_file(tmp_path))
    report = compute_report(config, config.clients[0], plugins, now=NOW,
                            period_spec="2026-09-01..2026-10-31")
    branded, others = report.kpis["branded_clicks"], report.kpis["non_branded_clicks"]
    mine = other = listed = total = 0
    for month in ("2026-09", "2026-10"):
        rows = export(month, "Queries.csv")
        for row in rows:
            clicks = int(row["Clicks"])
            listed += clicks
            if "birdwatch notes" in row["Top queries"] or "birdwatch-notes" in row["Top queries"]:
                mine += clicks
            else:
                other += clicks
        total += sum(int(r["Clicks"]) for r in export(month, "Chart.csv"))
    assert (branded.value, others.value) == (mine, other)
    [hidden] = [n for n in branded.notes if "hides" in n.message]
    assert f"give {listed} of the {total} clicks" in hidden.message
    # A period with a month that has no export (August): the gap is said beside the figure.
    report = compute_report(config, config.clients[0], plugins, now=NOW,
                            period_spec="2026-08-01..2026-10-31")
    gaps = [n for n in report.kpis["branded_clicks"].notes if n.kind is NoteKind.MISSING_DAYS]
    assert [n.message for n in gaps] == [
        "Search Console monthly exports (query) has no row for 2026-08"]


def test_top_queries_show_their_ctr_and_their_change_on_the_month_before(report, plugins):
    queries = report.kpis["top_queries"]
    now = {r["Top queries"] or "(empty query)": r for r in export("2026-10", "Queries.csv")}
    before = {r["Top queries"] or "(empty query)": int(r["Clicks"])
              for r in export("2026-09", "Queries.csv")}
    # The previous month is asked for 5 × the 10 rows printed: all of it, if it has fewer.
    complete = len(before) < 50
    for row, previous in zip(queries.rows, queries.previous_rows, strict=True):
        source = now[row["query"]]
        assert row["ctr"] == pytest.approx(int(source["Clicks"]) / int(source["Impressions"]),
                                           abs=5e-4)
        assert previous == before.get(row["query"], 0 if complete else None)
    assert any(p for p in queries.previous_rows)
    html, _, _ = render_html(report, plugins)
    table = html[html.index('id="table-top_queries"'):]
    table = table[:table.index("</table>")]
    assert ">CTR</th>" in table and ">vs previous period</th>" in table
    first, previous = queries.rows[0], queries.previous_rows[0]
    change = (first["clicks"] - previous) / previous * 100
    sign = "+" if change > 0 else "\u2212"
    assert f'>{sign}{abs(change):.1f}%</td>' in table
    rows = [r for r in csv.reader(io.StringIO(figures_csv(report)))
            if r[:2] == ["table", "top_queries"]]
    # After the first row's cells, its clicks the month before, printed as the change.
    assert rows[len(first)] == ["table", "top_queries", "Top search queries",
                                "1.clicks_previous", str(previous), f"{sign}{abs(change):.1f}%"]


def test_a_table_whose_previous_month_cannot_be_read_has_no_change_column(report, plugins):
    # September's folder has no Pages.csv: the source cannot give September's top pages.
    assert not (DATA / "gsc_2026" / "2026-09" / "Pages.csv").exists()
    pages = report.kpis["search_top_pages"]
    assert pages.rows and pages.error is None
    assert pages.previous_rows == [None] * len(pages.rows)
    # Only the changes are missing: the source is not reported as failed.
    assert not [n for n in report.notes if n.kind.value == "source_failed"]
    html, _, _ = render_html(report, plugins)
    table = html[html.index('id="table-search_top_pages"'):]
    assert "vs previous period" not in table[:table.index("</table>")]
