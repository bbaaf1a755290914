"""The data that flows between sources, KPIs and the engine.

A source answers a :class:`Query` with a :class:`Table` of tidy rows. Every metric a source
offers is described by a :class:`MetricSpec`, whose :class:`Aggregation` says how values of
several days (or several dimension values) combine into one: this is what makes a monthly KPI
equal to what the source itself would report for the month.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property
from operator import itemgetter
from typing import Any


class Aggregation(StrEnum):
    """How a metric combines across days or dimension values."""

    SUM = "sum"
    """Additive: sessions, clicks, leads, revenue."""
    WEIGHTED_MEAN = "weighted_mean"
    """Mean weighted by another metric: position by impressions, session duration by sessions."""
    RATIO = "ratio"
    """Ratio of two additive metrics, computed from their sums: CTR = Σclicks / Σimpressions."""
    DISTINCT = "distinct"
    """Distinct count (unique visitors): never summed, asked of the source for the whole range."""


class Unit(StrEnum):
    """What a figure measures, which says how it is printed (and, for ``currency``, that it
    is an amount to convert when a source's currency is not the client's)."""

    COUNT = "count"
    CURRENCY = "currency"
    PERCENT = "percent"
    """Stored as a fraction (0.034), shown as 3.4 %."""
    DURATION = "duration"
    """Seconds (or days when the KPI's ``duration_unit`` says so)."""
    POSITION = "position"
    RATIO = "ratio"
    """A multiple, such as ROAS 3.2×."""
    NUMBER = "number"


RELATIVE_UNITS = frozenset({Unit.COUNT, Unit.CURRENCY})
"""The units whose changes are told as a percentage: counts and amounts. A rate changes in
percentage points, a position in places, a duration in seconds or minutes, a ratio or an
average by its own difference: "+20 %" of a 2 % conversion rate would read as 22 %."""


class Granularity(StrEnum):
    DAY = "day"
    MONTH = "month"
    TOTAL = "total"


class MissingDays(StrEnum):
    """What a day (or month) absent from a source's rows means."""

    ZERO = "zero"
    """Nothing happened: APIs that omit empty days (Search Console, Meta, CRMs) count 0."""
    GAP = "gap"
    """Unknown: files that stop or skip a day; the report says the figure is missing."""


@dataclass(frozen=True, kw_only=True)
class MetricSpec:
    """A metric a source offers.

    ``weight`` names the metric that weights a ``weighted_mean``; ``numerator`` and
    ``denominator`` name the additive metrics whose sums make a ``ratio``.
    """

    name: str
    aggregation: Aggregation = Aggregation.SUM
    weight: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    description: str = ""
    unit: Unit = Unit.COUNT
    """What the metric measures: ``currency`` amounts are converted into the client's
    currency (or noted) when a table says it is in another."""
    attribution: Mapping[str, Mapping[str, str]] = field(default_factory=dict, compare=False)
    """How the source credits this metric to a row split by a dimension, by dimension then
    language (``{"page": {"en": "counted on the page where they happened", "fr": …}}``): a
    short clause, lower-case and without a final full stop, printed once under a table whose
    optional column (``Breakdown.optional_columns``) it fills, after the column's label. A
    page's conversions mean different things from one source to the next: the client is
    told which. Not compared: it words the metric, it does not change it. (Added in 1.2.)"""

    def __post_init__(self) -> None:
        if self.aggregation is Aggregation.WEIGHTED_MEAN and not self.weight:
            raise ValueError(f"metric {self.name!r}: a weighted mean needs 'weight'")
        if self.aggregation is Aggregation.RATIO and not (self.numerator and self.denominator):
            raise ValueError(f"metric {self.name!r}: a ratio needs 'numerator' and 'denominator'")

    def components(self) -> tuple[str, ...]:
        """The additive metrics needed to aggregate this one (itself if additive or distinct)."""
        if self.aggregation is Aggregation.WEIGHTED_MEAN:
            return (self.name, self.weight)  # type: ignore[return-value]
        if self.aggregation is Aggregation.RATIO:
            return (self.numerator, self.denominator)  # type: ignore[return-value]
        return (self.name,)


@dataclass(frozen=True, kw_only=True)
class DateRange:
    """An inclusive range of calendar days."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"date range ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end

    def iter_days(self) -> Iterable[dt.date]:
        for i in range(self.days):
            yield self.start + dt.timedelta(days=i)

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


class Operator(StrEnum):
    """How a :class:`Filter` compares a dimension's value."""

    EQUALS = "equals"
    IN = "in"
    """Equal to one of several values."""
    CONTAINS = "contains"
    REGEX = "regex"
    """A regular expression found anywhere in the value (``re.search``)."""


@dataclass(frozen=True, kw_only=True)
class Filter:
    """Keep the rows whose ``dimension`` matches (or, with ``negate``, does not match).

    ``values`` holds one value for ``equals``, ``contains`` and ``regex``, several for ``in``.
    Comparisons ignore case unless ``case_sensitive``, as GA4's and Search Console's filters
    do by default. A query's filters all apply (AND). A source that filters at the API sends
    them there; one that holds rows calls :meth:`matches` (or :func:`filter_rows`).
    """

    dimension: str
    operator: Operator
    values: tuple[str, ...]
    negate: bool = False
    case_sensitive: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.values, str):  # values="x" means the one value
            object.__setattr__(self, "values", (self.values,))
        object.__setattr__(self, "operator", Operator(self.operator))
        if not self.values:
            raise ValueError(f"filter on {self.dimension!r}: no value to compare with")
        if self.operator is not Operator.IN and len(self.values) != 1:
            raise ValueError(f"filter on {self.dimension!r}: {self.operator.value} takes one "
                             f"value (use 'in' for several)")
        if self.operator is Operator.REGEX:
            try:
                self._pattern  # noqa: B018  (compiled now, so a bad pattern fails validation)
            except re.error as exc:
                raise ValueError(f"filter on {self.dimension!r}: invalid regular expression "
                                 f"{self.values[0]!r}: {exc}") from None

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        return re.compile(self.values[0], 0 if self.case_sensitive else re.IGNORECASE)

    def matches(self, value: Any) -> bool:
        """Whether a row whose dimension holds ``value`` is kept (None never matches)."""
        if value is None:
            return self.negate
        text = str(value)
        if self.operator is Operator.REGEX:
            found = self._pattern.search(text) is not None
        else:
            wanted = self.values if self.case_sensitive else tuple(v.casefold()
                                                                   for v in self.values)
            text = text if self.case_sensitive else text.casefold()
            if self.operator is Operator.CONTAINS:
                found = wanted[0] in text
            else:  # equals, in
                found = text in wanted
        return found != self.negate

    def __str__(self) -> str:
        values = ", ".join(repr(v) for v in self.values)
        return f"{self.dimension} {'not ' if self.negate else ''}{self.operator.value} {values}"


@dataclass(frozen=True, kw_only=True)
class Order:
    """Order rows by ``metric``: highest first unless ``descending`` is False."""

    metric: str
    descending: bool = True


def filter_rows(rows: Iterable[Mapping[str, Any]],
                filters: Sequence[Filter]) -> list[Mapping[str, Any]]:
    """The rows every filter keeps."""
    if not filters:
        return list(rows)
    return [row for row in rows if all(f.matches(row.get(f.dimension)) for f in filters)]


def order_rows(rows: list[dict[str, Any]], order: Sequence[Order],
               limit: int | None = None) -> list[dict[str, Any]]:
    """Rows sorted by each order in turn (missing values last), cut to ``limit``."""
    out = list(rows)
    for o in reversed(order):  # a stable sort per key, last key first, gives the whole order
        present = [r for r in out if r.get(o.metric) is not None]
        missing = [r for r in out if r.get(o.metric) is None]
        present.sort(key=itemgetter(o.metric), reverse=o.descending)
        out = present + missing
    return out[:limit] if limit is not None else out


@dataclass(frozen=True, kw_only=True)
class Query:
    """What a source is asked: these metrics, split by these dimensions, over this range.

    ``granularity`` is ``day`` (one row per day and dimension values, column ``date``),
    ``month`` (column ``month`` holding the first day of each calendar month) or ``total``
    (one row per dimension values for the whole range). Distinct counts must be answered for
    the bucket asked, never summed from smaller buckets.
    """

    metrics: tuple[str, ...]
    range: DateRange
    dimensions: tuple[str, ...] = ()
    granularity: Granularity = Granularity.TOTAL
    filters: tuple[Filter, ...] = ()
    """Only rows matching every filter count (see :class:`Filter`)."""
    order: tuple[Order, ...] = ()
    """Rows sorted by these metrics in turn (after aggregation), missing values last."""
    limit: int | None = None
    """At most this many rows, the first in ``order``: the top N."""

    def __post_init__(self) -> None:
        if self.limit is not None and (self.limit < 1 or not self.order):
            raise ValueError("a query's limit is a positive number of rows, with an order "
                             "saying which rows come first")
        if unknown := [o.metric for o in self.order if o.metric not in self.metrics]:
            raise ValueError(f"a query orders by {', '.join(unknown)}, which it does not ask")

    def shape(self) -> tuple[Any, ...]:
        """Queries with the same shape can be merged into one call by uniting their metrics."""
        return (self.range, self.dimensions, self.granularity, self.filters, self.order,
                self.limit)


class NoteKind(StrEnum):
    MISSING_DAYS = "missing_days"
    MISSING_VALUES = "missing_values"
    """Rows present on these days, with some of the figures' cells empty."""
    INCOMPLETE = "incomplete"
    """Data not final yet (Search Console's last days, late ad conversions)."""
    SAMPLED = "sampled"
    THRESHOLDED = "thresholded"
    UNAVAILABLE = "unavailable"
    NO_DATA = "no_data"
    """The source answered, with no value for the period."""
    SOURCE_FAILED = "source_failed"
    """The source could not be read for this report (its error is in the run's ledger)."""
    CURRENCY = "currency"
    """Amounts in another currency than the client's: converted at a configured rate, or
    shown in their own currency."""
    TIMEZONE = "timezone"
    """The source's days are another time zone's days than the client's."""
    DATA_END = "data_end"
    """The source's data stops before the period's end (param ``end``, ISO day): the engine
    judges its figures on the days up to it, compared with the same days. Written by the
    engine, not by sources."""
    TRACKING_GAP = "tracking_gap"
    """The tracking (a pixel, a tag) recorded no event on these days although there was
    activity to track (the ads were spending): conversions on them are likely missing."""
    OTHER = "other"


@dataclass(frozen=True, kw_only=True)
class DataNote:
    """Something the reader of a figure should know about the data behind it.

    The report words the standard kinds in its own language. For other notes it prints
    ``message``, or its translation for the report's language from ``translations``
    (``(("fr", "…"), ("de", "…"))``), so a plugin's own notes need no English in a French
    report.
    """

    kind: NoteKind
    message: str
    source: str = ""
    dates: tuple[dt.date, ...] = ()
    translations: tuple[tuple[str, str], ...] = ()
    metrics: tuple[str, ...] = ()
    """The metrics of the query the note concerns; none (or none the query asked): all."""
    params: tuple[tuple[str, str], ...] = ()
    """Values the report's wording of a standard kind uses (a currency code, a time zone)."""

    def __post_init__(self) -> None:
        if isinstance(self.metrics, str):  # metrics="sessions" means the one metric
            object.__setattr__(self, "metrics", (self.metrics,))

    def text_for(self, language: str) -> str:
        """``message`` in ``language`` when the note carries that translation."""
        return dict(self.translations).get(language, self.message)


@dataclass(kw_only=True)
class Table:
    """Tidy rows answering one :class:`Query`.

    Each row is a mapping with the time column (``date`` or ``month``, absent for ``total``),
    then one key per dimension, then one key per metric. A metric value is a float, or None
    when the source has no value for it. ``notes`` carry data-quality facts.
    """

    query: Query
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[DataNote] = field(default_factory=list)
    currency: str | None = None
    """ISO 4217 code of the amounts (metrics of unit currency), when the source knows it (a GA4
    property's, a Meta ad account's, a Salesforce org's): the engine converts them, or notes
    that they are in another currency, when it is not the client's. None: the client's."""
    timezone: str | None = None
    """IANA name of the time zone whose days the rows' dates are, when the source knows it
    (Search Console: America/Los_Angeles). None: the client's."""

    def value(self, metric: str) -> float | None:
        """The metric's value in a single-row ``total`` table (None when there is no row)."""
        if not self.rows:
            return None
        if len(self.rows) != 1:
            raise ValueError("value() needs a table of one row; use rows for more")
        return self.rows[0].get(metric)


@dataclass(frozen=True, kw_only=True)
class Capabilities:
    """What a source can answer, declared before anything runs.

    ``kpireport validate`` checks every query the report's KPIs will ask against these: a KPI
    asking a source for a dimension, a granularity, a filter or an order it cannot give fails
    validation, not the run.
    """

    dimensions: tuple[str, ...] = ()
    """Dimensions rows can be split by and filtered on (besides the time columns)."""
    granularities: tuple[Granularity, ...] = tuple(Granularity)
    filters: tuple[Operator, ...] = tuple(Operator)
    """Filter operators it applies (each also negated)."""
    order: bool = True
    """Whether it orders rows and keeps the top N."""
    metric_dimensions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per metric, the dimensions it can be split by and filtered on, when they are fewer than
    ``dimensions`` (a CRM's lead counts have no pipeline; leads qualified by their status
    history have no stage). A metric not named here has every one of ``dimensions``. A ratio
    needs its name here only if it differs from its components'. (Added in 1.2.)"""

    def refusal(self, query: Query) -> str | None:
        """Why this source cannot answer ``query``, or None when it can."""
        metrics = ", ".join(query.metrics)
        missing = [d for d in query.dimensions if d not in self.dimensions]
        if missing:
            return (f"cannot split {metrics} by {', '.join(missing)} (it offers: "
                    f"{', '.join(self.dimensions) or 'no dimension'})")
        asked = list(dict.fromkeys([*query.dimensions, *(f.dimension for f in query.filters)]))
        for metric in query.metrics:
            allowed = self.metric_dimensions.get(metric)
            if allowed is not None and (lacking := [d for d in asked if d not in allowed]):
                return (f"cannot split or filter {metric} by {', '.join(lacking)} ({metric} "
                        f"offers: {', '.join(allowed) or 'no dimension'})")
        if query.granularity not in self.granularities:
            return (f"cannot answer by {query.granularity.value} (it answers by "
                    f"{', '.join(g.value for g in self.granularities)})")
        for f in query.filters:
            if f.dimension not in self.dimensions:
                return (f"cannot filter {metrics} on {f.dimension} (it offers: "
                        f"{', '.join(self.dimensions) or 'no dimension'})")
            if f.operator not in self.filters:
                return f"cannot filter with {f.operator.value} ({f})"
        if (query.order or query.limit) and not self.order:
            return "cannot order rows or keep the top N"
        return None


def time_key(granularity: Granularity) -> str | None:
    return {Granularity.DAY: "date", Granularity.MONTH: "month"}.get(granularity)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def split_by_month(query: Query) -> list[Query]:
    """The query cut into one query per calendar month it touches (the first and last cut to
    the range), for a ``day`` or ``month`` query; the query itself otherwise.

    A source that asks its API month by month can cache each month on its own: a month whose
    data is final is then never asked again, by this report or by next month's, whose
    25-month series overlaps this one's (see :attr:`SourceContext.cache`). The rows of the
    parts, put together, answer the whole query.
    """
    if query.granularity is Granularity.TOTAL:
        return [query]
    out = []
    start = query.range.start
    while start <= query.range.end:
        following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        end = min(following - dt.timedelta(days=1), query.range.end)
        out.append(replace(query, range=DateRange(start=start, end=end)))
        start = following
    return out


def aggregate_rows(
    rows: Iterable[Mapping[str, Any]],
    specs: Mapping[str, MetricSpec],
    query: Query,
    *,
    date_key: str = "date",
) -> list[dict[str, Any]]:
    """Aggregate daily rows into the buckets a query asks for.

    ``rows`` are daily rows (``date_key`` holds a :class:`datetime.date`) carrying at least the
    query's dimensions, the dimensions its filters name, and the additive components of its
    metrics (see :meth:`MetricSpec.components`); rows outside the query's range or its filters
    are ignored. Distinct metrics cannot be aggregated from days and raise :class:`ValueError`,
    except at day granularity.

    Sources that receive daily or per-record data (files, CRMs) use this so that every plugin
    does the arithmetic the same way.
    """
    wanted = [specs[m] for m in query.metrics]
    components: list[str] = []
    for spec in wanted:
        if spec.aggregation is Aggregation.DISTINCT and query.granularity is not Granularity.DAY:
            raise ValueError(
                f"metric {spec.name!r} is a distinct count: it cannot be summed from days; "
                f"the source must give it for {query.range} as a whole"
            )
        for comp in spec.components():
            if comp not in components:
                components.append(comp)
    tkey = time_key(query.granularity)
    # Resolved once, not per row: this loop runs over every day of every dimension value.
    plan = [(comp, _weight_of(specs.get(comp))) for comp in components]
    first, last = query.range.start, query.range.end
    dims = query.dimensions
    filters = query.filters
    sums: dict[tuple[Any, ...], dict[str, float]] = {}
    seen: dict[tuple[Any, ...], set[str]] = {}
    for record in rows:
        day = record[date_key]
        if not first <= day <= last:
            continue
        if filters and not all(f.matches(record.get(f.dimension)) for f in filters):
            continue
        if tkey == "date":
            key: tuple[Any, ...] = (day, *(record.get(d) for d in dims))
        elif tkey == "month":
            key = (month_start(day), *(record.get(d) for d in dims))
        else:
            key = tuple(record.get(d) for d in dims)
        acc = sums.get(key)
        if acc is None:
            acc = sums[key] = {}
            seen[key] = set()
        present = seen[key]
        for comp, weight_key in plan:
            value = record.get(comp)
            if value is None:
                continue
            if weight_key is not None:
                weight = record.get(weight_key)
                if weight is None:
                    continue
                acc[comp] = acc.get(comp, 0.0) + float(value) * float(weight)
                wkey = "__w_" + comp
                acc[wkey] = acc.get(wkey, 0.0) + float(weight)
            else:
                acc[comp] = acc.get(comp, 0.0) + float(value)
            present.add(comp)
    out: list[dict[str, Any]] = []
    for key in sorted(sums, key=_sort_key):
        acc = sums[key]
        row: dict[str, Any] = {}
        offset = 0
        if tkey:
            row[tkey] = key[0]
            offset = 1
        for i, dim in enumerate(query.dimensions):
            row[dim] = key[offset + i]
        for spec in wanted:
            row[spec.name] = finish(spec, acc, seen[key])
        out.append(row)
    return order_rows(out, query.order, query.limit) if query.order else out


def _weight_of(spec: MetricSpec | None) -> str | None:
    """The column a weighted mean is weighted by (None for a plain sum)."""
    if spec is not None and spec.aggregation is Aggregation.WEIGHTED_MEAN:
        return spec.weight
    return None


def finish(spec: MetricSpec, acc: Mapping[str, float], present: set[str]) -> float | None:
    """Turn accumulated sums into the metric's value for one bucket."""
    if spec.aggregation is Aggregation.WEIGHTED_MEAN:
        total_weight = acc.get(f"__w_{spec.name}", 0.0)
        if spec.name not in present or not total_weight:
            return None
        return acc[spec.name] / total_weight
    if spec.aggregation is Aggregation.RATIO:
        num, den = acc.get(spec.numerator or ""), acc.get(spec.denominator or "")
        if num is None or not den:
            return None
        return num / den
    return acc.get(spec.name) if spec.name in present else None


def _sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, "" if v is None else v) for v in key)


def merge_queries(queries: Sequence[Query]) -> list[Query]:
    """Merge queries of the same shape into one, uniting their metrics (order kept)."""
    merged: dict[tuple[Any, ...], list[str]] = {}
    for query in queries:
        metrics = merged.setdefault(query.shape(), [])
        for metric in query.metrics:
            if metric not in metrics:
                metrics.append(metric)
    out = []
    for shape, metrics in merged.items():
        rng, dims, gran, filters, order, limit = shape
        out.append(Query(metrics=tuple(metrics), range=rng, dimensions=dims, granularity=gran,
                         filters=filters, order=order, limit=limit))
    return out
