"""Tidy CSV tables: a time column (``date`` or ``month``), dimension columns, metric columns."""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

from kpireport.data import Aggregation, MetricSpec
from kpireport.errors import DataFileError

from .frames import Frame, Grain
from .settings import TIME_COLUMNS, TableSettings
from .values import (
    LARGEST_CELL,
    ParseCaches,
    cached,
    cell_error,
    check_width,
    decode,
    parse_day,
    parse_month,
    parse_number,
    read_bytes,
    records,
)


@dataclass(frozen=True)
class Header:
    """The header row of a tidy file, with each column's role after renames."""

    line: int
    headers: tuple[str, ...]
    """Each column's header as written in the file."""
    names: tuple[str, ...]
    """Each column's name after ``columns`` renames."""
    time_column: str
    dimensions: tuple[str, ...]
    metrics: tuple[str, ...]


_PARSED = ParseCaches(keep=32)


def _cache_key(path: Path, table: TableSettings, specs: Mapping[str, MetricSpec]
               ) -> tuple[Any, ...] | None:
    try:
        stat = path.stat()
    except OSError:
        return None  # reading will raise the clear error
    # The inode and the change time too: a copy that keeps the old modification time and
    # size (cp -p, rsync -t) is still a new file.
    return (str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_ctime_ns,
            table.model_dump_json(),
            tuple(sorted((name, repr(spec)) for name, spec in specs.items())))


class TidyFile:
    """One tidy CSV file, read and parsed at most once, when first needed."""

    def __init__(self, path: Path, table: TableSettings, specs: Mapping[str, MetricSpec],
                 rank: int = 0) -> None:
        self.path = path
        self.label = table.path
        self.file = str(path)
        self.table = table
        self.specs = specs
        self.rank = rank
        self._key = _cache_key(path, table, specs)
        self._cache: dict[str, Any] = {} if self._key is None else _PARSED.get(self._key)

    def release(self) -> None:
        """Done with the file: its parsed rows go when the last holder lets go of them."""
        if self._key is not None:
            _PARSED.release(self._key)
        self._cache = {}

    def header(self) -> Header:
        return cached(self._cache, "header", self._parse_header)

    def rows(self) -> list[dict[str, Any]]:
        return cached(self._cache, "rows", self._parse_rows)

    def times(self) -> set[dt.date]:
        column = self.header().time_column
        return cached(self._cache, "times", lambda: {row[column] for row in self.rows()})

    def blanks(self) -> dict[str, list[dt.date]]:
        """Per metric column, the sorted times of its blank cells (see ``Frame.blanks``)."""
        return cached(self._cache, "blanks", self._find_blanks)

    def frame(self) -> Frame:
        header = self.header()
        grain = Grain.DAY if header.time_column == "date" else Grain.MONTH
        return Frame(self.label, grain, header.dimensions, frozenset(header.metrics),
                     self.rows, self.times, rank=self.rank, blanks=self.blanks)

    def _find_blanks(self) -> dict[str, list[dt.date]]:
        header, rows = self.header(), self.rows()
        found = {}
        for name in header.metrics:
            spec = self.specs.get(name)
            weight = (spec.weight if spec is not None
                      and spec.aggregation is Aggregation.WEIGHTED_MEAN else None)
            times = {row[header.time_column] for row in rows if row.get(name) is None
                     and (weight is None or row.get(weight))}
            if times:
                found[name] = sorted(times)
        return found

    def check(self) -> list[str]:
        try:
            self.rows()
        except DataFileError as exc:
            return [str(exc)]
        return []

    # --- parsing ---------------------------------------------------------------------------

    def _text(self) -> str:
        return cached(self._cache, "text",
                      lambda: decode(read_bytes(self.path, self.file), self.file))

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        return records(self._text(), self.file, self.table.delimiter)

    def _parse_header(self) -> Header:
        for line, cells in self._records():
            # GA4's web-UI exports open with '#' comment lines before the header.
            if cells[0].lstrip().startswith("#"):
                continue
            return self._header_from(line, cells)
        raise DataFileError(self.file, "the file is empty: it needs a header row", 1)

    def _header_from(self, line: int, cells: list[str]) -> Header:
        headers = tuple(cell.strip() for cell in cells)
        renames = self.table.columns
        for old in renames:
            if old not in headers:
                raise DataFileError(self.file, f"columns: there is no column {old!r} to rename "
                                               f"(the header has: {', '.join(headers)})", line)
        names = tuple(renames.get(h, h) for h in headers)
        if len(headers) == 1 and ";" in headers[0] and self.table.delimiter != ";":
            raise DataFileError(self.file, f"the header is one column, {headers[0]!r}: the "
                                           "file looks separated by ';' (add delimiter: ';' "
                                           "to the table's settings)", line)
        if not set(names) & set(TIME_COLUMNS):
            raise DataFileError(self.file, "no time column: add a 'date' column (YYYY-MM-DD, one "
                                           "row per day) or a 'month' column (YYYY-MM, one row "
                                           "per calendar month), or rename yours with columns: "
                                           "{Day: date}", line)
        wanted_dims = set(self.table.dimensions)
        time_columns: list[str] = []
        dims: list[str] = []
        metrics: list[str] = []
        for i, (header, name) in enumerate(zip(headers, names, strict=True)):
            if not name:
                raise cell_error(self.file, line, i, "header", "this column has no name")
            if names.index(name) != i:
                raise cell_error(self.file, line, i, header,
                                 f"a second column named {name!r}")
            if name in TIME_COLUMNS:
                time_columns.append(name)
            elif name in wanted_dims:
                dims.append(name)
            elif name in self.specs:
                metrics.append(name)
            else:
                raise cell_error(self.file, line, i, header, self._unknown(header))
        if len(time_columns) != 1:
            raise DataFileError(self.file, "both a 'date' and a 'month' column: a table is "
                                           "either daily or monthly", line)
        for dim in self.table.dimensions:
            if dim not in dims:
                raise DataFileError(self.file, f"dimensions: there is no column {dim!r} (the "
                                               f"header has: {', '.join(headers)})", line)
        for metric in metrics:
            # A mean or a ratio is combined across days from its terms, never averaged: its
            # terms must be in the same rows.
            spec = self.specs[metric]
            lacking = [p for p in spec.components() if p not in names]
            if lacking:
                how = (f"a mean weighted by {spec.weight}"
                       if spec.aggregation is Aggregation.WEIGHTED_MEAN else
                       f"computed as {spec.numerator} / {spec.denominator}")
                i = names.index(metric)
                raise cell_error(self.file, line, i, headers[i],
                                 f"{metric} is {how}; add a column {' and '.join(lacking)} to "
                                 f"this file so that it can be combined across days correctly, "
                                 f"or drop this column")
        return Header(line, headers, names, time_columns[0], tuple(dims), tuple(metrics))

    def _unknown(self, header: str) -> str:
        close = difflib.get_close_matches(header.lower(), list(self.specs), n=1)
        rename = close[0] if close else "<standard metric>"
        return (f"not a known metric, dimension or time column. Declare it in the source's "
                f"settings: as a dimension of this table (dimensions: [{header}]), as a "
                f"non-standard metric (metrics: {{{header}: {{aggregation: sum}}}}), or rename "
                f"it (columns: {{{header}: {rename}}})")

    def _parse_rows(self) -> list[dict[str, Any]]:
        header = self.header()
        parse_time = parse_day if header.time_column == "date" else parse_month
        dims, metrics = set(header.dimensions), set(header.metrics)
        # A distinct count is read as it is, per row: two rows for the same key would be
        # ambiguous, so they are refused when the file has one.
        distinct = any(self.specs[m].aggregation is Aggregation.DISTINCT for m in metrics)
        width = len(header.names)
        convert = [parse_number if name in metrics else _dimension if name in dims
                   else parse_time for name in header.names]
        names = header.names
        time_column, dimensions = header.time_column, header.dimensions
        key_of = itemgetter(time_column, *dimensions)  # in C: this runs for every row
        records: list[list[str]] = []
        lines: list[int] = []
        for line, cells in self._records():
            if line <= header.line:
                continue
            if len(cells) != width:
                if len(cells) == 1 and cells[0].lstrip().startswith("#"):
                    continue  # a GA4 comment line ("# ----"), wherever the export puts one
                check_width(self.file, line, cells, width)
            lines.append(line)
            records.append(cells)
        # Column by column, in C where it can be: a file has tens of thousands of cells. The
        # plain numbers of a column are converted at once; a day or a dimension value recurs
        # on every row of the others (each page, each channel), so each is read once. A cell
        # that does not parse is named row by row, as a reader would look for it.
        try:
            columns = [_numbers(column) if c is parse_number else _each_once(c, column)
                       for c, column in zip(convert, zip(*records, strict=True), strict=True)
                       ] if records else []
        except ValueError:
            for line, cells in zip(lines, records, strict=True):
                for c, cell in zip(convert, cells, strict=True):
                    try:
                        c(cell)
                    except ValueError:
                        raise self._cell_error(line, cells, convert) from None
            raise
        rows: list[dict[str, Any]] = [dict(zip(names, values, strict=True))
                                      for values in zip(*columns, strict=True)]
        # Every column is declared, so a second row for the same day and dimensions can only
        # be a repeat (a file pasted twice): summed, it would double the figures. Counted in C
        # first; the rows are walked only to name the repeat.
        keys = list(map(key_of, rows))
        if len(set(keys)) != len(keys):
            seen: dict[Any, int] = {}
            for key, line in zip(keys, lines, strict=True):
                if key in seen:
                    what = ("; a file with a distinct count needs one row per key" if distinct
                            else ": remove the repeated row, or declare the column that tells "
                                 "them apart as a dimension")
                    raise DataFileError(self.file, f"same {time_column} and dimensions as "
                                                   f"line {seen[key]}{what}",
                                        line, header.names.index(time_column) + 1)
                seen[key] = line
        self._cache.pop("text", None)  # the rows hold everything now
        return rows

    def _cell_error(self, line: int, cells: list[str],
                    convert: Sequence[Callable[[str], object]]) -> DataFileError:
        """The row's first cell that does not parse, at its line and column, with the reason."""
        headers = self.header().headers
        for i, (c, cell) in enumerate(zip(convert, cells, strict=True)):
            try:
                c(cell)
            except ValueError as exc:
                return cell_error(self.file, line, i, headers[i], str(exc), cells)
        raise AssertionError("a cell failed to parse, then parsed")


def _dimension(cell: str) -> str | None:
    return cell.strip() or None


def _each_once(convert: Callable[[str], Any], column: Sequence[str]) -> list[Any]:
    """``convert`` of each cell, computed once per distinct cell."""
    seen = {cell: convert(cell) for cell in set(column)}
    return list(map(seen.__getitem__, column))


def _numbers(column: Sequence[str]) -> list[float | None]:
    """A column's figures: at once when every cell is a plain finite number within bounds
    (nearly always), else cell by cell, as :func:`parse_number` reads and refuses them."""
    try:
        values = list(map(float, column))
    except ValueError:
        values = None
    if (values is not None and all(map(math.isfinite, values))
            and max(values, default=0.0) <= LARGEST_CELL
            and min(values, default=0.0) >= -LARGEST_CELL and "_" not in "".join(column)):
        return list(values)
    return [parse_number(cell) for cell in column]
