"""Rules on the business outcomes (revenue, orders, won deals, leads…), objectives and OKRs.

An outcome is one of :data:`OUTCOMES`, found by its KPI's id (so a KPI a client renamed is
still one). Their moves lead the recommendations: the biggest mover of the period is always
named, good or bad.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from kpireport.formatting import format_period
from kpireport.kpis import KpiValue
from kpireport.recommendations import Finding, Severity
from kpireport.report import KeyResultScore, Report, Status
from kpireport_rules import N_, _fmt, _pct, _words

OUTCOMES = ("revenue", "orders", "won_revenue", "won_deals", "new_customers", "qualified_leads",
            "leads", "opportunities", "pipeline_value", "ad_conversions", "ad_purchases",
            "ad_leads", "ad_conversion_value")
"""The KPIs (by definition id) a business is judged on, as opposed to traffic and costs."""

Evaluate = Callable[[Report], Iterator[Finding]]
MOVER_MIN = 0.05
"""The biggest outcome mover is named when it moved at least this much (5 %)…"""
MOVER = 0.20
"""…and a second one when it moved at least this much (20 %)."""
MOVERS = 2
OUTCOME_DROP_YOY = -0.15
"""An outcome this far below the same period last year calls for a plan."""
PIPELINE_DROP = -0.20
LOST_DEALS_UP = 0.30
LEAD_CONVERSION_DROP = 0.03
"""Three percentage points fewer leads becoming customers than in the previous period."""


def outcomes(report: Report) -> list[KpiValue]:
    """The report's outcome KPIs with a value."""
    return [k for k in report.kpis.values()
            if k.definition.id in OUTCOMES and k.definition.breakdown is None
            and k.value is not None and k.error is None]


def movers(report: Report) -> list[KpiValue]:
    """The outcomes that :func:`outcome_movers` names, biggest move first."""
    moved = sorted((k for k in outcomes(report) if k.change_previous is not None
                    and abs(k.change_previous) >= MOVER_MIN),
                   key=lambda k: -abs(k.change_previous or 0))
    return [k for i, k in enumerate(moved[:MOVERS])
            if i == 0 or abs(k.change_previous or 0) >= MOVER]


def _value(report: Report, kpi: KpiValue, value: float) -> str:
    return _fmt(report, value, kpi.definition.unit.value, kpi.definition.duration_unit)


def outcome_movers(report: Report) -> Iterator[Finding]:
    """The business outcomes that moved most on the previous period: the biggest whenever it
    moved 5 % or more, a second when it moved 20 % or more. A fall comes with what winning
    it back is worth; a rise with the advice to build on what drove it."""
    previous = format_period(report.period.previous, report.locale)
    for kpi in movers(report):
        change = kpi.change_previous or 0
        now, before = kpi.value or 0.0, kpi.previous or 0.0
        values = {"kpi": kpi.label, "now": _value(report, kpi, now),
                  "before": _value(report, kpi, before), "change": _pct(report, change),
                  "previous": previous}
        figures: dict[str, object] = {"kpi": kpi.key, "value": now, "previous": before,
                                      "change_previous": change}
        if kpi.is_better(change) is False:
            gap = abs(before - now)
            figures["impact"] = gap
            yield Finding(
                rule="outcome-movers",
                severity=Severity.CRITICAL if abs(change) >= 0.30 else Severity.WARNING,
                priority=min(95, 60 + round(abs(change) * 40)),
                title=_words(N_("%(kpi)s: %(change)s vs %(previous)s"), **values),
                text=_words(N_("%(kpi)s: %(now)s (%(previous)s: %(before)s, "
                               "%(change)s), among the largest moves of the "
                               "business outcomes. Find which channels, "
                               "products or deals account for the fall and act "
                               "on those first."), **values),
                impact=_words(N_("%(amount)s to win back to return to the "
                                 "previous period's level"), amount=_value(report, kpi, gap)),
                figures=figures, kpis=(kpi.key,))
        else:
            yield Finding(
                rule="outcome-movers", severity=Severity.INFO,
                priority=min(50, 30 + round(abs(change) * 20)),
                title=_words(N_("%(kpi)s: %(change)s vs %(previous)s"), **values),
                text=_words(N_("%(kpi)s: %(now)s (%(previous)s: %(before)s, "
                               "%(change)s), among the largest moves of the "
                               "business outcomes. Find what drove it (a "
                               "campaign, a channel, an offer) and give it "
                               "more means while it works."), **values),
                figures=figures, kpis=(kpi.key,))


def outcome_down_year_on_year(report: Report) -> Iterator[Finding]:
    """A business outcome 15 % or more below the same period last year (online revenue has
    its own rule; an outcome already named as the period's biggest fall is not repeated)."""
    named = {k.key for k in movers(report) if k.is_better(k.change_previous) is False}
    for kpi in outcomes(report):
        change = kpi.change_last_year
        if (kpi.definition.id == "revenue" or kpi.key in named or change is None
                or kpi.definition.direction.value != "higher" or change > OUTCOME_DROP_YOY):
            continue
        gap = (kpi.last_year or 0.0) - (kpi.value or 0.0)
        yield Finding(
            rule="outcome-down-year-on-year",
            severity=Severity.CRITICAL if change <= -0.30 else Severity.WARNING,
            priority=min(85, 50 + round(abs(change) * 40)),
            title=_words(N_("%(kpi)s below last year"), kpi=kpi.label),
            text=_words(N_("%(kpi)s: %(now)s, against %(before)s a year ago "
                           "(%(change)s). Compare the channels, offers and "
                           "sales activity of both periods and restore what "
                           "was lost."),
                        kpi=kpi.label, now=_value(report, kpi, kpi.value or 0.0),
                        before=_value(report, kpi, kpi.last_year or 0.0),
                        change=_pct(report, change)),
            impact=_words(N_("%(amount)s to win back to reach last year's level again"),
                          amount=_value(report, kpi, gap)),
            figures={"kpi": kpi.key, "value": kpi.value, "last_year": kpi.last_year,
                     "change_last_year": change, "impact": gap},
            kpis=(kpi.key,))


def objective_missed(report: Report) -> Iterator[Finding]:
    """An objective whose deadline passed short of its target: agree a new one or drop it."""
    every = report.every_kpi()
    for a in report.objectives:
        if a.status is not Status.MISSED or a.value is None:
            continue
        kpi = every.get(a.kpi)
        unit = kpi.definition.unit.value if kpi else "count"
        dunit = kpi.definition.duration_unit if kpi else "seconds"
        yield Finding(
            rule="objective-missed", severity=Severity.WARNING, priority=55,
            title=_words(N_("“%(objective)s” was missed"), objective=a.title),
            text=_words(N_("It ended at %(value)s against a target of %(target)s: agree a new "
                           "target and deadline backed by a plan, or drop the objective so "
                           "that the report follows what matters now."),
                        value=_fmt(report, a.value, unit, dunit),
                        target=_fmt(report, a.target, unit, dunit)),
            figures={"objective": a.key, "value": a.value, "target": a.target},
            kpis=(a.kpi,))


def key_result_at_zero(report: Report) -> Iterator[Finding]:
    """An OKR's key result scoring 0: nothing has moved since its start."""
    every = report.every_kpi()
    for okr in report.okrs:
        for kr in okr.key_results:
            if not isinstance(kr, KeyResultScore) or kr.score != 0 or kr.value is None:
                continue
            kpi = every.get(kr.kpi)
            unit = kpi.definition.unit.value if kpi else "count"
            dunit = kpi.definition.duration_unit if kpi else "seconds"
            yield Finding(
                rule="key-result-at-zero", severity=Severity.CRITICAL, priority=72,
                title=_words(N_("Key result “%(kr)s” scores 0"), kr=kr.title),
                text=_words(N_("“%(kr)s” (%(okr)s) is at %(value)s, no closer to %(target)s "
                               "than at its start (%(start)s): decide now whether to put "
                               "people and budget behind it or to rework it."),
                            kr=kr.title, okr=okr.objective,
                            value=_fmt(report, kr.value, unit, dunit),
                            target=_fmt(report, kr.target, unit, dunit),
                            start=_fmt(report, kr.start, unit, dunit)),
                figures={"okr": okr.key, "kpi": kr.kpi, "value": kr.value,
                         "start": kr.start, "target": kr.target, "score": 0.0},
                kpis=(kr.kpi,))


def worse_than_before(rule_id: str, kpi_id: str, *, worse: Callable[[KpiValue], bool],
                      title: str, text: str, severity: Severity, priority: int,
                      doc: str) -> Evaluate:
    """A rule firing when KPI ``kpi_id`` got ``worse`` than in the previous period; ``text``
    may use ``%(kpi)s``, ``%(now)s``, ``%(before)s`` and ``%(previous)s``."""

    def evaluate(report: Report) -> Iterator[Finding]:
        for kpi in report.kpis.values():
            if (kpi.definition.id != kpi_id or kpi.value is None or kpi.previous is None
                    or not worse(kpi)):
                continue
            values = {"kpi": kpi.label, "now": _value(report, kpi, kpi.value),
                      "before": _value(report, kpi, kpi.previous),
                      "previous": format_period(report.period.previous, report.locale)}
            yield Finding(rule=rule_id, severity=severity, priority=priority,
                          title=_words(title, **values), text=_words(text, **values),
                          figures={"kpi": kpi.key, "value": kpi.value,
                                   "previous": kpi.previous},
                          kpis=(kpi.key,))

    evaluate.__doc__ = doc
    return evaluate


pipeline_shrinking: Evaluate = worse_than_before(
    "pipeline-shrinking", "pipeline_value",
    worse=lambda k: (k.change_previous or 0) <= PIPELINE_DROP,
    title=N_("The pipeline is shrinking"),
    text=N_("%(kpi)s: %(now)s (%(previous)s: %(before)s). Fewer deals in play "
            "now means less revenue in the coming months: step up prospecting "
            "and the follow-up of open opportunities."),
    severity=Severity.WARNING, priority=58,
    doc="The open pipeline's value 20 % or more below the previous period's.")

lost_deals_up: Evaluate = worse_than_before(
    "lost-deals-up", "lost_deals",
    worse=lambda k: (k.change_previous or 0) >= LOST_DEALS_UP,
    title=N_("More deals lost"),
    text=N_("%(kpi)s: %(now)s (%(previous)s: %(before)s). Ask the lost "
            "prospects why (price, timing, a competitor) and adjust the offer "
            "or the qualification."),
    severity=Severity.WARNING, priority=45,
    doc="Lost deals 30 % or more above the previous period.")

lead_conversion_falling: Evaluate = worse_than_before(
    "lead-conversion-falling", "lead_conversion_rate",
    worse=lambda k: (k.previous or 0) - (k.value or 0) >= LEAD_CONVERSION_DROP,
    title=N_("Fewer leads become customers"),
    text=N_("%(kpi)s: %(now)s (%(previous)s: %(before)s). Check how fast new "
            "leads are called back and whether the campaigns still bring the "
            "right prospects."),
    severity=Severity.WARNING, priority=50,
    doc="The lead conversion rate 3 percentage points or more below the previous period's.")
