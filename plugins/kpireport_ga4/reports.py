"""One query as GA4 ``RunReportRequest`` bodies, and GA4's replies as kpireport's rows and
notes. Pure functions: no network, so each is tested on its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kpireport import DataNote, Filter, Granularity, NoteKind, Operator, Query, SourceError
from kpireport_ga4.vocabulary import DIMENSIONS, Ga4Metric

MAX_METRICS = 10
"""GA4 refuses a request of more metrics: a query needing more is asked in parts."""
TIME_DIMENSION = {Granularity.DAY: "date", Granularity.MONTH: "yearMonth"}
_SECONDS = {"TYPE_SECONDS": 1.0, "TYPE_MILLISECONDS": 0.001, "TYPE_MINUTES": 60.0,
            "TYPE_HOURS": 3600.0}


def api_metrics(query: Query, offered: Mapping[str, Ga4Metric]) -> list[str]:
    """The GA4 metrics a query needs, each once, in the order its metrics name them."""
    out: list[str] = []
    for name in query.metrics:
        for api in offered[name].api:
            if api not in out:
                out.append(api)
    return out


def ordered_by_google(query: Query, offered: Mapping[str, Ga4Metric]) -> bool:
    """Whether GA4 itself can order and cut the query's rows (one request, every ordering
    metric a figure GA4 gives as is)."""
    return (bool(query.order) and len(api_metrics(query, offered)) <= MAX_METRICS
            and all(offered[o.metric].direct for o in query.order))


def request_bodies(query: Query, offered: Mapping[str, Ga4Metric], *,
                   page_size: int) -> list[dict[str, Any]]:
    """The RunReportRequests answering ``query`` over its whole range: one, or one per ten
    GA4 metrics when it needs more (joined again by :func:`join`)."""
    wanted = api_metrics(query, offered)
    chunks = [wanted[i:i + MAX_METRICS] for i in range(0, len(wanted), MAX_METRICS)]
    dimensions = []
    if time_dimension := TIME_DIMENSION.get(query.granularity):
        dimensions.append(time_dimension)
    dimensions += [DIMENSIONS[d] for d in query.dimensions]
    bodies = []
    for chunk in chunks:
        body: dict[str, Any] = {
            "dateRanges": [{"startDate": query.range.start.isoformat(),
                            "endDate": query.range.end.isoformat()}],
            "metrics": [{"name": m} for m in chunk],
            "limit": str(page_size),
            "returnPropertyQuota": True,
        }
        if dimensions:
            body["dimensions"] = [{"name": d} for d in dimensions]
        if query.filters:
            body["dimensionFilter"] = dimension_filter(query.filters)
        if ordered_by_google(query, offered):
            body["orderBys"] = [{"metric": {"metricName": offered[o.metric].api[0]},
                                 "desc": o.descending} for o in query.order]
            if query.limit is not None:
                body["limit"] = str(min(query.limit, page_size))
        bodies.append(body)
    return bodies


def dimension_filter(filters: Sequence[Filter]) -> dict[str, Any]:
    """kpireport's filters (all of which apply) as a GA4 FilterExpression."""
    expressions = [_expression(f) for f in filters]
    if len(expressions) == 1:
        return expressions[0]
    return {"andGroup": {"expressions": expressions}}


def _expression(f: Filter) -> dict[str, Any]:
    name = DIMENSIONS[f.dimension]
    if f.operator is Operator.IN:
        inner: dict[str, Any] = {"fieldName": name, "inListFilter": {
            "values": list(f.values), "caseSensitive": f.case_sensitive}}
    else:
        match_type = {Operator.EQUALS: "EXACT", Operator.CONTAINS: "CONTAINS",
                      Operator.REGEX: "PARTIAL_REGEXP"}[f.operator]
        inner = {"fieldName": name, "stringFilter": {
            "matchType": match_type, "value": f.values[0], "caseSensitive": f.case_sensitive}}
    expression = {"filter": inner}
    return {"notExpression": expression} if f.negate else expression


# --- Replies ---------------------------------------------------------------------------------


def parse_value(raw: Any, kind: str) -> float | None:
    """A metric value as ``metricHeaders`` type it (every value arrives as a string);
    durations in seconds."""
    if raw is None or raw == "":
        return None
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise SourceError(f"GA4 gave {raw!r} for a metric of type {kind}") from None
    return number * _SECONDS.get(kind, 1.0)


def parse_time(raw: str, granularity: Granularity) -> dt.date:
    """``YYYYMMDD`` (date) or ``YYYYMM`` (yearMonth)."""
    try:
        if granularity is Granularity.DAY:
            return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:8]))
        return dt.date(int(raw[:4]), int(raw[4:6]), 1)
    except (ValueError, IndexError):
        raise SourceError(f"GA4 gave {raw!r} as a {TIME_DIMENSION[granularity]}") from None


def rows_of(report: Mapping[str, Any], query: Query) -> dict[tuple[Any, ...], dict[str, Any]]:
    """A report's rows, keyed by their time and dimension values, each holding the GA4
    metrics by name (parsed by type)."""
    headers = [h.get("name") for h in report.get("dimensionHeaders") or []]
    metric_headers = [(h.get("name"), h.get("type", "TYPE_FLOAT"))
                      for h in report.get("metricHeaders") or []]
    time_dimension = TIME_DIMENSION.get(query.granularity)
    wanted = ([time_dimension] if time_dimension else []) + [DIMENSIONS[d]
                                                            for d in query.dimensions]
    missing = [w for w in wanted if w not in headers]
    if missing:
        raise SourceError(f"GA4's reply lacks the dimension {', '.join(missing)}")
    positions = [headers.index(w) for w in wanted]
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in report.get("rows") or []:
        dims = [v.get("value") for v in row.get("dimensionValues") or []]
        values = [v.get("value") for v in row.get("metricValues") or []]
        key_values: list[Any] = [dims[p] if p < len(dims) else None for p in positions]
        if time_dimension and key_values[0] is not None:
            key_values[0] = parse_time(str(key_values[0]), query.granularity)
        key = tuple(key_values)
        record = out.setdefault(key, {})
        for (name, kind), raw in zip(metric_headers, values, strict=False):
            record[name] = parse_value(raw, kind)
    return out


def join(reports: Sequence[Mapping[str, Any]], query: Query,
         offered: Mapping[str, Ga4Metric]) -> list[dict[str, Any]]:
    """The query's rows from its reports (several when its GA4 metrics came in parts)."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for report in reports:
        for key, values in rows_of(report, query).items():
            merged.setdefault(key, {}).update(values)
    time_key = {Granularity.DAY: "date", Granularity.MONTH: "month"}.get(query.granularity)
    rows = []
    for key, values in merged.items():
        row: dict[str, Any] = {}
        rest = list(key)
        if time_key:
            row[time_key] = rest.pop(0)
        for dim, value in zip(query.dimensions, rest, strict=True):
            row[dim] = value
        for metric in query.metrics:
            row[metric] = offered[metric].value(values)
        rows.append(row)
    return rows


def notes_of(report: Mapping[str, Any], query: Query) -> list[DataNote]:
    """What a report's metadata says about the figures: thresholding, sampling, the
    ``(other)`` row."""
    metadata = report.get("metadata") or {}
    metrics = query.metrics
    notes = []
    if metadata.get("subjectToThresholding"):
        notes.append(DataNote(
            kind=NoteKind.THRESHOLDED, metrics=metrics,
            message="Google Analytics withheld rows below its privacy thresholds (Google "
                    "signals or demographics): these figures may be lower than the real ones",
            translations=(("fr", "Google Analytics a masqué des lignes sous ses seuils de "
                                 "confidentialité (signaux Google ou données démographiques) : "
                                 "ces chiffres peuvent être inférieurs à la réalité"),)))
    samples = metadata.get("samplingMetadatas") or []
    if samples:
        read = sum(float(s.get("samplesReadCount") or 0) for s in samples)
        space = sum(float(s.get("samplingSpaceSize") or 0) for s in samples)
        share = f"{100 * read / space:.1f}" if space else "?"
        notes.append(DataNote(
            kind=NoteKind.SAMPLED, metrics=metrics, params=(("share", share),),
            message=f"Google Analytics sampled this data: computed from {share} % of the "
                    "events",
            translations=(("fr", f"Google Analytics a échantillonné ces données : calculées "
                                 f"sur {share} % des événements"),)))
    if metadata.get("dataLossFromOtherRow"):
        notes.append(DataNote(
            kind=NoteKind.OTHER, metrics=metrics,
            message="Too many distinct values for Google Analytics: part of the data is "
                    "grouped in an '(other)' row, so a breakdown misses some values",
            translations=(("fr", "Trop de valeurs distinctes pour Google Analytics : une "
                                 "partie des données est regroupée dans une ligne « (other) », "
                                 "la répartition en omet certaines"),)))
    return notes


def unique_notes(notes: Iterable[DataNote]) -> list[DataNote]:
    out: list[DataNote] = []
    for note in notes:
        if note not in out:
            out.append(note)
    return out
