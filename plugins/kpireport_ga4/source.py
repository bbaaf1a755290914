"""The ``ga4`` source: a report's queries asked of the GA4 Data API in batches of five,
several batches at once (never more than the property allows), final months cached."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from kpireport import (
    Capabilities,
    DataNote,
    DateRange,
    Granularity,
    MetricSpec,
    MissingDays,
    NoteKind,
    Query,
    QuotaExhausted,
    Source,
    SourceContext,
    SourceError,
    Table,
    TransientError,
    order_rows,
    split_by_month,
)
from kpireport_ga4 import reports
from kpireport_ga4.settings import Ga4Settings
from kpireport_ga4.slots import PropertySlots
from kpireport_ga4.vocabulary import DIMENSIONS, Ga4Metric, metric_dimensions, metrics

if TYPE_CHECKING:
    from kpireport_google import GoogleClient

BATCH_SIZE = 5
"""GA4's batchRunReports takes at most five requests."""
QUOTA_LIMITS = {"tokensPerDay": (200_000, 2_000_000), "tokensPerHour": (40_000, 400_000)}
"""A standard property's limits, then a GA4 360 property's: the reply gives only what is left."""
_PER = re.compile(r"tokens per (day|hour)", re.IGNORECASE)

@dataclasses.dataclass
class _Part:
    """One RunReportRequest: a month (or the whole range) of a query, some of its metrics."""

    body: dict[str, Any]
    final: bool
    key: dict[str, Any]
    range: DateRange
    chain: str | None
    """Parts of the same chain differ only by their month: asked together in one request."""
    report: dict[str, Any] | None = None
    error: SourceError | None = None


@dataclasses.dataclass
class _Unit:
    """One request sent: the parts it answers, grouped by month (each group, parts asking the
    same thing)."""

    body: dict[str, Any]
    groups: list[list[_Part]]


class Ga4Source(Source[Ga4Settings]):
    name = "ga4"
    label = "Google Analytics 4"
    Settings = Ga4Settings
    missing_days = MissingDays.ZERO  # GA4 leaves out the days without data

    def __init__(self, settings: Ga4Settings, context: SourceContext) -> None:
        super().__init__(settings, context)
        self._client: GoogleClient | None = None
        self._fatal: SourceError | None = None
        self._quota: dict[str, float] = {}
        self._lock = threading.Lock()

    # --- What it offers (offline) --------------------------------------------------------

    def _offered(self) -> dict[str, Ga4Metric]:
        return metrics(conversions=tuple(self.settings.conversions),
                       leads=tuple(self.settings.leads))

    def metrics(self) -> dict[str, MetricSpec]:
        return {name: metric.spec for name, metric in self._offered().items()}

    @classmethod
    def capabilities(cls) -> Capabilities:  # a classmethod: `kpireport plugins` shows them
        return Capabilities(dimensions=tuple(DIMENSIONS), metric_dimensions=metric_dimensions())

    def check(self) -> list[str]:
        return self.settings.auth.problems(self.context)

    @property
    def resource(self) -> str:
        return f"GA4 property {self.settings.property_id}"

    def _google(self) -> GoogleClient:
        if self._client is None:
            from kpireport_google import ANALYTICS_SCOPE, GoogleClient

            self._client = GoogleClient(self.settings.auth, self.context,
                                        scopes=[ANALYTICS_SCOPE], timeout=self.settings.timeout)
        return self._client

    # --- Fetching --------------------------------------------------------------------------

    def fetch(self, query: Query) -> Table:
        answer = self.fetch_many([query])[query]
        if isinstance(answer, SourceError):
            raise answer
        return answer

    def first_open_day(self) -> dt.date:
        """The first day GA4 may still change: the last ``processing_days`` before the run
        date, and one more because the property's days may end later than the client's."""
        return self.context.today - dt.timedelta(days=self.settings.processing_days + 1)

    def fetch_many(self, queries: Sequence[Query]) -> dict[Query, Table | SourceError]:
        answers: dict[Query, Table | SourceError] = {}
        if self._fatal is not None:  # refused earlier in this run: Google is not asked again
            return dict.fromkeys(queries, self._fatal)
        offered = self._offered()
        plans: dict[Query, list[_Part]] = {}
        for query in queries:
            unknown = [m for m in query.metrics if m not in offered]
            if unknown:
                answers[query] = SourceError(
                    f"{', '.join(unknown)} is not offered by this source"
                    + (" (set `leads:` to the key events that count as leads)"
                       if "leads" in unknown else ""))
                continue
            plans[query] = self._plan(query, offered)
        self._ask([part for parts in plans.values() for part in parts])
        for query, parts in plans.items():
            failed = next((p.error for p in parts if p.error is not None), None)
            answers[query] = failed if failed is not None else self._table(query, parts,
                                                                           offered)
        return answers

    def _plan(self, query: Query, offered: Mapping[str, Ga4Metric]) -> list[_Part]:
        # Month by month: a final month is cached on its own, and next month's report (whose
        # series overlaps this one's) asks only for the new month.
        open_day = self.first_open_day()
        parts = []
        # A series by day or month, without a top N, can be asked in one request for several
        # months and cut into months again (its rows carry their date).
        chained = query.granularity is not Granularity.TOTAL and query.limit is None
        for piece in split_by_month(query):
            final = piece.range.end < open_day
            for body in reports.request_bodies(piece, offered,
                                               page_size=self.settings.page_size):
                key = {"property": self.settings.property_id,
                       "body": {k: v for k, v in body.items() if k != "returnPropertyQuota"}}
                chain = None
                if chained:
                    chain = json.dumps({k: v for k, v in body.items() if k != "dateRanges"},
                                       sort_keys=True)
                parts.append(_Part(body=body, final=final, key=key, range=piece.range,
                                   chain=chain))
        return parts

    def _ask(self, parts: Sequence[_Part]) -> None:
        """Every part's report, from the cache or from Google (five a batch, a few batches
        at once); a part that could not be had gets its error."""
        cache = self.context.cache
        missing: dict[str, list[_Part]] = {}
        for part in parts:
            found = cache.get(part.key)
            if found is not None:
                part.report = found
            else:
                # Two queries may need the same report: asked once.
                missing.setdefault(json.dumps(part.key, sort_keys=True), []).append(part)
        if not missing:
            return
        units = _units(list(missing.values()))
        batches = [units[i:i + BATCH_SIZE] for i in range(0, len(units), BATCH_SIZE)]
        workers = min(self.settings.concurrent_requests, len(batches))
        if workers == 1:
            for batch in batches:
                self._run_batch(batch)
        else:
            with ThreadPoolExecutor(max_workers=workers,
                                    thread_name_prefix="ga4") as pool:
                list(pool.map(self._run_batch, batches))

    def _post(self, method: str, body: Mapping[str, Any]) -> dict[str, Any]:
        url = f"{self.settings.base_url}/v1beta/properties/{self.settings.property_id}:{method}"
        with self._slots().hold():
            return self._google().post(url, body, resource=self.resource)

    def _slots(self) -> PropertySlots:
        # Keyed by the property (and the API's address: a test's fake is another property).
        key = hashlib.sha256(f"{self.settings.base_url}|{self.settings.property_id}"
                             .encode()).hexdigest()[:24]
        return PropertySlots(self.context.state_dir / "concurrency" / key,
                             self.settings.concurrent_requests)

    def _run_batch(self, batch: list[_Unit]) -> None:
        if self._fatal is not None:
            self._refuse(batch, self._fatal)
            return
        try:
            if len(batch) == 1:
                replies = [self._post("runReport", batch[0].body)]
            else:
                reply = self._post("batchRunReports",
                                   {"requests": [unit.body for unit in batch]})
                replies = list(reply.get("reports") or [])
                if len(replies) != len(batch):
                    raise SourceError(f"{self.resource}: Google answered {len(replies)} "
                                      f"reports to a batch of {len(batch)}")
            for unit, report in zip(batch, replies, strict=True):
                report = self._all_pages(unit.body, report)
                kept = {k: v for k, v in report.items() if k not in ("propertyQuota", "kind")}
                for group, answer in zip(unit.groups, _by_month(kept, unit.groups),
                                         strict=True):
                    self.context.cache.put(group[0].key, answer, final=group[0].final)
                    for part in group:
                        part.report = answer
        except SourceError as exc:
            if exc.fatal:
                with self._lock:
                    self._fatal = self._fatal or exc
                if isinstance(exc, QuotaExhausted):
                    self._spent(str(exc))
            elif len(batch) > 1 and not isinstance(exc, TransientError):
                # Google refuses a whole batch for one request it refuses (an incompatible
                # dimension and metric): each alone, so that one costs only its own figures.
                for unit in batch:
                    if any(part.report is None for group in unit.groups for part in group):
                        self._run_batch([unit])
                return
            self._refuse(batch, exc)

    @staticmethod
    def _refuse(batch: list[_Unit], error: SourceError) -> None:
        for unit in batch:
            for group in unit.groups:
                for part in group:
                    if part.report is None:
                        part.error = error

    def _all_pages(self, body: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
        """The report with every row: GA4 pages at ``limit`` rows; ``rowCount`` is the whole."""
        self._record_quota(report)
        rows = list(report.get("rows") or [])
        total = int(report.get("rowCount") or 0)
        limit = int(body["limit"])
        # A top N asked of Google (orderBys and a small limit) stops at its first page.
        wanted = total if "orderBys" not in body else min(total, limit)
        while len(rows) < wanted:
            page = self._post("runReport", {**body, "offset": str(len(rows))})
            self._record_quota(page)
            more = page.get("rows") or []
            if not more:
                break
            rows.extend(more)
        if rows:
            report = {**report, "rows": rows}
        return report

    # --- Quota -----------------------------------------------------------------------------

    def _record_quota(self, report: Mapping[str, Any]) -> None:
        quota = report.get("propertyQuota") or {}
        for name, (standard, premium) in QUOTA_LIMITS.items():
            status = quota.get(name)
            if not isinstance(status, dict) or "remaining" not in status:
                continue
            with self._lock:
                remaining = float(status["remaining"])
                left = min(remaining, self._quota.get(name, remaining))
                self._quota[name] = left
                # The reply gives only what is left: the limit is the property's tier's.
                limit = premium if self.settings.analytics_360 or left > standard else standard
                self.context.record_usage(name, used=max(limit - left, 0), limit=limit)

    def _spent(self, message: str) -> None:
        match = _PER.search(message)
        if not match:
            return
        name = "tokensPerDay" if match.group(1).lower() == "day" else "tokensPerHour"
        with self._lock:
            standard, premium = QUOTA_LIMITS[name]
            known = self.context.usage.get(name)
            limit = (known.limit if known is not None and known.limit
                     else premium if self.settings.analytics_360 else standard)
            self._quota[name] = 0
            self.context.record_usage(name, used=limit, limit=limit)

    # --- Tables ----------------------------------------------------------------------------

    def _table(self, query: Query, parts: Sequence[_Part],
               offered: Mapping[str, Ga4Metric]) -> Table:
        got = [p.report for p in parts if p.report is not None]
        rows = reports.join(got, query, offered)
        if query.order:
            rows = order_rows(rows, query.order, query.limit)
        elif query.granularity is not Granularity.TOTAL:
            key = "date" if query.granularity is Granularity.DAY else "month"
            rows.sort(key=lambda r: r[key])
        notes = reports.unique_notes(n for report in got for n in reports.notes_of(report, query))
        open_day = self.first_open_day()
        if query.range.end >= open_day:
            days = tuple(d for d in query.range.iter_days() if d >= open_day)
            notes.append(DataNote(
                kind=NoteKind.INCOMPLETE, metrics=query.metrics, dates=days,
                message=f"Google Analytics may still be processing the days from "
                        f"{days[0].isoformat()}: these figures can still change",
                translations=(("fr", f"Google Analytics peut encore traiter les jours à "
                                     f"partir du {days[0].isoformat()} : ces chiffres peuvent "
                                     "encore changer"),)))
        metadata = next((r.get("metadata") for r in got if r.get("metadata")), None) or {}
        return Table(query=query, rows=rows, notes=notes,
                     currency=metadata.get("currencyCode") or None,
                     timezone=metadata.get("timeZone") or None)


    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _units(groups: list[list[_Part]]) -> list[_Unit]:
    """The requests to send for these groups of parts: a chain's adjacent months in one
    request over their whole span, every other group on its own."""
    units: list[_Unit] = []
    chains: dict[str, list[list[_Part]]] = {}
    for group in groups:
        chain = group[0].chain
        if chain is None:
            units.append(_Unit(body=group[0].body, groups=[group]))
        else:
            chains.setdefault(chain, []).append(group)
    for members in chains.values():
        members.sort(key=lambda g: g[0].range.start)
        runs: list[list[list[_Part]]] = []
        for group in members:
            if runs and runs[-1][-1][0].range.end + dt.timedelta(days=1) == group[0].range.start:
                runs[-1].append(group)
            else:
                runs.append([group])
        for run in runs:
            first, last = run[0][0].range, run[-1][0].range
            body = {**run[0][0].body, "dateRanges": [{"startDate": first.start.isoformat(),
                                                      "endDate": last.end.isoformat()}]}
            units.append(_Unit(body=body, groups=run))
    return units


def _by_month(report: dict[str, Any], groups: list[list[_Part]]) -> list[dict[str, Any]]:
    """A report over several months cut into one report per group (each one month), by the
    date its rows carry first (``date`` or ``yearMonth``)."""
    if len(groups) == 1:
        return [report]
    rows: dict[tuple[int, int], list[Any]] = {}
    for row in report.get("rows") or []:
        value = str((row.get("dimensionValues") or [{}])[0].get("value") or "")
        rows.setdefault((int(value[:4] or 0), int(value[4:6] or 0)), []).append(row)
    out = []
    for group in groups:
        start = group[0].range.start
        mine = rows.get((start.year, start.month), [])
        part = {k: v for k, v in report.items() if k not in ("rows", "rowCount")}
        if mine:  # as Google answers a month without data: no rows, no rowCount
            part.update(rows=mine, rowCount=len(mine))
        out.append(part)
    return out
