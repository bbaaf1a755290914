"""A fake HubSpot portal: the CRM v3 search endpoints for contacts and deals.

What it serves (on a :class:`~kpireport.testing.FakeServer`):
``POST /crm/v3/objects/{contacts|deals}/search`` with a Bearer private-app token
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
``hs_is_closed``.

Knobs: ``seed``, ``busy_month``, ``busy_month_contacts``; ``searches_per_second`` (default 5,
per token, over a sliding second of ``clock``; ``None`` for no limit; a test may pass a ``clock``
it moves itself) and ``daily_limit``; the server's ``latency`` and ``fail()``.

Searches are filtered once and cached for their paging (keyed by the object, its record count,
filters and sorts): a test that edits records in place should call :meth:`HubSpotFake.forget`.

Deliberate limits: no associations, no ``query`` full-text search, no CONTAINS_TOKEN, no
``hs_v2_date_entered_*`` properties, no archived records; the order without ``sorts`` is by id.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

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
NUMBER_PROPS = {"amount", "hs_object_id"}


def iso(moment: dt.datetime) -> str:
    """HubSpot's datetime strings: ``2024-05-01T09:12:44.123Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


def _is_date_prop(name: str) -> bool:
    return name in {"createdate", "closedate", "lastmodifieddate"} or (
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


class _Invalid(Exception):
    pass


def _parse(name: str, value: Any) -> Any:
    """A property or filter value as what it compares as: epoch ms, a number or a string."""
    if value is None:
        return None
    text = str(value)
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


def _filter_and_sort(records: list[dict[str, Any]], groups: list[Any],
                     sorts: list[Any]) -> list[dict[str, Any]]:
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
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.server = server
        self.clock = clock
        """Seconds, for the secondly limit: a test may pass a clock it moves itself."""
        self.token = token
        self.searches_per_second = searches_per_second
        self.daily_limit = daily_limit
        self.daily_used = 0
        self.contacts, self.deals = generate(seed, busy_month, busy_month_contacts)
        self.rate_limited = 0
        """How many searches were answered 429."""
        self._granted: dict[str, collections.deque[float]] = {}
        self._matches: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        server.route("POST", r"/crm/v3/objects/(contacts|deals)/search", self.search)

    def forget(self) -> None:
        """Drop the cached search results (after a test changed records in place)."""
        with self._lock:
            self._matches.clear()

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

    def search(self, call: Call) -> Reply:
        auth = call.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        if token != self.token:
            return self._error(401, "INVALID_AUTHENTICATION",
                               "Authentication credentials not found. This API supports OAuth "
                               "2.0 authentication and you can find more details at "
                               "https://developers.hubspot.com/docs/methods/auth/oauth-overview")
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
        obj = call.path.split("/")[4]
        try:
            body = self._search(self.contacts if obj == "contacts" else self.deals, call.json())
        except _Invalid as exc:
            return self._error(400, "VALIDATION_ERROR", str(exc), token)
        return Reply(body=body, headers=self._headers(token))

    def _search(self, records: list[dict[str, Any]], request: Any) -> dict[str, Any]:
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
        kind = "contacts" if records is self.contacts else "deals"
        key = json.dumps([kind, len(records), groups, request.get("sorts")], sort_keys=True)
        with self._lock:
            matched = self._matches.get(key)
        if matched is None:  # paging through one search filters and sorts once
            matched = _filter_and_sort(records, groups, request.get("sorts") or [])
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
