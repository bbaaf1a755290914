"""Built-in recommendation rules: what to do next, drawn from the KPIs and objectives.

Each rule looks at the computed report and yields findings with the figures that triggered
them, in English (the messages' ids) and in each language of ``locale/`` (French so far):
a new language is one more ``locale/<lang>/LC_MESSAGES/kpireport_rules.po``. Figures and
dates in each language's text are formatted in a locale of that language: the report's when
it is of that language, else the language's default (:func:`language_locale`), so that an
American report's French text says "3 novembre 2026", not "Nov 3, 2026". The data a text
quotes (a query, a page, a campaign) is named in the finding's ``verbatim``: the report
prints it as it is, inside the language's quotes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

from kpireport import NoteKind, hookimpl
from kpireport.formatting import (
    format_date,
    format_number,
    format_period,
    language_locale,
    needed,
    plural_count,
    points_needed,
)
from kpireport.kpis import KpiValue
from kpireport.recommendations import Finding, Rule, Severity
from kpireport.report import Report, Status

if TYPE_CHECKING:
    from gettext import NullTranslations

    from kpireport.data import DateRange
    from kpireport.periods import Period

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
"""The rules' catalogues, ``<lang>/LC_MESSAGES/kpireport_rules.po``."""
DOMAIN = "kpireport_rules"


def N_(message: str) -> str:
    """Babel's marker for a message translated in each language by :func:`_words`."""
    return message


@lru_cache(maxsize=8)
def _languages(locale_dir: Path) -> tuple[str, ...]:
    """English, which the messages are written in, and every language with a catalogue."""
    found = sorted(po.parent.parent.name for po in locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return ("en", *(lang for lang in found if lang != "en"))


def _each(say: Callable[[NullTranslations, str], str]) -> dict[str, str]:
    """``say(words, language)`` for each language: a finding carries all of them."""
    # Imported here: loading the plugins must not load the renderer.
    from kpireport.templating import translations

    return {lang: say(translations(LOCALE_DIR, lang, DOMAIN), lang)
            for lang in _languages(LOCALE_DIR)}


class Shown(str):
    """A figure or a date as the report's locale prints it (the string itself), which each
    language's text prints in a locale of that language instead (:meth:`in_language`)."""

    _write: Callable[[str], str]
    _locale: str
    _other: dict[str, str]

    def __new__(cls, write: Callable[[str], str], locale: str) -> Shown:
        shown = super().__new__(cls, write(locale))
        shown._write, shown._locale, shown._other = write, locale, {}
        return shown

    def in_language(self, language: str) -> str:
        # Each language's text asks for it again; formatting (a period's range through
        # Babel) is the cost, so the report's own locale is the string itself and another
        # is written once.
        locale = language_locale(language, self._locale)
        if locale == self._locale:
            return str.__str__(self)
        if locale not in self._other:
            self._other[locale] = self._write(locale)
        return self._other[locale]


def in_language(values: Mapping[str, object], language: str) -> dict[str, object]:
    """``values`` for a text in ``language``: each :class:`Shown` in that language's locale."""
    return {k: v.in_language(language) if isinstance(v, Shown) else v
            for k, v in values.items()}


def _words(message: str, **values: object) -> dict[str, str]:
    """``message`` (marked with ``N_``) in each language, with ``values`` put in (each
    figure and date in that language's locale)."""
    return _each(lambda words, lang: words.gettext(message) % in_language(values, lang)
                 if values else words.gettext(message))


def localized(report: Report, write: Callable[[str], str]) -> Shown:
    """``write(locale)`` in the report's locale, and in each language's for its text."""
    return Shown(write, report.locale)


def _fmt(report: Report, value: float, unit: str, duration_unit: str = "seconds") -> Shown:
    from kpireport import Unit
    from kpireport.formatting import format_value

    return localized(report, lambda locale: format_value(value, Unit(unit), locale, report.currency,
                                                     duration_unit))


def _pct(report: Report, change: float) -> Shown:
    from kpireport.formatting import format_change

    return localized(report, partial(format_change, change))


def _date(report: Report, day: dt.date, form: str = "medium") -> Shown:
    return localized(report, lambda locale: format_date(day, locale, form))


def _dates(report: Report, days: Iterable[dt.date], form: str = "medium") -> Shown:
    """Days one after the other (``3 Nov 2026, 4 Nov 2026``)."""
    days = list(days)
    return localized(report, lambda locale: ", ".join(format_date(d, locale, form) for d in days))


def _period(report: Report, period: Period | DateRange) -> Shown:
    return localized(report, partial(format_period, period))


def _decimals(report: Report, value: float, decimals: int) -> Shown:
    return localized(report, lambda locale: format_number(value, locale, decimals))


def noted_kpis(report: Report) -> frozenset[str]:
    """The keys (lower case) of the KPIs the analyst's commentary has a note on: a finding
    about one points to the note, which gives the cause, instead of asking to find it."""
    commentary = report.brand.get("commentary") if report.brand else None
    if not commentary:
        return frozenset()
    return _noted(commentary)


@lru_cache(maxsize=8)
def _noted(commentary: str) -> frozenset[str]:
    from kpireport.analyst_notes import parse

    return frozenset(note.key.lower() for note in parse(commentary).notes)


def unit_noun(report: Report, kpi: KpiValue) -> dict[str, str]:
    """What a count of ``kpi`` counts, per language, for "8 won deals to win back": its
    label with a lower-case first letter (an acronym such as "CTR" kept), in the report's
    language the client's own label; a language without a label of its own takes it too."""

    def lowered(label: str) -> str:
        if len(label) > 1 and label[1].isupper():
            return label
        return label[:1].lower() + label[1:]

    labels = {lang: kpi.definition.label.get(lang) for lang in _languages(LOCALE_DIR)}
    nouns = {lang: lowered(label) for lang, label in labels.items() if label}
    nouns[report.language.split("_")[0]] = lowered(kpi.label)
    nouns.setdefault("en", lowered(kpi.label))
    return nouns


def _pace(words: NullTranslations, language: str, *, sentence: str, days: int, target: str,
          amount: str, points: float | None, locale: str) -> str:
    """The pace sentence in one language: its day count and, for a rate, its points."""
    left = words.ngettext("%(days)s day left", "%(days)s days left", days) % {"days": days}
    if points is None:
        rate = amount
    else:
        rate = words.ngettext("%(points)s percentage point", "%(points)s percentage points",
                              plural_count(points, language)) % {
            "points": format_number(points, language_locale(language, locale), 2)}
    return words.gettext(sentence) % in_language({"target": target, "left": left,
                                                  "rate": rate}, language)


def objective_pace(report: Report) -> Iterator[Finding]:
    """An objective at risk or off track, with time left: the monthly pace now required."""
    all_kpis = report.every_kpi()
    for a in report.objectives:
        if a.status not in (Status.OFF_TRACK, Status.AT_RISK) or not a.days_left:
            continue
        if a.required_rate is None or a.value is None:
            continue
        kpi = all_kpis.get(a.kpi)
        unit = kpi.definition.unit.value if kpi else "number"
        dunit = kpi.definition.duration_unit if kpi else "seconds"
        amount = _fmt(report, needed(abs(a.required_rate), unit, dunit), unit, dunit)
        # A rate's monthly gain is in points: "gain 0.09 %" would read as a relative change.
        points = (points_needed(a.required_rate)
                  if unit == "percent" and a.kind != "cumulative" else None)
        target = _fmt(report, a.target, unit, dunit)
        days = a.days_left
        if a.kind == "cumulative":
            sentence = N_("To reach %(target)s by the deadline (%(left)s), each remaining month "
                          "must now bring %(rate)s.")
        elif a.required_rate >= 0:
            sentence = N_("To reach %(target)s by the deadline (%(left)s), a "
                          "rise of %(rate)s is needed each remaining month.")
        else:
            sentence = N_("To reach %(target)s by the deadline (%(left)s), a "
                          "fall of %(rate)s is needed each remaining month.")

        severity = Severity.CRITICAL if a.status is Status.OFF_TRACK else Severity.WARNING
        yield Finding(
            rule="objective-pace", severity=severity,
            title=_words(N_("“%(objective)s” needs a faster pace"), objective=a.title),
            text=_each(partial(_pace, sentence=sentence, days=days, target=target, amount=amount,
                               points=points, locale=report.locale)),
            figures={"objective": a.key, "value": a.value, "target": a.target,
                     "required_per_month": a.required_rate, "days_left": a.days_left,
                     "status": a.status.value},
            kpis=(a.kpi,),
        )


def traffic_up_conversion_down(report: Report) -> Iterator[Finding]:
    """More visits but a lower conversion rate: the landing pages or forms lose visitors."""
    sessions, rate = report.kpis.get("sessions"), report.kpis.get("conversion_rate")
    if not sessions or not rate:
        return
    s_change, r_change = sessions.change_previous, rate.change_previous
    if s_change is None or r_change is None or s_change < 0.05 or r_change > -0.05:
        return
    yield Finding(
        rule="traffic-up-conversion-down", severity=Severity.WARNING,
        title=_words(N_("More visits, fewer conversions")),
        text=_words(N_("Sessions rose %(sessions)s but the conversion rate moved %(rate)s: "
                       "review the landing pages and forms that new visitors reach."),
                    sessions=_pct(report, s_change), rate=_pct(report, r_change)),
        figures={"sessions_change": s_change, "conversion_rate_change": r_change},
        kpis=("sessions", "conversion_rate"),
    )


def good_position_low_ctr(report: Report) -> Iterator[Finding]:
    """Ranking on the first page but few clicks: titles and descriptions do not attract."""
    position, ctr = report.kpis.get("avg_position"), report.kpis.get("ctr")
    if not position or not ctr or position.value is None or ctr.value is None:
        return
    if position.value > 10 or ctr.value >= 0.02:
        return
    pos = _fmt(report, position.value, "position")
    rate = _fmt(report, ctr.value, "percent")
    yield Finding(
        rule="good-position-low-ctr", severity=Severity.INFO,
        title=_words(N_("Visible in Google but rarely clicked")),
        text=_words(N_("The average position is %(position)s but only %(ctr)s of impressions "
                       "become clicks: rewrite the page titles and meta descriptions of the "
                       "top pages."),
                    position=pos, ctr=rate),
        figures={"position": position.value, "ctr": ctr.value},
        kpis=("avg_position", "ctr"),
    )


def sales_cycle_lengthening(report: Report) -> Iterator[Finding]:
    """Deals take much longer to close than a year ago: follow-up needs attention."""
    cycle = report.kpis.get("sales_cycle_length")
    if not cycle or cycle.value is None or cycle.last_year is None:
        return
    if cycle.change_last_year is None or cycle.change_last_year < 0.15:
        return
    days = _fmt(report, cycle.value, "duration", "days")
    before = _fmt(report, cycle.last_year, "duration", "days")
    yield Finding(
        rule="sales-cycle-lengthening", severity=Severity.WARNING,
        title=_words(N_("Deals take longer to close")),
        text=_words(N_("Won deals took %(days)s to close against %(before)s a year ago: review "
                       "follow-up after proposals and the qualification of new opportunities."),
                    days=days, before=before),
        figures={"days": cycle.value, "days_last_year": cycle.last_year},
        kpis=("sales_cycle_length",),
    )


ORGANIC_DROP = -0.20
"""Organic clicks this far below the same period last year call for an SEO check."""
CONVERSIONS_DROP = -0.20
SPEND_STEADY = 0.10
"""Ad conversions falling this much while spend moves less than this: suspect tracking."""
ROAS_FLOOR = 1.0
LEADS_UP = 0.10
QUALIFIED_SHARE_DROP = 0.10
"""Leads up this much while the qualified share falls this many points: lead quality."""
EARLY_DAYS = 30
REVENUE_DROP = -0.15


def organic_traffic_drop(report: Report) -> Iterator[Finding]:
    """Organic clicks 20 % or more below the same period last year: rankings, indexing or a
    Google update may be at play."""
    clicks = report.kpis.get("organic_clicks")
    if not clicks or clicks.value is None or clicks.last_year is None:
        return
    if clicks.change_last_year is None or clicks.change_last_year > ORGANIC_DROP:
        return
    change = _pct(report, clicks.change_last_year)
    now, before = _fmt(report, clicks.value, "count"), _fmt(report, clicks.last_year, "count")
    yield Finding(
        rule="organic-traffic-drop", severity=Severity.WARNING,
        title=_words(N_("Organic search is losing ground")),
        text=_words(N_("Organic clicks are at %(now)s against %(before)s a year ago (%(change)s): "
                       "check rankings of the top queries, indexing errors in Search Console and "
                       "recent Google updates."),
                    now=now, before=before, change=change),
        figures={"clicks": clicks.value, "clicks_last_year": clicks.last_year,
                 "change_last_year": clicks.change_last_year},
        kpis=("organic_clicks",),
    )


def conversions_falling_spend_holding(report: Report) -> Iterator[Finding]:
    """Ad conversions down 20 % or more while spend holds within ±10 %, or a source saying
    its tracking recorded nothing on days the ads ran (a ``tracking_gap`` note): tracking
    (pixel, Conversions API) is the first suspect."""
    gaps = sorted({day for kpi in report.kpis.values() for note in kpi.notes
                   if note.kind is NoteKind.TRACKING_GAP for day in note.dates})
    if gaps:
        days = _dates(report, gaps)
        yield Finding(
            rule="conversions-falling-spend-holding", severity=Severity.CRITICAL,
            title=_words(N_("Check conversion tracking")),
            text=_words(N_("The tracking recorded no event on %(days)s while the ads were "
                           "spending: check that the pixel and the Conversions API still fire "
                           "on the site before changing the campaigns."), days=days),
            figures={"tracking_gap_days": float(len(gaps))},
            kpis=tuple(key for key, kpi in report.kpis.items()
                       if any(n.kind is NoteKind.TRACKING_GAP for n in kpi.notes)),
        )
        return
    conv, spend = report.kpis.get("ad_conversions"), report.kpis.get("ad_spend")
    if not conv or not spend:
        return
    c, s = conv.change_previous, spend.change_previous
    if c is None or s is None or c > CONVERSIONS_DROP or abs(s) > SPEND_STEADY:
        return
    yield Finding(
        rule="conversions-falling-spend-holding", severity=Severity.CRITICAL,
        title=_words(N_("Check conversion tracking")),
        text=_words(N_("Ad conversions moved %(conversions)s while spend moved only %(spend)s: "
                       "check that the pixel and the Conversions API still fire on the "
                       "thank-you pages before changing the campaigns."),
                    conversions=_pct(report, c), spend=_pct(report, s)),
        figures={"ad_conversions_change": c, "ad_spend_change": s},
        kpis=("ad_conversions", "ad_spend"),
    )


def roas_below_one(report: Report) -> Iterator[Finding]:
    """Ads return less than they cost (ROAS under 1×)."""
    roas = report.kpis.get("roas")
    if not roas or roas.value is None or roas.value >= ROAS_FLOOR:
        return
    value = _fmt(report, roas.value, "ratio")
    yield Finding(
        rule="roas-below-one", severity=Severity.WARNING,
        title=_words(N_("Ads cost more than they return")),
        text=_words(N_("Return on ad spend is %(roas)s: pause the campaigns with the lowest return "
                       "and move budget to those above 1×."), roas=value),
        figures={"roas": roas.value},
        kpis=("roas",),
    )


def leads_quality_drop(report: Report) -> Iterator[Finding]:
    """Leads up 10 % or more but the qualified share down 10 points or more: more volume,
    less quality."""
    leads, qualified = report.kpis.get("leads"), report.kpis.get("qualified_leads")
    if not leads or not qualified or qualified.value is None or qualified.previous is None:
        return
    if not leads.value or not leads.previous or (leads.change_previous or 0) < LEADS_UP:
        return
    share, before = qualified.value / leads.value, qualified.previous / leads.previous
    if before - share < QUALIFIED_SHARE_DROP:
        return
    now_s, before_s = _fmt(report, share, "percent"), _fmt(report, before, "percent")
    # The period compared with: a month for a monthly report, a quarter's dates for a quarter.
    previous = _period(report, report.period_of(qualified.key).previous)
    yield Finding(
        rule="leads-quality-drop", severity=Severity.WARNING,
        title=_words(N_("More leads, fewer qualified")),
        text=_words(N_("Leads rose %(leads)s but only %(now)s were qualified against %(before)s in "
                       "the previous period (%(previous)s): review the forms and the campaigns "
                       "that bring the new leads."),
                    leads=_pct(report, leads.change_previous or 0), now=now_s, before=before_s,
                    previous=previous),
        figures={"leads": leads.value, "qualified_share": share, "qualified_share_before": before},
        kpis=("leads", "qualified_leads"),
    )


def objective_achieved_early(report: Report) -> Iterator[Finding]:
    """An objective already achieved with more than a month to go: time to raise the bar."""
    for a in report.objectives:
        if a.status is not Status.ACHIEVED or not a.days_left or a.days_left <= EARLY_DAYS:
            continue
        yield Finding(
            rule="objective-achieved-early", severity=Severity.INFO,
            title=_words(N_("“%(objective)s” is already achieved"), objective=a.title),
            text=_each(partial(_achieved_early_text, days=a.days_left)),
            figures={"value": a.value, "target": a.target, "days_left": a.days_left},
            kpis=(a.kpi,),
        )


def _achieved_early_text(words: NullTranslations, _: str, days: int) -> str:
    return words.ngettext(
        "The target is reached with %(days)s day to go: set a more ambitious one to "
        "keep the momentum.",
        "The target is reached with %(days)s days to go: set a more ambitious one to "
        "keep the momentum.", days) % {"days": days}


def revenue_down_year_on_year(report: Report) -> Iterator[Finding]:
    """Online revenue 15 % or more below the same period last year."""
    revenue = report.kpis.get("revenue")
    if not revenue or revenue.value is None or revenue.last_year is None:
        return
    if revenue.change_last_year is None or revenue.change_last_year > REVENUE_DROP:
        return
    now = _fmt(report, revenue.value, "currency")
    before = _fmt(report, revenue.last_year, "currency")
    yield Finding(
        rule="revenue-down-year-on-year", severity=Severity.CRITICAL,
        title=_words(N_("Revenue below last year")),
        text=_words(N_("Online revenue is %(now)s against %(before)s a year ago: look at orders "
                       "versus average basket, and at the channels that fell most."),
                    now=now, before=before),
        figures={"revenue": revenue.value, "revenue_last_year": revenue.last_year},
        kpis=("revenue",),
    )


def _rule(rule_id: str, evaluate: Callable[[Report], Iterable[Finding]]) -> Rule:
    return Rule(id=rule_id, evaluate=evaluate, description=evaluate.__doc__ or "")


# Imported here, once the helpers above exist: the rules' modules use them.
from kpireport_rules import anomalies, channels, outcomes  # noqa: E402

RULES = [
    _rule("objective-pace", objective_pace),
    _rule("traffic-up-conversion-down", traffic_up_conversion_down),
    _rule("good-position-low-ctr", good_position_low_ctr),
    _rule("sales-cycle-lengthening", sales_cycle_lengthening),
    _rule("organic-traffic-drop", organic_traffic_drop),
    _rule("conversions-falling-spend-holding", conversions_falling_spend_holding),
    _rule("roas-below-one", roas_below_one),
    _rule("leads-quality-drop", leads_quality_drop),
    _rule("objective-achieved-early", objective_achieved_early),
    _rule("revenue-down-year-on-year", revenue_down_year_on_year),
    _rule("outcome-movers", outcomes.outcome_movers),
    _rule("outcome-down-year-on-year", outcomes.outcome_down_year_on_year),
    _rule("objective-missed", outcomes.objective_missed),
    _rule("key-result-at-zero", outcomes.key_result_at_zero),
    _rule("pipeline-shrinking", outcomes.pipeline_shrinking),
    _rule("lost-deals-up", outcomes.lost_deals_up),
    _rule("lead-conversion-falling", outcomes.lead_conversion_falling),
    _rule("channel-efficiency", channels.channel_efficiency),
    _rule("pages-without-conversions", channels.pages_without_conversions),
    _rule("ctr-by-position", channels.ctr_by_position),
    _rule("spend-on-poor-campaign", channels.spend_on_poor_campaign),
    _rule("brand-dependence", channels.brand_dependence),
    _rule("position-slipping", channels.position_slipping),
    _rule("cpc-rising", channels.cpc_rising),
    _rule("cost-per-result-rising", channels.cost_per_result_rising),
    _rule("cost-per-lead-rising", channels.cost_per_lead_rising),
    _rule("ad-fatigue", channels.ad_fatigue),
    _rule("unusual-day", anomalies.unusual_day),
    _rule("unusual-week", anomalies.unusual_week),
    _rule("tracking-gap", anomalies.tracking_gap),
]


@hookimpl
def register_recommendation_rules(register: Callable[[Rule], None]) -> None:
    for rule in RULES:
        register(rule)
