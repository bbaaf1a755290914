"""Reading CSV text and parsing its cells (numbers, days, months), with errors that say where."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from kpireport.errors import DataFileError

T = TypeVar("T")

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})|(\d{4})(\d{2})(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})|(\d{4})(\d{2})")


def decode(data: bytes, file: str) -> str:
    """UTF-8 text, with or without a byte-order mark."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataFileError(file, f"not UTF-8 text (byte 0x{data[exc.start]:02x}): save the "
                                  f"file as UTF-8", line) from None


def records(text: str, file: str, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line, cells)`` for each non-blank record; ``line`` is where the record starts.

    A quoted cell may span several lines, so the line is tracked from the reader rather than
    counted from records.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    last = 0
    try:
        for cells in reader:
            start, last = last + 1, reader.line_num
            # The first cell (a date, mostly) settles it without looking at the others.
            if cells and (cells[0].strip() or any(cell.strip() for cell in cells)):
                yield start, cells
    except csv.Error as exc:
        raise DataFileError(file, f"malformed CSV ({exc}); check the quotes",
                            reader.line_num) from None


LARGEST_CELL = 1e15
"""The largest figure a cell may hold (a quadrillion): beyond it a sum or a ratio is past what
a report can print, and the cell is more likely a typo or an attack than a figure."""


def parse_number(text: str) -> float | None:
    """A number with ``.`` as decimal separator, at most :data:`LARGEST_CELL` in size; an
    empty cell is no value."""
    # float() first: a file has tens of thousands of cells and nearly all are plain numbers.
    # It also takes what a spreadsheet user did not mean ("1_000", "nan", "inf"), which the
    # pattern then refuses.
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is not None and -LARGEST_CELL <= value <= LARGEST_CELL and "_" not in text:
        return value  # finite, and small enough to print
    text = text.strip()
    if not text:
        return None
    if _NUMBER.fullmatch(text) and (number := float(text)) - number == 0:
        if abs(number) > LARGEST_CELL:
            raise ValueError(f"{text[:40]!r} is too large for a figure (at most "
                             f"{LARGEST_CELL:g})")
        return number
    raise ValueError(f"{text!r} is not a number (write decimals with '.', no thousands "
                     f"separator)")


def parse_day(text: str) -> dt.date:
    """``YYYY-MM-DD`` or GA4's ``YYYYMMDD``."""
    match = _DAY.fullmatch(text.strip())
    try:
        if match:
            return dt.date(*(int(g) for g in match.groups() if g))
    except ValueError:
        pass
    raise ValueError(f"{text!r} is not a date (YYYY-MM-DD or YYYYMMDD)")


def parse_month(text: str) -> dt.date:
    """``YYYY-MM`` (or GA4's ``YYYYMM``), as the first day of the month."""
    match = _MONTH.fullmatch(text.strip())
    try:
        if match:
            year, month = (int(g) for g in match.groups() if g)
            return dt.date(year, month, 1)
    except ValueError:
        pass
    raise ValueError(f"{text!r} is not a month (YYYY-MM)")


def cell_error(file: str, line: int, index: int, header: str, problem: str,
               cells: list[str] | None = None) -> DataFileError:
    """A DataFileError at a cell: 1-based CSV column number, and the column's header.

    ``line`` is where the record starts; with its ``cells``, the line of the cell itself is
    found past the line breaks of the quoted cells before it.
    """
    if cells:
        line += sum(cell.count("\n") for cell in cells[:index])
    return DataFileError(file, f"{header}: {problem}", line, index + 1)


def check_width(file: str, line: int, cells: list[str], width: int) -> None:
    if len(cells) != width:
        column = min(len(cells), width) + 1
        raise DataFileError(file, f"this row has {len(cells)} cells but the header has {width}",
                            line, column)


class ParseCaches:
    """Parse caches shared by the open sources of one process, the least recently used
    dropped.

    Two sources reading the same file parse it once. A source releases its files when it is
    closed: a run's parent validates every client's data and keeps none of it (a client with
    millions of rows would otherwise stay in the parent, and in every worker forked from it).
    """

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._caches: OrderedDict[Hashable, dict[str, Any]] = OrderedDict()

    def get(self, key: Hashable) -> dict[str, Any]:
        """The cache for ``key`` (which must change when the file does); empty at first."""
        if key in self._caches:
            self._caches.move_to_end(key)
            return self._caches[key]
        cache: dict[str, Any] = {}
        self._caches[key] = cache
        while len(self._caches) > self.keep:
            self._caches.popitem(last=False)
        return cache

    def release(self, key: Hashable) -> None:
        """Forget ``key``'s cache (those still holding it keep it until they are done)."""
        self._caches.pop(key, None)


def cached(cache: dict[str, Any], key: str, build: Callable[[], T]) -> T:
    """``build()`` once per key; a DataFileError is cached too, so a bad file is read once."""
    if key not in cache:
        try:
            cache[key] = build()
        except DataFileError as exc:
            cache[key] = exc
    value = cache[key]
    if isinstance(value, DataFileError):
        raise value
    return value


def read_bytes(path: Path, file: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataFileError(file, "file not found") from None
    except OSError as exc:
        raise DataFileError(file, f"cannot be read: {exc.strerror or exc}") from None
