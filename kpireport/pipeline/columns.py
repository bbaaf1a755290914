"""A table's optional columns (``Breakdown.optional_columns``): which source gives each, the
query that asks them, and their figures joined to the printed rows.

They are asked apart from the table (an optional query, like the previous period's rows), so
that a source without them, or whose answer fails, costs the columns, never the table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kpireport.data import DataNote, Granularity, MetricSpec, Order, Query
from kpireport.kpis import KpiDefinition

if TYPE_CHECKING:
    from kpireport.config.models import KpiRef
    from kpireport.pipeline.fetch import FetchResult
    from kpireport.pipeline.plan import KpiBinding, PerSource
    from kpireport.sources import Source

COLUMN_ROWS = 2
"""The columns' query asks this many times the printed rows, in the table's order: a printed
row is among them even when a source breaks ties in its ranking metric another way; and the
query keeps a shape of its own, never merged with the table's (whose failure would then be
the table's)."""


def column_sources(definition: KpiDefinition, ref: KpiRef, metric_sources: Mapping[str, str],
                   specs: Mapping[str, Mapping[str, MetricSpec]],
                   broken: set[str]) -> dict[str, str]:
    """Optional column → the source that gives it: the one the client names for it (or for
    the whole KPI), else the source of the table's ranking metric, else the only other
    source offering it. A column no source offers, or several others would, is left out."""
    breakdown = definition.breakdown
    if breakdown is None:
        return {}
    out = {}
    for metric in breakdown.optional_columns:
        named = ref.source.get(metric) if isinstance(ref.source, dict) else ref.source
        if named is not None:
            candidates = [named]
        else:
            ranking = metric_sources.get(breakdown.metric)
            offering = [s for s, offered in specs.items() if metric in offered]
            candidates = [ranking] if ranking in offering else offering
        if len(candidates) == 1 and (chosen := candidates[0]) is not None \
                and chosen not in broken and metric in specs.get(chosen, {}):
            out[metric] = chosen
    return out


def drop_refused(binding: KpiBinding, sources: Mapping[str, Source], today: dt.date) -> None:
    """Leave out the optional columns whose source says it cannot answer their query (a
    dimension it does not split by): asked only of a source that can give them."""
    from kpireport.periods import resolve

    if not binding.column_sources:
        return
    rng = resolve("last-month", today).range
    for source, query in columns_queries(binding, rng, (), 0).items():
        if source not in sources:
            continue
        try:
            refusal = sources[source].capabilities().refusal(query)
        except Exception:  # a plugin's bug: its capabilities are reported by validate
            refusal = "unknown"
        if refusal is not None:
            binding.column_sources = {m: s for m, s in binding.column_sources.items()
                                      if s != source}


def columns_queries(binding: KpiBinding, rng: Any, order: tuple[Order, ...],
                    limit: int) -> PerSource:
    """One query per source of the optional columns: its columns (and the metrics the table
    is ordered by, when that source gives them, so that it keeps the same top rows) over the
    table's dimensions and range."""
    breakdown = binding.definition.breakdown
    assert breakdown is not None
    out: PerSource = {}
    for source in dict.fromkeys(binding.column_sources.values()):
        metrics = tuple(m for m, s in binding.column_sources.items() if s == source)
        ranked = order and all(binding.metric_sources.get(o.metric) == source for o in order)
        top: dict[str, Any] = {}
        if ranked:
            metrics = (*dict.fromkeys(o.metric for o in order), *metrics)
            top = {"order": order, "limit": limit * COLUMN_ROWS}
        out[source] = Query(metrics=metrics, range=rng, dimensions=breakdown.dimensions,
                            granularity=Granularity.TOTAL, filters=binding.filters, **top)
    return out


def fill_columns(binding: KpiBinding, queries: PerSource, rows: list[dict[str, Any]],
                 fetched: FetchResult,
                 answered_by: Mapping[tuple[str, Query], Query] | None = None
                 ) -> list[DataNote]:
    """Put each optional column's figure in the printed rows, and return the notes about
    them. A column whose source gave nothing (an error, a snapshot taken before it was asked)
    or no figure for any printed row is left out of the rows, so that the table prints
    without it rather than with a column of dashes. A row the answer does not list has 0
    when the answer is complete (shorter than asked), None otherwise."""
    breakdown = binding.definition.breakdown
    assert breakdown is not None
    dims = breakdown.dimensions
    notes: list[DataNote] = []
    for source, query in queries.items():
        asked = query
        if answered_by is not None:
            asked = answered_by.get((source, query), query)
        table = fetched.table(source, asked)
        if table is None:
            continue
        complete = asked.limit is None or len(table.rows) < asked.limit
        columns = [m for m, s in binding.column_sources.items() if s == source]
        by_key = {tuple(r.get(d) for d in dims): r for r in table.rows}
        for metric in columns:
            values = []
            for row in rows:
                found = by_key.get(tuple(row.get(d) for d in dims))
                values.append(found.get(metric) if found is not None
                              else 0.0 if complete else None)
            if all(v is None for v in values):
                continue  # the source has no such figure for these rows: no column
            for row, value in zip(rows, values, strict=True):
                row[metric] = value
            notes.extend(n for n in table.notes if metric in n.metrics)
    return notes


def attribution(binding: KpiBinding, rows: list[dict[str, Any]],
                specs: Mapping[str, Mapping[str, MetricSpec]], language: str) -> dict[str, str]:
    """Each printed optional column → how its source credits it to a row split by the
    table's dimensions (the first the source words), in ``language`` (else English)."""
    breakdown = binding.definition.breakdown
    if breakdown is None:
        return {}
    out = {}
    for metric, source in binding.column_sources.items():
        spec = specs.get(source, {}).get(metric)
        if spec is None or not any(metric in row for row in rows):
            continue
        for dimension in breakdown.dimensions:
            if words := spec.attribution.get(dimension):
                text = (words.get(language) or words.get(language.split("_")[0])
                        or words.get("en", ""))
                if text:
                    out[metric] = text.strip().rstrip(".")
                break
    return out
