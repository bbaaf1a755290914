"""Review findings 15: the recommendations name each example client's biggest business-outcome
movers, up and down, on the period before and on last year, once each; old one-off events do
not take the summary's top three from them. Expected moves are computed here from the KPIs'
values, not by the rules' code."""

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from kpireport import Unit
from kpireport.config import load_config
from kpireport.narrative import summarise
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport_rules import RULES

ROOT = Path(__file__).resolve().parent.parent
MONTH = (None, dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC))
QUARTER = ("2026-Q3", dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC))
YTD = ("year-to-date", dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))
# The business outcomes by hand: what the client sells, its pipeline, what it ranks first.
SOLD = {"revenue", "orders", "won_revenue", "won_deals", "new_customers", "qualified_leads",
        "leads", "opportunities", "pipeline_value"}


@pytest.fixture(scope="module")
def reports():
    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    return {(c.id, spec): compute_report(config, c, plugins, period_spec=spec, now=now)
            for spec, now in (MONTH, QUARTER, YTD) for c in config.clients}


def percent(change: float) -> str:
    return ("+" if change > 0 else "\u2212") + f"{abs(change) * 100:.1f}"


def findings_about(report, key: str) -> list:
    return [f for f in report.findings if key in f.kpis]


def test_northwind_names_new_patients_and_treatment_plans_beside_leads(reports):
    report = reports[("northwind-dental", None)]
    patients, plans, leads = (report.kpis[k] for k in ("new_customers", "won_revenue", "leads"))
    # The review's figures, from the values: +25.9 % and +15.7 % on October 2025.
    assert percent(patients.value / patients.last_year - 1) == "+25.9"
    assert percent(plans.value / plans.last_year - 1) == "+15.7"
    [found] = [f for f in report.findings if f.rule == "outcome-movers"
               and f.kpis == ("new_customers",)]
    assert found.title["en"] == "New patients: +25.9% vs October 2025"
    assert "New patients: 335 (September 2026: 308, +8.8%; October 2025: 266, +25.9%)" in \
        found.text["en"]
    [found] = [f for f in report.findings if f.kpis == ("won_revenue",)]
    # Every mover card gives both comparisons, the month before's too (+3.8 %).
    assert ("$231,210 (September 2026: $222,740, +3.8%; October 2025: $199,840, +15.7%). "
            "Better on both comparisons") in found.text["en"]
    # The French text in French figures and dates (fr_FR), though Northwind's are American,
    # in a wording that agrees with any KPI's gender and number.
    assert ("231\u202f210\xa0$US (septembre 2026\u202f: 222\u202f740\xa0$US, +3,8\u202f%\u202f; "
            "octobre 2025\u202f: 199\u202f840\xa0$US, +15,7\u202f%). En progrès sur les deux "
            "comparaisons\u202f: identifier ce qui a porté ce progrès") in found.text["fr"]
    assert "l'a porté" not in found.text["fr"]
    # Leads, up on both comparisons, is one finding that says both.
    [found] = [f for f in report.findings if f.rule == "outcome-movers" and f.kpis == ("leads",)]
    assert ", +14.6%" in found.text["en"] and ", +16.5%" in found.text["en"]
    assert found.figures["change_previous"] == pytest.approx(leads.change_previous)
    assert found.figures["change_last_year"] == pytest.approx(leads.change_last_year)


def test_acme_s_quarter_names_its_revenue_doubling_on_last_year(reports):
    report = reports[("acme-robotics", "2026-Q3")]
    revenue = report.kpis["won_revenue"]
    assert percent(revenue.change_last_year) == "+107.5"
    [found] = [f for f in report.findings if f.rule == "outcome-movers"
               and f.kpis == ("won_revenue",)]
    assert found.title["en"].startswith("Revenue from won deals: +107.5% vs Q3 2025")
    # and its fall on the quarter before: new opportunities −26.0 %, a warning ranked high.
    [fall] = [f for f in report.findings if f.kpis == ("opportunities",)]
    assert fall.title["en"].startswith("New opportunities: \u221226.0% vs Q2 2026")
    # The biggest business news first: revenue doubled on the year (85) before a fall of
    # a quarter in new opportunities (70), whose impact names its unit and period.
    assert found.rank == 85 and fall.rank == 70
    assert fall.impact["en"] == "19 new opportunities short of Q2 2026's level"
    assert fall.impact["fr"].replace("\u202f", " ") == ("19 nouvelles opportunités de moins "
                                                       "qu'en T2 2026")


@pytest.mark.parametrize("client", ["maison-lumiere", "northwind-dental", "acme-robotics"])
@pytest.mark.parametrize("spec", [None, "2026-Q3", "year-to-date"])
def test_the_biggest_rise_and_fall_on_each_comparison_are_recommended(reports, client, spec):
    report = reports[(client, spec)]
    headline = set(report.client.headline or ())
    outcomes = [k for k in report.kpis.values() if k.value is not None
                and k.definition.unit in (Unit.COUNT, Unit.CURRENCY)
                and (k.definition.id in SOLD or k.key in headline)]
    comparisons = [("change_previous", "previous")]
    if report.period.previous != report.period.last_year:
        comparisons.append(("change_last_year", "last_year"))
    named = 0
    for change, before in comparisons:
        for good in (True, False):
            moved = [(getattr(k, change), k) for k in outcomes
                     if getattr(k, before) and abs(getattr(k, change)) >= 0.05
                     and k.is_better(getattr(k, change)) is good]
            if not moved:
                continue
            size, kpi = max(moved, key=lambda m: abs(m[0]))
            # Read in English whatever the locale: "+15,9 %" as "+15.9%".
            texts = [f.text["en"].replace("\xa0", "").replace("\u202f", "").replace(",", ".")
                     for f in findings_about(report, kpi.key)]
            assert any(f"{percent(size)}%" in t for t in texts), (kpi.key, change, texts)
            named += 1
    assert named >= 1
    # One finding per outcome and meaning: no KPI told twice as good (or bad) news.
    told = [(f.kpis, f.severity == "info") for f in report.findings
            if f.rule in ("outcome-movers", "outcome-down-year-on-year")]
    assert len(told) == len(set(told))


def test_the_three_clients_monthly_movers_lead_or_follow_by_size(reports):
    acme = reports[("acme-robotics", None)]
    first, second = acme.findings[:2]
    assert first.title["en"] == "Revenue from won deals: \u221287.6% vs September 2026"
    # Won deals' −80.0 % on September and −33.3 % on last year: one finding, both said.
    assert second.kpis == ("won_deals",) and ", \u221280.0%" in second.text["en"] and \
        ", \u221233.3%" in second.text["en"]
    assert not [f for f in acme.findings if f.rule == "outcome-down-year-on-year"]


def plain_fr(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def top_three(report) -> list[str]:
    return summarise(report, lambda s: s).recommended


def test_an_old_one_off_event_is_no_recommendation_in_a_year_to_date(reports):
    # Acme's trade-show week of 28 Sept (two months before the year to date's end) and
    # Maison's 25 June are charted, not recommended: only the last month's odd days are.
    for client in ("acme-robotics", "maison-lumiere"):
        report = reports[(client, "year-to-date")]
        odd = [f for f in report.findings if f.rule in ("unusual-day", "unusual-week")]
        assert all(dt.date.fromisoformat(f.figures.get("day") or f.figures["week"])
                   >= dt.date(2026, 10, 24) for f in odd), odd
        assert not any(f.figures.get("day") == "2026-06-25" for f in odd)
        assert not any(f.figures.get("week") == "2026-09-28" for f in odd)
        assert not any(line.startswith(("An unusual", "Une journée", "Une semaine"))
                       for line in top_three(report))
    # The monthly report's 1 October is the batch of leads the agency's note on qualified
    # leads explains: their card points to the note, with no order and no odd day (its
    # 29–30 September are in no figure of the month), nor a card of its own.
    acme = reports[("acme-robotics", None)]
    assert not [f for f in acme.findings if f.rule == "unusual-day"]
    [card] = [f for f in acme.findings if f.rule == "outcome-movers"
              and f.kpis == ("qualified_leads",)]
    assert card.text["en"].endswith("Better on both comparisons: the agency's note on this "
                                    "indicator, earlier in the report, explains the rise.")
    assert "invest" not in card.text["en"] and "stands out" not in card.text["en"]
    assert plain_fr(card.text["fr"]).endswith("explique cette hausse.")


def test_an_odd_day_is_recommended_within_the_last_month_of_the_data_only(reports):
    from kpireport.kpis import SeriesPoint

    report = reports[("acme-robotics", "2026-Q3")]
    [rule] = [r for r in RULES if r.id == "unusual-day"]

    def spike_on(index: int) -> int | None:
        days = [1000.0 + (i % 5 - 2) * 25 for i in range(92)]
        days[index] = 3000.0
        kpi = dataclasses.replace(report.kpis["sessions"], daily=[
            SeriesPoint(start=dt.date(2026, 7, 1) + dt.timedelta(days=i), value=v)
            for i, v in enumerate(days)])
        copy = dataclasses.replace(report, kpis={"sessions": kpi})
        found = list(rule.evaluate(copy))
        return found[0].rank if found else None

    assert spike_on(85) == 35 + 2                # a traffic count, 2× its usual away: + 2
    assert spike_on(60) == 35 + 2                # 31 days before the last day: recent
    assert spike_on(59) is None and spike_on(3) is None  # older: not recommended


def test_maison_s_quarter_tells_each_outcome_once_and_leads_with_the_biggest_news(reports):
    report = reports[("maison-lumiere", "2026-Q3")]
    orders = [f for f in report.findings if "orders" in f.kpis
              and f.rule.startswith("outcome-")]
    # One card: −11.1 % on Q2 and +39.0 % on Q3 2025, read as a likely seasonal dip.
    [card] = orders
    fr = card.text["fr"].replace("\u202f", " ").replace("\xa0", " ")
    assert "Commandes : 7 470 (T2 2026 : 8 402, −11,1 % ; T3 2025 : 5 373, +39,0 %)" in fr
    # Last year's same move decides: Q3 2025 had fallen 7.2 % on Q2 2025; −11.1 % is 3.9
    # points deeper, partly seasonal: an action, and the gap.
    assert ("En recul de 11,1 % sur le T2 2026, 3,9 points de plus que la baisse de l'an "
            "dernier (le T3 2025 avait reculé de 7,2 % sur le T2 2025)") in fr
    assert card.title["en"] == "Commandes: \u221211.1% vs Q2 2026"
    assert card.impact["en"] == "932 orders short of Q2 2026's level"
    # Revenue, +46.6 % on the year, ranks above the key result at 0 near its target.
    revenue = next(f for f in report.findings if f.kpis == ("revenue",))
    zero = [f for f in report.findings if f.rule == "key-result-at-zero"]
    assert all(revenue.rank > z.rank for z in zero)
    assert report.findings[0].rule.startswith("outcome-")


SIGNS = {  # (value, previous, last year) → the action's opening words, en and fr
    (130, 100, 110): ("Better on both comparisons", "En progrès sur les deux comparaisons"),
    (80, 100, 60): ("Down on the period before but better than a year ago: check whether last "
                    "year fell", "En recul sur la période précédente mais meilleur qu'il y a un "
                    "an"),
    (80, 60, 100): ("Better than the period before but still short of last year: the "
                    "recovery has begun", "En progrès sur la période précédente mais encore en "
                    "deçà de l'an dernier"),
    (60, 100, 90): ("Down on both comparisons: find which channels",
                    "En recul sur les deux comparaisons : identifier les canaux"),
}


@pytest.mark.parametrize(("figures", "opening"), SIGNS.items())
def test_the_four_sign_combinations_give_one_coherent_action(reports, figures, opening):
    from kpireport.kpis import KpiValue
    from kpireport_rules.outcomes import outcome_down_year_on_year, outcome_movers

    base = reports[("maison-lumiere", None)]
    definition = base.kpis["orders"].definition
    value, previous, last_year = figures
    kpi = KpiValue(key="orders", definition=definition, label="Orders", value=value,
                   previous=previous, last_year=last_year)
    report = dataclasses.replace(base, kpis={"orders": kpi}, findings=[], objectives=[],
                                 brand={}, locale="en_GB", language="en")
    [card] = [*outcome_movers(report), *outcome_down_year_on_year(report)]
    en = card.text["en"]
    assert en.startswith(f"Orders: {value} (September 2026: {previous}, ")
    assert "; October 2025: " in en and opening[0] in en
    assert opening[1] in card.text["fr"].replace("\u202f", " ")
    good = value > previous, value > last_year
    assert (card.severity == "info") is all(good)
    if not any(good):  # a fall on both: the biggest gap, with its unit and period
        assert card.impact["en"] == "40 orders short of September 2026's level"
        assert card.impact["fr"].startswith("40 commandes de moins qu'en septembre 2026")
    # With the analyst's note on the KPI, the card points to it instead of asking why.
    noted = dataclasses.replace(report, brand={"commentary": "## Note: orders\n\nA price "
                                               "change on 3 October.\n"})
    [card] = [*outcome_movers(noted), *outcome_down_year_on_year(noted)]
    # Rise or fall: a noted KPI's card points to the note ("explains the rise" for a rise)
    # and gives no order.
    assert "agency's note on this indicator" in card.text["en"]
    assert ("explains the rise" in card.text["en"]) is all(good)
    assert "find which channels" not in card.text["en"].lower()
    assert "invest more" not in card.text["en"]
    # The note explains the change: no loss to win back, no order to act.
    assert not card.impact and "act on" not in card.text["en"]
