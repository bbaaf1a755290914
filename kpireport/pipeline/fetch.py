"""Stage 2, fetch: the plan's queries answered, by the sources or from a stored snapshot.

A :class:`Fetcher` answers a :class:`~kpireport.pipeline.plan.ReportPlan` with a
:class:`FetchResult`: the tables keyed by the exact queries the plan asks, and the sources
that failed. :class:`LiveFetcher` asks the sources; :class:`SnapshotFetcher` reads what an
earlier run stored (see :mod:`kpireport.snapshots`), so a report can be rebuilt offline.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from kpireport import snapshots
from kpireport.data import DataNote, MetricSpec, NoteKind, Query, Table, Unit
from kpireport.errors import PluginError, SourceError
from kpireport.pipeline.plan import ClientPlan, ReportPlan
from kpireport.secrets import redact
from kpireport.sources import Source

log = logging.getLogger(__name__)

TableKey = tuple[str, Query]
"""(source name, the exact query it was asked)."""


@dataclass
class FetchResult:
    tables: dict[TableKey, Table] = field(default_factory=dict)
    """By (source, query asked): the plan's merged queries, or a KPI's own."""
    errors: dict[str, str] = field(default_factory=dict)
    """Source name → why it could not be read (its first error, a fatal one if any), in the
    source's words: who it was is said where it is reported, by its label."""
    usage: dict[str, dict[str, str]] = field(default_factory=dict)
    """Source name → the quota figures it reported (``"120/200000"``)."""

    def table(self, source: str, query: Query) -> Table | None:
        return self.tables.get((source, query))


class Fetcher(Protocol):
    """Answers every query a report plan asks."""

    def fetch(self, plan: ReportPlan) -> FetchResult: ...


@dataclass(frozen=True, kw_only=True)
class Normalise:
    """What the engine makes of every table before anyone reads it: the client's currency
    and time zone, the rates into that currency, and each source's label and metrics."""

    currency: str
    timezone: str
    rates: Mapping[str, float]
    labels: Mapping[str, str]
    specs: Mapping[str, Mapping[str, MetricSpec]]


def ask_sources(sources: Mapping[str, Source], asks: Mapping[str, Sequence[Query]],
                norm: Normalise, optional: Collection[tuple[str, Query]] = ()) -> FetchResult:
    """Every source's queries at once (``fetch_many``), the sources concurrently: a report's
    fetch takes about as long as its slowest source. A source's error costs its own queries
    (all of them after a fatal one); a source breaking the contract fails the report.
    An ``optional`` query's error (a table's previous period, which only adds its changes)
    is logged, not held against its source."""
    result = FetchResult()
    fatal: set[str] = set()  # sources whose recorded error is a fatal one
    work = [(name, sources[name], list(queries)) for name, queries in asks.items() if queries]
    if not work:
        return result
    with ThreadPoolExecutor(max_workers=len(work), thread_name_prefix="kpireport-fetch") as pool:
        futures = [(name, source, pool.submit(_answers, source, queries))
                   for name, source, queries in work]
        for name, source, future in futures:  # in plan order, so the outcome is stable
            answers = future.result()
            for query, answer in answers.items():
                if isinstance(answer, SourceError):
                    answer.source = name
                    if (name, query) in optional and not answer.fatal:
                        log.info("%s: optional query not answered: %s", name,
                                 redact(_worded(answer)))
                        continue
                    # Its first error, unless a fatal one (what stopped it) comes later.
                    if name not in result.errors or (answer.fatal and name not in fatal):
                        result.errors[name] = redact(_worded(answer))
                        if answer.fatal:
                            fatal.add(name)
                    continue
                result.tables[(name, query)] = _normalise(name, query, answer, norm)
            if usage := source.context.usage:
                result.usage[name] = {quota: str(u) for quota, u in sorted(usage.items())}
    return result


def _worded(error: SourceError) -> str:
    """The error's message, with when to ask again when the API said so."""
    if error.retry_after is None:
        return str(error)
    wait = error.retry_after
    when = f"{wait / 3600:.1f} h" if wait >= 3600 else f"{wait / 60:.0f} min" if wait >= 60 \
        else f"{wait:.0f} s"
    return f"{error} (it can be asked again in {when})"


def probe_sources(sources: Mapping[str, Source]) -> dict[str, BaseException | None]:
    """Each source's :meth:`~kpireport.sources.Source.probe`, the sources concurrently (as a
    report fetches them): None when it answered, else what it raised (the contract's error,
    or the exception a plugin let through, for the caller to name)."""
    if not sources:
        return {}

    def probe(source: Source) -> BaseException | None:
        try:
            source.probe()
        except Exception as exc:  # any failure is this source's outcome, not the command's
            if not isinstance(exc, SourceError):
                log.info("source plugin %r failed its probe", source.name, exc_info=True)
            return exc
        return None

    with ThreadPoolExecutor(max_workers=len(sources), thread_name_prefix="kpireport-probe") as pool:
        futures = {name: pool.submit(probe, source) for name, source in sources.items()}
        return {name: future.result() for name, future in futures.items()}


def _answers(source: Source, queries: list[Query]) -> dict[Query, Table | SourceError]:
    """The source's answer to each query; a plugin's bug becomes an error naming it."""
    try:
        answers = dict(source.fetch_many(queries))
    except SourceError as exc:  # a fetch_many of its own that raised: all its queries
        return dict.fromkeys(queries, exc)
    except Exception as exc:  # a plugin bug: reported by name, the other sources go on
        log.warning("source plugin %r failed", source.name, exc_info=True)
        error = SourceError(f"source plugin {source.name!r} failed: {exc!r}")
        return dict.fromkeys(queries, error)
    missing = [q for q in queries if q not in answers]
    for query in missing:
        answers[query] = SourceError(f"source plugin {source.name!r} gave no answer to a "
                                     f"query ({query.granularity.value} of "
                                     f"{', '.join(query.metrics)} over {query.range})")
    for query, answer in answers.items():
        if isinstance(answer, Table) and not query.dimensions and \
                query.granularity.value == "total" and len(answer.rows) > 1:
            # A second row would silently replace the first: a wrong figure delivered.
            raise PluginError(f"source plugin {source.name!r} broke the contract: it gave "
                              f"{len(answer.rows)} rows for a total of "
                              f"{', '.join(query.metrics)} over {query.range} without "
                              "dimensions, where one row (or none) is the answer")
    return answers


def _normalise(name: str, query: Query, table: Table, norm: Normalise) -> Table:
    """The table in the client's currency where a rate allows, with a note where it does not,
    and a note when its days are another time zone's."""
    notes = list(table.notes)
    label = norm.labels.get(name, name)
    if table.timezone and table.timezone != norm.timezone:
        notes.append(DataNote(kind=NoteKind.TIMEZONE, source=name,
                              params=(("timezone", table.timezone),),
                              message=f"{label} counts days in {table.timezone} time, the "
                                      f"report in {norm.timezone} time"))
    rows = table.rows
    currency = table.currency
    specs = norm.specs.get(name, {})
    money = [m for m in query.metrics if m in specs and specs[m].unit is Unit.CURRENCY]
    if currency and currency != norm.currency and money:
        rate = norm.rates.get(currency)
        if rate is not None:
            rows = [{**row, **{m: row[m] * rate for m in money if row.get(m) is not None}}
                    for row in rows]
            notes.append(DataNote(kind=NoteKind.CURRENCY, source=name, metrics=tuple(money),
                                  params=(("currency", currency), ("rate", f"{rate:g}")),
                                  message=f"{label} gives amounts in {currency}: converted "
                                          f"into {norm.currency} at {rate:g}"))
            currency = norm.currency
        else:
            notes.append(DataNote(kind=NoteKind.CURRENCY, source=name, metrics=tuple(money),
                                  params=(("currency", currency),),
                                  message=f"{label} gives amounts in {currency}, shown in "
                                          f"{currency}: no rate into {norm.currency} is "
                                          "configured (exchange_rates)"))
    if rows is table.rows and notes == table.notes:
        return table
    return replace(table, rows=rows, notes=notes, currency=currency)


def normalise_for(plan: ReportPlan | ClientPlan) -> Normalise:
    return Normalise(currency=plan.currency, timezone=plan.timezone, rates=plan.exchange_rates,
                     labels={name: info.label for name, info in plan.sources_info.items()},
                     specs=plan.specs)


class LiveFetcher:
    """Asks the plan's sources their merged queries: one call serves every KPI of a shape."""

    def fetch(self, plan: ReportPlan) -> FetchResult:
        return ask_sources(plan.sources, plan.asks, normalise_for(plan), plan.optional)


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
