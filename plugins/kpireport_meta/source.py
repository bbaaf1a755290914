"""The Meta source: Ads Insights and the pixel's stats, through the Graph API."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kpireport import (
    STANDARD_METRICS,
    AuthenticationError,
    Capabilities,
    DataNote,
    DateRange,
    Granularity,
    MetricSpec,
    MissingDays,
    NoteKind,
    Query,
    Source,
    SourceContext,
    SourceError,
    Table,
    filter_rows,
    order_rows,
    split_by_month,
)
from kpireport_meta.graph import Graph
from kpireport_meta.insights import (
    ADDITIVE,
    CONVERSION_METRICS,
    figures,
    finish,
    graph_fields,
)
from kpireport_meta.pixel import checkable_days, events_per_day, silent_days
from kpireport_meta.settings import STANDARD_EVENTS, MetaSettings

DIMENSIONS = ("campaign",)
"""What rows split by: Insights' ``level=campaign`` (the account's total otherwise)."""


def utcnow() -> dt.datetime:
    """The clock the pixel check reads (its endpoint keeps the last 7 days from now)."""
    return dt.datetime.now(dt.UTC)


class MetaSource(Source[MetaSettings]):
    name = "meta"
    label = "Meta Ads"
    Settings = MetaSettings
    missing_days = MissingDays.ZERO  # Insights leave out days without impressions

    def __init__(self, settings: MetaSettings, context: SourceContext,
                 sleep: Callable[[float], None] | None = None) -> None:
        super().__init__(settings, context)
        self._graph: Graph | None = None
        self._sleep = sleep
        self._account: dict[str, Any] | None = None
        self._silent: list[dt.date] | None = None

    # --- What validate calls (no network) -----------------------------------------------------

    def metrics(self) -> dict[str, MetricSpec]:
        names = ["spend", "ad_impressions", "reach", "ad_clicks", "ad_ctr", "cpc",
                 "ad_conversions", "conversion_value", "cost_per_result", "roas"]
        names += [STANDARD_EVENTS[e][1] for e in self.settings.events if e in STANDARD_EVENTS]
        return {name: STANDARD_METRICS[name] for name in names}

    def capabilities(self) -> Capabilities:
        # Every insights field read here is given at level=campaign, reach included (Meta's
        # own deduplicated count per campaign); no breakdown is asked, so none of the
        # breakdowns' limits (action metrics by age, region…) applies. A filter matching
        # several campaigns leaves their reach unknown, noted, not refused: one works.
        return Capabilities(dimensions=DIMENSIONS,
                            metric_dimensions={name: DIMENSIONS for name in self.metrics()})

    def check(self) -> list[str]:
        if self.settings.access_token is None and not os.environ.get(
                self.settings.access_token_env):
            return [f"the environment variable {self.settings.access_token_env} (the system "
                    "user's access token) is not set"]
        return []

    # --- Calls --------------------------------------------------------------------------------

    def _token(self) -> tuple[str, str]:
        if self.settings.access_token is not None:
            return self.settings.access_token.get_secret_value(), "settings.access_token"
        name = self.settings.access_token_env
        token = os.environ.get(name, "")
        if not token:
            raise AuthenticationError(f"no access token: the environment variable {name} is "
                                      "not set; give it the system user's token (ads_read)")
        return token, f"the environment variable {name}"

    @property
    def graph(self) -> Graph:
        if self._graph is None:
            token, origin = self._token()
            self.context.register_secret(token)
            s = self.settings
            self._graph = Graph(
                self.context, base=f"{s.graph_url.rstrip('/')}/{s.api_version}", token=token,
                account=s.account, token_origin=origin, calls_per_minute=s.calls_per_minute,
                max_throttle_wait=s.max_throttle_wait, max_report_wait=s.max_report_wait,
                sleep=self._sleep)
        return self._graph

    def account(self) -> dict[str, Any]:
        """The ad account's currency and time zone (asked once per report)."""
        if self._account is None:
            request = {"path": f"act_{self.settings.account}", "api": self.settings.api_version,
                       "fields": "currency,timezone_name"}
            self._account = self.context.cache.cached(
                request, lambda: self.graph.request(
                    "GET", str(request["path"]), {"fields": request["fields"]}), final=False)
        return self._account

    def probe(self) -> None:
        self._account = self.graph.request("GET", f"act_{self.settings.account}",
                                           {"fields": "currency,timezone_name,name"})

    def _timezone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.account().get("timezone_name") or str(self.context.timezone))
        except (ZoneInfoNotFoundError, ValueError):
            return self.context.timezone

    def _final(self, rng: DateRange) -> bool:
        # A day's conversions grow until its attribution window has passed; a day more for
        # the account's time zone.
        return rng.end <= self.context.today - dt.timedelta(days=self.settings.late_days + 1)

    def _rows(self, part: Query, metrics: tuple[str, ...], campaign: bool) -> list[dict[str, Any]]:
        s = self.settings
        params = {
            "level": "campaign" if campaign else "account",
            "fields": ",".join(graph_fields(metrics, campaign)),
            "time_range": f'{{"since":"{part.range.start}","until":"{part.range.end}"}}',
            "time_increment": "1" if part.granularity is Granularity.DAY else "all_days",
            "action_attribution_windows": ",".join(f'"{w}"' for w in s.windows).join("[]"),
            "limit": str(s.page_size),
        }
        request = {"path": f"act_{s.account}/insights", "api": s.api_version, **params}
        rows: list[dict[str, Any]] = self.context.cache.cached(
            request, lambda: self.graph.insights(params), final=self._final(part.range))
        return rows

    def fetch(self, query: Query) -> Table:
        offered = self.metrics()
        unknown = [m for m in query.metrics if m not in offered]
        if unknown:
            raise SourceError(f"offers no {', '.join(unknown)} with these settings (events: "
                              f"{', '.join(self.settings.events)})")
        campaign = "campaign" in query.dimensions or any(
            f.dimension == "campaign" for f in query.filters)
        wanted = tuple(dict.fromkeys((*query.metrics, *(o.metric for o in query.order))))
        notes: list[DataNote] = []
        out: list[dict[str, Any]] = []
        for part in split_by_month(query):
            graph_rows = self._rows(part, wanted, campaign)
            out += self._table_rows(query, part, graph_rows, notes)
        if query.order:
            out = order_rows(out, query.order, query.limit)
        notes += self._notes(query)
        account = self.account()
        return Table(query=query, rows=out, notes=notes, currency=account.get("currency"),
                     timezone=account.get("timezone_name"))

    def _table_rows(self, query: Query, part: Query, graph_rows: list[dict[str, Any]],
                    notes: list[DataNote]) -> list[dict[str, Any]]:
        """The rows of one part: keyed by time bucket and campaign id, never by name alone
        (two campaigns of one name stay two rows)."""
        names: dict[str, set[str]] = {}
        for row in graph_rows:
            names.setdefault(row.get("campaign_name") or "", set()).add(row.get("campaign_id")
                                                                         or "")
        parsed = []
        for row in graph_rows:
            values: dict[str, Any] = figures(row, self.settings)
            if query.granularity is Granularity.DAY:
                values["date"] = dt.date.fromisoformat(row["date_start"])
            elif query.granularity is Granularity.MONTH:
                values["month"] = part.range.start.replace(day=1)
            if "campaign_id" in row:
                name = row.get("campaign_name") or row["campaign_id"]
                if len(names.get(name, ())) > 1:
                    name = f"{name} ({row['campaign_id']})"
                values["campaign"] = name
            parsed.append(values)
        parsed = [dict(r) for r in filter_rows(parsed, query.filters)]
        tkey = {Granularity.DAY: "date", Granularity.MONTH: "month"}.get(query.granularity)
        keys = ([tkey] if tkey else []) + list(query.dimensions)
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for values in parsed:
            groups.setdefault(tuple(values.get(k) for k in keys), []).append(values)
        rows = []
        for key, members in groups.items():
            sums: dict[str, float | None] = {m: sum(float(v.get(m) or 0) for v in members)
                                             for m in ADDITIVE}
            # Reach is people: campaigns' audiences overlap, so several rows' reach cannot be
            # added; one row's is Meta's own deduplicated count.
            sums["reach"] = members[0].get("reach") if len(members) == 1 else None
            if len(members) > 1 and "reach" in query.metrics:
                notes.append(DataNote(
                    kind=NoteKind.UNAVAILABLE, metrics=("reach",),
                    message="reach of several campaigns together cannot be added up (the same "
                            "people saw several of them): ask it per campaign or without a "
                            "campaign filter"))
            row = dict(zip(keys, key, strict=True))
            row.update(finish(sums, query.metrics))
            rows.append(row)
        return rows

    def _notes(self, query: Query) -> list[DataNote]:
        conversions = tuple(m for m in query.metrics if m in CONVERSION_METRICS)
        notes = []
        if conversions:
            words = self.settings.attribution_words()
            notes.append(DataNote(
                kind=NoteKind.OTHER, metrics=conversions,
                message=f"Ad conversions are counted with Meta's attribution setting: {words}.",
                translations=(("fr", "Conversions publicitaires comptées selon le réglage "
                                     "d'attribution de Meta : "
                               + words.replace("-day click", " jours après un clic")
                                      .replace("1-day view", "1 jour après une vue") + "."),),
                params=(("attribution", ",".join(self.settings.windows)),)))
            first_open = self.context.today - dt.timedelta(days=self.settings.late_days)
            late = tuple(d for d in query.range.iter_days()
                         if first_open <= d <= self.context.today)
            if late:
                notes.append(DataNote(
                    kind=NoteKind.INCOMPLETE, metrics=conversions, dates=late,
                    message=f"conversions of the last {self.settings.late_days} days may still "
                            "be attributed (late attribution)"))
        if self.settings.pixel_id and (conversions or "spend" in query.metrics):
            silent = [d for d in self.silent_days(query.range) if d in query.range]
            if silent:
                metrics = conversions + (("spend",) if "spend" in query.metrics else ())
                notes.append(DataNote(
                    kind=NoteKind.TRACKING_GAP, metrics=metrics, dates=tuple(silent),
                    message=f"the pixel {self.settings.pixel_id} received no event on "
                            f"{', '.join(d.isoformat() for d in silent)} while the ads were "
                            "spending"))
        return notes

    def silent_days(self, rng: DateRange) -> list[dt.date]:
        """Days the pixel received nothing while the ads spent, within the stats' last 7 days
        (asked once per report, and only when ``rng`` reaches them)."""
        if self._silent is not None:
            return self._silent
        pixel = self.settings.pixel_id
        timezone = self._timezone()
        now = utcnow()
        days = checkable_days(now, timezone)
        # A report computed for another day than today (a back-fill) cannot be judged: the
        # stats endpoint only keeps the 7 days before now.
        if pixel is None or now.astimezone(timezone).date() != self.context.today:
            self._silent = []
            return self._silent
        if not any(d in rng for d in days):
            return []
        events = events_per_day(self.graph, pixel, days, timezone)
        rng = DateRange(start=days[0], end=days[-1])
        spend_query = Query(metrics=("spend",), range=rng, granularity=Granularity.DAY)
        spend = {r["date"]: r["spend"] or 0.0 for r in self._table_rows(
            spend_query, replace(spend_query), self._rows(spend_query, ("spend",), False), [])}
        self._silent = silent_days(events, spend)
        return self._silent

    def close(self) -> None:
        if self._graph is not None:
            self._graph.close()
