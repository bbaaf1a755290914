"""What the one-page summary picks: the headline tiles in the client's order of importance,
and which objectives' statuses need their forecast beside them to be understood."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from kpireport import formatting
from kpireport.data import DateRange, NoteKind
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


def _figure_ends(report: Report) -> dict[dt.date, list[str]]:
    """The single figures' last days, each with the sources (their labels) that stop on
    it: the report's own end for figures whose data covers the whole period."""
    ends: dict[dt.date, list[str]] = {}
    for k in report.kpis.values():
        if k.definition.breakdown is None and k.value is not None:
            ends.setdefault(report.period_of(k.key).end, [])
    for note in report.notes:
        if note.kind is NoteKind.DATA_END and "end" in (params := dict(note.params)):
            day = dt.date.fromisoformat(params["end"])
            if day in ends:
                ends[day].extend(report.source_labels.get(name) or name
                                 for name in note.source.split(",") if name)
    return ends


def covered_end(report: Report) -> dt.date:
    """The day the headline figures go up to: the latest last day of data of the single
    figures (most of them, in practice; a source stopping earlier is named beside it), the
    report's own end when the data covers the whole period."""
    return max(_figure_ends(report), default=report.period.end)


def _earlier(report: Report, gettext: Callable[[str], str]) -> str:
    """`` (Google Search Console: up to 31 Oct)``: the sources whose figures stop before
    :func:`covered_end`, each with its own last day."""
    ends = _figure_ends(report)
    main = covered_end(report)
    colon = formatting.punctuation(":", report.locale)
    parts = []
    for day in sorted(d for d in ends if d < main):
        when = gettext("up to %(day)s") % {
            "day": formatting.format_skeleton("MMMd", day, report.locale)}
        parts.append(f"{' · '.join(ends[day]) or gettext('some sources')}{colon}{when}")
    return f" ({'; '.join(parts)})" if parts else ""


def compared_with(report: Report, gettext: Callable[[str], str]) -> str:
    """What the headline figures are compared with, as the client names it: "the same
    days of 2025" for a year to date; "September 2026 and October 2025" for a month, "Q2
    2026 and Q3 2025" for a quarter; "the same days of October 2026 and of November 2025"
    when the data stops before the period's end."""
    period = report.period
    if period.kind == "year-to-date" or period.previous == period.last_year:
        return gettext("the same days of %(year)s") % {"year": period.last_year.start.year}
    previous = formatting.format_period(period.previous, report.locale)
    last_year = formatting.format_period(period.last_year, report.locale)
    if covered_end(report) < period.end:
        return gettext("the same days of %(previous)s and of %(last_year)s") % {
            "previous": previous, "last_year": last_year}
    if period.kind == "quarter":
        # A quarter's name takes an article in French ("depuis le T2 2026"), a month's none.
        return gettext("%(previous_quarter)s and %(last_year_quarter)s") % {
            "previous_quarter": previous, "last_year_quarter": last_year}
    return gettext("%(previous)s and %(last_year)s") % {"previous": previous,
                                                         "last_year": last_year}


def tiles_caption(report: Report, gettext: Callable[[str], str]) -> str:
    """The summary's one line on what its figures cover, above the headline tiles: the days
    (up to :func:`covered_end`, a source stopping earlier named with its own day) and what
    they are compared with: "1 Jan – 24 Nov 2026 (Google Search Console: up to 31 Oct),
    compared with the same days of 2025:". Said once: no sentence above it repeats it."""
    period = report.period
    end = covered_end(report)
    days = (formatting.format_period(period, report.locale) if end >= period.end else
            formatting.format_period(DateRange(start=period.start, end=end), report.locale))
    return gettext("%(days)s%(earlier)s, compared with %(compared)s:") % {
        "days": formatting.unbreakable(days[:1].upper() + days[1:]),
        "earlier": _earlier(report, gettext),
        "compared": compared_with(report, gettext)}


def covers_whole_period(report: Report) -> bool:
    """Whether every single figure covers the period named on the cover."""
    return covered_end(report) >= report.period.end and len(_figure_ends(report)) <= 1
