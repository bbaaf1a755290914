"""The ``csv`` source: tidy CSV tables and Search Console web-UI exports, read from disk."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kpireport.data import MetricSpec, Query, Table
from kpireport.sources import Source, SourceContext

from .frames import Frame, answer
from .search_console import SearchConsoleExports
from .settings import CsvSettings
from .tidy import TidyFile


class CsvSource(Source):
    """Answers queries from local files; each file is read once, when first needed."""

    name = "csv"
    label = "CSV files and Search Console exports"
    Settings = CsvSettings

    def __init__(self, settings: CsvSettings | Mapping[str, Any], context: SourceContext) -> None:
        if not isinstance(settings, CsvSettings):
            settings = CsvSettings.model_validate(settings)
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

    def metrics(self) -> dict[str, MetricSpec]:
        frames = self.frames()
        return {name: spec for name, spec in self.specs.items()
                if any(frame.offers(spec) for frame in frames)}

    def dimensions(self) -> list[str]:
        return list(dict.fromkeys(dim for frame in self.frames() for dim in frame.dimensions))

    def check(self) -> list[str]:
        problems: list[str] = []
        for table in self.tables:
            problems.extend(table.check())
        problems.extend(self.exports.check())
        return problems

    def fetch(self, query: Query) -> Table:
        return answer(query, self.frames(), self.specs, self.context.name)
