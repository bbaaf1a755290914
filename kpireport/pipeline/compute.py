"""Stage 3, compute: each KPI's value, comparisons and series from the fetched tables.

Tables are looked up by the queries the plan built (:class:`~kpireport.pipeline.plan.KpiQueries`);
a KPI served by several sources has its rows joined on their time and dimension keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kpireport.data import (
    Aggregation,
    DataNote,
    DateRange,
    MissingDays,
    NoteKind,
    Query,
    Unit,
    order_rows,
    time_key,
)
from kpireport.kpis import KpiValue, SeriesPoint
from kpireport.periods import Period, add_months
from kpireport.pipeline.columns import attribution, fill_columns
from kpireport.pipeline.fetch import FetchResult
from kpireport.pipeline.plan import KpiBinding, KpiQueries, PerSource, ReportPlan
from kpireport.typography import apostrophes_for

Answers = Mapping[tuple[str, Query], Query]
"""(source, a KPI's query) → the query whose table answers it (the plan's ``answered_by``)."""


def rows_of(binding: KpiBinding, queries: PerSource, fetched: FetchResult,
            answered_by: Answers | None = None
            ) -> tuple[list[dict[str, Any]], list[DataNote], str | None]:
    """The rows answering one KPI query per source, joined across the KPI's sources on their
    time/dimension keys; the notes about them; the error of a source that gave nothing."""
    joined: dict[tuple[Any, ...], dict[str, Any]] = {}
    notes: list[DataNote] = []
    for source in binding.sources:
        query = queries[source]
        asked = answered_by[(source, query)] if answered_by is not None else query
        table = fetched.table(source, asked)
        if table is None:
            return [], notes, fetched.errors.get(source, f"source {source!r} gave no data")
        metrics = query.metrics
        # A table answers every KPI asking the same shape: keep the notes about this one's
        # (a note naming none of the table's metrics concerns them all, rather than none).
        in_table = set(table.query.metrics)
        notes.extend(n for n in table.notes if not set(n.metrics) & in_table
                     or set(n.metrics) & set(metrics))
        tkey = time_key(query.granularity)
        keys = ([tkey] if tkey else []) + list(query.dimensions)
        for row in table.rows:
            k = tuple(row.get(name) for name in keys)
            target = joined.setdefault(k, {name: row.get(name) for name in keys})
            for metric in metrics:
                target[metric] = row.get(metric)
    return list(joined.values()), notes, None


def total(binding: KpiBinding, queries: PerSource, fetched: FetchResult,
          answered_by: Answers | None = None) -> tuple[float | None, list[DataNote], str | None]:
    """The KPI's value from one total query per source."""
    rows, notes, error = rows_of(binding, queries, fetched, answered_by)
    return (binding.definition.compute(rows[0]) if rows else None), notes, error


def monthly_series(binding: KpiBinding, queries: PerSource, rng: DateRange,
                   fetched: FetchResult, answered_by: Answers | None = None,
                   empty: float | None = None) -> tuple[list[SeriesPoint], str | None]:
    """One point per calendar month of ``rng``: None where there is no data, or ``empty``
    from the first month with data on, for sources whose missing months mean nothing
    happened."""
    rows, _, error = rows_of(binding, queries, fetched, answered_by)
    by_month = {r["month"]: binding.definition.compute(r) for r in rows}
    first = min(by_month, default=None)
    months = []
    cursor = rng.start
    while cursor <= rng.end:
        missing = empty if first is not None and cursor >= first else None
        months.append(SeriesPoint(start=cursor, value=by_month.get(cursor, missing)))
        cursor = add_months(cursor, 1)
    return months, error


def compute_kpis(plan: ReportPlan, fetched: FetchResult, language: str) -> dict[str, KpiValue]:
    """Every KPI of the plan (listed or needed by objectives), by key."""
    out = {}
    for key, binding in plan.bindings.items():
        zero = all(plan.sources_info.get(s) is not None
                   and plan.sources_info[s].missing_days is MissingDays.ZERO
                   for s in binding.sources)
        period = plan.period_of(key)
        value = compute_kpi(binding, plan.queries[key], period, fetched, language,
                            plan.answered_by, zero_when_missing=zero)
        if period.partial:
            value.data_end = period.end
        # A distinct count with its calendar months' own figures (a monthly table) is told
        # as such: the chart's bars are those months, not days added up.
        by_month = any(m.value is not None for m in value.monthly)
        value.notes = [worded_unavailable(n, plan, binding, value.label, by_month=by_month)
                       if n.kind is NoteKind.UNAVAILABLE else n for n in value.notes]
        value.currency = foreign_currency(plan, binding, plan.queries[key], fetched)
        value.column_attribution = attribution(binding, value.rows, plan.specs, language)
        out[key] = value
    return out


def worded_unavailable(note: DataNote, plan: ReportPlan, binding: KpiBinding,
                       label: str, *, by_month: bool = False) -> DataNote:
    """An unavailable figure's note with what the report needs to say why in the client's
    words: the figure, and whether it is a distinct count (people counted once per day cannot
    be added up; ``by_month``: the source gives its calendar months' own figures, which cannot
    either) or a figure the source gives only for other ranges (monthly exports). Only for
    files: an API's reason is its own."""
    files = [s for s in binding.sources if (info := plan.sources_info.get(s)) is None
             or info.missing_days is MissingDays.GAP]
    if not files:  # an API's own reason (Meta's overlapping audiences) is its note's
        return note
    distinct = any((spec := plan.specs.get(s, {}).get(m)) is not None
                   and spec.aggregation is Aggregation.DISTINCT
                   for m, s in binding.metric_sources.items()
                   if not note.metrics or m in note.metrics)
    why = ("months" if by_month else "distinct") if distinct else "range"
    params = dict(note.params) | {"figure": label, "why": why}
    return replace(note, params=tuple(params.items()))


def foreign_currency(plan: ReportPlan, binding: KpiBinding, queries: KpiQueries,
                     fetched: FetchResult) -> str | None:
    """The currency of a KPI's amounts when a source gave them in another currency than the
    client's and no rate converted them; None when they are in the client's."""
    # A table's optional columns may hold its only amounts (a page's revenue).
    for source, query in [*(queries.value or queries.breakdown).items(),
                          *queries.breakdown_columns.items()]:
        table = fetched.table(source, plan.answered_by.get((source, query), query))
        if table is None or not table.currency or table.currency == plan.currency:
            continue
        specs = plan.specs.get(source, {})
        if any(specs[m].unit is Unit.CURRENCY for m in query.metrics if m in specs):
            return table.currency
    return None


def compute_kpi(binding: KpiBinding, queries: KpiQueries, period: Period, fetched: FetchResult,
                language: str, answered_by: Answers | None = None, *,
                zero_when_missing: bool = False) -> KpiValue:
    definition = binding.definition
    label = (apostrophes_for(binding.ref.label, language) if binding.ref.label
             else definition.text(definition.label, language))
    description = binding.ref.description or (
        definition.text(definition.description, language) if definition.description else "")
    value = KpiValue(key=binding.key, definition=definition, label=label, sources=binding.sources,
                     description=description)
    if definition.breakdown is not None:
        b = definition.breakdown
        limit = binding.ref.limit or b.limit
        rows, notes, error = rows_of(binding, queries.breakdown, fetched, answered_by)
        order = binding.ref.query_order() or b.default_order()
        value.rows = order_rows(rows, order, limit)
        if not error and queries.breakdown_columns:
            notes += fill_columns(binding, queries.breakdown_columns, value.rows, fetched,
                                  answered_by)
        value.notes, value.error = dedupe(notes), error
        if not error and queries.breakdown_previous:
            value.previous_rows = previous_figures(binding, queries.breakdown_previous,
                                                   value.rows, fetched, answered_by)
        if error:
            value.failed_source = failed_source(binding, fetched)
        return value

    value.value, notes, error = total(binding, queries.value, fetched, answered_by)
    value.previous, _, _ = total(binding, queries.previous, fetched, answered_by)
    value.last_year, _, _ = total(binding, queries.last_year, fetched, answered_by)
    # A day a source omits is 0 for an API that leaves out empty days (from its first day
    # with data: before it, the account may not have existed), unknown for a file.
    empty = (definition.compute(dict.fromkeys(definition.metrics, 0.0))
             if zero_when_missing else None)
    daily_rows, _, _ = rows_of(binding, queries.daily, fetched, answered_by)
    by_day = {r["date"]: definition.compute(r) for r in daily_rows}
    first_day = min(by_day, default=None)
    value.daily = [SeriesPoint(start=d, value=by_day.get(
                       d, empty if first_day is not None and d >= first_day else None))
                   for d in period.range.iter_days()]
    assert queries.monthly_range is not None  # built with the other series' queries
    value.monthly, _ = monthly_series(binding, queries.monthly, queries.monthly_range, fetched,
                                      answered_by, empty)
    value.partial_month, value.partial_month_last_year = partial_month(
        binding, queries, fetched, answered_by)
    value.notes = dedupe(notes)
    if error:
        value.error = error
        value.failed_source = failed_source(binding, fetched)
    elif value.value is None and not any(n.kind is NoteKind.UNAVAILABLE for n in value.notes):
        # (An unavailable figure has said why already: "no data" would contradict it.)
        value.notes.append(DataNote(kind=NoteKind.NO_DATA,
                                    message="no data for this period",
                                    source=",".join(binding.sources)))
    return value


def partial_month(binding: KpiBinding, queries: KpiQueries, fetched: FetchResult,
                  answered_by: Answers | None = None
                  ) -> tuple[SeriesPoint | None, SeriesPoint | None]:
    """The KPI over its period's last month's days so far, and over the same days a year
    before, each from its total queries (so a rate is its numerator over its denominator on
    those days): None, None when its period ends with a month; a point whose value is None
    where a source could not answer (a monthly export, a table a snapshot lacks)."""
    points: list[SeriesPoint | None] = []
    for group in (queries.partial_month, queries.partial_month_last_year):
        if not group:
            points.append(None)
            continue
        figure, _, _ = total(binding, group, fetched, answered_by)
        start = next(iter(group.values())).range.start
        points.append(SeriesPoint(start=start, value=figure))
    return points[0], points[1]


def previous_figures(binding: KpiBinding, queries: PerSource, rows: list[dict[str, Any]],
                     fetched: FetchResult, answered_by: Answers | None = None
                     ) -> list[float | None]:
    """Each printed row's ranking metric over the previous period: its figure where the
    previous period lists it, 0 where that list is complete (shorter than it was asked for)
    and does not, None where it is unknown (cut off, or the previous period unreadable)."""
    breakdown = binding.definition.breakdown
    assert breakdown is not None
    try:
        previous, _, error = rows_of(binding, queries, fetched, answered_by)
    except KeyError:  # a plan (a snapshot's) that asked no previous rows
        return [None] * len(rows)
    if error:
        return [None] * len(rows)
    # Complete when no source's answer was cut at the limit it was asked for.
    complete = True
    for source, query in queries.items():
        asked = answered_by[(source, query)] if answered_by is not None else query
        table = fetched.table(source, asked)
        if asked.limit is not None and (table is None or len(table.rows) >= asked.limit):
            complete = False
    dims = breakdown.dimensions
    by_key = {tuple(r.get(d) for d in dims): r.get(breakdown.metric) for r in previous}
    out: list[float | None] = []
    for row in rows:
        key = tuple(row.get(d) for d in dims)
        out.append(by_key[key] if key in by_key else 0.0 if complete else None)
    return out


def failed_source(binding: KpiBinding, fetched: FetchResult) -> str | None:
    """The first of the KPI's sources that could not be read, if any."""
    return next((s for s in binding.sources if s in fetched.errors), None)


def dedupe(notes: list[DataNote]) -> list[DataNote]:
    return list(dict.fromkeys(notes))
