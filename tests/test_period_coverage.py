"""Every period tells the truth: data that stops before the period's end, figures a period
cannot have, stale data held, partial failures said exactly (issue #15, item 1)."""

import datetime as dt
import sqlite3
import textwrap
from pathlib import Path

import pytest

from kpireport.cli import main
from kpireport.config import load_config
from kpireport.data import DateRange, NoteKind
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins

D = dt.date
FIRST_OF_DECEMBER = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def daily_rows(first: dt.date, last: dt.date) -> dict[dt.date, tuple[int, int]]:
    """Seeded daily sessions and leads: each day different, so that a day more or less
    in a sum shows."""
    out = {}
    day = first
    while day <= last:
        n = day.toordinal()
        out[day] = (100 + (n % 7) * 10 + day.month, n % 5)
        day += dt.timedelta(days=1)
    return out


def write_client(tmp_path: Path, rows: dict[dt.date, tuple[int, int]], *,
                 period: str = "year-to-date") -> Path:
    lines = [f"{d.isoformat()},{s},{leads}" for d, (s, leads) in sorted(rows.items())]
    (tmp_path / "web.csv").write_text("date,sessions,leads\n" + "\n".join(lines) + "\n",
                                      encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""\
        agency: {{name: Test Agency}}
        defaults: {{period: {period}}}
        clients:
          - id: shop
            name: Shop Ltd
            sources: {{web: {{plugin: csv, label: Site analytics,
                             settings: {{tables: [{{path: web.csv}}]}}}}}}
            kpis: [sessions, leads]
            objectives:
              - id: leads-2026
                kpi: leads
                kind: cumulative
                target: 1000
                start: 2026-01-01
                deadline: 2026-12-31
              - id: sessions-level
                kpi: sessions
                target: 200
                start: 2026-01-01
                deadline: 2026-12-31
        """), encoding="utf-8")
    return config


def total(rows: dict[dt.date, tuple[int, int]], first: dt.date, last: dt.date,
          column: int) -> int:
    return sum(v[column] for d, v in rows.items() if first <= d <= last)


def test_a_year_to_date_report_on_the_1st_with_data_ending_a_week_earlier_says_so(tmp_path):
    rows = daily_rows(D(2025, 1, 1), D(2026, 11, 24))
    config = load_config(write_client(tmp_path, rows))
    plugins = load_plugins()
    report = compute_report(config, config.client("shop"), plugins, now=FIRST_OF_DECEMBER)
    assert report.period.key == "2026-ytd-11-30"  # still the year to date's report
    assert report.data_end == D(2026, 11, 24)
    sessions = report.kpis["sessions"]
    assert sessions.data_end == D(2026, 11, 24)
    # The same days of last year: 1 January to 24 November, not to 30 November.
    assert sessions.value == total(rows, D(2026, 1, 1), D(2026, 11, 24), 0)
    assert sessions.last_year == total(rows, D(2025, 1, 1), D(2025, 11, 24), 0)
    assert sessions.previous == sessions.last_year
    # The daily series stops with the data; the months end with the last whole one.
    assert sessions.daily[-1].start == D(2026, 11, 24)
    assert max(p.start for p in sessions.monthly) == D(2026, 10, 1)
    october = next(p for p in sessions.monthly if p.start == D(2026, 10, 1))
    assert october.value == total(rows, D(2026, 10, 1), D(2026, 10, 31), 0)
    # The cumulative objective counts to 24 November, against its path to that day; the
    # level one is judged on October, the last month the data covers in full.
    leads, level = report.objectives
    assert leads.value == total(rows, D(2026, 1, 1), D(2026, 11, 24), 1)
    assert leads.measured_to == D(2026, 11, 24)
    assert leads.expected == pytest.approx(1000 * 328 / 365)  # 1 Jan–24 Nov: 328 days
    # One reference day, the data's last: 37 days left (24 Nov–31 Dec), and the need per
    # remaining month spread over the same 1.2 months (6 days of November, December).
    assert leads.days_left == 37
    assert leads.required_rate == pytest.approx((1000 - leads.value) / (6 / 30 + 1))
    assert level.days_left == 37
    assert level.measured_in == D(2026, 10, 1)
    assert level.value == pytest.approx(october.value)
    [note] = [n for n in report.notes if n.kind is NoteKind.DATA_END]
    assert note.source == "web" and dict(note.params) == {"end": "2026-11-24"}

    from kpireport.render import render_html

    html, _, _ = render_html(report, plugins)
    # Every figure stops on the 24th: the summary says so once, in the line above its tiles,
    # naming those days (never 30 November) and comparing with last year's same days.
    summary = html[html.index('<section class="summary"'):html.index("</section>")]
    assert 'class="lead"' not in summary and "Figures up to" not in summary
    caption = html[html.index('class="tiles-caption"'):]
    caption = caption[:caption.index("</p>")]
    # The days never part at a line's end: no-break spaces inside them.
    assert caption == ('class="tiles-caption">1\xa0Jan\u202f–\u2060\u202f24\xa0Nov\xa02026, '
                       'compared with the same days of 2025:')
    assert "30 Nov" not in caption
    # The objectives count from that day, and say so; the level one is judged on October
    # and its need spread over the months after it (review 5), and the lead says that too.
    assert ("Totals and days left are counted as of 24\xa0November\xa02026, the last day with "
            "data. A monthly level is judged on October\xa02026, the last whole month, and its "
            "monthly need is spread over the months after it.") in html
    # The cover's days end with the data; How to read does not claim the whole period.
    cover = html[html.index('class="report-range"'):]
    assert cover[:cover.index("</p>")] == 'class="report-range">1 Jan\u202f–\u2060\u202f24 Nov 2026'
    assert "up to the day given in the summary" in html
    start = html.index("<h3>Sessions</h3>")
    line = html[start:html.index("</p>", html.index('class="compare"', start))]
    assert "1\xa0Jan\u202f–\u2060\u202f24\xa0Nov\xa02025:\xa0" in line
    assert "Total from 1 Jan 2026 to 24 Nov 2026" in html


def test_a_month_cut_short_in_french_names_the_same_days_of_the_months_before(tmp_path):
    rows = daily_rows(D(2025, 10, 1), D(2026, 11, 20))
    path = write_client(tmp_path, rows, period="2026-11")
    path.write_text(path.read_text().replace("agency: {name: Test Agency}",
                                             "agency: {name: Test Agency, locale: fr_FR}"))
    config = load_config(path)
    report = compute_report(config, config.client("shop"), load_plugins(),
                            now=FIRST_OF_DECEMBER)
    sessions = report.kpis["sessions"]
    assert sessions.value == total(rows, D(2026, 11, 1), D(2026, 11, 20), 0)
    assert sessions.previous == total(rows, D(2026, 10, 1), D(2026, 10, 20), 0)
    assert sessions.last_year == total(rows, D(2025, 11, 1), D(2025, 11, 20), 0)
    assert report.period.key == "2026-11" and report.kpi_periods["sessions"].partial


def test_data_covering_the_period_changes_nothing(tmp_path):
    rows = daily_rows(D(2025, 1, 1), D(2026, 11, 30))
    config = load_config(write_client(tmp_path, rows))
    report = compute_report(config, config.client("shop"), load_plugins(),
                            now=FIRST_OF_DECEMBER)
    assert report.data_end is None and report.kpi_periods == {} and report.stale == []
    assert report.kpis["sessions"].value == total(rows, D(2026, 1, 1), D(2026, 11, 30), 0)
    assert not any(n.kind is NoteKind.DATA_END for n in report.notes)


def test_a_report_from_its_snapshot_is_cut_at_the_same_day(tmp_path):
    from kpireport import snapshots

    rows = daily_rows(D(2025, 1, 1), D(2026, 11, 24))
    config = load_config(write_client(tmp_path, rows))
    plugins = load_plugins()
    client = config.client("shop")
    report = compute_report(config, client, plugins, now=FIRST_OF_DECEMBER)
    from kpireport.batch import snapshot_bytes

    snapshots.write(tmp_path / "snap.json.gz",
                    snapshot_bytes(config, client, report, FIRST_OF_DECEMBER))
    data = snapshots.load(tmp_path / "snap.json.gz")
    (tmp_path / "web.csv").unlink()  # nothing is read again
    again = compute_report(config, client, plugins, now=FIRST_OF_DECEMBER, snapshot=data,
                           period=report.period)
    assert again.data_end == D(2026, 11, 24)
    assert again.kpis["sessions"].value == report.kpis["sessions"].value
    assert again.kpis["sessions"].last_year == report.kpis["sessions"].last_year


def test_a_figure_a_period_cannot_have_is_left_out_of_the_tiles_and_said_once():
    from test_report_rendering import example_report

    from kpireport.render import render_html

    report, plugins = example_report("acme-robotics", period_spec="2026-Q3")
    html, _, _ = render_html(report, plugins)
    assert "Unique visitors" not in tile_labels(html) and "Sessions" in tile_labels(html)
    # The source gives each calendar month's figure (the chart's bars): the note says so, and
    # never that it gives it day by day.
    said = ("Unique visitors cannot be given for this period: Google Analytics gives it per "
            "calendar month only, and months cannot be added up (someone who came in several "
            "months would be counted in each).")
    assert html.count(said) == 1
    assert "day by day" not in html
    # A month has it: its tile is back.
    monthly, plugins = example_report("acme-robotics")
    html, _, _ = render_html(monthly, plugins)
    assert "Unique visitors" in tile_labels(html)


def test_a_partly_read_source_says_which_figures_are_missing_by_its_label():
    from kpireport.data import DataNote
    from kpireport.template_context import note_text

    note = DataNote(kind=NoteKind.SOURCE_FAILED, source="gsc", message="HTTP 503",
                    params=(("missing", "Top search queries"),))
    text = note_text(note, "en_US", lambda s: s, {"gsc": "Google Search Console"})
    assert text == ("Google Search Console could only be partly read for this report: Top "
                    "search queries could not be read; its other figures are complete.")
    whole = DataNote(kind=NoteKind.SOURCE_FAILED, source="gsc", message="HTTP 503")
    assert note_text(whole, "en_US", lambda s: s, {"gsc": "Google Search Console"}).startswith(
        "Google Search Console could not be read for this report")


def tile_labels(html: str) -> list[str]:
    import re

    return re.findall(r'class="tile-label">([^<]*)<', html)


def ledger(tmp_path: Path) -> list[sqlite3.Row]:
    db = sqlite3.connect(tmp_path / "out" / ".kpireport" / "ledger.sqlite")
    db.row_factory = sqlite3.Row
    return db.execute("SELECT * FROM attempts ORDER BY id").fetchall()


@pytest.mark.pdf
@pytest.mark.workers
def test_a_scheduled_run_with_data_ending_months_before_the_period_holds_the_report(
        tmp_path, capsys):
    rows = daily_rows(D(2025, 1, 1), D(2026, 7, 31))
    config = write_client(tmp_path, rows, period="last-month")
    out = tmp_path / "out"
    as_of = ["--as-of", "2026-12-01"]
    assert main(["run", str(config), "--output", str(out), *as_of]) == 1
    text = capsys.readouterr().out
    assert "stale data" in text and "Shop Ltd (shop)" in text
    assert "Site analytics has no data for most of the period (its last day with data is " \
        "2026-07-31)" not in text  # none in November at all: said so
    assert "Site analytics has no data for most of the period (none at all)" in text
    assert not list(out.rglob("*.pdf"))
    [row] = ledger(tmp_path)
    assert (row["client"], row["period"], row["status"]) == ("shop", "2026-11", "stale data")
    assert "Site analytics" in row["error"]
    # Still owed: the next run tries again, and holds it again.
    assert main(["run", str(config), "--output", str(out), *as_of]) == 1
    assert [r["status"] for r in ledger(tmp_path)] == ["stale data", "stale data"]
    # --force delivers it anyway.
    assert main(["run", str(config), "--output", str(out), "--force", *as_of]) == 0
    assert (out / "shop" / "shop-2026-11.pdf").is_file()
    assert ledger(tmp_path)[-1]["status"] == "delivered"


def test_a_source_failing_on_one_figure_names_that_figure_not_the_whole_source(
        tmp_path, monkeypatch):
    from kpireport.errors import TransientError
    from kpireport.render import render_html
    from kpireport_csv.source import CsvSource

    rows = daily_rows(D(2025, 1, 1), D(2026, 11, 30))
    path = write_client(tmp_path, rows, period="2026-11")
    (tmp_path / "pages.csv").write_text("date,page,page_title,pageviews,time_on_page\n"
                                        "2026-11-02,/a,A,10,30\n2026-11-03,/b,B,5,20\n",
                                        encoding="utf-8")
    path.write_text(path.read_text()
                    .replace("[{path: web.csv}]", "[{path: web.csv}, {path: pages.csv, "
                                                  "dimensions: [page, page_title]}]")
                    .replace("kpis: [sessions, leads]", "kpis: [sessions, leads, top_pages]")
                    .replace("    objectives:", "    on_source_error: partial\n    objectives:"))
    fetch = CsvSource.fetch

    def failing_on_pages(self, query):
        if query.dimensions:
            raise TransientError("HTTP 503 (the file server)")
        return fetch(self, query)

    monkeypatch.setattr(CsvSource, "fetch", failing_on_pages)
    config = load_config(path)
    plugins = load_plugins()
    report = compute_report(config, config.client("shop"), plugins, now=FIRST_OF_DECEMBER)
    assert report.kpis["sessions"].value == total(rows, D(2026, 11, 1), D(2026, 11, 30), 0)
    assert report.kpis["top_pages"].failed_source == "web"
    [note] = [n for n in report.notes if n.kind is NoteKind.SOURCE_FAILED]
    assert dict(note.params) == {"missing": "Top pages"}
    html, _, _ = render_html(report, plugins)
    assert ("Site analytics could only be partly read for this report: Top pages could not be "
            "read; its other figures are complete.") in html
    assert "Site analytics could not be read for this report: the figures" not in html
    assert "web could" not in html and "web:" not in html  # the label, never the config key


@pytest.mark.parametrize(("last", "stale"), [(D(2026, 11, 14), True), (D(2026, 11, 15), False),
                                             (D(2026, 8, 31), True)])
def test_a_file_covering_less_than_half_the_period_is_stale(tmp_path, last, stale):
    from kpireport.pipeline.coverage import Stale

    rows = daily_rows(D(2025, 10, 1), last)
    config = load_config(write_client(tmp_path, rows, period="2026-11"))
    report = compute_report(config, config.client("shop"), load_plugins(),
                            now=FIRST_OF_DECEMBER)
    in_november = last if last >= D(2026, 11, 1) else None
    assert report.stale == ([Stale("web", "Site analytics", in_november)] if stale else [])
    if in_november:  # stale or not, its figures are cut at its last day
        assert report.kpis["sessions"].value == total(rows, D(2026, 11, 1), last, 0)


# --- Sources stopping on different days: the summary's first line says what it covers ------


def write_two_sources(tmp_path: Path, web_last: dt.date, crm_last: dt.date, *,
                      period: str = "year-to-date", locale: str = "en_GB") -> Path:
    """Sessions from the site's export, leads from the CRM's, each ending on its own day."""
    rows = daily_rows(D(2025, 1, 1), max(web_last, crm_last))
    for name, column, last in (("web", 0, web_last), ("crm", 1, crm_last)):
        metric = ("sessions", "leads")[column]
        lines = [f"{d.isoformat()},{v[column]}" for d, v in sorted(rows.items()) if d <= last]
        (tmp_path / f"{name}.csv").write_text(f"date,{metric}\n" + "\n".join(lines) + "\n",
                                              encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""\
        agency: {{name: Test Agency, locale: {locale}}}
        defaults: {{period: {period}}}
        clients:
          - id: shop
            name: Shop Ltd
            sources:
              web: {{plugin: csv, label: Site analytics,
                     settings: {{tables: [{{path: web.csv}}]}}}}
              crm: {{plugin: csv, label: CRM, settings: {{tables: [{{path: crm.csv}}]}}}}
            kpis: [sessions, leads]
        """), encoding="utf-8")
    return config


def summary_lead(tmp_path: Path, config_path: Path) -> tuple[str, object]:
    """The summary's first line ("" when it has none) and the report."""
    lead, _, report = summary_lines(config_path)
    return lead, report


def summary_lines(config_path: Path) -> tuple[str, str, object]:
    """The summary's first line ("" when it has none), the caption above its tiles, and
    the report, rendered to HTML."""
    from html import unescape

    from kpireport.render import render_html

    config = load_config(config_path)
    plugins = load_plugins()
    report = compute_report(config, config.client("shop"), plugins, now=FIRST_OF_DECEMBER)
    html, _, _ = render_html(report, plugins)
    summary = html[html.index('<section class="summary"'):]
    summary = summary[:summary.index("</section>")]

    def paragraph(css: str) -> str:
        if f'class="{css}">' not in summary:
            return ""
        text = summary[summary.index(f'class="{css}">') + len(f'class="{css}">'):]
        # The wording, whatever space holds the days together (test_report_texts checks
        # those no-break spaces).
        return unescape(text[:text.index("</p>")]).replace("\xa0", " ")

    return paragraph("lead"), paragraph("tiles-caption"), report


@pytest.mark.parametrize(("locale", "caption"), [
    ("en_GB", "1 Jan\u202f–\u2060\u202f30 Nov 2026 (Site analytics: up to 24 Nov), compared "
              "with the same days of 2025:"),
    ("fr_FR", "1er janv.\u202f–\u2060\u202f30 nov. 2026 (Site analytics\u202f: jusqu’au 24 nov.), "
              "comparé avec les mêmes jours de 2025\u202f:"),
])
def test_sources_ending_on_different_days_make_the_summarys_first_line_say_so(
        tmp_path, locale, caption):
    lead, said, report = summary_lines(write_two_sources(
        tmp_path, D(2026, 11, 24), D(2026, 11, 30), locale=locale))
    # The figures really stop on different days: sessions on the 24th, leads on the 30th.
    assert report.kpi_periods["sessions"].end == D(2026, 11, 24)
    assert "leads" not in report.kpi_periods
    # One line: up to which day, the source stopping earlier with its own day, compared
    # with the same days; said once (no sentence above it, no per-source note after).
    assert lead == ""
    assert said == caption
    assert "30 Nov 2025" not in lead + said and "30 nov. 2025" not in lead + said


def test_a_month_whose_sources_end_on_different_days_names_both_comparisons(tmp_path):
    lead, said, _ = summary_lines(write_two_sources(
        tmp_path, D(2026, 11, 20), D(2026, 11, 27), period="2026-11"))
    assert lead == ""
    assert said == ("1\u202f–\u2060\u202f27 Nov 2026 (Site analytics: up to 20 Nov), compared "
                    "with the same days of October 2026 and of November 2025:")


def test_sources_covering_the_whole_period_keep_the_summarys_wording(tmp_path):
    lead, said, report = summary_lines(write_two_sources(
        tmp_path, D(2026, 11, 30), D(2026, 11, 30)))
    assert report.kpi_periods == {}
    # The caption alone says what the tiles cover and compare with: no first line repeating it.
    assert lead == ""
    assert said == "1 Jan\u202f–\u2060\u202f30 Nov 2026, compared with the same days of 2025:"
    # Both ending on the same day before the period's end: that day, and the same days.
    lead, said, _ = summary_lines(write_two_sources(
        tmp_path, D(2026, 11, 24), D(2026, 11, 24)))
    assert lead == ""
    assert said == "1 Jan\u202f–\u2060\u202f24 Nov 2026, compared with the same days of 2025:"


# --- One function for the days compared, one day for the objectives (fix-periods) -------


def test_report_period_of_names_each_kpis_compared_days(tmp_path):
    """Report.period_of: a KPI's cut period, else the report's; without a KPI, the one all
    single figures share, else the report's."""
    _, report = summary_lead(tmp_path, write_two_sources(
        tmp_path, D(2026, 11, 24), D(2026, 11, 30)))
    assert report.period_of("sessions").previous == DateRange(start=D(2025, 1, 1),
                                                              end=D(2025, 11, 24))
    assert report.period_of("leads") is report.period
    assert report.period_of() is report.period  # the figures stop on different days
    _, report = summary_lead(tmp_path, write_two_sources(
        tmp_path, D(2026, 11, 24), D(2026, 11, 24)))
    assert report.period_of().end == D(2026, 11, 24)


def test_objectives_reference_day_is_the_data_last_day_of_running_totals():
    from kpireport.objectives import reference_day

    end = D(2026, 11, 30)
    # Data covering the whole period (a monthly report): its end, as before.
    assert reference_day(end, [(end, D(2026, 12, 31), True)]) == end
    # A running total to 24 November: that day, though a level's data goes to the 30th.
    assert reference_day(end, [(D(2026, 11, 24), D(2026, 12, 31), True),
                               (end, D(2026, 12, 31), False)]) == D(2026, 11, 24)
    # A total on Search Console's exports to 31 October whose deadline has passed counts
    # for nothing; levels alone: the latest day with data.
    assert reference_day(end, [(D(2026, 10, 31), D(2026, 9, 30), True),
                               (D(2026, 11, 24), D(2026, 12, 31), False)]) == D(2026, 11, 24)
    assert reference_day(end, []) == end


@pytest.mark.parametrize(("start", "end", "en", "fr"), [
    (D(2026, 4, 1), D(2026, 6, 30), "Q2 2026", "T2 2026"),
    (D(2026, 7, 1), D(2026, 9, 29), "1 Jul\u202f–\u2060\u202f29 Sept 2026",
     "1er juil.\u202f–\u2060\u202f29 sept. 2026"),
    (D(2026, 2, 1), D(2026, 4, 30), "1 Feb\u202f–\u2060\u202f30 Apr 2026",
     "1er févr.\u202f–\u2060\u202f30 avr. 2026"),
])
def test_a_whole_quarter_is_named_as_clients_name_it(start, end, en, fr):
    from kpireport.formatting import format_period

    assert format_period(DateRange(start=start, end=end), "en_GB") == en
    assert format_period(DateRange(start=start, end=end), "fr_FR") == fr
