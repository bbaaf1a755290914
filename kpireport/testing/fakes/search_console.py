"""A fake of the Google Search Console API: ``searchAnalytics.query``.

Serves ``POST /webmasters/v3/sites/{siteUrl}/searchAnalytics/query`` with ``siteUrl``
URL-encoded (``https%3A%2F%2Fwww.example.com%2F`` or ``sc-domain%3Aexample.com``; an unencoded
URL prefix does not match the route, a 404 as at Google), Bearer tokens issued by a
:class:`~kpireport.testing.fakes.google_oauth.GoogleOAuthFake` (scope ``webmasters.readonly``).
Request: ``startDate``/``endDate`` (inclusive), ``dimensions`` (date, query, page, country,
device), ``type`` or the legacy ``searchType`` (web, image, video, news, discover, googleNews),
``dataState`` (``final`` default, ``all``: adds the fresh, incomplete days and, grouped by date
with incomplete days in the range, ``metadata.firstIncompleteDate`` — the discovery document's
key; ``metadata_key="first_incomplete_date"`` serves the snake-case spelling instead),
``aggregationType`` (auto/byPage/byProperty; byProperty is refused when grouping or filtering by
page), ``rowLimit`` (1–25 000, default 1 000)/``startRow``
(page until a page has no rows), ``dimensionFilterGroups`` (``and`` groups; operators equals,
notEquals, contains, notContains, includingRegex, excludingRegex). Reply: ``rows`` of ``keys``
(in the requested dimensions' order) and ``clicks``/``impressions``/``ctr``/``position`` as JSON
numbers, ``responseAggregationType``; ``rows`` absent when empty. CTR = Σclicks/Σimpressions,
position = impression-weighted mean; rows sorted by clicks descending (by date first when
grouped by date); days without data are omitted. Errors in the older Google shape
``{"error": {"errors": [{"domain", "reason", "message"}], "code", "message"}}``: 400
badRequest, 401 authError, 403 "User does not have sufficient permission for site '…'", 429
rateLimitExceeded past ``queries_per_minute`` per site, 500/503 through
:meth:`SearchConsoleFake.fail`.

**Data from a seed** (:func:`generate`): per day and search type, rows at the grain
(query, page, country, device) with clicks, impressions and a position. Some rows have
``query=None``: the privacy-filtered (anonymized) queries — they count in totals and in
page/country/device/date tables but never appear in a table grouped or filtered by query, so the
query table's sum is below the total, as at Google. A few days (``gaps``) have no data at all.
:attr:`SearchConsoleFake.rows` is the data; :func:`totals` computes a group's figures.

How a plugin's test points at it::

    with FakeServer() as server:
        oauth = GoogleOAuthFake(server)
        gsc = SearchConsoleFake(server, oauth, seed=3)     # base URL: server.url

Knobs: ``seed``, ``start``/``today`` (data runs from ``start`` to ``today``; the last
``fresh_days`` days are incomplete, served only with ``dataState=all``), ``sites`` (the
properties the credentials may read), ``gaps`` (how many days without data),
``queries_per_minute``, ``metadata_key``; the server's ``latency`` and ``fail()``
(:meth:`SearchConsoleFake.fail` builds the bodies).

Deliberate limits: ``byPage`` and ``byProperty`` give the same figures (Google counts a
property's impressions once per query, a page's once per page); no ``searchAppearance`` or
``hour`` dimensions, no 50 000-rows-a-day cap; country keys are ISO 3166-1 alpha-3 lower case and
device keys upper case (DESKTOP, MOBILE, TABLET) as Google's; equals/contains filters (and
their negations) compare case-insensitively on every dimension, as the reference says ("values
and dimension names are not case-sensitive"), regular expressions case-sensitively unless they
say ``(?i)`` (RE2's syntax, which Python's ``re`` reads the same at the start of a pattern);
the rate limit counts calls per site in a sliding minute, not per user.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from kpireport.testing.fakes.google_oauth import WEBMASTERS_SCOPE, GoogleOAuthFake
from kpireport.testing.server import Call, FakeServer, Reply

QUERIES = ("kpi report", "monthly kpi report template", "marketing dashboard",
           "kpi examples", "branded pdf report", "ga4 monthly report", "seo kpis",
           "agency reporting tool", "what is a kpi", "kpireport")
PAGE_PATHS = ("", "pricing", "blog/kpi-guide", "blog/monthly-reports", "features", "contact")
COUNTRIES = ("usa", "deu", "fra", "gbr", "jpn", "esp")
DEVICES = ("DESKTOP", "MOBILE", "TABLET")
TYPES = ("web", "image", "video", "news", "discover", "googleNews")
DIMENSIONS = ("date", "query", "page", "country", "device")
OPERATORS = ("equals", "notEquals", "contains", "notContains", "includingRegex",
             "excludingRegex")
MAX_ROW_LIMIT = 25_000


@dataclass(frozen=True, kw_only=True)
class GSCRow:
    """One generated row: a day, a search type and a (query, page, country, device)."""

    date: dt.date
    type: str
    query: str | None
    """``None`` for an anonymized (privacy-filtered) query."""
    page: str
    country: str
    device: str
    clicks: int
    impressions: int
    position: float

    def key(self, dimension: str) -> str | None:
        if dimension == "date":
            return self.date.isoformat()
        value: str | None = getattr(self, dimension)
        return value


def generate(seed: int = 1, start: dt.date = dt.date(2024, 1, 1),
             end: dt.date = dt.date(2024, 12, 31), site: str = "https://www.example.com/",
             gaps: int = 5) -> list[GSCRow]:
    """The fake's data for a site: web rows every day but ``gaps`` random days, a few image
    and video rows; about one row in six has an anonymized query."""
    rnd = random.Random(seed)
    base = site if site.startswith("http") else "https://www." + site.split(":", 1)[1] + "/"
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    missing = set(rnd.sample(days, min(gaps, len(days))))
    rows = []
    for day in days:
        if day in missing:
            continue
        for kind, count in (("web", rnd.randint(10, 25)), ("image", rnd.randint(0, 3)),
                            ("video", rnd.randint(0, 1))):
            for _ in range(count):
                impressions = rnd.randint(1, 400)
                rows.append(GSCRow(
                    date=day, type=kind,
                    query=None if rnd.random() < 1 / 6 else rnd.choice(QUERIES),
                    page=base + rnd.choice(PAGE_PATHS), country=rnd.choice(COUNTRIES),
                    device=rnd.choice(DEVICES),
                    clicks=rnd.randint(0, impressions // 5), impressions=impressions,
                    position=round(rnd.uniform(1.0, 40.0), 1)))
    return rows


def totals(rows: Iterable[GSCRow]) -> dict[str, float]:
    """clicks, impressions, ctr (Σclicks/Σimpressions), position (impression-weighted)."""
    group = list(rows)
    clicks = sum(r.clicks for r in group)
    impressions = sum(r.impressions for r in group)
    weighted = sum(r.position * r.impressions for r in group)
    return {"clicks": clicks, "impressions": impressions,
            "ctr": clicks / impressions if impressions else 0.0,
            "position": weighted / impressions if impressions else 0.0}


class GSCError(Exception):
    def __init__(self, code: int, reason: str, message: str, domain: str = "global") -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.domain = code, reason, message, domain


def error_reply(code: int, reason: str, message: str, domain: str = "global",
                headers: dict[str, str] | None = None) -> Reply:
    """A Google API error in the older shape (``errors`` list, ``code``, ``message``)."""
    return Reply(status=code, headers=headers or {}, body={"error": {
        "errors": [{"domain": domain, "reason": reason, "message": message}],
        "code": code, "message": message}})


_ERRORS = {400: ("badRequest", "Bad Request", "global"),
           401: ("authError", "Invalid Credentials", "global"),
           403: ("forbidden", "Forbidden", "global"),
           429: ("rateLimitExceeded", "Rate Limit Exceeded", "usageLimits"),
           500: ("backendError", "Backend Error", "global"),
           503: ("backendError", "Backend Error", "global")}


class SearchConsoleFake:
    """The Search Console API on ``server``; :attr:`rows` maps each site to its data."""

    def __init__(self, server: FakeServer, oauth: GoogleOAuthFake, *, seed: int = 1,
                 start: dt.date = dt.date(2024, 1, 1), today: dt.date = dt.date(2025, 1, 3),
                 sites: Iterable[str] = ("https://www.example.com/", "sc-domain:example.com"),
                 gaps: int = 5, fresh_days: int = 2, queries_per_minute: int = 1200,
                 metadata_key: str = "firstIncompleteDate") -> None:
        self.server = server
        self.oauth = oauth
        self.today = today
        self.fresh_days = fresh_days
        self.queries_per_minute = queries_per_minute
        self.metadata_key = metadata_key
        """The JSON key of the first incomplete date: the discovery document's
        ``firstIncompleteDate`` (default) or ``first_incomplete_date`` (the client libraries'
        attribute name, which some connectors read): a plugin should accept both."""
        # The data runs to the day before ``today``; the last ``fresh_days`` are incomplete.
        self.rows: dict[str, list[GSCRow]] = {
            site: generate(seed, start, today - dt.timedelta(days=1), site, gaps)
            for site in sites}
        self.requests: list[dict[str, Any]] = []
        self._times: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        server.route("POST", r"/webmasters/v3/sites/(?P<site>[^/]+)/searchAnalytics/query",
                     self.query)

    @property
    def first_incomplete_date(self) -> dt.date:
        return self.today - dt.timedelta(days=self.fresh_days)

    @staticmethod
    def path(site: str) -> str:
        """The request path for ``site``, encoded as Google wants it."""
        return f"/webmasters/v3/sites/{quote(site, safe='')}/searchAnalytics/query"

    def fail(self, code: int, *, times: int = 1, message: str | None = None,
             headers: dict[str, str] | None = None) -> None:
        """The next ``times`` queries answer ``code`` (400, 401, 403, 429, 500, 503)."""
        reason, default, domain = _ERRORS[code]
        self.server.fail("POST", r"/webmasters/v3/sites/[^/]+/searchAnalytics/query",
                         error_reply(code, reason, message or default, domain, headers),
                         times=times)

    # --- The route ----------------------------------------------------------------------------

    def query(self, call: Call) -> Reply | dict[str, Any]:
        try:
            return self._query(call)
        except GSCError as exc:
            return error_reply(exc.code, exc.reason, exc.message, exc.domain)

    def _query(self, call: Call) -> dict[str, Any]:
        match = re.fullmatch(r"/webmasters/v3/sites/([^/]+)/searchAnalytics/query", call.path)
        site = unquote(match.group(1)) if match else ""
        check = self.oauth.check_bearer(call, WEBMASTERS_SCOPE)
        if check in ("missing", "invalid"):
            raise GSCError(401, "authError", "Invalid Credentials")
        if check == "scope":
            raise GSCError(403, "insufficientPermissions",
                           "Request had insufficient authentication scopes.")
        if site not in self.rows:
            raise GSCError(403, "forbidden",
                           f"User does not have sufficient permission for site '{site}'. "
                           "See also: https://support.google.com/webmasters/answer/2451999.")
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._times.get(site, []) if now - t < 60]
            if len(recent) >= self.queries_per_minute:
                raise GSCError(429, "rateLimitExceeded", "Rate Limit Exceeded", "usageLimits")
            self._times[site] = [*recent, now]
        body = call.json()
        if not isinstance(body, dict):
            raise GSCError(400, "parseError", "Parse Error")
        with self._lock:
            self.requests.append(body)
        start, end = _date(body, "startDate"), _date(body, "endDate")
        if start > end:
            raise GSCError(400, "badRequest", "startDate must be earlier than or equal to "
                           "endDate.")
        dims = [str(d).lower() for d in body.get("dimensions") or []]
        for name in dims:
            if name not in DIMENSIONS:
                raise GSCError(400, "invalid",
                               f"Invalid value '{name}'. Values must match the following "
                               "regular expression: '(?i)(DATE|QUERY|PAGE|COUNTRY|DEVICE|"
                               "SEARCH_APPEARANCE|HOUR)'")
        kind = str(body.get("type") or body.get("searchType") or "web")
        if kind not in TYPES:
            raise GSCError(400, "invalid", f"Invalid value '{kind}' for type.")
        state = str(body.get("dataState") or "final").lower()
        if state not in ("final", "all"):
            raise GSCError(400, "invalid", f"Invalid value '{state}' for dataState.")
        row_limit = _number(body, "rowLimit", 1000)
        if not 1 <= row_limit <= MAX_ROW_LIMIT:
            raise GSCError(400, "badRequest",
                           f"rowLimit must be between 1 and {MAX_ROW_LIMIT}, got {row_limit}.")
        start_row = _number(body, "startRow", 0)
        if start_row < 0:
            raise GSCError(400, "badRequest", "startRow must be non-negative.")
        keep, filtered = _compile_groups(body.get("dimensionFilterGroups") or [])
        by_page = "page" in dims or "page" in filtered
        aggregation = str(body.get("aggregationType") or "auto")
        if aggregation == "byProperty" and by_page:
            raise GSCError(400, "badRequest", "Cannot group by page or filter by page when "
                           "aggregationType is byProperty.")
        if aggregation not in ("auto", "byPage", "byProperty"):
            raise GSCError(400, "invalid", f"Invalid value '{aggregation}' for "
                           "aggregationType.")
        resolved = ("byPage" if by_page else "byProperty") if aggregation == "auto" \
            else aggregation

        last = self.today - dt.timedelta(days=1)
        if state == "final":
            last = self.first_incomplete_date - dt.timedelta(days=1)
        hide_anonymous = "query" in dims or "query" in filtered
        groups: dict[tuple[str, ...], list[GSCRow]] = {}
        for row in self.rows[site]:
            if row.type != kind or not start <= row.date <= min(end, last):
                continue
            if hide_anonymous and row.query is None:
                continue
            if not keep(row):
                continue
            key = tuple(row.key(d) or "" for d in dims)
            groups.setdefault(key, []).append(row)
        computed = [(key, totals(rows)) for key, rows in groups.items()]
        computed.sort(key=lambda kv: kv[0])
        computed.sort(key=lambda kv: -kv[1]["clicks"])
        if "date" in dims:
            i = dims.index("date")
            computed.sort(key=lambda kv: kv[0][i])
        page = computed[start_row:start_row + row_limit]
        reply: dict[str, Any] = {}
        if page:
            reply["rows"] = [{"keys": list(key), **figures} for key, figures in page]
        reply["responseAggregationType"] = resolved
        if state == "all" and "date" in dims and end >= self.first_incomplete_date:
            reply["metadata"] = {self.metadata_key: self.first_incomplete_date.isoformat()}
        return reply


def _date(body: dict[str, Any], name: str) -> dt.date:
    value = body.get(name)
    if value is None:
        raise GSCError(400, "required", f"Required parameter: {name}")
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)):
            raise ValueError(value)
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise GSCError(400, "badRequest",
                       f"Could not parse {name} '{value}': expected YYYY-MM-DD.") from None


def _number(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise GSCError(400, "invalid", f"Invalid value '{value}' for {name}.") from None


def _compile_groups(groups: list[Any]) -> tuple[Callable[[GSCRow], bool], set[str]]:
    """The filter groups as a predicate, and the dimensions they filter on."""
    tests: list[Callable[[GSCRow], bool]] = []
    dimensions: set[str] = set()
    for group in groups:
        if str(group.get("groupType", "and")).lower() != "and":
            raise GSCError(400, "invalid", "Only groupType 'and' is supported.")
        for spec in group.get("filters") or []:
            dimension = str(spec.get("dimension", "")).lower()
            operator = str(spec.get("operator", "equals"))
            expression = str(spec.get("expression", ""))
            if dimension not in DIMENSIONS or dimension == "date":
                raise GSCError(400, "invalid", f"Invalid filter dimension '{dimension}'.")
            if operator not in OPERATORS:
                raise GSCError(400, "invalid", f"Invalid filter operator '{operator}'.")
            if operator.endswith("Regex"):
                try:
                    re.compile(expression)
                except re.error:
                    raise GSCError(400, "badRequest",
                                   f"Invalid regular expression '{expression}'.") from None
            dimensions.add(dimension)
            tests.append(_filter(dimension, operator, expression))
    return (lambda row: all(t(row) for t in tests)), dimensions


def _filter(dimension: str, operator: str, expression: str) -> Callable[[GSCRow], bool]:
    # Plain comparisons ignore case (Google: "not case-sensitive"); a regular expression is
    # matched as written, RE2 being case-sensitive unless told (?i).
    wanted = expression.casefold()
    tests: dict[str, Callable[[str], bool]] = {
        "equals": lambda v: v.casefold() == wanted,
        "notEquals": lambda v: v.casefold() != wanted,
        "contains": lambda v: wanted in v.casefold(),
        "notContains": lambda v: wanted not in v.casefold(),
        "includingRegex": lambda v: re.search(expression, v) is not None,
        "excludingRegex": lambda v: re.search(expression, v) is None,
    }
    test = tests[operator]
    return lambda row: test(row.key(dimension) or "")
