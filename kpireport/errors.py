"""The one public error type, and the errors built on it.

The CLI prints a :class:`KpiReportError` as a clean message (the full traceback only with
``--traceback``); any other exception is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass


class KpiReportError(Exception):
    """An error meant for the user: its message says what is wrong and where."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file: where it is and what was expected."""

    file: str
    line: int | None
    field: str
    message: str
    column: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class ConfigError(KpiReportError):
    """The configuration is invalid; ``problems`` lists every problem found, not just the first."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the configuration:"
        super().__init__("\n".join([head, *(f"  {p}" for p in problems)]))


class DataFileError(KpiReportError):
    """A data file cannot be read: names the file, line and column."""

    def __init__(self, file: str, message: str, line: int | None = None,
                 column: int | None = None) -> None:
        self.file, self.line, self.column = file, line, column
        where = file
        if line is not None:
            where += f", line {line}"
            if column is not None:
                where += f", column {column}"
        super().__init__(f"{where}: {message}")


class SourceError(KpiReportError):
    """A source could not answer (after its retries). ``source`` is the client's source name."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(f"source {source!r}: {message}")


class PluginError(KpiReportError):
    """A plugin failed to load or misbehaved; names the plugin."""
