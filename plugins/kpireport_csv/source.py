"""The ``csv`` source: tidy CSV tables and Search Console web-UI exports, read from disk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from kpireport.data import Capabilities, Granularity, MetricSpec, Query, Table
from kpireport.sources import Source, SourceContext

from .frames import Frame, Grain, answer
from .search_console import SearchConsoleExports
from .settings import CsvSettings
from .tidy import TidyFile

AS_IN_THE_FILE = {
    # Said to the client: where the figures come from, not how the engine treats them.
    "en": "as reported by the analytics tool the file comes from",
    "fr": "tels que les indique l’outil d’analyse dont provient le fichier",
}
"""How a file's figures split by a dimension are credited (``MetricSpec.attribution``)."""

@dataclass(frozen=True, kw_only=True)
class FileCapabilities(Capabilities):
    """The capabilities, and what only the files can tell: a month's totals by query (or
    page, country, device) need an export of that month, not one of sixteen months."""

    range_only: tuple[str, ...] = ()
    """Dimensions that only Search Console exports' files give (one total per export)."""
    why_not: Callable[[str, Query], str | None] = field(default=lambda d, q: None,
                                                        compare=False, repr=False)

    def refusal(self, query: Query) -> str | None:
        reason = super().refusal(query)
        if reason is not None or query.granularity is not Granularity.TOTAL:
            return reason
        for dimension in dict.fromkeys([*query.dimensions,
                                        *(f.dimension for f in query.filters)]):
            if dimension in self.range_only and (why := self.why_not(dimension, query)):
                return why
        return None


class CsvSource(Source[CsvSettings]):
    """Answers queries from local files; each file is read once, when first needed."""

    name = "csv"
    label = "CSV files and Search Console exports"
    Settings = CsvSettings

    def __init__(self, settings: CsvSettings, context: SourceContext) -> None:
        super().__init__(settings, context)
        self.specs = settings.metric_specs()
        self.tables = [TidyFile(context.resolve_path(table.path), table, self.specs, rank=i)
                       for i, table in enumerate(settings.tables)]
        self.exports = SearchConsoleExports(settings.search_console_patterns, context)
        self._frames: list[Frame] | None = None

    def frames(self) -> list[Frame]:
        """Every table and export as a frame (reads headers, and Search Console file names)."""
        if self._frames is None:
            frames = [table.frame() for table in self.tables]
            frames.extend(self.exports.frames(rank=len(frames)))
            self._frames = frames
        return self._frames

    def close(self) -> None:
        # A run's parent validates every client's files: it must not keep their rows.
        for table in self.tables:
            table.release()
        self._frames = None
        super().close()

    def watched_paths(self) -> list[Path]:
        return [table.path for table in self.tables]

    def metrics(self) -> dict[str, MetricSpec]:
        frames = self.frames()
        out = {}
        for name, spec in self.specs.items():
            holders = [frame for frame in frames if frame.offers(spec)]
            if holders:
                # A file's figure by page is whatever the tool that exported it credited to
                # the page: the report says so under a table it fills (contract 1.2).
                dims = dict.fromkeys(d for frame in holders for d in frame.dimensions)
                out[name] = replace(spec, attribution=dict.fromkeys(dims, AS_IN_THE_FILE))
        return out

    def capabilities(self) -> Capabilities:
        """Every dimension a table or export has; any granularity, filter and order (a query a
        file cannot answer, such as a distinct count summed from days, is refused when asked,
        naming the file)."""
        frames = self.frames()
        dimensions = dict.fromkeys(dim for frame in frames for dim in frame.dimensions)
        range_only = tuple(d for d in dimensions if all(
            f.grain is Grain.RANGE or f.monthly_exports for f in frames if d in f.dimensions))
        # A metric splits only by the dimensions of the files that hold it: conversions by
        # page need a pages file with a conversions column (validate says so, and a table's
        # optional column is not asked of files that cannot answer it).
        per_metric = {}
        for name, spec in self.specs.items():
            holders = [f for f in frames if f.offers(spec)]
            dims = tuple(d for d in dimensions if any(d in f.dimensions for f in holders))
            if holders and dims != tuple(dimensions):
                per_metric[name] = dims
        return FileCapabilities(dimensions=tuple(dimensions), range_only=range_only,
                                metric_dimensions=per_metric,
                                why_not=lambda d, q: self.exports.one_total_only(d, q.range))

    def check(self) -> list[str]:
        problems: list[str] = []
        for table in self.tables:
            problems.extend(table.check())
        problems.extend(self.exports.check())
        if not problems:
            problems.extend(self._same_shape())
        return problems

    def _same_shape(self) -> list[str]:
        """Tables that would hide each other: a metric is read from one table only, so two
        files of the same grain and dimensions (one a year, say) must be one file."""
        problems: list[str] = []
        seen: dict[tuple[str, Grain, tuple[str, ...]], str] = {}  # shape -> first table
        for table in self.tables:
            frame = table.frame()
            for metric in sorted(table.header().metrics):
                shape = (metric, frame.grain, frame.dimensions)
                if shape in seen:
                    problems.append(
                        f"{seen[shape]} and {table.label} both hold {metric} "
                        f"{frame.shape()}: a metric is read "
                        f"from one table, so the rows of the other would be left out; put "
                        f"them in one file")
                else:
                    seen[shape] = table.label
        return problems

    def fetch(self, query: Query) -> Table:
        table = answer(query, self.frames(), self.specs, self.context.name)
        # Queries from the exports only (a table by query would have them all).
        if table.rows and all(f.grain is Grain.RANGE or f.monthly_exports
                              for f in self.frames() if "query" in f.dimensions):
            table.notes.extend(self.exports.hidden_queries(query, self.context.name))
        return table
