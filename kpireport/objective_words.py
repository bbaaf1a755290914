"""What the report says about its objectives and OKRs around the figures: the objectives
section's lead (which day or month each kind is counted on), the summary's heading for them,
and the line under a chart naming the target it draws (issue #15, review 5)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from kpireport import formatting
from kpireport.chart_targets import TargetLine
from kpireport.periods import add_months
from kpireport.report import Report


def objectives_lead(report: Report, as_of: dt.date, gettext: Any) -> str | None:
    """The objectives section's lead when a level objective is judged on a month that ends
    before ``as_of`` (a year to date whose data stops on 24 November judges a monthly level
    on October): what is counted to that day, and that the level's need is spread over the
    months after its month. None otherwise: the template's own sentence is true then."""
    months = sorted({a.measured_in for a in report.objectives
                     if a.kind == "level" and a.measured_in is not None
                     and add_months(a.measured_in, 1) <= as_of
                     # one judged on its passed deadline's month needs nothing more
                     and (a.deadline is None or a.deadline >= add_months(a.measured_in, 1))})
    if not months:
        return None
    locale = report.locale
    day = formatting.unbreakable(formatting.format_date(as_of, locale))
    data_end = as_of < report.period.end
    totals = any(a.kind == "cumulative" for a in report.objectives)
    if totals and data_end:
        first = gettext("Totals and days left are counted as of %(day)s, the last day with data.")
    elif totals:
        first = gettext("Totals and days left are counted as of %(day)s.")
    elif data_end:
        first = gettext("Days left are counted as of %(day)s, the last day with data.")
    else:
        first = gettext("Days left are counted as of %(day)s.")
    if len(months) == 1:
        month = formatting.unbreakable(formatting.format_month(months[0], locale))
        second = str(gettext("A monthly level is judged on %(month)s, the last whole month, and "
                             "its monthly need is spread over the months after it.")) % {
            "month": month}
    else:
        second = str(gettext("A monthly level is judged on the last whole month its data "
                             "covers, and its monthly need is spread over the months after it."))
    return f"{str(first) % {'day': day}} {second}"


def glance_heading(report: Report, gettext: Any) -> str:
    """The summary's heading over the objectives and OKRs it lists: only what it lists (a
    quarter before the OKRs started has none, and says none)."""
    if report.objectives and report.okrs:
        return str(gettext("Objectives and OKRs at a glance"))
    if report.okrs:
        return str(gettext("OKRs at a glance"))
    return str(gettext("Objectives at a glance"))


def target_line_text(line: TargetLine, value: Callable[[float], str], gettext: Any) -> str:
    """"Target line: the objective's 80 (the key result aims at 85)." under a KPI's chart:
    the key says "Target", the sentence says whose. ``value`` formats a figure of the KPI."""
    if line.source != "objective":
        return str(gettext("Target line: the key result's %(target)s.")) % {
            "target": value(line.value)}
    if line.other is None:
        return str(gettext("Target line: the objective's %(target)s.")) % {
            "target": value(line.value)}
    # One sentence for the translator, not a fragment glued to another.
    return str(gettext("Target line: the objective's %(target)s (the key result aims at "
                       "%(other)s).")) % {"target": value(line.value), "other": value(line.other)}
