"""Vector charts as inline SVG with HTML labels, written by hand.

A report has a dozen charts; building them as strings costs microseconds where a plotting
library costs a second of import and more per chart. Series are told apart by dash pattern
and weight as well as colour, so they read in greyscale print too.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from itertools import pairwise

from kpireport.data import Unit
from kpireport.formatting import format_duration, format_month, format_value, punctuation
from kpireport.kpis import SeriesPoint


@dataclass(frozen=True)
class ChartStyle:
    """The lines' colours; the labels' font and colour are the theme's CSS (``.chart-x``,
    ``.chart-y``, ``.chart-legend``; ``.chart-labels`` holds the axes' labels)."""

    line: str = "#1f3a5f"
    accent: str = "#e07a1f"
    grid: str = "#d9dde3"
    last_year: str = "#9aa3ad"


def nice_ticks(low: float, high: float, count: int = 4, *,
               whole: bool = False) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 × a power of ten apart);
    ``whole``: whole numbers only (counts: no 2.5 leads)."""
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / count
    if whole:
        raw = max(raw, 1.0)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10)
                if m * power >= raw and not (whole and (m * power) % 1))
    ticks = [math.floor(low / step) * step]
    while ticks[-1] < high - step * 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


CLOCK_STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200,
               10800, 21600, 43200, 86400)
"""Steps of a time axis in seconds: whole seconds, then whole minutes, then whole hours, as a
clock divides them (never "50 s / 1 min 40 s / 2 min 30 s")."""


def clock_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Ticks in seconds covering [low, high], :data:`CLOCK_STEPS` apart."""
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / count
    step = next((s for s in CLOCK_STEPS if s >= raw), None)
    if step is None:
        return nice_ticks(low, high, count)
    ticks = [float(math.floor(low / step) * step)]
    while ticks[-1] < high - step * 1e-9:
        ticks.append(ticks[-1] + step)
    return ticks


ZERO_BASED = frozenset({Unit.COUNT, Unit.CURRENCY})
"""Units whose axis starts at zero: a count's or an amount's height is its size."""
LAST_YEAR_DASH = "4 3"
TARGET_DASH = "7 3 2 3"  # dash-dot: neither this year's solid line nor last year's dashes
LABEL_BOX = 100
AXIS_CHAR = 8.0
"""The room a character of an axis label takes, in the chart's units: 7 pt text (the least
any theme prints) at half the page's width, where a unit is 0.16 mm."""
"""A month label's box, in the chart's units, centred on its month: room for "sept. 2026"
in 7 pt when the chart is printed at half the page's width."""


def value_ticks(values: Sequence[float], *, unit: Unit | str, fmt: Callable[[float], str],
                target: float | None = None, zero: bool | None = None,
                clock: bool = False) -> tuple[list[float], list[str]]:
    """An axis's ticks and their labels. Counts and amounts (or ``zero=True``) start at zero;
    rates, positions and durations get their own range, padded, so that a line never runs
    on the frame. A target is always strictly inside, never on the border, where it would
    read as the frame. Fewer, wider steps until no two labels read the same. With ``clock``
    (a duration in seconds) the steps are a clock's (:func:`clock_ticks`)."""
    span_of = list(values) + ([target] if target is not None else [])
    low, high = min(span_of), max(span_of)
    from_zero = (unit in ZERO_BASED) if zero is None else zero
    if from_zero and low >= 0:
        low = 0.0
    else:
        pad = ((high - low) or abs(high) or 1.0) * 0.12
        # A rate, a position, a duration cannot be negative: the padding stops at zero.
        low, high = (max(low - pad, 0.0) if low >= 0 else low - pad), high + pad
    ticks, texts = [0.0], [fmt(0.0)]
    for count in (4, 3, 2, 1):
        ticks = (clock_ticks(low, high, count) if clock
                 else nice_ticks(low, high, count, whole=unit == Unit.COUNT))
        step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
        if target is not None and target >= ticks[-1] - step * 1e-9:
            ticks.append(round(ticks[-1] + step, 10))
        if target is not None and target <= ticks[0] + step * 1e-9 and not (
                from_zero and ticks[0] == 0):
            ticks.insert(0, round(ticks[0] - step, 10))
        texts = [fmt(t) for t in ticks]
        if len(set(texts)) == len(texts):
            break
    return ticks, texts


def month_labels(months: Sequence[dt.date], locale: str) -> list[str]:
    """Short month names, with the year on the first and on each new year's first (a
    January when it is shown): "Nov 2025 … Jan 2026 …", "nov. 2025 … janv. 2026 …"."""
    out, year = [], None
    for day in months:
        label = format_month(day, locale, "short")
        if day.year != year:
            label += f" {day.year}"
            year = day.year
        out.append(label)
    return out


def pct(v: float, whole: float) -> str:
    """A length as a share of the chart's width: padding and margins in the page's CSS."""
    return f"{100 * v / whole:.2f}%"


def axis_labels(y_ticks: Sequence[tuple[float, str]], x_labels: Sequence[tuple[float, str]],
                *, axis: float, left: float, width: float, first_from: float | None = None,
                last_to: float | None = None) -> str:
    """A chart's axis labels as one HTML box laid over it: ``y_ticks`` top down (y, text),
    right-aligned before ``left``; ``x_labels`` (x, text) centred on their x on the line
    ``axis``, the first starting no further left than ``first_from`` (so that it does not
    run under the axis's lowest figure: "£0Oct 2025") and the last ending no further right
    than ``last_to`` (the chart's edge), when they are given.

    The labels are blocks of no height, each moved down by its padding from the one before:
    WeasyPrint lays that box out in a fraction of what a positioned box per label costs.
    Vertical padding is a share of the width, like the chart's height, so the labels keep
    to the lines at any size."""
    text, below = [], 0.0
    for ty, label in y_ticks:
        text.append(f'<span class="chart-y" style="padding-top: {pct(ty - below, width)}; '
                    f'width: {pct(left - 5, width)}">{escape(label)}</span>')
        below = ty
    last = len(x_labels) - 1
    for i, (x, label) in enumerate(x_labels):
        start, align = x - LABEL_BOX / 2, ""
        if i == 0 and first_from is not None and start < first_from:
            start, align = first_from, " text-align: left;"
        elif i == last and last_to is not None and start + LABEL_BOX > last_to:
            start, align = last_to - LABEL_BOX, " text-align: right;"
        text.append(f'<span class="chart-x" style="padding-top: {pct(axis - below, width)}; '
                    f'margin-left: {pct(start, width)}; '
                    f'width: {pct(LABEL_BOX, width)};{align}">{escape(label)}</span>')
        below = axis
    return f'<div class="chart-labels">{"".join(text)}</div>'


def line_chart(points: Sequence[SeriesPoint], *, locale: str, unit: Unit | str,
               currency: str = "EUR", duration_unit: str = "seconds",
               target: float | None = None, last_year: Sequence[SeriesPoint] | None = None,
               style: ChartStyle | None = None, width: int = 520, height: int = 150,
               labels: dict[str, str] | None = None, title: str | None = None,
               last_year_word: str = "Last year") -> str:
    """A monthly line chart: the series, last year's series (dashed) and a target line.

    Returns an HTML fragment: the lines are an inline SVG, the axis labels and the legend
    are HTML text placed over and under it. WeasyPrint lays SVG text out one letter at a
    time, which made a dozen charts' labels cost more than the rest of a page; as HTML
    they cost one text box each, stay selectable and are tagged with the page.
    ``labels`` names the series (``value``, ``last_year``, ``target``) in a legend under the
    chart; without it, print one :func:`legend` for several charts.

    In a browser each month of the series is a point that answers a pointer or the keyboard:
    an invisible circle whose ``<title>`` (and ``aria-label``) reads its month and value in
    the client's locale (``last_year_word`` names last year's figure beside it), built by
    the page's script from the SVG's ``data-points`` (x, y, text), so that the PDF has none.
    The SVG's own label and ``<title>``, ``title`` then every month's figure, are the
    chart's text alternative, and its tooltip without a script.
    """
    style = style or ChartStyle()
    labels = labels or {}
    values = [p.value for p in points if p.value is not None]
    ly_values = [p.value for p in (last_year or []) if p.value is not None]
    if not values:
        return ""

    def fmt(v: float) -> str:
        if unit == Unit.DURATION:
            return format_duration(v, locale, duration_unit, axis=True)
        return format_value(v, unit, locale, currency, duration_unit)

    ticks, tick_texts = value_ticks(values + ly_values, unit=unit, fmt=fmt, target=target,
                                    clock=unit == Unit.DURATION and duration_unit == "seconds")
    y_min, y_max = ticks[0], ticks[-1]
    left = 10 + AXIS_CHAR * max(len(t) for t in tick_texts)
    right, top, bottom = 20, 8, 18  # right: half a month's label, centred on the last point
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(points)

    pad = 16  # room for the first month's label, clear of the axis's lowest figure

    def x(i: int) -> float:
        return left + pad + ((plot_w - pad) * i / (n - 1) if n > 1 else (plot_w - pad) / 2)

    # A position (1 is best) runs down the axis, as the period's dot charts have it: the
    # better month is higher on every chart of the report.
    inverted = unit == Unit.POSITION

    def y(v: float) -> float:
        share = (v - y_min) / ((y_max - y_min) or 1)
        return top + plot_h * (share if inverted else 1 - share)

    said = [_point_text(p, ly, fmt, locale, last_year_word)
            for p, ly in zip(points, _aligned(last_year, n), strict=True)]
    summary = punctuation(";", locale).join(t for t in said if t)
    if title:
        summary = f"{title}{punctuation(':', locale)}{summary}"
    # The points a pointer or the keyboard reaches are built in the browser by web.js from
    # this list (x, y, what each says): the PDF never carries them, where a circle and a
    # <title> for each month of each chart cost WeasyPrint an eighth of a report's time.
    # Without a script, the chart's <title> shows every month's figure on hover.
    marks = [[round(x(i), 1), round(y(p.value), 1), said[i]]
             for i, p in enumerate(points) if p.value is not None]
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="group" '
           f'aria-label="{escape(summary)}" data-colour="{escape(style.line)}" '
           f'data-points="{escape(json.dumps(marks, ensure_ascii=False))}">'
           f'<title>{escape(summary)}</title>']
    for tick in reversed(ticks):
        svg.append(f'<line x1="{left:.1f}" y1="{y(tick):.1f}" x2="{width - right}" '
                   f'y2="{y(tick):.1f}" stroke="{style.grid}" stroke-width="0.6"/>')
    # Every month up to seven, else every second or third counted back from the last: the
    # report's month and the same month last year keep their labels. Each label is a box
    # WeasyPrint must lay out, so a 13-month axis gets five.
    step = 1 if n <= 7 else 2 if n <= 9 else 3
    shown = [i for i in range(n) if not (n - 1 - i) % step]
    axis_text = axis_labels(
        sorted(((y(t), s) for t, s in zip(ticks, tick_texts, strict=True)), key=lambda p: p[0]),
        list(zip((x(i) for i in shown), month_labels([points[i].start for i in shown], locale),
                 strict=True)),
        axis=height - bottom + 3, left=left, width=width, first_from=left, last_to=width)
    if last_year:
        svg.append(_path(last_year, x, y, style.last_year, 1.2, LAST_YEAR_DASH))
        svg.append(_markers(last_year, x, y, style.last_year, "square"))
    if target is not None:
        ty = y(target)
        svg.append(f'<line class="target" x1="{left:.1f}" y1="{ty:.1f}" x2="{width - right}" '
                   f'y2="{ty:.1f}" stroke="{style.accent}" stroke-width="1.4" '
                   f'stroke-dasharray="{TARGET_DASH}"/>')
    svg.append(_path(points, x, y, style.line, 2.2, None))
    svg.append(_markers(points, x, y, style.line, "circle"))
    svg.append("</svg>")
    chart = f'<div class="chart-plot">{"".join(svg)}{axis_text}</div>'
    if labels:
        chart += legend(style, labels, last_year=bool(last_year), target=target is not None)
    return f'<div class="chart">{chart}</div>'


def _aligned(series: Sequence[SeriesPoint] | None, n: int) -> list[SeriesPoint | None]:
    """Last year's points beside this year's, month for month (none where it is shorter)."""
    series = list(series or [])
    return [series[i] if i < len(series) else None for i in range(n)]


def _point_text(p: SeriesPoint, ly: SeriesPoint | None, fmt: Callable[[float], str],
                locale: str, last_year_word: str) -> str:
    """``November 2026: 1,234 (last year: 1,100)``, ``octobre 2026 : 1 234`` in French (its
    spacing, see punctuation); empty for a month without a value."""
    if p.value is None:
        return ""
    colon = punctuation(":", locale)
    text = f"{format_month(p.start, locale)}{colon}{fmt(p.value)}"
    if ly is not None and ly.value is not None:
        text += f" ({last_year_word}{colon}{fmt(ly.value)})"
    return text


def legend(style: ChartStyle, labels: dict[str, str], *, last_year: bool = True,
           target: bool = True) -> str:
    """The key to the charts' lines, as HTML: one under each chart, or one for a section.
    Each sample is drawn like its line, dash and marker, so the key reads in greyscale."""
    entries = [(labels.get("value"), style.line, None, 2.2, "circle"),
               (labels.get("last_year") if last_year else None, style.last_year,
                LAST_YEAR_DASH, 1.2, "square"),
               (labels.get("target") if target else None, style.accent, TARGET_DASH, 1.4,
                None)]
    keys = [f'<span class="chart-key">{_key(colour, dash, stroke, mark)} {escape(name)}</span>'
            for name, colour, dash, stroke, mark in entries if name]
    if labels.get("title"):  # what a point is ("By month"), beside a quarter's totals
        keys.insert(0, f'<span class="chart-title">{escape(labels["title"])}</span>')
    return f'<div class="chart-legend">{" ".join(keys)}</div>'


def draws_line(points: Sequence[SeriesPoint]) -> bool:
    """Whether a series has two months in a row with values: a line to see (and to name)."""
    return any(a.value is not None and b.value is not None for a, b in pairwise(points))


def _key(colour: str, dash: str | None, stroke: float, mark: str | None = None) -> str:
    """A legend's line sample, drawn like the chart's line it names, with its marker."""
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    marker = _mark(10, 3, colour, mark) if mark else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-sample" width="20" height="6" '
            f'viewBox="0 0 20 6" aria-hidden="true"><line x1="0" y1="3" x2="20" y2="3" '
            f'stroke="{colour}" stroke-width="{stroke}"{dash_attr}/>{marker}</svg>')


def _mark(cx: float, cy: float, colour: str, shape: str) -> str:
    """One marker: a filled circle (this year), a hollow square (last year)."""
    if shape == "square":
        return (f'<rect x="{cx - 2:.1f}" y="{cy - 2:.1f}" width="4" height="4" fill="white" '
                f'stroke="{colour}" stroke-width="1"/>')
    return f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2.3" fill="{colour}"/>'


def _markers(points: Sequence[SeriesPoint], x: Callable[[int], float],
             y: Callable[[float], float], colour: str, shape: str) -> str:
    """A series' markers as one path (one element for WeasyPrint, not one per month):
    filled circles, or hollow squares; the shape tells the series apart without colour."""
    parts = []
    for i, p in enumerate(points):
        if p.value is None:
            continue
        px, py = x(i), y(p.value)
        if shape == "square":
            parts.append(f"M{px - 2.2:.1f},{py - 2.2:.1f}h4.4v4.4h-4.4Z")
        else:
            parts.append(f"M{px - 2.6:.1f},{py:.1f}a2.6,2.6 0 1,0 5.2,0a2.6,2.6 0 1,0 -5.2,0Z")
    if not parts:
        return ""
    if shape == "square":
        return (f'<path class="marks marks-square" d="{"".join(parts)}" fill="white" '
                f'stroke="{colour}" stroke-width="1.1"/>')
    return f'<path class="marks marks-circle" d="{"".join(parts)}" fill="{colour}"/>'


def _path(points: Sequence[SeriesPoint], x: Callable[[int], float], y: Callable[[float], float],
          colour: str, width: float, dash: str | None) -> str:
    """Polyline segments; a missing month breaks the line instead of inventing a value."""
    parts, pen_down = [], False
    for i, p in enumerate(points):
        if p.value is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x(i):.1f},{y(p.value):.1f}")
        pen_down = True
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<path d="{" ".join(parts)}" fill="none" stroke="{colour}" stroke-width="{width}" '
            f'stroke-linejoin="round" stroke-linecap="round"{dash_attr}/>')


def progress_bar(progress: float | None, expected: float | None, *, colour: str,
                 marker: str = "#1d232b", width: int = 160, height: int = 10) -> str:
    """A progress bar (0 → 1) with a tick where a straight path would be by now."""
    fill = 0.0 if progress is None else max(0.0, min(1.0, progress))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="bar" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}">',
           f'<rect x="0" y="0" width="{width}" height="{height}" rx="2" fill="#e6e9ee"/>',
           f'<rect x="0" y="0" width="{width * fill:.1f}" height="{height}" rx="2" '
           f'fill="{colour}"/>']
    if expected is not None:
        ex = width * max(0.0, min(1.0, expected))
        out.append(f'<line x1="{ex:.1f}" y1="-1" x2="{ex:.1f}" y2="{height + 1}" '
                   f'stroke="{marker}" stroke-width="1.6"/>')
    out.append("</svg>")
    return "".join(out)


def sparkline(points: Sequence[SeriesPoint], *, colour: str = "#1f3a5f",
              width: int = 148, height: int = 22, inverted: bool = False) -> str:
    """A headline tile's trend: the months as one line with no axis, its last point marked,
    a missing month a break. Its range is the series' own (a sparkline shows the shape, the
    tile prints the figures); a flat series is drawn mid-height. Empty without two months
    in a row to draw. ``inverted``: the lowest value at the top (a position, as on its
    chart)."""
    if not draws_line(points):
        return ""
    values = [p.value for p in points if p.value is not None]
    low, high = min(values), max(values)
    n, pad = len(points), 2.5  # room for the last point's dot

    def x(i: int) -> float:
        return pad + (width - 2 * pad) * i / (n - 1)

    def y(v: float) -> float:
        if high == low:
            return height / 2
        share = (v - low) / (high - low)
        return pad + (height - 2 * pad) * (share if inverted else 1 - share)

    last = max(i for i, p in enumerate(points) if p.value is not None)
    lv = points[last].value
    assert lv is not None
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'aria-hidden="true">{_path(points, x, y, colour, 1.4, None)}'
            f'<circle cx="{x(last):.1f}" cy="{y(lv):.1f}" r="2" fill="{colour}"/></svg>')
