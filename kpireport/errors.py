"""The one public error type, and the errors built on it.

The CLI prints a :class:`KpiReportError` as a clean message (the full traceback only with
``--traceback``); any other exception is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


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


class SourceError(KpiReportError):
    """A source could not answer (after its own retries).

    The message says what went wrong in the source's words, once: the engine adds which
    source it was (by its label) where it reports it, so a source does not name itself.
    ``source`` is set by the engine to the client's name for the source. A ``fatal`` error
    (authentication, permission, quota) means the engine asks that source nothing more for
    the report; a plain ``SourceError`` or a :class:`TransientError` concerns its query only.
    ``retry_after`` (seconds) says when asking again may succeed, when the API said so.
    """

    fatal: ClassVar[bool] = False
    reason: ClassVar[str] = "failed"
    """A word for the kind of failure, used by ``kpireport check`` and the run summary."""

    def __init__(self, message: str, *, source: str = "",
                 retry_after: float | None = None) -> None:
        self.source = source
        self.retry_after = retry_after
        super().__init__(message)


class AuthenticationError(SourceError):
    """The credentials were refused or have expired (HTTP 401, ``invalid_grant``, Meta 190).
    Say in the message which credential and how to renew it."""

    fatal = True
    reason = "authentication failed"


class PermissionDenied(SourceError):
    """The credentials work but may not read this property, site or account (HTTP 403).
    Say in the message which one, and who must grant access to whom."""

    fatal = True
    reason = "no permission"


class QuotaExhausted(SourceError):
    """The API's quota is spent (GA4 429 ``RESOURCE_EXHAUSTED``, Salesforce
    ``REQUEST_LIMIT_EXCEEDED``); ``retry_after`` says when it comes back, when known."""

    fatal = True
    reason = "quota exhausted"


class TransientError(SourceError):
    """A failure that may pass (HTTP 5xx, a timeout, a dropped connection) and outlived the
    source's retries."""

    reason = "unreachable"


class DataFileError(SourceError):
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


class PluginError(KpiReportError):
    """A plugin failed to load or misbehaved; names the plugin."""


def disk_full(exc: BaseException) -> str | None:
    """``exc`` in one line if it is a full disk (or quota), else ``None``: no traceback for
    the commonest failure of a machine left to itself."""
    import errno
    import sqlite3

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f": could not write {exc.filename}" if exc.filename else ""
        return f"the disk is full ({exc.strerror or exc}){where}"
    if isinstance(exc, sqlite3.Error) and "disk is full" in str(exc):
        return "the disk is full: the ledger could not be written"
    return None
