"""Google Search Console web-UI exports: folders (or zip files) of ``Chart.csv``, ``Queries.csv``…

Each file has a header ``<Dimension>,Clicks,Impressions,CTR,Position``. The dimension is known
from the file's name; the metric columns from their headers, in English or French. The dates
table (``Chart.csv`` in today's exports, ``Dates.csv`` in older ones) gives daily rows (newest
first); the other files give one total per value for the export's range, which is the
first..last date of the same export's dates table. ``Filters.csv`` (``Filter,Value``: ``Search
type,Web``, ``Date,Last 3 months``, ``Query,+acme``…) says what the export was filtered on.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
import unicodedata
import zipfile
from functools import partial
from pathlib import Path
from typing import Any

from kpireport.data import DataNote, DateRange, Granularity, NoteKind, Query
from kpireport.errors import DataFileError
from kpireport.sources import SourceContext

from .frames import Frame, Grain, month_end, whole_months
from .values import (
    ParseCaches,
    cached,
    cell_error,
    check_width,
    decode,
    parse_day,
    parse_number,
    read_bytes,
    records,
)

DATES = "date"

FILES = {
    "chart.csv": DATES,
    "dates.csv": DATES,
    "queries.csv": "query",
    "requêtes.csv": "query",
    "pages.csv": "page",
    "countries.csv": "country",
    "pays.csv": "country",
    "devices.csv": "device",
    "appareils.csv": "device",
    "search appearance.csv": "search_appearance",
}
"""File name (case-insensitive) -> the dimension it holds."""

FILTERS = "filters.csv"
"""The export's filters (``Filter,Value``): read to refuse an export of part of the site."""

SITE_WIDE = frozenset({"search type", "date", "type de recherche"})
"""Filters that keep an export's totals the site's (any other filters them to a query, a page,
a country, a device or a search appearance)."""

EMPTY_QUERY = "(empty query)"
"""The label of a query row whose cell is blank (Google exports one at times): the report's
theme translates it (``Breakdown.translated_values``)."""

HEADERS = {
    "clicks": "clicks",
    "clics": "clicks",
    "impressions": "impressions",
    "ctr": "ctr",
    "taux de clics": "ctr",
    "position": "position",
    "position moyenne": "position",
}
"""Metric header (case-insensitive, English or French) -> standard metric."""

COLUMNS = frozenset({"clicks", "impressions", "position"})
DATES_FILES = "Chart.csv (Dates.csv in older exports)"
_REQUIRED = ("clicks", "impressions", "position")
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")


def _fold(text: str) -> str:
    # Zip files made on macOS store names decomposed (NFD); compare in NFC.
    return unicodedata.normalize("NFC", text).strip().casefold()


def _count(text: str) -> float | None:
    text = _SPACES.sub("", text)
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a whole number")
    return float(text)


def _decimal(text: str) -> float | None:
    plain = _SPACES.sub("", text)
    if plain.count(",") == 1 and "." not in plain:  # French exports write 6,2
        plain = plain.replace(",", ".")
    try:
        return parse_number(plain)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def _ctr(text: str) -> float | None:
    """``7.69%``, ``7,69 %`` or a fraction ``0.0769``; validated, then recomputed from sums."""
    plain = _SPACES.sub("", text)
    try:
        if plain.endswith("%"):
            value = _decimal(plain[:-1])
            return None if value is None else value / 100
        return _decimal(plain)
    except ValueError:
        raise ValueError(f"{text!r} is not a click-through rate (like 7.69%)") from None


_PARSERS = {"clicks": _count, "impressions": _count, "position": _decimal, "ctr": _ctr}


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    for candidate in (",", ";", "\t"):
        if candidate in first:
            return candidate
    return ","


_PARSED = ParseCaches(keep=256)  # a client may have a folder of weekly exports


def _shared_cache(location: Path, label: str) -> dict[str, Any]:
    """The parse cache of an export, keyed by the size and time of each of its files (and the
    label its errors are reported under)."""
    try:
        if location.is_dir():
            state: tuple[Any, ...] = tuple(sorted(
                (e.name, e.stat().st_mtime_ns, e.stat().st_size, e.inode(),
                 e.stat().st_ctime_ns) for e in os.scandir(location) if e.is_file()))
        else:
            stat = location.stat()
            state = (stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_ctime_ns)
    except OSError:
        return {}  # reading will raise the clear error
    return _PARSED.get((str(location), label, state))


class Export:
    """One export: a folder or a zip file as downloaded from the Performance report."""

    def __init__(self, location: Path, label: str) -> None:
        self.location = location
        self.label = label
        self._cache = _shared_cache(location, label)

    def members(self) -> dict[str, str]:
        """Dimension (``date`` for the dates table) -> file name, for the files recognised."""
        return {k: v for k, v in self._files().items() if k != FILTERS}

    def _files(self) -> dict[str, str]:
        """``members()`` and ``Filters.csv`` (under ``FILTERS``) when the export has it."""
        return cached(self._cache, "members", self._list)

    def has_dates(self) -> bool:
        return DATES in self.members()

    def filters(self) -> dict[str, str]:
        """``Filters.csv`` as ``{filter: value}`` (empty when the export has none)."""
        return cached(self._cache, "filters", self._parse_filters)

    def months(self) -> str:
        """The calendar months the export covers, in words: ``2026-10`` or ``2025-07..2026-10
        (16 months, from 2025-07-13)``."""
        span = self.span()
        if span is None:
            return "no dates"
        first, last = span.start.replace(day=1), span.end.replace(day=1)
        count = (last.year - first.year) * 12 + last.month - first.month + 1
        if count == 1 and span.start.day == 1 and span.end == month_end(first):
            return f"{first:%Y-%m}"
        text = f"{first:%Y-%m}" if count == 1 else f"{first:%Y-%m}..{last:%Y-%m}"
        partial = []
        if span.start.day != 1:
            partial.append(f"from {span.start}")
        if span.end != month_end(last):
            partial.append(f"to {span.end}")
        whole = f"{count} month{'s' if count > 1 else ''}"
        return f"{text} ({', '.join([whole, *partial])})"

    def one_month(self) -> bool:
        """Whether the export covers exactly one calendar month."""
        span = self.span()
        return (span is not None and span.start.day == 1
                and span.end == month_end(span.start))

    def days(self) -> dict[dt.date, dict[str, Any]]:
        return cached(self._cache, "days", self._parse_days)

    def span(self) -> DateRange | None:
        days = self.days() if self.has_dates() else {}
        return DateRange(start=min(days), end=max(days)) if days else None

    def dimension_rows(self, dimension: str) -> list[dict[str, Any]]:
        """The rows of one dimension file, ranked as Google ranks them in its interface: by
        clicks, then impressions (the file lists ties alphabetically, so a one-click query
        starting with a quote or a digit came before busier ones), the value last."""
        def ranked() -> list[dict[str, Any]]:
            rows = [row for _, row in self._parse(self.members()[dimension], dimension)]
            return sorted(rows, key=lambda r: (-(r["clicks"] or 0), -(r["impressions"] or 0),
                                               str(r[dimension])))
        return cached(self._cache, dimension, ranked)

    def check(self) -> list[str]:
        try:
            members = self.members()
        except DataFileError as exc:
            return [str(exc)]
        if not members:
            hint = ""
            if self.location.is_dir() and any(
                    _fold(p.name) in FILES for p in self.location.glob("*/*")):
                hint = f"; its subfolders hold exports: use '{self.label}/*'"
            return [f"{self.label}: no Search Console export files (Chart.csv or Dates.csv, "
                    f"Queries.csv, Pages.csv, Countries.csv, Devices.csv){hint}"]
        problems = []
        if not self.has_dates():
            others = ", ".join(members.values())
            problems.append(f"{self.label}: {others} cannot be used without the dates table "
                            f"({DATES_FILES}), which gives the export's date range; download "
                            f"the export again from the Performance report (Export, then "
                            f"'Download CSV'), which includes it")
        try:
            narrowed = {k: v for k, v in self.filters().items() if _fold(k) not in SITE_WIDE}
        except DataFileError as exc:
            problems.append(str(exc))
        else:
            if narrowed:
                listed = ", ".join(f"{k} {v}" for k, v in narrowed.items())
                problems.append(f"{self.label}: the export is filtered ({listed}, in its "
                                f"Filters.csv): its figures are not the site's; export the "
                                f"Performance report again with only the date filter")
        for dimension in members:
            try:
                if dimension == DATES:
                    self.days()
                else:
                    self.dimension_rows(dimension)
            except DataFileError as exc:
                problems.append(str(exc))
        return problems

    # --- reading ---------------------------------------------------------------------------

    def _list(self) -> dict[str, str]:
        if self.location.is_dir():
            names = [p.name for p in self.location.iterdir() if p.is_file()]
        else:
            try:
                with zipfile.ZipFile(self.location) as archive:
                    names = [n for n in archive.namelist() if not n.endswith("/")]
            except (zipfile.BadZipFile, OSError) as exc:
                raise DataFileError(self.label, f"not a readable zip file ({exc})") from None
        found: dict[str, str] = {}
        for name in sorted(names):
            base = _fold(name.rsplit("/", 1)[-1])
            if base == FILTERS:
                found.setdefault(FILTERS, name)
                continue
            dimension = FILES.get(base)
            if dimension is None:
                continue
            if dimension == DATES and DATES in found and (
                    found[DATES].rsplit("/", 1)[0] == name.rsplit("/", 1)[0]
                    if "/" in name else "/" not in found[DATES]):
                raise DataFileError(self.label, f"holds two dates tables ({found[DATES]}, "
                                                f"{name}): keep the one of the export (Chart.csv "
                                                f"in today's exports) and remove the other")
            if dimension in found:
                # Several exports in one zip: reading one would leave the others' days out.
                raise DataFileError(self.label, f"holds more than one export ({found[dimension]}"
                                                f", {name}): one export per zip file, or unzip "
                                                f"them into folders and list them as "
                                                f"'folder/*'")
            found[dimension] = name
        return found

    def _file(self, member: str) -> str:
        return f"{self.location}/{member}"

    def _read(self, member: str) -> bytes:
        if self.location.is_dir():
            return read_bytes(self.location / member, self._file(member))
        try:
            with zipfile.ZipFile(self.location) as archive:
                return archive.read(member)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataFileError(self._file(member), f"cannot be read from the zip file "
                                                    f"({exc})") from None

    def _parse_days(self) -> dict[dt.date, dict[str, Any]]:
        days: dict[dt.date, dict[str, Any]] = {}
        lines: dict[dt.date, int] = {}
        file = self._file(self.members()[DATES])
        for line, row in self._parse(self.members()[DATES], DATES):
            day = row[DATES]
            if day in days:
                raise DataFileError(file, f"{day} is also on line {lines[day]}", line, 1)
            days[day], lines[day] = row, line
        return days

    def _parse_filters(self) -> dict[str, str]:
        member = self._files().get(FILTERS)
        if member is None:
            return {}
        file = self._file(member)
        text = decode(self._read(member), file)
        out: dict[str, str] = {}
        for line, cells in records(text, file, _delimiter(text)):
            if line == 1 or len(cells) < 2:
                continue  # the header (Filter,Value)
            out[cells[0].strip()] = cells[1].strip()
        return out

    def _parse(self, member: str, dimension: str) -> list[tuple[int, dict[str, Any]]]:
        """``(line, row)`` for each data row of one file; the first column is the dimension."""
        file = self._file(member)
        text = decode(self._read(member), file)
        rows: list[tuple[int, dict[str, Any]]] = []
        names: list[str] = []
        headers: list[str] = []
        for line, cells in records(text, file, _delimiter(text)):
            if not names:
                headers = [cell.strip() for cell in cells]
                names = self._names(file, line, headers, dimension)
                continue
            check_width(file, line, cells, len(names))
            row: dict[str, Any] = {}
            for i, (name, cell) in enumerate(zip(names, cells, strict=True)):
                try:
                    if i == 0:
                        row[name] = (parse_day(cell) if dimension == DATES else
                                     EMPTY_QUERY if dimension == "query" and not cell.strip()
                                     else cell)
                    else:
                        row[name] = _PARSERS[name](cell)
                except ValueError as exc:
                    raise cell_error(file, line, i, headers[i], str(exc), cells) from None
            row.pop("ctr", None)  # recomputed from clicks / impressions, never read
            rows.append((line, row))
        if not names:
            raise DataFileError(file, "the file is empty: it needs a header row", 1)
        return rows

    @staticmethod
    def _names(file: str, line: int, headers: list[str], dimension: str) -> list[str]:
        names = [dimension]
        for i, header in enumerate(headers[1:], start=1):
            name = HEADERS.get(_fold(header))
            if name is None or name in names:
                raise cell_error(file, line, i, header or "header",
                                 "not a Search Console metric column (expected Clicks, "
                                 "Impressions, CTR, Position once each); an export comparing "
                                 "two date ranges is not supported: export one range")
            names.append(name)
        for name in _REQUIRED:
            if name not in names:
                raise DataFileError(file, f"no {name} column (the header has: "
                                          f"{', '.join(headers)})", line)
        return names


PACIFIC = "America/Los_Angeles"
"""Search Console counts its days in Pacific time, whatever the site's or the client's zone."""

PROVISIONAL = dt.timedelta(days=3)
"""Search Console revises a day's figures for about two to three days: from the day of the run,
that far back the figures of an export are said to be not final yet."""


class SearchConsoleExports:
    """All the exports the settings point at, united into one daily frame plus range frames."""

    def __init__(self, patterns: list[str], context: SourceContext) -> None:
        self.patterns = patterns
        self.context = context
        self._cache: dict[str, Any] = {}

    def exports(self) -> list[Export]:
        return self._resolve()[0]

    def check(self) -> list[str]:
        exports, problems = self._resolve()
        problems = list(problems)
        for export in exports:
            problems.extend(export.check())
        return problems

    def frames(self, rank: int) -> list[Frame]:
        """The united daily frame, then one frame per dimension file of each dated export."""
        dated = [e for e in self.exports() if e.has_dates()]
        if not dated:
            return []
        labels = ", ".join(e.label for e in dated) if len(dated) <= 3 else (
            f"{len(dated)} folders, {dated[0].label} … {dated[-1].label}")
        frames = [Frame(f"Search Console exports ({labels})", Grain.DAY, (), COLUMNS,
                        self.daily, self.days_present, rank=rank,
                        provisional_from=self.context.today - PROVISIONAL,
                        blanks=self.blanks, timezone=PACIFIC)]
        # Newest name first: of two exports of the same range, the later download is preferred.
        dimensions: dict[str, None] = {}
        for export in sorted(dated, key=lambda e: e.label, reverse=True):
            for dimension, member in export.members().items():
                if dimension != DATES:
                    dimensions[dimension] = None
                    frames.append(Frame(f"{export.label}/{member}", Grain.RANGE, (dimension,),
                                        COLUMNS, partial(export.dimension_rows, dimension),
                                        span=export.span, rank=rank + len(frames),
                                        timezone=PACIFIC))
        # The monthly exports of each table, month by month: the chart of branded clicks.
        for dimension in dimensions:
            frames.append(Frame(f"Search Console monthly exports ({dimension})", Grain.MONTH,
                                (dimension,), COLUMNS, partial(self._by_month, dimension),
                                partial(self._months, dimension), rank=rank + len(frames),
                                monthly_exports=True, timezone=PACIFIC))
        return frames

    def _monthly(self, dimension: str) -> dict[dt.date, Export]:
        """Month -> its export (of exactly that calendar month) holding ``dimension``; of two,
        the later name (download)."""
        out: dict[dt.date, Export] = {}
        for export in sorted(self.exports(), key=lambda e: e.label):
            if export.has_dates() and dimension in export.members() and export.one_month():
                span = export.span()
                assert span is not None  # one_month() says it has one
                out[span.start] = export
        return out

    def _months(self, dimension: str) -> set[dt.date]:
        return set(self._monthly(dimension))

    def _by_month(self, dimension: str) -> list[dict[str, Any]]:
        return [{**row, "month": month} for month, export in self._monthly(dimension).items()
                for row in export.dimension_rows(dimension)]

    def daily(self) -> list[dict[str, Any]]:
        return cached(self._cache, "daily", self._unite)

    def days_present(self) -> set[dt.date]:
        return {row[DATES] for row in self.daily()}

    def blanks(self) -> dict[str, list[dt.date]]:
        """Per metric, the days whose cell is blank in the dates tables (a position is blank
        by right on a day without impressions): noted where a figure leaves them out, as for
        a tidy table, never dropped in silence."""
        def find() -> dict[str, list[dt.date]]:
            found: dict[str, list[dt.date]] = {}
            for row in self.daily():  # sorted by day
                for name in _REQUIRED:
                    if row.get(name) is None and (name != "position" or row.get("impressions")):
                        found.setdefault(name, []).append(row[DATES])
            return found
        return cached(self._cache, "blanks", find)

    def hidden_queries(self, query: Query, source: str) -> list[DataNote]:
        """A note when a query table's clicks fall short of the dates table's total for the
        same export: Google leaves out the queries it hides for privacy (anonymised queries),
        so a table of queries or a total filtered on them (branded clicks) counts only the
        queries listed."""
        if query.granularity is not Granularity.TOTAL or "query" not in (
                *query.dimensions, *(f.dimension for f in query.filters)):
            return []
        export = next((e for e in self.exports() if e.has_dates() and "query" in e.members()
                       and e.span() == query.range), None)
        if export is not None:
            used = [export]
        else:  # a quarter's branded clicks, summed from each month's export
            monthly = self._monthly("query")
            months = whole_months(query.range)
            if len(months) < 2 or month_end(months[-1]) != query.range.end or any(
                    m not in monthly for m in months):
                return []
            used = [monthly[m] for m in months]
        listed = sum(row["clicks"] or 0 for e in used for row in e.dimension_rows("query"))
        total = sum(row["clicks"] or 0 for e in used for row in e.days().values())
        if listed >= total:
            return []
        label = used[0].label if len(used) == 1 else f"{used[0].label} … {used[-1].label}"
        metrics = tuple(m for m in query.metrics if m in ("clicks", "impressions", "ctr",
                                                          "position"))
        return [DataNote(kind=NoteKind.THRESHOLDED, source=source, metrics=metrics,
                         message=f"{label}: the queries listed give {listed:.0f} of the "
                                 f"{total:.0f} clicks of {query.range}; Google hides the "
                                 f"others' queries for privacy")]

    def one_total_only(self, dimension: str, rng: DateRange) -> str | None:
        """Why the exports cannot give totals split by ``dimension`` for a calendar month like
        ``rng`` (each export's files give one total for its own range), or None when they
        can: an export of exactly that range, or of one calendar month, a calendar quarter or
        a year-to-date (the report's period) is there. Says which months each export covers."""
        holders = [e for e in self.exports() if e.has_dates() and dimension in e.members()]
        if not holders:
            return None
        for export in holders:
            span = export.span()
            if span is None or span == rng:
                return None
            if span.start.day == 1 and span.end == month_end(span.end.replace(day=1)) and (
                    export.one_month() or span.start.month == 1
                    or (span.start.month % 3 == 1 and span.days <= 92)):
                return None
        listing = "; ".join(f"{e.label}: {e.months()}" for e in holders)
        return (f"cannot give monthly {dimension} totals: the {dimension} table of a Search "
                f"Console export is one total for the export's whole range, and no export "
                f"covers a single calendar month ({listing}). Export the Performance report "
                f"once per month (date range: the month, compare off), one folder per month")

    def _unite(self) -> list[dict[str, Any]]:
        # Where exports overlap, the one reaching the latest day wins: Search Console revises
        # its last days, so the newer export has the more final figures.
        dated = [e for e in self.exports() if e.has_dates() and e.span() is not None]
        days: dict[dt.date, dict[str, Any]] = {}
        for export in sorted(dated, key=lambda e: (e.span().end, e.label)):  # type: ignore[union-attr]
            days.update(export.days())
        return [days[day] for day in sorted(days)]

    def _resolve(self) -> tuple[list[Export], list[str]]:
        return cached(self._cache, "resolve", self._find)

    def _find(self) -> tuple[list[Export], list[str]]:
        exports: dict[Path, Export] = {}
        problems: list[str] = []
        for pattern in self.patterns:
            path = self.context.resolve_path(pattern)
            if any(c in pattern for c in "*?["):
                matches = [Path(p) for p in sorted(glob.glob(str(path)))]
            else:
                matches = [path] if path.exists() else []
            usable = [p for p in matches
                      if p.is_dir() or (p.is_file() and p.suffix.lower() == ".zip")]
            if not usable:
                problems.append(f"search_console: {pattern!r} matches no export folder or zip "
                                f"file (looked for {path})")
            for p in usable:
                exports.setdefault(p, Export(p, self._label(p)))
        return sorted(exports.values(), key=lambda e: e.label), problems

    def _label(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.context.base_dir))
        except ValueError:
            return str(path)
