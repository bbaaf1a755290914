"""A source's tracking-gap note: how the report words it, and the rule it feeds."""

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

from kpireport import DataNote, NoteKind
from kpireport.kpis import KpiValue
from kpireport.plugins import load_plugins
from kpireport.template_context import note_text
from kpireport.templating import translations
from kpireport_rules import RULES

LOCALE = Path(__file__).resolve().parent.parent / "report_templates" / "default" / "locale"
GAP = DataNote(kind=NoteKind.TRACKING_GAP, source="ads", metrics=("ad_purchases",),
               dates=(dt.date(2026, 11, 28), dt.date(2026, 11, 27)),
               message="the pixel 998877 received no event on 2026-11-27, 2026-11-28")


def test_the_report_words_a_tracking_gap_in_its_language():
    assert note_text(GAP, "en_GB", lambda m: m, {"ads": "Meta Ads"}) == (
        "Meta Ads: the tracking recorded no event on 27 Nov 2026, 28 Nov 2026 while the ads "
        "were running: conversions are likely missing.")
    french = note_text(GAP, "fr_FR", translations(LOCALE, "fr").gettext, {"ads": "Meta Ads"})
    assert french.startswith("Meta Ads\u202f: le suivi n’a enregistré aucun événement le "
                             "27 nov. 2026, 28 nov. 2026 alors que les publicités tournaient")


def test_a_tracking_gap_fires_check_conversion_tracking_without_a_fall():
    plugins = load_plugins()
    [rule] = [r for r in RULES if r.id == "conversions-falling-spend-holding"]

    def kpi(key: str, notes: list[DataNote]) -> KpiValue:
        definition = plugins.kpi(key)
        # Conversions and spend both steady: the fall alone would not fire the rule.
        return KpiValue(key=key, definition=definition, label=key, value=100.0,
                        previous=100.0, notes=notes)

    quiet = SimpleNamespace(locale="en_GB", kpis={"ad_conversions": kpi("ad_conversions", []),
                                                  "ad_spend": kpi("ad_spend", [])})
    assert list(rule.evaluate(quiet)) == []
    silent = SimpleNamespace(locale="fr_FR", kpis={
        "ad_purchases": kpi("ad_purchases", [GAP]), "ad_spend": kpi("ad_spend", [GAP]),
        "ad_conversions": kpi("ad_conversions", [])})
    [finding] = rule.evaluate(silent)
    assert finding.severity == "critical" and finding.kpis == ("ad_purchases", "ad_spend")
    assert finding.figures == {"tracking_gap_days": 2.0}
    assert finding.title["en"] == "Check conversion tracking"
    # Dates in the report's locale, as every rule's figures are.
    assert "aucun événement le 27 nov. 2026, 28 nov. 2026 alors" in finding.text["fr"]
    [english] = rule.evaluate(SimpleNamespace(locale="en_GB", kpis=silent.kpis))
    assert "no event on 27 Nov 2026, 28 Nov 2026 while the ads" in english.text["en"]
