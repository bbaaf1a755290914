"""A fake of the Google Analytics 4 Data API (v1beta): ``runReport`` and ``batchRunReports``.

Serves ``POST /v1beta/properties/{id}:runReport`` and
``POST /v1beta/properties/{id}:batchRunReports`` (at most 5 requests, reports in request order)
with Bearer tokens issued by a
:class:`~kpireport.testing.fakes.google_oauth.GoogleOAuthFake` (scope ``analytics.readonly``).
Requests: ``dateRanges`` (1–4, ``YYYY-MM-DD``/``today``/``yesterday``/``NdaysAgo``, optional
``name``, default ``date_range_N``; with several ranges each row gets the range name as an extra
``dateRange`` dimension value), ``dimensions``, ``metrics``, ``limit``/``offset`` (int64 strings
or numbers), ``dimensionFilter`` and ``metricFilter`` (``filter`` with ``stringFilter`` of every
match type, ``inListFilter``, ``numericFilter``, ``betweenFilter``; ``andGroup``, ``orGroup``,
``notExpression``), ``orderBys`` (metric or dimension), ``metricAggregations`` (TOTAL, MAXIMUM,
MINIMUM), ``keepEmptyRows`` (accepted, no effect: the fake has no empty rows),
``returnPropertyQuota``; at most 10 metrics and 9 dimensions a request (400 past them).
Replies as Google's: every value a string, ``date`` as ``YYYYMMDD``,
``metricHeaders`` with types, ``rowCount`` independent of paging, ``rows`` and ``rowCount``
absent with no data, ``metadata`` and ``propertyQuota``; errors
``{"error": {"code", "message", "status"}}`` (400 INVALID_ARGUMENT, 401 UNAUTHENTICATED,
403 PERMISSION_DENIED, 429 RESOURCE_EXHAUSTED when the property's tokens run out;
500/503 through :meth:`GA4Fake.fail`).

**Data from a seed** (:func:`generate`): per day, a sparse set of rows at the grain
(sessionDefaultChannelGroup, sessionSource, deviceCategory, country, pagePath) with sessions,
engagedSessions, newUsers, screenPageViews, userEngagementDuration, purchaseRevenue,
transactions, keyEvents (split by event name into :data:`KEY_EVENTS`, served as
``keyEvents:<event>``; an event that is not one of them counts 0), the summed session duration
and the **ids** of the users (and of the active users) seen. ``sessionSourceMedium`` is
``"<sessionSource> / <sessionMedium>"``, the medium following the channel (:data:`MEDIUMS`).
A report groups the rows it keeps: additive metrics are sums,
``averageSessionDuration`` = Σduration/Σsessions, ``engagementRate`` = ΣengagedSessions/Σsessions,
``totalUsers``/``activeUsers`` = the number of *distinct* ids, so a month's users are not the sum
of its days. :attr:`GA4Fake.rows` is the data (a test computes any expected figure from it, with
:func:`figures` or by hand); ``pageTitle`` follows ``pagePath``; ``yearMonth`` is derived.

How a plugin's test points at it::

    with FakeServer() as server:
        oauth = GoogleOAuthFake(server)
        ga4 = GA4Fake(server, oauth, seed=7)          # base URL: server.url
        key = oauth.write_service_account_key(tmp_path / "sa.json")

Knobs: ``seed``, ``start``/``end`` (the days with data), ``properties`` (ids the credentials may
read; others → 403), ``currency``/``timezone``, ``cardinality`` (past that many rows a report
folds the rest into one ``(other)`` row and sets ``metadata.dataLossFromOtherRow``),
``thresholding`` (``metadata.subjectToThresholding``), ``sampling`` (a fraction: adds
``metadata.samplingMetadatas``, one per date range), ``tokens_per_day``/``tokens_per_hour``
(quota; a request costs :attr:`GA4Fake.tokens_per_request`), ``concurrent_requests`` with
``work`` (seconds a request stays in progress: past that many at once, 429 "Exhausted concurrent
requests quota."), ``today``; the server's
``latency`` and ``fail()`` (:meth:`GA4Fake.fail` builds Google-shaped bodies).

Deliberate limits: sampling and thresholding are flagged, never applied to the figures; the
``(other)`` row folds whole rows (all dimensions but date/dateRange become ``(other)``), not one
dimension at a time; the default order without ``orderBys`` is the first metric descending
(Google's is unspecified); no cohorts, pivots, comparisons, ``currencyCode`` conversion,
realtime or metadata endpoints; ``landingPage`` is the row's ``pagePath`` (the fake has no
sessions spanning pages); quota and concurrency are
counted per fake (not per hour window, project or property); ``keyEvents`` is typed
``TYPE_FLOAT`` (unconfirmed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kpireport.testing.fakes.google_oauth import ANALYTICS_SCOPE, GoogleOAuthFake
from kpireport.testing.server import Call, FakeServer, Reply

CHANNELS: dict[str, tuple[str, ...]] = {
    "Organic Search": ("google", "bing"),
    "Direct": ("(direct)",),
    "Paid Search": ("google",),
    "Paid Social": ("facebook", "instagram"),
    "Email": ("newsletter",),
    "Referral": ("example.org",),
}
DEVICES = ("desktop", "mobile", "tablet")
COUNTRIES = ("United States", "Germany", "France", "United Kingdom", "Japan")
PAGES = {"/": "Home", "/pricing": "Pricing", "/blog/kpi-guide": "A guide to KPIs",
         "/blog/monthly-reports": "Monthly reports that get read", "/contact": "Contact us",
         "/checkout": "Checkout"}

MEDIUMS = {"Organic Search": "organic", "Direct": "(none)", "Paid Search": "cpc",
           "Paid Social": "paid", "Email": "email", "Referral": "referral"}
KEY_EVENTS = ("generate_lead", "form_submit", "sign_up")
"""The key events a row's ``keyEvents`` are split into (``keyEvents:<event>``)."""

DIMENSIONS = ("date", "yearMonth", "sessionDefaultChannelGroup", "sessionSource",
              "sessionMedium", "sessionSourceMedium", "deviceCategory", "country", "pagePath",
              "pageTitle", "landingPage")
MAX_METRICS = 10
MAX_DIMENSIONS = 9
_KEY_EVENT = re.compile(r"keyEvents:[A-Za-z0-9_]+")
METRIC_TYPES = {
    "sessions": "TYPE_INTEGER", "engagedSessions": "TYPE_INTEGER", "totalUsers": "TYPE_INTEGER",
    "activeUsers": "TYPE_INTEGER", "newUsers": "TYPE_INTEGER", "screenPageViews": "TYPE_INTEGER",
    "userEngagementDuration": "TYPE_SECONDS", "averageSessionDuration": "TYPE_SECONDS",
    "engagementRate": "TYPE_FLOAT", "keyEvents": "TYPE_FLOAT", "purchaseRevenue": "TYPE_CURRENCY",
    "transactions": "TYPE_INTEGER",
}
ADDITIVE = ("sessions", "engagedSessions", "newUsers", "screenPageViews",
            "userEngagementDuration", "keyEvents", "purchaseRevenue", "transactions")
MAX_LIMIT = 250_000
OTHER = "(other)"


@dataclass(frozen=True, kw_only=True)
class GA4Row:
    """One generated row: a day at the finest grain the fake keeps."""

    date: dt.date
    channel: str
    source: str
    device: str
    country: str
    page: str
    metrics: dict[str, float]
    """The additive metrics (:data:`ADDITIVE`) and ``sessionDuration`` (seconds, summed)."""
    users: frozenset[int]
    active_users: frozenset[int]
    key_events: dict[str, float] = field(default_factory=dict)
    """``keyEvents`` by event name (:data:`KEY_EVENTS`); they sum to ``keyEvents``."""

    def dimension(self, name: str) -> str:
        if name == "date":
            return self.date.strftime("%Y%m%d")
        if name == "yearMonth":
            return self.date.strftime("%Y%m")
        medium = MEDIUMS[self.channel]
        return {"sessionDefaultChannelGroup": self.channel, "sessionSource": self.source,
                "sessionMedium": medium, "sessionSourceMedium": f"{self.source} / {medium}",
                "deviceCategory": self.device, "country": self.country,
                "pagePath": self.page, "pageTitle": PAGES[self.page],
                "landingPage": self.page}[name]


def generate(seed: int = 1, start: dt.date = dt.date(2024, 1, 1),
             end: dt.date = dt.date(2024, 12, 31), users: int = 4000) -> list[GA4Row]:
    """The fake's data: per day 8–20 rows at random points of the grain, users drawn from a
    pool of ``users`` ids (so the same people come back on other days)."""
    rnd = random.Random(seed)
    grain = [(channel, source, device, country, page)
             for channel, sources in CHANNELS.items() for source in sources
             for device in DEVICES for country in COUNTRIES for page in PAGES]
    rows = []
    day = start
    while day <= end:
        for channel, source, device, country, page in rnd.sample(grain, rnd.randint(8, 20)):
            sessions = rnd.randint(1, 40)
            engaged = rnd.randint(0, sessions)
            people = frozenset(rnd.sample(range(users), rnd.randint(1, sessions)))
            active = frozenset(u for u in people if rnd.random() < 0.7)
            transactions = rnd.randint(0, max(0, engaged // 8))
            rows.append(GA4Row(
                date=day, channel=channel, source=source, device=device, country=country,
                page=page, users=people, active_users=active,
                metrics={
                    "sessions": sessions, "engagedSessions": engaged,
                    "newUsers": rnd.randint(0, len(people)),
                    "screenPageViews": sessions + rnd.randint(0, 3 * sessions),
                    "userEngagementDuration": rnd.randint(5, 240) * engaged,
                    "sessionDuration": rnd.randint(10, 400) * sessions,
                    "keyEvents": rnd.randint(0, engaged // 3),
                    "transactions": transactions,
                    "purchaseRevenue": round(transactions * rnd.uniform(20, 180), 2),
                }))
        day += dt.timedelta(days=1)
    # Split afterwards, from a generator of its own, so the rows above stay what they were.
    split = random.Random(f"{seed}:key-events")
    out = []
    for row in rows:
        counts = dict.fromkeys(KEY_EVENTS, 0.0)
        for _ in range(int(row.metrics["keyEvents"])):
            counts[split.choice(KEY_EVENTS)] += 1
        out.append(dataclasses.replace(row, key_events=counts))
    return out


def metric_type(name: str) -> str | None:
    """A metric's type as ``metricHeaders`` give it; None for a metric the fake does not know."""
    if _KEY_EVENT.fullmatch(name):
        return "TYPE_FLOAT"
    return METRIC_TYPES.get(name)


def figures(rows: Iterable[GA4Row], key_events: Iterable[str] = ()) -> dict[str, float]:
    """Every metric the fake serves, for a group of rows (what one report row says), with
    ``keyEvents:<event>`` for each event of ``key_events``."""
    group = list(rows)
    out: dict[str, float] = {m: sum(r.metrics[m] for r in group) for m in ADDITIVE}
    for event in key_events:
        out[f"keyEvents:{event}"] = sum(r.key_events.get(event, 0.0) for r in group)
    sessions = out["sessions"]
    duration = sum(r.metrics["sessionDuration"] for r in group)
    out["averageSessionDuration"] = duration / sessions if sessions else 0.0
    out["engagementRate"] = out["engagedSessions"] / sessions if sessions else 0.0
    out["totalUsers"] = len(frozenset().union(*(r.users for r in group)))
    out["activeUsers"] = len(frozenset().union(*(r.active_users for r in group)))
    return out


def format_value(metric: str, value: float) -> str:
    """A metric value as GA4 writes it: integers without a point, floats in full."""
    if metric_type(metric) == "TYPE_INTEGER" or (float(value).is_integer()
                                                  and metric not in ("engagementRate",)):
        return str(int(value))
    return repr(round(float(value), 10))


class GA4Error(Exception):
    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


def error_reply(code: int, status: str, message: str,
                headers: dict[str, str] | None = None) -> Reply:
    """A Google API error (the newer shape): ``{"error": {"code", "message", "status"}}``."""
    return Reply(status=code, headers=headers or {},
                 body={"error": {"code": code, "message": message, "status": status}})


_STATUSES = {400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
             401: ("UNAUTHENTICATED", "Request had invalid authentication credentials. Expected "
                   "OAuth 2 access token, login cookie or other valid authentication credential. "
                   "See https://developers.google.com/identity/sign-in/web/devconsole-project."),
             403: ("PERMISSION_DENIED", "User does not have sufficient permissions for this "
                   "property. To learn more about Property ID, see https://developers.google.com"
                   "/analytics/devguides/reporting/data/v1/property-id."),
             429: ("RESOURCE_EXHAUSTED", "Exhausted property tokens per day quota. Please "
                   "contact Google Analytics support to ask for a quota increase."),
             500: ("INTERNAL", "Internal error encountered."),
             503: ("UNAVAILABLE", "The service is currently unavailable.")}


def _int_field(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise GA4Error(400, "INVALID_ARGUMENT",
                       f"Invalid value at '{name}' (TYPE_INT64), \"{value}\"") from None
    if number < 0:
        raise GA4Error(400, "INVALID_ARGUMENT", f"{name} must be non-negative.")
    return number


@dataclass(kw_only=True)
class _Range:
    start: dt.date
    end: dt.date
    name: str


@dataclass
class _Quota:
    per_day: int
    per_hour: int
    used: int = 0
    errors: int = 0
    history: list[int] = field(default_factory=list)


class GA4Fake:
    """The GA4 Data API on ``server``; :attr:`rows` is its data."""

    def __init__(self, server: FakeServer, oauth: GoogleOAuthFake, *, seed: int = 1,
                 start: dt.date = dt.date(2024, 1, 1), end: dt.date = dt.date(2024, 12, 31),
                 properties: Iterable[str] = ("123456789",), currency: str = "EUR",
                 timezone: str = "Europe/Paris", cardinality: int | None = None,
                 thresholding: bool = False, sampling: float | None = None,
                 tokens_per_day: int = 200_000, tokens_per_hour: int = 40_000,
                 tokens_per_request: int = 10, today: dt.date | None = None,
                 concurrent_requests: int = 10, work: float = 0.0) -> None:
        self.server = server
        self.oauth = oauth
        self.rows = generate(seed, start, end)
        self.properties = set(properties)
        self.currency = currency
        self.timezone = timezone
        self.cardinality = cardinality
        self.thresholding = thresholding
        self.sampling = sampling
        self.tokens_per_request = tokens_per_request
        self.concurrent_requests = concurrent_requests
        """Requests of the property in progress at once past which a request answers 429
        "Exhausted concurrent requests quota."."""
        self.work = work
        """Seconds each request spends *in progress* (counted for ``concurrent_requests``),
        unlike the server's latency, which passes after the answer is decided."""
        self.in_flight = 0
        self.most_in_flight = 0
        self.today = today or end + dt.timedelta(days=1)
        """What ``today``/``NdaysAgo`` resolve against (default: the day after the data)."""
        self.quota = _Quota(per_day=tokens_per_day, per_hour=tokens_per_hour)
        self.reports: list[dict[str, Any]] = []
        """Every request body answered (a batch counts each of its requests)."""
        self._lock = threading.Lock()
        prop = r"/v1beta/properties/(?P<id>[^/:]+)"
        server.route("POST", prop + ":runReport", self.run_report)
        server.route("POST", prop + ":batchRunReports", self.batch_run_reports)

    # --- Knobs for a test ---------------------------------------------------------------------

    def fail(self, code: int, *, times: int = 1, message: str | None = None,
             headers: dict[str, str] | None = None, batch: bool = False) -> None:
        """The next ``times`` runReport (or batchRunReports) calls answer ``code`` in Google's
        shape (400, 401, 403, 429, 500, 503)."""
        status, default = _STATUSES[code]
        path = r"/v1beta/properties/[^/:]+:" + ("batchRunReports" if batch else "runReport")
        self.server.fail("POST", path, error_reply(code, status, message or default, headers),
                         times=times)

    def rows_between(self, start: dt.date, end: dt.date) -> list[GA4Row]:
        return [r for r in self.rows if start <= r.date <= end]

    # --- Routes -------------------------------------------------------------------------------

    def run_report(self, call: Call) -> Reply | dict[str, Any]:
        with self._in_flight() as refused:
            return refused or self._run_report(call)

    def batch_run_reports(self, call: Call) -> Reply | dict[str, Any]:
        with self._in_flight() as refused:
            return refused or self._batch_run_reports(call)

    @contextlib.contextmanager
    def _in_flight(self) -> Iterator[Reply | None]:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            over = self.in_flight > self.concurrent_requests
        try:
            if over:
                yield error_reply(429, "RESOURCE_EXHAUSTED",
                                  "Exhausted concurrent requests quota.")
            else:
                if self.work:
                    time.sleep(self.work)
                yield None
        finally:
            with self._lock:
                self.in_flight -= 1

    def _run_report(self, call: Call) -> Reply | dict[str, Any]:
        try:
            property_id = self._authorize(call)
            body = call.json()
            if not isinstance(body, dict):
                raise GA4Error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
            self._check_property_field(body, property_id)
            report = self._report(body)
            self._charge(1)
        except GA4Error as exc:
            return error_reply(exc.code, exc.status, exc.message)
        report["kind"] = "analyticsData#runReport"
        self._add_quota(report, body)
        return report

    def _batch_run_reports(self, call: Call) -> Reply | dict[str, Any]:
        try:
            property_id = self._authorize(call)
            body = call.json()
            requests = body.get("requests") if isinstance(body, dict) else None
            if not isinstance(requests, list) or not requests:
                raise GA4Error(400, "INVALID_ARGUMENT", "requests must not be empty.")
            if len(requests) > 5:
                raise GA4Error(400, "INVALID_ARGUMENT",
                               f"Too many requests in a batch: {len(requests)}. "
                               "The maximum is 5.")
            for request in requests:
                self._check_property_field(request, property_id)
            reports = [self._report(request) for request in requests]
            self._charge(len(reports))
        except GA4Error as exc:
            return error_reply(exc.code, exc.status, exc.message)
        for request, report in zip(requests, reports, strict=True):
            report["kind"] = "analyticsData#runReport"
            self._add_quota(report, request)
        return {"kind": "analyticsData#batchRunReports", "reports": reports}

    # --- Checks -------------------------------------------------------------------------------

    def _authorize(self, call: Call) -> str:
        match = re.fullmatch(r"/v1beta/properties/([^/:]+):\w+", call.path)
        property_id = match.group(1) if match else ""
        check = self.oauth.check_bearer(call, ANALYTICS_SCOPE)
        if check in ("missing", "invalid"):
            raise GA4Error(401, *_STATUSES[401])
        if check == "scope":
            raise GA4Error(403, "PERMISSION_DENIED",
                           "Request had insufficient authentication scopes.")
        if not property_id.isdigit():
            raise GA4Error(400, "INVALID_ARGUMENT",
                           f"Invalid property ID: {property_id}. A numeric Property ID is "
                           "required.")
        if property_id not in self.properties:
            raise GA4Error(403, *_STATUSES[403])
        with self._lock:
            if self.quota.used >= self.quota.per_day:
                raise GA4Error(429, *_STATUSES[429])
            if self.quota.used >= self.quota.per_hour:
                raise GA4Error(429, "RESOURCE_EXHAUSTED",
                               "Exhausted property tokens per hour quota. Please try again "
                               "later.")
        return property_id

    @staticmethod
    def _check_property_field(body: dict[str, Any], property_id: str) -> None:
        named = body.get("property")
        if named and named != f"properties/{property_id}":
            raise GA4Error(400, "INVALID_ARGUMENT",
                           f"property in the request ({named}) must be empty or match the "
                           f"batch's properties/{property_id}.")

    def _charge(self, reports: int) -> None:
        with self._lock:
            self.quota.used += reports * self.tokens_per_request
            self.quota.history.append(reports * self.tokens_per_request)

    def _add_quota(self, report: dict[str, Any], request: dict[str, Any]) -> None:
        if not request.get("returnPropertyQuota"):
            return
        with self._lock:
            used, cost = self.quota.used, self.tokens_per_request

        def status(consumed: int, remaining: int) -> dict[str, int]:
            return {"consumed": consumed, "remaining": max(0, remaining)}

        report["propertyQuota"] = {
            "tokensPerDay": status(cost, self.quota.per_day - used),
            "tokensPerHour": status(cost, self.quota.per_hour - used),
            "concurrentRequests": status(0, self.concurrent_requests),
            "serverErrorsPerProjectPerHour": status(0, 10),
            "potentiallyThresholdedRequestsPerHour": status(0, 120),
            "tokensPerProjectPerHour": status(cost, 14_000 - used),
        }

    # --- The report ---------------------------------------------------------------------------

    def _date(self, value: Any, field_name: str) -> dt.date:
        text = str(value)
        if text == "today":
            return self.today
        if text == "yesterday":
            return self.today - dt.timedelta(days=1)
        relative = re.fullmatch(r"(\d+)daysAgo", text)
        if relative:
            return self.today - dt.timedelta(days=int(relative.group(1)))
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                raise ValueError(text)
            return dt.date.fromisoformat(text)
        except ValueError:
            raise GA4Error(400, "INVALID_ARGUMENT",
                           f"Invalid {field_name}: {text}. Date must be in the format "
                           "YYYY-MM-DD, NdaysAgo, yesterday, or today.") from None

    def _ranges(self, body: dict[str, Any]) -> list[_Range]:
        raw = body.get("dateRanges") or []
        if not raw:
            raise GA4Error(400, "INVALID_ARGUMENT", "Must specify at least one date range.")
        if len(raw) > 4:
            raise GA4Error(400, "INVALID_ARGUMENT",
                           "Requests are limited to 4 dateRanges.")
        ranges = []
        for i, item in enumerate(raw):
            start = self._date(item.get("startDate"), "startDate")
            end = self._date(item.get("endDate"), "endDate")
            if start > end:
                raise GA4Error(400, "INVALID_ARGUMENT",
                               f"dateRanges[{i}]: startDate must not be after endDate.")
            name = item.get("name") or f"date_range_{i}"
            if name.startswith(("date_range_", "RESERVED_")) and item.get("name"):
                raise GA4Error(400, "INVALID_ARGUMENT",
                               f"Date range name {name} cannot begin with 'date_range_' or "
                               "'RESERVED_'.")
            ranges.append(_Range(start=start, end=end, name=name))
        return ranges

    def _report(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.reports.append(body)
        ranges = self._ranges(body)
        dims = [d.get("name") for d in body.get("dimensions") or []]
        mets = [m.get("name") for m in body.get("metrics") or []]
        if not mets and not dims:
            raise GA4Error(400, "INVALID_ARGUMENT",
                           "At least one dimension or metric must be requested.")
        for name in dims:
            if name not in DIMENSIONS and name != "dateRange":
                raise GA4Error(400, "INVALID_ARGUMENT",
                               f"Field {name} is not a valid dimension. For a list of valid "
                               "dimensions and metrics, see https://developers.google.com/"
                               "analytics/devguides/reporting/data/v1/api-schema")
        for name in mets:
            if metric_type(name) is None:
                raise GA4Error(400, "INVALID_ARGUMENT",
                               f"Field {name} is not a valid metric. For a list of valid "
                               "dimensions and metrics, see https://developers.google.com/"
                               "analytics/devguides/reporting/data/v1/api-schema")
        if len(mets) > MAX_METRICS:
            raise GA4Error(400, "INVALID_ARGUMENT",
                           f"Requests are limited to {MAX_METRICS} metrics.")
        if len([d for d in dims if d != "dateRange"]) > MAX_DIMENSIONS:
            raise GA4Error(400, "INVALID_ARGUMENT",
                           f"Requests are limited to {MAX_DIMENSIONS} dimensions.")
        if len(set(dims)) != len(dims) or len(set(mets)) != len(mets):
            raise GA4Error(400, "INVALID_ARGUMENT", "Duplicate dimension or metric names.")
        limit = _int_field(body, "limit", 10_000) or 10_000
        if limit > MAX_LIMIT:
            raise GA4Error(400, "INVALID_ARGUMENT",
                           f"limit must be at most {MAX_LIMIT}, got {limit}.")
        offset = _int_field(body, "offset", 0)
        keep = _compile_filter(body.get("dimensionFilter"), dimension=True)
        several = len(ranges) > 1
        plain = [d for d in dims if d != "dateRange"]

        # Group: (range position, dimension values) → rows.
        groups: dict[tuple[str, ...], list[GA4Row]] = {}
        range_of: dict[tuple[str, ...], int] = {}
        for position, span in enumerate(ranges):
            for row in self.rows_between(span.start, span.end):
                if not keep(row.dimension):
                    continue
                values = [span.name if d == "dateRange" else row.dimension(d) for d in dims]
                if several and "dateRange" not in dims:
                    values.append(span.name)
                key = tuple(values)
                groups.setdefault(key, []).append(row)
                range_of[key] = position
        data_loss = False
        if self.cardinality is not None and len(groups) > self.cardinality:
            groups, range_of = self._fold(groups, range_of, dims, several)
            data_loss = True

        events = [m.split(":", 1)[1] for m in mets if _KEY_EVENT.fullmatch(m)]
        computed = [(key, figures(rows, events)) for key, rows in groups.items()]
        metric_keep = _compile_filter(body.get("metricFilter"), dimension=False)
        computed = [(k, f) for k, f in computed if metric_keep(_metric_lookup(f))]
        computed = _order(computed, body.get("orderBys"), dims, mets, several)

        report: dict[str, Any] = {
            "dimensionHeaders": [{"name": d} for d in dims]
            + ([{"name": "dateRange"}] if several and "dateRange" not in dims else []),
            "metricHeaders": [{"name": m, "type": metric_type(m)} for m in mets],
        }
        if computed:
            page = computed[offset:offset + limit]
            if page:
                report["rows"] = [self._row(k, f, mets) for k, f in page]
            report["rowCount"] = len(computed)
        aggregations = body.get("metricAggregations") or []
        width = len(report["dimensionHeaders"])
        for kind, key_name, reserved in (("TOTAL", "totals", "RESERVED_TOTAL"),
                                         ("MAXIMUM", "maximums", "RESERVED_MAX"),
                                         ("MINIMUM", "minimums", "RESERVED_MIN")):
            if kind not in aggregations or not computed:
                continue
            out = []
            for position, span in enumerate(ranges):
                in_range = [f for k, f in computed if range_of[k] == position]
                if not in_range:
                    continue
                if kind == "TOTAL":
                    # The true total: distinct users over the whole range, not a sum of rows.
                    all_rows = [r for k, rows in groups.items() if range_of[k] == position
                                for r in rows]
                    agg = figures(all_rows, events)
                else:
                    pick = max if kind == "MAXIMUM" else min
                    agg = {m: pick(f[m] for f in in_range) for m in mets}
                dim_values = [reserved] * len(plain) + ([span.name] if several else [])
                if "dateRange" in dims and not several:
                    dim_values = [reserved] * width
                out.append({"dimensionValues": [{"value": v} for v in dim_values[:width]],
                            "metricValues": [{"value": format_value(m, agg[m])}
                                             for m in mets]})
            report[key_name] = out
        metadata: dict[str, Any] = {"currencyCode": self.currency, "timeZone": self.timezone}
        if data_loss:
            metadata["dataLossFromOtherRow"] = True
        if self.thresholding:
            metadata["subjectToThresholding"] = True
        if self.sampling is not None:
            metadata["samplingMetadatas"] = []
            for span in ranges:
                space = int(sum(r.metrics["sessions"] for r in self.rows_between(span.start,
                                                                                  span.end)))
                metadata["samplingMetadatas"].append(
                    {"samplesReadCount": str(int(space * self.sampling)),
                     "samplingSpaceSize": str(space)})
        report["metadata"] = metadata
        return report

    def _fold(self, groups: dict[tuple[str, ...], list[GA4Row]],
              range_of: dict[tuple[str, ...], int], dims: list[str], several: bool,
              ) -> tuple[dict[tuple[str, ...], list[GA4Row]], dict[tuple[str, ...], int]]:
        """Keep the ``cardinality - 1`` biggest rows (by sessions); the rest become ``(other)``
        rows, one per date (and date range) they had."""
        assert self.cardinality is not None
        ranked = sorted(groups, key=lambda k: (-sum(r.metrics["sessions"] for r in groups[k]), k))
        kept = ranked[:max(0, self.cardinality - 1)]
        new_groups = {k: groups[k] for k in kept}
        new_range = {k: range_of[k] for k in kept}
        for key in ranked[len(kept):]:
            folded = list(key)
            for i, name in enumerate(dims):
                if name not in ("date", "dateRange", "yearMonth"):
                    folded[i] = OTHER
            other = tuple(folded)
            new_groups[other] = [*new_groups.get(other, []), *groups[key]]
            new_range[other] = range_of[key]
        return new_groups, new_range

    @staticmethod
    def _row(key: tuple[str, ...], values: dict[str, float], mets: list[str]) -> dict[str, Any]:
        return {"dimensionValues": [{"value": v} for v in key],
                "metricValues": [{"value": format_value(m, values[m])} for m in mets]}


# --- Filters and order --------------------------------------------------------------------------

Lookup = Callable[[str], str]


def _compile_filter(expression: Any, *, dimension: bool) -> Callable[[Lookup], bool]:
    """A FilterExpression as a predicate over a value lookup (dimension values, or the
    formatted metric values of a row)."""
    if not expression:
        return lambda lookup: True
    if not isinstance(expression, dict):
        raise GA4Error(400, "INVALID_ARGUMENT", "A filter expression must be an object.")
    if "andGroup" in expression:
        parts = [_compile_filter(e, dimension=dimension)
                 for e in expression["andGroup"].get("expressions", [])]
        return lambda lookup: all(p(lookup) for p in parts)
    if "orGroup" in expression:
        parts = [_compile_filter(e, dimension=dimension)
                 for e in expression["orGroup"].get("expressions", [])]
        return lambda lookup: any(p(lookup) for p in parts)
    if "notExpression" in expression:
        inner = _compile_filter(expression["notExpression"], dimension=dimension)
        return lambda lookup: not inner(lookup)
    if "filter" not in expression:
        raise GA4Error(400, "INVALID_ARGUMENT", "Empty filter expression.")
    spec = expression["filter"]
    name = spec.get("fieldName")
    if (name not in DIMENSIONS) if dimension else metric_type(str(name)) is None:
        kind = "dimension" if dimension else "metric"
        raise GA4Error(400, "INVALID_ARGUMENT",
                       f"Field {name} is not a valid {kind} for this filter.")
    if "stringFilter" in spec:
        string = spec["stringFilter"]
        match_type = string.get("matchType", "EXACT")
        sensitive = bool(string.get("caseSensitive", False))
        wanted = str(string.get("value", ""))
        flags = 0 if sensitive else re.IGNORECASE

        def norm(s: str) -> str:
            return s if sensitive else s.lower()

        tests: dict[str, Callable[[str], bool]] = {
            "EXACT": lambda v: norm(v) == norm(wanted),
            "BEGINS_WITH": lambda v: norm(v).startswith(norm(wanted)),
            "ENDS_WITH": lambda v: norm(v).endswith(norm(wanted)),
            "CONTAINS": lambda v: norm(wanted) in norm(v),
            "FULL_REGEXP": lambda v: re.fullmatch(wanted, v, flags) is not None,
            "PARTIAL_REGEXP": lambda v: re.search(wanted, v, flags) is not None,
        }
        if match_type not in tests:
            raise GA4Error(400, "INVALID_ARGUMENT", f"Invalid matchType: {match_type}")
        if match_type.endswith("REGEXP"):
            try:
                re.compile(wanted)
            except re.error:
                raise GA4Error(400, "INVALID_ARGUMENT",
                               f"Invalid regular expression: {wanted}") from None
        test = tests[match_type]
        return lambda lookup: test(lookup(name))
    if "inListFilter" in spec:
        listed = spec["inListFilter"]
        sensitive = bool(listed.get("caseSensitive", False))
        values = {v if sensitive else v.lower() for v in listed.get("values", [])}
        return lambda lookup: (lookup(name) if sensitive else lookup(name).lower()) in values
    if "numericFilter" in spec or "betweenFilter" in spec:
        def number(v: dict[str, Any]) -> float:
            return float(v.get("int64Value", v.get("doubleValue", 0)))

        if "betweenFilter" in spec:
            low = number(spec["betweenFilter"].get("fromValue", {}))
            high = number(spec["betweenFilter"].get("toValue", {}))
            return lambda lookup: low <= float(lookup(name) or 0) <= high
        numeric = spec["numericFilter"]
        value = number(numeric.get("value", {}))
        ops: dict[str, Callable[[float], bool]] = {
            "EQUAL": lambda x: x == value, "LESS_THAN": lambda x: x < value,
            "LESS_THAN_OR_EQUAL": lambda x: x <= value, "GREATER_THAN": lambda x: x > value,
            "GREATER_THAN_OR_EQUAL": lambda x: x >= value}
        op = ops.get(numeric.get("operation", ""))
        if op is None:
            raise GA4Error(400, "INVALID_ARGUMENT",
                           f"Invalid operation: {numeric.get('operation')}")
        return lambda lookup: op(float(lookup(name) or 0))
    raise GA4Error(400, "INVALID_ARGUMENT", f"Unsupported filter on {name}.")


def _metric_lookup(values: dict[str, float]) -> Lookup:
    def lookup(name: str) -> str:
        return format_value(name, values[name]) if name in values else ""
    return lookup


def _order(computed: list[tuple[tuple[str, ...], dict[str, float]]], order_bys: Any,
           dims: list[str], mets: list[str], several: bool,
           ) -> list[tuple[tuple[str, ...], dict[str, float]]]:
    header = [*dims, *(["dateRange"] if several and "dateRange" not in dims else [])]
    rows = sorted(computed, key=lambda kv: kv[0])  # a stable base: dimension values
    if not order_bys:
        if mets:
            rows.sort(key=lambda kv: -kv[1][mets[0]])
        return rows
    for spec in reversed(order_bys):
        desc = bool(spec.get("desc", False))
        if "metric" in spec:
            name = spec["metric"].get("metricName")
            if name not in mets:
                raise GA4Error(400, "INVALID_ARGUMENT",
                               f"OrderBy metric {name} must be a requested metric.")
            rows.sort(key=_by_metric(name), reverse=desc)
        elif "dimension" in spec:
            name = spec["dimension"].get("dimensionName")
            if name not in header:
                raise GA4Error(400, "INVALID_ARGUMENT",
                               f"OrderBy dimension {name} must be a requested dimension.")
            order_type = spec["dimension"].get("orderType", "ALPHANUMERIC")
            rows.sort(key=_by_dimension(header.index(name), order_type), reverse=desc)
        else:
            raise GA4Error(400, "INVALID_ARGUMENT", "An orderBy needs a metric or a dimension.")
    return rows


Computed = tuple[tuple[str, ...], dict[str, float]]


def _by_metric(name: str) -> Callable[[Computed], float]:
    return lambda kv: kv[1][name]


def _by_dimension(i: int, order_type: str) -> Callable[[Computed], Any]:
    if order_type == "NUMERIC":
        return lambda kv: _numeric(kv[0][i])
    if order_type == "CASE_INSENSITIVE_ALPHANUMERIC":
        return lambda kv: kv[0][i].lower()
    return lambda kv: kv[0][i]


def _numeric(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("inf")
