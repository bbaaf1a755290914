"""How far each source's data reaches into the period, read from what it answered.

A source whose missing days are unknown (a file: :attr:`MissingDays.GAP`) and whose daily rows
stop before the period's end covers the period only up to its last day with a figure: the
KPIs it serves are judged on those days, compared with the same days of the comparison
periods (:meth:`~kpireport.periods.Period.through`). A source whose empty days mean nothing
happened (an API: :attr:`MissingDays.ZERO`) covers the period whatever its last row.

A source with no data for most of the period is *stale*: a scheduled run holds the report
rather than deliver one of dashes (:mod:`kpireport.batch`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from kpireport.data import Granularity, MissingDays
from kpireport.periods import Period
from kpireport.pipeline.fetch import FetchResult
from kpireport.pipeline.plan import ReportPlan


@dataclass(frozen=True)
class Stale:
    """A source with no data for most of the period: its last day with data (None: none)."""

    source: str
    label: str
    last_day: dt.date | None


def _has_figure(row: Mapping[str, object], metrics: tuple[str, ...]) -> bool:
    return any(row.get(m) is not None for m in metrics)


def last_days(plan: ReportPlan, fetched: FetchResult) -> dict[str, dt.date | None]:
    """Each source's last day with a figure in the period, from its daily tables over the
    period (None: daily tables but no figure). A source without a daily table over the
    period (monthly exports only, a failed source) is absent: its reach is unknown."""
    out: dict[str, dt.date | None] = {}
    period = plan.period.range
    for source, queries in plan.asks.items():
        for query in queries:
            if query.granularity is not Granularity.DAY or query.range != period:
                continue
            table = fetched.table(source, query)
            if table is None:
                continue
            days = [r["date"] for r in table.rows
                    if r.get("date") is not None and _has_figure(r, query.metrics)]
            known = [d for d in (out.get(source), max(days, default=None)) if d is not None]
            out[source] = max(known, default=None)
    return out


def gap_sources(plan: ReportPlan) -> set[str]:
    """Sources whose missing days are unknown (files), not zeros."""
    return {name for name in plan.asks
            if (info := plan.sources_info.get(name)) is None
            or info.missing_days is MissingDays.GAP}


def kpi_periods(plan: ReportPlan, reach: Mapping[str, dt.date | None]) -> dict[str, Period]:
    """KPI key → its period cut to the day its data ends, for KPIs served by a file that
    stops within the period (the earliest such end, when several of its sources do)."""
    period = plan.period
    gaps = gap_sources(plan)
    out = {}
    for key, binding in plan.bindings.items():
        ends = [last for s in binding.sources if s in gaps
                and (last := reach.get(s)) is not None and period.start <= last < period.end]
        if ends:
            out[key] = period.through(min(ends))
    return out


def stale_sources(plan: ReportPlan, fetched: FetchResult,
                  reach: Mapping[str, dt.date | None]) -> list[Stale]:
    """Sources that answered with no data for most of the period (a failed source is a
    failure, not stale data). A file is stale when its days cover less than half of the
    period, or none of its tables has a row for the period. A source whose empty days mean
    nothing happened (an API) is stale only when it gave no row at all, its history too: a
    paused ad account's quiet month is news, not stale data."""
    period = plan.period
    half = period.range.days / 2
    gaps = gap_sources(plan)
    out = []
    for source, queries in plan.asks.items():
        if source in fetched.errors:
            continue
        asked = (queries if source not in gaps else
                 [q for q in queries if q.range.start >= period.start
                  and q.range.end <= period.end])
        tables = [t for q in asked if (t := fetched.table(source, q)) is not None]
        empty = bool(tables) and not any(t.rows for t in tables)
        last = reach.get(source)
        short = (source in gaps and source in reach
                 and (last is None or (last - period.start).days + 1 < half))
        if empty or short:
            out.append(Stale(source, plan.label(source), last))
    return out
