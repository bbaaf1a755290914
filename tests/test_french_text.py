"""The report's language: figures in each report's own locale whatever was rendered before,
French typography on the free text a French report prints, generated sentences that read
as a native speaker writes them."""

import datetime as dt
import re
from pathlib import Path

import pytest
from shared import example_reports

from kpireport import templating
from kpireport.render import render_html

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
NNBSP, NBSP = "\u202f", "\xa0"


@pytest.fixture(scope="module")
def example():
    """Maison Lumière (fr_FR) and Acme Robotics (en_GB), computed once."""
    return example_reports("maison-lumiere", "acme-robotics")


@pytest.fixture(scope="module")
def html(example):
    reports, plugins = example
    return {c: render_html(r, plugins)[0] for c, r in reports.items()}


def text_of(page: str) -> str:
    """The page's text as a reader sees it (no style, no script, entities resolved)."""
    import html

    body = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    # Spaces of the markup only: str.split() would take the no-break ones too.
    return re.sub(r"[ \t\r\n]+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


@pytest.mark.parametrize("order", [("maison-lumiere", "acme-robotics"),
                                   ("acme-robotics", "maison-lumiere")])
def test_a_report_prints_its_own_locale_whatever_was_rendered_before(example, monkeypatch,
                                                                     order):
    # The compiled template is shared by the process's reports (and kept on disk): a filter
    # of constants folded at compile time would print the first report's locale in the next.
    cache = templating._TemplateCodeCache()
    cache._disk = None  # this process's compilations only: the order is the test's
    monkeypatch.setattr(templating, "_BYTECODE", cache)
    reports, plugins = example
    scores = {c: re.findall(r"Score ([^<]*) / ([^<]*)<", render_html(reports[c], plugins)[0])
              for c in order}
    assert scores["acme-robotics"] and all(
        re.fullmatch(r"\d\.\d\d", score) and whole == "1.00"
        for score, whole in scores["acme-robotics"])
    assert scores["maison-lumiere"] and all(
        re.fullmatch(r"\d,\d\d", score) and whole == "1,00"
        for score, whole in scores["maison-lumiere"])


def test_a_plugins_filter_is_never_folded_into_the_shared_code(example, monkeypatch):
    # A plugin's filter depends on the report as much as the engine's do.
    cache = templating._TemplateCodeCache()
    cache._disk = None
    monkeypatch.setattr(templating, "_BYTECODE", cache)
    env = templating.build_environment(*_themes(example), None, "en")
    calls = []
    env.filters["shout"] = lambda v: calls.append(v) or str(v).upper()
    templating.unfoldable(env.filters)
    template = env.from_string("{{ 'constant' | shout }} {{ 3 | round }}")
    assert calls == []  # nothing ran when compiling
    assert template.render() == "CONSTANT 3" and calls == ["constant"]


def _themes(example):
    _, plugins = example
    default = plugins.themes["default"].item
    return default, default


# --- French typography on free text (finding 9) ----------------------------------------------


@pytest.mark.parametrize("written,printed", [
    ("la marque : des personnes", f"la marque{NNBSP}: des personnes"),
    ("Black Friday ; puis", f"Black Friday{NNBSP}; puis"),
    ("Vraiment?", f"Vraiment{NNBSP}?"),
    ("Enfin !", f"Enfin{NNBSP}!"),
    ("Quoi ?!", f"Quoi{NNBSP}?!"),
    ("proche de 2,3 %.", f"proche de 2,3{NNBSP}%."),
    ("à 2,4% d'ici", f"à 2,4{NNBSP}% d’ici"),
    ("45 000 clics", f"45{NNBSP}000 clics"),
    ("1 250 000 vues", f"1{NNBSP}250{NNBSP}000 vues"),
    ("45000 clics", "45000 clics"),  # groups as written: none added
    ("dès 49 €", f"dès 49{NBSP}€"),
    ("2,2 M€ en 2026", f"2,2{NBSP}M€ en 2026"),
    ('peau "glow" tout l\'hiver', f"peau «{NNBSP}glow{NNBSP}» tout l’hiver"),
    # The apostrophe between two letters; a quote around a word, a URL's, a foot's stay.
    ("l'an dernier, aujourd'hui", "l’an dernier, aujourd’hui"),
    ("le mot 'lumière' ici", "le mot 'lumière' ici"),
    ("voir https://example.com/l'offre : ici", f"voir https://example.com/l'offre{NNBSP}: ici"),
    ("un écran 5' et 12'", "un écran 5' et 12'"),
    ("à 10:30 précises", "à 10:30 précises"),
    ("voir https://example.com/a?b=1 : ici", f"voir https://example.com/a?b=1{NNBSP}: ici"),
    ('lien www.example.com/"x" ; fin', f'lien www.example.com/"x"{NNBSP}; fin'),
    ("/recherche?q=creme", "/recherche?q=creme"),
    (f"déjà{NNBSP}: juste", f"déjà{NNBSP}: juste"),  # the engine's own strings unchanged
])
def test_french_typography_on_free_text(written, printed):
    from kpireport.typography import for_language

    assert for_language(written, "fr_FR") == printed
    assert for_language(printed, "fr") == printed  # set twice, the same
    assert for_language(written, "en_GB") == written


def test_the_french_engine_spaces_percent_narrowly_and_english_not():
    from kpireport.formatting import format_change, format_percent

    assert format_percent(0.0222, "fr_FR", 2) == f"2,22{NNBSP}%"
    assert format_change(-0.04, "fr_FR") == f"−4,0{NNBSP}%"
    assert format_percent(0.0222, "en_GB", 2) == "2.22%"


def test_a_french_commentary_keeps_its_markdown_code_and_links():
    from kpireport.commentary import commentary_html

    source = ('Nos priorités pour *novembre* : relancer le "panier" ;\n'
              'voir [le guide](https://example.com/g?a=1 "Titre : x") et `code : "x"`.')
    fr = str(commentary_html(source, language="fr_FR"))
    assert f"<em>novembre</em>{NNBSP}: relancer le «{NNBSP}panier{NNBSP}»{NNBSP};" in fr
    assert '<a href="https://example.com/g?a=1" title="Titre : x">le guide</a>' in fr
    assert '<code>code : &quot;x&quot;</code>' in fr
    en = str(commentary_html(source, language="en_GB"))
    assert "<em>novembre</em> : relancer le &quot;panier&quot; ;" in en
    # A quote opened before an emphasis closes after it.
    assert f"«{NNBSP}<strong>glow</strong>{NNBSP}»" in str(
        commentary_html('une peau "**glow**"', language="fr"))


def test_maisons_free_text_is_printed_with_french_typography(html):
    page = html["maison-lumiere"]
    text = text_of(page)
    # The config's objective titles and key results, the plugin's descriptions, the analyst's
    # note and commentary, a page title from the data.
    assert f"Taux de conversion à 2,4{NNBSP}% d’ici fin 2026" in text
    assert f"45{NNBSP}000 clics naturels par mois" in text
    assert f"au-dessus de 2{NNBSP}%" in text
    assert f"la marque{NNBSP}: des personnes" in text
    assert f"listées{NNBSP}: Google" in text
    assert f"proche de 2,3{NNBSP}%" in text
    assert f"novembre{NNBSP}:" in text
    assert f"Black Friday{NNBSP};" in text
    assert f"2,2{NBSP}M€ de chiffre d’affaires" in text
    # (a status badge's "!" is an icon, not punctuation)
    assert not re.search(r"\d %|\d\xa0%| [:;?](?=\s)|\d €", text)
    # Never inside an attribute: the addresses the report links to are as written.
    assert 'href="#summary"' in page
    english = text_of(html["acme-robotics"])
    assert NNBSP not in english and "«" not in english


# --- Time zones and tiles in the reader's words (finding 10) ---------------------------------


def test_a_source_time_zone_is_named_in_the_reports_language(html):
    french, english = text_of(html["maison-lumiere"]), text_of(html["acme-robotics"])
    assert "Google Search Console compte ses jours selon l’heure du Pacifique" in french
    assert "Google Search Console counts its days in Pacific Time." in english
    assert "America/Los_Angeles" not in french + english


def test_time_zone_names_fall_back_readably():
    from kpireport.formatting import timezone_name

    assert timezone_name("Europe/Paris", "fr_FR") == "heure d’Europe centrale"
    assert timezone_name("Asia/Kolkata", "fr_FR") == "heure (Inde)"
    assert timezone_name("Etc/UTC", "en_GB") == "UTC"
    assert timezone_name("Mars/Olympus", "en_GB") == "Mars/Olympus"


def test_tiles_say_their_comparison_as_the_language_does(html):
    french, english = html["maison-lumiere"], html["acme-robotics"]
    changes = re.findall(r'<div class="tile-change">.*?</span> ([^<]*)</div>', french)
    assert changes and set(changes) == {"sur un mois", "sur un an"}
    changes = re.findall(r'<div class="tile-change">.*?</span> ([^<]*)</div>', english)
    assert changes and set(changes) == {"vs last month", "vs last year"}


# --- Generated sentences whatever the label's number or gender (finding 11) -----------------


def test_a_comparisons_period_takes_the_preposition_its_name_needs():
    from kpireport.data import DateRange
    from kpireport.period_words import compared_with
    from kpireport.templating import translations

    fr = translations(ROOT / "report_templates" / "default" / "locale", "fr").gettext
    en = translations(ROOT / "report_templates" / "default" / "locale", "en").gettext
    month = DateRange(start=dt.date(2026, 9, 1), end=dt.date(2026, 9, 30))
    quarter = DateRange(start=dt.date(2026, 4, 1), end=dt.date(2026, 6, 30))
    days = DateRange(start=dt.date(2026, 4, 1), end=dt.date(2026, 5, 13))
    years = DateRange(start=dt.date(2025, 12, 1), end=dt.date(2026, 1, 13))
    assert compared_with(month, "fr_FR", fr) == "par rapport à septembre\xa02026"
    assert compared_with(quarter, "fr_FR", fr) == "par rapport au T2\xa02026"
    assert compared_with(days, "fr_FR", fr) == \
        "par rapport à la période du 1er\xa0avr. au 13\xa0mai\xa02026"
    assert compared_with(years, "fr_FR", fr) == \
        "par rapport à la période du 1er\xa0déc.\xa02025 au 13\xa0janv.\xa02026"
    assert compared_with(month, "en_GB", en) == "vs September\xa02026"
    assert compared_with(quarter, "en_GB", en) == "vs Q2\xa02026"
    assert compared_with(days, "en_GB", en) == "vs 1\xa0Apr\u202f–\u2060\u202f13\xa0May\xa02026"


def test_no_sentence_makes_a_kpis_label_its_subject(html, example):
    french, english = text_of(html["maison-lumiere"]), text_of(html["acme-robotics"])
    reports, _ = example
    for report, text in ((reports["maison-lumiere"], french),
                         (reports["acme-robotics"], english)):
        for kpi in report.every_kpi().values():
            label = re.escape(str(kpi.label))
            assert not re.search(f"{label} (est à|est de|est passée?|convertit|a apporté|ne "
                                 f"peut pas|is at|is \\d|rose to|went from|converts)", text)
    assert f"Commandes{NNBSP}: 3{NNBSP}106 (septembre\xa02026{NNBSP}: 2{NNBSP}679, " in french
    assert ("Conversion inférieure à la moyenne du site" f"{NNBSP}: Réseaux sociaux payants"
            in french)
    assert "il faut une hausse de 0,10 point de pourcentage chaque mois restant" in french
    assert "(+15,9\u202f% par rapport à septembre\xa02026)" in french
    assert "the KPI must" not in english and "l’indicateur doit" not in french


# --- The example's commentary agrees with itself and with its data (finding 17) -------------


def test_acmes_note_counts_the_shows_leads_from_the_crm_data():
    import csv

    note = (ROOT / "commentary" / "acme-robotics" / "2026-10.md").read_text(encoding="utf-8")
    said = re.search(r"Automation UK show \(14–16\s+October\) brought (\d+) qualified leads",
                     note)
    with open(ROOT / "examples" / "data" / "acme-robotics" / "crm_daily.csv",
              encoding="utf-8") as f:
        days = {r["date"]: r for r in csv.DictReader(f)}
    show = sum(int(days[f"2026-10-{d}"]["qualified_leads"]) for d in (14, 15, 16))
    month = sum(int(r["qualified_leads"]) for day, r in days.items()
                if day.startswith("2026-10"))
    assert said and int(said.group(1)) == show
    assert f"**{month} qualified leads**" in note
    assert f"1 October ({days['2026-10-01']['qualified_leads']} qualified leads" in note


def test_maisons_commentary_does_not_plan_what_it_says_is_done():
    from kpireport.analyst_notes import parse

    text = (ROOT / "commentary" / "maison-lumiere" / "2026-10.md").read_text(encoding="utf-8")
    notes = parse(text, lists=True)
    assert "relance des paniers abandonnés" in notes.done
    priorities = notes.commentary[notes.commentary.index("priorités pour novembre"):]
    assert "relancer les paniers" not in priorities and "relancer les paniers" not in \
        notes.planned
    # The guides: three in all, two of them published this month.
    assert "deux nouveaux guides" in notes.done and "(trois en tout)" in notes.done
    assert "Les trois guides" in notes.for_key("organic_clicks")


# --- Design details a French client reads (part of finding 18) ------------------------------


def test_the_cover_capitalises_the_month_that_starts_its_line(html):
    assert '<p class="report-period">Octobre 2026</p>' in html["maison-lumiere"]
    assert '<p class="report-period">October 2026</p>' in html["acme-robotics"]


def test_a_rate_column_keeps_one_precision(html):
    page = html["maison-lumiere"]
    table = page[page.index('id="table-top_queries"'):]
    table = table[:table.index("</table>")]
    rates = re.findall(r">(\d+,\d+)\u202f%<", table)
    assert rates and {len(r.split(",")[1]) for r in rates} == {2}  # "41,00 %" by "4,12 %"


def test_the_csv_sources_credit_reads_as_said_to_a_client(html):
    assert ("Conversions et chiffre d’affaires" f"{NNBSP}: tels que les indique l’outil "
            "d’analyse dont provient le fichier.") in text_of(html["maison-lumiere"])
    assert "exported it decides" not in text_of(html["acme-robotics"])


@pytest.mark.pdf
def test_the_french_pdf_reads_as_written(example):
    import io

    from pypdf import PdfReader

    from kpireport.render import render_report

    reports, plugins = example
    pdf = PdfReader(io.BytesIO(render_report(reports["maison-lumiere"], plugins).pdf))
    pages = [p.extract_text() for p in pdf.pages]
    assert "Octobre 2026" in pages[0]
    # No table heading split inside a word ("Chiffre d'af-faires", "Conver-sions").
    text = "\n".join(pages)
    assert "Conversions" in text and "Chiffre d’affaires" in text
    assert not re.search("\\w[\u2010-]\\s*\n?\\s*(faires|sions)\\b", text)
    # The analyst's note keeps its percent with its number.
    assert f"2,3{NNBSP}%" in text
