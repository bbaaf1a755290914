"""GA4's metrics and dimensions under kpireport's standard names.

Each standard metric says which GA4 metrics it is read from and how one row's value is made
of them: most are GA4's own figure for the row (GA4 computes distinct users and averages for
the bucket asked), a few are sums or ratios of sums of GA4 metrics of that same row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from kpireport import STANDARD_METRICS, Aggregation, MetricSpec, Unit

Values = Mapping[str, float | None]

DIMENSIONS: dict[str, str] = {
    "channel": "sessionDefaultChannelGroup",
    "source": "sessionSourceMedium",
    "page": "pagePath",
    "landing_page": "landingPage",
    "page_title": "pageTitle",
    "device": "deviceCategory",
    "country": "country",
}
"""kpireport's dimension → GA4's."""

ALL_KEY_EVENTS = ("key_event",)
"""A stand-in key event: with it, :func:`metrics` names every metric the source can offer."""


def metric_dimensions() -> dict[str, tuple[str, ...]]:
    """Per metric the source can offer (``leads`` only when the settings name key events),
    the dimensions GA4's Data API splits and filters it by: all of :data:`DIMENSIONS`.

    The API's incompatibilities do not concern these dimensions: its item-scoped dimensions
    (``itemName``…) refuse event-scoped metrics, and its event-scoped attribution dimensions
    (``source``, ``defaultChannelGroup``…) some event counts, but the channel, source and
    landing page read here are the session-scoped ones (``sessionDefaultChannelGroup``,
    ``sessionSourceMedium``, ``landingPage``), which every user, session and event metric
    splits by, as do the event-scoped ``pagePath`` and ``pageTitle`` and ``deviceCategory``
    and ``country`` (Google's schema-compatibility announcement of 2022-12-01)."""
    return {name: tuple(DIMENSIONS) for name in metrics(leads=ALL_KEY_EVENTS)}


@dataclass(frozen=True)
class Ga4Metric:
    """A metric the source offers: its spec, the GA4 metrics it needs, and its value in a row."""

    spec: MetricSpec
    api: tuple[str, ...]
    value: Callable[[Values], float | None]

    @property
    def direct(self) -> bool:
        """Whether the value is one GA4 metric as Google gives it (GA4 can order by it)."""
        return len(self.api) == 1 and self.value is _IDENTITY.get(self.api[0])


_IDENTITY: dict[str, Callable[[Values], float | None]] = {}


def _one(name: str) -> Callable[[Values], float | None]:
    if name not in _IDENTITY:
        _IDENTITY[name] = lambda values: values.get(name)
    return _IDENTITY[name]


def _sum(names: tuple[str, ...]) -> Callable[[Values], float | None]:
    def value(values: Values) -> float | None:
        parts = [values.get(n) for n in names]
        if all(p is None for p in parts):
            return None
        return float(sum(p for p in parts if p is not None))
    return value


def _ratio(numerator: Callable[[Values], float | None],
           denominator: str) -> Callable[[Values], float | None]:
    def value(values: Values) -> float | None:
        top, bottom = numerator(values), values.get(denominator)
        if top is None or not bottom:
            return None
        return top / bottom
    return value


def _standard(name: str) -> MetricSpec:
    return STANDARD_METRICS[name]


ON_THE_PAGE = {
    "en": "counted on the page where they happened (an order is credited to the page where "
          "it was placed, not to the page the visitor arrived on)",
    "fr": "comptés sur la page où ils ont eu lieu (une commande est attribuée à la page où "
          "elle a été passée, pas à la page d'arrivée du visiteur)",
}
"""How GA4 credits key events and purchase revenue split by page (``MetricSpec.attribution``)."""


def metrics(*, conversions: tuple[str, ...] = (), leads: tuple[str, ...] = (),
            ) -> dict[str, Ga4Metric]:
    """The metrics of a source whose settings name these key events."""
    out: dict[str, Ga4Metric] = {}

    def plain(name: str, api: str, spec: MetricSpec | None = None) -> None:
        out[name] = Ga4Metric(spec or _standard(name), (api,), _one(api))

    plain("sessions", "sessions")
    plain("users", "totalUsers")  # distinct: GA4 counts it for the bucket asked
    plain("new_users", "newUsers")
    plain("pageviews", "screenPageViews")
    plain("engaged_sessions", "engagedSessions")
    plain("avg_session_duration", "averageSessionDuration")
    plain("engagement_duration", "userEngagementDuration", MetricSpec(
        name="engagement_duration", aggregation=Aggregation.SUM, unit=Unit.DURATION,
        description="Time the site was in the foreground (GA4 userEngagementDuration), "
                    "seconds"))
    out["engagement_rate"] = Ga4Metric(
        MetricSpec(name="engagement_rate", aggregation=Aggregation.RATIO,
                   numerator="engaged_sessions", denominator="sessions", unit=Unit.PERCENT,
                   description="Engaged sessions per session (GA4 engagementRate)"),
        ("engagedSessions", "sessions"), _ratio(_one("engagedSessions"), "sessions"))
    out["time_on_page"] = Ga4Metric(
        _standard("time_on_page"), ("userEngagementDuration", "screenPageViews"),
        _ratio(_one("userEngagementDuration"), "screenPageViews"))
    plain("transactions", "transactions")
    plain("revenue", "purchaseRevenue")

    if conversions:
        api = tuple(f"keyEvents:{e}" for e in conversions)
        out["conversions"] = Ga4Metric(_standard("conversions"), api,
                                       _one(api[0]) if len(api) == 1 else _sum(api))
    else:
        plain("conversions", "keyEvents")
    if leads:
        api = tuple(f"keyEvents:{e}" for e in leads)
        out["leads"] = Ga4Metric(_standard("leads"), api,
                                 _one(api[0]) if len(api) == 1 else _sum(api))
    # A key event by pagePath is the page where it happened: the checkout page gets the
    # orders, not the landing page. The report says so under the top pages (contract 1.2).
    for name in ("conversions", "revenue"):
        metric = out[name]
        out[name] = Ga4Metric(replace(metric.spec, attribution={"page": ON_THE_PAGE}),
                              metric.api, metric.value)
    conv = out["conversions"]
    out["conversion_rate"] = Ga4Metric(_standard("conversion_rate"), (*conv.api, "sessions"),
                                       _ratio(conv.value, "sessions"))
    return out
