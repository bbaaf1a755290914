"""What a KPI plugin registers: :class:`KpiDefinition`, and the values the engine computes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kpireport.data import RELATIVE_UNITS, DataNote, Order, Unit
from kpireport.typography import apostrophes_for


class Direction(StrEnum):
    HIGHER = "higher"
    LOWER = "lower"


Labels = Mapping[str, str]
"""Text by language code: ``{"en": "Sessions", "fr": "Sessions"}``."""

Formula = Callable[[Mapping[str, float | None]], float | None]


def ratio(numerator: str, denominator: str) -> Formula:
    """A formula: Σnumerator / Σdenominator over the bucket (None when the denominator is 0)."""

    def formula(values: Mapping[str, float | None]) -> float | None:
        num, den = values.get(numerator), values.get(denominator)
        if num is None or not den:
            return None
        return num / den

    formula.__name__ = f"ratio({numerator}/{denominator})"
    return formula


@dataclass(frozen=True, kw_only=True)
class Breakdown:
    """A table KPI: the top ``limit`` values of ``dimensions`` ranked by ``metric``.

    ``then_by`` are the metrics that break ties in ``metric``, in turn, highest first (Search
    Console ranks queries by clicks, then impressions): the default order of the rows, which
    a client's ``order:`` replaces.
    ``columns`` are the metrics shown in the table (``metric`` first when empty).
    ``column_units`` says how a metric column is printed (a count when it says nothing).
    ``translated_values`` names, per dimension column, the values a source gives in English
    that the report prints in its own language through the theme's translations (such as an
    analytics tool's channel names); other values are printed as they are.
    ``optional_columns`` (contract 1.2) are metrics shown after ``columns`` only when one of
    the client's sources gives them by the table's dimensions (a page's conversions or
    revenue): asked apart from the table, never required, so a source without them (or whose
    answer fails) prints the table without those columns.
    """

    dimensions: tuple[str, ...]
    metric: str
    limit: int = 10
    then_by: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    column_labels: Mapping[str, Labels] = field(default_factory=dict)
    column_units: Mapping[str, Unit] = field(default_factory=dict)
    translated_values: Mapping[str, frozenset[str]] = field(default_factory=dict)
    optional_columns: tuple[str, ...] = ()

    def default_order(self) -> tuple[Order, ...]:
        """``metric``, then each of ``then_by``, highest first."""
        return tuple(Order(metric=m) for m in (self.metric, *self.then_by))


@dataclass(frozen=True, kw_only=True)
class Family:
    """A group of KPIs, printed as one section of the report: its heading per language
    (English at least) and its place among the others (lower ``rank`` first)."""

    id: str
    label: Labels
    rank: int = 100


CHARTS = ("bars",)
"""What ``KpiDefinition.chart`` may ask for."""


@dataclass(frozen=True, kw_only=True)
class KpiDefinition:
    """A key performance indicator.

    ``metrics`` are the standard metric names it reads from a source. Its value for any range is
    ``formula`` applied to those metrics aggregated over the range by the source (each with the
    metric's own aggregation), or the first metric itself when there is no formula. So a ratio
    KPI is a ratio of sums, never a mean of daily ratios.

    ``unit`` and ``direction`` drive formatting, colours and objective maths; ``family`` groups
    KPIs in the report: a :class:`Family` (its heading and place), or just its id, after
    the families that say where they go; ``label`` and
    ``description`` are given per language (English at least). ``duration_unit`` is ``seconds``
    or ``days`` for duration KPIs. A KPI with a ``breakdown`` is a table (top pages, traffic
    sources) and has no single value.
    """

    id: str
    label: Labels
    unit: Unit
    metrics: tuple[str, ...]
    direction: Direction = Direction.HIGHER
    family: str | Family = "web"
    formula: Formula | None = None
    description: Labels = field(default_factory=dict)
    breakdown: Breakdown | None = None
    duration_unit: str = "seconds"
    filter_on: str | None = None
    """A dimension the client's ``filters:`` on this KPI must name, because the KPI means
    nothing without them: branded clicks need the brand terms (a filter on ``query``)."""
    filter_negated: bool = False
    """With ``filter_on``: whether that filter must be a ``not_`` one (non-branded clicks)."""
    chart: str | None = None
    """How the report charts a table KPI besides its table: ``"bars"`` draws its rows'
    ranking metric as horizontal bars by its first dimension (a channel mix); None, the
    table alone. (Added in contract 1.2.)"""
    section: Family | None = field(default=None, init=False, compare=False)
    """The family given as a :class:`Family` (``family`` then holds its id)."""

    def __post_init__(self) -> None:
        if isinstance(self.family, Family):
            # ``family`` stays a plain id everywhere it is compared or grouped on.
            object.__setattr__(self, "section", self.family)
            object.__setattr__(self, "family", self.family.id)
        if not self.metrics:
            raise ValueError(f"KPI {self.id!r} reads no metric")
        if "en" not in self.label:
            raise ValueError(f"KPI {self.id!r} needs an English label")
        if self.chart is not None and (self.chart not in CHARTS or self.breakdown is None):
            raise ValueError(f"KPI {self.id!r}: chart={self.chart!r}: expected one of "
                             f"{', '.join(map(repr, CHARTS))} on a KPI with a breakdown")

    def compute(self, values: Mapping[str, float | None]) -> float | None:
        """The KPI's value from its metrics aggregated over one bucket."""
        if self.formula is not None:
            return self.formula(values)
        return values.get(self.metrics[0])

    def text(self, labels: Labels, language: str) -> str:
        # A plugin's label or description is its own prose, never data: French's ’.
        return apostrophes_for(labels.get(language) or labels.get(language.split("_")[0])
                               or labels["en"], language)


@dataclass(kw_only=True)
class SeriesPoint:
    start: dt.date
    value: float | None


@dataclass(kw_only=True)
class KpiValue:
    """One KPI computed for a report: value, comparisons, series and the data's caveats.

    ``error`` says why the KPI could not be computed (it is then shown as unavailable, never
    silently dropped); ``failed_source`` names the source whose failure caused it, so that
    the report can say so in its own language while the error itself goes to the ledger.
    """

    key: str
    """The KPI's key in the client's report (its id, or the id the client gave it)."""
    definition: KpiDefinition
    label: str
    value: float | None = None
    previous: float | None = None
    last_year: float | None = None
    daily: list[SeriesPoint] = field(default_factory=list)
    monthly: list[SeriesPoint] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    previous_rows: list[float | None] = field(default_factory=list)
    """A table's rows' ranking metric over the previous period, row by row (None where it is
    unknown, 0 where the row had none); empty when it was not computed."""
    notes: list[DataNote] = field(default_factory=list)
    data_end: dt.date | None = None
    """The last day its figures cover when its data stops before the period's end: its value,
    comparisons and daily series then cover the same days of each period."""
    sources: tuple[str, ...] = ()
    error: str | None = None
    failed_source: str | None = None
    description: str = ""
    """What the KPI measures, in the report's language: the client's own words for it when the
    config gives them (a relabelled KPI), else the definition's."""
    currency: str | None = None
    """The currency of its amounts when a source gave them in another than the client's and
    no exchange rate converted them (they are printed with that currency's symbol); None
    when they are in the client's."""
    column_attribution: dict[str, str] = field(default_factory=dict)
    """A table's printed optional columns → how their source credits them to a row, in the
    report's language (``MetricSpec.attribution``); empty when no source says. (Added in
    1.2.)"""
    partial_month: SeriesPoint | None = None
    """In a quarter's or a year to date's report whose period (the KPI's, cut where its data
    stops) ends inside a month: its figure over that month's days so far (``start`` the
    month's 1st; 1–24 November), computed as its period value is (a rate from its numerator
    and denominator over those days, never from daily rates); ``value`` None when a source
    cannot tell those days (a monthly export). None when the period ends with a month.
    (Added in 1.4.)"""
    partial_month_last_year: SeriesPoint | None = None
    """The same days a year before (``start`` that month's 1st), beside
    :attr:`partial_month`. (Added in 1.4.)"""

    @staticmethod
    def change(current: float | None, reference: float | None) -> float | None:
        """Relative change (0.12 = +12 %); None when either is missing or the reference is 0."""
        if current is None or reference is None or reference == 0:
            return None
        return (current - reference) / abs(reference)

    @staticmethod
    def difference(current: float | None, reference: float | None) -> float | None:
        """Absolute change (a position 6.1 against 8.4 is -2.3); None when either is missing."""
        if current is None or reference is None:
            return None
        return current - reference

    @property
    def in_places(self) -> bool:
        """Whether its changes are told in places (a position), not as a percentage."""
        return self.definition.unit is Unit.POSITION

    @property
    def relative(self) -> bool:
        """Whether its changes are told as a percentage: a count or an amount. A rate's are
        told in percentage points, a position's in places, a duration's in seconds
        (:func:`kpireport.formatting.format_difference`)."""
        return self.definition.unit in RELATIVE_UNITS

    def moved(self, change: float | None, difference: float | None) -> float | None:
        """Of a relative change and a difference, the one its changes are told in."""
        return change if self.relative else difference

    @property
    def difference_previous(self) -> float | None:
        return self.difference(self.value, self.previous)

    @property
    def difference_last_year(self) -> float | None:
        return self.difference(self.value, self.last_year)

    @property
    def change_previous(self) -> float | None:
        return self.change(self.value, self.previous)

    @property
    def change_last_year(self) -> float | None:
        return self.change(self.value, self.last_year)

    def is_better(self, change: float | None) -> bool | None:
        """Whether a change is good news for this KPI's direction."""
        if change is None or change == 0:
            return None
        return (change > 0) == (self.definition.direction is Direction.HIGHER)
