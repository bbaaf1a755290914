"""Stage 2, fetch: the plan's queries answered, by the sources or from a stored snapshot.

A :class:`Fetcher` answers a :class:`~kpireport.pipeline.plan.ReportPlan` with a
:class:`FetchResult`: the tables keyed by the exact queries the plan asks, and the sources
that failed. :class:`LiveFetcher` asks the sources; :class:`SnapshotFetcher` reads what an
earlier run stored (see :mod:`kpireport.snapshots`), so a report can be rebuilt offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kpireport import snapshots
from kpireport.data import Query, Table
from kpireport.errors import KpiReportError
from kpireport.pipeline.plan import ReportPlan
from kpireport.secrets import redact
from kpireport.sources import Source

TableKey = tuple[str, Query]
"""(source name, the exact query it was asked)."""


@dataclass
class FetchResult:
    tables: dict[TableKey, Table] = field(default_factory=dict)
    """By (source, query asked): the plan's merged queries, or a KPI's own."""
    errors: dict[str, str] = field(default_factory=dict)
    """Source name → why it could not be read (its first error)."""

    def table(self, source: str, query: Query) -> Table | None:
        return self.tables.get((source, query))


class Fetcher(Protocol):
    """Answers every query a report plan asks."""

    def fetch(self, plan: ReportPlan) -> FetchResult: ...


def ask(source: Source, query: Query) -> Table:
    """One query of one source; a plugin's bug becomes a :class:`KpiReportError` naming it."""
    try:
        return source.fetch(query)
    except KpiReportError:
        raise
    except Exception as exc:  # a plugin bug: report it by name, keep the others
        raise KpiReportError(f"source plugin {type(source).__name__} failed: {exc!r}") from exc


class LiveFetcher:
    """Asks the plan's sources their merged queries: one call serves every KPI of a shape."""

    def fetch(self, plan: ReportPlan) -> FetchResult:
        result = FetchResult()
        for source_name, queries in plan.asks.items():
            source = plan.sources[source_name]
            for query in queries:
                try:
                    result.tables[(source_name, query)] = ask(source, query)
                except KpiReportError as exc:
                    result.errors.setdefault(source_name, redact(str(exc)))
        return result


class SnapshotFetcher:
    """Answers from a snapshot (:func:`kpireport.snapshots.load`): the tables stored for the
    same queries, and the errors of the run that took it. Nothing is asked of any source."""

    def __init__(self, snapshot: Mapping[str, Any]) -> None:
        self.snapshot = snapshot

    def fetch(self, plan: ReportPlan) -> FetchResult:
        stored = snapshots.tables_for(self.snapshot, plan.asks)
        result = FetchResult(errors=dict(self.snapshot["errors"]))
        for source_name, queries in plan.asks.items():
            for query in queries:
                if (table := stored.get((source_name, query))) is not None:
                    result.tables[(source_name, query)] = table
        return result
