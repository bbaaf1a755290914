"""The ``hubspot`` source: queries answered from CRM searches, month by month."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from typing import Any

from kpireport import (
    Aggregation,
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
    aggregate_rows,
    order_rows,
)
from kpireport_hubspot.api import HubSpotApi, epoch_ms
from kpireport_hubspot.events import (
    LIFECYCLE_LABELS,
    Event,
    events_for,
    metric_specs,
    number,
    parse_moment,
)
from kpireport_hubspot.settings import HubSpotSettings

DIMENSIONS = ("stage", "pipeline")
COUNTED = {"leads", "qualified", "customers"}
"""The events whose records only count (no amount, no won-or-lost to tell apart)."""

HOME_AMOUNT = "amount_in_home_currency"


def months(rng: DateRange) -> list[DateRange]:
    """``rng`` cut at each month's end: each month is searched, and cached, on its own."""
    out = []
    start = rng.start
    while start <= rng.end:
        following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        out.append(DateRange(start=start, end=min(following - dt.timedelta(days=1), rng.end)))
        start = following
    return out


def _deals(count: int, kind: str) -> str:
    """``1 won deal has`` / ``3 deals created have``."""
    noun = ("won deal" if kind == "won_deals" else "deal created") if count == 1 else (
        "won deals" if kind == "won_deals" else "deals created")
    return f"{count} {noun} {'has' if count == 1 else 'have'}"


class HubSpotSource(Source[HubSpotSettings]):
    """Commercial KPIs from a HubSpot portal, read with a private app's token."""

    name = "hubspot"
    label = "HubSpot"
    Settings = HubSpotSettings
    missing_days = MissingDays.ZERO  # a day without a record is a day with none

    def __init__(self, settings: HubSpotSettings, context: SourceContext) -> None:
        super().__init__(settings, context)
        self._api: HubSpotApi | None = None
        self._account: dict[str, Any] | None = None
        self._labels: tuple[dict[str, str], dict[str, str]] | None = None

    # --- What it offers (no network) ----------------------------------------------------------

    @classmethod
    def metrics(cls) -> dict[str, MetricSpec]:
        return metric_specs()

    @classmethod
    def capabilities(cls) -> Capabilities:
        # Contacts and companies have a lifecycle stage but no pipeline: only deal metrics
        # split or filter by it, which validate says before a run.
        people = ("leads", "qualified_leads", "new_customers", "lead_conversion_rate")
        return Capabilities(dimensions=DIMENSIONS,
                            metric_dimensions={m: ("stage",) for m in people})

    def check(self) -> list[str]:
        if self.settings.token is None and not os.environ.get(self.settings.token_env):
            return [f"token: not given, and the environment variable "
                    f"{self.settings.token_env} (token_env) is not set: give the private "
                    f"app's access token"]
        return []

    # --- The API ------------------------------------------------------------------------------

    def _token(self) -> str:
        if self.settings.token is not None:
            token = self.settings.token.get_secret_value()
        else:
            token = os.environ.get(self.settings.token_env, "")
        if not token:
            raise AuthenticationError(f"no private-app token: set {self.settings.token_env} "
                                      f"or the source's token setting")
        return token

    @property
    def api(self) -> HubSpotApi:
        if self._api is None:
            token = self._token()
            self.context.register_secret(token)
            self._api = HubSpotApi(self.context, base_url=self.settings.base_url, token=token,
                                   searches_per_second=self.settings.searches_per_second)
        return self._api

    def _portal_key(self) -> str:
        """Who the cached records belong to, without the token: a digest of it."""
        return hashlib.sha256(self._token().encode("utf-8")).hexdigest()[:16]

    def _currency(self) -> str | None:
        if self._account is None:
            self._account = self.api.account_details()
        currency = self._account.get("companyCurrency")
        return str(currency) if currency else None

    def _deal_labels(self) -> tuple[dict[str, str], dict[str, str]]:
        """(pipeline labels, stage labels) by id: what the report shows for a deal."""
        if self._labels is None:
            pipelines: dict[str, str] = {}
            stages: dict[str, str] = {}
            for pipeline in self.api.deal_pipelines():
                pipelines[str(pipeline.get("id"))] = str(pipeline.get("label") or
                                                         pipeline.get("id"))
                for stage in pipeline.get("stages") or []:
                    stages[str(stage.get("id"))] = str(stage.get("label") or stage.get("id"))
            self._labels = (pipelines, stages)
        return self._labels

    def _records(self, event: Event, month: DateRange) -> dict[str, Any]:
        """The properties of the records of ``event`` in ``month``, and the portal's currency:
        from the cache, or one search (several when over 10,000 results)."""
        start, end = self._bounds(event, month)
        properties = sorted({*event.properties, event.date_property})
        request = {"v": 1, "portal": self._portal_key(), "object": event.obj,
                   "date": event.date_property, "filters": event.api_filters(),
                   "properties": properties, "range": [month.start.isoformat(),
                                                       month.end.isoformat()],
                   "timezone": self.context.timezone.key, "exact": event.exact_dates}

        def ask() -> dict[str, Any]:
            records = self.api.search(event.obj, event.date_property, epoch_ms(start),
                                      epoch_ms(end) - 1, event.api_filters(), properties)
            return {"records": records, "currency": self._currency()}

        answer: dict[str, Any] = self.context.cache.cached(request, ask,
                                                          final=self._final(month))
        return answer

    # --- Queries ------------------------------------------------------------------------------

    def fetch(self, query: Query) -> Table:
        specs = metric_specs()
        unknown = [m for m in query.metrics if m not in specs]
        if unknown:
            raise SourceError(f"offers no metric {', '.join(unknown)} (it offers "
                              f"{', '.join(specs)})")
        events = events_for(self.settings, query.metrics)
        split = {*query.dimensions, *(f.dimension for f in query.filters)}
        if "pipeline" in split:
            of_people = {m for e in events if e.obj != "deals" for m in e.metrics}
            if people := [m for m in query.metrics if of_people & set(specs[m].components())]:
                raise SourceError(f"{', '.join(people)} count contacts or companies, which "
                                  f"have no pipeline: only deal metrics split or filter by "
                                  f"pipeline")
        labels = bool(split) and any(e.obj == "deals" for e in events)
        rows: list[dict[str, Any]] = []
        currency: str | None = None
        counting = {event.name: self._countable(query, event) for event in events}
        for month in months(query.range):
            for event in events:
                if counting[event.name]:  # a count is all it needs: the search's total, one call
                    rows.append({"date": month.start,
                                 event.metrics[0]: float(self._count(event, month))})
                    continue
                answer = self._records(event, month)
                currency = currency or answer.get("currency")
                rows.extend(self._rows(event, answer["records"], month, labels,
                                       answer.get("currency")))
        out = aggregate_rows(rows, specs, query)
        if query.dimensions:  # a stage or pipeline none of the asked metrics has is no row
            out = [r for r in out if any(r.get(m) is not None for m in query.metrics)]
        elif not out and query.granularity is Granularity.TOTAL:
            out = [dict.fromkeys(query.metrics)]
        sums = [m for m in query.metrics if specs[m].aggregation is Aggregation.SUM]
        for row in out:
            for metric in sums:  # a bucket with other records but none of these: none is 0
                if row.get(metric) is None:
                    row[metric] = 0.0
        if query.order:
            out = order_rows(out, query.order, query.limit)
        return Table(query=query, rows=out, currency=currency,
                     notes=self._notes(query, rows))

    @staticmethod
    def _countable(query: Query, event: Event) -> bool:
        """Whether all the query needs of ``event`` is how many records it has per month or
        more: then each month's count is the search's ``total``, one call whatever the month
        holds (the other events of the query still read their records)."""
        return (query.granularity is not Granularity.DAY and not query.dimensions
                and not query.filters and event.exact_dates and event.name in COUNTED)

    def _count(self, event: Event, month: DateRange) -> int:
        start, end = self._bounds(event, month)
        request = {"v": 1, "portal": self._portal_key(), "object": event.obj, "count": True,
                   "date": event.date_property, "filters": event.api_filters(),
                   "range": [month.start.isoformat(), month.end.isoformat()],
                   "timezone": self.context.timezone.key}
        between = {"propertyName": event.date_property, "operator": "BETWEEN",
                   "value": str(epoch_ms(start)), "highValue": str(epoch_ms(end) - 1)}
        count: int = self.context.cache.cached(
            request, lambda: self.api.count(event.obj, [between, *event.api_filters()]),
            final=self._final(month))
        return count

    def _bounds(self, event: Event, month: DateRange) -> tuple[dt.datetime, dt.datetime]:
        """The month's first moment and the next month's, in the client's time zone."""
        tz = self.context.timezone
        start = dt.datetime.combine(month.start, dt.time(0), tzinfo=tz)
        end = dt.datetime.combine(month.end + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
        if not event.exact_dates:  # a date-only property's day may sit either side of ours
            start, end = start - dt.timedelta(days=1), end + dt.timedelta(days=1)
        return start, end

    def _final(self, month: DateRange) -> bool:
        days = self.settings.final_after_days
        return days is not None and month.end <= self.context.today - dt.timedelta(days=days)

    def _rows(self, event: Event, records: list[dict[str, Any]], month: DateRange,
              labels: bool, currency: str | None) -> list[dict[str, Any]]:
        tz = self.context.timezone
        out: list[dict[str, Any]] = []
        pipelines, stages = self._deal_labels() if labels else ({}, {})
        won_stages = set(self.settings.won_stages or ())
        lost_stages = set(self.settings.lost_stages or ())
        for props in records:
            day = parse_moment(props.get(event.date_property), tz)
            if day is None or day not in month:
                continue
            if event.obj != "deals":
                stage = str(props.get("lifecyclestage") or "")
                out.append({"date": day, "stage": LIFECYCLE_LABELS.get(stage, stage or None),
                            "pipeline": None, event.metrics[0]: 1.0})
                continue
            stage_id = str(props.get("dealstage") or "")
            pipeline_id = str(props.get("pipeline") or "")
            row: dict[str, Any] = {"date": day,
                                   "stage": stages.get(stage_id, stage_id) or None,
                                   "pipeline": pipelines.get(pipeline_id, pipeline_id) or None}
            amount = number(props.get(self.settings.amount_property))
            own = props.get("deal_currency_code")
            if self.settings.amount_property != HOME_AMOUNT and own and currency and \
                    own != currency:
                amount = None  # in another currency: never summed with the portal's
                row["_foreign"] = own
            if event.name == "created":
                row.update(opportunities=1.0, pipeline_value=amount,
                           _no_amount=amount is None and "_foreign" not in row)
                out.append(row)
                continue
            won = stage_id in won_stages if won_stages else props.get("hs_is_closed_won") == "true"
            lost = not won and (stage_id in lost_stages if lost_stages
                                else props.get("hs_is_closed") == "true")
            if won:
                created = parse_moment(props.get("createdate"), tz)
                row.update(won_deals=1.0, won_revenue=amount,
                           sales_cycle_days=None if created is None else
                           float((day - created).days),
                           _no_amount=amount is None and "_foreign" not in row)
                out.append(row)
            elif lost:
                row.pop("_foreign", None)
                row.update(lost_deals=1.0)
                out.append(row)
        return out

    def _notes(self, query: Query, rows: list[dict[str, Any]]) -> list[DataNote]:
        """Deals whose amount could not be counted, said beside the amounts they affect."""
        kept = [r for r in rows if query.range.start <= r["date"] <= query.range.end and
                all(f.matches(r.get(f.dimension)) for f in query.filters)]
        notes = []
        for metric, kind in (("won_revenue", "won_deals"), ("pipeline_value", "opportunities")):
            if metric not in query.metrics:
                continue
            missing = sum(1 for r in kept if r.get(kind) and r.get("_no_amount"))
            if missing:
                notes.append(DataNote(kind=NoteKind.OTHER, metrics=(metric,),
                                      message=f"{_deals(missing, kind)} no amount in HubSpot: "
                                              f"{'it adds' if missing == 1 else 'they add'} "
                                              f"nothing to this figure."))
            foreign = sorted({r["_foreign"] for r in kept if r.get(kind) and r.get("_foreign")})
            count = sum(1 for r in kept if r.get(kind) and r.get("_foreign"))
            if count:
                notes.append(DataNote(kind=NoteKind.OTHER, metrics=(metric,),
                                      message=f"{_deals(count, kind)} an amount in "
                                              f"{', '.join(foreign)}, left out of this figure: "
                                              f"the "
                                              f"{self.settings.amount_property} of a deal is "
                                              f"summed only in the portal's currency."))
        return notes

    # --- kpireport check ----------------------------------------------------------------------

    def probe(self) -> None:
        """The token works, the portal has the properties, pipelines and stages the settings
        name, and the app may search each object read: one call per object and kind."""
        settings = self.settings
        self._account = self.api.account_details()
        wanted: dict[str, dict[str, str]] = {
            "contacts": {"createdate": "", "lifecyclestage": "",
                         settings.qualified_property: "qualified_lead_property"
                         if settings.qualified_lead_property else "qualified_lead_stage"},
            "deals": {name: "" for name in ("createdate", "closedate", "pipeline", "dealstage",
                                            "hs_is_closed_won", "hs_is_closed")},
        }
        wanted["deals"][settings.amount_property] = "amount_property"
        wanted.setdefault(settings.customer_object, {})[settings.customer_date_property] = \
            "customer_property" if settings.customer_property else "customer_object"
        problems: list[str] = []
        for obj, names in wanted.items():
            known = self.api.properties(obj)
            for name, setting in names.items():
                where = f" ({setting})" if setting else ""
                if name not in known:
                    problems.append(f"the portal's {obj} have no property {name!r}{where}")
                    continue
                kind = known[name].get("type")
                if setting == "amount_property" and kind != "number":
                    problems.append(f"{obj} property {name!r}{where} is of type {kind}, "
                                    f"not a number")
                elif setting and setting != "amount_property" and \
                        kind not in ("date", "datetime"):
                    problems.append(f"{obj} property {name!r}{where} is of type {kind}, "
                                    f"not a date or datetime")
            yesterday = self.context.today - dt.timedelta(days=1)
            start = dt.datetime.combine(yesterday, dt.time(0), tzinfo=self.context.timezone)
            self.api.count(obj, [{"propertyName": "createdate", "operator": "BETWEEN",
                                  "value": str(epoch_ms(start)),
                                  "highValue": str(epoch_ms(start + dt.timedelta(days=1)) - 1)}])
        pipelines, stages = self._deal_labels()
        for setting, ids, known_ids in (("pipelines", settings.pipelines, pipelines),
                                        ("won_stages", settings.won_stages, stages),
                                        ("lost_stages", settings.lost_stages, stages)):
            missing = [i for i in ids or () if i not in known_ids]
            if missing:
                problems.append(f"{setting}: the portal has no deal "
                                f"{'pipeline' if setting == 'pipelines' else 'stage'} "
                                f"{', '.join(missing)} (it has: {', '.join(known_ids)})")
        if problems:
            raise SourceError("; ".join(problems))

    def close(self) -> None:
        if self._api is not None:
            self._api.close()


