"""The built-in ``csv`` source: tidy CSV tables and Google Search Console web-UI exports.

Registered through the ``kpireport`` entry-point group, exactly as a third-party source is.
"""

from __future__ import annotations

from collections.abc import Callable

from kpireport import hookimpl

from .settings import CsvSettings
from .source import CsvSource

__all__ = ["CsvSettings", "CsvSource"]


@hookimpl
def register_sources(register: Callable[[type[CsvSource]], None]) -> None:
    register(CsvSource)
