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
    """The words, whatever invisible characters keep them on one line."""
    return text.replace("\u202f", " ").replace("\xa0", " ").replace("\u2060", "")


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
    # −9.4 % against last year's −5.9 %: 1.6 times as deep, 3.5 points beyond: partly
    # seasonal, with an action and the gap to win back.
    assert ("En recul de 9,4 % sur le T2 2026, 3,5 points de plus que la baisse de l'an "
            "dernier (le T3 2025 avait reculé de 5,9 % sur le T2 2025) : une baisse en partie "
            "saisonnière. Identifier") in fr
    assert "3.5 points beyond last year's dip" in card.text["en"]
    assert "peut-être saisonnière" not in fr and "le progrès sur un an tient" not in fr
    # The title names the fall on the quarter, not the +46.6 % on the year.
    assert plain(card.title["fr"]).startswith("Chiffre d’affaires en ligne : −9,4 %")
    assert card.impact["en"] == "€50,867 short of Q2 2026's level"
    # Each card its own sentence, and no two of the three partly seasonal cards end alike.
    texts = [f.text["fr"] for f in report.findings if f.rule in CARDS]
    assert len(texts) == len(set(texts)) >= 3
    partly = [f.text["en"] for f in report.findings if "partly seasonal" in f.text["en"]]
    assert len(partly) == 3
    assert len({t.rsplit(": partly seasonal.", 1)[1] for t in partly}) == 3


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


def test_a_rise_that_repeats_last_year_s_is_the_season_and_the_year_is_the_news(reports):
    # Acme's October: new opportunities +87.0 % on September, as last year's 22 → 40
    # (+81.8 %): the season; the card is titled and ranked by its +7.5 % on October 2025.
    acme = reports[("acme-robotics", "month")]
    opportunities = acme.kpis["opportunities"]
    months = {p.start: p.value for p in opportunities.monthly}
    assert (months[dt.date(2025, 9, 1)], months[dt.date(2025, 10, 1)]) == (22, 40)
    [card] = [f for f in acme.findings if f.rule in CARDS and f.kpis == ("opportunities",)]
    assert card.title["en"] == "New opportunities: +7.5% vs October 2025"
    assert ("Up 87.0% on September 2026, as last year: October 2025 had already risen 81.8% "
            "on September 2025, the same season. The real gain is on the year, +7.5% on "
            "October 2025") in card.text["en"]
    assert "invest more" not in card.text["en"] and "progress" not in card.text["en"]
    assert ("En hausse de 87,0 % sur septembre 2026, comme l'an dernier : octobre 2025 avait "
            "déjà progressé de 81,8 %") in plain(card.text["fr"])
    assert card.rank == 50 + round(50 * 0.075) and card.figures["seasonal_rise"] is True
    # Synthetic: +10 % on Q2 2026 with last year's +11.1 % (540 → 600) is the season; with
    # last year's +1.7 % (590 → 600) it is progress of this year's own.
    base = reports[("maison-lumiere", "Q3")]
    [card] = synthetic(base, 540.0, value=1100.0)
    assert card.title["en"] == "Commandes: +83.3% vs Q3 2025"
    assert "Q3 2025 had already risen 11.1% on Q2 2025, the same season" in card.text["en"]
    [card] = synthetic(base, 590.0, value=1100.0)
    assert "find what drove this progress" in card.text["en"]
    assert "season" not in card.text["en"]


def test_a_fall_within_last_year_s_is_seasonal_one_clearly_deeper_is_partly(reports):
    base = reports[("maison-lumiere", "Q3")]
    # −12 % against last year's −10 % (1.2 times): within the season, no gap to win back.
    [card] = synthetic(base, 2000.0 / 3 * 1.0)
    assert "Q3 2025 had already fallen 10.0% on Q2 2025. A seasonal dip" in card.text["en"]
    assert not card.impact
    # −12 % against last year's −7.7 % (650 → 600): 4.3 points beyond, partly seasonal,
    # with an action and the gap.
    [card] = synthetic(base, 650.0)
    assert ("Down 12.0% on Q2 2026, 4.3 points beyond last year's dip (Q3 2025 had fallen "
            "7.7% on Q2 2025): partly seasonal. Find which") in card.text["en"]
    assert "4,3 points de plus que la baisse de l'an dernier" in plain(card.text["fr"])
    assert card.impact["en"] == "120 commandes short of Q2 2026's level"


def test_consecutive_unusual_days_are_one_event_named_by_its_dates_and_total(reports):
    base = reports[("acme-robotics", "Q3")]
    usual = [1000.0 + (i % 5 - 2) * 25 for i in range(92)]
    plateau = [*usual[:80], 3000.0, 3100.0, 2900.0, *usual[83:]]
    [found] = anomalies.unusual_day(with_users(base, plateau, 92000.0))
    # 19, 20 and 21 September: 9,000 visitors in three days.
    assert found.figures["first_day"] == "2026-09-19" and found.figures["last_day"] == \
        "2026-09-21" and found.figures["total"] == 9000.0
    assert found.title["en"] == "Unusual days: 19\u202f\u2013\u2060\u202f21 Sept 2026"
    assert plain(found.text["en"]).startswith("Sessions, 19 \u2013 21 Sept 2026: 9,000 in "
                                              "3 days, against a usual 1,000 a day. Find the cause")
    assert plain(found.text["fr"]).startswith("Sessions, 19–21 sept. 2026 : 9 000 en 3 jours")
    # A run longer than RUN_DAYS is a climb the chart shows, no event.
    long_run = [*usual[:80], *[3000.0] * (anomalies.RUN_DAYS + 2), *usual[86:]]
    assert list(anomalies.unusual_day(with_users(base, long_run, 92000.0))) == []


def test_acme_s_quarter_names_its_plateau_of_qualified_leads_not_one_day(reports):
    report = reports[("acme-robotics", "Q3")]
    days = {p.start: p.value for p in report.kpis["qualified_leads"].daily}
    assert (days[dt.date(2026, 9, 29)], days[dt.date(2026, 9, 30)]) == (10, 11)
    [found] = [f for f in report.findings if f.rule == "unusual-day"]
    assert found.title["en"].startswith("Unusual days: 29")
    assert "21 in 2 days, against a usual 1 a day" in found.text["en"]
    assert "An unusual day" not in found.title["en"]
