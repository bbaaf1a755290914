"""Bar and burn-up charts, drawn like :mod:`kpireport.charts`: shapes in an inline SVG,
every word in HTML laid over it (SVG text costs WeasyPrint a box per letter).

- :func:`month_bars`: a quarter's or a year to date's months, each beside the same month
  last year (grouped bars); a month the data covers only in part is striped and labelled
  with its last day, never drawn as a whole month.
- :func:`share_bars`: a breakdown's rows as horizontal bars (the channel mix).
- :func:`burnup_chart`: a cumulative objective's running total since its start against the
  straight path to its target at the deadline, and the forecast at the current pace.

Series differ by fill and dash as well as colour, so that they read in greyscale print.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from kpireport.charts import (
    AXIS_CHAR,
    TARGET_DASH,
    ChartStyle,
    axis_labels,
    month_labels,
    pct,
    value_ticks,
)
from kpireport.data import Unit
from kpireport.formatting import punctuation
from kpireport.periods import add_months


@dataclass(frozen=True, kw_only=True)
class MonthBar:
    """One month of a period chart: its figure and last year's same month (or days).
    ``label`` replaces the month's name (``to 24 Nov``) for a month the data covers in part."""

    start: dt.date
    value: float | None
    last_year: float | None
    label: str | None = None

    @property
    def partial(self) -> bool:
        return self.label is not None


def _grid(ticks: Sequence[float], y: Callable[[float], float], left: float, right: float,
          colour: str) -> str:
    return "".join(f'<line x1="{left:.1f}" y1="{y(t):.1f}" x2="{right:.1f}" y2="{y(t):.1f}" '
                   f'stroke="{colour}" stroke-width="0.6"/>' for t in ticks)


def _stripes(x: float, top: float, w: float, h: float) -> str:
    """Path data of white stripes across a bar: a partial month, striped in any print."""
    return "".join(f"M{x:.1f},{yy:.1f}h{w:.1f}" for yy in _frange(top + 1.5, top + h, 3.0))


def _frange(start: float, stop: float, step: float) -> list[float]:
    out, v = [], start
    while v < stop:
        out.append(v)
        v += step
    return out


def month_bars(months: Sequence[MonthBar], *, locale: str, fmt: Callable[[float], str],
               unit: Unit | str = Unit.NUMBER, target: float | None = None,
               style: ChartStyle | None = None, title: str | None = None,
               last_year_word: str = "Last year", width: int = 520, height: int = 150,
               duration_unit: str = "seconds") -> str:
    """Grouped bars, one pair per month: this year's filled, last year's hollow; a partial
    month striped and labelled by its ``label``. Bars start at zero (a bar's length is its
    figure), a level target is a dash-dot line strictly inside the plot. Empty without a
    figure to draw. A position, where lower is better, is a dot per month on an axis with
    1 at the top instead: a bar from zero would make the worse month the taller one."""
    style = style or ChartStyle()
    figures = [v for m in months for v in (m.value, m.last_year) if v is not None]
    if not figures:
        return ""
    dots = Unit(unit) is Unit.POSITION
    ticks, tick_texts = value_ticks(figures, unit=unit, fmt=fmt, target=target,
                                    zero=not dots,
                                    clock=unit == Unit.DURATION and duration_unit == "seconds")
    y_min, y_max = ticks[0], ticks[-1]
    left = 10 + AXIS_CHAR * max(len(t) for t in tick_texts)
    right, top, bottom = 8, 8, 18
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(months)
    slot = plot_w / n

    def y(v: float) -> float:
        share = (v - y_min) / ((y_max - y_min) or 1)
        return top + plot_h * (share if dots else 1 - share)

    bar_w = min(slot * 0.34, 40.0)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{{summary}}">',
           _grid(ticks, y, left, width - right, style.grid)]
    stripes, said = [], []
    colon = punctuation(":", locale)  # the aria-label's, as the language sets them
    for i, m in enumerate(months):
        centre = left + slot * (i + 0.5)
        for value, x0, current in ((m.last_year, centre - bar_w - 0.5, False),
                                   (m.value, centre + 0.5, True)):
            if value is None:
                continue
            if dots:
                # This year filled, last year hollow, as the bars are.
                svg.append(f'<circle class="dot {"bar-current" if current else "bar-last-year"}" '
                           f'cx="{x0 + bar_w / 2:.1f}" cy="{y(value):.1f}" r="3.5" '
                           + (f'fill="{style.line}"/>' if current else
                              f'fill="white" stroke="{style.last_year}" stroke-width="1.2"/>'))
                continue
            top_y, base = y(max(value, 0.0)), y(max(y_min, 0.0))
            h = max(base - top_y, 0.0)
            if current:
                svg.append(f'<rect class="bar bar-current" x="{x0:.1f}" y="{top_y:.1f}" '
                           f'width="{bar_w:.1f}" height="{h:.1f}" fill="{style.line}"/>')
            else:
                svg.append(f'<rect class="bar bar-last-year" x="{x0 + 0.5:.1f}" '
                           f'y="{top_y + 0.5:.1f}" width="{bar_w - 1:.1f}" '
                           f'height="{max(h - 0.5, 0):.1f}" fill="white" '
                           f'stroke="{style.last_year}" stroke-width="1"/>')
            if m.partial and h > 0:
                stripes.append(_stripes(x0 + (0 if current else 0.5), top_y, bar_w - 1, h))
        if m.value is not None:
            text = f"{m.label or month_labels([m.start], locale)[0]}{colon}{fmt(m.value)}"
            if m.last_year is not None:
                text += f" ({last_year_word}{colon}{fmt(m.last_year)})"
            said.append(text)
    if stripes:
        # White on the filled bar, grey on the hollow one: striped in colour and in grey.
        svg.append(f'<path class="partial" d="{"".join(stripes)}" stroke="{style.grid}" '
                   f'stroke-width="1.2"/>')
    if target is not None:
        ty = y(target)
        svg.append(f'<line class="target" x1="{left:.1f}" y1="{ty:.1f}" x2="{width - right}" '
                   f'y2="{ty:.1f}" stroke="{style.accent}" stroke-width="1.4" '
                   f'stroke-dasharray="{TARGET_DASH}"/>')
    svg.append("</svg>")
    summary = punctuation(";", locale).join(said)
    if title:
        summary = f"{title}{colon}{summary}"
    svg[0] = svg[0].replace("{summary}", escape(summary))
    # Every month up to six; beyond, every second from the first (January keeps its label
    # and its year), and the last (the report's own month), so that "janv. 2026" fits at
    # half the page's width.
    shown = list(range(n)) if n <= 6 else [i for i in range(0, n - 2, 2)] + [n - 1]
    names = month_labels([months[i].start for i in shown], locale)
    x_labels = [(left + slot * (i + 0.5), months[i].label or name)
                for i, name in zip(shown, names, strict=True)]
    # Top down: the highest value first, or the lowest on a position's axis.
    labels = axis_labels(sorted(((y(t), s) for t, s in zip(ticks, tick_texts, strict=True)),
                                key=lambda p: p[0]),
                         x_labels, axis=height - bottom + 3, left=left, width=width,
                         first_from=left + 1)
    return (f'<div class="chart chart-bars"><div class="chart-plot">{"".join(svg)}{labels}'
            f'</div></div>')


def bars_legend(style: ChartStyle, labels: dict[str, str], *, partial: bool = False,
                target: bool = False, bars: bool = True, dots: bool = False) -> str:
    """The key to :func:`month_bars`: this year (filled), last year (hollow), a partial month
    (striped), the target (dash-dot). Each sample is drawn as the charts it keys draw it: a
    bar, a position's dot (``dots``), or both side by side for a section with both."""
    def swatch(fill: str, stroke: str, stripes: bool = False) -> str:
        lines = (f'<path d="M1,2h10M1,4.5h10" stroke="{style.grid}" stroke-width="1"/>'
                 if stripes else "")
        bar = (f'<rect x="0.5" y="0.5" width="11" height="5" fill="{fill}" stroke="{stroke}" '
               f'stroke-width="1"/>{lines}' if bars or not dots or stripes else "")
        dot = (f'<circle cx="{16.5 if bar else 6}" cy="3" r="2.5" fill="{fill}" '
               f'stroke="{stroke}" stroke-width="1"/>' if dots and not stripes else "")
        return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-sample" width="20" '
                f'height="6" viewBox="0 0 20 6" aria-hidden="true">{bar}{dot}</svg>')

    target_key = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-sample" width="20" '
                  f'height="6" viewBox="0 0 20 6" aria-hidden="true"><line x1="0" y1="3" '
                  f'x2="20" y2="3" stroke="{style.accent}" stroke-width="1.4" '
                  f'stroke-dasharray="{TARGET_DASH}"/></svg>')
    entries = [(labels.get("value"), swatch(style.line, style.line)),
               (labels.get("last_year"), swatch("white", style.last_year)),
               (labels.get("partial") if partial else None,
                swatch(style.line, style.line, stripes=True)),
               (labels.get("target") if target else None, target_key)]
    keys = [f'<span class="chart-key">{sample} {escape(name)}</span>'
            for name, sample in entries if name]
    if labels.get("title"):
        keys.insert(0, f'<span class="chart-title">{escape(labels["title"])}</span>')
    return f'<div class="chart-legend">{" ".join(keys)}</div>'


def share_bars(rows: Sequence[tuple[str, float | None]], *, fmt: Callable[[float], str],
               style: ChartStyle | None = None, title: str | None = None,
               width: int = 520, row_height: int = 16, locale: str = "en") -> str:
    """Horizontal bars, one per row, longest first as given: a breakdown's mix (channels).
    Each row's name at the left and its figure after its bar, as HTML; bars from zero, the
    longest the plot's width. Empty without a positive figure. ``locale`` sets the
    aria-label's ": ;" ("Sources de trafic : Recherche naturelle : 53 860 ; …")."""
    style = style or ChartStyle()
    drawn = [(name, v) for name, v in rows if v is not None and v >= 0]
    high = max((v for _, v in drawn), default=0.0)
    if not drawn or high <= 0:
        return ""
    left, right = 150.0, 70.0  # room for a channel's name, and for the figure after its bar
    plot_w = width - left - right
    height = row_height * len(drawn) + 4
    bar_h = row_height * 0.62
    colon = punctuation(":", locale)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="'
           + escape((f"{title}{colon}" if title else "")
                    + punctuation(";", locale).join(f"{name}{colon}{fmt(v)}"
                                                    for name, v in drawn)) + '">',
           f'<line x1="{left:.1f}" y1="0" x2="{left:.1f}" y2="{height}" stroke="{style.grid}" '
           f'stroke-width="0.8"/>']
    text, below = [], 0.0
    for i, (name, v) in enumerate(drawn):
        cy = 2 + row_height * (i + 0.5)
        w = plot_w * v / high
        svg.append(f'<rect class="bar" x="{left:.1f}" y="{cy - bar_h / 2:.1f}" width="{w:.1f}" '
                   f'height="{bar_h:.1f}" fill="{style.line}"/>')
        # Name right-aligned before the axis, figure just after the bar: two labels a row.
        text.append(f'<span class="chart-y" style="padding-top: {pct(cy - below, width)}; '
                    f'width: {pct(left - 6, width)}">{escape(name)}</span>')
        text.append(f'<span class="chart-y chart-value" style="padding-top: 0.00%; '
                    f'margin-left: {pct(left + w + 4, width)}; width: {pct(right - 4, width)}">'
                    f'{escape(fmt(v))}</span>')
        below = cy
    svg.append("</svg>")
    return (f'<div class="chart chart-share"><div class="chart-plot">{"".join(svg)}'
            f'<div class="chart-labels">{"".join(text)}</div></div></div>')


def burnup_chart(*, start: dt.date, deadline: dt.date, baseline: float, target: float,
                 actual: Sequence[tuple[dt.date, float]], forecast: float | None,
                 locale: str, fmt: Callable[[float], str], unit: Unit | str = Unit.NUMBER,
                 style: ChartStyle | None = None, labels: dict[str, str] | None = None,
                 width: int = 520, height: int = 150) -> str:
    """A cumulative objective: the running total at each day of ``actual`` (the last is the
    report's end), the straight path from ``baseline`` at ``start`` to ``target`` at the
    ``deadline`` (dash-dot), and the forecast from the last total to the deadline (dashed).
    Time runs along the axis by day; the amounts start at zero. ``labels`` names the lines
    (``value``, ``target``, ``forecast``) in a legend under it."""
    style = style or ChartStyle()
    labels = labels or {}
    if not actual or deadline <= start:
        return ""
    figures = [0.0, baseline, *(v for _, v in actual)]
    if forecast is not None:
        figures.append(forecast)
    ticks, tick_texts = value_ticks(figures, unit=unit, fmt=fmt, target=target, zero=True)
    y_min, y_max = ticks[0], ticks[-1]
    left = 10 + AXIS_CHAR * max(len(t) for t in tick_texts)
    right, top, bottom = 14, 8, 18
    plot_w, plot_h = width - left - right, height - top - bottom
    days = (deadline - start).days

    pad = 16  # room for the first month's label, clear of the axis's lowest figure

    def x(day: dt.date) -> float:
        return left + pad + (plot_w - pad) * (day - start).days / days

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - y_min) / ((y_max - y_min) or 1))

    end_day, end_value = actual[-1]
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="'
           + escape(f"{fmt(end_value)} / {fmt(target)}") + '">',
           _grid(ticks, y, left, width - right, style.grid),
           f'<path class="target-path" d="M{x(start):.1f},{y(baseline):.1f}'
           f'L{x(deadline):.1f},{y(target):.1f}" fill="none" stroke="{style.accent}" '
           f'stroke-width="1.4" stroke-dasharray="{TARGET_DASH}"/>']
    if forecast is not None and end_day < deadline:
        svg.append(f'<path class="forecast" d="M{x(end_day):.1f},{y(end_value):.1f}'
                   f'L{x(deadline):.1f},{y(forecast):.1f}" fill="none" '
                   f'stroke="{style.line}" stroke-width="1.2" stroke-dasharray="4 3"/>')
    line = "".join(f"{'L' if i else 'M'}{x(d):.1f},{y(v):.1f}"
                   for i, (d, v) in enumerate([(start, 0.0), *actual]))
    svg.append(f'<path class="actual" d="{line}" fill="none" stroke="{style.line}" '
               f'stroke-width="2.2" stroke-linejoin="round"/>')
    svg.append(f'<circle cx="{x(end_day):.1f}" cy="{y(end_value):.1f}" r="2.8" '
               f'fill="{style.line}"/>')
    # The target at the deadline: a hollow diamond where the path ends.
    tx, ty = x(deadline), y(target)
    svg.append(f'<path class="target-point" d="M{tx:.1f},{ty - 3.5:.1f}l3.5,3.5l-3.5,3.5'
               f'l-3.5,-3.5Z" fill="white" stroke="{style.accent}" stroke-width="1.2"/>')
    svg.append("</svg>")
    first = start.replace(day=1)
    months = []
    cursor = first if first == start else add_months(first, 1)
    while cursor <= deadline:
        months.append(cursor)
        cursor = add_months(cursor, 1)
    step = max(1, -(-len(months) // 5))
    shown = months[::step]
    x_labels = list(zip([x(m) for m in shown], month_labels(shown, locale), strict=True))
    labels_html = axis_labels([(y(t), s) for t, s in reversed(list(zip(ticks, tick_texts,
                                                                        strict=True)))],
                              x_labels, axis=height - bottom + 3, left=left, width=width)
    chart = f'<div class="chart-plot">{"".join(svg)}{labels_html}</div>'
    if labels:
        keys = []
        for key, dash, stroke, colour in (("value", None, 2.2, style.line),
                                          ("target", TARGET_DASH, 1.4, style.accent),
                                          ("forecast", "4 3", 1.2, style.line)):
            if not labels.get(key) or (key == "forecast" and forecast is None):
                continue
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            keys.append(f'<span class="chart-key"><svg xmlns="http://www.w3.org/2000/svg" '
                        f'class="chart-sample" width="20" height="6" viewBox="0 0 20 6" '
                        f'aria-hidden="true"><line x1="0" y1="3" x2="20" y2="3" '
                        f'stroke="{colour}" stroke-width="{stroke}"{dash_attr}/></svg> '
                        f'{escape(labels[key])}</span>')
        chart += f'<div class="chart-legend">{" ".join(keys)}</div>'
    return f'<div class="chart chart-burnup">{chart}</div>'
