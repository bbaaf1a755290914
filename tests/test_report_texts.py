"""The third review's text findings on the example reports (issue #15, "texts"): the summary
says its days and comparisons in one line, a number never ends a line without its unit, French
has its apostrophe and its spaced ": ;" (in the charts' labels too), and an uncomputable
distinct count says why in words that agree with its chart of months."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from pypdf import PdfReader

from kpireport import formatting
from kpireport.config import load_config
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.render import render_html, render_report

ROOT = Path(__file__).resolve().parent.parent
FIRST_OF_DECEMBER = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)
NBSP, NNBSP, WJ = "\xa0", "\u202f", "\u2060"

# (client, period): the monthly, Q3 and year-to-date reports as run on 1 December 2026.
REPORTS = [("acme-robotics", "2026-Q3"), ("maison-lumiere", "2026-Q3"),
           ("acme-robotics", "year-to-date"), ("maison-lumiere", "year-to-date"),
           ("maison-lumiere", "2026-10")]


@pytest.fixture(scope="module")
def reports():
    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    return {(c, p): compute_report(config, config.client(c), plugins, period_spec=p,
                                   now=FIRST_OF_DECEMBER) for c, p in REPORTS}, plugins


@pytest.fixture(scope="module")
def html(reports):
    computed, plugins = reports
    return {key: render_html(report, plugins)[0] for key, report in computed.items()}


@pytest.fixture(scope="module")
def pdf_lines(reports):
    """Each PDF's text, page by page, line by line as WeasyPrint broke them."""
    computed, plugins = reports
    out = {}
    for key in [("acme-robotics", "2026-Q3"), ("maison-lumiere", "2026-Q3"),
                ("maison-lumiere", "year-to-date"), ("acme-robotics", "year-to-date"),
                ("maison-lumiere", "2026-10")]:
        reader = PdfReader(io.BytesIO(render_report(computed[key], plugins).pdf))
        out[key] = [page.extract_text().splitlines() for page in reader.pages]
    return out


def summary_of(page: str) -> str:
    section = page[page.index('<section class="summary"'):]
    return section[:section.index("</section>")]


# --- 1. The summary's one line ----------------------------------------------------------------


@pytest.mark.parametrize(("key", "line"), [
    (("acme-robotics", "2026-Q3"), "Q3\xa02026, compared with Q2 2026 and Q3 2025:"),
    (("maison-lumiere", "2026-Q3"), f"T3\xa02026, comparé avec le T2 2026 et le T3 2025{NNBSP}:"),
    (("maison-lumiere", "2026-10"),
     f"Octobre\xa02026, comparé avec septembre 2026 et octobre 2025{NNBSP}:"),
    (("acme-robotics", "year-to-date"),
     f"1\xa0Jan{NNBSP}–{WJ}{NNBSP}24\xa0Nov\xa02026 (Google Search Console: up to 31 Oct), "
     "compared with the same days of 2025:"),
    (("maison-lumiere", "year-to-date"),
     f"1er\xa0janv.{NNBSP}–{WJ}{NNBSP}24\xa0nov.\xa02026 (Google Search Console{NNBSP}: "
     f"jusqu’au 31 oct.), comparé avec les mêmes jours de 2025{NNBSP}:"),
])
def test_the_summary_says_its_days_and_comparisons_in_one_line(html, key, line):
    # The days covered never part at a line's end (no-break spaces inside them).
    summary = summary_of(html[key])
    assert f'<p class="tiles-caption">{line}</p>' in summary
    # Not a sentence before it saying the days and the comparisons again.
    assert 'class="lead"' not in summary
    for said in ("Figures up to", "Chiffres jusqu", "and the change since", "évolution depuis"):
        assert said not in summary
    assert summary.count("Google Search Console") <= 1


# --- 2. A number with its unit -----------------------------------------------------------------


class English:
    gettext = staticmethod(lambda s: s)
    ngettext = staticmethod(lambda one, many, n: one if n == 1 else many)


@pytest.mark.parametrize(("text", "expected"), [
    # Review 4: English's short units unpluralised in every English locale ("sec", not
    # en_GB's CLDR "secs"), the whole duration unbreakable.
    (formatting.format_duration(89, "en_GB"), f"1{NBSP}min{NBSP}29{NBSP}sec"),
    (formatting.format_duration(89, "en_US"), f"1{NBSP}min{NBSP}29{NBSP}sec"),
    (formatting.format_duration(47, "en_GB"), f"47{NBSP}sec"),
    (formatting.format_duration(130, "en_GB"), f"2{NBSP}min{NBSP}10{NBSP}sec"),
    # CLDR's French spaces, kept: a no-break space before "min", a narrow one before "s".
    (formatting.format_duration(89, "fr_FR"), f"1{NBSP}min{NBSP}29{NNBSP}s"),
    (formatting.format_duration(92.5, "en_GB", "days"), f"92.5{NBSP}days"),
    (formatting.format_duration(90, "en_GB", "days", axis=True), f"90{NBSP}days"),
    (formatting.format_duration(120, "en_GB", axis=True), f"2{NBSP}min"),
    (formatting.format_duration(120, "en_US", axis=True), f"2{NBSP}min"),
    (formatting.format_points(0.0057, "fr_FR", English()), f"+0,57{NBSP}pt"),
    (formatting.format_points(-0.021, "en_GB", English()), f"\u22122.1{NBSP}pts"),
    (formatting.format_places(-2.9, "en_GB", English()), f"up 2.9{NBSP}places"),
    (formatting.format_places(1.0, "en_GB", English()), f"down 1.0{NBSP}places"),
])
def test_a_number_is_never_parted_from_its_unit(text, expected):
    assert text == expected


def test_unit_bound_keeps_the_named_figure_with_the_next_word_in_any_word_order():
    assert formatting.unit_bound("gagne %(places)s place", "places") == \
        f"gagne %(places)s{NBSP}place"
    assert formatting.unit_bound("%(count)d jours du %(first)s", "count") == \
        f"%(count)d{NBSP}jours du %(first)s"
    # Only the figures named: a source's label before a verb stays breakable.
    assert formatting.unit_bound("%(source)s gives %(points)s pts", "points") == \
        f"%(source)s gives %(points)s{NBSP}pts"


UNIT_WORD = re.compile(r"^(pts?|places?|points?|secs?|sec|mins?|min|s|days?|jours?)\b")


@pytest.mark.pdf
def test_no_line_of_the_pdf_starts_with_a_unit_whose_number_ended_the_line_before(pdf_lines):
    """Review: "T3 2025 : 2,96 % +0,57⏎pt", "gagne 1,9⏎place", "16.6 up 2.9⏎places"."""
    for key, pages in pdf_lines.items():
        for number, lines in enumerate(pages, 1):
            parted = [(a, b) for a, b in itertools.pairwise(lines)
                      if re.search(r"\d$", a.rstrip()) and UNIT_WORD.match(b.strip())]
            assert parted == [], (key, number)
    # The figures are there, whole, where the review found them parted.
    acme = " ".join(" ".join(p) for p in pdf_lines["acme-robotics", "2026-Q3"])
    assert re.search(r"up[\s\xa0]2\.9[\s\xa0]places", acme)
    maison = " ".join(" ".join(p) for p in pdf_lines["maison-lumiere", "2026-Q3"])
    assert re.search(r"\+0,57[\s\xa0]pt", maison) and re.search(r"1,9[\s\xa0]place", maison)


# --- 3. French details --------------------------------------------------------------------------


def _french_strings(po: Path) -> list[str]:
    with po.open("rb") as f:
        return [t for m in read_po(f) if m.id and m.string
                for t in ((m.string,) if isinstance(m.string, str) else m.string)]


def test_the_french_catalogue_writes_the_typographic_apostrophe():
    texts = _french_strings(ROOT / "report_templates" / "default" / "locale" / "fr" /
                            "LC_MESSAGES" / "kpireport.po")
    assert [t for t in texts if re.search(r"[^\W\d_]'", t)] == []
    assert sum("’" in t for t in texts) > 25


def test_a_french_report_prints_no_straight_apostrophe_in_its_own_text(html):
    import html as entities

    for key in (("maison-lumiere", "2026-10"), ("maison-lumiere", "2026-Q3"),
                ("maison-lumiere", "year-to-date")):
        body = re.sub(r"<(style|script)\b.*?</\1>", " ", html[key], flags=re.S)
        # A table's text cells are the client's data (page titles): printed as they are.
        data = re.findall(r'<td class="text">(.*?)</td>', body, flags=re.S)
        if key[1] == "2026-10":
            assert any("à l'huile de rose musquée" in entities.unescape(d) for d in data)
        body = re.sub(r'<td class="text">.*?</td>', " ", body, flags=re.S)
        text = entities.unescape(re.sub(r"<[^>]+>", " ", body))
        assert re.findall(r"\S*[^\W\d_]'[^\W\d_]\S*", text) == [], key
        assert "Chiffre d’affaires en ligne" in text and "l’an dernier" in text.lower()


def test_the_year_to_dates_change_column_is_french_and_reads_as_the_monthlys(html):
    ytd, monthly = html["maison-lumiere", "year-to-date"], html["maison-lumiere", "2026-10"]
    # Review 4: a short header (the long one stacked on five lines), its same days said under
    # each table that has the column.
    assert '<th class="num change">/ an dernier</th>' in ytd
    assert '<th class="num change">/ période préc.</th>' in monthly
    assert ">vs " not in ytd and "mêmes jours de l’an dernier</th>" not in ytd
    columns = ytd.count('<th class="num change">')
    assert columns >= 2
    assert ytd.count('<p class="note">Évolutions par rapport aux mêmes jours de 2025.</p>') \
        == columns
    assert "Évolutions par rapport" not in monthly
    english = html["acme-robotics", "year-to-date"]
    assert '<th class="num change">vs last year</th>' in english
    assert '<p class="note">Changes against the same days of 2025.</p>' in english


def test_the_clicks_captions_read_well_in_both_languages(html):
    from kpireport_web_kpis import SEO_KPIS

    french = html["maison-lumiere", "2026-Q3"]
    assert ("Tirés des exports, ces clics ne comptent que les requêtes listées"
            f"{NNBSP}: Google en masque certaines pour protéger la vie privée.") in french
    assert "Depuis les exports, la somme" not in french
    # No English client of the example has them: their definitions' own words.
    for key in ("branded_clicks", "non_branded_clicks"):
        [kpi] = [k for k in SEO_KPIS if k.id == key]
        assert kpi.description is not None
        assert kpi.description["en"].endswith(
            "Taken from exports, these count only the queries listed: Google hides some "
            "queries for privacy.")


def test_the_charts_labels_space_french_colons_and_semicolons(html):
    french = html["maison-lumiere", "2026-10"]
    labels = re.findall(r'role="img" aria-label="([^"]*)"', french)
    sources = next(x for x in labels if x.startswith("Sources de trafic"))
    assert sources.startswith(f"Sources de trafic{NNBSP}: Recherche naturelle{NNBSP}: ")
    assert f"{NNBSP}; Accès direct{NNBSP}: " in sources
    # Every chart's label: no ":" or ";" glued to the word before it.
    assert labels and all(not re.search(r"[^\s\u202f][:;]", x) for x in labels)
    english = html["acme-robotics", "2026-Q3"]
    assert all(not re.search(r"\u202f[:;]", x)
               for x in re.findall(r'role="img" aria-label="([^"]*)"', english))


# --- 4. Unique visitors in a quarter and a year to date -----------------------------------------


@pytest.mark.parametrize("key", [("acme-robotics", "2026-Q3"),
                                 ("acme-robotics", "year-to-date"),
                                 ("maison-lumiere", "2026-Q3"),
                                 ("maison-lumiere", "year-to-date")])
def test_unique_visitors_say_why_the_period_has_no_figure_as_its_chart_shows(
        reports, html, key):
    report = reports[0][key]
    users = report.kpis["users"]
    # The figure is not given, the months are: the chart's bars are the source's months.
    assert users.value is None and [m.value for m in users.monthly if m.value is not None]
    # Contract 1.4: the note's "why" says so, for a rule as for the report.
    [note] = [n for n in users.notes if n.kind.value == "unavailable"]
    assert dict(note.params)["why"] == "months"
    page = html[key]
    if key[0] == "acme-robotics":
        said = ("Unique visitors cannot be given for this period: Google Analytics gives it "
                "per calendar month only, and months cannot be added up (someone who came in "
                "several months would be counted in each).")
    else:
        said = (f"Impossible de donner «{NNBSP}Visiteurs uniques{NNBSP}» pour cette période"
                f"{NNBSP}: Google Analytics ne fournit ce chiffre que par mois civil, et les "
                "mois ne s’additionnent pas (une personne venue plusieurs mois serait comptée "
                "dans chacun).")
    assert said in page
    assert "day by day" not in page and "jour par jour, et additionner" not in page


# --- 5. Review 4: dates in the locale's own order, never parted at a line's end -----------------


class French:
    ngettext = English.ngettext

    @staticmethod
    def gettext(s: str) -> str:
        return {"vs %(first)s – %(last)s": "par rapport à la période du %(first)s au %(last)s",
                "vs %(month)s": "par rapport à %(month)s"}.get(s, s)


D = dt.date
RANGES = [(D(2025, 11, 1), D(2025, 11, 24)), (D(2025, 1, 1), D(2025, 11, 24)),
          (D(2024, 12, 1), D(2025, 1, 24))]


@pytest.mark.parametrize(("locale", "words", "expected"), [
    ("en_US", English, ["vs Nov 1 – 24, 2025", "vs Jan 1 – Nov 24, 2025",
                        "vs Dec 1, 2024 – Jan 24, 2025"]),
    ("en_GB", English, ["vs 1 – 24 Nov 2025", "vs 1 Jan – 24 Nov 2025",
                        "vs 1 Dec 2024 – 24 Jan 2025"]),
    ("fr_FR", French, ["par rapport à la période du 1er au 24 nov. 2025",
                       "par rapport à la période du 1er janv. au 24 nov. 2025",
                       "par rapport à la période du 1er déc. 2024 au 24 janv. 2025"]),
])
def test_a_compared_range_is_the_locales_own_and_never_breaks_inside(locale, words, expected):
    """Review 4: "vs 1 Jan – Nov 24, 2025" in an American report (a British start, an
    American end), and "vs 1 Jan / – 24 Nov 2025" parted at a line's end."""
    from types import SimpleNamespace

    from kpireport.period_words import compared_with

    said = [compared_with(SimpleNamespace(start=a, end=b), locale, words.gettext)
            for a, b in RANGES]
    plain = [t.replace(NBSP, " ").replace(NNBSP, " ").replace(WJ, "") for t in said]
    # texts3: never a break after the dash either (a word joiner: UAX #14 allows one after a
    # dash before a no-break space, which parted "1 Jan –⏎24 Nov 2025").
    assert all(f"–{WJ}{NNBSP}" in t for t in said if "–" in t)
    assert plain == expected
    for text, (first, last) in zip(said, RANGES, strict=True):
        # The range as the locale prints it alone (the dash between narrow no-break spaces).
        if locale != "fr_FR":
            assert text == "vs " + formatting.format_days(first, last, locale).replace(" ", NBSP)
        # Each day (or side of the range) unbreakable, the sentence's own words around them.
        ends = formatting.interval_ends(first, last, locale)
        assert all(" " not in end and end in text for end in ends)
        assert text.replace(ends[0], "").replace(ends[1], "").strip(
            NNBSP + WJ + "– ") in ("vs", "par rapport à la période du  au")
    # A whole month keeps its year.
    month = compared_with(SimpleNamespace(start=D(2025, 10, 1), end=D(2025, 10, 31)), locale,
                          words.gettext)
    assert month.endswith(f"{NBSP}2025") and ("October" in month or "octobre" in month)


MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|"
          "December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|janvier|février|mars|"
          "avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre|janv\\.|févr\\.|"
          "avr\\.|juil\\.|sept\\.|oct\\.|nov\\.|déc\\.")
ENDS_PARTED = re.compile(rf"(\b(?:{MONTHS})|(?:\b\d{{1,2}}|1er)\s*[–-]?)$")
STARTS_YEAR = re.compile(r"^(?:19|20)\d\d\b(?!\s*[-–]\s*\d)")
STARTS_MONTH_AFTER_DAY = re.compile(rf"^[–-]?\s*(?:{MONTHS})\b")


@pytest.mark.pdf
def test_no_line_of_the_pdf_parts_a_date_or_a_period_from_its_value(pdf_lines):
    """Review 4: "· October⏎2025: £139,200", « octobre⏎2025 : 133 295 € », "vs 1 Jan⏎– 24
    Nov 2025", "1 Jan – 24⏎Nov 2025": no line starts with a year, nor ends with a month's
    name or a day's number whose month opens the next line."""
    for key, pages in pdf_lines.items():
        for number, lines in enumerate(pages, 1):
            for a, b in itertools.pairwise(line.strip() for line in lines):
                assert not STARTS_YEAR.match(b), (key, number, a, b)
                # A month's name whose day or range goes on the next line ("vs 1 Jan⏎– 24
                # Nov"); not a chart's axis of months ending its line.
                month_ends = re.search(rf"\b(?:{MONTHS})$", a)
                assert not (month_ends and re.match(r"[–-]", b)), (key, number, a, b)
                # A range's second day ("1 Jan – 24⏎Nov"), not a table's figure before the
                # next cell's month.
                day_ends = re.search(r"–\s*\d{1,2}$", a) or a.endswith("–")
                assert not (day_ends and STARTS_MONTH_AFTER_DAY.match(b)), (key, number, a, b)
                # texts3: a range's dash ending a line, its second day opening the next
                # ("vs 1 Jan –⏎24 Nov 2025", review 5).
                assert not (a.endswith("–") and re.match(rf"\d{{1,2}}(?:er)?\s(?:{MONTHS})", b)), (
                    key, number, a, b)
    # The pairs and ranges the review found parted are there, whole, on one line.
    maison = [line for page in pdf_lines["maison-lumiere", "2026-10"] for line in page]
    assert any(re.search(r"octobre[\s\xa0]2025[\s\u202f]:[\s\xa0]", line) for line in maison)
    acme = [line for page in pdf_lines["acme-robotics", "year-to-date"] for line in page]
    assert any(re.search(r"vs 1[\s\xa0]Jan[\s\u202f]–[\s\u202f]24[\s\xa0]Nov[\s\xa0]2025",
                         line) for line in acme)


def test_an_address_breaks_at_its_slashes_never_after_a_hyphen():
    """Review 4: "/produit/serum-eclat-⏎vitamine-c", "/boutique/soins-⏎visage" read as a
    word's hyphenation."""
    from kpireport.template_context import _wrappable

    ZWSP = "\u200b"
    short = _wrappable("/boutique/soins-visage")
    assert short == f"/{ZWSP}boutique/{ZWSP}soins-{WJ}visage"
    # Review 5: a slug that fits a line of its own breaks only after its slash ("/produit/
    # serum⏎-eclat-vitamine-c" when a break before its hyphens was allowed: a line takes
    # every break that fits).
    fits = _wrappable("/produit/creme-de-nuit-regenerante")
    assert fits == f"/{ZWSP}produit/{ZWSP}creme-{WJ}de-{WJ}nuit-{WJ}regenerante"
    # A part longer than a column may break before its hyphens as the last resort, never
    # after one.
    long = _wrappable("/blog/how-much-do-dental-implants-cost")
    assert long == (f"/{ZWSP}blog/{ZWSP}how{ZWSP}-{WJ}much{ZWSP}-{WJ}do{ZWSP}-{WJ}dental"
                    f"{ZWSP}-{WJ}implants{ZWSP}-{WJ}cost")
    # The address itself, once the invisible marks are taken out (copy-paste).
    for text in (short, fits, long):
        assert text.replace(ZWSP, "").replace(WJ, "") in (
            "/boutique/soins-visage", "/produit/creme-de-nuit-regenerante",
            "/blog/how-much-do-dental-implants-cost")
    assert _wrappable("Crème anti-âge") == "Crème anti-âge"  # not an address: as it is


@pytest.mark.pdf
def test_the_pdfs_addresses_end_no_line_with_a_hyphen_and_copy_clean(pdf_lines):
    lines = [line for page in pdf_lines["maison-lumiere", "year-to-date"] for line in page]
    addresses = [line for line in lines if line.startswith(("/", "-")) or
                 re.match(r"^\d+ /", line)]
    assert len(addresses) >= 8
    assert [line for line in addresses if line.rstrip().endswith("-")] == []
    text = "\n".join(lines)
    assert "\u2060" not in text and "\u200b" not in text
    assert "/boutique/" in text and "soins-visage" in text
    # Review 5: each slug whole on its line, after its slash ("/produit/⏎serum-eclat-
    # vitamine-c"), never parted before a hyphen ("/produit/serum⏎-eclat-vitamine-c").
    assert not [line for line in lines if line.startswith("-")]
    for slug in ("serum-eclat-vitamine-c", "creme-de-nuit-regenerante"):
        assert any(line.strip().startswith(slug) for line in lines), slug


# --- texts3 (review 5) ---------------------------------------------------------------------

CHANGE_OPENS = re.compile(r"^(?:[+−±]\s?\d|up\b|down\b|gagne\b|perd\b|same position\b)")
# A line ending on a period's figure ("October 2025: 3,123"), not on a sentence's comma.
ENDS_WITH_PERIOD_VALUE = re.compile(r"(?:\b(?:19|20)\d\d|\d)[\s\u202f\xa0]?:[^:·]+(?<![,;])$")


@pytest.mark.pdf
def test_no_line_of_a_compare_line_parts_a_figure_from_its_change(pdf_lines):
    """Review 5: "October 2025: 3,123⏎+44.3%", "up⏎2.9 places", « 2 090⏎+48,6 % »: a
    period, its figure and its change are one unit; the line breaks only at the "·"."""
    checked = 0
    for key, pages in pdf_lines.items():
        for number, lines in enumerate(pages, 1):
            for a, b in itertools.pairwise(line.strip() for line in lines):
                if ENDS_WITH_PERIOD_VALUE.search(a):
                    checked += 1
                    assert not CHANGE_OPENS.match(b), (key, number, a, b)
                assert not re.search(r"\b(?:up|down|gagne|perd)$", a), (key, number, a, b)
                assert not b.startswith("·"), (key, number, a, b)
    assert checked > 10  # the compare lines were read: many end a line with a figure


def _compare_lines(page: str) -> list[str]:
    import html as html_module

    found = re.findall(r'<p class="compare">(.*?)</p>', page, flags=re.S)
    return [html_module.unescape(re.sub(r"<[^>]+>", "", p)) for p in found]


@pytest.mark.parametrize("key", [("maison-lumiere", "2026-10"), ("acme-robotics", "2026-Q3"),
                                 ("acme-robotics", "year-to-date")])
def test_a_compare_line_may_break_only_after_its_value_and_at_its_dot(html, key):
    lines = [t for t in _compare_lines(html[key]) if ":" in t]
    assert len(lines) >= 5
    two = key[1] != "year-to-date"
    for text in lines:
        # A plain space after the KPI's own value, and after the "·" between comparisons.
        assert text.count(" ") == (2 if two else 1), repr(text)
        if two:
            assert f"{NBSP}· " in text, repr(text)
    if key == ("acme-robotics", "2026-Q3"):
        assert any(re.search(f"up{NBSP}\\d\\.\\d{NBSP}places", t) for t in lines), lines


def test_a_source_wide_note_is_said_once_under_about_the_data(html):
    """Review 5: "Google Search Console: small numbers withheld…" under two or three tables
    and again under About the data."""
    page = html["maison-lumiere", "2026-10"]
    assert page.count("petits nombres masqués") == 1
    about = page[page.index('id="data-notes"'):]
    assert "petits nombres masqués" in about[:about.index("</section>")]


@pytest.mark.parametrize(("key", "said", "not_said"), [
    (("acme-robotics", "year-to-date"),
     "the last day of data, compared with the same days of 2025.", "periods before"),
    (("maison-lumiere", "year-to-date"),
     "dernier jour de données, comparés aux mêmes jours de 2025.", "périodes précédentes"),
    (("acme-robotics", "2026-Q3"),
     "Top search queries cannot be shown for this period: Google Search Console gives this "
     "ranking for other periods only (month by month, for example), and rankings cannot be "
     "combined into one for this period.", "gives it only"),
    (("maison-lumiere", "2026-Q3"),
     "ne fournit ce classement que pour d’autres périodes (mois par mois, par exemple)",
     "ce chiffre que pour d’autres"),
])
def test_about_the_data_names_the_one_comparison_and_calls_a_table_a_ranking(
        html, key, said, not_said):
    about = html[key][html[key].index('id="data-notes"'):]
    about = about[:about.index("</section>")].replace(NBSP, " ").replace(NNBSP, " ")
    assert said.replace(NNBSP, " ") in about
    assert not_said not in about


def test_a_summary_with_one_list_gives_it_the_full_width(html):
    """Review 5: Maison's monthly summary lists only improvements, in a half-width column."""
    for key, page in html.items():
        movers = re.search(r'<div class="narrative movers( single)?">(.*?)</div>\s*</div>',
                           page, flags=re.S)
        if movers is None:
            continue
        lists = movers.group(2).count("<ul>")
        assert (movers.group(1) is not None) == (lists == 1), key
    assert 'class="narrative movers single"' in html["maison-lumiere", "2026-10"]
    css = (ROOT / "report_templates/default/style.css").read_text()
    assert ".movers.single .mover { width: auto;" in css


def test_the_examples_english_key_result_writes_its_percentage_unspaced():
    config = load_config(ROOT / "config.example.yaml")
    titles = [kr.title for okr in config.client("northwind-dental").okrs
              for kr in okr.key_results]
    assert "Keep the conversion rate above 4%" in titles


def test_a_findings_years_stay_with_their_periods_and_its_quoted_data_as_typed():
    """Review 5: a card's « sur le T2 / 2025 » parted a period from its year at a line's end."""
    from kpireport.typography import hold_years

    assert hold_years("down 5.9% on Q2 2025, as in October 2025") == \
        "down 5.9% on Q2\xa02025, as in October\xa02025"
    # A query the finding quotes is printed as its users typed it; an address too.
    assert hold_years("“robots 2025” and Q3 2025 (https://x.example/a 2025)",
                      verbatim=["robots 2025"]) == \
        "“robots 2025” and Q3\xa02025 (https://x.example/a 2025)"
    assert hold_years("1 Jan – 24 Nov 2025; 12 2025") == "1 Jan – 24 Nov\xa02025; 12\xa02025"
