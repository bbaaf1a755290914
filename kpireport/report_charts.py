"""Which chart each part of a report gets, from its computed figures.

A month's report charts thirteen months of each KPI as lines (:mod:`kpireport.charts`); a
quarter's or a year to date's charts the period itself, its months beside last year's same
months as bars, a month the data covers in part striped and named by its last day
(:mod:`kpireport.period_charts`). A cumulative objective gets its burn-up chart, a
breakdown whose definition asks for bars (``KpiDefinition.chart == "bars"``) its mix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from babel import dates

from kpireport import formatting
from kpireport.charts import ChartStyle
from kpireport.data import Unit
from kpireport.kpis import KpiValue
from kpireport.period_charts import MonthBar, burnup_chart, month_bars, share_bars
from kpireport.periods import BAR_PERIODS, Period, add_months, months_between
from kpireport.report import Report

PERIOD_KINDS = BAR_PERIODS
"""The periods charted month by month as bars, instead of the thirteen months' lines."""


def charts_period(report: Report) -> bool:
    """Whether the report's KPI charts are the period's months as bars."""
    return report.period.kind in PERIOD_KINDS


def short_day(day: dt.date, locale: str) -> str:
    """``24 Nov`` / ``24 nov.``"""
    return dates.format_skeleton("MMMd", day, locale=locale)


def value_formatter(report: Report, kpi: KpiValue) -> Callable[[float], str]:
    unit, currency = kpi.definition.unit, kpi.currency or report.currency

    def fmt(v: float) -> str:
        if unit == Unit.DURATION:
            return formatting.format_duration(v, report.locale, kpi.definition.duration_unit,
                                              axis=True)
        return formatting.format_value(v, unit, report.locale, currency,
                                       kpi.definition.duration_unit)

    return fmt


def period_months(kpi: KpiValue, period: Period, *, partial_label: Callable[[dt.date], str]
                  ) -> list[MonthBar]:
    """The months ``period`` (a KPI's, cut where its data stops) touches, each with its
    figure and last year's same month. A month covered in full takes the monthly series'
    figures; a month covered in part, whatever the KPI's unit, its figure over those days
    and over the same days last year (:attr:`KpiValue.partial_month`, computed as the
    period's value is), None where a source cannot tell them; its label names its last day
    (``partial_label``)."""
    by_month = {p.start: p.value for p in kpi.monthly}
    out: list[MonthBar] = []
    for span in months_between(period.start, period.end):
        month = span.start.replace(day=1)
        if span.start == month and span.end == add_months(month, 1) - dt.timedelta(days=1):
            out.append(MonthBar(start=month, value=by_month.get(month),
                                last_year=by_month.get(add_months(month, -12))))
            continue
        days, last_year = kpi.partial_month, kpi.partial_month_last_year
        out.append(MonthBar(
            start=month, value=days.value if days is not None and days.start == month else None,
            last_year=last_year.value if last_year is not None and days is not None
            and days.start == month else None,
            label=partial_label(span.end)))
    return out


def period_bar_charts(report: Report, style: ChartStyle, targets: dict[str, float],
                      gettext: Any) -> tuple[dict[str, str], set[str], set[str]]:
    """Each KPI's months of the period as bars (quarter and year to date), the keys of
    those with a partial month, and of those whose partial month gets no bar (a source that
    gives the figure for whole months only), which the charts' key then explains."""
    out: dict[str, str] = {}
    partial: set[str] = set()
    unfilled: set[str] = set()
    last_year_word = str(gettext("Last year"))

    def label(day: dt.date) -> str:
        return str(gettext("to %(day)s")) % {"day": short_day(day, report.locale)}

    for key, kpi in report.kpis.items():
        if kpi.definition.breakdown is not None or not kpi.monthly:
            continue
        months = period_months(kpi, report.kpi_periods.get(key, report.period),
                               partial_label=label)
        chart = month_bars(months, locale=report.locale, fmt=value_formatter(report, kpi),
                           unit=kpi.definition.unit, target=targets.get(key), style=style,
                           title=str(kpi.label), last_year_word=last_year_word,
                           duration_unit=kpi.definition.duration_unit)
        if chart:
            out[key] = chart
            if any(m.partial for m in months):
                partial.add(key)
            if any(m.partial and m.value is None for m in months):
                unfilled.add(key)
    return out, partial, unfilled


def share_charts(report: Report, style: ChartStyle,
                 cell: Callable[[KpiValue, str, Any], str]) -> dict[str, str]:
    """The mix of each breakdown whose definition asks for bars: its rows' ranking metric
    by its first dimension, printed as its table prints them (``cell``)."""
    out: dict[str, str] = {}
    for key, kpi in report.kpis.items():
        b = kpi.definition.breakdown
        if b is None or kpi.definition.chart != "bars" or kpi.error or not kpi.rows:
            continue
        dimension = b.dimensions[0]
        rows = [(cell(kpi, dimension, row.get(dimension)), row.get(b.metric))
                for row in kpi.rows]
        chart = share_bars(rows, fmt=_cell_of(cell, kpi, b.metric), style=style,
                           title=str(kpi.label), locale=report.locale)
        if chart:
            out[key] = chart
    return out


def _cell_of(cell: Callable[[KpiValue, str, Any], str], kpi: KpiValue,
             metric: str) -> Callable[[float], str]:
    def fmt(v: float) -> str:
        return cell(kpi, metric, v)

    return fmt


def burnup_charts(report: Report, style: ChartStyle, gettext: Any) -> dict[str, str]:
    """Each cumulative objective's burn-up chart: its running total month by month since its
    start (month ends, while the months are known and the start is a 1st), ending with the
    total the report judges it on, against the straight path to its target and the
    forecast."""
    out: dict[str, str] = {}
    kpis = report.every_kpi()
    labels = {"value": str(gettext("Total so far")), "target": str(gettext("Path to the target")),
              "forecast": str(gettext("Forecast at this pace"))}
    for a in report.objectives:
        kpi = kpis.get(a.kpi)
        if a.kind != "cumulative" or a.deadline is None or a.value is None or kpi is None:
            continue
        end = min(a.measured_to or report.kpi_periods.get(a.kpi, report.period).end,
                  a.deadline)
        if end < a.start:
            continue
        actual: list[tuple[dt.date, float]] = []
        if a.start.day == 1:
            by_month = {p.start: p.value for p in kpi.monthly}
            total, month = 0.0, a.start
            while (month_end := add_months(month, 1) - dt.timedelta(days=1)) < end:
                v = by_month.get(month)
                if v is None:
                    actual = []  # a month unknown: no running total to draw through it
                    break
                total += v
                actual.append((month_end, total))
                month = add_months(month, 1)
        actual.append((end, a.value))
        # Wide and low: the objective's facts above it say the figures; the chart, the pace.
        out[a.key] = burnup_chart(start=a.start, deadline=a.deadline,
                                  baseline=a.baseline or 0.0, target=a.target, actual=actual,
                                  forecast=a.forecast, locale=report.locale,
                                  fmt=value_formatter(report, kpi), unit=kpi.definition.unit,
                                  style=style, labels=labels, width=520, height=100)
    return out


def period_name(period: Period, locale: str, gettext: Any) -> str:
    """A period as clients name it: ``Q3 2026`` / ``T3 2026``, ``Year to date 2026``; a
    month, a month to date or a range by its days (``1–15 November 2026``)."""
    if period.kind == "quarter":
        return formatting.format_quarter(period.start, locale)
    if period.kind == "year-to-date":
        return str(gettext("Year to date %(year)s")) % {"year": period.start.year}
    return formatting.format_period(period, locale)
