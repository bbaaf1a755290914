"""Built-in recommendation rules: what to do next, drawn from the KPIs and objectives.

Each rule looks at the computed report and yields findings with the figures that triggered
them, in English and French. Figures in the text are formatted for the report's locale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from kpireport import hookimpl
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
        rate = _fmt(report, abs(a.required_rate), unit, dunit)
        target = _fmt(report, a.target, unit, dunit)
        severity = Severity.CRITICAL if a.status is Status.OFF_TRACK else Severity.WARNING
        if a.kind == "cumulative":
            en = (f"To reach {target} by the deadline ({a.days_left} days left), each remaining "
                  f"month must now bring {rate}.")
            fr = (f"Pour atteindre {target} à l'échéance (encore {a.days_left} jours), chaque "
                  f"mois restant doit désormais apporter {rate}.")
        else:
            verb_en = "gain" if a.required_rate >= 0 else "lose"
            verb_fr = "gagner" if a.required_rate >= 0 else "perdre"
            en = (f"To reach {target} by the deadline ({a.days_left} days left), the KPI must "
                  f"{verb_en} {rate} each remaining month.")
            fr = (f"Pour atteindre {target} à l'échéance (encore {a.days_left} jours), "
                  f"l'indicateur doit {verb_fr} {rate} chaque mois restant.")
        yield Finding(
            "objective-pace", severity,
            {"en": f"“{a.title}” needs a faster pace", "fr": f"« {a.title} » : accélérer"},
            {"en": en, "fr": fr},
            {"value": a.value, "target": a.target, "required_per_month": a.required_rate,
             "days_left": a.days_left, "status": a.status.value},
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
               f"{_pct(report, r_change)} : revoir les pages d'arrivée et les formulaires vus "
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
               "des clics : réécrire les titres et méta-descriptions des pages principales."},
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
         "fr": f"Les affaires gagnées ont mis {days} à se conclure contre {before} il y a un an : "
               "revoir les relances après proposition et la qualification des opportunités."},
        {"days": cycle.value, "days_last_year": cycle.last_year},
        ("sales_cycle_length",),
    )


RULES = [
    Rule("objective-pace", objective_pace, objective_pace.__doc__ or ""),
    Rule("traffic-up-conversion-down", traffic_up_conversion_down,
         traffic_up_conversion_down.__doc__ or ""),
    Rule("good-position-low-ctr", good_position_low_ctr, good_position_low_ctr.__doc__ or ""),
    Rule("sales-cycle-lengthening", sales_cycle_lengthening,
         sales_cycle_lengthening.__doc__ or ""),
]


@hookimpl
def register_recommendation_rules(register: Callable[[Rule], None]) -> None:
    for rule in RULES:
        register(rule)
