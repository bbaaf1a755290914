"""Rules on the tables and the channels: traffic sources, pages, queries, campaigns, costs.

The table rules read a breakdown KPI's rows by their column names (``sessions`` and
``conversions`` for channels, ``clicks``/``impressions``/``position`` for queries, ``spend``
and ``ad_conversions`` for campaigns), whatever the KPI is called, and stay quiet when a
column is missing. Gains are given per month (a quarter's are divided by three): what an
agency and its client plan in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from kpireport.data import Unit
from kpireport.formatting import format_percent, format_value
from kpireport.kpis import KpiValue
from kpireport.recommendations import Finding, Severity
from kpireport.report import Report
from kpireport_rules import N_, Shown, _decimals, _each, _fmt, _words, in_language, localized
from kpireport_rules.outcomes import Evaluate, worse_than_before

if TYPE_CHECKING:
    from gettext import NullTranslations

CHANNEL_SHARE = 0.05
"""A channel must bring this share of the listed visits to be judged (5 %)…"""
CHANNEL_RATIO = 0.6
"""…and converts poorly under this fraction of the average rate of the channels listed."""
PAGE_SHARE = 0.05
"""A page with this share of the listed traffic and no conversion is worth a look."""
CTR_AT_POSITION = {1: 0.28, 2: 0.15, 3: 0.10, 4: 0.07, 5: 0.05, 6: 0.04, 7: 0.03, 8: 0.025,
                   9: 0.02, 10: 0.018}
"""The usual click-through rate of an organic result by its rounded position (public CTR
studies of Google's first page, rounded down: a conservative expectation)."""
CTR_MIN_IMPRESSIONS = 200
CTR_RATIO = 0.5
"""A query under half its position's usual CTR, with enough impressions, is under-clicked."""
SPEND_SHARE = 0.30
"""A campaign spending this share of the listed spend…"""
COST_RATIO = 1.5
"""…at this multiple of the other campaigns' cost per result concentrates spend poorly."""
NON_BRANDED_SHARE = 0.30
POSITION_SLIP = 2.0
"""Places lost on the previous period's average position worth a check."""
COST_RISE = 0.25
FREQUENCY = 4.0
"""Impressions per person reached beyond which an audience tires of the same ads."""
TOP = 3


CHANNEL_NAMES = (
    N_("Organic Search"), N_("Paid Search"), N_("Direct"), N_("Referral"), N_("Email"),
    N_("Organic Social"), N_("Paid Social"), N_("Display"), N_("Affiliates"),
    N_("Organic Video"), N_("Paid Video"), N_("Organic Shopping"), N_("Paid Shopping"),
    N_("Cross-network"), N_("Paid Other"), N_("Audio"), N_("SMS"),
    N_("Mobile Push Notifications"), N_("Unassigned"))
"""Google Analytics 4's default channel groups: a finding names them in each language, as
the report's tables do (a table KPI's ``translated_values`` say which values are these)."""


def _named(kpi: KpiValue, dimension: str, value: str) -> dict[str, str]:
    """A table's value in each language: translated when its KPI says the report prints it
    in its language (a channel group), else as the source gave it."""
    b = kpi.definition.breakdown
    if b is not None and value in b.translated_values.get(dimension, ()):
        return _each(lambda words, _: words.gettext(value))
    return _each(lambda _words, _lang: value)


def _with_name(message: str, name: dict[str, str], **values: object) -> dict[str, str]:
    """``message`` in each language with ``%(channel)s`` the name in that language."""
    return _each(lambda words, lang: words.gettext(message) % {
        **in_language(values, lang), "channel": name.get(lang, name["en"])})


def _quoted(text: str, locale: str) -> str:
    """A data string as it is, inside the quotes of ``locale``'s language."""
    if locale.split("_")[0].lower() == "fr":
        return f"«\u202f{text}\u202f»"
    return f"“{text}”"


def months(report: Report) -> float:
    """How many months the report's period covers (1 for a month)."""
    if report.period.kind == "month":
        return 1.0
    days = (report.period.end - report.period.start).days + 1
    return max(1.0, days / 30.44)


def _number(row: Mapping[str, Any], column: str) -> float | None:
    value = row.get(column)
    return float(value) if isinstance(value, int | float) else None


def _tables(report: Report, *columns: str) -> Iterator[tuple[KpiValue, str]]:
    """The report's table KPIs whose rows have each of ``columns``, with their first
    dimension."""
    for kpi in report.kpis.values():
        b = kpi.definition.breakdown
        if b is None or not kpi.rows or not b.dimensions:
            continue
        if all(any(_number(r, c) is not None for r in kpi.rows) for c in columns):
            yield kpi, b.dimensions[0]


def _count(report: Report, value: float) -> Shown:
    return _fmt(report, round(value), "count")


def channel_efficiency(report: Report) -> Iterator[Finding]:
    """A channel bringing 5 % or more of the visits that converts at under 60 % of the
    listed channels' rate: the conversions bringing it to that rate would add a month."""
    for kpi, dimension in _tables(report, "sessions", "conversions"):
        rows = [(str(r.get(dimension)), _number(r, "sessions") or 0.0,
                 _number(r, "conversions") or 0.0) for r in kpi.rows]
        sessions, conversions = sum(r[1] for r in rows), sum(r[2] for r in rows)
        if not sessions or not conversions:
            continue
        average = conversions / sessions  # a ratio of sums, never a mean of rates
        poor = [(name, s, c, (s * average - c) / months(report)) for name, s, c in rows
                if s >= CHANNEL_SHARE * sessions and c / s < CHANNEL_RATIO * average]
        for name, s, c, gain in sorted(poor, key=lambda p: -p[3])[:2]:
            if gain < 1:
                continue
            named = _named(kpi, dimension, name)
            yield Finding(
                rule="channel-efficiency", severity=Severity.WARNING,
                priority=min(80, 40 + round(gain / (conversions / months(report)) * 100)),
                title=_with_name(N_("Conversion below the site average: "
                                    "%(channel)s"), named),
                text=_with_name(N_("%(channel)s: %(sessions)s visits "
                                   "converting at %(rate)s, against "
                                   "%(average)s across the channels. Review "
                                   "the landing pages and targeting of this "
                                   "channel, or move its budget to the "
                                   "channels that convert."), named,
                                sessions=_count(report, s),
                                rate=_fmt(report, c / s, "percent"),
                                average=_fmt(report, average, "percent")),
                impact=_words(N_("about %(gain)s more conversions a month at the average "
                                 "rate"), gain=_count(report, gain)),
                figures={"channel": name, "sessions": s, "conversions": c,
                         "rate": c / s, "average_rate": average, "impact": gain},
                verbatim=tuple(dict.fromkeys(named.values())), kpis=(kpi.key,))


PAGE_TRAFFIC = ("sessions", "pageviews", "views")
PAGE_OUTCOMES = ("conversions", "key_events", "orders", "transactions", "purchases", "revenue")
PAGE_NOUNS = {"conversions": N_("conversions"), "key_events": N_("key events"),
              "orders": N_("orders"), "transactions": N_("transactions"),
              "purchases": N_("purchases")}
"""What a page's count column counts, for its impact ("about 13 conversions a month")."""


def pages_without_conversions(report: Report) -> Iterator[Finding]:
    """Pages with 5 % or more of the listed traffic and no conversion (or revenue), in a
    pages table whose source gives them."""
    for kpi in report.kpis.values():
        b = kpi.definition.breakdown
        if b is None or not kpi.rows or not b.dimensions:
            continue
        traffic = next((c for c in PAGE_TRAFFIC if any(_number(r, c) for r in kpi.rows)), None)
        outcome = next((c for c in PAGE_OUTCOMES
                        if any(_number(r, c) is not None for r in kpi.rows)), None)
        if traffic is None or outcome is None or b.dimensions[0] not in ("page", "page_path",
                                                                         "landing_page"):
            continue
        total = sum(_number(r, traffic) or 0.0 for r in kpi.rows)
        converted = sum(_number(r, outcome) or 0.0 for r in kpi.rows)
        idle = [(str(r.get(b.dimensions[0])), _number(r, traffic) or 0.0) for r in kpi.rows
                if _number(r, outcome) == 0 and (_number(r, traffic) or 0) >= PAGE_SHARE * total]
        if not idle or not converted:
            continue
        idle = sorted(idle, key=lambda p: -p[1])[:TOP]
        # What they would bring at the listed pages' average per visit: an order of size.
        gain = sum(t for _, t in idle) * converted / total / months(report)
        unit = "currency" if outcome == "revenue" else "count"
        # A share of traffic is an order of size too: "about 8 %", not "7.93 %".
        fraction = sum(t for _, t in idle) / total
        share = localized(report, partial(_whole_percent, fraction))
        text = (N_("%(pages)s drew about %(traffic)s of the traffic listed but no conversion: "
                   "add a clear call to action (a form, a product link, a booking button) and "
                   "check that its conversions are tracked.") if len(idle) == 1 else
                N_("%(pages)s drew about %(traffic)s of the traffic listed but no conversion: "
                   "add a clear call to action (a form, a product link, a booking button) and "
                   "check that their conversions are tracked."))
        amount = _fmt(report, gain if unit == "currency" else round(gain), unit)
        impact = (_words(N_("about %(gain)s a month at the other pages' average"), gain=amount)
                  if unit == "currency" else
                  _each(partial(_counted, gain=amount, noun=PAGE_NOUNS[outcome])))
        yield Finding(
            rule="pages-without-conversions", severity=Severity.WARNING, priority=45,
            title=_words(N_("Busy pages that convert nothing")),
            text=_words(text, pages=", ".join(p for p, _ in idle), traffic=share),
            impact=impact,
            figures={"pages": [p for p, _ in idle], "traffic": [t for _, t in idle],
                     "impact": gain},
            verbatim=tuple(p for p, _ in idle), kpis=(kpi.key,))


def _counted(words: NullTranslations, language: str, *, gain: Shown, noun: str) -> str:
    return words.gettext(N_("about %(gain)s %(noun)s a month at the other pages' "
                            "average")) % {"gain": gain.in_language(language),
                                           "noun": words.gettext(noun)}


def ctr_by_position(report: Report) -> Iterator[Finding]:
    """Search queries on Google's first page clicked under half as often as their position
    usually earns: the clicks that position's usual rate would add a month."""
    for kpi, dimension in _tables(report, "clicks", "impressions", "position"):
        weak = []
        for r in kpi.rows:
            clicks, shown = _number(r, "clicks") or 0.0, _number(r, "impressions") or 0.0
            position = _number(r, "position")
            if position is None or shown < CTR_MIN_IMPRESSIONS or round(position) > 10:
                continue
            usual = CTR_AT_POSITION[max(1, round(position))]
            if clicks / shown < CTR_RATIO * usual:
                weak.append((str(r.get(dimension)), position, clicks / shown,
                             (shown * usual - clicks) / months(report)))
        if not weak:
            continue
        weak = sorted(weak, key=lambda w: -w[3])[:TOP]
        gain = sum(w[3] for w in weak)
        # Each query as the searchers typed it, in the quotes of the text's language.
        queries = localized(report, partial(_queries, weak))
        yield Finding(
            rule="ctr-by-position", severity=Severity.WARNING,
            priority=min(70, 35 + round(gain / 50)),
            title=_words(N_("Queries clicked less than their position earns")),
            text=_words(N_("These queries rank well but are rarely clicked (position, CTR): "
                           "%(queries)s. Rewrite the title and description of the pages "
                           "that rank for them to answer the search."), queries=queries),
            impact=_words(N_("about %(gain)s more clicks a month at their positions' usual "
                             "rate"), gain=_count(report, gain)),
            figures={"queries": [w[0] for w in weak], "impact": gain},
            verbatim=tuple(w[0] for w in weak), kpis=(kpi.key,))


def _queries(weak: list[tuple[str, float, float, float]], locale: str) -> str:
    """Each query, its position and CTR: ``“peau "glow"” (4.3, 1.85%)``."""
    return "; ".join(f"{_quoted(q, locale)} ({format_value(p, Unit.POSITION, locale)}, "
                     f"{format_value(c, Unit.PERCENT, locale)})" for q, p, c, _ in weak)


def spend_on_poor_campaign(report: Report) -> Iterator[Finding]:
    """A campaign taking 30 % or more of the listed spend at 1.5 times or more the other
    campaigns' cost per result: the results its budget would buy at their cost."""
    for kpi, dimension in _tables(report, "spend", "ad_conversions"):
        rows = [(str(r.get(dimension)), _number(r, "spend") or 0.0,
                 _number(r, "ad_conversions") or 0.0) for r in kpi.rows]
        total = sum(r[1] for r in rows)
        for name, spend, results in rows:
            others_spend = total - spend
            others_results = sum(r[2] for r in rows) - results
            if not total or spend < SPEND_SHARE * total or not others_results:
                continue
            others_cost = others_spend / others_results
            cost = spend / results if results else float("inf")
            if cost < COST_RATIO * others_cost:
                continue
            gain = (spend / others_cost - results) / months(report)
            yield Finding(
                rule="spend-on-poor-campaign", severity=Severity.WARNING,
                priority=min(85, 50 + round(spend / total * 40)),
                title=_words(N_("Budget concentrated on a costly campaign"), campaign=name),
                text=_words(N_("“%(campaign)s” took %(share)s of the spend at %(cost)s per "
                               "result against %(others)s for the other campaigns: move part "
                               "of its budget to them, or rework its audience and creatives."),
                            campaign=name, share=_fmt(report, spend / total, "percent"),
                            cost=(_fmt(report, cost, "currency") if results else "—"),
                            others=_fmt(report, others_cost, "currency")),
                impact=_words(N_("about %(gain)s more results a month at the other "
                                 "campaigns' cost"), gain=_count(report, gain)),
                figures={"campaign": name, "spend": spend, "results": results,
                         "others_cost_per_result": others_cost, "impact": gain},
                verbatim=(name,), kpis=(kpi.key,))


def brand_dependence(report: Report) -> Iterator[Finding]:
    """Fewer than 30 % of organic clicks from non-branded searches: the site is found by
    those who already know it, hardly by new customers."""
    kpis = {k.definition.id: k for k in report.kpis.values()}
    organic = kpis.get("organic_clicks")
    if not organic or not organic.value:
        return
    non_branded = kpis.get("non_branded_clicks")
    branded = kpis.get("branded_clicks")
    if non_branded and non_branded.value is not None:
        share = non_branded.value / organic.value
    elif branded and branded.value is not None:
        share = 1 - branded.value / organic.value
    else:
        return
    if share >= NON_BRANDED_SHARE:
        return
    yield Finding(
        rule="brand-dependence", severity=Severity.INFO, priority=25,
        title=_words(N_("Few new customers find the site in Google")),
        text=_words(N_("Only %(share)s of organic clicks come from searches without the "
                       "brand's name: write pages that answer the questions of people who "
                       "do not know it yet (guides, comparisons, product categories)."),
                    share=_fmt(report, share, "percent")),
        figures={"non_branded_share": share},
        kpis=(organic.key,))


def _cost_rising(kpi: KpiValue) -> bool:
    return (kpi.change_previous or 0) >= COST_RISE


position_slipping: Evaluate = worse_than_before(
    "position-slipping", "avg_position",
    worse=lambda k: (k.value or 0) - (k.previous or 0) >= POSITION_SLIP,
    title=N_("Search rankings are slipping"),
    text=N_("%(kpi)s: %(now)s (%(previous)s: %(before)s). See which queries "
            "lost places in Search Console and refresh the pages that rank for "
            "them."),
    severity=Severity.WARNING, priority=45,
    doc="The average search position two places or more worse than the previous period's.")

cpc_rising: Evaluate = worse_than_before(
    "cpc-rising", "ad_cpc", worse=_cost_rising,
    title=N_("Clicks on the ads cost more"),
    text=N_("%(kpi)s: %(now)s (%(previous)s: %(before)s). Check the auctions' "
            "competition, the ads' relevance and the targeting before raising "
            "budgets."),
    severity=Severity.WARNING, priority=40,
    doc="The cost per click 25 % or more above the previous period's.")

cost_per_result_rising: Evaluate = worse_than_before(
    "cost-per-result-rising", "cost_per_result", worse=_cost_rising,
    title=N_("Each ad result costs more"),
    text=N_("%(kpi)s: %(now)s (%(previous)s: %(before)s). Pause the ad sets "
            "with the highest cost and renew the creatives that have run "
            "longest."),
    severity=Severity.WARNING, priority=48,
    doc="The cost per result 25 % or more above the previous period's.")

cost_per_lead_rising: Evaluate = worse_than_before(
    "cost-per-lead-rising", "cost_per_lead", worse=_cost_rising,
    title=N_("Each lead from the ads costs more"),
    text=N_("%(kpi)s: %(now)s (%(previous)s: %(before)s). Test a shorter form "
            "and move budget to the audiences with the lowest cost per lead."),
    severity=Severity.WARNING, priority=48,
    doc="The cost per lead 25 % or more above the previous period's.")


def ad_fatigue(report: Report) -> Iterator[Finding]:
    """Ads shown four times or more to each person reached: the audience tires of them."""
    kpis = {k.definition.id: k for k in report.kpis.values()}
    shown, reach = kpis.get("ad_impressions"), kpis.get("ad_reach")
    if not shown or not reach or not shown.value or not reach.value:
        return
    frequency = shown.value / reach.value
    if frequency < FREQUENCY * months(report):
        return
    yield Finding(
        rule="ad-fatigue", severity=Severity.INFO, priority=30,
        title=_words(N_("The same people see the ads too often")),
        text=_words(N_("Each person reached saw the ads %(frequency)s times on average: "
                       "widen the audiences or renew the creatives before results fall."),
                    frequency=_decimals(report, frequency, 1)),
        figures={"frequency": frequency},
        kpis=(shown.key, reach.key))


def _whole_percent(fraction: float, locale: str) -> str:
    return format_percent(fraction, locale, 0)
