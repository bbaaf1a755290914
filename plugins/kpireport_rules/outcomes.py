"""Rules on the business outcomes (revenue, orders, won deals, leads…), objectives and OKRs.

An outcome is one of :data:`OUTCOMES`, found by its KPI's id (so a KPI a client renamed is
still one), a KPI of the commercial family, or one the client ranks in ``headline:``. Their
moves lead the recommendations: on the period before and on last year, the biggest rise and
the biggest fall are always named, with any other large move.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kpireport.kpis import KpiValue
from kpireport.recommendations import Finding, Severity
from kpireport.report import KeyResultScore, Report, Status
from kpireport_rules import N_, Shown, _fmt, _pct, _words
from kpireport_rules import _period as _period_words

OUTCOMES = ("revenue", "orders", "won_revenue", "won_deals", "new_customers", "qualified_leads",
            "leads", "opportunities", "pipeline_value", "ad_conversions", "ad_purchases",
            "ad_leads", "ad_conversion_value")
"""The KPIs (by definition id) a business is judged on, as opposed to traffic and costs."""

Evaluate = Callable[[Report], Iterator[Finding]]
OUTCOME_FAMILIES = ("commercial",)
"""Families whose every KPI is a business outcome (sales and pipeline)."""
MOVER_MIN = 0.05
"""On each comparison the biggest rise and fall of the outcomes are named from this (5 %)…"""
MOVER = 0.15
"""…and any other outcome's move from this (15 %)…"""
MOVERS = 4
"""…up to this many outcomes: the recommendations stay a short list."""
OUTCOME_DROP_YOY = -0.15
"""An outcome this far below the same period last year calls for a plan."""
PIPELINE_DROP = -0.20
LOST_DEALS_UP = 0.30
LEAD_CONVERSION_DROP = 0.03
"""Three percentage points fewer leads becoming customers than in the previous period."""


def outcomes(report: Report) -> list[KpiValue]:
    """The report's business outcomes with a value: the KPIs of :data:`OUTCOMES`, those of
    the commercial family (sales and pipeline) and those the client ranks in its summary
    (``headline:``), whatever they are."""
    headline = set(getattr(report.client, "headline", None) or ())
    return [k for k in report.kpis.values()
            if (k.definition.id in OUTCOMES or str(k.definition.family) in OUTCOME_FAMILIES
                or k.key in headline)
            and k.definition.breakdown is None and k.value is not None and k.error is None]


@dataclass(frozen=True)
class Move:
    """An outcome's change on one comparison: ``"previous"`` (the period before) or
    ``"last_year"`` (the same days a year before)."""

    kpi: KpiValue
    comparison: str
    change: float
    before: float

    @property
    def good(self) -> bool:
        return self.kpi.is_better(self.change) is True


@dataclass(frozen=True)
class Mover:
    """One outcome's moves of the same meaning (good or bad news), biggest first: one
    finding says them all, so that a KPI up on both comparisons is named once."""

    moves: tuple[Move, ...]

    @property
    def kpi(self) -> KpiValue:
        return self.moves[0].kpi

    @property
    def main(self) -> Move:
        return self.moves[0]

    @property
    def size(self) -> float:
        return abs(self.main.change)


def _comparisons(report: Report) -> tuple[str, ...]:
    # A year to date's period before is last year's same days: one comparison, not two.
    if report.period.previous == report.period.last_year:
        return ("previous",)
    return ("previous", "last_year")


def _covered(report: Report) -> set[tuple[str, str]]:
    """The (KPI, comparison) pairs another rule of this plugin already speaks of, with
    advice of its own: the movers do not repeat them."""
    from kpireport_rules import (
        conversions_falling_spend_holding,
        revenue_down_year_on_year,
        sales_cycle_lengthening,
    )

    said: set[tuple[str, str]] = set()
    for rule, comparison in ((revenue_down_year_on_year, "last_year"),
                             (sales_cycle_lengthening, "last_year"),
                             (conversions_falling_spend_holding, "previous"),
                             (pipeline_shrinking, "previous"), (lost_deals_up, "previous")):
        for finding in rule(report):
            said.update((key, comparison) for key in finding.kpis)
    return said


def all_movers(report: Report) -> list[Mover]:
    """Every outcome's good and bad moves of :data:`MOVER_MIN` or more that no other rule
    covers, counts and amounts only (a rate's or a duration's relative change is not how
    the report tells it), biggest first."""
    covered = _covered(report)
    found: list[Mover] = []
    for kpi in outcomes(report):
        if not kpi.relative:
            continue
        moves = []
        for comparison in _comparisons(report):
            before = kpi.previous if comparison == "previous" else kpi.last_year
            change = kpi.change_previous if comparison == "previous" else kpi.change_last_year
            if (change is None or before is None or abs(change) < MOVER_MIN
                    or (kpi.key, comparison) in covered):
                continue
            moves.append(Move(kpi, comparison, change, before))
        for good in (True, False):
            same = sorted((m for m in moves if m.good is good), key=lambda m: -abs(m.change))
            if same:
                found.append(Mover(tuple(same)))
    return sorted(found, key=lambda m: -m.size)


def movers(report: Report) -> list[Mover]:
    """The outcome moves the recommendations name: on each comparison the biggest rise and
    the biggest fall (good or bad news by each KPI's direction), and any other of
    :data:`MOVER` or more, at most :data:`MOVERS`, biggest first."""
    every = all_movers(report)
    chosen: list[Mover] = []
    for comparison in _comparisons(report):
        for good in (True, False):
            best = max((m for m in every for move in m.moves
                        if move.comparison == comparison and move.good is good),
                       key=lambda m: max(abs(mv.change) for mv in m.moves
                                         if mv.comparison == comparison), default=None)
            if best is not None and best not in chosen:
                chosen.append(best)
    chosen = sorted(chosen, key=lambda m: -m.size)[:MOVERS]
    chosen += [m for m in every if m not in chosen and m.size >= MOVER][:MOVERS - len(chosen)]
    return sorted(chosen, key=lambda m: -m.size)


def _value(report: Report, kpi: KpiValue, value: float) -> Shown:
    return _fmt(report, value, kpi.definition.unit.value, kpi.definition.duration_unit)


def _period(report: Report, move: Move) -> Shown:
    """The period a move is against, in words: the KPI's own when its data stops early (the
    same days of the period before or of last year), else the report's."""
    period = report.period_of(move.kpi.key)
    return _period_words(report, period.previous if move.comparison == "previous"
                         else period.last_year)


def _down_year_on_year(mover: Mover) -> bool:
    """A fall whose biggest move is on last year, of :data:`OUTCOME_DROP_YOY` or more: told
    by :func:`outcome_down_year_on_year`, with its own advice."""
    main = mover.main
    return (not main.good and main.comparison == "last_year"
            and main.kpi.definition.direction.value == "higher"
            and main.change <= OUTCOME_DROP_YOY)


def outcome_movers(report: Report) -> Iterator[Finding]:
    """The business outcomes that moved most, on the previous period and on last year, up
    and down: on each comparison the biggest rise and the biggest fall of 5 % or more, and
    any other move of 20 % or more, four outcomes at most. An outcome's moves of the same
    meaning make one finding. A fall comes with what winning it back is worth; a rise with
    the advice to build on what drove it."""
    for mover in movers(report):
        if _down_year_on_year(mover):
            continue
        kpi, main = mover.kpi, mover.main
        now = kpi.value or 0.0
        values = {"kpi": kpi.label, "now": _value(report, kpi, now),
                  "before": _value(report, kpi, main.before), "change": _pct(report, main.change),
                  "previous": _period(report, main)}
        figures: dict[str, object] = {"kpi": kpi.key, "value": now}
        for move in mover.moves:
            figures["previous" if move.comparison == "previous" else "last_year"] = move.before
            figures[f"change_{move.comparison}"] = move.change
        title = _words(N_("%(kpi)s: %(change)s vs %(previous)s"), **values)
        if len(mover.moves) > 1:
            # The text tells both in time order, the period before then last year.
            first, other = sorted(mover.moves, key=lambda m: m.comparison != "previous")
            values.update(before=_value(report, kpi, first.before),
                          change=_pct(report, first.change), previous=_period(report, first),
                          before2=_value(report, kpi, other.before),
                          change2=_pct(report, other.change), other=_period(report, other))
        if not main.good:
            gap = abs(main.before - now)
            figures["impact"] = gap
            # The KPI's name heads the sentence, never its subject ("Commandes est…").
            text = (N_("%(kpi)s: %(now)s (%(previous)s: %(before)s, %(change)s; %(other)s: "
                       "%(before2)s, %(change2)s). Find which channels, products or deals "
                       "account for the fall and act on those first.")
                    if len(mover.moves) > 1 else
                    N_("%(kpi)s: %(now)s (%(previous)s: %(before)s, %(change)s), among the "
                       "largest moves of the business outcomes. Find which channels, products or "
                       "deals account for the fall and act on those first."))
            impact = (N_("%(amount)s to win back to return to the previous period's level")
                      if main.comparison == "previous" else
                      N_("%(amount)s to win back to return to last year's level"))
            yield Finding(
                rule="outcome-movers",
                severity=Severity.CRITICAL if mover.size >= 0.30 else Severity.WARNING,
                priority=min(95, 60 + round(mover.size * 40)),
                title=title,
                text=_words(text, **values),
                impact=_words(impact, amount=_value(report, kpi, gap)),
                figures=figures, kpis=(kpi.key,))
        else:
            text = (N_("%(kpi)s: %(now)s (%(previous)s: %(before)s, %(change)s; %(other)s: "
                       "%(before2)s, %(change2)s). Find what drove it and give it more means "
                       "while it works.")
                    if len(mover.moves) > 1 else
                    N_("%(kpi)s: %(now)s (%(previous)s: %(before)s, %(change)s). Find what "
                       "drove it and give it more means while it works."))
            yield Finding(
                rule="outcome-movers", severity=Severity.INFO,
                priority=min(50, 30 + round(mover.size * 20)),
                title=title,
                text=_words(text, **values), figures=figures, kpis=(kpi.key,))


def outcome_down_year_on_year(report: Report) -> Iterator[Finding]:
    """A business outcome 15 % or more below the same period last year, when that is the
    biggest of its falls (online revenue has its own rule; a bigger fall on the period
    before is told by the movers' finding, which names both)."""
    for mover in all_movers(report):
        if not _down_year_on_year(mover):
            continue
        kpi, change = mover.kpi, mover.main.change
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
                      "previous": _period_words(report, report.period_of(kpi.key).previous)}
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
