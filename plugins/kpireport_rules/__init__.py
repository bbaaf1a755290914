"""Built-in recommendation rules: what to do next, drawn from the KPIs and objectives.

Each rule looks at the computed report and yields findings with the figures that triggered
them, in English and French. Figures in the text are formatted for the report's locale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from kpireport import hookimpl
from kpireport.formatting import ceil_to, format_number, format_period, needed
from kpireport.recommendations import Finding, Rule, Severity
from kpireport.report import Report, Status


def _fmt(report: Report, value: float, unit: str, duration_unit: str = "seconds") -> str:
    from kpireport.formatting import format_value
    from kpireport.kpis import Unit

    return format_value(value, Unit(unit), report.locale, report.currency, duration_unit)


def _pct(report: Report, change: float) -> str:
    from kpireport.formatting import format_change

    return format_change(change, report.locale)


def objective_pace(report: Report) -> Iterator[Finding]:
    """An objective at risk or off track, with time left: the monthly pace now required."""
    all_kpis = report.extra.get("all_kpis", report.kpis)
    for a in report.objectives:
        if a.status not in (Status.OFF_TRACK, Status.AT_RISK) or not a.days_left:
            continue
        if a.required_rate is None or a.value is None:
            continue
        kpi = all_kpis.get(a.kpi)
        unit = kpi.definition.unit.value if kpi else "number"
        dunit = kpi.definition.duration_unit if kpi else "seconds"
        rate = _fmt(report, needed(abs(a.required_rate), unit, dunit), unit, dunit)
        rate_fr = rate
        if unit == "percent" and a.kind != "cumulative":
            # A rate's monthly gain is in points: "gain 0.09 %" would read as a relative change.
            points = ceil_to(abs(a.required_rate) * 100, 2)
            pts = format_number(points, report.locale, 2)
            rate = f"{pts} percentage point{'' if points == 1 else 's'}"
            rate_fr = f"{pts} point{'s' if points >= 2 else ''} de pourcentage"
        target = _fmt(report, a.target, unit, dunit)
        left_en = f"{a.days_left} day{'s' if a.days_left != 1 else ''} left"
        left_fr = f"encore {a.days_left} jour{'s' if a.days_left > 1 else ''}"
        severity = Severity.CRITICAL if a.status is Status.OFF_TRACK else Severity.WARNING
        if a.kind == "cumulative":
            en = (f"To reach {target} by the deadline ({left_en}), each remaining "
                  f"month must now bring {rate}.")
            fr = (f"Pour atteindre {target} à l'échéance ({left_fr}), chaque "
                  f"mois restant doit désormais apporter {rate_fr}.")
        else:
            verb_en = "gain" if a.required_rate >= 0 else "lose"
            verb_fr = "gagner" if a.required_rate >= 0 else "perdre"
            en = (f"To reach {target} by the deadline ({left_en}), the KPI must "
                  f"{verb_en} {rate} each remaining month.")
            fr = (f"Pour atteindre {target} à l'échéance ({left_fr}), "
                  f"l'indicateur doit {verb_fr} {rate_fr} chaque mois restant.")
        yield Finding(
            "objective-pace", severity,
            {"en": f"“{a.title}” needs a faster pace",
             "fr": f"«\u202f{a.title}\u202f»\u202f: accélérer"},
            {"en": en, "fr": fr},
            {"objective": a.key, "value": a.value, "target": a.target,
             "required_per_month": a.required_rate, "days_left": a.days_left,
             "status": a.status.value},
            (a.kpi,),
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
        "traffic-up-conversion-down", Severity.WARNING,
        {"en": "More visits, fewer conversions", "fr": "Plus de visites, moins de conversions"},
        {"en": f"Sessions rose {_pct(report, s_change)} but the conversion rate moved "
               f"{_pct(report, r_change)}: review the landing pages and forms that new visitors "
               "reach.",
         "fr": f"Les sessions évoluent de {_pct(report, s_change)} mais le taux de conversion de "
               f"{_pct(report, r_change)}\u202f: revoir les pages d'arrivée et les formulaires vus "
               "par les nouveaux visiteurs."},
        {"sessions_change": s_change, "conversion_rate_change": r_change},
        ("sessions", "conversion_rate"),
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
        "good-position-low-ctr", Severity.INFO,
        {"en": "Visible in Google but rarely clicked", "fr": "Visible dans Google mais peu cliqué"},
        {"en": f"The average position is {pos} but only {rate} of impressions become clicks: "
               "rewrite the page titles and meta descriptions of the top pages.",
         "fr": f"La position moyenne est de {pos} mais seules {rate} des impressions deviennent "
               "des clics\u202f: réécrire les titres et méta-descriptions des pages principales."},
        {"position": position.value, "ctr": ctr.value},
        ("avg_position", "ctr"),
    )


def sales_cycle_lengthening(report: Report) -> Iterator[Finding]:
    """Deals take much longer to close than a year ago: follow-up needs attention."""
    cycle = report.kpis.get("sales_cycle_length")
    if not cycle or cycle.change_last_year is None or cycle.change_last_year < 0.15:
        return
    days = _fmt(report, cycle.value, "duration", "days")
    before = _fmt(report, cycle.last_year, "duration", "days")
    yield Finding(
        "sales-cycle-lengthening", Severity.WARNING,
        {"en": "Deals take longer to close",
         "fr": "Les affaires mettent plus de temps à se conclure"},
        {"en": f"Won deals took {days} to close against {before} a year ago: review follow-up "
               "after proposals and the qualification of new opportunities.",
         "fr": f"Les affaires gagnées ont mis {days} à se conclure contre {before} il y a "
               "un an\u202f: revoir les relances après proposition et la qualification des "
               "opportunités."},
        {"days": cycle.value, "days_last_year": cycle.last_year},
        ("sales_cycle_length",),
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
    if not clicks or clicks.change_last_year is None or clicks.change_last_year > ORGANIC_DROP:
        return
    change = _pct(report, clicks.change_last_year)
    now, before = (_fmt(report, v, "count") for v in (clicks.value, clicks.last_year))
    yield Finding(
        "organic-traffic-drop", Severity.WARNING,
        {"en": "Organic search is losing ground", "fr": "Le référencement naturel recule"},
        {"en": f"Organic clicks are at {now} against {before} a year ago ({change}): check "
               "rankings of the top queries, indexing errors in Search Console and recent "
               "Google updates.",
         "fr": f"Les clics naturels sont à {now} contre {before} il y a un an ({change})\u202f: "
               "vérifier le classement des principales requêtes, les erreurs d'indexation dans "
               "la Search Console et les dernières mises à jour de Google."},
        {"clicks": clicks.value, "clicks_last_year": clicks.last_year,
         "change_last_year": clicks.change_last_year},
        ("organic_clicks",),
    )


def conversions_falling_spend_holding(report: Report) -> Iterator[Finding]:
    """Ad conversions down 20 % or more while spend holds within ±10 %: tracking (pixel,
    Conversions API) is the first suspect."""
    conv, spend = report.kpis.get("ad_conversions"), report.kpis.get("ad_spend")
    if not conv or not spend:
        return
    c, s = conv.change_previous, spend.change_previous
    if c is None or s is None or c > CONVERSIONS_DROP or abs(s) > SPEND_STEADY:
        return
    yield Finding(
        "conversions-falling-spend-holding", Severity.CRITICAL,
        {"en": "Check conversion tracking", "fr": "Vérifier le suivi des conversions"},
        {"en": f"Ad conversions moved {_pct(report, c)} while spend moved only "
               f"{_pct(report, s)}: check that the pixel and the Conversions API still fire "
               "on the thank-you pages before changing the campaigns.",
         "fr": f"Les conversions publicitaires évoluent de {_pct(report, c)} alors que les "
               f"dépenses ne varient que de {_pct(report, s)}\u202f: vérifier que le pixel et "
               "l'API Conversions se déclenchent toujours sur les pages de remerciement avant "
               "de modifier les campagnes."},
        {"ad_conversions_change": c, "ad_spend_change": s},
        ("ad_conversions", "ad_spend"),
    )


def roas_below_one(report: Report) -> Iterator[Finding]:
    """Ads return less than they cost (ROAS under 1×)."""
    roas = report.kpis.get("roas")
    if not roas or roas.value is None or roas.value >= ROAS_FLOOR:
        return
    value = _fmt(report, roas.value, "ratio")
    yield Finding(
        "roas-below-one", Severity.WARNING,
        {"en": "Ads cost more than they return", "fr": "La publicité coûte plus qu'elle ne "
                                                        "rapporte"},
        {"en": f"Return on ad spend is {value}: pause the campaigns with the lowest return and "
               "move budget to those above 1×.",
         "fr": f"Le retour sur dépenses publicitaires est de {value}\u202f: suspendre les "
               "campagnes les moins rentables et reporter le budget sur celles au-dessus de 1×."},
        {"roas": roas.value},
        ("roas",),
    )


def leads_quality_drop(report: Report) -> Iterator[Finding]:
    """Leads up 10 % or more but the qualified share down 10 points or more: more volume,
    less quality."""
    leads, qualified = report.kpis.get("leads"), report.kpis.get("qualified_leads")
    if not leads or not qualified or None in (leads.value, leads.previous, qualified.value,
                                               qualified.previous):
        return
    if not leads.value or not leads.previous or (leads.change_previous or 0) < LEADS_UP:
        return
    share, before = qualified.value / leads.value, qualified.previous / leads.previous
    if before - share < QUALIFIED_SHARE_DROP:
        return
    now_s, before_s = _fmt(report, share, "percent"), _fmt(report, before, "percent")
    # The period compared with: a month for a monthly report, a quarter's dates for a quarter.
    previous = format_period(report.period.previous, report.locale)
    yield Finding(
        "leads-quality-drop", Severity.WARNING,
        {"en": "More leads, fewer qualified", "fr": "Plus de prospects, moins de qualifiés"},
        {"en": f"Leads rose {_pct(report, leads.change_previous or 0)} but only {now_s} were "
               f"qualified against {before_s} in the previous period ({previous}): review "
               "the forms and the campaigns that bring the new leads.",
         "fr": f"Les prospects augmentent de {_pct(report, leads.change_previous or 0)} mais "
               f"seuls {now_s} sont qualifiés contre {before_s} sur la période précédente "
               f"({previous})\u202f: revoir les formulaires et les campagnes qui amènent les "
               "nouveaux prospects."},
        {"leads": leads.value, "qualified_share": share, "qualified_share_before": before},
        ("leads", "qualified_leads"),
    )


def objective_achieved_early(report: Report) -> Iterator[Finding]:
    """An objective already achieved with more than a month to go: time to raise the bar."""
    for a in report.objectives:
        if a.status is not Status.ACHIEVED or not a.days_left or a.days_left <= EARLY_DAYS:
            continue
        yield Finding(
            "objective-achieved-early", Severity.INFO,
            {"en": f"“{a.title}” is already achieved",
             "fr": f"«\u202f{a.title}\u202f» est déjà atteint"},
            {"en": f"The target is reached with {a.days_left} days to go: set a more "
                   "ambitious one to keep the momentum.",
             "fr": f"La cible est atteinte alors qu'il reste {a.days_left} jours\u202f: fixer un "
                   "objectif plus ambitieux pour garder l'élan."},
            {"value": a.value, "target": a.target, "days_left": a.days_left},
            (a.kpi,),
        )


def revenue_down_year_on_year(report: Report) -> Iterator[Finding]:
    """Online revenue 15 % or more below the same period last year."""
    revenue = report.kpis.get("revenue")
    if not revenue or revenue.change_last_year is None or \
            revenue.change_last_year > REVENUE_DROP:
        return
    now = _fmt(report, revenue.value, "currency")
    before = _fmt(report, revenue.last_year, "currency")
    yield Finding(
        "revenue-down-year-on-year", Severity.CRITICAL,
        {"en": "Revenue below last year", "fr": "Chiffre d'affaires inférieur à l'an dernier"},
        {"en": f"Online revenue is {now} against {before} a year ago: look at orders versus "
               "average basket, and at the channels that fell most.",
         "fr": f"Le chiffre d'affaires en ligne est de {now} contre {before} il y a un an\u202f: "
               "distinguer commandes et panier moyen, et regarder les canaux en plus forte "
               "baisse."},
        {"revenue": revenue.value, "revenue_last_year": revenue.last_year},
        ("revenue",),
    )


RULES = [
    Rule("objective-pace", objective_pace, objective_pace.__doc__ or ""),
    Rule("traffic-up-conversion-down", traffic_up_conversion_down,
         traffic_up_conversion_down.__doc__ or ""),
    Rule("good-position-low-ctr", good_position_low_ctr, good_position_low_ctr.__doc__ or ""),
    Rule("sales-cycle-lengthening", sales_cycle_lengthening,
         sales_cycle_lengthening.__doc__ or ""),
    Rule("organic-traffic-drop", organic_traffic_drop, organic_traffic_drop.__doc__ or ""),
    Rule("conversions-falling-spend-holding", conversions_falling_spend_holding,
         conversions_falling_spend_holding.__doc__ or ""),
    Rule("roas-below-one", roas_below_one, roas_below_one.__doc__ or ""),
    Rule("leads-quality-drop", leads_quality_drop, leads_quality_drop.__doc__ or ""),
    Rule("objective-achieved-early", objective_achieved_early,
         objective_achieved_early.__doc__ or ""),
    Rule("revenue-down-year-on-year", revenue_down_year_on_year,
         revenue_down_year_on_year.__doc__ or ""),
]


@hookimpl
def register_recommendation_rules(register: Callable[[Rule], None]) -> None:
    for rule in RULES:
        register(rule)
