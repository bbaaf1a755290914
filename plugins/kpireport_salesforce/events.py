"""What each commercial metric counts in Salesforce, as SOQL, turned into daily rows.

A metric is read from an *event* (:class:`Event`): leads created, leads qualified,
opportunities created, won, lost… Each event is asked one calendar month at a time and
answers rows ``{"date": <day in the client's time zone>, <dimensions>, <metric columns>}``;
the source adds the rows up into the buckets a query asks for.

Counts and amounts come from SOQL aggregates. A datetime (``CreatedDate``) is grouped by its
UTC day and hour (``DAY_ONLY``, ``HOUR_IN_DAY``), each hour then placed on the client's day:
exact for every time zone whose offset is whole hours (``convertTimezone()`` would give the
integration user's zone, not the client's). Where an aggregate cannot serve — a zone with a
half-hour offset, more than 2,000 groups in a day, the sales cycle, a customer's first won
deal, a status history — records are read instead, following ``nextRecordsUrl``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from kpireport import SourceError

from .api import SalesforceApi, SoqlError
from .settings import SalesforceSettings

Row = dict[str, Any]

# Query dimensions → the field holding them, per object; a dimension an object lacks
# cannot split that object's metrics.
DIMENSION_FIELDS: dict[str, dict[str, str]] = {
    "Lead": {"stage": "Status", "lead_source": "LeadSource"},
    "Opportunity": {"stage": "StageName", "lead_source": "LeadSource"},
    "LeadHistory": {},
}


METRIC_EVENTS: dict[str, tuple[str, ...]] = {
    "leads": ("leads_created",),
    "qualified_leads": ("qualified",),
    "opportunities": ("opportunities_created",),
    "pipeline_value": ("opportunities_created",),
    "won_deals": ("won",),
    "won_revenue": ("won",),
    "lost_deals": ("lost",),
    "sales_cycle_days": ("cycle",),
    "new_customers": ("new_customers",),
    "lead_conversion_rate": ("new_customers", "leads_created"),
}
"""The events each metric is read from."""


def object_of(settings: SalesforceSettings, event: str) -> str:
    """The object whose records an event counts (its fields are the dimensions it has)."""
    if event == "qualified" and settings.qualified_leads.by == "status":
        return "LeadHistory"
    if event in {"leads_created", "qualified"}:
        return "Lead"
    return "Opportunity"


def metric_dimensions(settings: SalesforceSettings,
                      dimensions: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The metrics that split by fewer of ``dimensions`` than the source offers: those its
    events' objects all have."""
    out = {}
    for metric, events in METRIC_EVENTS.items():
        dims = tuple(d for d in dimensions
                     if all(d in DIMENSION_FIELDS[object_of(settings, e)] for e in events))
        if dims != dimensions:
            out[metric] = dims
    return out


def soql_literal(value: str) -> str:
    """``value`` as a SOQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def soql_datetime(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def month_bounds(month: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The month's first instant and the next month's, in ``tz``, as UTC datetimes."""
    following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    start = dt.datetime.combine(month, dt.time(), tzinfo=tz)
    end = dt.datetime.combine(following, dt.time(), tzinfo=tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def whole_hours(tz: ZoneInfo, start: dt.datetime, end: dt.datetime) -> bool:
    """Whether ``tz``'s offset is whole hours all through [start, end)."""
    moment = start
    while moment < end:
        offset = moment.astimezone(tz).utcoffset() or dt.timedelta()
        if offset.total_seconds() % 3600:
            return False
        moment += dt.timedelta(hours=6)  # offsets change at most a few times a year
    return True


def parse_datetime(text: str) -> dt.datetime:
    """Salesforce's ``2024-04-18T09:12:44.000+0000``."""
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


@dataclass(frozen=True)
class Count:
    """A metric counted (``COUNT(Id)``) or summed (``SUM(field)``) from one object."""

    obj: str
    date_field: str
    date_kind: str  # "date" or "datetime"
    where: tuple[str, ...]
    count: str | None  # the metric the count gives
    amount: str | None = None  # the metric the sum of Amount gives


class Events:
    """Reads one org's events for one client (time zone, definitions)."""

    def __init__(self, api: SalesforceApi, settings: SalesforceSettings, tz: ZoneInfo) -> None:
        self.api = api
        self.settings = settings
        self.tz = tz
        self._first_won: list[Row] | None = None

    # --- definitions --------------------------------------------------------------------

    def won_condition(self) -> str:
        stages = self.settings.won_stages
        if stages:
            return f"StageName IN ({', '.join(soql_literal(s) for s in stages)})"
        return "IsWon = true"

    def lost_condition(self) -> tuple[str, ...]:
        stages = self.settings.lost_stages
        if stages:
            return (f"StageName IN ({', '.join(soql_literal(s) for s in stages)})",)
        return ("IsClosed = true", "IsWon = false")

    def counts(self) -> dict[str, Count]:
        """The events read by aggregate, by name."""
        q = self.settings.qualified_leads
        out = {
            "leads_created": Count("Lead", "CreatedDate", "datetime", (), "leads"),
            "opportunities_created": Count("Opportunity", "CreatedDate", "datetime", (),
                                           "opportunities", "pipeline_value"),
            "won": Count("Opportunity", "CloseDate", "date", (self.won_condition(),),
                         "won_deals", "won_revenue"),
            "lost": Count("Opportunity", "CloseDate", "date", self.lost_condition(),
                          "lost_deals"),
        }
        if q.by == "converted":
            out["qualified"] = Count("Lead", "ConvertedDate", "date", ("IsConverted = true",),
                                     "qualified_leads")
        elif q.by == "field":
            assert q.field is not None
            where = (f"{q.flag} = true",) if q.flag else ()
            out["qualified"] = Count("Lead", q.field, q.field_type, where, "qualified_leads")
        return out

    def events_for(self, metric: str) -> tuple[str, ...]:
        """The events a metric is read from."""
        return METRIC_EVENTS[metric]

    def object_of(self, event: str) -> str:
        return object_of(self.settings, event)

    def dimension_fields(self, event: str, dimensions: Sequence[str]) -> list[str]:
        fields = DIMENSION_FIELDS[self.object_of(event)]
        missing = [d for d in dimensions if d not in fields]
        if missing:
            what = ("leads qualified by their status history" if self.object_of(event)
                    == "LeadHistory" else f"{self.object_of(event)} records")
            raise SourceError(f"{what} cannot be split or filtered by {', '.join(missing)}")
        return [fields[d] for d in dimensions]

    # --- reading a month ----------------------------------------------------------------

    def month(self, event: str, month: dt.date, dimensions: Sequence[str]) -> list[Row]:
        """The event's daily rows for the calendar ``month`` (client's days)."""
        fields = self.dimension_fields(event, dimensions)
        if event == "cycle":
            return self._cycle(month, dimensions, fields)
        if event == "new_customers":
            return self._new_customers(month, dimensions, fields)
        if event == "qualified" and self.settings.qualified_leads.by == "status":
            return self._status_changes(month)
        # Several hours (or records) fall on one of the client's days: add them up.
        return sum_rows(self._count(self.counts()[event], month, dimensions, fields),
                        dimensions)

    def _count(self, spec: Count, month: dt.date, dims: Sequence[str],
               fields: list[str]) -> list[Row]:
        select = ["COUNT(Id) n"]
        if spec.amount:
            select.append("SUM(Amount) s")
        if spec.date_kind == "date":
            following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            return self._count_dates(spec, month, following - dt.timedelta(days=1), dims,
                                     fields, select)
        start, end = month_bounds(month, self.tz)
        if not whole_hours(self.tz, start, end):
            return self._count_records(spec, start, end, dims, fields)
        return self._count_hours(spec, start, end, dims, fields, select)

    def _count_dates(self, spec: Count, first: dt.date, last: dt.date, dims: Sequence[str],
                     fields: list[str], select: list[str]) -> list[Row]:
        f = spec.date_field
        where = [*spec.where, f"{f} >= {first.isoformat()}", f"{f} <= {last.isoformat()}"]
        group = [f, *fields]
        soql = (f"SELECT {', '.join([*group, *select])} FROM {spec.obj} WHERE "
                f"{' AND '.join(where)} GROUP BY {', '.join(group)}")
        try:
            records = self.api.query(soql)
        except SoqlError as exc:
            # Over 2,000 groups (many dimension values): ask each half of the days.
            if "queryMore" not in str(exc) or first == last:
                raise
            middle = first + (last - first) // 2
            return (self._count_dates(spec, first, middle, dims, fields, select)
                    + self._count_dates(spec, middle + dt.timedelta(days=1), last, dims,
                                        fields, select))
        return [self._row(spec, dt.date.fromisoformat(str(rec[f])), dims, fields, rec)
                for rec in records]

    def _count_hours(self, spec: Count, start: dt.datetime, end: dt.datetime,
                     dims: Sequence[str], fields: list[str], select: list[str]) -> list[Row]:
        f = spec.date_field
        where = [*spec.where, f"{f} >= {soql_datetime(start)}", f"{f} < {soql_datetime(end)}"]
        group = [f"DAY_ONLY({f})", f"HOUR_IN_DAY({f})", *fields]
        soql = (f"SELECT DAY_ONLY({f}) d, HOUR_IN_DAY({f}) h, "
                f"{', '.join([*fields, *select])} FROM {spec.obj} WHERE {' AND '.join(where)} "
                f"GROUP BY {', '.join(group)}")
        try:
            records = self.api.query(soql)
        except SoqlError as exc:
            if "queryMore" not in str(exc):
                raise
            # Over 2,000 groups (many dimension values): ask each half, down to a day.
            if end - start <= dt.timedelta(days=1):
                return self._count_records(spec, start, end, dims, fields)
            middle = start + ((end - start) / 2)
            middle = middle.replace(minute=0, second=0, microsecond=0)
            return (self._count_hours(spec, start, middle, dims, fields, select)
                    + self._count_hours(spec, middle, end, dims, fields, select))
        rows = []
        for rec in records:
            moment = dt.datetime.combine(dt.date.fromisoformat(str(rec["d"])),
                                         dt.time(int(rec["h"])), tzinfo=dt.UTC)
            rows.append(self._row(spec, moment.astimezone(self.tz).date(), dims, fields, rec))
        return rows

    def _count_records(self, spec: Count, start: dt.datetime, end: dt.datetime,
                       dims: Sequence[str], fields: list[str]) -> list[Row]:
        f = spec.date_field
        where = [*spec.where, f"{f} >= {soql_datetime(start)}", f"{f} < {soql_datetime(end)}"]
        select = ["Id", f, *fields] + (["Amount"] if spec.amount else [])
        soql = f"SELECT {', '.join(select)} FROM {spec.obj} WHERE {' AND '.join(where)}"
        records = self.api.query(soql)
        if spec.amount and records:
            self._single_currency(spec.obj)
        rows = []
        for rec in records:
            day = parse_datetime(str(rec[f])).astimezone(self.tz).date()
            rows.append(self._row(spec, day, dims, fields, {
                **rec, "n": 1, "s": rec.get("Amount")}))
        return rows

    def _single_currency(self, obj: str) -> None:
        # Records carry amounts in their own currency in a multi-currency org: summing them
        # would mix currencies, which the report must never do silently.
        try:
            self.api.query("SELECT Id FROM CurrencyType WHERE IsActive = true")
        except SoqlError as exc:
            if exc.code == "INVALID_TYPE":
                return  # no CurrencyType: a single-currency org
            raise
        raise SourceError(
            f"this multi-currency org's {obj} amounts cannot be added up by record in time "
            f"zone {self.tz.key} (its offset is not whole hours): give the client a whole-hour "
            "time zone for this source, or ask for counts only")

    @staticmethod
    def _row(spec: Count, day: dt.date, dims: Sequence[str], fields: list[str],
             rec: dict[str, Any]) -> Row:
        row: Row = {"date": day}
        for dim, field in zip(dims, fields, strict=True):
            row[dim] = rec.get(field)
        if spec.count:
            row[spec.count] = float(rec.get("n") or 0)
        if spec.amount:
            amount = rec.get("s")
            row[spec.amount] = None if amount is None else float(amount)
        return row

    def _cycle(self, month: dt.date, dims: Sequence[str], fields: list[str]) -> list[Row]:
        """Won deals closed in the month: days from creation (client's day) to close."""
        following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        last = following - dt.timedelta(days=1)
        soql = (f"SELECT Id, CreatedDate, CloseDate{''.join(', ' + f for f in fields)} "
                f"FROM Opportunity WHERE {self.won_condition()} AND "
                f"CloseDate >= {month.isoformat()} AND CloseDate <= {last.isoformat()}")
        totals: dict[tuple[Any, ...], list[float]] = {}
        for rec in self.api.query(soql):
            close = dt.date.fromisoformat(str(rec["CloseDate"]))
            created = parse_datetime(str(rec["CreatedDate"])).astimezone(self.tz).date()
            key = (close, *(rec.get(f) for f in fields))
            acc = totals.setdefault(key, [0.0, 0.0])
            acc[0] += 1
            acc[1] += (close - created).days
        return [{"date": key[0], **dict(zip(dims, key[1:], strict=True)),
                 "won_deals": n, "sales_cycle_days": days / n}
                for key, (n, days) in totals.items()]

    def first_won(self) -> list[Row]:
        """Each account's first won deal: ``{"date", "fields"…}`` (read once per run)."""
        if self._first_won is None:
            extra = sorted(set(DIMENSION_FIELDS["Opportunity"].values()))
            soql = (f"SELECT Id, AccountId, CloseDate, {', '.join(extra)} FROM Opportunity "
                    f"WHERE {self.won_condition()} AND AccountId != null")
            first: dict[str, tuple[dt.date, str, dict[str, Any]]] = {}
            for rec in self.api.query(soql):
                close = dt.date.fromisoformat(str(rec["CloseDate"]))
                account, ident = str(rec["AccountId"]), str(rec["Id"])
                known = first.get(account)
                if known is None or (close, ident) < known[:2]:
                    first[account] = (close, ident, rec)
            self._first_won = [{"date": close, **rec} for close, _, rec in first.values()]
        return self._first_won

    def _new_customers(self, month: dt.date, dims: Sequence[str],
                       fields: list[str]) -> list[Row]:
        following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        counts: dict[tuple[Any, ...], float] = {}
        for rec in self.first_won():
            if month <= rec["date"] < following:
                key = (rec["date"], *(rec.get(f) for f in fields))
                counts[key] = counts.get(key, 0.0) + 1
        return [{"date": key[0], **dict(zip(dims, key[1:], strict=True)), "new_customers": n}
                for key, n in counts.items()]

    def _status_changes(self, month: dt.date) -> list[Row]:
        """Leads whose status changed into a qualified one (from one that was not)."""
        statuses = {s.casefold() for s in self.settings.qualified_leads.statuses}
        start, end = month_bounds(month, self.tz)
        # OldValue and NewValue cannot be filtered in SOQL: the status changes are read and
        # sorted here.
        soql = ("SELECT Id, LeadId, OldValue, NewValue, CreatedDate FROM LeadHistory WHERE "
                f"Field = 'Status' AND CreatedDate >= {soql_datetime(start)} AND "
                f"CreatedDate < {soql_datetime(end)}")
        counts: dict[dt.date, float] = {}
        for rec in self.api.query(soql):
            new, old = str(rec.get("NewValue") or ""), str(rec.get("OldValue") or "")
            if new.casefold() in statuses and old.casefold() not in statuses:
                day = parse_datetime(str(rec["CreatedDate"])).astimezone(self.tz).date()
                counts[day] = counts.get(day, 0.0) + 1
        return [{"date": day, "qualified_leads": n} for day, n in counts.items()]


def sum_rows(rows: Iterable[Row], dims: Sequence[str]) -> list[Row]:
    """Rows of additive columns added up per (date, dimensions); None stays None only when
    every value was None."""
    out: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        key = (row["date"], *(row.get(d) for d in dims))
        acc = out.get(key)
        if acc is None:
            out[key] = dict(row)
            continue
        for name, value in row.items():
            if name == "date" or name in dims or value is None:
                continue
            acc[name] = value if acc.get(name) is None else acc[name] + value
    return list(out.values())


def merge_rows(parts: Iterable[list[Row]], dims: Sequence[str]) -> list[Row]:
    """Rows of several events joined on (date, dimensions)."""
    merged: dict[tuple[Any, ...], Row] = {}
    for rows in parts:
        for row in rows:
            key = (row["date"], *(row.get(d) for d in dims))
            merged.setdefault(key, {}).update(row)
    return list(merged.values())

