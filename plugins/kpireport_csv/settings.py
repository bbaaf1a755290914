"""The settings of the ``csv`` source, validated before any file is read."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kpireport.data import Aggregation, MetricSpec, Unit
from kpireport.metrics import STANDARD_METRICS
from kpireport.sources import SourceSettings

TIME_COLUMNS = ("date", "month")


class MetricDeclaration(BaseModel):
    """A non-standard metric: how it combines across days and dimension values."""

    model_config = ConfigDict(extra="forbid")

    aggregation: Aggregation = Aggregation.SUM
    weight: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    description: str = ""
    unit: Unit = Unit.COUNT
    """``currency`` for an amount of money (converted or noted when a table is in another)."""


class TableSettings(BaseModel):
    """One tidy CSV file: a time column (``date`` or ``month``), dimensions and metrics."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1)
    dimensions: list[str] = Field(default_factory=list)
    columns: dict[str, str] = Field(default_factory=dict)
    """Renames: CSV header -> standard metric, dimension or time column name."""
    delimiter: str = ","

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError("the delimiter is one character, e.g. ',' or ';'")
        return value

    @field_validator("dimensions")
    @classmethod
    def _plain_dimensions(cls, value: list[str]) -> list[str]:
        for name in value:
            if name in TIME_COLUMNS:
                raise ValueError(f"{name!r} is the time column, not a dimension")
        if len(set(value)) != len(value):
            raise ValueError("a dimension is listed twice")
        return value

    @field_validator("columns")
    @classmethod
    def _distinct_targets(cls, value: dict[str, str]) -> dict[str, str]:
        targets = list(value.values())
        for target in targets:
            if targets.count(target) > 1:
                raise ValueError(f"two columns are renamed to {target!r}")
        return value


class CsvSettings(SourceSettings):
    """``tables`` (tidy CSV files), ``search_console`` (web-UI export folders) or both."""

    tables: list[TableSettings] = Field(default_factory=list)
    search_console: str | list[str] | None = None
    """A glob, folder or zip file of Search Console exports, or a list of them."""
    metrics: dict[str, MetricDeclaration] = Field(default_factory=dict)

    @property
    def search_console_patterns(self) -> list[str]:
        if self.search_console is None:
            return []
        if isinstance(self.search_console, str):
            return [self.search_console]
        return list(self.search_console)

    @model_validator(mode="after")
    def _check(self) -> CsvSettings:
        if not self.tables and not self.search_console_patterns:
            raise ValueError("give 'tables' (tidy CSV files), 'search_console' (export folders) "
                             "or both")
        specs = self.metric_specs()
        for table in self.tables:
            for dim in table.dimensions:
                if dim in specs:
                    raise ValueError(f"table {table.path!r}: {dim!r} is a metric, not a dimension")
        return self

    def metric_specs(self) -> dict[str, MetricSpec]:
        """The standard metrics plus the declared ones (validated here)."""
        specs = dict(STANDARD_METRICS)
        for name, decl in self.metrics.items():
            if name in STANDARD_METRICS:
                std = STANDARD_METRICS[name]
                raise ValueError(f"metrics: {name!r} is a standard metric ({std.aggregation}); "
                                 f"remove it from 'metrics'")
            if name in TIME_COLUMNS:
                raise ValueError(f"metrics: {name!r} is a time column, not a metric")
            specs[name] = _spec(name, decl)
        # Components must be additive: a weight or a ratio's terms are summed over days.
        for name in self.metrics:
            spec = specs[name]
            for part in spec.components():
                if part == name:
                    continue
                if part not in specs:
                    raise ValueError(f"metrics: {name!r} uses {part!r}, which is neither a "
                                     f"standard metric nor declared")
                if specs[part].aggregation is not Aggregation.SUM:
                    raise ValueError(f"metrics: {name!r} uses {part!r}, which is not additive "
                                     f"(aggregation {specs[part].aggregation})")
        return specs


def _spec(name: str, decl: MetricDeclaration) -> MetricSpec:
    used = {
        Aggregation.WEIGHTED_MEAN: {"weight"},
        Aggregation.RATIO: {"numerator", "denominator"},
    }.get(decl.aggregation, set())
    for key in ("weight", "numerator", "denominator"):
        if getattr(decl, key) is not None and key not in used:
            raise ValueError(f"metrics: {name!r}: {key!r} means nothing for aggregation "
                             f"{decl.aggregation}")
    try:
        return MetricSpec(name=name, aggregation=decl.aggregation, weight=decl.weight,
                          numerator=decl.numerator, denominator=decl.denominator,
                          description=decl.description, unit=decl.unit)
    except ValueError as exc:
        raise ValueError(f"metrics: {exc}") from None
