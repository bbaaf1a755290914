"""Formatting, charts, templates and the safe fetcher, on real output."""

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pypdf import PdfReader
from shared import example_copy, recording_server

from kpireport import Unit
from kpireport.charts import line_chart, nice_ticks
from kpireport.cli import main
from kpireport.config import load_config
from kpireport.formatting import format_change, format_date, format_month, format_value
from kpireport.kpis import SeriesPoint
from kpireport.periods import add_months
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.render import render_html, render_report, safe_fetcher

ROOT = Path(__file__).resolve().parent.parent
THEME = ROOT / "report_templates" / "default"
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
NNBSP, NBSP = "\u202f", "\xa0"


@pytest.mark.parametrize("value,unit,locale,currency,expected", [
    (1689398.74, Unit.CURRENCY, "fr_FR", "EUR", f"1{NNBSP}689{NNBSP}399{NBSP}€"),
    (1689398.74, Unit.CURRENCY, "en_US", "USD", "$1,689,399"),
    (512.4, Unit.CURRENCY, "en_GB", "GBP", "£512.40"),
    (0.02217, Unit.PERCENT, "fr_FR", "EUR", f"2,22{NNBSP}%"),
    (0.45, Unit.PERCENT, "en_US", "USD", "45.0%"),
    (155.3, Unit.DURATION, "fr_FR", "EUR", f"2{NBSP}min{NBSP}35{NNBSP}s"),
    (12345, Unit.COUNT, "fr_FR", "EUR", f"12{NNBSP}345"),
    (12345, Unit.COUNT, "en_US", "USD", "12,345"),
    (10.43, Unit.POSITION, "fr_FR", "EUR", "10,4"),
    (None, Unit.COUNT, "en_US", "USD", "—"),
    (-0.17, Unit.PERCENT, "en_US", "USD", "\u221217.0%"),  # a minus sign, not a hyphen
    (-1250, Unit.CURRENCY, "fr_FR", "EUR", f"\u22121{NNBSP}250{NBSP}€"),
])
def test_values_are_formatted_for_the_locale(value, unit, locale, currency, expected):
    assert format_value(value, unit, locale, currency) == expected


def test_changes_durations_in_days_and_months():
    assert format_change(0.123, "en_GB") == "+12.3%"
    assert format_change(-0.04, "fr_FR") == f"−4,0{NNBSP}%"
    assert format_value(22.7, Unit.DURATION, "en_US", duration_unit="days") == "22.7\xa0days"
    assert format_value(22.7, Unit.DURATION, "fr_FR", duration_unit="days") == f"22,7{NBSP}jours"
    assert format_month(dt.date(2026, 10, 1), "fr_FR") == "octobre 2026"
    assert format_date(dt.date(2026, 1, 1), "fr_FR", "medium") == "1er janv. 2026"
    assert format_date(dt.date(2026, 1, 11), "fr_FR", "medium") == "11 janv. 2026"
    assert format_date(dt.date(2026, 1, 1), "en_GB", "medium") == "1 Jan 2026"
    assert format_month(dt.date(2026, 10, 1), "en_US", "short") == "Oct"


def test_nice_ticks_cover_the_range_with_round_steps():
    assert nice_ticks(0, 93) == [0, 25, 50, 75, 100]
    assert nice_ticks(0.0185, 0.0241)[0] <= 0.0185 and nice_ticks(0.0185, 0.0241)[-1] >= 0.0241
    assert nice_ticks(0, 9, whole=True) == [0, 5, 10]  # no 2.5 leads on a count axis


def test_no_two_axis_labels_read_the_same():
    # A session duration between 68 and 70 seconds: half-second ticks would all print
    # "1 min 9 secs" or so; the axis takes wider steps instead.
    values = [68.2, 68.6, 69.1, 69.9, 70.3, 69.5, 68.8, 69.0, 70.1, 69.7]
    points = [SeriesPoint(start=dt.date(2026, m, 1), value=v) for m, v in zip(range(1, 11), values,
                                                                    strict=True)]
    root = ET.fromstring(line_chart(points, locale="en_GB", unit=Unit.DURATION))
    labels = [s.text for s in root.iter("span") if s.get("class") == "chart-y"]
    assert len(labels) >= 3 and len(set(labels)) == len(labels)


def test_line_chart_draws_lines_in_svg_and_labels_as_escaped_html():
    months = [dt.date(2025, 10, 1), dt.date(2025, 11, 1), dt.date(2025, 12, 1),
              dt.date(2026, 1, 1)]
    points = [SeriesPoint(start=m, value=v) for m, v in zip(months, [10, None, 30, 40],
                                                            strict=True)]
    fragment = line_chart(points, locale="fr_FR", unit=Unit.COUNT, target=50,
                          last_year=[SeriesPoint(start=m, value=5) for m in months],
                          labels={"value": "<b>Cette année</b>", "target": "Cible"})
    root = ET.fromstring(fragment)  # well-formed: the template inserts it as markup
    ns = "{http://www.w3.org/2000/svg}"
    plot = root.find("div[@class='chart-plot']")
    svg = plot.find(f"{ns}svg")
    paths = [p.get("d") for p in svg.iter(f"{ns}path") if not p.get("class")]
    assert paths[-1].count("M") == 2  # the missing November breaks the line
    # Greyscale: this year's months are filled circles, last year's hollow squares.
    marks = {p.get("class"): p for p in svg.iter(f"{ns}path") if p.get("class")}
    assert marks["marks marks-circle"].get("d").count("a2.6") == 2 * 3  # 3 months with data
    assert marks["marks marks-square"].get("d").count("h4.4") == 4
    assert marks["marks marks-square"].get("fill") == "white"
    assert svg.find(f".//{ns}line[@class='target']") is not None
    assert not list(svg.iter(f"{ns}text"))  # no SVG text: WeasyPrint lays it out per letter
    labels = plot.find("div[@class='chart-labels']")  # one box over the chart holds them
    y_labels = [s.text for s in labels.findall("span[@class='chart-y']")]
    x_labels = [s.text for s in labels.findall("span[@class='chart-x']")]
    assert y_labels == ["60", "40", "20", "0"]  # top down; the axis reaches the target (50)
    # Each label's padding moves it down from the one before (a share of the chart's width,
    # as its height is): the running sum lands on its grid line.
    width = float(svg.get("viewBox").split()[2])
    grid = [float(line.get("y1")) for line in svg.findall(f"{ns}line")
            if line.get("class") != "target"]
    pads = [float(s.get("style").split("padding-top: ")[1].split("%")[0])
            for s in labels.findall("span[@class='chart-y']")]
    sums = [sum(pads[: i + 1]) * width / 100 for i in range(len(pads))]
    assert sums == pytest.approx(sorted(grid), abs=0.05)
    assert x_labels == ["oct. 2025", "nov.", "déc.", "janv. 2026"]
    legend = "".join(root.find("div[@class='chart-legend']").itertext())
    assert "<b>Cette année</b>" in legend and "Cible" in legend  # text, not markup
    assert "last_year" not in legend and legend.count("chart-key") == 0


def test_a_year_of_months_keeps_five_labels_with_this_month_and_last_years():
    first = dt.date(2025, 10, 1)
    points = [SeriesPoint(start=add_months(first, i), value=100 + i) for i in range(13)]
    root = ET.fromstring(line_chart(points, locale="en_GB", unit=Unit.COUNT))
    x_labels = [s.text for s in root.iter("span") if s.get("class") == "chart-x"]
    assert x_labels == ["Oct 2025", "Jan 2026", "Apr", "Jul", "Oct"]
    styles = [s.get("style") for s in root.iter("span") if s.get("class") == "chart-x"]
    lefts = [float(s.split("margin-left: ")[1].split("%")[0]) for s in styles]
    # Each label centred on its month, the last one on the chart's last point, inside it.
    assert lefts == sorted(lefts) and lefts[-1] + 40 / 520 * 100 <= 100.01
    # The first month's label is moved down to the axis; the others share its line.
    assert "padding-top: 0.00%" not in styles[0]
    assert all("padding-top: 0.00%" in s for s in styles[1:])
    assert root.find("div[@class='chart-legend']") is None  # no labels: legend printed apart


@pytest.fixture(scope="module")
def northwind():
    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    return compute_report(config, config.client("northwind-dental"), plugins, now=NOW), plugins


def example_report(client: str, period_spec: str | None = None, now: dt.datetime = NOW):
    """One of the example's clients, computed (and the plugins to render it with)."""
    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    return compute_report(config, config.client(client), plugins, period_spec=period_spec,
                          now=now), plugins


def pdf_text(pdf: bytes) -> tuple[PdfReader, str]:
    import io

    reader = PdfReader(io.BytesIO(pdf))
    return reader, " ".join(" ".join(p.extract_text() for p in reader.pages).split())


@pytest.mark.pdf
def test_report_sections_metadata_and_page_numbers(northwind):
    report, plugins = northwind
    rendered = render_report(report, plugins)
    reader, text = pdf_text(rendered.pdf)
    # The sections flow: the cover and contents share a page, the summary has its own.
    assert rendered.pages == len(reader.pages)
    assert 6 <= rendered.pages <= 9
    assert f"2 / {rendered.pages}" in text
    for expected in ("Northwind Dental Group", "Summary", "Objectives", "OKRs",
                     "Fill the chairs for the winter season", "Sales and pipeline",
                     "Website and e-commerce", "Top pages", "Traffic sources",
                     "New patients", "How to read this report"):
        assert expected in text, expected
    # American formatting of the client's own currency.
    assert "$231,210" in text
    meta = reader.metadata
    assert meta.title == "Northwind Dental Group — October 2026"
    assert meta.author == "Northstar Digital"
    assert meta.subject == "Monthly performance report — Northwind Dental Group — October 2026"
    assert "Northwind Dental Group" in meta.get("/Keywords", "")
    assert str(reader.trailer["/Root"]["/Lang"]) == "en"


def test_an_agency_folder_overrides_one_block_only(northwind, tmp_path):
    report, plugins = northwind
    (tmp_path / "report.html.j2").write_text(
        '{% extends "default/report.html.j2" %}\n'
        '{% block appendix %}<section><h2>Our method</h2><p>Ask us anything.</p></section>'
        '{% endblock %}\n', encoding="utf-8")
    html, _, _ = render_html(report, plugins, agency_template_dir=tmp_path)
    plain, _, _ = render_html(report, plugins)
    heading = "<h2>How to read this report</h2>"
    assert "Our method" in html and heading not in html
    assert heading in plain
    # Everything before the appendix is the same document.
    cut = plain.index('<section class="appendix"')
    assert html[:cut] == plain[:cut]


@pytest.mark.pdf
def test_the_fetcher_serves_theme_files_and_data_uris_only(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    fetcher = safe_fetcher([THEME])
    with recording_server() as (port, hits):
        assert fetcher.fetch("data:text/plain;base64,aGk=").read() == b"hi"
        assert b"@page" in fetcher.fetch((THEME / "style.css").as_uri()).read()
        for url in (secret.as_uri(), "file:///etc/passwd", f"http://127.0.0.1:{port}/x.png",
                    (THEME / ".." / ".." / "pyproject.toml").as_uri()):
            with pytest.raises(ValueError, match="does not fetch"):
                fetcher.fetch(url)
        assert hits == []


def test_validate_flags_objectives_that_are_not_smart(tmp_path, capsys):
    def edit(data):
        data["clients"][1]["objectives"] = [
            {"id": "moonshot", "kpi": "qualified_leads", "baseline": 464, "target": 5000,
             "start": "2026-01-01", "deadline": "2026-06-30"},
            {"id": "someday", "kpi": "sessions", "target": 30000, "start": "2026-01-01"},
        ]

    path = example_copy(tmp_path, edit)
    assert main(["validate", str(path), "--as-of", "2026-11-25"]) == 0
    out = capsys.readouterr().out
    assert "northwind-dental: objective moonshot (qualified_leads) [achievable]" in out
    assert "unrealistic: needs +" in out and "a month for 6 months" in out
    assert "objective someday (sessions) [time-bound]" in out and "no deadline" in out


def test_every_message_of_the_theme_and_engine_has_a_french_translation():
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    method_map = [("kpireport/**.py", "python"), ("plugins/kpireport_rules/**.py", "ignore"),
                  ("plugins/**.py", "python"),
                  ("report_templates/**.j2", "jinja2")]
    options = {"report_templates/**.j2": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}
    ids = {msg[2] if isinstance(msg[2], str) else msg[2][0]
           for msg in extract_from_dir(str(ROOT), method_map, options, keywords)}
    with open(THEME / "locale" / "fr" / "LC_MESSAGES" / "kpireport.po", "rb") as f:
        catalog = read_po(f)
    assert len(ids) > 50
    missing = sorted(m for m in ids if not (catalog.get(m) and catalog.get(m).string))
    assert missing == []


@pytest.mark.pdf
def test_an_objective_to_bring_a_figure_down_asks_for_a_decrease(northwind):
    report, plugins = northwind
    [closing] = [a for a in report.objectives if a.key == "faster-closing"]
    assert closing.required_rate is not None and closing.required_rate < 0
    _, text = pdf_text(render_report(report, plugins).pdf)
    # 1.35 days a month (22.7 → 20.0 in two), printed rounded up: 1.3 would end at 20.1.
    assert closing.required_rate == pytest.approx(-1.349, abs=1e-3)
    assert "Decrease needed each remaining month 1.4 days" in text
    assert "-1.4 days" not in text and "−1.4 days" not in text


def test_a_fall_for_the_better_is_listed_as_improved(northwind):
    """Finding 14: the lists go by each KPI's direction, not by the sign of its move."""
    from kpireport.narrative import summarise

    report, _ = northwind
    cycle = report.kpis["sales_cycle_length"]
    assert cycle.change_previous < 0 and cycle.is_better(cycle.change_previous)
    narrative = summarise(report, lambda s: s)
    [line] = [line for line in narrative.improved if line.startswith("Sales cycle length")]
    assert not any(s.startswith("Sales cycle length") for s in narrative.worsened)
    # Its change stays in its unit (days), as the reader sees it under "Improved".
    before = round(cycle.previous, 1)
    now = round(cycle.value, 1)
    assert f"(\u2212{before - now:.1f}\xa0days vs September\xa02026)" in line
    assert "an improvement" not in line and "needs attention" not in line


def test_needs_attention_names_each_objective_once(northwind):
    from kpireport.narrative import summarise

    report, _ = northwind
    lagging = [a for a in report.objectives if a.status.value in ("at_risk", "off_track")]
    paced = [f for f in report.findings if f.rule == "objective-pace"
             and str(f.severity) == "critical"]
    assert lagging and paced  # the example has both: the summary must not say it twice
    attention = summarise(report, lambda s: s).attention
    assert [line for line in attention if "needs a faster pace" in line] == []
    assert sum(a.title in line for a in lagging for line in attention) == len(lagging)


def test_french_punctuation_is_spaced_with_narrow_no_break_spaces():
    import re

    from babel.messages.pofile import read_po

    def french(po: Path) -> list[str]:
        with open(po, "rb") as f:
            return [t for m in read_po(f) if m.id and m.string
                    for t in ((m.string,) if isinstance(m.string, str) else m.string)]

    texts = french(THEME / "locale" / "fr" / "LC_MESSAGES" / "kpireport.po")
    # The rules plugin's French lives in its own catalogue.
    rules = french(ROOT / "plugins" / "kpireport_rules" / "locale" / "fr" / "LC_MESSAGES" /
                   "kpireport_rules.po")
    assert any("accélérer" in t for t in rules) and len(rules) > 20
    texts += rules
    bad = [t for t in texts if re.search(r"[ \u00a0][:;!?»]|«[ \u00a0]", t)]
    assert bad == []


def test_every_chart_draws_last_years_months_and_the_legend_names_only_drawn_lines():
    import re

    from kpireport.render import render_html

    report, plugins = example_report("northwind-dental")

    def legends() -> tuple[str, dict[str, str]]:
        html, _, _ = render_html(report, plugins)
        return html, dict(re.findall(r'<section class="family family-(\w+)".*?'
                                     r'<div class="chart-legend">(.*?)</div>', html, re.S))

    html, found = legends()
    # Each chart has last year's line (dashed grey), not only those of KPIs with objectives.
    charts = html.count('class="chart"')
    assert charts >= 6 and len(re.findall(r'<path d="M[^"]*L[^"]*" fill="none" '
                                          r'stroke="#9aa3ad"', html)) == charts
    # The web charts' target is the key result "Keep the conversion rate above 4 %" (a
    # monthly level, drawn where no level objective holds the KPI).
    assert "Last year" in found["web"] and "Target" in found["web"]
    assert "Last year" in found["commercial"] and "Target" in found["commercial"]
    okrs, report.okrs = report.okrs, []
    _, found = legends()
    assert "Target" not in found["web"] and "Target" in found["commercial"]
    report.okrs = okrs
    # What a point is, for readers of a quarter's totals as of a month's.
    assert found["web"].startswith('<span class="chart-title">Month by month</span>')
    # A section whose history is too short for a line of last year does not name one.
    for kpi in report.kpis.values():
        if kpi.definition.family == "web":
            kpi.monthly = kpi.monthly[-13:]
    _, found = legends()
    assert "This year" in found["web"] and "Last year" not in found["web"]


def test_a_rates_monthly_gain_is_in_percentage_points():
    from kpireport.render import render_html

    report, plugins = example_report("maison-lumiere")
    [rate] = [a for a in report.objectives if a.key == "conversion-rate"]
    assert rate.required_rate * 100 == pytest.approx(0.0916, abs=1e-4)
    html, _, _ = render_html(report, plugins)
    # Not "0,09 %", and rounded up: two months of 0.09 points would fall short.
    assert "<td>0,10\xa0point de pourcentage</td>" in html


def test_a_relabelled_kpi_is_described_in_the_clients_words(northwind):
    from kpireport.render import render_html

    report, plugins = northwind
    kpi = report.kpis["new_customers"]
    assert kpi.label == "New patients"
    assert kpi.description == "Patients who came for their first appointment in the period."
    html, _, _ = render_html(report, plugins)
    # Beside its chart, once: the appendix describes only the KPIs without a chart.
    assert html.count(kpi.description) == 1
    assert html.index(kpi.description) < html.index('<section class="appendix"')
    assert "Accounts that became customers" not in html
    assert report.kpis["sessions"].description.startswith("Visits")  # the definition's own


def test_an_objective_judged_on_an_earlier_month_says_which_in_the_summary():
    from kpireport.render import render_html

    report, plugins = example_report("acme-robotics")
    [q3] = [a for a in report.objectives if a.key == "organic-clicks-q3"]
    assert q3.measured_in == dt.date(2026, 9, 1)  # its deadline was the end of September
    html, _, _ = render_html(report, plugins)
    summary = html[html.index('class="objectives-summary"'):]
    assert '4,500<br><span class="muted">September 2026</span>' in summary


def test_a_missed_objective_was_missed():
    from kpireport.narrative import summarise

    report, _ = example_report("acme-robotics")
    attention = summarise(report, lambda s: s).attention
    assert ("4,600 organic clicks a month by the end of Q3 was missed: 4,500 in September "
            "2026 against a target of 4,600.") in attention  # judged on its deadline's month


def test_what_is_needed_is_rounded_up_and_the_archive_says_it_as_printed(northwind):
    import csv
    import io

    from kpireport.figures_csv import figures_csv
    from kpireport.render import render_html

    report, plugins = northwind
    [total] = [a for a in report.objectives if a.key == "new-patients-2026"]
    assert total.required_rate == pytest.approx(250.5)  # 501 still to win in two months
    html, _, _ = render_html(report, plugins)
    assert "<td>251</td>" in html  # 250 a month would end one short
    rows = {(r["key"], r["field"]): r for r in csv.DictReader(io.StringIO(figures_csv(report)))}
    assert rows[("new-patients-2026", "required_rate")]["printed"] == "251"
    status = rows[("new-patients-2026", "status")]
    assert (status["value"], status["printed"]) == ("on_track", "On track")


def test_a_target_is_not_drawn_past_its_deadline():
    from kpireport.render import render_html

    report, plugins = example_report("acme-robotics")
    html, _, _ = render_html(report, plugins)
    start = html.index("<h3>Organic clicks</h3>")
    chart = html[start:html.index("</svg>", start)]
    assert 'stroke-dasharray="7 3 2 3"' not in chart  # the Q3 objective's line, now over
    start = html.index("<h3>Qualified leads</h3>")
    assert 'stroke-dasharray="7 3 2 3"' in html[start:html.index("</svg>", start)]


def test_a_quarter_from_monthly_exports_renders_with_its_top_queries_unavailable():
    from kpireport.render import render_html

    report, plugins = example_report("acme-robotics", period_spec="2026-Q3")
    queries = report.kpis["top_queries"]
    assert queries.rows == [] and queries.error is None
    assert {n.kind.value for n in queries.notes} == {"unavailable"}
    assert report.kpis["organic_clicks"].value == pytest.approx(
        sum(p.value for p in report.kpis["organic_clicks"].monthly[-3:]))
    html, _, _ = render_html(report, plugins)
    # Unavailable, not also "no data"; the tiles' caption keeps the months' capitals.
    assert {n.kind.value for n in report.kpis["users"].notes} == {"unavailable"}
    # A quarter's caption names its comparisons as the client does: Q2 2026 and Q3 2025.
    assert ('class="tiles-caption">Q3\xa02026, compared with Q2 2026 and Q3 2025:</p>'
            in html)
    assert "1 Apr\u202f–\u2060\u202f30 Jun 2026" not in html
    assert report.okrs == []  # Acme's OKR starts in October
    # No section that only says it cannot be given, nor a line in the contents or the
    # glossary: "About the data" explains it once, in the client's words (which figure, and
    # why a quarter cannot have it), though each of its metrics has its note.
    assert 'id="table-top_queries"' not in html and 'href="#table-top_queries"' not in html
    assert html.count("<dt>Top search queries</dt>") == 0
    notes = html[html.index('id="data-notes"'):]
    notes = notes[:notes.index("</section>")]
    assert "Top search queries cannot be shown for this period" in notes
    assert "No data for this period" not in html
    # Review 5: a table is a ranking, said as the client would.
    assert html.count("Top search queries cannot be shown for this period: Google Search "
                      "Console gives this ranking for other periods only (month by month, for "
                      "example), and rankings cannot be combined into one for this period.") == 1


def test_a_month_to_date_report_charts_thirteen_months_and_counts_days_from_its_end():
    from kpireport.render import render_html

    now = dt.datetime(2026, 11, 14, 6, 0, tzinfo=dt.UTC)
    report, plugins = example_report("northwind-dental", period_spec="month-to-date", now=now)
    assert (report.period.start, report.period.end) == (dt.date(2026, 11, 1),
                                                         dt.date(2026, 11, 13))
    sessions = report.kpis["sessions"]  # no objective reaches further back
    assert sessions.monthly[0].start <= dt.date(2025, 10, 1)  # the chart's first month
    html, _, _ = render_html(report, plugins)
    start = html.index("<h3>Sessions</h3>")
    assert "Oct 2025" in html[start:html.index("</div></div></div>", start)]
    # Every objective counts its days left from 13 November, the level ones too.
    assert {a.days_left for a in report.objectives} == {48}
    assert '<p class="report-kind">Month-to-date performance report</p>' in html
    # A level objective's figures are October's, and its expected path too: it says so.
    assert "expected by the end of October 2026" in html
    assert "<th>Expected by the end of October 2026</th>" in html
    # Key results, monthly levels, are October's: the column says so, not "Now".
    okrs = html[html.index('id="okrs"'):]
    assert '<th class="num">October 2026</th>' in okrs[:okrs.index("</thead>")]


def test_changes_that_round_to_nothing_have_no_sign_or_colour():
    assert format_change(-0.00004, "en_US") == "±0.0%"
    assert format_change(0.0004, "fr_FR") == f"±0,0{NNBSP}%"
    assert format_change(-0.0006, "en_US") == "−0.1%"


def test_a_year_to_date_report_compares_with_last_years_same_days_once():
    from kpireport.render import render_html

    now = dt.datetime(2026, 11, 14, 6, 0, tzinfo=dt.UTC)
    report, plugins = example_report("maison-lumiere", period_spec="year-to-date", now=now)
    html, _, _ = render_html(report, plugins)
    # Analytics to 13 November, Search Console's exports to 31 October: the first sentence
    # says the figures stop on different days, never "compared with 1 Jan – 13 Nov 2025".
    # says up to which day they go, Search Console's own day beside it, once.
    # One line, above the tiles (not a sentence above it saying it again).
    summary = html[html.index('<section class="summary"'):]
    summary = summary[:summary.index("</section>")]
    assert 'class="lead"' not in summary and "Chiffres jusqu" not in summary
    assert 'class="tiles-caption">1er\xa0janv.\u202f–\u2060\u202f13\xa0nov.\xa02026 (Google ' \
        "Search Console\u202f: jusqu’au 31 oct.), comparé avec les mêmes jours de 2025\u202f:</p>" \
        in html
    assert summary.count("mêmes jours de 2025") == 1
    # The tables' change column says what it compares with, in French and as the monthly's
    # "/ période préc." does: last year's same days.
    assert "<th class=\"num change\">/ an dernier</th>" in html
    assert "vs " not in html[html.index('id="family-'):] and "/ période préc." not in html
    assert "Comparé à 1er janv.\u202f–\u2060\u202f13 nov. 2025." not in html
    start = html.index("<h3>Sessions</h3>")
    line = html[start:html.index("</p>", start)]
    assert line.count("2025") == 1 and "2024" not in line  # one comparison, last year's
    # Search Console's exports stop at October: its figures are compared with the same days
    # of last year (to 31 October), so no day is missing from the comparison.
    summary = html[html.index('class="narrative'):html.index('class="objectives-summary"')]
    [clicks] = [li for li in summary.split("<li>") if li.startswith("Clics naturels")]
    assert "par rapport à la période du 1er\xa0janv. au 31\xa0oct.\xa02025" in clicks
    assert "certains jours manquent" not in clicks


def test_day_durations_keep_a_decimal_but_chart_axes_step_in_whole_days():
    from kpireport.charts import line_chart

    assert format_value(86.0, Unit.DURATION, "en_US", duration_unit="days") == "86.0\xa0days"
    first = dt.date(2025, 10, 1)
    points = [SeriesPoint(start=add_months(first, i), value=70.0 + 2.5 * i) for i in range(13)]
    svg = line_chart(points, locale="en_US", unit=Unit.DURATION, duration_unit="days")
    assert ">90\xa0days<" in svg and ".0\xa0days" not in svg


def format_1(snapshot: bytes, *, months_later: int = 0) -> bytes:
    """A format-2 snapshot written as format 1 was: tables under their own query, read by
    shape; with ``months_later``, monthly series starting that much later (as month-to-date
    reports' series did in an older version)."""
    import gzip
    import json

    payload = json.loads(gzip.decompress(snapshot))
    payload["format"] = 1
    for item in payload["tables"]:
        query = item["query"]
        if query["granularity"] == "month" and months_later:
            start = add_months(dt.date.fromisoformat(query["start"]), months_later)
            query["start"] = start.isoformat()
            item["rows"] = [r for r in item["rows"]
                            if dt.date.fromisoformat(r["month"]["$date"]) >= start]
    return gzip.compress(json.dumps(payload, sort_keys=True).encode("utf-8"), mtime=0)


def test_a_format_1_snapshot_whose_monthly_series_started_later_still_rebuilds(tmp_path):
    """Snapshots of month-to-date reports by an older version stored series a month shorter."""
    from kpireport import snapshots
    from kpireport.batch import snapshot_bytes

    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    client = config.client("northwind-dental")
    now = dt.datetime(2026, 11, 20, 6, 0, tzinfo=dt.UTC)
    report = compute_report(config, client, plugins, period_spec="month-to-date", now=now)
    path = tmp_path / "snap.json.gz"
    snapshots.write(path, format_1(snapshot_bytes(config, client, report, now), months_later=1))
    snap = snapshots.load(path)
    assert snap["format"] == 1
    rebuilt = compute_report(config, client, plugins, period=report.period, now=now,
                             snapshot=snap)
    fresh = [p.value for p in report.kpis["sessions"].monthly]
    again = [p.value for p in rebuilt.kpis["sessions"].monthly]
    assert again[1:] == fresh[1:] and again[0] is None  # all but the month it never stored
    assert rebuilt.kpis["sessions"].value == report.kpis["sessions"].value


def test_sections_and_table_units_come_from_the_kpi_definitions():
    """A KPI plugin's own family (heading, place) and breakdown units, none known to the core."""
    import re

    from kpireport.figures_csv import figures_csv
    from kpireport.kpis import Breakdown, Family, KpiDefinition, KpiValue
    from kpireport.render import render_html

    report, plugins = example_report("maison-lumiere")  # a French report
    social = Family(id="social", label={"en": "Social media", "fr": "Réseaux sociaux"}, rank=5)
    followers = KpiDefinition(id="followers", label={"en": "Followers"}, unit=Unit.COUNT,
                              metrics=("followers",),
                              family=social)
    posts = KpiDefinition(
        id="top_posts", label={"en": "Top posts"}, unit=Unit.COUNT,
        metrics=("reach", "engagement"), family="social",
        breakdown=Breakdown(dimensions=("post",), metric="reach", limit=5, columns=("reach",
                                                                                    "engagement"),
                            column_units={"engagement": Unit.PERCENT}))
    report.kpis["followers"] = KpiValue(key="followers", definition=followers, label="Abonnés",
                                        value=1200.0)
    report.kpis["top_posts"] = KpiValue(key="top_posts", definition=posts,
                                        label="Meilleures publications",
                                        rows=[{"post": "Launch", "reach": 900.0,
                                               "engagement": 0.125}])
    html, _, _ = render_html(report, plugins)
    families = re.findall(r'<section class="family family-(\w+)"', html)
    assert families[0] == "social" and "<h2>Réseaux sociaux</h2>" in html
    [engagement] = [line for line in figures_csv(report).splitlines()
                    if line.startswith("table,top_posts,") and ",1.engagement," in line]
    assert engagement.endswith(',0.125,"12,5\u202f%"')  # a rate, as the plugin says; not 0


def test_the_summary_lists_the_top_three_recommendations_and_each_its_impact():
    import html as htmllib

    from kpireport.typography import for_language, hold_years

    def printed(text: str, language: str) -> str:
        # The language's typography, and each year held to its period by a no-break space.
        return hold_years(for_language(text, language))

    for client, heading, impact in (("acme-robotics", "Top recommendations", "Expected impact:"),
                                    ("maison-lumiere", "Recommandations prioritaires",
                                     "Effet attendu\u202f:")):
        report, plugins = example_report(client)
        page, _, _ = render_html(report, plugins)
        page = htmllib.unescape(page)
        summary = page[page.index('id="summary"'):page.index('<section class="objectives"')]
        assert heading in summary
        top = sorted(report.findings, key=lambda f: -f.rank)[:3]
        for finding in top:
            # As the report's language sets it (French spaces, « quotes »).
            assert printed(finding.in_language(report.language)[0],
                           report.language) in summary
        # Each finding with an impact prints it under its text, in the report's language.
        section = page[page.index('id="recommendations"'):]
        with_impact = [f for f in report.findings if f.impact]
        assert with_impact
        for finding in with_impact:
            assert f"{impact} {printed(finding.impact_in(report.language), report.language)}" \
                in section
