"""What each metric counts in HubSpot: the records searched, the date that places them on a
day, and the figures each record adds.

A metric is read from one or two **events**: contacts created (``leads``), contacts qualified,
customers won, deals created, deals closed. An event is one search per month (the records
whose date property falls in it, in the client's time zone); each record found becomes a row
dated by that property's day, carrying the dimensions and the figures it adds, and
``aggregate_rows`` sums the rows into whatever buckets the query asks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from kpireport import STANDARD_METRICS, MetricSpec
from kpireport_hubspot.settings import HubSpotSettings, is_lifecycle_date

METRIC_NAMES = ("leads", "qualified_leads", "new_customers", "lead_conversion_rate",
                "opportunities", "pipeline_value", "won_deals", "lost_deals", "won_revenue",
                "sales_cycle_days")
"""The metrics the source offers, under the standard names."""


def metric_specs() -> dict[str, MetricSpec]:
    return {name: STANDARD_METRICS[name] for name in METRIC_NAMES}


LIFECYCLE_LABELS = {"subscriber": "Subscriber", "lead": "Lead",
                    "marketingqualifiedlead": "Marketing Qualified Lead",
                    "salesqualifiedlead": "Sales Qualified Lead", "opportunity": "Opportunity",
                    "customer": "Customer", "evangelist": "Evangelist", "other": "Other"}


@dataclass(frozen=True)
class Event:
    """One search, per month: ``obj`` records whose ``date_property`` is in the month."""

    name: str
    obj: str
    date_property: str
    filters: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    """(property, operator, values): EQ takes one value, IN several."""
    properties: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    exact_dates: bool = True
    """False for a property of the agency's own, whose type (date or datetime) is unknown:
    the search then takes a day more on each side and the rows are cut to the month here."""

    def api_filters(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for prop, op, values in self.filters:
            if op == "IN":
                out.append({"propertyName": prop, "operator": "IN", "values": list(values)})
            else:
                out.append({"propertyName": prop, "operator": op, "value": values[0]})
        return out


def events(settings: HubSpotSettings) -> dict[str, Event]:
    """Each metric's events, for these settings."""
    pipeline = (("pipeline", "IN", tuple(settings.pipelines)),) if settings.pipelines else ()
    if settings.won_stages and settings.lost_stages:
        closed: tuple[tuple[str, str, tuple[str, ...]], ...] = (
            ("dealstage", "IN", (*settings.won_stages, *settings.lost_stages)),)
    elif settings.won_stages or settings.lost_stages:
        closed = ()  # one kind by stage, the other by HubSpot's flags: read every deal closing
    else:
        closed = (("hs_is_closed", "EQ", ("true",)),)
    deal_props = ("createdate", "closedate", "pipeline", "dealstage", "hs_is_closed_won",
                  "hs_is_closed", "deal_currency_code", settings.amount_property)
    leads = Event("leads", "contacts", "createdate", properties=("createdate", "lifecyclestage"),
                  metrics=("leads",))
    qualified = Event("qualified", "contacts", settings.qualified_property,
                      properties=(settings.qualified_property, "lifecyclestage"),
                      metrics=("qualified_leads",),
                      exact_dates=is_lifecycle_date(settings.qualified_property))
    customers = Event("customers", settings.customer_object, settings.customer_date_property,
                      properties=(settings.customer_date_property, "lifecyclestage"),
                      metrics=("new_customers",),
                      exact_dates=is_lifecycle_date(settings.customer_date_property))
    created = Event("created", "deals", "createdate", pipeline, deal_props,
                    ("opportunities", "pipeline_value"))
    closing = Event("closed", "deals", "closedate", (*pipeline, *closed), deal_props,
                    ("won_deals", "lost_deals", "won_revenue", "sales_cycle_days"))
    by_metric: dict[str, Event] = {}
    for event in (leads, qualified, customers, created, closing):
        for metric in event.metrics:
            by_metric[metric] = event
    return by_metric


def events_for(settings: HubSpotSettings, metrics: tuple[str, ...]) -> list[Event]:
    """The events the metrics need (a ratio's components' events), each once."""
    specs = metric_specs()
    by_metric = events(settings)
    out: list[Event] = []
    for metric in metrics:
        for component in specs[metric].components():
            event = by_metric[component]
            if event not in out:
                out.append(event)
    return out


def parse_moment(text: str | None, tz: ZoneInfo) -> dt.date | None:
    """The client's day of a HubSpot date (``2024-05-01``) or datetime (ISO, or epoch ms)."""
    if not text:
        return None
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text) / 1000, dt.UTC).astimezone(tz).date()
    if len(text) == 10:
        return dt.date.fromisoformat(text)  # a date property: a day, in no time zone
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(tz).date()


def number(text: Any) -> float | None:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return None
