"""Answering a query from frames: the tables and exports the source holds, whatever their file.

A :class:`Frame` is rows at one grain: by day (``date``), by calendar month (``month``), or one
total for a fixed range (a Search Console dimension file). Each metric of a query is answered by
the frame that fits best; the rows of the chosen frames are joined on (time key, dimensions).

Additive components (sums, weighted means, ratios of sums) can be combined into any bucket with
``aggregate_rows``. Distinct counts cannot: they are read only where the frame's bucket is
exactly the bucket asked (a day, a calendar month) and its dimensions exactly those asked.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any

from kpireport.data import (
    Aggregation,
    DataNote,
    DateRange,
    Granularity,
    MetricSpec,
    NoteKind,
    Query,
    Table,
    aggregate_rows,
    filter_rows,
    order_rows,
    time_key,
)
from kpireport.errors import SourceError

DAY, MONTH, TOTAL = Granularity.DAY, Granularity.MONTH, Granularity.TOTAL


class Grain(IntEnum):
    """What one row of a frame covers; the order is the preference between equal frames."""

    DAY = 0
    MONTH = 1
    RANGE = 2


def _no_span() -> DateRange | None:
    return None


@dataclass(eq=False)
class Frame:
    """Rows at one grain with fixed dimensions and metric columns, loaded on first use.

    ``times`` gives the days (or month starts) that have rows; ``span`` the fixed range of a
    ``RANGE`` frame. ``rank`` is the configuration order, which breaks ties.
    """

    label: str
    grain: Grain
    dimensions: tuple[str, ...]
    columns: frozenset[str]
    rows: Callable[[], list[dict[str, Any]]]
    times: Callable[[], set[dt.date]] = set
    span: Callable[[], DateRange | None] = _no_span
    rank: int = 0
    provisional_from: dt.date | None = None
    """The first day whose figures the source may still revise (Search Console's last days)."""
    _by_time: dict[str, tuple[list[dt.date], list[dict[str, Any]]]] = field(
        default_factory=dict, init=False, repr=False)
    _sorted_times: list[dt.date] | None = field(default=None, init=False, repr=False)
    monthly_exports: bool = False
    """Rows united from exports of one calendar month each (a month's top queries): they
    answer monthly series and, summed, a total filtered on their dimension over several whole
    months (a quarter's branded clicks); a month's total is asked of the month's export
    itself, so that a missing export is an error; and only by exactly their dimension (the
    listed queries do not add up to the month's total)."""
    timezone: str | None = None
    """The time zone whose days the rows count, when the file's maker says so (Search
    Console's are Pacific time); None: the client's."""
    blanks: Callable[[], Mapping[str, list[dt.date]]] = dict
    """Per metric column, the sorted times of the rows whose cell is blank (for a weighted
    mean, only where its weight is not zero: a mean over nothing is blank by right)."""

    def rows_in(self, column: str, rng: DateRange) -> list[dict[str, Any]]:
        """The rows whose ``column`` falls in ``rng``: a report asks a frame for a dozen ranges
        (the month, its comparisons, thirteen months of series), so rows are sorted once."""
        if column not in self._by_time:
            ordered = sorted(self.rows(), key=lambda row: row[column])
            self._by_time[column] = ([row[column] for row in ordered], ordered)
        times, ordered = self._by_time[column]
        return ordered[bisect_left(times, rng.start):bisect_right(times, rng.end)]

    def sorted_times(self) -> list[dt.date]:
        """``times()`` in order, sorted once."""
        if self._sorted_times is None:
            self._sorted_times = sorted(self.times())
        return self._sorted_times

    def offers(self, spec: MetricSpec) -> bool:
        """Whether the metric can be computed from this frame's columns (for some bucket)."""
        return all(part in self.columns for part in spec.components())

    def fits(self, spec: MetricSpec, dimensions: Sequence[str]) -> bool:
        """Whether the frame has the dimensions asked; extra ones can be summed away only for
        additive components, and a fixed-range total is exactly as exported."""
        asked, have = set(dimensions), set(self.dimensions)
        if (spec.aggregation is Aggregation.DISTINCT or self.grain is Grain.RANGE
                or self.monthly_exports):
            return asked == have
        return asked <= have

    def serves(self, spec: MetricSpec, query: Query) -> bool:
        """Whether the frame can give the metric for the query's buckets."""
        g, rng = query.granularity, query.range
        distinct = spec.aggregation is Aggregation.DISTINCT
        if self.grain is Grain.DAY:
            return not distinct or g is DAY or (g is TOTAL and rng.days == 1)
        if self.grain is Grain.MONTH:
            months = whole_months(rng)
            if g is MONTH:
                return bool(months)
            return (g is TOTAL and bool(months) and months[0] == rng.start
                    and month_end(months[-1]) == rng.end and (not distinct or len(months) == 1))
        return g is TOTAL and self.span() == rng

    def shape(self) -> str:
        """Its grain and dimensions in words ("by day, split by channel")."""
        grain = {Grain.DAY: "by day", Grain.MONTH: "by month",
                 Grain.RANGE: "one total for the export's range"}[self.grain]
        split = f", split by {', '.join(self.dimensions)}" if self.dimensions else ""
        return f"{grain}{split}"

    def describe(self) -> str:
        return f"{self.label} ({self.shape()})"


def answer(query: Query, frames: Sequence[Frame], specs: Mapping[str, MetricSpec],
           source: str) -> Table:
    """Answer ``query`` from ``frames``; raise SourceError when no frame has a metric at all."""
    notes: list[DataNote] = []
    plan: dict[int, tuple[Frame, list[str]]] = {}
    metrics = list(dict.fromkeys(query.metrics))
    # A filter's dimension must be in the table too (its rows are summed away after).
    wanted = tuple(dict.fromkeys([*query.dimensions, *(f.dimension for f in query.filters)]))
    for metric in metrics:
        spec = specs.get(metric)
        holders = [f for f in frames if spec is not None and f.offers(spec)]
        if spec is None or not holders:
            offered = sorted(s.name for s in specs.values() if any(f.offers(s) for f in frames))
            raise SourceError(f"no table or export offers metric {metric!r} "
                              f"(offered: {', '.join(offered) or 'none'})")
        candidates = sorted(
            (f for f in holders if f.fits(spec, wanted)
             and (not f.monthly_exports or query.granularity is MONTH
                  or _summed_months(query))),
            key=lambda f: (len(f.dimensions) - len(query.dimensions), f.grain, f.rank))
        if not candidates:
            raise SourceError(_no_dimensions(spec, query, holders))
        # Of the tables that can answer, the one with the most of the range (a monthly
        # history for last year's months, the daily table for this month); the usual order
        # on a tie.
        chosen = max((f for f in candidates if f.serves(spec, query)),
                     key=lambda f: _coverage(f, query.range), default=None)
        if chosen is None:
            exports_only = all(f.grain is Grain.RANGE for f in candidates)
            # Exports of shorter ranges inside the one asked (a quarter's top queries from
            # monthly exports), or a series by day or month of what exports give only as
            # totals (branded clicks, summed from the queries table): that figure is
            # unavailable, the rest of the report stands. Otherwise the export for the range
            # is missing or of another range: an error, so that the run fails and the agency
            # exports it.
            # A total filtered on the queries table (branded clicks) is a figure, not the
            # table: its comparisons (last year's, before the first export) are noted
            # missing rather than failing the report.
            filtered_total = any(f.dimension not in query.dimensions for f in query.filters)
            if exports_only and query.granularity is TOTAL and not filtered_total and not any(
                    (span := f.span()) is not None and query.range.start <= span.start
                    and span.end <= query.range.end and span != query.range
                    for f in candidates):
                raise SourceError(_no_range(spec, query, candidates))
            message = (_no_range(spec, query, candidates) if exports_only
                       else _unavailable(spec, query, candidates))
            notes.append(DataNote(kind=NoteKind.UNAVAILABLE, message=message, source=source,
                                  metrics=(metric,)))
            continue
        plan.setdefault(id(chosen), (chosen, []))[1].append(metric)
    parts = []
    for frame, names in plan.values():
        rows, frame_notes = _frame_rows(frame, names, specs, query, source)
        parts.append((rows, names))
        # A frame's gaps concern the metrics it gave, not those another frame gave.
        notes.extend(n if n.metrics else replace(n, metrics=tuple(names)) for n in frame_notes)
    # Export rows stay in the rank Google gives them (clicks, then impressions): an order by
    # clicks keeps that rank among ties, where sorting by value would list them alphabetically.
    ranked = bool(plan) and all(frame.grain is Grain.RANGE for frame, _ in plan.values())
    rows = _join(parts, metrics, query, keep_order=ranked)
    if query.order:
        rows = order_rows(rows, query.order, query.limit)
    zones = {frame.timezone for frame, _ in plan.values()}
    timezone = zones.pop() if len(zones) == 1 else None
    return Table(query=query, rows=rows, notes=list(dict.fromkeys(notes)), timezone=timezone)


# --- Rows of one frame ------------------------------------------------------------------------


def _frame_rows(frame: Frame, metrics: list[str], specs: Mapping[str, MetricSpec],
                query: Query, source: str) -> tuple[list[dict[str, Any]], list[DataNote]]:
    tkey = time_key(query.granularity)
    summed_away = [f.dimension for f in query.filters if f.dimension not in query.dimensions]
    if summed_away and any(specs[m].aggregation is Aggregation.DISTINCT for m in metrics):
        raise SourceError(f"{frame.label}: a distinct count cannot be filtered on "
                          f"{', '.join(summed_away)} without being split by it")
    if frame.grain is Grain.RANGE:
        kept = filter_rows(frame.rows(), query.filters)
        if not summed_away:
            return [_pick(row, None, tkey, metrics, specs, query) for row in kept], []
        # An export's rows (one per query, say) kept by the filters, summed into the buckets
        # asked: as if they were the rows of the export's first day.
        span = frame.span()
        assert span is not None  # a fixed-range frame has its range
        day = DateRange(start=span.start, end=span.start)
        sub = Query(metrics=tuple(metrics), range=day, dimensions=query.dimensions)
        return aggregate_rows([{**row, "__day": span.start} for row in kept], specs, sub,
                              date_key="__day"), []
    notes: list[DataNote] = []
    if frame.grain is Grain.DAY:
        column, rng = "date", query.range
        notes.extend(_missing_days(frame, rng, source))
        notes.extend(_provisional_days(frame, rng, source))
    else:
        column = "month"
        months = whole_months(query.range)
        rng = DateRange(start=months[0], end=month_end(months[-1]))
        notes.extend(_month_notes(frame, metrics, query, months, source))
    notes.extend(_blank_cells(frame, column, rng, metrics, specs, source))
    additive = tuple(m for m in metrics if specs[m].aggregation is not Aggregation.DISTINCT)
    distinct = [m for m in metrics if specs[m].aggregation is Aggregation.DISTINCT]
    rows: list[dict[str, Any]] = []
    if additive:
        sub = Query(metrics=additive, range=rng, dimensions=query.dimensions,
                    granularity=query.granularity, filters=query.filters)
        rows.extend(aggregate_rows(frame.rows_in(column, rng), specs, sub, date_key=column))
    if distinct:
        # Exact buckets only (checked by Frame.serves): each row already is the bucket asked.
        rows.extend(_pick(row, column, tkey, distinct, specs, query)
                    for row in filter_rows(frame.rows_in(column, rng), query.filters))
    return rows, notes


def _pick(row: Mapping[str, Any], column: str | None, tkey: str | None, metrics: list[str],
          specs: Mapping[str, MetricSpec], query: Query) -> dict[str, Any]:
    """One row as it is (no aggregation), with ratios computed from the row's own terms."""
    out: dict[str, Any] = {}
    if tkey and column:
        out[tkey] = row[column]
    for dim in query.dimensions:
        out[dim] = row.get(dim)
    for metric in metrics:
        spec = specs[metric]
        if spec.aggregation is Aggregation.RATIO:
            num, den = row.get(spec.numerator or ""), row.get(spec.denominator or "")
            out[metric] = num / den if num is not None and den else None
        else:
            out[metric] = row.get(metric)
    return out


def _join(parts: Iterable[tuple[list[dict[str, Any]], list[str]]], metrics: list[str],
          query: Query, keep_order: bool = False) -> list[dict[str, Any]]:
    """Rows of several frames joined on (time key, dimensions); a metric no frame gave is None.
    Sorted by those keys, or in the order the frames gave them with ``keep_order``."""
    tkey = time_key(query.granularity)
    keys = ([tkey] if tkey else []) + list(query.dimensions)
    joined: dict[tuple[Any, ...], dict[str, Any]] = {}
    for rows, names in parts:
        for row in rows:
            key = tuple(row.get(k) for k in keys)
            target = joined.get(key)
            if target is None:
                target = joined[key] = {k: row.get(k) for k in keys} | dict.fromkeys(metrics)
            for name in names:
                if name in row:
                    target[name] = row[name]
    if keep_order:
        return list(joined.values())
    return [joined[k] for k in sorted(joined, key=_sort_key)]


def _sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, "" if v is None else v) for v in key)


# --- Notes -----------------------------------------------------------------------------------


def _missing_days(frame: Frame, rng: DateRange, source: str) -> list[DataNote]:
    present = frame.times()
    missing = tuple(day for day in rng.iter_days() if day not in present)
    if not missing:
        return []
    return [DataNote(kind=NoteKind.MISSING_DAYS,
                     message=f"{frame.label} has no rows for {len(missing)} of the {rng.days} "
                             f"days of {rng}: {spans(missing)}", source=source, dates=missing)]


def _blank_cells(frame: Frame, column: str, rng: DateRange, metrics: list[str],
                 specs: Mapping[str, MetricSpec], source: str) -> list[DataNote]:
    """Days (or months) the frame has rows for, with a blank cell in a column the query reads.

    A total leaves a blank cell out, as it leaves out a day with no row: the reader must be
    told the same way. A ratio summed from its terms is off by that day too. A mean's cell is
    blank by right where its weight is zero (no deal won: no cycle length).
    """
    blanks = frame.blanks()
    if not blanks:
        return []
    blank: dict[dt.date, set[str]] = {}
    concerned: list[str] = []
    for metric in metrics:
        for name in specs[metric].components():
            times = blanks.get(name, ())
            for time in times[bisect_left(times, rng.start):bisect_right(times, rng.end)]:
                blank.setdefault(time, set()).add(name)
                if metric not in concerned:
                    concerned.append(metric)
    if not blank:
        return []
    names = ", ".join(sorted(set().union(*blank.values())))
    times = sorted(blank)
    if column == "month":
        days, when = _days_of(times), ", ".join(m.strftime("%Y-%m") for m in times)
    else:
        days, when = tuple(times), spans(times)
    return [DataNote(kind=NoteKind.MISSING_VALUES,
                     message=f"{frame.label} has blank cells ({names}) for {when}", source=source,
                     dates=days,
                     metrics=tuple(concerned))]


def _summed_months(query: Query) -> bool:
    """A total filtered on a table's dimension (branded clicks) over several whole months (a
    quarter, a year to date): the sum of each month's export, as the monthly chart shows it
    (a month without its export is noted, as in the chart)."""
    months = whole_months(query.range)
    return (query.granularity is TOTAL and not query.dimensions and len(months) > 1
            and months[0] == query.range.start and month_end(months[-1]) == query.range.end
            and any(f.dimension not in query.dimensions for f in query.filters))


def _coverage(frame: Frame, rng: DateRange) -> float:
    """The share of ``rng`` the frame has rows for (by day, or by month for a monthly one)."""
    if frame.grain is Grain.RANGE:
        return 1.0
    if frame.grain is Grain.DAY:
        times = frame.sorted_times()
        return (bisect_right(times, rng.end) - bisect_left(times, rng.start)) / rng.days
    months = months_touching(rng)
    present = frame.times()
    return sum(1 for m in months if m in present) / len(months)


def _provisional_days(frame: Frame, rng: DateRange, source: str) -> list[DataNote]:
    if frame.provisional_from is None or rng.end < frame.provisional_from:
        return []
    present = frame.times()
    days = tuple(d for d in rng.iter_days() if d >= frame.provisional_from and d in present)
    if not days:
        return []
    return [DataNote(kind=NoteKind.INCOMPLETE,
                     message=f"{frame.label}: the figures of {spans(days)} may "
                                          f"still be revised by the source", source=source,
                     dates=days)]


def _month_notes(frame: Frame, metrics: list[str], query: Query, months: list[dt.date],
                 source: str) -> list[DataNote]:
    notes = []
    present = frame.times()
    absent = [m for m in months if m not in present]
    if absent:
        days = _days_of(absent)
        listed = ", ".join(m.strftime("%Y-%m") for m in absent)
        notes.append(DataNote(kind=NoteKind.MISSING_DAYS,
                              message=f"{frame.label} has no row for {listed}", source=source,
                              dates=days))
    partial = [m for m in months_touching(query.range) if m not in months]
    if partial and query.granularity is MONTH:
        which = ", ".join(m.strftime("%Y-%m") for m in partial)
        notes.append(DataNote(kind=NoteKind.UNAVAILABLE,
                              message=f"{frame.label} gives {', '.join(metrics)} per calendar "
                                      f"month: {which} only partly inside {query.range} has no "
                                      f"value (a month's figure cannot be split into days)",
                              source=source))
    return notes


def _unavailable(spec: MetricSpec, query: Query, candidates: Sequence[Frame]) -> str:
    m, rng, g = spec.name, query.range, query.granularity
    found = "; ".join(f.describe() for f in candidates)
    if spec.aggregation is Aggregation.DISTINCT:
        head = f"{m} is a distinct count: it cannot be summed from days"
        if g is TOTAL:
            months = whole_months(rng)
            one = len(months) == 1 and months[0] == rng.start and month_end(months[0]) == rng.end
            need = (f"a value for {rng} needs a month table (a 'month' column) with {m} for "
                    f"{rng.start:%Y-%m}" if one else
                    f"it is available only for a single day or a whole calendar month, and "
                    f"{rng} is neither")
        elif g is MONTH:
            need = (f"no calendar month lies wholly inside {rng}"
                    if any(f.grain is Grain.MONTH for f in candidates) else
                    f"monthly values need a month table (a 'month' column) with {m}")
        else:
            need = f"daily values need a daily table (a 'date' column) with {m}"
    else:
        head = f"{m} is given per calendar month only"
        need = {DAY: "daily values need a daily table (a 'date' column)",
                MONTH: f"no calendar month lies wholly inside {rng}",
                TOTAL: f"{rng} does not start and end on calendar month boundaries"}[g]
    return f"{head}; {need} (found: {found})"


def _no_dimensions(spec: MetricSpec, query: Query, holders: Sequence[Frame]) -> str:
    asked = ", ".join(query.dimensions) or "no dimension"
    where = "; ".join(f.describe() for f in holders)
    message = f"no table has {spec.name!r} split by {asked} (it is in: {where})"
    if spec.aggregation is Aggregation.DISTINCT:
        message += (f"; a distinct count cannot be summed over dimension values, so it needs "
                    f"a table split by exactly {asked}")
    elif query.dimensions:
        message += f"; add a table with {spec.name} and a column for each of {asked}"
    return message


def _no_range(spec: MetricSpec, query: Query, candidates: Sequence[Frame]) -> str:
    ranges = sorted({(str(f.span() or "no dates"), f.label) for f in candidates})
    listing = "; ".join(f"{rng} ({label})" for rng, label in ranges)
    return (f"Search Console exports give {spec.name} by {', '.join(query.dimensions)} only as "
            f"one total for each export's own date range: {listing}; asked {query.range} "
            f"({query.granularity}). Export the Performance report for exactly {query.range}")


# --- Calendar helpers --------------------------------------------------------------------------


def _days_of(months: Iterable[dt.date]) -> tuple[dt.date, ...]:
    """Every day of these calendar months (given by their first days)."""
    return tuple(d for m in months for d in DateRange(start=m, end=month_end(m)).iter_days())


def month_end(month: dt.date) -> dt.date:
    nxt = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return nxt - dt.timedelta(days=1)


def months_touching(rng: DateRange) -> list[dt.date]:
    """First days of the calendar months that overlap the range."""
    out, cursor = [], rng.start.replace(day=1)
    while cursor <= rng.end:
        out.append(cursor)
        cursor = month_end(cursor) + dt.timedelta(days=1)
    return out


def whole_months(rng: DateRange) -> list[dt.date]:
    """First days of the calendar months lying wholly inside the range."""
    return [m for m in months_touching(rng) if m >= rng.start and month_end(m) <= rng.end]


def spans(days: Sequence[dt.date]) -> str:
    """Days as compact runs: ``2024-07-01..2024-07-05, 2024-07-09``."""
    runs: list[list[dt.date]] = []
    for day in sorted(days):
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in runs)
