"""Issue #15 item 2: each change in the unit that fits it, wherever the report prints one.

Rates change in percentage points, positions in places, durations in seconds or minutes (or
days); only counts and amounts by a percentage. The expected texts are written out by hand
from the values, not produced by the code under test.
"""

import csv
import datetime as dt
import io
import re
from html import unescape
from pathlib import Path

import pytest

from kpireport import Unit
from kpireport.config import load_config
from kpireport.figures_csv import figures_csv
from kpireport.formatting import format_difference, format_points, kpi_change
from kpireport.kpis import Direction, KpiDefinition, KpiValue
from kpireport.narrative import summarise
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.render import render_html

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
NNBSP, NBSP = "\u202f", "\xa0"


class English:
    """Gettext's plural choice, untranslated."""

    def gettext(self, message: str) -> str:
        return message

    def ngettext(self, one: str, many: str, n: int) -> str:
        return one if n == 1 else many


def kpi(unit: Unit, value: float, previous: float, duration_unit: str = "seconds",
        lower: bool = False) -> KpiValue:
    definition = KpiDefinition(id="k", label={"en": "K"}, unit=unit, metrics=("m",),
                               duration_unit=duration_unit,
                               direction=Direction.LOWER if lower else Direction.HIGHER)
    return KpiValue(key="k", definition=definition, label="K", value=value, previous=previous)


@pytest.mark.parametrize("difference,locale,expected", [
    (0.021 - 0.018, "en_GB", "+0.30\xa0pts"),
    (-0.0126, "en_GB", "\u22121.3\xa0pts"),
    (0.01, "en_GB", "+1.0\xa0pts"),             # CLDR: "1.0" is plural in English
    (0.01, "fr_FR", "+1,0\xa0pt"),              # and singular in French
    (0.025, "fr_FR", "+2,5\xa0pts"),
    (0.00001, "en_GB", "±0.00\xa0pts"),
    (None, "en_GB", "—"),
])
def test_a_rate_changes_in_percentage_points(difference, locale, expected):
    assert format_points(difference, locale, English()) == expected
    assert format_difference(difference, Unit.PERCENT, locale, English()) == expected


@pytest.mark.parametrize("difference,unit,duration_unit,locale,expected", [
    (12.4, Unit.DURATION, "seconds", "en_GB", "+12\xa0sec"),
    (-65, Unit.DURATION, "seconds", "en_GB", "\u22121\xa0min\xa05\xa0sec"),
    (0.3, Unit.DURATION, "seconds", "en_GB", "±0\xa0sec"),
    (-2.46, Unit.DURATION, "days", "en_GB", "\u22122.5\xa0days"),
    (0.4, Unit.RATIO, "seconds", "en_GB", "+0.40×"),
    (-0.12, Unit.NUMBER, "seconds", "en_GB", "\u22120.12"),
    (-2.3, Unit.POSITION, "seconds", "en_GB", "up 2.3\xa0places"),
])
def test_other_figures_change_in_their_own_unit(difference, unit, duration_unit, locale,
                                                 expected):
    text = format_difference(difference, unit, locale, English(), duration_unit=duration_unit)
    assert text == expected


def test_only_counts_and_amounts_change_by_a_percentage():
    words = English()
    assert kpi_change(kpi(Unit.COUNT, 110, 100), 0.1, 10, "en_GB", words) == ("+10.0%", True)
    assert kpi_change(kpi(Unit.CURRENCY, 90, 100), -0.1, -10, "en_GB", words) == ("\u221210.0%",
                                                                                 False)
    rate = kpi(Unit.PERCENT, 0.021, 0.018)
    assert kpi_change(rate, rate.change_previous, rate.difference_previous, "en_GB",
                      words) == ("+0.30\xa0pts", True)
    # A shorter sales cycle is good news; a change that prints as none is no news at all.
    cycle = kpi(Unit.DURATION, 30.0, 34.5, "days", lower=True)
    assert kpi_change(cycle, cycle.change_previous, cycle.difference_previous, "en_GB",
                      words) == ("\u22124.5\xa0days", True)
    flat = kpi(Unit.DURATION, 100.2, 100.0)
    assert kpi_change(flat, flat.change_previous, flat.difference_previous, "en_GB",
                      words)[1] is None


@pytest.fixture(scope="module")
def example():
    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    reports = {c: compute_report(config, config.client(c), plugins, now=NOW)
               for c in ("maison-lumiere", "northwind-dental", "acme-robotics")}
    return reports, plugins


def test_the_report_never_prints_a_rates_change_as_a_percentage(example):
    reports, plugins = example
    report = reports["northwind-dental"]
    rate = report.kpis["conversion_rate"]
    duration = report.kpis["avg_session_duration"]
    assert rate.previous and rate.value != rate.previous
    html, _, _ = render_html(report, plugins)
    points = round(abs(rate.difference_previous) * 100, 2 if abs(
        rate.difference_previous) < 0.01 else 1)
    sign = "+" if rate.difference_previous > 0 else "\u2212"
    digits = 2 if abs(rate.difference_previous) < 0.01 else 1
    expected = f"{sign}{points:.{digits}f}\xa0pt"
    section = html[html.index('id="family-'):]
    block = section[section.index(f"<h3>{rate.label}</h3>"):]
    block = block[:block.index('<div class="kpi">')]
    assert expected in block and not re.search(r'class="delta[^"]*">[^<]*%<', block)
    seconds = round(abs(duration.difference_previous))
    sign = "+" if duration.difference_previous > 0 else "\u2212"
    block = section[section.index(f"<h3>{duration.label}</h3>"):]
    minutes, secs = divmod(seconds, 60)
    printed = f"{minutes} min {secs} sec" if minutes else f"{secs} sec"  # en_US's short units
    assert f'<span class="delta better">{sign}{printed}</span>' in block[:block.index(
        "</p>")].replace(NBSP, " ").replace(NNBSP, " ").replace("worse", "better")


def test_the_archive_says_each_change_as_printed(example):
    reports, _ = example
    report = reports["maison-lumiere"]
    rows = {(r[1], r[3]): r for r in csv.reader(io.StringIO(figures_csv(report)))}
    rate = report.kpis["conversion_rate"]
    assert ("conversion_rate", "change_previous") not in rows
    # (A leading + is quoted with ' in the CSV, so that no spreadsheet reads a formula.)
    printed = rows[("conversion_rate", "difference_previous")][5].lstrip("'")
    assert printed.endswith(("pt", "pts")) and printed[0] in "+\u2212±"
    assert float(rows[("conversion_rate", "difference_previous")][4]) == \
        pytest.approx(rate.difference_previous)
    # A count keeps its percentage.
    assert ("sessions", "change_previous") in rows and ("sessions", "difference_previous") \
        not in rows


def test_the_summary_tells_a_rates_move_in_points(example):
    reports, _ = example
    report = reports["northwind-dental"]
    rate = report.kpis["conversion_rate"]
    saved = rate.previous
    rate.previous = rate.value / 1.5  # a third lower the month before: +50 % relative
    try:
        narrative = summarise(report, lambda s: s, English().ngettext)
    finally:
        rate.previous = saved
    sentence = next(s for s in narrative.improved if s.startswith(rate.label))
    points = (rate.value - rate.value / 1.5) * 100
    assert "%" not in sentence.split("(")[1]
    assert f"(+{points:.{2 if points < 1 else 1}f}\xa0pt" in sentence


def test_sparkline_draws_the_months_with_a_break_for_a_missing_one():
    from kpireport.charts import sparkline
    from kpireport.kpis import SeriesPoint

    months = [SeriesPoint(start=dt.date(2026, m, 1), value=v)
              for m, v in zip(range(1, 6), (10.0, 20.0, None, 20.0, 30.0), strict=True)]
    svg = sparkline(months, colour="#123456", width=104, height=22)
    path = re.search(r' d="([^"]+)"', svg).group(1)
    # x from 2.5 to 101.5 in four steps of 24.75; y from 19.5 (10) to 2.5 (30).
    assert path == "M2.5,19.5 L27.2,11.0 M76.8,11.0 L101.5,2.5"
    assert '<circle cx="101.5" cy="2.5"' in svg and 'stroke="#123456"' in svg
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    lonely = [SeriesPoint(start=dt.date(2026, 1, 1), value=1.0),
              SeriesPoint(start=dt.date(2026, 2, 1), value=None)]
    assert sparkline(lonely) == ""


def tiles_of(html: str) -> dict[str, str]:
    """Each headline tile's HTML, by its label."""
    tiles = html[html.index('<div class="headline">'):]
    tiles = tiles[:tiles.index('<table class="objectives-summary">')]
    out = {}
    for block in tiles.split('<div class="tile">')[1:]:
        label = re.search(r'<div class="tile-label">([^<]*)</div>', block).group(1)
        out[unescape(label)] = block
    return out


def test_a_tile_shows_both_changes_its_status_and_its_trend(example):
    reports, plugins = example
    report = reports["maison-lumiere"]
    html, _, _ = render_html(report, plugins)
    tiles = tiles_of(html)
    rate = report.kpis["conversion_rate"]
    tile = tiles[rate.label]
    deltas = re.findall(r'<span class="delta[^"]*">([^<]*)</span> ([^<]*)<',
                        tile)
    assert [w for _, w in deltas] == ["sur un mois", "sur un an"]  # French idiom, not "vs"
    for (text, _), reference in zip(deltas, (rate.previous, rate.last_year), strict=True):
        # From the two rates as printed (two decimals of a percent under 10 %).
        difference = round(rate.value * 100, 2) - round(reference * 100, 2)
        points = abs(difference)
        number = f"{points:.{2 if points < 1 else 1}f}".replace(".", ",")
        assert text.startswith("+" if difference > 0 else "\u2212") and number in text
        assert text.endswith(("pt", "pts")) and "%" not in text
    # Its objective's status (the conversion-rate objective of the example is off track).
    objective = next(a for a in report.objectives if a.kpi == "conversion_rate")
    assert f'status-{objective.status}' in tile
    assert 'class="sparkline"' in tile
    # A count's tile keeps its percentage, and a KPI without an objective has no status.
    sessions = tiles[report.kpis["sessions"].label]
    assert "%</span>" in sessions and "status-" not in sessions
    assert html.count('class="tile-status"') == len(
        {a.kpi for a in report.objectives} & {k for k, v in report.kpis.items()
                                             if v.label in tiles})


def test_a_year_to_date_tile_compares_with_last_year_only():
    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    report = compute_report(config, config.client("northwind-dental"), plugins,
                            period_spec="year-to-date", now=NOW)
    html, _, _ = render_html(report, plugins)
    for tile in tiles_of(html).values():
        assert tile.count('class="tile-change"') == 1 and "vs last year" in tile


def table_kpi(rows, previous, unit=Unit.COUNT, direction=Direction.HIGHER):
    from kpireport.kpis import Breakdown

    definition = KpiDefinition(
        id="t", label={"en": "T"}, unit=Unit.COUNT, metrics=("m",), direction=direction,
        breakdown=Breakdown(dimensions=("page",), metric="m", column_units={"m": unit}))
    return KpiValue(key="t", definition=definition, label="T",
                    rows=[{"page": p, "m": v} for p, v in rows], previous_rows=previous)


def test_a_table_rows_change_new_unknown_and_in_its_metrics_unit(example):
    from kpireport.template_context import row_change

    reports, _ = example
    report = reports["northwind-dental"]  # en_US
    table = table_kpi([("/a", 120.0), ("/b", 80.0), ("/c", 5.0), ("/d", 7.0)],
                      [100.0, 100.0, 0.0, None])
    words = English()
    assert [row_change(report, table, i, words) for i in range(4)] == [
        ("+20.0%", True), ("\u221220.0%", False), ("new", None), ("—", None)]
    assert row_change(report, table, 9, words) == ("—", None)  # no such row
    rates = table_kpi([("/a", 0.031)], [0.025], Unit.PERCENT)
    assert row_change(report, rates, 0, words) == ("+0.60\xa0pts", True)


def test_a_table_rows_change_is_between_its_figures_as_printed(example):
    """Points, places and seconds are worked out from the figures as the column prints them
    (as a KPI's tile does), and the colour follows that printed change: each case below
    reads otherwise from the raw values."""
    from kpireport.template_context import row_change

    reports, _ = example
    report = reports["northwind-dental"]  # en_US
    words = English()
    # 1.854 % prints 1.85 %, 1.875 % prints 1.88 % (half to even): −0.03 pts, not −0.02.
    ctr = table_kpi([("q", 0.01854)], [0.01875], Unit.PERCENT)
    assert row_change(report, ctr, 0, words) == ("\u22120.03\xa0pts", False)
    # Both print 1.85 %: no change and no colour (raw, +0.01 pts in green).
    same = table_kpi([("q", 0.01854)], [0.01846], Unit.PERCENT)
    assert row_change(report, same, 0, words) == ("±0.00\xa0pts", None)
    # A column whose rates are all 10 % or more prints one decimal: 41.3 % against 40.7 %.
    wide = table_kpi([("a", 0.4126), ("b", 0.2)], [0.4074, 0.2], Unit.PERCENT)
    assert row_change(report, wide, 0, words) == ("+0.60\xa0pts", True)  # raw: +0.52 pts
    # ...and two when one is under 10 %: 41.26 % against 40.74 %.
    mixed = table_kpi([("a", 0.4126), ("b", 0.05)], [0.4074, 0.05], Unit.PERCENT)
    assert row_change(report, mixed, 0, words) == ("+0.52\xa0pts", True)
    # Positions 4.34 and 4.26 both print 4.3: the same position, uncoloured (raw: 0.1 down).
    lower = Direction.LOWER
    position = table_kpi([("q", 4.34)], [4.26], Unit.POSITION, lower)
    assert row_change(report, position, 0, words) == ("same position", None)
    # 4.3 against 4.2 printed is 0.1 place down (raw 0.18 rounds to 0.2), in red.
    slipped = table_kpi([("q", 4.34)], [4.16], Unit.POSITION, lower)
    assert row_change(report, slipped, 0, words) == ("down 0.1\xa0places", False)
    # Durations by the second printed: 65 s against 65 s (raw +0.8 s rounds to +1 s).
    seconds = table_kpi([("p", 65.4)], [64.6], Unit.DURATION)
    assert row_change(report, seconds, 0, words)[1] is None
    assert row_change(report, seconds, 0, words)[0].startswith("±")
    # Counts keep their relative change on the raw values, as the tiles do.
    counts = table_kpi([("p", 1004.0)], [1000.0])
    assert row_change(report, counts, 0, words) == ("+0.4%", True)


def test_addresses_wrap_at_their_slashes_only_in_the_report():
    from kpireport.template_context import _wrappable

    assert _wrappable("/blog/guides/seo") == "/\u200bblog/\u200bguides/\u200bseo"
    assert _wrappable("https://example.com/") == "https://\u200bexample.com/"
    assert _wrappable("maison lumière") == "maison lumière"


def test_the_previous_periods_tables_are_optional_queries(example):
    from kpireport.pipeline.plan import PREVIOUS_ROWS, plan_client, plan_report

    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    client = config.client("northwind-dental")
    reports, _ = example
    plan = plan_report(plan_client(config, client, plugins, NOW.date()), reports[
        "northwind-dental"].period)
    try:
        queries = plan.queries["top_pages"]
        (source, asked), = queries.breakdown_previous.items()
        (_, shown), = queries.breakdown.items()
        assert asked.range == plan.period.previous and asked.limit == shown.limit * PREVIOUS_ROWS
        assert (source, plan.answered_by[(source, asked)]) in plan.optional
        assert (source, plan.answered_by[(source, shown)]) not in plan.optional
        # Nothing the report's own figures need is optional.
        needed = {(s, plan.answered_by[(s, q)]) for kq in plan.queries.values()
                  for s, qs in kq.by_source(optional=False).items() for q in qs}
        assert not needed & plan.optional
    finally:
        plan.close()


# Finding 12: a change agrees with the two figures printed beside it.
@pytest.mark.parametrize("unit,value,reference,expected", [
    # acme's click-through rate: 1.85 % against 1.88 % (−0.022 points unrounded).
    (Unit.PERCENT, 0.01853291381331359, 0.018757112071660503, "\u22120.03\xa0pts"),
    # its conversion rate: 1.15 % against 1.25 % (−0.105 points unrounded).
    (Unit.PERCENT, 0.011487521398324173, 0.012540894220283533, "\u22120.10\xa0pts"),
    (Unit.PERCENT, 0.018549, 0.018451, "±0.00\xa0pts"),       # both print 1.85 %
    (Unit.POSITION, 14.66, 13.74, "down 1.0\xa0places"),      # 14.7 against 13.7
    (Unit.POSITION, 13.74, 13.66, "same position"),        # both print 13.7
    # northwind's time on page: 1 min 9 sec against 1 min 10 sec, 0.4 s apart.
    (Unit.DURATION, 69.23862872883637, 69.64876696011466, "\u22121\xa0sec"),
    (Unit.DURATION, 69.6, 70.4, "±0\xa0sec"),                # both print 1 min 10 sec
])
def test_a_change_is_the_difference_of_the_figures_as_printed(unit, value, reference,
                                                              expected):
    figure = kpi(unit, value, reference, lower=unit is Unit.POSITION)
    text, good = kpi_change(figure, figure.change_previous, figure.difference_previous,
                            "en_GB", English())
    assert text == expected
    assert good is (None if expected.startswith(("±", "same")) else figure.is_better(
        value - reference))


def _number(printed: str) -> float:
    """A printed figure back to a number: "1.85%", "13.7", "86.0 days", "1 min 9 sec"."""
    text = printed.replace(NBSP, " ").replace(NNBSP, " ").replace("\u2212", "-")
    if "min" in text or "sec" in text:
        parts = dict((unit, int(n)) for n, unit in re.findall(r"(\d+) (min|sec)", text))
        return parts.get("min", 0) * 60 + parts.get("sec", 0)
    return float(re.search(r"-?[\d.]+", text.replace(",", "")).group())


@pytest.mark.parametrize("client", ["acme-robotics", "northwind-dental"])
def test_every_printed_difference_agrees_with_its_printed_values(example, client):
    reports, _ = example
    report = reports[client]
    rows = {(r[1], r[3]): r[5].lstrip("'") for r in csv.reader(io.StringIO(
        figures_csv(report))) if r[0] == "kpi"}
    checked = 0
    for key, figure in report.kpis.items():
        if figure.relative or figure.definition.breakdown is not None or figure.value is None:
            continue
        now = _number(rows[(key, "value")])
        for name, change in (("previous", "difference_previous"),
                             ("last_year", "difference_last_year")):
            if getattr(figure, name) is None:
                continue
            printed = rows[(key, change)]
            moved = round(now - _number(rows[(key, name)]), 2)
            if printed.startswith(("±", "same")):
                assert moved == 0, (key, name, printed)
                continue
            size = abs(_number(printed.replace("up ", "").replace("down ", "")))
            assert size == pytest.approx(abs(moved)), (key, name, printed)
            checked += 1
    assert checked >= 6
