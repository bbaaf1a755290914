"""Rules on the business outcomes (revenue, orders, won deals, leads…), objectives and OKRs.

An outcome is one of :data:`OUTCOMES`, found by its KPI's id (so a KPI a client renamed is
still one), a KPI of the commercial family, or one the client ranks in ``headline:``. Their
moves lead the recommendations: on the period before and on last year, the biggest rise and
the biggest fall are always named, with any other large move.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kpireport.data import DateRange
from kpireport.kpis import KpiValue
from kpireport.recommendations import Finding, Severity
from kpireport.report import KeyResultScore, Report, Status
from kpireport_rules import (
    N_,
    Shown,
    _date,
    _each,
    _fmt,
    _pct,
    _words,
    in_language,
    localized,
    noted_kpis,
    unit_noun,
)
from kpireport_rules import _period as _period_words

if TYPE_CHECKING:
    from gettext import NullTranslations

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

    @property
    def notable(self) -> bool:
        return abs(self.change) >= MOVER_MIN


@dataclass(frozen=True)
class Mover:
    """One outcome and its moves on every comparison it has, the period before first: one
    finding tells them all, with one action that fits both (a KPI is never told as good
    news on one card and bad news on another)."""

    moves: tuple[Move, ...]

    @property
    def kpi(self) -> KpiValue:
        return self.moves[0].kpi

    @property
    def main(self) -> Move:
        """The biggest of its moves."""
        return max(self.moves, key=lambda m: abs(m.change))

    @property
    def size(self) -> float:
        return abs(self.main.change)

    def on(self, comparison: str) -> Move | None:
        return next((m for m in self.moves if m.comparison == comparison), None)


def _comparisons(report: Report) -> tuple[str, ...]:
    # A year to date's period before is last year's same days: one comparison, not two.
    if report.period.previous == report.period.last_year:
        return ("previous",)
    return ("previous", "last_year")


def _covered(report: Report) -> set[str]:
    """The KPIs another rule of this plugin already speaks of, with advice of its own: the
    movers leave them to it (two cards on one KPI could read as two verdicts)."""
    from kpireport_rules import (
        conversions_falling_spend_holding,
        revenue_down_year_on_year,
        sales_cycle_lengthening,
    )

    said: set[str] = set()
    for rule in (revenue_down_year_on_year, sales_cycle_lengthening,
                 conversions_falling_spend_holding, pipeline_shrinking, lost_deals_up):
        for finding in rule(report):
            said.update(finding.kpis)
    return said


def all_movers(report: Report) -> list[Mover]:
    """Every outcome with a move of :data:`MOVER_MIN` or more on a comparison that no other
    rule covers, counts and amounts only (a rate's or a duration's relative change is not
    how the report tells it), biggest first; each with all its comparisons."""
    covered = _covered(report)
    found: list[Mover] = []
    for kpi in outcomes(report):
        if not kpi.relative or kpi.key in covered:
            continue
        moves = []
        for comparison in _comparisons(report):
            before = kpi.previous if comparison == "previous" else kpi.last_year
            change = kpi.change_previous if comparison == "previous" else kpi.change_last_year
            if change is not None and before is not None:
                moves.append(Move(kpi, comparison, change, before))
        if any(m.notable for m in moves):
            found.append(Mover(tuple(moves)))
    return sorted(found, key=lambda m: -m.size)


def movers(report: Report) -> list[Mover]:
    """The outcomes the recommendations name: on each comparison the biggest rise and the
    biggest fall (good or bad news by each KPI's direction), and any other moving
    :data:`MOVER` or more, at most :data:`MOVERS`, biggest first."""
    every = all_movers(report)
    chosen: list[Mover] = []
    for comparison in _comparisons(report):
        for good in (True, False):
            best = max((m for m in every if (mv := m.on(comparison)) is not None
                        and mv.notable and mv.good is good),
                       key=lambda m: abs(m.on(comparison).change),  # type: ignore[union-attr]
                       default=None)
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
    by :func:`outcome_down_year_on_year` under its own title."""
    main = mover.main
    return (not main.good and main.comparison == "last_year"
            and main.kpi.definition.direction.value == "higher"
            and main.change <= OUTCOME_DROP_YOY)


# What to do, by what the comparisons say. Each card opens with what its comparisons say
# (both, or the one a year to date has, named), then the action their signs call for.
_HEAD_ONE = N_("%(kpi)s: %(now)s (%(previous)s: %(before)s, %(change)s).")
_HEAD_TWO = N_("%(kpi)s: %(now)s (%(previous)s: %(before)s, %(change)s; %(other)s: "
               "%(before2)s, %(change2)s).")
_THEN = N_("%(opening)s: %(then)s")
_OPENING_TWO = {
    (True, True): N_("Better on both comparisons"),
    (False, True): N_("Down on the period before but better than a year ago"),
    (True, False): N_("Better than the period before but still short of last year"),
    (False, False): N_("Down on both comparisons"),
}
# One comparison only: the wording names it ("Better than the same days of 2025").
_OPENING_ONE = {
    ("same_days", True): N_("Better than the same days of %(year)s"),
    ("same_days", False): N_("Below the same days of %(year)s"),
    ("previous", True): N_("Better than the period before (%(period)s)"),
    ("previous", False): N_("Below the period before (%(period)s)"),
    ("last_year", True): N_("Better than last year (%(period)s)"),
    ("last_year", False): N_("Below last year (%(period)s)"),
}
_GROW = N_("find what drove this progress and invest more in it while it works.")
_ACT = N_("find which channels, products or deals account for the fall and act on those "
          "first.")
_RECOVER = N_("the recovery has begun. Find what was lost since last year (channels, offers, "
              "sales activity) and win it back.")
_UNSURE = N_("check whether last year fell at the same time of year before changing course, "
             "and keep what drives the progress on the year.")
# The analyst's note explains the change: no order to act, no loss to win back (the note may
# say it is timing).
_NOTED_SELF = N_("the agency's note on this indicator, earlier in the report, explains the "
                 "change.")
_NOTED_OTHER = N_("the agency's note on “%(noted)s”, earlier in the report, explains the "
                  "change.")
_NOTED_SECTION = N_("the agency's note on this section, earlier in the report, explains the "
                    "change.")
_NOTED_SELF_RISE = N_("the agency's note on this indicator, earlier in the report, explains "
                      "the rise.")
_NOTED_OTHER_RISE = N_("the agency's note on “%(noted)s”, earlier in the report, explains the "
                       "rise.")
_NOTED_SECTION_RISE = N_("the agency's note on this section, earlier in the report, explains "
                         "the rise.")
# Down on the period before, better than a year ago: last year's same move (the comparison
# period's own change on ITS period before) tells a seasonal dip from a real fall. A fall
# within last year's is seasonal; one clearly deeper (SEASON_RATIO × and SEASON_POINTS
# beyond) is partly seasonal, with an action. The endings vary from card to card: three
# seasonal cards in a row must not end with one sentence.
_SEASONAL = N_("Down %(fall)s on %(previous)s, as last year: %(ly)s had already fallen "
               "%(last)s on %(lyprev)s.")
_SEASONAL_ENDS = (
    N_("A seasonal dip: the progress on the year holds, keep what drives it."),
    N_("The season explains it: no loss to win back, the gain on the year is what to build "
       "on."),
    N_("A dip of the season: the year-on-year figure is the one to watch."),
)
_PARTLY = N_("Down %(fall)s on %(previous)s, %(points)s points beyond last year's dip "
             "(%(ly)s had fallen %(last)s on %(lyprev)s): partly seasonal.")
_PARTLY_ENDS = (
    N_("Find which channels, products or deals account for the extra fall and act on those "
       "first."),
    N_("Look for what weighed beyond the season (a channel, a product, an offer) and correct "
       "it first."),
    N_("Check which part of the business fell further than last year and act there first."),
)
# Up on the period before as last year at the same time: the season, not progress; the
# year-on-year figure is the real news.
_SEASONAL_RISE = N_("Up %(rise)s on %(previous)s, as last year: %(ly)s had already risen "
                    "%(last)s on %(lyprev)s, the same season. The real gain is on the year, "
                    "%(gain)s on %(year)s: find what drove it and keep it going.")
_SEASONAL_RISE_SHORT = N_("Up %(rise)s on %(previous)s, as last year: %(ly)s had already "
                          "risen %(last)s on %(lyprev)s, the same season, not a recovery. "
                          "The year is still %(gain)s on %(year)s: find what was lost since "
                          "last year and win it back.")
_DEEPER = N_("Down %(fall)s on %(previous)s, while %(ly)s had fallen only %(last)s on "
             "%(lyprev)s: the fall goes beyond the season. Find which channels, products or "
             "deals account for it and act on those first.")
SEASON_RATIO = 1.25
SEASON_POINTS = 0.02
"""A move on the period before is clearly beyond last year's same move when it is more than
SEASON_RATIO times as big and SEASON_POINTS (2 points) beyond it."""
_NOT_SEASONAL = N_("Down %(fall)s on %(previous)s, while %(ly)s had risen %(last)s on "
                   "%(lyprev)s: the fall is not seasonal. Find which channels, products or "
                   "deals account for it and act on those first.")
_SLIGHT = N_("Slightly down (%(fall)s) on %(previous)s, while %(ly)s had risen %(last)s on "
             "%(lyprev)s: not a seasonal dip. Watch it, and keep what drives the progress on "
             "the year.")
_DAY = N_("One day stands out: %(day)s, with %(value)s against a usual %(usual)s a day.")
_RUN = N_("%(days)s days in a row stand out: %(span)s, with %(total)s in all against a usual "
          "%(usual)s a day.")


def _case(mover: Mover) -> tuple[bool, bool]:
    """(good on the period before, good on last year); one comparison counts for both."""
    first, year = mover.on("previous"), mover.on("last_year")
    if first is None or year is None:
        only = mover.main.good
        return only, only
    return first.good, year.good


def _family(kpi: KpiValue) -> str:
    return str(kpi.definition.family).lower()


def _way(kpi: KpiValue) -> bool | None:
    """Whether it rose (None: unknown) on the period before, else on last year: the move
    the analyst's note, written for the period, speaks of."""
    change = kpi.change_previous if kpi.change_previous is not None else kpi.change_last_year
    return None if not change else change > 0


def noted_by(report: Report, kpi: KpiValue) -> tuple[str, str] | None:
    """Which of the analyst's notes explains ``kpi``'s move: ("self", ""), ("section", "")
    or ("other", the noted KPI's label); None when none does.

    The rule: a note covers its own KPI; a note on a section (a KPI family) covers that
    family's outcomes; a note on one outcome covers the other outcomes of its family that
    moved the same way on the period before (two deals closed: won deals and the revenue
    from them fell together, one business event)."""
    noted = noted_kpis(report)
    if not noted:
        return None
    if kpi.key.lower() in noted:
        return ("self", "")
    if _family(kpi) in noted:
        return ("section", "")
    way = _way(kpi)
    for other in outcomes(report):
        if (other.key != kpi.key and other.key.lower() in noted and way is not None
                and _family(other) == _family(kpi) and _way(other) == way):
            return ("other", other.label)
    return None


def last_year_move(report: Report, kpi: KpiValue) -> tuple[float, DateRange, DateRange] | None:
    """Last year's same move: the comparison period a year before (Q3 2025) against ITS
    period before (Q2 2025), from the KPI's monthly series: (the change, that period, its
    period before). None when the periods are not whole months of the series or when the
    months do not add up to the KPI's figure a year before (a count of unique visitors
    does not add up month by month)."""
    period = report.period_of(kpi.key).last_year
    if kpi.last_year is None or period.start.day != 1 \
            or (period.end + dt.timedelta(days=1)).day != 1:
        return None
    months = {p.start: p.value for p in kpi.monthly}
    span = [d for d in months if period.start <= d <= period.end]
    first = period.start
    before: list[dt.date] = []
    for _ in span:
        first = (first - dt.timedelta(days=1)).replace(day=1)
        before.append(first)
    values = [months.get(d) for d in (*span, *before)]
    if not span or any(v is None for v in values):
        return None
    now = sum(months[d] or 0.0 for d in span)
    then = sum(months[d] or 0.0 for d in before)
    if not then or abs(now - kpi.last_year) > 0.005 * abs(kpi.last_year):
        return None
    return (now / then - 1, period,
            DateRange(start=min(before), end=period.start - dt.timedelta(days=1)))


def _subject(report: Report, span: DateRange, capital: bool = False) -> Shown:
    """A period as a sentence's subject or object: French names a quarter with its article
    ("le T3 2025"), a month without ("septembre 2025")."""
    from kpireport.formatting import format_period, whole_quarter

    def write(locale: str) -> str:
        text = format_period(span, locale)
        if locale.startswith("fr") and whole_quarter(span.start, span.end):
            text = "le " + text
        return text[:1].upper() + text[1:] if capital else text

    return localized(report, write)


def _bare(report: Report, change: float) -> Shown:
    """A change without its sign ("5.9%"): the verb says which way."""
    from kpireport.formatting import format_change

    return localized(report, lambda locale: format_change(abs(change), locale).lstrip("+"))


def _seasonal(report: Report, mover: Mover) -> tuple[str, dict[str, object]] | None:
    """For a fall on the period before with a rise on the year: the sentence saying
    whether last year fell the same way (seasonal) or not (a real fall), its values, and
    None when last year's move cannot be told."""
    fall, move = mover.on("previous"), last_year_move(report, mover.kpi)
    if fall is None or move is None:
        return None
    change, period, before = move
    values: dict[str, object] = {
        "fall": _bare(report, fall.change), "previous": _subject(report, _range(report, fall)),
        "ly": _subject(report, period), "lyprev": _subject(report, before),
        "last": _bare(report, change)}
    if change <= fall.change / 2:
        if _beyond(fall.change, change):
            # From the rounded figures the sentence prints (9.4 % and 5.9 %: 3.5 points).
            values["points"] = _points(report, round(abs(fall.change), 3)
                                       - round(abs(change), 3))
            message = _PARTLY
        else:
            message = _SEASONAL
    elif change < 0:
        message = _DEEPER
    else:
        message = _NOT_SEASONAL if fall.notable else _SLIGHT
    return message, values


def _beyond(now: float, then: float) -> bool:
    """Whether move ``now`` is clearly bigger than last year's same move ``then``."""
    return (abs(now) > SEASON_RATIO * abs(then)
            and abs(now) - abs(then) > SEASON_POINTS)


def _points(report: Report, gap: float) -> Shown:
    from babel.numbers import format_decimal

    return localized(report, lambda locale: format_decimal(round(gap * 100, 1), "0.0",
                                                           locale=locale))


def _seasonal_rise(report: Report, mover: Mover) -> tuple[str, dict[str, object]] | None:
    """For a rise on the period before (a notable one) that last year's same move matched
    (a rise at least half as big, and this one not clearly beyond it): the sentence saying
    so and naming the year-on-year figure as the real news, and its values; else None."""
    rise, year = mover.on("previous"), mover.on("last_year")
    if rise is None or year is None or not rise.good or not rise.notable \
            or rise.change <= 0:
        return None
    move = last_year_move(report, mover.kpi)
    if move is None:
        return None
    change, period, before = move
    if change < rise.change / 2 or _beyond(rise.change, change):
        return None
    values: dict[str, object] = {
        "rise": _bare(report, rise.change), "previous": _subject(report, _range(report, rise)),
        "ly": _subject(report, period), "lyprev": _subject(report, before),
        "last": _bare(report, change), "gain": _pct(report, year.change),
        "year": _subject(report, _range(report, year))}
    return (_SEASONAL_RISE if year.good else _SEASONAL_RISE_SHORT), values


def _range(report: Report, move: Move) -> DateRange:
    period = report.period_of(move.kpi.key)
    return period.previous if move.comparison == "previous" else period.last_year


def _opening_one(report: Report, mover: Mover) -> tuple[str, dict[str, object]]:
    move = mover.moves[0]
    if report.period.previous == report.period.last_year:
        return (_OPENING_ONE[("same_days", move.good)],
                {"year": report.period_of(move.kpi.key).last_year.start.year})
    return _OPENING_ONE[(move.comparison, move.good)], {"period": _period(report, move)}


def _impact(report: Report, mover: Mover, move: Move, noun: dict[str, str]) -> dict[str, str]:
    """How far the value is short of ``move``'s level, in the KPI's unit and naming the
    period ("8 won deals short of September 2026's level")."""
    kpi = move.kpi
    gap = abs(move.before - (kpi.value or 0.0))
    amount = _value(report, kpi, gap)
    period = _period(report, move)
    message = (N_("%(amount)s %(noun)s short of %(period)s's level")
               if move.comparison == "previous" else
               N_("%(amount)s %(noun)s short of last year's level (%(period)s)"))
    bare = (N_("%(amount)s short of %(period)s's level")
            if move.comparison == "previous" else
            N_("%(amount)s short of last year's level (%(period)s)"))
    # An amount carries its currency; a count of one cannot take the plural noun.
    plain = kpi.definition.unit.value == "currency" or gap == 1
    return _each(lambda words, lang: words.gettext(bare if plain else message) % in_language({
        "amount": amount, "period": period, "noun": noun.get(lang, noun["en"])}, lang))


def _title_move(mover: Mover, case: tuple[bool, bool]) -> Move:
    """The move a card's title names: the one that matters for its case. A fall of 5 % or
    more on the period before is the news of a mixed card (a seasonal one too: its text
    says why); a recovery still short of last year is told by its gap to last year."""
    if case == (False, True) and (first := mover.on("previous")) is not None \
            and first.notable:
        return first
    if case == (True, False) and (year := mover.on("last_year")) is not None:
        return year
    return mover.main


def mover_finding(report: Report, mover: Mover, rule: str,
                  title: dict[str, str] | None = None, *, nth: int = 0) -> Finding:
    """One outcome's card: its value, its comparisons, and the action their signs call for.

    With one comparison (a year to date) the card names it. A fall on the period before
    with a rise on the year is judged by last year's same move (seasonal or not). When the
    analyst's note explains the move (:func:`noted_by`), the card says so, with no order
    to act and no loss to win back. An objective's pace is its own card, never repeated
    here; the period's unusual day (or run of days) of the same KPI, when there is one, is
    one sentence here, unless the note explains the move. A rise on the period before that
    repeats last year's same move is the season: the card says so and is titled and ranked
    by its change on the year. ``nth`` counts the report's seasonal cards before this one:
    their endings vary.

    Its priority puts the biggest business news first: a fall ranks 60 + 40 × its size (up
    to 95), a mixed or good move 50 + 50 × its size (up to 85): a 50 % rise (75) comes
    before a key result at 0 close to its target (:func:`key_result_at_zero`, 50 to 75)
    and an objective's pace (70 when off track), a 5 % one (52) after them."""
    from kpireport_rules.anomalies import odd_day

    kpi = mover.kpi
    now = kpi.value or 0.0
    ordered = sorted(mover.moves, key=lambda m: m.comparison != "previous")
    values: dict[str, object] = {"kpi": kpi.label, "now": _value(report, kpi, now)}
    for suffix, move, period in (("", ordered[0], "previous"), ("2", ordered[-1], "other")):
        values.update({f"before{suffix}": _value(report, kpi, move.before),
                       f"change{suffix}": _pct(report, move.change),
                       period: _period(report, move)})
    figures: dict[str, object] = {"kpi": kpi.key, "value": now}
    for move in mover.moves:
        figures["previous" if move.comparison == "previous" else "last_year"] = move.before
        figures[f"change_{move.comparison}"] = move.change
    case = _case(mover)
    noted = noted_by(report, kpi)
    if noted is not None and noted[0] == "other" and all(case):
        # Another outcome's note tells a shared fall (two deals lost); a rise of this one
        # may have its own cause (the season), which the card then tells.
        noted = None
    head = _HEAD_TWO if len(ordered) > 1 else _HEAD_ONE
    opened: dict[str, object] = {}
    if len(ordered) > 1:
        opening = _OPENING_TWO[case]
    else:
        opening, opened = _opening_one(report, mover)
    seasonal = _seasonal(report, mover) if case == (False, True) and len(ordered) > 1 \
        else None
    rise = _seasonal_rise(report, mover) if case[0] and len(ordered) > 1 else None
    if seasonal is not None or rise is not None:
        figures["last_year_move"] = last_year_move(report, kpi)[0]  # type: ignore[index]
    if rise is not None:
        figures["seasonal_rise"] = True
    if noted is not None:
        then = ({"self": _NOTED_SELF_RISE, "section": _NOTED_SECTION_RISE,
                 "other": _NOTED_OTHER_RISE} if all(case) else
                {"self": _NOTED_SELF, "section": _NOTED_SECTION,
                 "other": _NOTED_OTHER})[noted[0]]
    elif all(case):
        then = _GROW
    elif case == (True, False):
        then = _RECOVER
    elif case == (False, True):
        then = _UNSURE
    else:
        then = _ACT
    # The note explains the move, the odd day with it: no second cause to look for.
    day = odd_day(report) if noted is None else None
    day = day if day is not None and day[1].key == kpi.key else None
    ending = {_SEASONAL: _SEASONAL_ENDS, _PARTLY: _PARTLY_ENDS}.get(
        seasonal[0] if seasonal is not None else "", ())

    def text(words: NullTranslations, language: str) -> str:
        said = [words.gettext(head) % in_language(values, language)]
        if seasonal is not None and noted is None:
            said.append(words.gettext(seasonal[0]) % in_language(seasonal[1], language))
            if ending:
                said.append(words.gettext(ending[nth % len(ending)]))
        elif rise is not None and noted is None:
            said.append(words.gettext(rise[0]) % in_language(rise[1], language))
        else:
            said.append(words.gettext(_THEN) % {
                "opening": words.gettext(opening) % in_language(opened, language),
                "then": words.gettext(then) % {"noted": noted[1] if noted else ""}})
        if day is not None:
            said.append(words.gettext(_RUN if run[0] != run[1] else _DAY)
                        % in_language(day_values, language))
        return " ".join(said)

    day_values: dict[str, object] = {}
    run: tuple[dt.date, dt.date, float] = (dt.date.min, dt.date.min, 0.0)
    if day is not None:
        from kpireport_rules.anomalies import _shown, odd_run

        run = odd_run(day) or (day[2], day[2], day[3])
        day_values = {"day": _date(report, day[2], "long"), "value": _shown(report, kpi, day[3]),
                      "usual": _shown(report, kpi, day[4]),
                      "span": _period_words(report, DateRange(start=run[0], end=run[1])),
                      "days": (run[1] - run[0]).days + 1, "total": _shown(report, kpi, run[2])}
        figures["unusual_day"] = day[2].isoformat()
        if run[0] != run[1]:
            figures["unusual_days"] = [run[0].isoformat(), run[1].isoformat()]

    impact: dict[str, str] = {}
    falls = [m for m in mover.moves if not m.good and m.notable]
    # A seasonal fall is no loss to win back, nor is one the analyst's note explains (it
    # may be timing); a real fall's gap is, the biggest one.
    real = case != (False, True) or (seasonal is not None
                                     and seasonal[0] in (_DEEPER, _NOT_SEASONAL, _PARTLY))
    if falls and real and noted is None:
        lost = max(falls, key=lambda m: abs(m.change))
        impact = _impact(report, mover, lost, unit_noun(report, kpi))
        figures["impact"] = abs(lost.before - now)
    if title is None:
        main = _title_move(mover, case)
        if rise is not None:  # the season's rise is no news: the year's change is
            main = mover.on("last_year") or main
        title = _words(N_("%(kpi)s: %(change)s vs %(previous)s"), kpi=kpi.label,
                       change=_pct(report, main.change), previous=_period(report, main),
                       before=_value(report, kpi, main.before))
    size = mover.size
    if rise is not None and (year := mover.on("last_year")) is not None:
        size = abs(year.change)  # ranked by its real news, the change on the year
    if all(case):
        severity, priority = Severity.INFO, min(85, 50 + round(size * 50))
    elif case == (False, False):
        severity = Severity.CRITICAL if mover.size >= 0.30 else Severity.WARNING
        priority = min(95, 60 + round(mover.size * 40))
    else:
        severity, priority = Severity.WARNING, min(85, 50 + round(size * 50))
    return Finding(rule=rule, severity=severity, priority=priority, title=title,
                   text=_each(text), impact=impact, figures=figures, kpis=(kpi.key,))


def carded(report: Report) -> set[str]:
    """The keys of the outcomes that have a card of their own (a mover's or a fall on last
    year's): another rule's finding on the same KPI folds into it."""
    return ({m.kpi.key for m in movers(report) if not _down_year_on_year(m)}
            | {m.kpi.key for m in all_movers(report) if _down_year_on_year(m)})


def outcome_movers(report: Report) -> Iterator[Finding]:
    """The business outcomes that moved most, on the previous period and on last year, up
    and down: on each comparison the biggest rise and the biggest fall of 5 % or more, and
    any other move of 15 % or more, four outcomes at most. Each outcome is one finding
    giving both comparisons and one action for what they say together (see
    :func:`mover_finding`, which also explains the ranking)."""
    seasonal = 0
    for mover in movers(report):
        if _down_year_on_year(mover):
            continue
        finding = mover_finding(report, mover, "outcome-movers", nth=seasonal)
        seasonal += "last_year_move" in finding.figures
        yield finding


def outcome_down_year_on_year(report: Report) -> Iterator[Finding]:
    """A business outcome 15 % or more below the same period last year, when that is the
    biggest of its moves (online revenue has its own rule): the same card as the movers',
    under a title that says it."""
    for mover in all_movers(report):
        if not _down_year_on_year(mover):
            continue
        finding = mover_finding(report, mover, "outcome-down-year-on-year",
                                _words(N_("%(kpi)s below last year"), kpi=mover.kpi.label))
        yield finding


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


KEY_RESULT_AT_ZERO = 50
"""A key result at 0 ranks from this, plus a point per percent it is from its target (up
to 25 more)."""


def key_result_at_zero(report: Report) -> Iterator[Finding]:
    """An OKR's key result scoring 0: nothing has moved since its start. Its priority grows
    with the distance to its target (50 to 75)."""
    every = report.every_kpi()
    for okr in report.okrs:
        for kr in okr.key_results:
            if not isinstance(kr, KeyResultScore) or kr.score != 0 or kr.value is None:
                continue
            kpi = every.get(kr.kpi)
            unit = kpi.definition.unit.value if kpi else "count"
            dunit = kpi.definition.duration_unit if kpi else "seconds"
            # Ranked by how far it still is from its target: one close to it (a position
            # of 10.4 against 9.5) comes after the period's big business moves.
            far = abs(kr.target - kr.value) / abs(kr.target) if kr.target else 1.0
            yield Finding(
                rule="key-result-at-zero", severity=Severity.CRITICAL,
                priority=KEY_RESULT_AT_ZERO + min(25, round(far * 100)),
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
