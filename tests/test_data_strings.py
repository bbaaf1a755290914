"""Data strings are printed as the data has them, and each language's text of a finding in a
locale of that language.

A search query, a page, a campaign's name is what the client's users typed or named: a French
report sets its free text in French typography (« » quotes, narrow no-break spaces) but never
rewrites those, not in a table's cell nor in a recommendation quoting one (which puts it, as
it is, inside French quotes). A finding's text is carried in each language; each formats its
figures and dates in a locale of its language (an American report's French text says
"3 nov. 2026", not "Nov 3, 2026").
"""

import dataclasses
import datetime as dt
import html as markup
import re
from pathlib import Path

import pytest
from shared import example_reports

from kpireport import DataNote, NoteKind
from kpireport.formatting import language_locale
from kpireport.kpis import KpiValue
from kpireport.recommendations import Finding, Severity
from kpireport.render import render_html
from kpireport_rules import RULES

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
NNBSP, NBSP = "\u202f", "\xa0"
QUERY = 'peau "glow" : avis ?'
"""A query as a searcher typed it: straight quotes, a spaced colon, a question mark, all of
which French typography would rewrite in free text."""


@pytest.fixture(scope="module")
def example():
    """Maison Lumière (fr_FR) and Northwind Dental (en_US), computed once."""
    return example_reports("maison-lumiere", "northwind-dental")


def text_of(page: str) -> str:
    """The page's text as a reader sees it (no style, no script, entities resolved)."""
    body = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"[ \t\r\n]+", " ", markup.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def fire(rule_id: str, report):
    [rule] = [r for r in RULES if r.id == rule_id]
    return list(rule.evaluate(report))


def with_queries(report, rows):
    """``report`` whose top queries are ``rows`` (its other KPIs as computed)."""
    queries = report.kpis["top_queries"]
    kpis = {**report.kpis, "top_queries": dataclasses.replace(
        queries, rows=rows, previous_rows=[None] * len(rows))}
    return dataclasses.replace(report, kpis=kpis)


def test_a_table_cell_prints_the_query_as_typed_in_a_french_report(example):
    reports, plugins = example
    report = with_queries(reports["maison-lumiere"],
                          [{"query": QUERY, "clicks": 40.0, "impressions": 900.0,
                            "ctr": 40 / 900, "position": 3.2}])
    text = text_of(render_html(dataclasses.replace(report, findings=[]), plugins)[0])
    assert f"1 {QUERY} " in text  # its rank, then the query as typed
    assert f"«{NNBSP}glow" not in text and f"glow{NNBSP}»" not in text
    # The free text around the table keeps French typography (the catalogue's and the
    # config's): a narrow no-break space before a colon somewhere, never a bare " :".
    assert f"{NNBSP}:" in text


def test_a_finding_quotes_the_query_as_typed_inside_each_languages_quotes(example):
    reports, plugins = example
    # Position 3 and 1 000 impressions usually earn 10 % of clicks: 0.5 % is under-clicked.
    report = with_queries(reports["maison-lumiere"],
                          [{"query": QUERY, "clicks": 5.0, "impressions": 1000.0,
                            "ctr": 0.005, "position": 3.0}])
    [finding] = fire("ctr-by-position", report)
    assert finding.verbatim == (QUERY,)
    assert f"«{NNBSP}{QUERY}{NNBSP}» (3,0, 0,50{NNBSP}%)" in finding.text["fr"]
    # A French report's English text: English quotes and en_GB's figures.
    assert f"“{QUERY}” (3.0, 0.50%)" in finding.text["en"]
    page = render_html(dataclasses.replace(report, findings=[finding]), plugins)[0]
    text = text_of(page)
    # Printed as the rule wrote it: the query verbatim in French quotes, and the prose
    # around it in French typography (a narrow no-break space before the colon).
    assert f"(position, CTR){NNBSP}: «{NNBSP}{QUERY}{NNBSP}» (3,0, 0,50{NNBSP}%)" in text
    assert f"«{NNBSP}glow" not in text


def test_the_summary_and_recommendations_keep_a_findings_data_and_set_its_prose(example):
    # A third-party rule's finding (no French quotes of its own): its free text gets French
    # typography, the data named in ``verbatim`` is left as it is, in the summary too.
    reports, plugins = example
    report = reports["maison-lumiere"]
    title = f'Requête {QUERY} : "reformuler" le titre'
    finding = Finding(rule="custom", severity=Severity.CRITICAL, priority=100,
                      title={"en": "Query", "fr": title},
                      text={"en": "Query", "fr": f'La requête {QUERY} perd des clics; "vite".'},
                      verbatim=(QUERY,))
    text = text_of(render_html(dataclasses.replace(report, findings=[finding]), plugins)[0])
    printed = f"Requête {QUERY}{NNBSP}: «{NNBSP}reformuler{NNBSP}» le titre"
    assert text.count(printed) >= 2  # the summary's list and the recommendation's title
    assert f"La requête {QUERY} perd des clics{NNBSP}; «{NNBSP}vite{NNBSP}»." in text


def test_each_language_formats_a_findings_dates_in_its_own_locale(example):
    reports, _ = example
    gap = (dt.date(2026, 10, 3), dt.date(2026, 10, 17))
    for client, english, french in (
            ("northwind-dental", "Oct 3, 2026, Oct 17, 2026",  # en_US
             "3 oct. 2026, 17 oct. 2026"),                       # fr_FR, not American
            ("maison-lumiere", "3 Oct 2026, 17 Oct 2026",      # en_GB, not French
             "3 oct. 2026, 17 oct. 2026")):
        report = reports[client]
        spend = KpiValue(key="ad_spend", definition=report.all_kpis["sessions"].definition,
                         label="Spend", value=1.0, notes=[DataNote(
                             kind=NoteKind.TRACKING_GAP, message="", dates=gap)])
        crafted = dataclasses.replace(report, kpis={"ad_spend": spend})
        [finding] = fire("conversions-falling-spend-holding", crafted)
        assert f"no event on {english} while" in finding.text["en"]
        assert f"{french} " in finding.text["fr"] and "Oct" not in finding.text["fr"]


def test_each_language_formats_a_findings_figures_in_its_own_locale(example):
    reports, _ = example
    report = reports["northwind-dental"]  # en_US, dollars
    [found] = [f for f in report.findings if f.kpis == ("won_revenue",)]
    assert "$231,210" in found.text["en"]
    assert f"231{NNBSP}210{NBSP}$US" in found.text["fr"] and "$231" not in found.text["fr"]


@pytest.mark.parametrize("language,locale,expected", [
    ("fr", "fr_FR", "fr_FR"), ("fr", "fr_CA", "fr_CA"), ("en", "en_US", "en_US"),
    ("fr", "en_US", "fr_FR"), ("en", "fr_FR", "en_GB"), ("de", "fr_FR", "de"),
    ("en", "de_DE", "en_GB"),
])
def test_a_languages_locale_is_the_reports_when_of_that_language(language, locale, expected):
    assert language_locale(language, locale) == expected
