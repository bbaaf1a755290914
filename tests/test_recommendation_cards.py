"""Review 4 of the recommendations' cards: one comparison named as one, last year's same move
telling a seasonal dip from a real fall, the analyst's note covering a family's outcomes,
one card per KPI, and a spike told from a climb. On the example clients' real figures
(monthly, Q3 2026, year to date) and on synthetic series."""

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from kpireport.config import load_config
from kpireport.kpis import SeriesPoint
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport_rules import anomalies
from kpireport_rules.outcomes import last_year_move, outcome_movers

ROOT = Path(__file__).resolve().parent.parent
SPECS = {"month": (None, dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)),
         "Q3": ("2026-Q3", dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)),
         "ytd": ("year-to-date", dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))}
CARDS = ("outcome-movers", "outcome-down-year-on-year")


def plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


@pytest.fixture(scope="module")
def reports():
    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    return {(c.id, name): compute_report(config, c, plugins, period_spec=spec, now=now)
            for name, (spec, now) in SPECS.items() for c in config.clients}


def test_a_year_to_date_card_names_its_one_comparison(reports):
    for client in ("maison-lumiere", "northwind-dental", "acme-robotics"):
        cards = [f for f in reports[(client, "ytd")].findings if f.rule in CARDS]
        assert cards
        for card in cards:
            assert "both" not in card.text["en"] and "deux comparaisons" not in card.text["fr"]
            assert "Better than the same days of 2025: find what drove" in card.text["en"]
            assert "En progrès sur les mêmes jours de 2025 : identifier" in plain(card.text["fr"])


def test_maison_s_quarter_revenue_is_a_seasonal_dip_told_with_last_year_s_figures(reports):
    report = reports[("maison-lumiere", "Q3")]
    revenue = report.kpis["revenue"]
    # Q2 → Q3 2025 from the monthly series, by hand: €354,302 → €333,530.
    months = {p.start: p.value for p in revenue.monthly}
    q2 = sum(months[dt.date(2025, m, 1)] for m in (4, 5, 6))
    q3 = sum(months[dt.date(2025, m, 1)] for m in (7, 8, 9))
    assert round(q2) == 354301 and round(q3) == 333530
    change, _, _ = last_year_move(report, revenue)
    assert change == pytest.approx(q3 / q2 - 1)
    [card] = [f for f in report.findings if f.rule in CARDS and f.kpis == ("revenue",)]
    fr = plain(card.text["fr"])
    assert ("En recul de 9,4 % sur le T2 2026, comme l'an dernier : le T3 2025 avait déjà "
            "reculé de 5,9 % sur le T2 2025. Une baisse saisonnière") in fr
    assert "peut-être saisonnière" not in fr
    # The title names the fall on the quarter, not the +46.6 % on the year.
    assert plain(card.title["fr"]).startswith("Chiffre d’affaires en ligne : −9,4 %")
    assert not card.impact
    # Each card its own sentence: the figures differ from card to card.
    texts = [f.text["fr"] for f in report.findings if f.rule in CARDS]
    assert len(texts) == len(set(texts)) >= 3


def test_northwind_s_quarter_leads_fall_is_not_seasonal(reports):
    report = reports[("northwind-dental", "Q3")]
    [card] = [f for f in report.findings if f.rule in CARDS and f.kpis == ("leads",)]
    # Q3 2025 had risen on Q2 2025 (1,896 against 650 + 630 + 576 = 1,856: +2.2 %).
    assert ("Slightly down (2.1%) on Q2 2026, while Q3 2025 had risen 2.2% on Q2 2025: not a "
            "seasonal dip.") in card.text["en"]


def synthetic_months(last_year_q2: float) -> list[SeriesPoint]:
    months = [SeriesPoint(start=dt.date(2025, m, 1), value=last_year_q2 / 3) for m in (4, 5, 6)]
    return months + [SeriesPoint(start=dt.date(2025, m, 1), value=200.0) for m in (7, 8, 9)]


def synthetic(base, last_year_q2: float, value: float = 880.0) -> list:
    """Maison's Q3 with orders made up: 880 now, 1,000 in Q2 2026, 600 in Q3 2025 (300 in
    Q2 2025 before it, ``last_year_q2`` in all)."""
    orders = dataclasses.replace(base.kpis["orders"], value=value, previous=1000.0,
                                 last_year=600.0, monthly=synthetic_months(last_year_q2))
    report = dataclasses.replace(base, kpis={"orders": orders}, findings=[], objectives=[],
                                 brand={}, locale="en_GB", language="en")
    return list(outcome_movers(report))


def test_a_fall_on_the_period_before_is_judged_by_last_year_s_same_move(reports):
    base = reports[("maison-lumiere", "Q3")]
    # Last year fell 25 % (800 → 600): this year's −12 % is seasonal, no loss to win back.
    [card] = synthetic(base, 800.0)
    assert "Q3 2025 had already fallen 25.0% on Q2 2025. A seasonal dip" in card.text["en"]
    assert not card.impact and card.figures["last_year_move"] == pytest.approx(-0.25)
    assert card.title["en"] == "Commandes: \u221212.0% vs Q2 2026"
    # Last year rose 20 % (500 → 600): a real fall, to act on, with its gap.
    [card] = synthetic(base, 500.0)
    assert "Q3 2025 had risen 20.0% on Q2 2025: the fall is not seasonal" in card.text["en"]
    assert card.impact["en"] == "120 commandes short of Q2 2026's level"
    # Last year fell 2.4 % only: the fall goes beyond the season.
    [card] = synthetic(base, 615.0)
    assert "had fallen only 2.4% on Q2 2025: the fall goes beyond the season" in card.text["en"]
    assert "au-delà de la saison" in card.text["fr"]
    # Months that do not add up to last year's figure (a count of unique visitors), or no
    # months at all: no claim either way, the card asks to check.
    for monthly in (synthetic_months(800.0), []):
        kpi = dataclasses.replace(base.kpis["orders"], value=880.0, previous=1000.0,
                                  last_year=650.0, monthly=monthly)
        report = dataclasses.replace(base, kpis={"orders": kpi}, findings=[], objectives=[],
                                     brand={}, locale="en_GB", language="en")
        assert last_year_move(report, kpi) is None
        [card] = outcome_movers(report)
        assert "check whether last year fell at the same time of year" in card.text["en"]
        assert "seasonal dip" not in card.text["en"]


def test_the_note_on_won_revenue_covers_won_deals_and_orders_nothing(reports):
    report = reports[("acme-robotics", "month")]
    revenue, deals = (next(f for f in report.findings if f.rule in CARDS and f.kpis == (k,))
                      for k in ("won_revenue", "won_deals"))
    assert "the agency's note on this indicator, earlier in the report, explains the change" \
        in revenue.text["en"]
    assert "the agency's note on “Revenue from won deals”, earlier in the report, explains " \
        "the change" in deals.text["en"]
    assert "la note de l'agence sur « Revenue from won deals »" in plain(deals.text["fr"])
    for card in (revenue, deals):
        assert not card.impact and "act on" not in card.text["en"]
        assert "Find which" not in card.text["en"] and "find which" not in card.text["en"]
    # New opportunities rose: the note on a fall does not cover it.
    [rise] = [f for f in report.findings if f.kpis == ("opportunities",)]
    assert "note" not in rise.text["en"]


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("client", ["maison-lumiere", "northwind-dental", "acme-robotics"])
def test_no_kpi_has_two_cards_that_overlap(reports, client, name):
    report = reports[(client, name)]
    by_kpi: dict[str, list[str]] = {}
    for f in report.findings:
        for key in f.kpis:
            by_kpi.setdefault(key, []).append(f.rule)
    for key, rules in by_kpi.items():
        # A mover card with the KPI's objective pace (its own card) is the only pair allowed.
        assert len(rules) == 1 or sorted(rules) in (["objective-pace", "outcome-movers"],
                                                    ["objective-pace",
                                                     "outcome-down-year-on-year"],
                                                    ["objective-pace", "unusual-day"]), \
            (key, rules)
    for f in report.findings:
        if f.rule in CARDS:
            assert "faster pace" not in f.text["en"] and "rythme" not in f.text["fr"]


def with_users(report, days: list[float], value: float | None):
    kpi = dataclasses.replace(report.kpis["sessions"], key="users", value=value, daily=[
        SeriesPoint(start=dt.date(2026, 7, 1) + dt.timedelta(days=i), value=v)
        for i, v in enumerate(days)])
    kpi.definition = dataclasses.replace(kpi.definition, id="users")
    return dataclasses.replace(report, kpis={"users": kpi}, findings=[], brand={})


def test_a_spike_is_an_unusual_day_a_climb_is_not(reports):
    base = reports[("acme-robotics", "Q3")]
    usual = [1000.0 + (i % 5 - 2) * 25 for i in range(92)]
    spike = [*usual[:-1], 3000.0]
    # The last day of a two-week climb, as Maison's visitors of 24 November 2026.
    climb = [*usual[:-14], *(1000.0 + 100.0 * k for k in range(1, 14)), 3000.0]
    [found] = anomalies.unusual_day(with_users(base, spike, 92000.0))
    assert found.figures["day"] == "2026-09-30"
    assert "read the period's total with it in mind" in found.text["en"]
    assert list(anomalies.unusual_day(with_users(base, climb, 92000.0))) == []
    # No period total printed (unique visitors over a quarter): none to read it with.
    [found] = anomalies.unusual_day(with_users(base, spike, None))
    assert "total" not in found.text["en"] and "total" not in found.text["fr"]
    assert found.text["en"].endswith("Find the cause (a campaign, an outage, bot traffic, a "
                                     "tracking fault).")


def test_maison_s_climbing_visitors_of_24_november_are_no_unusual_day(reports):
    report = reports[("maison-lumiere", "ytd")]
    assert not [f for f in report.findings if f.rule == "unusual-day"
                and f.figures.get("day") == "2026-11-24"]


def one_kpi(base, value: float, previous: float, last_year: float, brand=None):
    kpi = dataclasses.replace(base.kpis["orders"], value=value, previous=previous,
                              last_year=last_year, monthly=[], daily=[])
    return dataclasses.replace(base, kpis={"orders": kpi}, findings=[], objectives=[],
                               brand=brand or {}, locale="en_GB", language="en")


def test_a_recovery_short_of_last_year_is_titled_by_its_gap_and_a_ytd_fall_by_its_days(reports):
    [card] = outcome_movers(one_kpi(reports[("maison-lumiere", "month")], 80, 60, 100))
    assert card.title["en"] == "Commandes: \u221220.0% vs October 2025"
    # A year to date's fall: one comparison, named, in both languages.
    ytd = one_kpi(reports[("maison-lumiere", "ytd")], 80, 100, 100)
    [card] = outcome_movers(ytd)
    assert "Below the same days of 2025: find which channels" in card.text["en"]
    assert "En recul sur les mêmes jours de 2025 : identifier" in plain(card.text["fr"])
    assert "both" not in card.text["en"]


def test_a_note_on_the_section_covers_its_outcomes(reports):
    acme = reports[("acme-robotics", "month")]
    report = dataclasses.replace(acme, findings=[], brand={
        "commentary": "## Note: commercial\n\nTwo deals closed; the rest slipped.\n"})
    cards = {f.kpis[0]: f for f in outcome_movers(report)}
    for key in ("won_revenue", "won_deals"):
        assert "the agency's note on this section, earlier in the report, explains the " \
            "change" in cards[key].text["en"], key
        assert not cards[key].impact
