"""Google Search Console web-UI exports: folders (or zip files) of ``Dates.csv``, ``Queries.csv``…

Each file has a header ``<Dimension>,Clicks,Impressions,CTR,Position``. The dimension is known
from the file's name; the metric columns from their headers, in English or French. ``Dates.csv``
gives daily rows (newest first); the other files give one total per value for the export's
range, which is the first..last date of the same export's ``Dates.csv``.
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

from kpireport.data import DateRange
from kpireport.errors import DataFileError
from kpireport.sources import SourceContext

from .frames import Frame, Grain
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
        """Dimension (``date`` for Dates.csv) -> file name, for the files recognised."""
        return cached(self._cache, "members", self._list)

    def has_dates(self) -> bool:
        return DATES in self.members()

    def days(self) -> dict[dt.date, dict[str, Any]]:
        return cached(self._cache, "days", self._parse_days)

    def span(self) -> DateRange | None:
        days = self.days() if self.has_dates() else {}
        return DateRange(start=min(days), end=max(days)) if days else None

    def dimension_rows(self, dimension: str) -> list[dict[str, Any]]:
        return cached(self._cache, dimension,
                      lambda: [row for _, row in self._parse(self.members()[dimension],
                                                             dimension)])

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
            return [f"{self.label}: no Search Console export files (Dates.csv, Queries.csv, "
                    f"Pages.csv, Countries.csv, Devices.csv){hint}"]
        problems = []
        if not self.has_dates():
            others = ", ".join(members.values())
            problems.append(f"{self.label}: {others} cannot be used without Dates.csv, which "
                            f"gives the export's date range; download the export again with "
                            f"its Dates tab")
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
            dimension = FILES.get(_fold(name.rsplit("/", 1)[-1]))
            if dimension is None:
                continue
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
                        row[name] = parse_day(cell) if dimension == DATES else cell
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
                        provisional_from=self.context.today - PROVISIONAL)]
        # Newest name first: of two exports of the same range, the later download is preferred.
        for export in sorted(dated, key=lambda e: e.label, reverse=True):
            for dimension, member in export.members().items():
                if dimension != DATES:
                    frames.append(Frame(f"{export.label}/{member}", Grain.RANGE, (dimension,),
                                        COLUMNS, partial(export.dimension_rows, dimension),
                                        span=export.span, rank=rank + len(frames)))
        return frames

    def daily(self) -> list[dict[str, Any]]:
        return cached(self._cache, "daily", self._unite)

    def days_present(self) -> set[dt.date]:
        return {row[DATES] for row in self.daily()}

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
