"""What the sources returned for a report, stored as gzipped JSON so it can be rebuilt offline.

A snapshot holds the client's configuration as it was, the metrics each source offered, every
table the sources returned (rows and data notes), the sources' errors, the logos and the run's
clock. ``kpireport rerender`` computes and renders the report again from that alone: same
figures, no network, no credentials, even when the files or the API have moved on since.

Format 2 stores each table under the exact query the source was asked, and a report's plan
looks it up by that query. Format 1 stored them by the query's shape (its range, dimensions,
granularity and top N); :func:`tables_for` still answers a plan from one (:func:`upgrade_v1`).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kpireport.data import (
    Aggregation,
    DataNote,
    DateRange,
    Filter,
    Granularity,
    MetricSpec,
    MissingDays,
    NoteKind,
    Operator,
    Order,
    Query,
    Table,
    Unit,
)
from kpireport.delivery import atomic_write
from kpireport.errors import KpiReportError

FORMAT = 2
READABLE = (1, 2)


class SnapshotError(KpiReportError):
    exit_code = 2


def _date(value: Any) -> Any:
    return {"$date": value.isoformat()} if isinstance(value, dt.date) else value


def _undate(value: Any) -> Any:
    if isinstance(value, dict) and "$date" in value:
        return dt.date.fromisoformat(value["$date"])
    return value


def _query(query: Query) -> dict[str, Any]:
    return {"metrics": list(query.metrics), "start": query.range.start.isoformat(),
            "end": query.range.end.isoformat(), "dimensions": list(query.dimensions),
            "granularity": query.granularity.value,
            "filters": [{"dimension": f.dimension, "operator": f.operator.value,
                         "values": list(f.values), "negate": f.negate,
                         "case_sensitive": f.case_sensitive} for f in query.filters],
            "order": [[o.metric, o.descending] for o in query.order], "limit": query.limit}


def _unquery(data: dict[str, Any]) -> Query:
    rng = DateRange(start=dt.date.fromisoformat(data["start"]),
                    end=dt.date.fromisoformat(data["end"]))
    order = tuple(Order(metric=m, descending=d) for m, d in data.get("order", []))
    limit = data.get("limit")
    if top := data.get("top"):  # format 1: [metric, n], the n highest
        order, limit = (Order(metric=top[0]),), top[1]
    filters = tuple(Filter(dimension=f["dimension"], operator=Operator(f["operator"]),
                           values=tuple(f["values"]), negate=f["negate"],
                           case_sensitive=f["case_sensitive"])
                    for f in data.get("filters", []))
    return Query(metrics=tuple(data["metrics"]), range=rng,
                 dimensions=tuple(data["dimensions"]),
                 granularity=Granularity(data["granularity"]), filters=filters, order=order,
                 limit=limit)


def _note(note: DataNote) -> dict[str, Any]:
    return {"kind": note.kind.value, "message": note.message, "source": note.source,
            "dates": [d.isoformat() for d in note.dates],
            "translations": [list(pair) for pair in note.translations],
            "metrics": list(note.metrics), "params": [list(pair) for pair in note.params]}


def _unnote(data: dict[str, Any]) -> DataNote:
    return DataNote(kind=NoteKind(data["kind"]), message=data["message"],
                    source=data.get("source", ""),
                    dates=tuple(dt.date.fromisoformat(d) for d in data.get("dates", [])),
                    translations=tuple((lang, text) for lang, text in data.get("translations", [])),
                    metrics=tuple(data.get("metrics", [])),
                    params=tuple((key, value) for key, value in data.get("params", [])))


def dump(*, client: dict[str, Any], agency: dict[str, Any], defaults: dict[str, Any],
         period: str, now: dt.datetime, specs: dict[str, dict[str, MetricSpec]],
         tables: Mapping[tuple[str, Query], Table], errors: dict[str, str],
         logos: dict[str, str], brand: dict[str, Any] | None = None,
         sources_info: Mapping[str, Any] | None = None) -> bytes:
    """Serialise what a report was computed from (deterministic bytes for equal input).

    ``tables`` are keyed by (source, the query it was asked)."""
    payload = {
        "format": FORMAT,
        "period": period,
        "now": now.isoformat(),
        "agency": agency,
        "defaults": defaults,
        "client": client,
        "specs": {source: {name: _spec(s) for name, s in metrics.items()}
                  for source, metrics in specs.items()},
        "sources": {name: {"label": info.label, "missing_days": info.missing_days.value}
                    for name, info in (sources_info or {}).items()},
        "tables": [{"source": source, "query": _query(query),
                    "rows": [{k: _date(v) for k, v in row.items()} for row in table.rows],
                    "notes": [_note(n) for n in table.notes],
                    "currency": table.currency, "timezone": table.timezone}
                   for (source, query), table in tables.items()],
        "errors": errors,
        "logos": logos,
        "brand": brand or {},
    }
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
    return gzip.compress(text.encode("utf-8"), mtime=0)


def _spec(s: MetricSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"aggregation": s.aggregation.value, "weight": s.weight,
                           "numerator": s.numerator, "denominator": s.denominator,
                           "unit": s.unit.value}
    if s.attribution:  # only when worded: a snapshot of a source that says none is unchanged
        out["attribution"] = {d: dict(words) for d, words in s.attribution.items()}
    return out


def write(path: Path, data: bytes) -> None:
    atomic_write(path, data)


def load(path: Path) -> dict[str, Any]:
    """Read a snapshot back into plain data, tables and specs rebuilt."""
    try:
        payload = json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
    except FileNotFoundError:
        raise SnapshotError(f"{path}: no snapshot (was the report run with snapshots on?)") \
            from None
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"{path}: not a readable snapshot ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") not in READABLE:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise SnapshotError(f"{path}: snapshot format {found!r} is not "
                            f"{' or '.join(map(str, READABLE))}")
    try:
        return _rebuild(payload)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SnapshotError(f"{path}: a damaged snapshot ({type(exc).__name__}: {exc})") \
            from None


def _rebuild(payload: dict[str, Any]) -> dict[str, Any]:
    tables: dict[tuple[str, Query], Table] = {}
    for item in payload["tables"]:
        query = _unquery(item["query"])
        rows = [{k: _undate(v) for k, v in row.items()} for row in item["rows"]]
        # Format 1 stored the table's own query; format 2 the query asked (the same query
        # when the source answers what it is asked).
        tables[(item["source"], query)] = Table(query=query, rows=rows,
                                                notes=[_unnote(n) for n in item["notes"]],
                                                currency=item.get("currency"),
                                                timezone=item.get("timezone"))
    payload["tables"] = tables
    payload["specs"] = {
        source: {name: MetricSpec(name=name, aggregation=Aggregation(s["aggregation"]),
                                  weight=s.get("weight"),
                                  numerator=s.get("numerator"), denominator=s.get("denominator"),
                                  unit=Unit(s.get("unit", "count")),
                                  attribution=s.get("attribution") or {})
                 for name, s in metrics.items()}
        for source, metrics in payload["specs"].items()}
    payload["now"] = dt.datetime.fromisoformat(payload["now"])
    from kpireport.pipeline.plan import SourceInfo

    payload["sources_info"] = {
        name: SourceInfo(label=info["label"], missing_days=MissingDays(info["missing_days"]))
        for name, info in payload.get("sources", {}).items()}
    return payload


def tables_for(snapshot: Mapping[str, Any], asks: Mapping[str, Iterable[Query]]
               ) -> dict[tuple[str, Query], Table]:
    """The snapshot's tables keyed by the queries a plan asks (``asks``: source → queries).

    A format-2 snapshot already is; a format-1 one is upgraded for these queries."""
    tables = snapshot["tables"]
    if snapshot.get("format", FORMAT) == 1:
        return upgrade_v1(tables, asks)
    return dict(tables)


def upgrade_v1(tables: Mapping[tuple[str, Query], Table], asks: Mapping[str, Iterable[Query]]
               ) -> dict[tuple[str, Query], Table]:
    """Format-1 tables keyed by the queries asked now.

    Format 1 was read by the query's shape: a table answers a query of the same range,
    dimensions, granularity and top N. A monthly series an older version stored over another
    range (month-to-date reports' series used to start a month later) gives its months within
    the range asked, rather than none."""
    by_shape = {(source, query.shape()): table for (source, query), table in tables.items()}
    out: dict[tuple[str, Query], Table] = {}
    for source, queries in asks.items():
        for query in queries:
            found = by_shape.get((source, query.shape()))
            if found is None and query.granularity is Granularity.MONTH:
                found = _months_from_another_range(tables, source, query)
            if found is not None:
                out[(source, query)] = found
    return out


def _months_from_another_range(tables: Mapping[tuple[str, Query], Table], source: str,
                               query: Query) -> Table | None:
    best, overlap = None, 0
    for (name, _), table in tables.items():
        q = table.query
        if (name != source or q.granularity is not Granularity.MONTH or q.limit is not None
                or q.dimensions != query.dimensions
                or not set(query.metrics) <= set(q.metrics)):
            continue
        days = (min(q.range.end, query.range.end) - max(q.range.start, query.range.start)).days
        if days > overlap:
            best, overlap = table, days
    if best is None:
        return None
    rng = query.range
    return Table(query=query, rows=[r for r in best.rows if rng.start <= r["month"] <= rng.end],
                 notes=best.notes)


def prune(folder: Path, keep: int) -> list[Path]:
    """Keep the snapshots of the ``keep`` latest periods (by their last day) in a client's
    folder; return the deleted ones. A file whose name is no period's key is left alone."""
    from kpireport.periods import PeriodError, from_key

    dated = []
    for path in folder.glob("*.json.gz"):
        try:
            period = from_key(path.name.removesuffix(".json.gz"))
        except PeriodError:
            continue
        dated.append(((period.end, period.start), path))
    dated.sort()
    doomed = [path for _, path in dated[:-keep]] if keep > 0 else []
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed
