"""Built-in recommendation rules: when they fire, their figures and their words in en and fr."""

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from shared import example_reports

from kpireport.kpis import KpiValue
from kpireport.pipeline.assess import run_rules
from kpireport.report import Status
from kpireport_rules import RULES

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
NBSP, NNBSP = "\xa0", "\u202f"


@pytest.fixture(scope="module")
def base():
    return example_reports()


def report_with(base, client: str, locale: str, **values):
    """A copy of an example report whose KPIs are replaced by hand-made ones."""
    reports, plugins = base
    report = dataclasses.replace(reports[client], locale=locale,
                                 language=locale.split("_")[0], kpis={}, findings=[])
    for key, (value, previous, last_year) in values.items():
        definition = plugins.kpi(key)
        report.kpis[key] = KpiValue(key=key, definition=definition, label=definition.label["en"],
                                    value=value, previous=previous,
                                    last_year=last_year)
    return report


def fire(rule_id: str, report):
    [rule] = [r for r in RULES if r.id == rule_id]
    return list(rule.evaluate(report))


def test_there_are_at_least_eight_rules_all_registered(base):
    _, plugins = base
    assert len(RULES) >= 8 and {r.id for r in RULES} <= set(plugins.rules)


def test_organic_traffic_drop(base):
    report = report_with(base, "acme-robotics", "en_GB", organic_clicks=(3000, 3100, 4000))
    [finding] = fire("organic-traffic-drop", report)
    assert finding.severity == "warning"
    assert finding.figures["change_last_year"] == pytest.approx(-0.25)
    assert "3,000 against 4,000 a year ago (−25.0%)" in finding.text["en"]
    fr = report_with(base, "acme-robotics", "fr_FR", organic_clicks=(3000, 3100, 4000))
    assert f"3{NNBSP}000 contre 4{NNBSP}000 il y a un an (−25,0{NNBSP}%)" in \
        fire("organic-traffic-drop", fr)[0].text["fr"]
    calm = report_with(base, "acme-robotics", "en_GB", organic_clicks=(3300, 3100, 4000))
    assert fire("organic-traffic-drop", calm) == []  # −17.5 %: under the threshold


def test_conversions_falling_while_spend_holds_points_at_tracking(base):
    report = report_with(base, "maison-lumiere", "fr_FR", ad_conversions=(60, 100, None),
                         ad_spend=(5200, 5000, None))
    [finding] = fire("conversions-falling-spend-holding", report)
    assert finding.severity == "critical"
    assert finding.figures == {"ad_conversions_change": -0.4,
                               "ad_spend_change": pytest.approx(0.04)}
    assert "pixel" in finding.text["fr"] and f"−40,0{NNBSP}%" in finding.text["fr"]
    cut = report_with(base, "maison-lumiere", "fr_FR", ad_conversions=(60, 100, None),
                      ad_spend=(3000, 5000, None))
    assert fire("conversions-falling-spend-holding", cut) == []  # spend fell too
    missing = report_with(base, "maison-lumiere", "fr_FR", ad_conversions=(60, 100, None))
    assert fire("conversions-falling-spend-holding", missing) == []


def test_roas_below_one(base):
    report = report_with(base, "northwind-dental", "en_US", roas=(0.8, 1.2, None))
    [finding] = fire("roas-below-one", report)
    assert "0.80×" in finding.text["en"] and finding.figures == {"roas": 0.8}
    assert fire("roas-below-one", report_with(base, "northwind-dental", "en_US",
                                              roas=(1.0, 1.2, None))) == []
    assert fire("roas-below-one", report_with(base, "northwind-dental", "en_US",
                                              roas=(None, 1.2, None))) == []


def test_leads_quality_drop(base):
    report = report_with(base, "northwind-dental", "en_US", leads=(1000, 800, None),
                         qualified_leads=(400, 480, None))
    [finding] = fire("leads-quality-drop", report)
    assert finding.figures["qualified_share"] == pytest.approx(0.4)
    assert finding.figures["qualified_share_before"] == pytest.approx(0.6)
    assert "only 40.0% were qualified against 60.0%" in finding.text["en"]
    steady = report_with(base, "northwind-dental", "en_US", leads=(1000, 800, None),
                         qualified_leads=(560, 480, None))
    assert fire("leads-quality-drop", steady) == []


def test_objective_achieved_early_and_revenue_down(base):
    reports, _ = base
    lumiere = reports["maison-lumiere"]
    achieved = [a for a in lumiere.objectives if a.status is Status.ACHIEVED]
    assert achieved and achieved[0].days_left == 61
    [finding] = fire("objective-achieved-early", lumiere)
    assert finding.figures["days_left"] == 61 and "61 jours" in finding.text["fr"]
    report = report_with(base, "maison-lumiere", "fr_FR", revenue=(100000, 120000, 130000))
    [finding] = fire("revenue-down-year-on-year", report)
    assert finding.severity == "critical"
    assert f"100{NNBSP}000{NBSP}€ contre 130{NNBSP}000{NBSP}€" in finding.text["fr"]


def test_every_finding_of_the_example_speaks_both_languages(base):
    reports, plugins = base
    findings = [f for r in reports.values() for f in run_rules(r, plugins)]
    assert len({f.rule for f in findings}) >= 2
    for f in findings:
        assert f.title["en"] and f.title["fr"] and f.text["en"] and f.text["fr"]
        assert f.figures


def rate_needed(report) -> float:
    [rate] = [a for a in report.objectives if a.key == "conversion-rate"]
    return rate.required_rate * 100


def test_a_rate_objective_asks_for_points_and_one_day_is_one_day(base):
    reports, _ = base
    report = reports["maison-lumiere"]
    [pace] = [f for f in fire("objective-pace", report) if f.figures["target"] < 1]
    # 0.0916 points a month needed, printed rounded up: two months of 0.09 would fall short.
    assert rate_needed(report) == pytest.approx(0.0916, abs=1e-4)
    # Each language's text in its own locale: the French report's English in en_GB.
    assert "a rise of 0.10 percentage points is needed each remaining month" in pace.text["en"]
    assert "To reach 2.40% by" in pace.text["en"]
    assert "il faut une hausse de 0,10 point de pourcentage chaque mois restant" in pace.text["fr"]
    [rate] = [a for a in report.objectives if a.key == "conversion-rate"]
    last_day = dataclasses.replace(report, objectives=[dataclasses.replace(rate, days_left=1)])
    [pace] = fire("objective-pace", last_day)
    assert "(1 day left)" in pace.text["en"] and "(encore 1 jour)" in pace.text["fr"]


RULES_DIR = ROOT / "plugins" / "kpireport_rules"


def rules_message_ids() -> set[str]:
    from babel.messages.extract import extract_from_dir

    keywords = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}
    return {msg[2] if isinstance(msg[2], str) else msg[2][0]
            for msg in extract_from_dir(str(RULES_DIR), [("**.py", "python")], {}, keywords)}


def test_every_message_of_the_rules_has_a_french_translation():
    from babel.messages.pofile import read_po

    ids = rules_message_ids()
    with open(RULES_DIR / "locale" / "fr" / "LC_MESSAGES" / "kpireport_rules.po", "rb") as f:
        catalog = read_po(f, locale="fr")
    assert len(ids) >= 20  # every rule's title and text, and the plurals
    # A plural's msgstr is a tuple: each of its forms must be there.
    missing = sorted(m for m in ids if not (catalog.get(m) and all(
        [catalog.get(m).string] if isinstance(catalog.get(m).string, str)
        else catalog.get(m).string)))
    assert missing == []


def test_a_new_language_for_the_rules_is_one_file(base, tmp_path, monkeypatch):
    import shutil

    import kpireport_rules

    shutil.copytree(RULES_DIR / "locale", tmp_path / "locale")
    po = tmp_path / "locale" / "de" / "LC_MESSAGES" / "kpireport_rules.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n"Language: de\\n"\n"Content-Type: text/plain; '
                  'charset=utf-8\\n"\n\nmsgid "Revenue below last year"\n'
                  'msgstr "Umsatz unter Vorjahr"\n', encoding="utf-8")
    monkeypatch.setattr(kpireport_rules, "LOCALE_DIR", tmp_path / "locale")
    report = report_with(base, "maison-lumiere", "de_DE", revenue=(100000, 120000, 130000))
    [finding] = fire("revenue-down-year-on-year", report)
    assert finding.title["de"] == "Umsatz unter Vorjahr"
    # What the file does not translate yet is said in English, figures in German; the
    # English text itself has English figures (en_GB: a German report's English).
    assert finding.text["de"] == finding.text["en"].replace("€100,000", f"100.000{NBSP}€") \
        .replace("€130,000", f"130.000{NBSP}€")
    assert f"Online revenue is 100.000{NBSP}€ against 130.000{NBSP}€" in finding.text["de"]
    assert "Online revenue is €100,000 against €130,000" in finding.text["en"]
    assert finding.in_language("de")[0] == "Umsatz unter Vorjahr"
    assert "chiffre d'affaires" in finding.text["fr"].lower()


# --- The rules of issue #15: each fires on a crafted report and stays quiet on a normal one ---

def table(base, client: str, key: str, rows: list[dict]):
    """An example report whose only KPI is table ``key`` with ``rows``."""
    report = report_with(base, client, "en_GB")
    definition = base[1].kpi(key)
    report.kpis[key] = KpiValue(key=key, definition=definition, label=definition.label["en"],
                                rows=rows)
    return report


def with_days(report, key: str, values: list[float]):
    """``report`` with KPI ``key``'s daily series: one value a day from 1 October 2026."""
    from kpireport.kpis import SeriesPoint

    kpi = report.kpis[key]
    kpi.daily = [SeriesPoint(start=dt.date(2026, 10, 1) + dt.timedelta(days=i), value=v)
                 for i, v in enumerate(values)]
    return report


def test_there_are_at_least_twenty_rules_each_tied_to_kpis(base):
    reports, plugins = base
    assert len(RULES) >= 20 and {r.id for r in RULES} <= set(plugins.rules)
    assert all(r.description for r in RULES)
    findings = [f for r in reports.values() for f in run_rules(r, plugins)]
    assert findings and all(f.kpis and 0 <= f.rank <= 100 for f in findings)


def biggest_outcome_mover(report) -> tuple[str, float]:
    """Computed here from the KPIs' values, not from the rule's code."""
    from kpireport_rules.outcomes import OUTCOMES

    changes = {k.key: (k.value - k.previous) / k.previous for k in report.kpis.values()
               if k.definition.id in OUTCOMES and k.value is not None and k.previous}
    key = max(changes, key=lambda k: abs(changes[k]))
    return key, changes[key]


def test_the_recommendations_of_the_three_example_clients_include_their_biggest_movers(base):
    reports, plugins = base
    assert set(reports) == {"maison-lumiere", "northwind-dental", "acme-robotics"}
    for client, report in reports.items():
        key, change = biggest_outcome_mover(report)
        movers = [f for f in run_rules(report, plugins)
                  if f.rule == "outcome-movers" and f.kpis == (key,)]
        assert movers, client
        assert movers[0].figures["change_previous"] == pytest.approx(change)
    acme = reports["acme-robotics"]
    [first, *_] = run_rules(acme, plugins)  # the highest priority of Acme's findings
    assert first.rule == "outcome-movers" and first.severity == "critical"
    assert first.text["en"].startswith(
        "Revenue from won deals: £50,200 (September 2026: £405,400, −87.6%; October 2025: "
        "£139,200, −63.9%)")
    # The analyst's note explains the fall (two deals slipped into November): no loss to
    # win back, no order to act.
    assert not first.impact and "impact" not in first.figures
    assert "agency's note on this indicator, earlier in the report, explains the change" in \
        first.text["en"] and "act on" not in first.text["en"]
    # Without the note, 405,400 − 50,200 won in September and not in October.
    [first, *_] = run_rules(dataclasses.replace(acme, brand={}), plugins)
    assert first.figures["impact"] == 355200
    assert first.impact["en"] == "£355,200 short of September 2026's level"
    # Words and figures in each language: the French in fr_FR's figures.
    assert first.impact["fr"] == f"355{NNBSP}200{NBSP}£GB de moins qu'en septembre 2026"


def test_findings_are_sorted_by_priority_and_the_summary_names_the_top_three(base):
    from kpireport.narrative import summarise

    reports, plugins = base
    acme = dataclasses.replace(reports["acme-robotics"])
    acme.findings = run_rules(acme, plugins)
    ranks = [f.rank for f in acme.findings]
    assert ranks == sorted(ranks, reverse=True) and len(ranks) > 3
    recommended = summarise(acme, lambda s: s).recommended
    assert len(recommended) == 3
    for line, finding in zip(recommended, acme.findings[:3], strict=True):
        assert line.startswith(finding.title["en"])
    # The note explains the fall: the line has no impact; the next fall's names its period.
    assert recommended[0] == "Revenue from won deals: −87.6% vs September 2026"


def test_a_finding_without_priority_takes_its_severity_s():
    from kpireport.recommendations import Finding, Severity

    def finding(severity, priority=None):
        return Finding(rule="r", severity=severity, title={"en": "t"}, text={"en": "x"},
                       priority=priority)

    assert [finding(s).rank for s in Severity] == [10, 40, 70]
    assert finding(Severity.INFO, 90).rank == 90
    assert finding(Severity.INFO, 250).rank == 100  # a plugin's excess stays in the scale
    assert finding(Severity.INFO).impact_in("fr") == ""


def test_outcome_below_last_year(base):
    report = report_with(base, "acme-robotics", "en_GB", won_deals=(20, 21, 30))
    [finding] = fire("outcome-down-year-on-year", report)
    assert finding.severity == "critical"  # −33.3 %
    assert finding.figures["impact"] == 10
    # Both comparisons, as every mover card gives them, and its unit in the impact.
    assert finding.text["en"].startswith(
        "Won deals: 20 (September 2026: 21, −4.8%; October 2025: 30, −33.3%). Down on both "
        "comparisons: find which")
    assert finding.impact["en"] == "10 won deals short of last year's level (October 2025)"
    assert finding.impact["fr"].startswith("10 affaires gagnées de moins que l'an dernier")
    calm = report_with(base, "acme-robotics", "en_GB", won_deals=(28, 27, 30))
    assert fire("outcome-down-year-on-year", calm) == []  # −6.7 %


def test_outcome_movers_name_a_rise_too_and_stay_quiet_when_nothing_moved(base):
    report = report_with(base, "northwind-dental", "en_US", leads=(130, 100, None),
                         new_customers=(52, 50, None))
    [finding] = fire("outcome-movers", report)  # +4 % is not news; +30 % is
    assert finding.severity == "info" and finding.kpis == ("leads",)
    # One comparison: the card names it, never "both comparisons".
    assert ("Better than the period before (September 2026): find what drove this progress "
            "and invest more in it") in finding.text["en"] and not finding.impact
    assert "both" not in finding.text["en"]
    calm = report_with(base, "northwind-dental", "en_US", leads=(102, 100, None))
    assert fire("outcome-movers", calm) == []


def test_objective_missed_and_key_result_at_zero(base):
    from kpireport.report import KeyResultScore, OkrScore

    reports, _ = base
    [missed] = fire("objective-missed", reports["acme-robotics"])
    assert missed.figures == {"objective": "organic-clicks-q3", "value": 4500.0,
                              "target": 4600.0}
    assert "ended at 4,500 against a target of 4,600" in missed.text["en"]
    assert fire("objective-missed", reports["northwind-dental"]) == []
    kr = KeyResultScore(kpi="leads", title="Leads a month", direction="increase", start=100.0,
                        target=150.0, weight=1.0, value=95.0, score=0.0)
    okr = OkrScore(key="q4", objective="Grow", key_results=[kr], score=0.0)
    report = dataclasses.replace(reports["northwind-dental"], okrs=[okr])
    [zero] = fire("key-result-at-zero", report)
    assert zero.severity == "critical" and zero.figures["okr"] == "q4"
    assert "“Leads a month” (Grow) is at 95, no closer to 150 than at its start (100)" in \
        zero.text["en"]
    moving = dataclasses.replace(report, okrs=[dataclasses.replace(
        okr, key_results=[dataclasses.replace(kr, value=110.0, score=0.2)])])
    assert fire("key-result-at-zero", moving) == []


CHANNELS = [{"channel": "Organic Search", "sessions": 10000.0, "conversions": 300.0},
            {"channel": "Paid Social", "sessions": 4000.0, "conversions": 20.0},
            {"channel": "Direct", "sessions": 6000.0, "conversions": 180.0}]


def test_channel_efficiency_against_the_site_average(base):
    [finding] = fire("channel-efficiency", table(base, "maison-lumiere", "traffic_sources",
                                                 CHANNELS))
    # 500 conversions / 20,000 sessions = 2.5 %; Paid Social at that rate: 100, not 20.
    assert finding.figures["channel"] == "Paid Social"
    assert finding.figures["impact"] == pytest.approx(80)
    assert finding.impact["en"] == "about 80 more conversions a month at the average rate"
    assert "converting at 0.50%, against 2.50%" in finding.text["en"]
    even = [{**r, "conversions": 90.0} if r["channel"] == "Paid Social" else r for r in CHANNELS]
    assert fire("channel-efficiency", table(base, "maison-lumiere", "traffic_sources",
                                            even)) == []


QUERIES = [{"query": "cobots uk", "clicks": 50.0, "impressions": 5000.0, "position": 3.2},
           {"query": "acme robotics", "clicks": 1000.0, "impressions": 4000.0,
            "position": 1.1},
           {"query": "robot arm price", "clicks": 1.0, "impressions": 3000.0, "position": 24.0}]


def test_ctr_by_position(base):
    [finding] = fire("ctr-by-position", table(base, "acme-robotics", "top_queries", QUERIES))
    # Position 3 usually earns 10 % of clicks: 500 of 5,000 impressions, 50 had.
    assert finding.figures == {"queries": ["cobots uk"], "impact": pytest.approx(450)}
    assert "about 450 more clicks a month" in finding.impact["en"]
    clicked = [{**QUERIES[0], "clicks": 300.0}, *QUERIES[1:]]
    assert fire("ctr-by-position", table(base, "acme-robotics", "top_queries", clicked)) == []


PAGES = [{"page": "/", "pageviews": 10000.0, "conversions": 100.0},
         {"page": "/blog/guide", "pageviews": 3000.0, "conversions": 0.0},
         {"page": "/contact", "pageviews": 2000.0, "conversions": 50.0},
         {"page": "/tiny", "pageviews": 100.0, "conversions": 0.0}]


def test_pages_with_traffic_and_no_conversions(base):
    [finding] = fire("pages-without-conversions", table(base, "northwind-dental", "top_pages",
                                                        PAGES))
    assert finding.figures["pages"] == ["/blog/guide"]  # /tiny is under 5 % of the traffic
    assert finding.figures["impact"] == pytest.approx(3000 * 150 / 15100)
    assert finding.impact["en"] == "about 30 conversions a month at the other pages' average"
    # One page: "its" conversions, and its share of the traffic as an order of size.
    assert finding.text["en"].startswith("/blog/guide drew about 20% of the traffic")
    assert "check that its conversions are tracked" in finding.text["en"]
    some = [{**p, "conversions": 5.0} if p["page"] == "/blog/guide" else p for p in PAGES]
    assert fire("pages-without-conversions", table(base, "northwind-dental", "top_pages",
                                                   some)) == []
    # A pages table without conversions (most analytics exports) says nothing.
    bare = [{"page": p["page"], "pageviews": p["pageviews"]} for p in PAGES]
    assert fire("pages-without-conversions", table(base, "northwind-dental", "top_pages",
                                                   bare)) == []


CAMPAIGNS = [{"campaign": "Brand video", "spend": 6000.0, "ad_conversions": 20.0},
             {"campaign": "Retargeting", "spend": 3000.0, "ad_conversions": 60.0},
             {"campaign": "Lookalike", "spend": 1000.0, "ad_conversions": 20.0}]


def test_spend_concentrated_on_a_poor_campaign(base):
    [finding] = fire("spend-on-poor-campaign", table(base, "maison-lumiere", "top_campaigns",
                                                     CAMPAIGNS))
    # The others: 4,000 for 80 results, 50 each; 6,000 at 50 would buy 120, not 20.
    assert finding.figures["campaign"] == "Brand video"
    assert finding.figures["impact"] == pytest.approx(100)
    assert "took 60.0% of the spend at €300 per result against €50 for" in finding.text["en"]
    fair = [{**CAMPAIGNS[0], "ad_conversions": 100.0}, *CAMPAIGNS[1:]]
    assert fire("spend-on-poor-campaign", table(base, "maison-lumiere", "top_campaigns",
                                                fair)) == []


def steady(n: int = 31, level: float = 1000.0) -> list[float]:
    return [level + (i % 5 - 2) * level / 40 for i in range(n)]  # ±5 % around the level


def test_a_day_far_outside_the_usual_range(base):
    days = steady()
    days[17] = 3000.0
    report = with_days(report_with(base, "acme-robotics", "en_GB",
                                   sessions=(sum(days), 30000, None)), "sessions", days)
    [finding] = fire("unusual-day", report)
    assert finding.figures == {"kpi": "sessions", "day": "2026-10-18", "value": 3000.0,
                               "usual": 1000.0}
    assert "on 18 October 2026: 3,000, against a usual 1,000 a day" in finding.text["en"]
    calm = with_days(report_with(base, "acme-robotics", "en_GB",
                                 sessions=(sum(steady()), 30000, None)), "sessions", steady())
    assert fire("unusual-day", calm) == []


def test_tracking_gap_days_with_visits_and_no_conversion(base):
    orders = steady(level=20.0)
    orders[9] = orders[10] = 0.0
    report = report_with(base, "maison-lumiere", "en_GB", sessions=(31000, 30000, None),
                         orders=(sum(orders), 600, None))
    with_days(with_days(report, "sessions", steady()), "orders", orders)
    [finding] = fire("tracking-gap", report)
    assert finding.severity == "critical"
    assert finding.figures["days"] == ["2026-10-10", "2026-10-11"]
    assert finding.figures["impact"] == pytest.approx(40)  # two days at the usual 20
    closed = report_with(base, "maison-lumiere", "en_GB", sessions=(31000, 30000, None),
                         orders=(sum(orders), 600, None))
    no_visits = steady()
    no_visits[9] = no_visits[10] = 0.0  # the site was down: not a tracking fault
    with_days(with_days(closed, "sessions", no_visits), "orders", orders)
    assert fire("tracking-gap", closed) == []


@pytest.mark.parametrize(("rule", "kpi", "bad", "good"), [
    ("pipeline-shrinking", "pipeline_value", (700000, 1000000, None), (900000, 1000000, None)),
    ("lost-deals-up", "lost_deals", (14, 10, None), (12, 10, None)),
    ("lead-conversion-falling", "lead_conversion_rate", (0.16, 0.20, None),
     (0.18, 0.20, None)),
    ("position-slipping", "avg_position", (9.5, 7.0, None), (8.5, 7.0, None)),
    ("cpc-rising", "ad_cpc", (1.30, 1.00, None), (1.20, 1.00, None)),
    ("cost-per-result-rising", "cost_per_result", (13.0, 10.0, None), (11.0, 10.0, None)),
    ("cost-per-lead-rising", "cost_per_lead", (40.0, 30.0, None), (33.0, 30.0, None)),
])
def test_a_kpi_worse_than_the_previous_period(base, rule, kpi, bad, good):
    [finding] = fire(rule, report_with(base, "northwind-dental", "en_US", **{kpi: bad}))
    assert finding.figures == {"kpi": kpi, "value": bad[0], "previous": bad[1]}
    assert finding.title["fr"] and finding.text["fr"] != finding.text["en"]
    assert fire(rule, report_with(base, "northwind-dental", "en_US", **{kpi: good})) == []


def test_lead_conversion_and_position_speak_in_their_units(base):
    [lead] = fire("lead-conversion-falling", report_with(
        base, "northwind-dental", "en_US", lead_conversion_rate=(0.16, 0.20, None)))
    assert "Lead-to-customer rate: 16.0% (September 2026: 20.0%)" in lead.text["en"]
    [slip] = fire("position-slipping", report_with(base, "northwind-dental", "en_US",
                                                   avg_position=(9.5, 7.0, None)))
    assert "Average position: 9.5 (September 2026: 7.0)" in slip.text["en"]


def test_brand_dependence_and_ad_fatigue(base):
    [brand] = fire("brand-dependence", report_with(base, "maison-lumiere", "en_GB",
                                                   organic_clicks=(1000, 900, None),
                                                   non_branded_clicks=(200, 180, None)))
    assert brand.figures == {"non_branded_share": 0.2}
    assert fire("brand-dependence", report_with(base, "maison-lumiere", "en_GB",
                                                organic_clicks=(1000, 900, None),
                                                non_branded_clicks=(400, 380, None))) == []
    [tired] = fire("ad-fatigue", report_with(base, "maison-lumiere", "en_GB",
                                             ad_impressions=(50000, 40000, None),
                                             ad_reach=(10000, 9000, None)))
    assert tired.figures == {"frequency": 5.0} and "5.0 times" in tired.text["en"]
    assert fire("ad-fatigue", report_with(base, "maison-lumiere", "en_GB",
                                          ad_impressions=(30000, 40000, None),
                                          ad_reach=(10000, 9000, None))) == []


def test_zeros_at_the_end_of_the_data_are_not_a_tracking_gap(base):
    orders = steady(level=20.0)
    orders[-3:] = [0.0, 0.0, 0.0]  # the source's last days not in yet, no visit figures
    report = report_with(base, "maison-lumiere", "en_GB", orders=(sum(orders), 600, None))
    with_days(report, "orders", orders)
    assert fire("tracking-gap", report) == []
    orders[5] = 0.0
    assert fire("tracking-gap", with_days(report, "orders", orders))[0].figures["days"] == \
        ["2026-10-06"]


def test_an_empty_day_of_a_small_daily_count_is_noise_not_a_tracking_gap(base):
    # Five leads a day: a day without any happens by chance (e^-5 × 31 days ≈ 0.2).
    leads = steady(level=5.0)
    leads[9] = 0.0
    report = report_with(base, "acme-robotics", "en_GB", leads=(sum(leads), 150, None))
    assert fire("tracking-gap", with_days(report, "leads", leads)) == []


def test_a_week_far_outside_the_usual_range_in_a_quarter(base):
    from kpireport.periods import resolve

    # 13 weeks of 1,000 orders a week (Monday 29 June to Sunday 27 September), the week
    # from 10 August at 2,400: that week's 7 days carry the extra 1,400.
    days = [1000 / 7] * 91
    for i in range(70, 77):
        days[i] = 2400 / 7
    report = report_with(base, "maison-lumiere", "en_GB", orders=(sum(days), 12000, None))
    report = dataclasses.replace(report, period=resolve("2026-Q3", dt.date(2026, 12, 1)))
    from kpireport.kpis import SeriesPoint

    report.kpis["orders"].daily = [
        SeriesPoint(start=dt.date(2026, 6, 29) + dt.timedelta(days=i), value=v)
        for i, v in enumerate(days)]
    [finding] = fire("unusual-week", report)
    assert finding.figures == {"kpi": "orders", "week": "2026-09-07",
                               "value": pytest.approx(2400), "usual": pytest.approx(1000)}
    assert "in the week from 7 September 2026: 2,400, against a usual 1,000 a week" in \
        finding.text["en"]
    assert finding.title["en"] == "An unusual week: from 7 September 2026"
    # Three weeks earlier, it ended more than a month before the data's last day: context
    # that the chart shows, no longer a recommendation.
    old = [1000 / 7] * 91
    for i in range(42, 49):
        old[i] = 2400 / 7
    report.kpis["orders"].daily = [
        SeriesPoint(start=dt.date(2026, 6, 29) + dt.timedelta(days=i), value=v)
        for i, v in enumerate(old)]
    assert fire("unusual-week", report) == []
    calm = [1000 / 7] * 91
    report.kpis["orders"].daily = [
        SeriesPoint(start=dt.date(2026, 6, 29) + dt.timedelta(days=i), value=v)
        for i, v in enumerate(calm)]
    assert fire("unusual-week", report) == []
    # A month has too few whole weeks to judge one against the others.
    month = report_with(base, "maison-lumiere", "en_GB", orders=(sum(days[:31]), 4000, None))
    assert fire("unusual-week", with_days(month, "orders", days[38:69])) == []


def test_a_channel_is_named_in_the_report_s_language_as_its_table_names_it(base):
    report = table(base, "maison-lumiere", "traffic_sources", CHANNELS)
    [finding] = fire("channel-efficiency", report)
    # The channel's name is not the sentence's subject: "Réseaux sociaux payants convertit"
    # would not agree with a plural name.
    assert finding.title["fr"] == ("Conversion inférieure à la moyenne du site\u202f: "
                                   "Réseaux sociaux payants")
    assert finding.title["en"] == "Conversion below the site average: Paid Social"
    # A value the source names itself (not a channel group) is printed as it is.
    custom = [{**r, "channel": "Newsletter partenaires"} if r["channel"] == "Paid Social"
              else r for r in CHANNELS]
    [finding] = fire("channel-efficiency", table(base, "maison-lumiere", "traffic_sources",
                                                 custom))
    assert finding.title["fr"].endswith("\u202f: Newsletter partenaires")
