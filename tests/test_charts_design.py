"""Charts a designer would sign, and period reports that chart the period (issue #15, item 5
and item 1's second point): axes, greyscale marks, bars, burn-up, the cover's period names."""

import datetime as dt
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pypdf import PdfReader
from shared import ROOT

from kpireport import Breakdown, KpiDefinition, Unit
from kpireport.charts import ChartStyle, legend, line_chart, month_labels, value_ticks
from kpireport.data import DateRange
from kpireport.formatting import format_value
from kpireport.kpis import KpiValue, SeriesPoint
from kpireport.period_charts import MonthBar, burnup_chart, month_bars, share_bars
from kpireport.periods import Period, add_months, resolve
from kpireport.report_charts import period_months, period_name

SVG = "{http://www.w3.org/2000/svg}"


def fmt(v: float) -> str:
    return format_value(v, Unit.COUNT, "en_GB")


# --- Axes ---------------------------------------------------------------------------------


def test_counts_and_amounts_start_at_zero_and_keep_the_target_inside():
    ticks, texts = value_ticks([9100, 9400, 9800], unit=Unit.COUNT, fmt=fmt, target=10000)
    assert ticks[0] == 0 and texts[0] == "0"  # a count's axis starts at zero
    assert ticks[0] < 10000 < ticks[-1]  # 10,000 would be the top tick: one step more
    ticks, _ = value_ticks([120.0, 180.0], unit=Unit.CURRENCY, fmt=fmt)
    assert ticks[0] == 0


@pytest.mark.parametrize("unit, values, target", [
    (Unit.PERCENT, [0.021, 0.022, 0.0225], 0.024),
    (Unit.PERCENT, [0.021, 0.022, 0.024], 0.020),  # the target below every month
    (Unit.POSITION, [10.4, 10.1, 9.9], 9.5),
    (Unit.DURATION, [150.0, 157.0, 149.0], 150.0),
])
def test_rates_positions_and_durations_get_a_padded_range_with_the_target_strictly_inside(
        unit, values, target):
    ticks, texts = value_ticks(values, unit=unit, fmt=lambda v: f"{v:.4f}", target=target)
    assert ticks[0] > 0  # not from zero: the months' differences stay visible
    assert ticks[0] < min(values) and max(values) < ticks[-1]  # padded: no line on the frame
    assert ticks[0] < target < ticks[-1]
    assert len(set(texts)) == len(texts)


def test_month_labels_carry_the_year_on_the_first_and_on_january_in_every_locale():
    first = dt.date(2025, 11, 1)
    months = [add_months(first, i) for i in range(4)]
    assert month_labels(months, "en_GB") == ["Nov 2025", "Dec", "Jan 2026", "Feb"]
    assert month_labels(months, "fr_FR") == ["nov. 2025", "déc.", "janv. 2026", "févr."]
    points = [SeriesPoint(start=add_months(first, i), value=10.0 + i) for i in range(13)]
    root = ET.fromstring(line_chart(points, locale="en_GB", unit=Unit.COUNT))
    x_labels = [s.text for s in root.iter("span") if s.get("class") == "chart-x"]
    y_labels = [s.text for s in root.iter("span") if s.get("class") == "chart-y"]
    assert x_labels[0] == "Nov 2025" and "2026" in "".join(x_labels[1:])
    assert y_labels[-1] == "0"  # the lowest tick of a count's axis


def test_the_legend_shows_each_series_dash_and_marker():
    style = ChartStyle()
    key = legend(style, {"value": "This year", "last_year": "Last year", "target": "Target"})
    samples = re.findall(r'<span class="chart-key">(.*?)</span>', key)
    assert len(samples) == 3
    this_year, last_year, target = samples
    assert "<circle" in this_year and "stroke-dasharray" not in this_year
    assert '<rect' in last_year and 'fill="white"' in last_year and "4 3" in last_year
    assert "7 3 2 3" in target


# --- Bars ---------------------------------------------------------------------------------


def test_a_quarter_is_three_pairs_of_bars_with_the_target_inside():
    months = [MonthBar(start=dt.date(2026, m, 1), value=100.0 * m, last_year=80.0 * m)
              for m in (7, 8, 9)]
    root = ET.fromstring(month_bars(months, locale="en_GB", fmt=fmt, unit=Unit.COUNT,
                                    target=900))
    svg = root.find(f".//{SVG}svg")
    bars = [r for r in svg.iter(f"{SVG}rect") if "bar" in (r.get("class") or "")]
    assert len(bars) == 3 * 2
    assert sum("bar-last-year" in r.get("class") for r in bars) == 3
    assert svg.find(f"{SVG}path[@class='partial']") is None  # a whole quarter: no stripes
    x_labels = [s.text for s in root.iter("span") if s.get("class") == "chart-x"]
    assert x_labels == ["Jul 2026", "Aug", "Sept"]
    y_labels = [s.text for s in root.iter("span") if s.get("class") == "chart-y"]
    assert y_labels[-1] == "0" and int(y_labels[0].replace(",", "")) > 900
    assert not list(svg.iter(f"{SVG}text"))  # every word in HTML


def _kpi(unit: Unit, monthly: dict[dt.date, float], daily: dict[dt.date, float],
         last_year: float | None) -> KpiValue:
    kpi = KpiValue(key="k", label="K", definition=KpiDefinition(
        id="k", label={"en": "K"}, unit=unit, metrics=("m",)))
    kpi.monthly = [SeriesPoint(start=m, value=v) for m, v in sorted(monthly.items())]
    kpi.daily = [SeriesPoint(start=d, value=v) for d, v in sorted(daily.items())]
    kpi.value, kpi.last_year = sum(daily.values()), last_year
    return kpi


def test_a_partial_last_month_is_drawn_as_partial_never_as_a_whole_month():
    # A quarter whose data stops on 24 November: October whole, November's first 24 days,
    # their figure and last year's same days' computed by the pipeline (partial_month).
    period = resolve("2026-Q4", dt.date(2026, 12, 1)).through(dt.date(2026, 11, 24))
    days = {d: 10.0 for d in DateRange(start=dt.date(2026, 10, 1),
                                       end=dt.date(2026, 11, 24)).iter_days()}
    monthly = {dt.date(2025, 10, 1): 250.0, dt.date(2025, 11, 1): 300.0,
               dt.date(2026, 10, 1): 310.0}
    kpi = _kpi(Unit.COUNT, monthly, days, last_year=450.0)
    kpi.partial_month = SeriesPoint(start=dt.date(2026, 11, 1), value=240.0)
    kpi.partial_month_last_year = SeriesPoint(start=dt.date(2025, 11, 1), value=200.0)
    months = period_months(kpi, period, partial_label=lambda d: f"to {d:%d %b}")
    assert [(m.start, m.value, m.last_year, m.label) for m in months] == [
        (dt.date(2026, 10, 1), 310.0, 250.0, None),
        (dt.date(2026, 11, 1), 240.0, 200.0, "to 24 Nov")]
    chart = month_bars(months, locale="en_GB", fmt=fmt, unit=Unit.COUNT)
    root = ET.fromstring(chart)
    assert root.find(f".//{SVG}path[@class='partial']") is not None  # striped
    x_labels = [s.text for s in root.iter("span") if s.get("class") == "chart-x"]
    assert x_labels == ["Oct 2026", "to 24 Nov"]
    # A rate's part of a month is drawn too: its figure over those days, never a month's
    # (November's whole-month 2.5 % is not the 24 days' 2.1 %).
    rate = _kpi(Unit.PERCENT, {m: 0.025 for m in monthly}, {d: 0.02 for d in days}, 0.02)
    rate.partial_month = SeriesPoint(start=dt.date(2026, 11, 1), value=0.021)
    rate.partial_month_last_year = SeriesPoint(start=dt.date(2025, 11, 1), value=0.019)
    months = period_months(rate, period, partial_label=lambda d: "to 24 Nov")
    assert (months[-1].value, months[-1].last_year, months[-1].label) == (0.021, 0.019,
                                                                          "to 24 Nov")
    root = ET.fromstring(month_bars(months, locale="en_GB", fmt=fmt, unit=Unit.PERCENT))
    assert root.find(f".//{SVG}path[@class='partial']") is not None
    # Figures of another month (a KPI computed for another period) are never borrowed.
    rate.partial_month = SeriesPoint(start=dt.date(2026, 10, 1), value=0.021)
    months = period_months(rate, period, partial_label=lambda d: "to 24 Nov")
    assert (months[-1].value, months[-1].last_year) == (None, None)


def test_a_partial_month_a_source_cannot_tell_is_an_empty_labelled_slot():
    period = resolve("2026-Q4", dt.date(2026, 12, 1)).through(dt.date(2026, 11, 24))
    days = {d: 10.0 for d in DateRange(start=dt.date(2026, 10, 1),
                                       end=dt.date(2026, 11, 24)).iter_days()}
    # Unique visitors from a monthly export: October known, November's first days not; the
    # days' sum (550) is never drawn in their place.
    kpi = _kpi(Unit.COUNT, {dt.date(2026, 10, 1): 200.0}, days, last_year=None)
    kpi.partial_month = SeriesPoint(start=dt.date(2026, 11, 1), value=None)
    kpi.partial_month_last_year = SeriesPoint(start=dt.date(2025, 11, 1), value=None)
    months = period_months(kpi, period, partial_label=lambda d: "to 24 Nov")
    assert months[-1].value is None and months[-1].last_year is None and months[-1].partial


def test_the_channel_mix_is_one_bar_per_row_with_its_name_and_figure_in_html():
    rows = [("Organic Search", 5000.0), ("Direct", 2500.0), ("<b>Email</b>", 500.0)]
    root = ET.fromstring(share_bars(rows, fmt=fmt))
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert [float(b.get("width")) for b in bars] == pytest.approx([300, 150, 30], abs=0.1)
    texts = [s.text for s in root.iter("span")]
    assert texts == ["Organic Search", "5,000", "Direct", "2,500", "<b>Email</b>", "500"]


def test_a_breakdown_asks_for_bars_through_its_definition():
    from kpireport.plugins import load_plugins

    plugins = load_plugins()
    assert plugins.kpis["traffic_sources"].item.chart == "bars"
    with pytest.raises(ValueError, match=r"chart='bars'.*breakdown"):
        KpiDefinition(id="x", label={"en": "X"}, unit=Unit.COUNT, metrics=("m",), chart="bars")
    with pytest.raises(ValueError, match="chart='pie'"):
        KpiDefinition(id="x", label={"en": "X"}, unit=Unit.COUNT, metrics=("m",), chart="pie",
                      breakdown=Breakdown(dimensions=("channel",), metric="m"))


# --- Burn-up ------------------------------------------------------------------------------


def test_the_burn_up_path_ends_at_the_target_on_the_deadline():
    start, deadline = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
    actual = [(dt.date(2026, 1, 31), 150.0), (dt.date(2026, 2, 28), 320.0),
              (dt.date(2026, 3, 15), 400.0)]
    root = ET.fromstring(burnup_chart(start=start, deadline=deadline, baseline=0.0,
                                      target=2000.0, actual=actual, forecast=1770.0,
                                      locale="en_GB", fmt=fmt, unit=Unit.COUNT,
                                      labels={"value": "Total so far", "target": "Path",
                                              "forecast": "Forecast"}))
    svg = root.find(f".//{SVG}svg")
    paths = {p.get("class"): p.get("d") for p in svg.iter(f"{SVG}path")}

    def ends(d: str) -> list[tuple[float, float]]:
        return [tuple(map(float, xy.split(","))) for xy in re.findall(r"[ML]([\d.]+,[\d.]+)", d)]

    target_path, forecast, line = (ends(paths["target-path"]), ends(paths["forecast"]),
                                   ends(paths["actual"]))
    assert target_path[-1][0] == forecast[-1][0]  # both end at the deadline
    assert len(line) == 1 + len(actual)  # from zero at the start, then each running total
    assert line[-1] == forecast[0]  # the forecast leaves from the last total
    # The path's end is the target: the y of the target's grid tick maps to it.
    y_labels = [s.text for s in root.iter("span") if s.get("class") == "chart-y"]
    assert y_labels[-1] == "0" and float(y_labels[0].replace(",", "")) > 2000
    grid = sorted({float(ln.get("y1")) for ln in svg.iter(f"{SVG}line")})
    top, bottom = grid[0], grid[-1]
    high = float(y_labels[0].replace(",", ""))
    assert target_path[-1][1] == pytest.approx(bottom - (bottom - top) * 2000 / high, abs=0.1)
    assert target_path[0][1] == pytest.approx(bottom, abs=0.1)  # from the baseline, 0
    legend_text = "".join(root.find("div[@class='chart-legend']").itertext())
    assert "Total so far" in legend_text and "Forecast" in legend_text


# --- Words --------------------------------------------------------------------------------


def test_periods_are_named_as_clients_name_them():
    from kpireport.templating import translations

    french = translations(ROOT / "report_templates" / "default" / "locale", "fr").gettext

    def english(message: str) -> str:
        return message

    q3 = resolve("2026-Q3", dt.date(2026, 12, 1))
    ytd = resolve("year-to-date", dt.date(2026, 12, 1))
    assert period_name(q3, "en_GB", english) == "Q3 2026"
    assert period_name(q3, "fr_FR", french) == "T3 2026"
    assert period_name(ytd, "en_GB", english) == "Year to date 2026"
    assert period_name(ytd, "fr_FR", french) == "Depuis le début de l’année 2026"
    assert period_name(resolve("2026-10", dt.date(2026, 12, 1)), "en_GB", english) == \
        "October 2026"
    mtd = Period(kind="month-to-date", range=DateRange(start=dt.date(2026, 11, 1),
                                                       end=dt.date(2026, 11, 15)),
                 previous=DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 15)),
                 last_year=DateRange(start=dt.date(2025, 11, 1), end=dt.date(2025, 11, 15)),
                 key="2026-11-mtd-15")
    assert re.sub(r"[\s\u2060]", "", period_name(mtd, "en_GB", english)) == "1–15Nov2026"


def test_axis_text_is_at_least_7pt_in_every_theme():
    sheets = list((ROOT / "report_templates").glob("*/style.css"))
    sheets += list((ROOT / "plugins").glob("**/style.css"))
    assert len(sheets) >= 2
    for sheet in sheets:
        css = re.sub(r"/\*.*?\*/", "", sheet.read_text(encoding="utf-8"), flags=re.S)
        for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
            if not re.search(r"\.chart-(x|y|legend)\b", selectors):
                continue
            for size in re.findall(r"font-size:\s*([\d.]+)pt", body):
                assert float(size) >= 7, (sheet, selectors.strip(), size)


def test_status_glyphs_are_in_the_fallback_font():
    from fontTools.ttLib import TTFont

    from kpireport.template_context import STATUS_ICONS

    font = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not font.is_file():
        pytest.skip("DejaVu Sans is not installed")
    cmap = TTFont(font).getBestCmap()
    assert all(ord(glyph) in cmap for glyph in STATUS_ICONS.values())


# --- The example's quarter and year to date, end to end --------------------------------------


def _run(tmp_path: Path, period: str, client: str) -> tuple[str, str]:
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "kpireport", "run", str(ROOT / "config.example.yaml"),
                    "--client", client, "--period", period, "--as-of", "2026-12-01",
                    "--output", str(out), "--force"], check=True, capture_output=True,
                   cwd=ROOT, timeout=300)
    [pdf] = list(out.glob(f"{client}/*.pdf"))
    [html] = list(out.glob(f"{client}/*.html"))
    reader = PdfReader(pdf)
    text = "\n".join(page.extract_text() for page in reader.pages)
    return text, html.read_text(encoding="utf-8") + "\n" + str(reader.metadata.title)


@pytest.mark.pdf
@pytest.mark.workers
def test_the_examples_quarter_charts_its_months_as_bars_and_is_named_q3(tmp_path):
    text, html = _run(tmp_path, "2026-Q3", "acme-robotics")
    cover = text[:600]
    assert "Q3 2026" in cover and "1 Jul" in cover  # its name, then its days
    assert html.rstrip().endswith("Acme Robotics — Q3 2026")  # the PDF's title
    assert "<title>Acme Robotics — Q3 2026</title>" in html
    # No thirteen-month axis: the KPIs' charts are the quarter's three months as bars.
    assert 'class="chart chart-bars"' in html
    assert ">Sept 2025<" not in html and ">Oct 2025<" not in html
    charts = re.findall(r'<div class="chart chart-bars">.*?</svg>', html, re.S)
    assert charts and all(c.count('class="bar bar-') == 6 for c in charts
                          if c.count('class="bar bar-last-year"') == 3)
    assert 'class="chart chart-burnup"' in html  # its cumulative objective
    assert "Total so far" in text and "Path to the target" in text
    assert "✓ " in text or "✕ " in text or "! " in text  # badges carry a glyph


@pytest.mark.pdf
@pytest.mark.workers
def test_the_examples_year_to_date_stops_at_its_last_day_of_data(tmp_path):
    text, html = _run(tmp_path, "year-to-date", "maison-lumiere")
    assert "Depuis le début de l’année 2026" in text[:800]
    assert "Maison Lumière — Depuis le début de l’année 2026" in html
    charts = re.findall(r'<div class="chart chart-bars">.*?</div></div></div>', html, re.S)
    assert charts
    ends = set()
    for chart in charts:  # January to October whole, November to its last day of data
        labels = re.findall(r'class="chart-x"[^>]*>([^<]*)<', chart)
        assert labels[0] == "janv. 2026"
        ends.add(labels[-1])
    # The analytics export stops on 24 November; Search Console's monthly exports with
    # October, a whole month.
    assert ends == {"au 24 nov.", "oct."}
    assert ">nov. 2025<" not in html  # no thirteen-month axis starting last November
    assert 'class="partial"' in html  # striped where the month is partial
    assert 'class="chart chart-share"' in html  # the channel mix


def test_a_duration_axis_steps_in_whole_minutes_and_a_position_is_dots_with_1_on_top():
    """Review finding 18: "3 min 20 s / 2 min 30 s / 1 min 40 s / 50 s" was a 50 s step; a
    position drawn as bars from zero made the worse month the taller bar."""
    import re as _re

    from kpireport.charts import value_ticks
    from kpireport.formatting import format_duration
    from kpireport.period_charts import MonthBar, month_bars

    def fmt(v: float) -> str:
        return format_duration(v, "en_GB", axis=True)

    ticks, texts = value_ticks([95.0, 180.0, 200.0], unit="duration", fmt=fmt, zero=True,
                               clock=True)
    assert all(t % 60 == 0 for t in ticks) and texts[:3] == ["0\xa0sec", "1\xa0min", "2\xa0min"]
    months = [MonthBar(start=dt.date(2026, m, 1), value=v, last_year=ly)
              for m, v, ly in ((7, 12.0, 15.0), (8, 9.0, 14.0), (9, 10.5, 13.0))]
    svg = month_bars(months, locale="en_GB", fmt=lambda v: f"{v:.1f}", unit="position")
    assert "<rect class=\"bar" not in svg
    dots = [(float(cy), cls) for cls, cy in
            _re.findall(r'<circle class="dot (bar-current|bar-last-year)" cx="[\d.]+" '
                        r'cy="([\d.]+)"', svg)]
    current = [cy for cy, cls in dots if cls == "bar-current"]
    assert len(current) == 3 and len(dots) == 6
    # August's 9.0, the best position, is drawn highest (smallest y).
    assert min(current) == current[1]


# --- One orientation for a position (issue #15, keys) ------------------------------------


def test_a_positions_line_chart_and_sparkline_put_the_better_month_at_the_top():
    """Review: monthly line charts put 20.0 at the top and 12.0 at the bottom, so an
    improving position read as a decline, while the period's dot charts put 1 on top."""
    import html as _html
    import json

    from kpireport.charts import sparkline

    first = dt.date(2025, 10, 1)
    # A position improving from 16 to 12 (lower is better).
    points = [SeriesPoint(start=add_months(first, i), value=16.0 - i / 3) for i in range(13)]
    chart = line_chart(points, locale="en_GB", unit=Unit.POSITION)
    marks = json.loads(_html.unescape(re.search(r'data-points="([^"]*)"', chart).group(1)))
    ys = [y for _, y, _ in marks]
    assert ys == sorted(ys, reverse=True)  # each month higher than the one before
    root = ET.fromstring(chart)
    y_labels = [float(s.text) for s in root.iter("span") if s.get("class") == "chart-y"]
    assert y_labels == sorted(y_labels) and y_labels[0] <= 12.0  # the smallest on top
    # A count keeps its axis: the largest value on top.
    counts = line_chart(points, locale="en_GB", unit=Unit.COUNT)
    count_marks = json.loads(_html.unescape(re.search(r'data-points="([^"]*)"',
                                                      counts).group(1)))
    assert [y for _, y, _ in count_marks] == sorted(y for _, y, _ in count_marks)

    def last_dot_y(svg: str) -> float:
        return float(re.search(r'<circle cx="[\d.]+" cy="([\d.]+)"', svg).group(1))

    # The tile's trend: the last (best) month at the top when inverted, at the bottom not.
    assert last_dot_y(sparkline(points, inverted=True)) < 5
    assert last_dot_y(sparkline(points)) > 15


def test_a_dot_charts_key_shows_dots_and_a_mixed_sections_both():
    from kpireport.period_charts import bars_legend

    words = {"value": "This year", "last_year": "Same months last year"}
    style = ChartStyle()

    def samples(key: str) -> list[str]:
        return re.findall(r'<span class="chart-key">(.*?)</span>', key)

    dots = samples(bars_legend(style, words, bars=False, dots=True))
    assert all("<circle" in s and "<rect" not in s for s in dots) and len(dots) == 2
    assert 'fill="white"' in dots[1]  # last year hollow, as its dots
    bars = samples(bars_legend(style, words))
    assert all("<rect" in s and "<circle" not in s for s in bars)
    both = samples(bars_legend(style, words, dots=True))
    assert all("<rect" in s and "<circle" in s for s in both)
