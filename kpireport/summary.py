"""What the one-page summary picks: the headline tiles in the client's order of importance,
and which objectives' statuses need their forecast beside them to be understood."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kpireport.kpis import KpiValue
from kpireport.report import Assessment, Finding, Report, Status

TILES = 8
"""Headline tiles printed at most: two rows of four keep the summary on one page."""

FORECAST_STATUSES = (Status.ON_TRACK, Status.AT_RISK, Status.OFF_TRACK)
"""Statuses judged on a forecast; an achieved or missed objective is judged on its value."""


def headline_order(report: Report, families: Sequence[str]) -> list[KpiValue]:
    """The report's single figures, most important first: those the client's ``headline``
    lists, in its order, then the others by family (in ``families``' order, the KPI plugins'
    ranking: commercial and e-commerce outcomes before traffic) and by the config's order."""
    figures = [k for k in report.kpis.values() if k.definition.breakdown is None]
    chosen = list(getattr(report.client, "headline", None) or [])
    rank = {f: i for i, f in enumerate(families)}
    first = [k for key in chosen for k in figures if k.key == key]
    rest = [k for k in figures if k.key not in chosen]
    # sorted() is stable: within a family, the config's order stays.
    rest.sort(key=lambda k: rank.get(str(k.definition.family), len(rank)))
    return first + rest


def shows_forecast(a: Assessment) -> bool:
    """Whether an objective's forecast is printed beside its status: the status of one still
    running comes from its forecast (a bar 90 % of the way can be off track when the trend
    will not reach the target); a missed or achieved one has none worth printing."""
    return a.status in FORECAST_STATUSES and a.forecast is not None


def disagrees(a: Assessment) -> bool:
    """Whether an objective's status reads against its progress bar: ahead of the expected
    path but at risk or off track, or behind it but on track. Its forecast says why."""
    if not shows_forecast(a) or a.progress is None or a.expected_progress is None:
        return False
    ahead = a.progress >= a.expected_progress
    return (ahead and a.status in (Status.AT_RISK, Status.OFF_TRACK)) or (
        not ahead and a.status is Status.ON_TRACK)


def covering_finding(report: Report, a: Assessment) -> Finding | None:
    """The recommendation that covers a missed objective: the highest-ranked finding that
    names it (``figures["objective"]``, the contract's convention), else one about its KPI."""
    findings = sorted(report.findings, key=lambda f: -f.rank)
    for f in findings:
        if f.figures.get("objective") == a.key:
            return f
    for f in findings:
        if a.kpi in f.kpis:
            return f
    return None


def coverage_line(report: Report, gettext: Callable[[str], str]) -> str | None:
    """The summary's first sentence when its figures stop on different days (a year to date
    on 1 December whose analytics end on the 24th and whose CRM on the 30th): the span of
    their last days and that each is compared with the same days before, never the whole
    period. None when every figure covers the same days: the sentence names them then."""
    figures = [k for k in report.kpis.values()
               if k.definition.breakdown is None and k.value is not None]
    ends = {report.kpi_periods.get(k.key, report.period).end for k in figures}
    if len(ends) < 2:
        return None
    from kpireport.formatting import format_days

    days = format_days(min(ends), max(ends), report.locale)
    if report.period.previous == report.period.last_year:  # a year to date: one comparison
        return gettext("Figures up to %(days)s depending on the source, each compared with "
                       "the same days of last year.") % {"days": days}
    return gettext("Figures up to %(days)s depending on the source, each compared with the "
                   "same days of the period before and of last year.") % {"days": days}
