"""A fake HubSpot portal: the CRM v3 search endpoints for contacts, companies and deals.

What it serves (on a :class:`~kpireport.testing.FakeServer`):
``POST /crm/v3/objects/{contacts|companies|deals}/search`` with a Bearer private-app token
(:attr:`HubSpotFake.token`). Request ``filterGroups`` (groups are ORed, filters in a group ANDed;
at most 5 groups, 10 filters a group, 25 in all) with EQ, NEQ, GT, GTE, LT, LTE, BETWEEN
(``value``/``highValue``), IN / NOT_IN (``values``), HAS_PROPERTY, NOT_HAS_PROPERTY;
``properties``, ``sorts`` (``[{"propertyName", "direction"}]``), ``limit`` (≤ 200, default 10),
``after``. Reply ``{"total", "results": [{"id", "properties", "createdAt", "updatedAt",
"archived"}], "paging": {"next": {"after"}}}``, ``paging`` absent on the last page; property
values are strings or null; date properties are ISO ``2024-05-01T09:12:44.123Z`` and filters
accept ISO or epoch milliseconds. A search yields at most 10,000 results: ``total`` says how
many match, ``paging.next.after`` still reaches ``"10000"`` and asking for it is a 400 (split
the date range). Errors in HubSpot's shape: 401 ``category: INVALID_AUTHENTICATION``, 400
``VALIDATION_ERROR``, 429 ``errorType: RATE_LIMIT, policyName: SECONDLY``.
``X-HubSpot-RateLimit-Secondly(-Remaining)`` and ``-Daily(-Remaining)`` on every reply.

Also served, with the same token (these count toward the daily limit, not the search limit):
``GET /account-info/v3/details`` (``{"portalId", "accountType", "timeZone", "companyCurrency",
"additionalCurrencies", "utcOffset", "utcOffsetMilliseconds", "uiDomain",
"dataHostingLocation"}``); ``GET /crm/v3/properties/{object}`` (``{"results": [{"name", "label",
"type", "fieldType", "groupName", "calculated", "hidden", ...}]}``: every property the records
carry, dates typed ``datetime``, ``amount`` ``number``); ``GET /crm/v3/pipelines/deals``
(``{"results": [{"id", "label", "displayOrder", "archived", "stages": [{"id", "label",
"displayOrder", "archived", "metadata": {"isClosed": "true"|"false", "probability": "0.2"}}]}]}``).
``scopes`` (default: all) is what the private app was granted: a call without the scope it
needs is a 403 ``category: MISSING_SCOPES`` whose ``errors[0].context.requiredGranularScopes``
names it (search and pipelines: ``crm.objects.<object>.read``; properties:
``crm.schemas.<object>.read`` or ``crm.objects.<object>.read``).

A plugin's test points its API base URL at :attr:`FakeServer.url`::

    with FakeServer() as server:
        portal = HubSpotFake(server, seed=3, searches_per_second=None)
        ...  # the source searches with portal.token
        expected = [c for c in portal.contacts if ...]  # raw rows, independent of the fake

Data (from ``seed``, created 2024-01-01 .. 2026-11-30): :attr:`HubSpotFake.contacts` with
``lifecyclestage`` and ``hs_lifecyclestage_<stage>_date`` for every stage reached, and one
month (``busy_month``, default 2025-03) with ``busy_month_contacts`` (default 10,500) created, so
a source must split that month's range; :attr:`HubSpotFake.deals` in two pipelines (``default``
and ``renewals``) with dealstage, amount, closedate, createdate, ``hs_is_closed_won``,
``hs_is_closed``, ``deal_currency_code`` and ``amount_in_home_currency`` (the portal's currency
is ``currency``, default EUR; one deal in ten is in ``foreign_currency``, USD, its home amount
``amount`` × ``foreign_rate``, 0.9); :attr:`HubSpotFake.companies` (about two a day) with
``lifecyclestage`` and the ``hs_lifecyclestage_<stage>_date`` of each stage reached, like contacts.
Companies and the deals' currencies come from their own random streams, so contacts and deals
are the same for a seed as before they were added.

Knobs: ``seed``, ``busy_month``, ``busy_month_contacts``, ``currency``, ``foreign_currency``,
``foreign_rate``, ``scopes``, ``time_zone``, ``custom_date_properties`` (names of properties of
HubSpot's type *date*, which a test sets on records as ``"2026-10-05"``: listed by the
properties endpoint on every object, compared as midnight UTC, like HubSpot's date pickers;
declared for the process, not one fake); ``searches_per_second`` (default 5, per token, over a
sliding second of ``clock``; ``None`` for no limit; a test may pass a ``clock`` it moves itself)
and ``daily_limit``; the server's ``latency`` and ``fail()``.

Searches are filtered once and cached for their paging (keyed by the object, its record count,
filters and sorts), and records are indexed by the date properties searched with BETWEEN: a
test that edits records in place should call :meth:`HubSpotFake.forget`.

Deliberate limits: no owners endpoint, no associations, no ``query`` full-text search, no
CONTAINS_TOKEN, no ``hs_v2_date_entered_*`` properties, no archived records; the order without
``sorts`` is by id.
"""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import functools
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from kpireport.testing.server import Call, FakeServer, Reply

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
STAGES = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
          "customer", "evangelist")
PIPELINES = {
    "default": ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
                "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"),
    "renewals": ("1011001", "1011002", "1011003", "1011004", "1011005"),
}
WON = {"closedwon", "1011004"}
LOST = {"closedlost", "1011005"}
START, END = dt.date(2024, 1, 1), dt.date(2026, 11, 30)
MAX_RESULTS = 10_000
OPERATORS = {"EQ", "NEQ", "GT", "GTE", "LT", "LTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY",
             "NOT_HAS_PROPERTY"}
NUMBER_PROPS = {"amount", "amount_in_home_currency", "hs_object_id"}
ALL_SCOPES = frozenset(f"crm.{kind}.{obj}.read" for kind in ("objects", "schemas")
                       for obj in ("contacts", "companies", "deals"))
PIPELINE_LABELS = {"default": "Sales Pipeline", "renewals": "Renewals"}
STAGE_LABELS = {"appointmentscheduled": "Appointment Scheduled",
                "qualifiedtobuy": "Qualified To Buy",
                "presentationscheduled": "Presentation Scheduled",
                "decisionmakerboughtin": "Decision Maker Bought-In",
                "contractsent": "Contract Sent", "closedwon": "Closed Won",
                "closedlost": "Closed Lost", "1011001": "Renewal Due", "1011002": "Quote Sent",
                "1011003": "Negotiation", "1011004": "Renewed", "1011005": "Churned"}
STAGE_PROBABILITY = {"appointmentscheduled": "0.2", "qualifiedtobuy": "0.4",
                     "presentationscheduled": "0.6", "decisionmakerboughtin": "0.8",
                     "contractsent": "0.9", "closedwon": "1.0", "closedlost": "0.0",
                     "1011001": "0.3", "1011002": "0.5", "1011003": "0.7", "1011004": "1.0",
                     "1011005": "0.0"}


def iso(moment: dt.datetime) -> str:
    """HubSpot's datetime strings: ``2024-05-01T09:12:44.123Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


_CUSTOM_DATES: set[str] = set()
"""Custom properties of type date, as fakes declared them (``custom_date_properties``)."""


def _is_date_prop(name: str) -> bool:
    return name in {"createdate", "closedate", "lastmodifieddate"} or name in _CUSTOM_DATES or (
        name.startswith("hs_lifecyclestage_") and name.endswith("_date"))


def _moment(rnd: random.Random, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(rnd.randint(0, 23), rnd.randint(0, 59),
                                            rnd.randint(0, 59), rnd.randint(0, 999) * 1000),
                               tzinfo=dt.UTC)


def generate(seed: int, busy_month: tuple[int, int],
             busy_month_contacts: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(contacts, deals): each ``{"id": str, "properties": {name: str | None}}``."""
    rnd = random.Random(seed)
    contacts: list[dict[str, Any]] = []
    deals: list[dict[str, Any]] = []
    day = START
    while day <= END:
        busy = (day.year, day.month) == busy_month
        if busy:
            month_days = ((day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
                          - day.replace(day=1)).days
            count = busy_month_contacts // month_days + (
                1 if day.day <= busy_month_contacts % month_days else 0)
        else:
            count = rnd.randint(3, 12)
        for _ in range(count):
            created = _moment(rnd, day)
            reached = rnd.choices(range(len(STAGES)), weights=(3, 5, 3, 2, 2, 2, 1))[0]
            props: dict[str, str | None] = {
                "createdate": iso(created), "email": f"c{len(contacts) + 1}@example.com",
                "lifecyclestage": STAGES[reached]}
            moment = created
            for stage in STAGES[:reached + 1]:
                props[f"hs_lifecyclestage_{stage}_date"] = iso(moment)
                moment += dt.timedelta(days=rnd.randint(0, 30), hours=rnd.randint(0, 12))
            props["lastmodifieddate"] = iso(moment)
            contacts.append({"id": str(len(contacts) + 101), "properties": props})
        for _ in range(rnd.randint(0, 4)):
            created = _moment(rnd, day)
            pipeline = rnd.choice(tuple(PIPELINES))
            stage = rnd.choice(PIPELINES[pipeline])
            closed = stage in WON or stage in LOST
            close = created + dt.timedelta(days=rnd.randint(3, 90))
            amount = None if rnd.random() < 0.05 else f"{rnd.randint(2, 800) * 25}"
            deals.append({"id": str(len(deals) + 9001), "properties": {
                "dealname": f"Deal {len(deals) + 1}", "pipeline": pipeline, "dealstage": stage,
                "amount": amount, "createdate": iso(created),
                "closedate": iso(close) if closed or rnd.random() < 0.5 else None,
                "hs_is_closed_won": "true" if stage in WON else "false",
                "hs_is_closed": "true" if closed else "false",
                "lastmodifieddate": iso(close if closed else created)}})
        day += dt.timedelta(days=1)
    for record in contacts + deals:
        record["properties"]["hs_object_id"] = record["id"]
    return contacts, deals


def generate_companies(seed: int) -> list[dict[str, Any]]:
    """Companies (about two a day), from their own random stream."""
    rnd = random.Random(f"companies-{seed}")
    companies: list[dict[str, Any]] = []
    day = START
    while day <= END:
        for _ in range(rnd.randint(0, 4)):
            created = _moment(rnd, day)
            reached = rnd.choices(range(len(STAGES)), weights=(1, 4, 2, 2, 3, 4, 1))[0]
            cid = str(len(companies) + 5001)
            props: dict[str, str | None] = {
                "createdate": iso(created), "name": f"Company {len(companies) + 1}",
                "lifecyclestage": STAGES[reached], "hs_object_id": cid}
            moment = created
            for stage in STAGES[:reached + 1]:
                props[f"hs_lifecyclestage_{stage}_date"] = iso(moment)
                moment += dt.timedelta(days=rnd.randint(0, 40), hours=rnd.randint(0, 12))
            props["lastmodifieddate"] = iso(moment)
            companies.append({"id": cid, "properties": props})
        day += dt.timedelta(days=1)
    return companies


def add_currencies(deals: list[dict[str, Any]], seed: int, currency: str, foreign: str,
                   rate: float) -> None:
    """Each deal's currency and its amount in the portal's (home) currency."""
    rnd = random.Random(f"currencies-{seed}")
    for deal in deals:
        props = deal["properties"]
        own = foreign if rnd.random() < 0.1 else currency
        props["deal_currency_code"] = own
        amount = props["amount"]
        if amount is None:
            props["amount_in_home_currency"] = None
        else:
            home = float(amount) * (rate if own != currency else 1.0)
            props["amount_in_home_currency"] = f"{home:g}"


class _Invalid(Exception):
    pass


def _parse(name: str, value: Any) -> Any:
    """A property or filter value as what it compares as: epoch ms, a number or a string."""
    if value is None:
        return None
    return _parse_text(name, str(value))


@functools.lru_cache(maxsize=1 << 18)
def _parse_text(name: str, text: str) -> Any:
    # Cached: every search filters every record, and a report asks dozens of searches.
    if _is_date_prop(name):
        if text.lstrip("-").isdigit():
            return int(text)
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise _Invalid(f"{text} is not a valid date for {name}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return int(moment.timestamp() * 1000)
    if name in NUMBER_PROPS:
        try:
            return float(text)
        except ValueError:
            raise _Invalid(f"{text} is not a valid number for {name}") from None
    return text.lower()


def _match(props: dict[str, str | None], flt: dict[str, Any]) -> bool:
    name = flt.get("propertyName")
    op = flt.get("operator")
    if not isinstance(name, str) or op not in OPERATORS:
        raise _Invalid(f"Invalid filter: {flt}")
    have = _parse(name, props.get(name))
    if op == "HAS_PROPERTY":
        return have is not None
    if op == "NOT_HAS_PROPERTY":
        return have is None
    if op in {"IN", "NOT_IN"}:
        values = flt.get("values")
        if not isinstance(values, list):
            raise _Invalid(f"{op} needs 'values'")
        inside = have in {_parse(name, v) for v in values}
        return bool(inside) if op == "IN" else not inside
    if "value" not in flt:
        raise _Invalid(f"{op} needs 'value'")
    want = _parse(name, flt["value"])
    if op == "NEQ":
        return bool(have != want)
    if have is None:
        return False
    if op == "EQ":
        return bool(have == want)
    if op == "BETWEEN":
        if "highValue" not in flt:
            raise _Invalid("BETWEEN needs 'highValue'")
        return bool(want <= have <= _parse(name, flt["highValue"]))
    if type(have) is not type(want):
        raise _Invalid(f"cannot compare {name} with {flt['value']}")
    return bool({"GT": have > want, "GTE": have >= want, "LT": have < want,
                 "LTE": have <= want}[op])


class _DateIndex:
    """The records of one object sorted by one date property, so that a search whose every
    filter group has a BETWEEN on a date reads only the records in those ranges (a report
    asks dozens of searches of a portal of tens of thousands of records)."""

    def __init__(self, records: list[dict[str, Any]], name: str) -> None:
        dated = sorted((value, i) for i, r in enumerate(records)
                       if (value := _parse(name, r["properties"].get(name))) is not None)
        self.keys = [value for value, _ in dated]
        self.positions = [i for _, i in dated]

    def between(self, low: Any, high: Any) -> list[int]:
        return self.positions[bisect.bisect_left(self.keys, low):
                              bisect.bisect_right(self.keys, high)]


def _candidates(records: list[dict[str, Any]], groups: list[Any],
                index: Callable[[str], _DateIndex]) -> list[dict[str, Any]]:
    """The records that may match: all of them, or those a BETWEEN on a date in every group
    lets through (in the records' order)."""
    positions: set[int] = set()
    for group in groups:
        between = next((f for f in group.get("filters") or []
                        if f.get("operator") == "BETWEEN" and "highValue" in f
                        and _is_date_prop(str(f.get("propertyName")))), None)
        if between is None:
            return records
        name = between["propertyName"]
        positions.update(index(name).between(_parse(name, between["value"]),
                                             _parse(name, between["highValue"])))
    return [records[i] for i in sorted(positions)]


def _filter_and_sort(records: list[dict[str, Any]], groups: list[Any],
                     sorts: list[Any],
                     index: Callable[[str], _DateIndex] | None = None) -> list[dict[str, Any]]:
    for group in groups:  # a malformed filter is a 400 even when no record reaches it
        for flt in group.get("filters") or []:
            _match({}, flt)
    if groups and index is not None:
        records = _candidates(records, groups, index)
    matched = [r for r in records
               if not groups or any(all(_match(r["properties"], f)
                                        for f in g.get("filters") or []) for g in groups)]
    for sort in reversed(sorts):
        if isinstance(sort, str):
            name, descending = sort.lstrip("-"), sort.startswith("-")
        else:
            name = sort.get("propertyName", "")
            descending = sort.get("direction", "ASCENDING") == "DESCENDING"
        present = [r for r in matched if r["properties"].get(name) is not None]
        absent = [r for r in matched if r["properties"].get(name) is None]
        present.sort(key=_sort_key(name), reverse=descending)
        matched = present + absent
    return matched


def _sort_key(name: str) -> Any:
    def key(record: dict[str, Any]) -> Any:
        return _parse(name, record["properties"][name])
    return key


class HubSpotFake:
    """The routes of a fake HubSpot portal on ``server``."""

    def __init__(self, server: FakeServer, *, seed: int = 1, token: str = TOKEN,
                 searches_per_second: int | None = 5, daily_limit: int = 250_000,
                 busy_month: tuple[int, int] = (2025, 3),
                 busy_month_contacts: int = 10_500,
                 clock: Callable[[], float] = time.monotonic, currency: str = "EUR",
                 foreign_currency: str = "USD", foreign_rate: float = 0.9,
                 scopes: frozenset[str] | set[str] | None = None,
                 time_zone: str = "Europe/London", portal_id: int = 24681357,
                 custom_date_properties: tuple[str, ...] = ()) -> None:
        self.server = server
        self.clock = clock
        """Seconds, for the secondly limit: a test may pass a clock it moves itself."""
        self.token = token
        self.searches_per_second = searches_per_second
        self.daily_limit = daily_limit
        self.daily_used = 0
        self.contacts, self.deals = generate(seed, busy_month, busy_month_contacts)
        self.companies = generate_companies(seed)
        self.currency = currency
        self.time_zone = time_zone
        self.portal_id = portal_id
        add_currencies(self.deals, seed, currency, foreign_currency, foreign_rate)
        self.custom_date_properties = custom_date_properties
        if set(custom_date_properties) - _CUSTOM_DATES:
            _CUSTOM_DATES.update(custom_date_properties)
            _parse_text.cache_clear()  # a value of such a name now compares as a date
        self.scopes = ALL_SCOPES if scopes is None else frozenset(scopes)
        """The scopes the private app was granted."""
        self.rate_limited = 0
        """How many searches were answered 429."""
        self._granted: dict[str, collections.deque[float]] = {}
        self._matches: dict[str, list[dict[str, Any]]] = {}
        self._indexes: dict[tuple[str, int, str], _DateIndex] = {}
        self._lock = threading.Lock()
        server.route("POST", r"/crm/v3/objects/(contacts|companies|deals)/search", self.search)
        server.route("GET", r"/account-info/v3/details", self.account_details)
        server.route("GET", r"/crm/v3/properties/(contacts|companies|deals)", self.properties)
        server.route("GET", r"/crm/v3/pipelines/deals", self.pipelines)

    def records(self, obj: str) -> list[dict[str, Any]]:
        """The records of ``obj`` (``contacts``, ``companies`` or ``deals``)."""
        return {"contacts": self.contacts, "companies": self.companies,
                "deals": self.deals}[obj]

    def forget(self) -> None:
        """Drop the cached search results (after a test changed records in place)."""
        with self._lock:
            self._matches.clear()
            self._indexes.clear()

    def _index(self, kind: str, records: list[dict[str, Any]]) -> Callable[[str], _DateIndex]:
        def index(name: str) -> _DateIndex:
            key = (kind, len(records), name)
            with self._lock:
                found = self._indexes.get(key)
            if found is None:
                found = _DateIndex(records, name)
                with self._lock:
                    self._indexes[key] = found
            return found
        return index

    # --- replies ------------------------------------------------------------------------------

    def _headers(self, token: str) -> dict[str, str]:
        recent = self._granted.get(token, collections.deque())
        limit = self.searches_per_second or 1000
        return {"X-HubSpot-RateLimit-Daily": str(self.daily_limit),
                "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily_limit
                                                               - self.daily_used)),
                "X-HubSpot-RateLimit-Secondly": str(limit),
                "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, limit - len(recent)))}

    def _error(self, status: int, category: str, message: str, token: str = "",
               **extra: Any) -> Reply:
        body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                "category": category, **extra}
        return Reply(status=status, body=body, headers=self._headers(token))

    def _refusal(self, call: Call, *scopes: str) -> Reply | None:
        """401 for a wrong token, 403 MISSING_SCOPES when none of ``scopes`` was granted."""
        auth = call.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        if token != self.token:
            return self._error(401, "INVALID_AUTHENTICATION",
                               "Authentication credentials not found. This API supports OAuth "
                               "2.0 authentication and you can find more details at "
                               "https://developers.hubspot.com/docs/methods/auth/oauth-overview")
        if scopes and not self.scopes & set(scopes):
            return self._error(
                403, "MISSING_SCOPES",
                "This app hasn't been granted all required scopes to make this call. Read more "
                "about required scopes here: https://developers.hubspot.com/scopes.", token,
                errors=[{"message": "One or more of the following scopes are required.",
                         "context": {"requiredGranularScopes": list(scopes)}}],
                links={"scopes": "https://developers.hubspot.com/scopes"})
        return None

    def _count_daily(self) -> None:
        with self._lock:
            self.daily_used += 1

    def account_details(self, call: Call) -> Reply:
        if refused := self._refusal(call):
            return refused
        self._count_daily()
        offset = dt.datetime.now(ZoneInfo(self.time_zone)).utcoffset() or dt.timedelta()
        minutes = int(offset.total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        body = {"portalId": self.portal_id, "accountType": "STANDARD",
                "timeZone": self.time_zone, "companyCurrency": self.currency,
                "additionalCurrencies": sorted({d["properties"]["deal_currency_code"]
                                                for d in self.deals} - {self.currency}),
                "utcOffset": f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}",
                "utcOffsetMilliseconds": minutes * 60_000, "uiDomain": "app-eu1.hubspot.com",
                "dataHostingLocation": "eu1"}
        return Reply(body=body, headers=self._headers(self.token))

    def properties(self, call: Call) -> Reply:
        obj = call.path.rstrip("/").split("/")[-1]
        if refused := self._refusal(call, f"crm.schemas.{obj}.read", f"crm.objects.{obj}.read"):
            return refused
        self._count_daily()
        names: dict[str, None] = {}
        for record in self.records(obj):
            names.update(dict.fromkeys(record["properties"]))
        if obj != "deals":  # every stage's date property exists, reached by a record or not
            names.update(dict.fromkeys(f"hs_lifecyclestage_{s}_date" for s in STAGES))
        names.update(dict.fromkeys(self.custom_date_properties))
        results = []
        for name in names:
            kind = ("date" if name in self.custom_date_properties else
                    "datetime" if _is_date_prop(name) else
                    "number" if name in NUMBER_PROPS else
                    "bool" if name.startswith("hs_is_") else
                    "enumeration" if name in {"lifecyclestage", "pipeline", "dealstage",
                                              "deal_currency_code"} else "string")
            results.append({"name": name, "label": name.replace("_", " ").capitalize(),
                            "type": kind, "fieldType": {"datetime": "date", "number": "number",
                                                        "bool": "booleancheckbox",
                                                        "enumeration": "select"}.get(kind, "text"),
                            "description": "", "groupName": f"{obj[:-1]}information",
                            "options": [], "displayOrder": -1,
                            "calculated": name.startswith("hs_"), "hasUniqueValue": False,
                            "hidden": False, "formField": False})
        return Reply(body={"results": results}, headers=self._headers(self.token))

    def pipelines(self, call: Call) -> Reply:
        if refused := self._refusal(call, "crm.objects.deals.read"):
            return refused
        self._count_daily()
        results = []
        for order, (pid, stages) in enumerate(PIPELINES.items()):
            results.append({
                "id": pid, "label": PIPELINE_LABELS[pid], "displayOrder": order,
                "archived": False, "createdAt": "2023-06-01T10:00:00.000Z",
                "updatedAt": "2023-06-01T10:00:00.000Z",
                "stages": [{"id": sid, "label": STAGE_LABELS[sid], "displayOrder": i,
                            "archived": False, "createdAt": "2023-06-01T10:00:00.000Z",
                            "updatedAt": "2023-06-01T10:00:00.000Z",
                            "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                            "metadata": {"isClosed": "true" if sid in WON | LOST else "false",
                                         "probability": STAGE_PROBABILITY[sid]}}
                           for i, sid in enumerate(stages)]})
        return Reply(body={"results": results}, headers=self._headers(self.token))

    def search(self, call: Call) -> Reply:
        obj = call.path.split("/")[4]
        if refused := self._refusal(call, f"crm.objects.{obj}.read"):
            return refused
        token = self.token
        with self._lock:
            now = self.clock()
            recent = self._granted.setdefault(token, collections.deque())
            while recent and recent[0] <= now - 1.0:
                recent.popleft()
            if self.searches_per_second is not None and len(recent) >= self.searches_per_second:
                self.rate_limited += 1
                reply = self._error(429, "RATE_LIMITS", "You have reached your secondly limit.",
                                    token, errorType="RATE_LIMIT", policyName="SECONDLY")
                reply.body.pop("category")
                return reply
            recent.append(now)
            self.daily_used += 1
        try:
            body = self._search(obj, self.records(obj), call.json())
        except _Invalid as exc:
            return self._error(400, "VALIDATION_ERROR", str(exc), token)
        return Reply(body=body, headers=self._headers(token))

    def _search(self, kind: str, records: list[dict[str, Any]],
                request: Any) -> dict[str, Any]:
        if not isinstance(request, dict):
            raise _Invalid("Invalid input JSON")
        groups = request.get("filterGroups") or []
        if len(groups) > 5:
            raise _Invalid("Too many filter groups: at most 5 are allowed")
        if any(len(g.get("filters") or []) > 10 for g in groups):
            raise _Invalid("Too many filters in a group: at most 10 are allowed")
        if sum(len(g.get("filters") or []) for g in groups) > 25:
            raise _Invalid("Too many filters: at most 25 are allowed across all groups")
        limit = request.get("limit", 10)
        if not isinstance(limit, int) or not 0 < limit <= 200:
            raise _Invalid(f"limit must be between 1 and 200, got {limit}")
        after_text = str(request.get("after") or "0")
        if not after_text.isdigit():
            raise _Invalid(f"Invalid after: {after_text}")
        after = int(after_text)
        if after >= MAX_RESULTS:
            raise _Invalid(f"Paging is limited to {MAX_RESULTS} results: after={after}")
        key = json.dumps([kind, len(records), groups, request.get("sorts")], sort_keys=True)
        with self._lock:
            matched = self._matches.get(key)
        if matched is None:  # paging through one search filters and sorts once
            matched = _filter_and_sort(records, groups, request.get("sorts") or [],
                                       self._index(kind, records))
            with self._lock:
                self._matches[key] = matched
                while len(self._matches) > 32:
                    del self._matches[next(iter(self._matches))]
        wanted = request.get("properties") or ["createdate", "lastmodifieddate"]
        end = min(after + limit, MAX_RESULTS)
        page = matched[after:end]
        results = []
        for record in page:
            props = record["properties"]
            names = dict.fromkeys([*wanted, "createdate", "hs_object_id", "lastmodifieddate"])
            results.append({"id": record["id"],
                            "properties": {n: props.get(n) for n in names},
                            "createdAt": props["createdate"],
                            "updatedAt": props["lastmodifieddate"], "archived": False})
        body: dict[str, Any] = {"total": len(matched), "results": results}
        if end < len(matched):  # even at 10,000: asking for it is the 400
            body["paging"] = {"next": {"after": str(end), "link": f"?after={end}"}}
        return body
