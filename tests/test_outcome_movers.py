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
    assert "$231,210 (October 2025: $199,840, +15.7%)" in found.text["en"]
    # The French text in French figures and dates (fr_FR), though Northwind's are American.
    assert ("231\u202f210\xa0$US (octobre 2025\u202f: 199\u202f840\xa0$US, +15,7\u202f%). "
            "Identifier") in found.text["fr"]
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
    assert fall.rank > found.rank


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


def top_three(report) -> list[str]:
    return summarise(report, lambda s: s).recommended


def test_an_old_one_off_event_does_not_take_a_top_three_slot_in_a_year_to_date(reports):
    acme = reports[("acme-robotics", "year-to-date")]
    odd = [f for f in acme.findings if f.rule in ("unusual-day", "unusual-week")]
    # The trade-show week of 28 Sept and its 30 Sept are one event, told once.
    [event] = odd
    assert event.title["en"] == "An unusual week: from 28 Sept 2026"
    assert event.figures["kpi"] == "qualified_leads"
    assert not any(line.startswith("An unusual") for line in top_three(acme))
    # Below the year's biggest outcome mover: two months old.
    mover = next(f for f in acme.findings if f.rule == "outcome-movers")
    assert event.rank < mover.rank
    maison = reports[("maison-lumiere", "year-to-date")]
    [day] = [f for f in maison.findings if f.rule == "unusual-day"]
    assert day.figures["day"] == "2026-06-25"
    assert not any(line.startswith("Une journée") or line.startswith("An unusual")
                   for line in top_three(maison))
    assert day.rank < min(f.rank for f in maison.findings if f.rule == "outcome-movers")


def test_a_recent_odd_day_keeps_its_rank_and_an_old_one_loses_it(reports):
    from kpireport.kpis import SeriesPoint

    report = reports[("acme-robotics", "2026-Q3")]
    [rule] = [r for r in RULES if r.id == "unusual-day"]

    def spike_on(index: int) -> int:
        days = [1000.0 + (i % 5 - 2) * 25 for i in range(92)]
        days[index] = 3000.0
        kpi = dataclasses.replace(report.kpis["sessions"], daily=[
            SeriesPoint(start=dt.date(2026, 7, 1) + dt.timedelta(days=i), value=v)
            for i, v in enumerate(days)])
        copy = dataclasses.replace(report, kpis={"sessions": kpi})
        [finding] = rule.evaluate(copy)
        return finding.rank

    recent, month_old, months_old = spike_on(85), spike_on(40), spike_on(3)
    assert recent == 35 + 2                      # a traffic count, 2× its usual away: + 2
    assert months_old < month_old < recent
    assert months_old == 35 + 2 - 15 - 6         # 88 days before the last: 2 months old
