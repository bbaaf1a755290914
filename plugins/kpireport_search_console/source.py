"""The ``search_console`` source: a report's queries asked of ``searchAnalytics.query``.

How a report's queries become calls (:meth:`SearchConsoleSource.fetch_many`):

- a total is one request over its range, answered by Google for the range as a whole (CTR
  and position as Google computes them);
- a series (by day or by month) is asked month by month, each month a request of its own
  grouped by date, so that a final month is cached on its own and next month's report asks
  only for the new one; the months no cache holds are asked in one call per run of
  consecutive months, and its rows put back month by month; a month's figure is summed from
  its days (CTR from the sums, position weighted by impressions, as Google does);
- the requests of every query are gathered first, so that two queries needing the same month
  ask it once, then the calls run concurrently (``concurrent_requests``) under a limiter shared
  by every worker using the credential (Google's queries per minute);
- rows come in pages of ``row_limit`` (``startRow``) until a page comes back short; the top N
  is cut here, after ordering every row by the query's order, ties broken by clicks then
  impressions as Google ranks them;
- with ``data_state: all`` the days Google has not finished (``first_incomplete_date``) are
  noted and never cached; ``final`` leaves them out, and says so.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from kpireport import (
    STANDARD_METRICS,
    Capabilities,
    DataNote,
    DateRange,
    Granularity,
    MetricSpec,
    MissingDays,
    NoteKind,
    Operator,
    Query,
    Source,
    SourceError,
    Table,
    aggregate_rows,
    order_rows,
    split_by_month,
)
from kpireport_search_console.api import (
    DIMENSIONS,
    first_incomplete_date,
    parse_rows,
    query_url,
    request_body,
)
from kpireport_search_console.settings import SearchConsoleSettings

if TYPE_CHECKING:
    from kpireport.ratelimit import SharedRateLimiter
    from kpireport_google import GoogleClient

METRICS = ("clicks", "impressions", "ctr", "position")
PACIFIC = "America/Los_Angeles"
"""Search Console's days are Pacific-time days."""
FRESH_DAYS = 10
"""Days before today within which Search Console may still be processing data: a range
ending earlier is final without asking; one ending later asks Google which day is the first
incomplete one (``first_incomplete_date``). Google finalises within about three days."""
CACHE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class _Plan:
    """The requests (cache keys) a query needs, and how its table is made from them."""

    parts: tuple[str, ...]
    """Keys of the table's own requests: one for a total, one per month for a series."""
    hidden_total: str | None = None
    """For the share of queries Google hides: the request of the total without query filter…"""
    hidden_shown: str | None = None
    """…and the one grouped by query (only the queries Google shows)."""


@dataclass(kw_only=True)
class _Call:
    """One call to Google (its pages), answering one or several month requests."""

    body: dict[str, Any]
    answers: list[str]
    """The requests it answers: itself, or the months of a run of consecutive months."""


@dataclass(kw_only=True)
class _Answers:
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Raw rows (Google's ``keys`` and metrics) by request key."""
    errors: dict[str, SourceError] = field(default_factory=dict)


def _key(body: Mapping[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


class SearchConsoleSource(Source[SearchConsoleSettings]):
    """Clicks, impressions, CTR and position of a Search Console property."""

    name = "search_console"
    label = "Google Search Console"
    Settings = SearchConsoleSettings
    missing_days = MissingDays.ZERO  # Google leaves out the days without a click or impression

    def __init__(self, settings: SearchConsoleSettings, context: Any) -> None:
        super().__init__(settings, context)
        self._client: GoogleClient | None = None
        self._fatal: SourceError | None = None
        self._lock = threading.Lock()
        self._limit_lock = threading.Lock()
        self._limiter: SharedRateLimiter | None = None
        self._reached = False
        """Whether Google has answered this source once (the credential works)."""

    # --- What it offers (no network) -----------------------------------------------------

    @classmethod
    def metrics(cls) -> dict[str, MetricSpec]:
        return {name: STANDARD_METRICS[name] for name in METRICS}

    @classmethod
    def capabilities(cls) -> Capabilities:
        # searchAnalytics.query gives clicks, impressions, CTR and position for every row,
        # whatever it is grouped and filtered by; this source asks the API itself (never a
        # property's exports, whose files hold one dimension each: the csv source's affair).
        return Capabilities(dimensions=DIMENSIONS,
                            filters=(Operator.EQUALS, Operator.IN, Operator.CONTAINS,
                                     Operator.REGEX),
                            metric_dimensions={name: DIMENSIONS for name in METRICS})

    def check(self) -> list[str]:
        return self.settings.auth.problems(self.context)

    # --- Calls ---------------------------------------------------------------------------

    @property
    def client(self) -> GoogleClient:
        with self._lock:
            if self._client is None:
                from kpireport_google import WEBMASTERS_SCOPE, GoogleClient

                self._client = GoogleClient(self.settings.auth, self.context,
                                            scopes=[WEBMASTERS_SCOPE],
                                            timeout=self.settings.timeout)
            return self._client

    @property
    def resource(self) -> str:
        return f"Search Console site {self.settings.site}"

    def _post(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """One page: the limiter first (Google's queries per minute, per user)."""
        client = self.client
        # The threads of this report take turns here: the limiter's file lock is for other
        # processes, and threads polling it would wait its poll interval each.
        with self._limit_lock:
            if self._limiter is None:
                self._limiter = self.context.rate_limiter(
                    f"search_console|{client.identity}",
                    calls=self.settings.queries_per_minute, period=60.0)
            self._limiter.acquire()
        reply = client.post(query_url(self.settings.base_url, self.settings.site), body,
                            resource=self.resource)
        self._reached = True
        return reply

    def _pages(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row of ``body``, page after page (``startRow``) until a short page."""
        rows: list[dict[str, Any]] = []
        limit = self.settings.row_limit
        while True:
            reply = self._post({**body, "rowLimit": limit, "startRow": len(rows)})
            page = reply.get("rows") or []
            if not isinstance(page, list):
                raise SourceError(f"{self.resource}: Google's reply has no list of rows")
            rows.extend(page)
            if len(page) < limit:
                return rows

    def _call(self, call: _Call) -> dict[str, list[dict[str, Any]]]:
        """The rows of each request ``call`` answers."""
        if self._fatal is not None:
            raise self._fatal  # the source is asked nothing more in this report
        try:
            rows = self._pages(call.body)
        except SourceError as exc:
            if exc.fatal:
                self._fatal = self._fatal or exc
            raise
        if len(call.answers) == 1:
            return {call.answers[0]: rows}
        # A run of months asked at once: each month's days go back under its own request.
        position = call.body["dimensions"].index("date")
        by_month: dict[str, list[dict[str, Any]]] = {key: [] for key in call.answers}
        months = {json.loads(key)["startDate"][:7]: key for key in call.answers}
        for row in rows:
            month = str(row["keys"][position])[:7]
            if month in months:
                by_month[months[month]].append(row)
        return by_month

    # --- Which days are final ------------------------------------------------------------

    def final_from(self, last_end: dt.date) -> dt.date:
        """The first day whose data is not final (``first_incomplete_date``), or a day after
        every range asked when they all end well before today."""
        today = self.context.today
        if last_end < today - dt.timedelta(days=FRESH_DAYS):
            return today - dt.timedelta(days=FRESH_DAYS)
        body = request_body(start=today - dt.timedelta(days=FRESH_DAYS),
                            end=today - dt.timedelta(days=1), dimensions=["date"], filters=(),
                            search_type=self.settings.search_type, data_state="all")
        request = {"site": self.settings.site, "freshness": body, "v": CACHE_VERSION}

        def ask() -> str:
            if self._fatal is not None:
                raise self._fatal
            try:
                reply = self._post({**body, "rowLimit": FRESH_DAYS})
            except SourceError as exc:
                if exc.fatal:
                    self._fatal = exc
                raise
            first = first_incomplete_date(reply)
            return first.isoformat() if first else ""  # "": stored, where None would not be

        # Kept an hour (not final): a preview refresh or a re-render does not ask again.
        first: str = self.context.cache.cached(request, ask, final=False)
        # No incomplete day in the last days: everything up to yesterday is final.
        return dt.date.fromisoformat(first) if first else today

    def probe(self) -> None:
        """Asks which day is the first incomplete one: one small call that needs the same
        access as the report's."""
        body = request_body(start=self.context.today - dt.timedelta(days=FRESH_DAYS),
                            end=self.context.today - dt.timedelta(days=1),
                            dimensions=["date"], filters=(),
                            search_type=self.settings.search_type, data_state="all")
        self._post({**body, "rowLimit": FRESH_DAYS})

    # --- A report's queries ----------------------------------------------------------------

    def _body(self, rng: DateRange, dimensions: Sequence[str],
              filters: Sequence[Any]) -> dict[str, Any]:
        return request_body(start=rng.start, end=rng.end, dimensions=dimensions,
                            filters=filters, search_type=self.settings.search_type,
                            data_state=self.settings.data_state)

    def _plan(self, query: Query, bodies: dict[str, dict[str, Any]],
              monthly: set[str]) -> _Plan:
        def add(body: dict[str, Any], month: bool = False) -> str:
            key = _key(body)
            bodies[key] = body
            if month:
                monthly.add(key)
            return key

        if query.granularity is Granularity.TOTAL:
            parts: tuple[str, ...] = (add(self._body(query.range, query.dimensions,
                                                     query.filters)),)
        else:
            parts = tuple(add(self._body(part.range, ("date", *query.dimensions),
                                         query.filters), month=True)
                          for part in split_by_month(query))
        on_query = any(f.dimension == "query" for f in query.filters)
        if query.granularity is Granularity.TOTAL and ("query" in query.dimensions or on_query):
            others = [f for f in query.filters if f.dimension != "query"]
            return _Plan(parts=parts,
                         hidden_total=add(self._body(query.range, (), others)),
                         hidden_shown=add(self._body(query.range, ("query",), others)))
        return _Plan(parts=parts)

    def fetch(self, query: Query) -> Table:
        answer = self.fetch_many([query])[query]
        if isinstance(answer, SourceError):
            raise answer
        return answer

    def fetch_many(self, queries: Sequence[Query]) -> dict[Query, Table | SourceError]:
        out: dict[Query, Table | SourceError] = {}
        plans: dict[Query, _Plan] = {}
        bodies: dict[str, dict[str, Any]] = {}
        monthly: set[str] = set()
        for query in queries:
            try:
                plans[query] = self._plan(query, bodies, monthly)
            except SourceError as exc:  # a filter Search Console cannot apply
                out[query] = exc
        if not plans:
            return out
        try:
            final_from = self.final_from(max(q.range.end for q in plans))
        except SourceError as exc:
            if exc.fatal:
                return {**out, **dict.fromkeys(plans, exc)}
            # Which recent days are final is unknown: the queries about them fail, the
            # others (long final) are answered.
            final_from = self.context.today - dt.timedelta(days=FRESH_DAYS)
            for query in [q for q in plans if q.range.end >= final_from]:
                out[query] = exc
                del plans[query]
            bodies = {k: b for k, b in bodies.items()
                      if dt.date.fromisoformat(b["endDate"]) < final_from}
        answers = self._answers(bodies, monthly, final_from)
        for query, plan in plans.items():
            error = next((answers.errors[k] for k in plan.parts if k in answers.errors), None)
            try:
                out[query] = error if error is not None else self._table(query, plan, answers,
                                                                         final_from)
            except SourceError as exc:  # a reply that cannot be read: this query's
                out[query] = exc
        return out

    def _answers(self, bodies: Mapping[str, dict[str, Any]], monthly: set[str],
                 final_from: dt.date) -> _Answers:
        """Every request's rows: from the cache, else from Google, the calls concurrently."""
        answers = _Answers()
        cache = self.context.cache
        missing: list[str] = []
        for key, body in bodies.items():
            stored = cache.get(self._cache_request(body))
            if isinstance(stored, dict) and isinstance(stored.get("rows"), list):
                answers.rows[key] = stored["rows"]
            else:
                missing.append(key)
        calls = self._calls(missing, bodies, monthly)
        self.context.logger.debug("Search Console %s: %d requests, %d from the cache, %d calls",
                                  self.settings.site, len(bodies), len(bodies) - len(missing),
                                  len(calls))
        if not calls:
            return answers

        def ask(call: _Call) -> dict[str, list[dict[str, Any]]]:
            got = self._call(call)
            for key, rows in got.items():  # stored by the worker: the writes overlap the calls
                body = bodies[key]
                final = dt.date.fromisoformat(body["endDate"]) < final_from
                cache.put(self._cache_request(body), {"rows": rows}, final=final)
            return got

        def collect(call: _Call, future: Future[dict[str, list[dict[str, Any]]]]) -> None:
            try:
                answers.rows.update(future.result())
            except SourceError as exc:
                answers.errors.update(dict.fromkeys(call.answers, exc))

        workers = min(self.settings.concurrent_requests, len(calls))
        with ThreadPoolExecutor(max_workers=workers,
                                thread_name_prefix="kpireport-search-console") as pool:
            if not self._reached:
                # The first call alone: a site the credential cannot read, a refused key or a
                # spent quota then costs one call, not one per request in flight.
                collect(calls[0], pool.submit(ask, calls[0]))
                calls = calls[1:]
            for call, future in [(call, pool.submit(ask, call)) for call in calls]:
                collect(call, future)
        return answers

    def _cache_request(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"site": self.settings.site, "body": dict(body), "v": CACHE_VERSION}

    @staticmethod
    def _calls(missing: Sequence[str], bodies: Mapping[str, dict[str, Any]],
               monthly: set[str]) -> list[_Call]:
        """One call per request, but one per run of consecutive months of the same shape."""
        calls: list[_Call] = []
        runs: dict[str, list[str]] = {}
        for key in missing:
            body = bodies[key]
            if key not in monthly:
                calls.append(_Call(body=body, answers=[key]))
                continue
            shape = _key({k: v for k, v in body.items() if k not in ("startDate", "endDate")})
            runs.setdefault(shape, []).append(key)
        for keys in runs.values():
            keys.sort(key=lambda k: bodies[k]["startDate"])
            run: list[str] = []
            for key in keys:
                if run and dt.date.fromisoformat(bodies[run[-1]]["endDate"]) + \
                        dt.timedelta(days=1) != dt.date.fromisoformat(bodies[key]["startDate"]):
                    calls.append(SearchConsoleSource._run_call(run, bodies))
                    run = []
                run.append(key)
            if run:
                calls.append(SearchConsoleSource._run_call(run, bodies))
        return calls

    @staticmethod
    def _run_call(run: list[str], bodies: Mapping[str, dict[str, Any]]) -> _Call:
        body = {**bodies[run[0]], "endDate": bodies[run[-1]]["endDate"]}
        return _Call(body=body, answers=list(run))

    # --- Tables --------------------------------------------------------------------------

    def _table(self, query: Query, plan: _Plan, answers: _Answers,
               final_from: dt.date) -> Table:
        metrics = list(query.metrics)
        if query.granularity is Granularity.TOTAL:
            rows = parse_rows({"rows": answers.rows[plan.parts[0]]}, query.dimensions)
        else:
            rows = []
            for key in plan.parts:
                rows.extend(parse_rows({"rows": answers.rows[key]},
                                       ("date", *query.dimensions)))
            if query.granularity is Granularity.MONTH:
                # Google filtered already: the rows do not carry every filtered dimension.
                rows = aggregate_rows(rows, self.metrics(),
                                      replace(query, metrics=METRICS, filters=(), order=(),
                                              limit=None))
        # Ties in the asked order fall back on Google's ranking: clicks, then impressions,
        # then the dimension values, so that the top N is the same from run to run.
        rows.sort(key=lambda r: tuple(str(r.get(d, "")) for d in query.dimensions))
        rows.sort(key=lambda r: (-(r.get("clicks") or 0.0), -(r.get("impressions") or 0.0)))
        if query.order:
            rows = order_rows(rows, query.order, query.limit)
        if query.granularity is not Granularity.TOTAL:
            time = "date" if query.granularity is Granularity.DAY else "month"
            rows.sort(key=lambda r: r[time])
        keep = [k for k in (("date",) if query.granularity is Granularity.DAY else
                            ("month",) if query.granularity is Granularity.MONTH else ())]
        table_rows = [{k: row.get(k) for k in (*keep, *query.dimensions, *metrics)}
                      for row in rows]
        notes = self._incomplete(query, final_from)
        # The share of hidden searches is a note: when its requests failed, the figures
        # stand without it.
        if plan.hidden_total in answers.rows and plan.hidden_shown in answers.rows:
            notes.extend(self._hidden(query, answers.rows[plan.hidden_total],
                                      answers.rows[plan.hidden_shown]))
        return Table(query=query, rows=table_rows, notes=notes, timezone=PACIFIC)

    def _incomplete(self, query: Query, final_from: dt.date) -> list[DataNote]:
        last = min(query.range.end, self.context.today - dt.timedelta(days=1))
        first = max(query.range.start, final_from)
        if first > last:
            return []
        days = tuple(first + dt.timedelta(days=i) for i in range((last - first).days + 1))
        if self.settings.data_state == "final":
            message = (f"Search Console has not finished {days[0]}..{days[-1]}: those days "
                       "are left out (data_state: final)")
        else:
            message = (f"Search Console is still processing {days[0]}..{days[-1]}: their "
                       "figures may change")
        return [DataNote(kind=NoteKind.INCOMPLETE, message=message, source=self.context.name,
                         dates=days, metrics=query.metrics)]

    def _hidden(self, query: Query, total_rows: list[dict[str, Any]],
                shown_rows: list[dict[str, Any]]) -> list[DataNote]:
        """Queries Google hides for privacy: counted in the total, in no query's row."""
        metric = "clicks"
        total = sum(float(r.get(metric) or 0) for r in total_rows)
        if not total:
            metric = "impressions"
            total = sum(float(r.get(metric) or 0) for r in total_rows)
        shown = sum(float(r.get(metric) or 0) for r in shown_rows)
        hidden = total - shown
        if total <= 0 or hidden < 0.5:
            return []
        share = hidden / total
        pct = f"{share:.0%}" if share >= 0.01 else "<1%"
        pct_fr = pct.replace("%", "\u202f%")
        of_en = f"{hidden:,.0f} of {total:,.0f}"
        of_fr = f"{hidden:,.0f} sur {total:,.0f}".replace(",", "\u202f")
        what_fr = "clics" if metric == "clicks" else "impressions"
        label = self.context.label or self.label
        if "query" in query.dimensions:
            en = (f"{label}: {pct} of {metric} ({of_en}) came from searches Google does not "
                  "show, to protect searchers' privacy: they count in the totals, not in "
                  "this table")
            fr = (f"{label} : {pct_fr} des {what_fr} ({of_fr}) viennent de recherches que "
                  "Google ne montre pas, pour protéger la vie privée : comptées dans les "
                  "totaux, pas dans ce tableau")
        else:
            en = (f"{label}: this figure counts only the searches Google shows; {pct} of "
                  f"{metric} ({of_en}) came from searches it hides to protect searchers' "
                  "privacy, which no filter on the query can sort")
            fr = (f"{label} : ce chiffre ne compte que les recherches que Google montre ; "
                  f"{pct_fr} des {what_fr} ({of_fr}) viennent de recherches qu'il cache pour "
                  "protéger la vie privée, qu'aucun filtre sur la requête ne peut trier")
        return [DataNote(kind=NoteKind.OTHER, message=en, translations=(("fr", fr),),
                         source=self.context.name, metrics=query.metrics)]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
