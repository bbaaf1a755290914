"""Reporting periods and their comparison periods, in the client's time zone.

A period spec is one of ``last-month`` (the default), ``month-to-date``, ``last-quarter``,
``year-to-date``, a month ``2026-10``, a quarter ``2026-Q3``, or an explicit range
``2026-10-01..2026-10-31``.
Relative specs are resolved from *today in the client's time zone*, so a report run at 01:00
in Paris on 1 November covers October even though it is still 31 October in UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from kpireport.data import DateRange
from kpireport.errors import KpiReportError

RELATIVE = ("last-month", "month-to-date", "last-quarter", "year-to-date")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_TO_DATE_KEY = re.compile(r"^(\d{4})-(?:(\d{2})-mtd-(\d{2})|ytd-(\d{2})-(\d{2}))$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


BAR_PERIODS = frozenset({"quarter", "year-to-date"})
"""The periods whose reports chart their months as bars, a month covered in part as the
figure of its days so far (see :mod:`kpireport.report_charts`)."""


class PeriodError(KpiReportError, ValueError):
    """A period spec that cannot be understood."""

    exit_code = 2


@dataclass(frozen=True, kw_only=True)
class Period:
    """The range a report covers, with the ranges it is compared with.

    ``kind`` is ``month``, ``quarter``, ``month-to-date``, ``year-to-date`` or ``range``;
    ``key`` is a stable, file-name-safe id that names the period in full (``2026-10``,
    ``2026-Q3``, ``2026-11-mtd-14``, ``2026-ytd-11-14``, ``2026-01-01..2026-10-31``): a weekly
    month-to-date report is not the one of the week before, and :func:`from_key` reads it back.
    """

    kind: str
    range: DateRange
    previous: DateRange
    last_year: DateRange
    key: str
    full_end: dt.date | None = None
    """Set when the data stops before the period's end (see :meth:`through`): the end the
    period has in full; ``range`` then ends with the data, and ``previous`` and ``last_year``
    are the same days of the periods it is compared with."""

    @property
    def start(self) -> dt.date:
        return self.range.start

    @property
    def end(self) -> dt.date:
        return self.range.end

    @property
    def partial(self) -> bool:
        """Whether the data stops before the period's end (the range is cut short)."""
        return self.full_end is not None

    def through(self, end: dt.date) -> Period:
        """The period judged on its data up to ``end`` only: its range up to that day, and its
        comparisons over the same days (1–24 October for November's first 24 days, last
        year's 1 January–24 November for a year to date whose data ends on 24 November).
        ``key`` is unchanged: it is still this period's report."""
        if end >= self.end or end < self.start:
            return self
        rng = DateRange(start=self.start, end=end)
        return Period(kind=self.kind, range=rng, previous=_same_days(self.range, self.previous,
                                                                      end),
                      last_year=_same_days(self.range, self.last_year, end), key=self.key,
                      full_end=self.full_end or self.end)


def today_in(timezone: str | ZoneInfo, now: dt.datetime | None = None) -> dt.date:
    """Today's date in a time zone (``now`` is an aware datetime, for tests and replays)."""
    tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(tz).date()


def month_range(year: int, month: int) -> DateRange:
    start = dt.date(year, month, 1)
    return DateRange(start=start, end=add_months(start, 1) - dt.timedelta(days=1))


def add_months(day: dt.date, months: int) -> dt.date:
    """Shift by whole months, clamping the day to the target month's length."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def shift_year(day: dt.date, years: int = -1) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def _year_before(rng: DateRange) -> DateRange:
    return DateRange(start=shift_year(rng.start), end=shift_year(rng.end))


def _preceding(rng: DateRange) -> DateRange:
    end = rng.start - dt.timedelta(days=1)
    return DateRange(start=end - dt.timedelta(days=rng.days - 1), end=end)


def _same_days(full: DateRange, compared: DateRange, end: dt.date) -> DateRange:
    """The days of ``compared`` matching ``full.start``..``end``: by calendar months when
    both start on a 1st (so 1–24 November matches 1–24 October, not 1–24 plus a day), else
    by the count of days; never past ``compared``'s own end."""
    if full.start.day == 1 and compared.start.day == 1:
        months = (full.start.year - compared.start.year) * 12 + full.start.month \
            - compared.start.month
        same = add_months(end, -months)  # clamped: 29 February's match is the 28th
    else:
        same = compared.start + (end - full.start)
    return DateRange(start=compared.start, end=min(same, compared.end))


def _is_whole_month(rng: DateRange) -> bool:
    return rng.start.day == 1 and rng == month_range(rng.start.year, rng.start.month)


def resolve(spec: str, today: dt.date) -> Period:
    """Resolve a period spec against ``today`` (already in the client's time zone)."""
    spec = (spec or "last-month").strip()
    if spec == "last-month":
        first = add_months(today.replace(day=1), -1)
        return _month_period(first.year, first.month)
    if spec == "month-to-date":
        # Up to yesterday: today's data is never complete.
        end = today - dt.timedelta(days=1)
        if end.month != today.month:
            return _month_period(end.year, end.month)
        rng = DateRange(start=today.replace(day=1), end=end)
        prev_start = add_months(rng.start, -1)
        prev = DateRange(start=prev_start, end=min(add_months(rng.end, -1),
                                         month_range(prev_start.year, prev_start.month).end))
        return Period(kind="month-to-date", range=rng, previous=prev, last_year=_year_before(rng),
                      key=f"{rng.start:%Y-%m}-mtd-{rng.end:%d}")
    if spec == "last-quarter":
        q_index = (today.month - 1) // 3  # current quarter, 0-based
        start = add_months(dt.date(today.year, q_index * 3 + 1, 1), -3)
        return _quarter_period(start.year, (start.month - 1) // 3 + 1)
    if m := _QUARTER.match(spec):
        return _quarter_period(int(m[1]), int(m[2]))
    if spec == "year-to-date":
        end = today - dt.timedelta(days=1)
        rng = DateRange(start=dt.date(end.year, 1, 1), end=end)
        # Compared with the same days of last year, not with the 300-odd days before
        # 1 January (last year's end-of-year season): its previous period is last year's.
        return Period(kind="year-to-date", range=rng, previous=_year_before(rng),
                      last_year=_year_before(rng),
                      key=f"{end.year}-ytd-{end:%m-%d}")
    if m := _MONTH.match(spec):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise PeriodError(f"{spec!r}: month must be 01 to 12")
        return _month_period(year, month)
    if m := _RANGE.match(spec):
        try:
            start, end = dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2])
            rng = DateRange(start=start, end=end)
        except ValueError as exc:
            raise PeriodError(f"{spec!r}: {exc}") from None
        if _is_whole_month(rng):
            return _month_period(start.year, start.month)
        return Period(kind="range", range=rng, previous=_preceding(rng),
                      last_year=_year_before(rng), key=str(rng))
    raise PeriodError(
        f"{spec!r} is not a period: expected one of {', '.join(RELATIVE)}, "
        "a month such as 2026-10, a quarter such as 2026-Q3, or a range such as "
        "2026-10-01..2026-10-31"
    )


def from_key(key: str) -> Period:
    """The period a :attr:`Period.key` names, as a ledger row, a spool or a snapshot has it."""
    if m := _TO_DATE_KEY.match(key):
        try:
            end = dt.date(int(m[1]), int(m[2] or m[4]), int(m[3] or m[5]))
        except ValueError as exc:
            raise PeriodError(f"{key!r}: {exc}") from None
        period = resolve("month-to-date" if m[2] else "year-to-date", end + dt.timedelta(days=1))
    else:
        period = resolve(key, dt.date.today())  # months, quarters, ranges: today plays no part
    if period.key != key:
        raise PeriodError(f"{key!r} is not a period's key (e.g. 2026-10, 2026-Q3, "
                          "2026-11-mtd-14, 2026-ytd-11-14, 2026-10-01..2026-10-31)")
    return period


def _quarter_period(year: int, quarter: int) -> Period:
    start = dt.date(year, quarter * 3 - 2, 1)
    rng = DateRange(start=start, end=add_months(start, 3) - dt.timedelta(days=1))
    prev_start = add_months(start, -3)
    prev = DateRange(start=prev_start, end=start - dt.timedelta(days=1))
    return Period(kind="quarter", range=rng, previous=prev, last_year=_year_before(rng),
                  key=f"{year}-Q{quarter}")


def _month_period(year: int, month: int) -> Period:
    rng = month_range(year, month)
    prev_first = add_months(rng.start, -1)
    return Period(
        kind="month",
        range=rng,
        previous=month_range(prev_first.year, prev_first.month),
        last_year=month_range(year - 1, month),
        key=f"{year:04d}-{month:02d}",
    )


def months_between(start: dt.date, end: dt.date) -> list[DateRange]:
    """The calendar months touching ``start``..``end``, each clipped to that range."""
    out = []
    cursor = start.replace(day=1)
    while cursor <= end:
        m = month_range(cursor.year, cursor.month)
        out.append(DateRange(start=max(m.start, start), end=min(m.end, end)))
        cursor = add_months(cursor, 1)
    return out
