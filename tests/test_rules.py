"""Built-in recommendation rules: when they fire, their figures and their words in en and fr."""

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from kpireport.config import load_config
from kpireport.kpis import KpiValue
from kpireport.pipeline.assess import run_rules
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.report import Status
from kpireport_rules import RULES

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
NBSP, NNBSP = "\xa0", "\u202f"


@pytest.fixture(scope="module")
def base():
    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    reports = {c.id: compute_report(config, c, plugins, now=NOW) for c in config.clients}
    return reports, plugins


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
    assert f"3{NNBSP}000 contre 4{NNBSP}000 il y a un an (−25,0{NBSP}%)" in \
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
    assert "pixel" in finding.text["fr"] and f"−40,0{NBSP}%" in finding.text["fr"]
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
    assert "must gain 0,10 percentage points each remaining month" in pace.text["en"]
    assert "doit gagner 0,10 point de pourcentage chaque mois restant" in pace.text["fr"]
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
    # What the file does not translate yet is said in English, figures in German.
    assert finding.text["de"] == finding.text["en"]
    assert f"Online revenue is 100.000{NBSP}€ against 130.000{NBSP}€" in finding.text["de"]
    assert finding.in_language("de")[0] == "Umsatz unter Vorjahr"
    assert "chiffre d'affaires" in finding.text["fr"].lower()
