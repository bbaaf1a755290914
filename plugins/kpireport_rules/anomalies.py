"""Rules on the daily series: a day far outside the usual range, days with no conversion.

"Usual" is the median of the period's days and the spread their median absolute deviation:
robust to the very day being judged, unlike a mean and a standard deviation.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from statistics import median

from kpireport.data import DateRange
from kpireport.kpis import KpiValue
from kpireport.recommendations import Finding, Severity
from kpireport.report import Report
from kpireport_rules import (
    N_,
    Shown,
    _date,
    _dates,
    _each,
    _fmt,
    _words,
    in_language,
    noted_kpis,
)
from kpireport_rules import _period as _period_words
from kpireport_rules.outcomes import OUTCOMES

WATCHED = (*OUTCOMES, "sessions", "users", "organic_clicks", "ad_spend", "ad_clicks")
"""The KPIs whose days are checked: the outcomes and the main traffic and spend counts."""
MIN_DAYS = 14
MIN_WEEKS = 8
SPREAD = 5.0
"""A day this many robust deviations (1.4826 × MAD) from the median is far outside…"""
GAP = 0.5
"""…provided it is also at least half the median away (a calm series has a tiny MAD)."""
NO_ZERO_CHANCE = 0.05
"""A conversion KPI should record some every day when, at its usual daily count, a day with
none by chance alone is this unlikely over the period (Poisson: ``days × e^-usual``): 6.4 a
day for a month, 7.5 for a quarter. Below that, empty days are ordinary noise."""
CONVERSIONS = ("orders", "leads", "ad_conversions", "ad_purchases", "ad_leads",
               "qualified_leads", "conversions")


def _days(kpi: KpiValue) -> list[tuple[dt.date, float]]:
    return [(p.start, p.value) for p in kpi.daily if p.value is not None]


Outlier = tuple[float, KpiValue, dt.date, float, float]
"""How far outside (in medians), the KPI, the day or week's first day, its value, the usual."""


def _furthest(report: Report, points: Callable[[KpiValue], list[tuple[dt.date, float]]],
              at_least: int, span: int = 0) -> Outlier | None:
    """The recent point furthest outside its KPI's usual range, among the watched KPIs
    with at least ``at_least`` points; None when every recent point is within it. Recent:
    ending (its first day + ``span`` days) :data:`RECENT` days or fewer before the KPI's
    last day of data; the usual range is the whole period's."""
    worst: Outlier | None = None
    for kpi in report.kpis.values():
        if kpi.definition.id not in WATCHED or kpi.definition.unit.value not in ("count",
                                                                                 "currency"):
            continue
        series = points(kpi)
        if len(series) < at_least:
            continue
        values = [v for _, v in series]
        middle = median(values)
        spread = 1.4826 * median(abs(v - middle) for v in values)
        last = max(d for d, _ in _days(kpi))
        for index, (start, value) in enumerate(series):
            if (last - (start + dt.timedelta(days=span))).days > RECENT:
                continue
            distance = abs(value - middle)
            if value == 0 or middle <= 0 or distance < GAP * middle:
                continue
            if spread and distance < SPREAD * spread:
                continue
            if not span and _climb(values, index, middle):
                continue
            score = distance / middle
            if worst is None or score > worst[0]:
                worst = (score, kpi, start, value, middle)
    return worst


CLIMB_DAYS = 7
"""A day is one odd day (a spike) when it also stands out from the days around it, this
many on each side; else it is part of a climb (or a slide) that the chart shows, not one
day to explain."""


def _climb(values: list[float], index: int, middle: float) -> bool:
    """Whether the day at ``index`` is part of a lasting move rather than a spike: the
    median of the days around it (:data:`CLIMB_DAYS` each side) is already halfway from
    the usual to it, or the day is less than :data:`GAP` of that median away from it (the
    last of two weeks of climbing visits is no odd day)."""
    around = [*values[max(0, index - CLIMB_DAYS):index], *values[index + 1:index + 1 + CLIMB_DAYS]]
    if not around:
        return False
    local, value = median(around), values[index]
    return (abs(local - middle) >= 0.5 * abs(value - middle)
            or (local > 0 and abs(value - local) < GAP * local))


def _weeks(kpi: KpiValue) -> list[tuple[dt.date, float]]:
    """The period's whole weeks (Monday to Sunday, seven days of data), by their Monday."""
    weeks: dict[dt.date, list[float]] = {}
    for day, value in _days(kpi):
        weeks.setdefault(day - dt.timedelta(days=day.weekday()), []).append(value)
    return [(monday, sum(values)) for monday, values in sorted(weeks.items())
            if len(values) == 7]


def _shown(report: Report, kpi: KpiValue, value: float) -> Shown:
    """A count as a whole number (a week's sum of days may carry float dust), else as is."""
    unit = kpi.definition.unit.value
    return _fmt(report, round(value) if unit == "count" else value, unit)


RECENT = 31
"""An odd day or week is recommended only when it ended this many days or fewer before the
data's last day: in a quarter or a year to date, a one-off event months back is context
the charts show, not something to act on now."""


def _priority(base: int, outlier: Outlier) -> int:
    """An anomaly's priority: ``base`` (an outcome's or a traffic count's), a little more
    the further outside its range it is."""
    return base + min(3, int(outlier[0]))


_CAUSE_DAY = N_("%(kpi)s on %(day)s: %(value)s, against a usual %(usual)s a day. Find the "
                "cause (a campaign, an outage, bot traffic, a tracking fault) and read the "
                "period's total with it in mind.")
_NOTED_DAY = N_("%(kpi)s on %(day)s: %(value)s, against a usual %(usual)s a day. The "
                "agency's note on this indicator, earlier in the report, gives the cause: "
                "read the period's total with it in mind.")
# A KPI the period's figure cannot be computed for (unique visitors over a quarter) has no
# total in the report to read the day with.
_CAUSE_DAY_ALONE = N_("%(kpi)s on %(day)s: %(value)s, against a usual %(usual)s a day. Find "
                      "the cause (a campaign, an outage, bot traffic, a tracking fault).")
_NOTED_DAY_ALONE = N_("%(kpi)s on %(day)s: %(value)s, against a usual %(usual)s a day. The "
                      "agency's note on this indicator, earlier in the report, gives the "
                      "cause.")
_NOTED_WEEK_ALONE = N_("%(kpi)s in the week from %(day)s: %(value)s, against a usual "
                       "%(usual)s a week. The agency's note on this indicator, earlier in the "
                       "report, gives the cause.")
_CAUSE_WEEK = N_("%(kpi)s in the week from %(day)s: %(value)s, against a usual %(usual)s a "
                 "week. Find what changed that week (a campaign started or stopped, a "
                 "price, an outage, a tracking change).")
_NOTED_WEEK = N_("%(kpi)s in the week from %(day)s: %(value)s, against a usual %(usual)s a "
                 "week. The agency's note on this indicator, earlier in the report, gives "
                 "the cause: read the period's total with it in mind.")


# Consecutive unusual days (:func:`odd_run`): one event, named by its dates and total.
_RUN_HEAD = N_("%(kpi)s, %(span)s: %(total)s in %(days)s days, against a usual %(usual)s a "
               "day.")
_RUN_CAUSE = N_("Find the cause (a campaign, an outage, bot traffic, a tracking fault) and "
                "read the period's total with it in mind.")
_RUN_CAUSE_ALONE = N_("Find the cause (a campaign, an outage, bot traffic, a tracking fault).")
_RUN_NOTED = N_("The agency's note on this indicator, earlier in the report, gives the cause: "
                "read the period's total with it in mind.")
_RUN_NOTED_ALONE = N_("The agency's note on this indicator, earlier in the report, gives the "
                      "cause.")


def _overlap(day: Outlier | None, week: Outlier | None) -> bool:
    """Whether an odd day falls in the odd week of the same KPI: one event, told once."""
    return (day is not None and week is not None and day[1].key == week[1].key
            and week[2] <= day[2] < week[2] + dt.timedelta(days=7))


def _excess(outlier: Outlier) -> float:
    return abs(outlier[3] - outlier[4])


RUN_SHARE = 0.9
"""An odd day's run (:func:`odd_run`) tells its odd week's story when it holds this share of
the week's excess over its usual: the week is those days."""


def _run_tells(day: Outlier, week: Outlier) -> bool:
    """Whether the odd day, with the run of unusual days holding it, stands further out
    than the odd week of the same KPI holding it: one event, told by the days."""
    run = odd_run(day)
    if run is None:
        return False
    first, last, total = run
    if first == last:
        return _excess(day) > _excess(week)
    return abs(total - day[4] * ((last - first).days + 1)) >= RUN_SHARE * _excess(week)


def odd_day(report: Report) -> Outlier | None:
    """The day furthest outside its usual range among the outcomes and the main traffic
    counts, a spike (the days around it usual, :func:`_climb`), unless the odd week of the
    same KPI holding it stands further out; None when there is none."""
    worst = _furthest(report, _days, MIN_DAYS)
    if worst is None:
        return None
    if odd_run(worst) is None:  # a run of unusual days too long for one event: a climb
        return None
    week = _furthest(report, _weeks, MIN_WEEKS, 6)
    if week is not None and _overlap(worst, week) and not _run_tells(worst, week):
        return None
    return worst


RUN_DAYS = 4
"""Consecutive unusual days on the same side of the usual, up to this many, are one event
(a plateau: a batch of leads qualified over three days), named by its dates and total;
a longer run is a climb that the chart shows."""


def _unusual(value: float, middle: float, spread: float) -> bool:
    distance = abs(value - middle)
    return (value != 0 and middle > 0 and distance >= GAP * middle
            and not (spread and distance < SPREAD * spread))


def odd_run(outlier: Outlier) -> tuple[dt.date, dt.date, float] | None:
    """The run of consecutive unusual days (:func:`_furthest`'s test, on the same side of
    the usual) holding the odd day: (its first day, its last day, its total). None when the
    run is longer than :data:`RUN_DAYS` (a climb, no event); the day alone is a run of one."""
    _, kpi, day, value, middle = outlier
    series = _days(kpi)
    values = [v for _, v in series]
    spread = 1.4826 * median(abs(v - middle) for v in values)
    index = next(i for i, (d, _) in enumerate(series) if d == day)
    up = value > middle

    def odd(i: int) -> bool:
        return (values[i] > middle) is up and _unusual(values[i], middle, spread)

    def next_day(i: int, j: int) -> bool:
        return (series[j][0] - series[i][0]).days == 1

    first = last = index
    while first > 0 and next_day(first - 1, first) and odd(first - 1):
        first -= 1
    while last + 1 < len(series) and next_day(last, last + 1) and odd(last + 1):
        last += 1
    if last - first + 1 > RUN_DAYS:
        return None
    return series[first][0], series[last][0], sum(values[first:last + 1])


def unusual_day(report: Report) -> Iterator[Finding]:
    """The day furthest outside its usual range, among the outcomes and the main traffic
    counts (a day with nothing recorded is the tracking-gap rule's): a campaign, an outage,
    bot traffic or a tracking fault to explain before reading the period's total. A day in
    the odd week of the same KPI that stands further out is told by the week's finding; a
    day in a climb is no odd day; a day of an outcome with a card of its own is one
    sentence of that card (:func:`kpireport_rules.outcomes.mover_finding`)."""
    from kpireport_rules.outcomes import carded

    worst = odd_day(report)
    if worst is None or worst[1].key in carded(report):
        return
    _, kpi, day, value, middle = worst
    noted = kpi.key.lower() in noted_kpis(report)
    first, last, total = odd_run(worst) or (day, day, value)
    priority = _priority(50 if kpi.definition.id in OUTCOMES else 35, worst)
    if first != last:
        span = _period_words(report, DateRange(start=first, end=last))
        count = (last - first).days + 1
        tail = ((_RUN_NOTED if kpi.value is not None else _RUN_NOTED_ALONE) if noted
                else (_RUN_CAUSE if kpi.value is not None else _RUN_CAUSE_ALONE))
        values = {"kpi": kpi.label, "span": span, "total": _shown(report, kpi, total),
                  "days": count, "usual": _shown(report, kpi, middle)}
        yield Finding(
            rule="unusual-day", severity=Severity.WARNING, priority=priority,
            title=_words(N_("Unusual days: %(span)s"), span=span),
            text=_each(lambda words, lang: " ".join((
                words.gettext(_RUN_HEAD) % in_language(values, lang), words.gettext(tail)))),
            figures={"kpi": kpi.key, "day": day.isoformat(), "first_day": first.isoformat(),
                     "last_day": last.isoformat(), "value": value, "total": total,
                     "usual": middle},
            kpis=(kpi.key,))
        return
    if kpi.value is None:
        text = _NOTED_DAY_ALONE if noted else _CAUSE_DAY_ALONE
    else:
        text = _NOTED_DAY if noted else _CAUSE_DAY
    yield Finding(
        rule="unusual-day", severity=Severity.WARNING, priority=priority,
        # One date style, the long one, in the title and the text.
        title=_words(N_("An unusual day: %(day)s"),
                     day=_date(report, day, "long")),
        text=_words(text, kpi=kpi.label, day=_date(report, day, "long"),
                    value=_shown(report, kpi, value), usual=_shown(report, kpi, middle)),
        figures={"kpi": kpi.key, "day": day.isoformat(), "value": value, "usual": middle},
        kpis=(kpi.key,))


def unusual_week(report: Report) -> Iterator[Finding]:
    """In a report of eight whole weeks or more (a quarter, a year to date), the week
    furthest outside its usual range among the outcomes and the main traffic counts: a
    lasting change that one odd day does not explain (when the odd day of the same KPI
    falls in it and stands further out, that day's finding tells it instead)."""
    worst = _furthest(report, _weeks, MIN_WEEKS, 6)
    if worst is None:
        return
    day = _furthest(report, _days, MIN_DAYS)
    if day is not None and _overlap(day, worst) and _run_tells(day, worst):
        return  # the odd day (or its run of days) says it
    _, kpi, monday, value, middle = worst
    week = _date(report, monday, "long")
    yield Finding(
        rule="unusual-week", severity=Severity.WARNING,
        priority=_priority(52 if kpi.definition.id in OUTCOMES else 38, worst),
        title=_words(N_("An unusual week: from %(day)s"), day=week),
        text=_words((_NOTED_WEEK if kpi.value is not None else _NOTED_WEEK_ALONE)
                    if kpi.key.lower() in noted_kpis(report) else _CAUSE_WEEK,
                    kpi=kpi.label, day=week, value=_shown(report, kpi, value),
                    usual=_shown(report, kpi, middle)),
        figures={"kpi": kpi.key, "week": monday.isoformat(), "value": value, "usual": middle},
        kpis=(kpi.key,))


def tracking_gap(report: Report) -> Iterator[Finding]:
    """Days with no conversion recorded by a KPI that usually records several a day, while
    the site had visits (and before a day with some: the last days may not be in yet): the
    tag or the form's tracking most likely broke."""
    kpis = {k.definition.id: k for k in report.kpis.values()}
    visits = dict(_days(kpis["sessions"])) if "sessions" in kpis else {}
    usual_visits = median(visits.values()) if visits else 0.0
    for kpi in report.kpis.values():
        if kpi.definition.id not in CONVERSIONS:
            continue
        days = _days(kpi)
        if len(days) < MIN_DAYS:
            continue
        usual = median(v for _, v in days)
        if len(days) * math.exp(-usual) >= NO_ZERO_CHANCE:
            continue
        # A day the site had its usual visits (or no visit figures at all) but no conversion,
        # before the last day with some: zeros at the end may be a source not yet updated.
        last = max(d for d, v in days if v)
        empty = [d for d, v in days if v == 0 and d < last
                 and (not visits or visits.get(d, 0) >= GAP * usual_visits)]
        if not empty:
            continue
        lost = usual * len(empty)
        yield Finding(
            rule="tracking-gap", severity=Severity.CRITICAL, priority=80,
            title=_words(N_("%(kpi)s: nothing recorded on some days"), kpi=kpi.label),
            text=_words(N_("%(kpi)s: nothing recorded on %(days)s although the "
                           "site had visits (usually %(usual)s a day). Check "
                           "the tracking tags and the forms first, then the "
                           "figures of those days."),
                        kpi=kpi.label,
                        days=_dates(report, empty),
                        usual=_fmt(report, usual, kpi.definition.unit.value)),
            impact=_words(N_("about %(lost)s not recorded"),
                          lost=_fmt(report, round(lost), kpi.definition.unit.value)),
            figures={"kpi": kpi.key, "days": [d.isoformat() for d in empty],
                     "usual": usual, "impact": lost},
            kpis=(kpi.key,))
