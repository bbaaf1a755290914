"""Branding, sections, narrative, commentary, languages and the archival PDF."""

import csv
import datetime as dt
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader
from shared import example_copy

from kpireport.config import load_config
from kpireport.config.checks import check_config
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.render import render_report

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")


def render(path: Path, client: str):
    config = load_config(path)
    plugins = load_plugins()
    assert check_config(config, plugins, today=NOW.date()) == []
    report = compute_report(config, config.client(client), plugins, now=NOW)
    return report, render_report(report, plugins)


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(p.extract_text() for p in reader.pages).split())


@pytest.mark.pdf
def test_fonts_cover_image_footer_and_sections_come_from_config(tmp_path):
    shutil.copy(FONT, tmp_path / "brand.ttf")
    shutil.copy(ROOT / "examples" / "assets" / "acme-robotics.svg", tmp_path / "cover.svg")

    def edit(data):
        data["agency"]["fonts"] = [{"family": 'Brand "Serif"', "path": "brand.ttf"}]
        acme = data["clients"][2]
        acme["cover_image"] = "cover.svg"
        acme["footer"] = "Acme × Northstar — confidential"
        acme["sections"] = ["cover", "objectives", "summary", "appendix"]

    _, rendered = render(example_copy(tmp_path, edit), "acme-robotics")
    reader = PdfReader(io.BytesIO(rendered.pdf))
    fonts = {str(f.get_object()["/BaseFont"]) for page in reader.pages
             for f in (page["/Resources"].get("/Font") or {}).values()}
    # The agency's file is embedded under the family name the config gives it.
    assert any('Brand-"Serif"' in f for f in fonts), fonts
    text = text_of(rendered.pdf)
    assert "Acme × Northstar — confidential" in text
    # The configured order: objectives before the summary; no KPI sections, no OKRs.
    assert text.index("£4.5m of robots sold in 2026") < text.index("Summary")
    assert "Sales and pipeline" not in text and '<section class="okrs"' not in rendered.html
    assert "data:image/svg+xml;base64," in rendered.html and "cover-image" in rendered.html


def test_a_missing_font_or_cover_image_fails_validation(tmp_path):
    def edit(data):
        data["agency"]["fonts"] = [{"family": "Brand", "path": "nowhere.woff2"}]
        data["clients"][0]["cover_image"] = "missing-cover.jpg"

    config = load_config(example_copy(tmp_path, edit))
    problems = check_config(config, load_plugins(), today=NOW.date())
    fields = {p.field: p.message for p in problems}
    assert "nowhere.woff2" in fields["agency.fonts[0].path"]
    assert "missing-cover.jpg" in fields["clients[0].cover_image"]


def test_a_brand_file_that_is_no_image_or_font_fails_validation(tmp_path):
    (tmp_path / "logo.svg").write_text("not an image", encoding="utf-8")
    (tmp_path / "cover.jpg").write_text("<html>a web page saved as .jpg</html>")
    (tmp_path / "brand.woff2").write_bytes(b"<!DOCTYPE html>")

    def edit(data):
        data["agency"]["fonts"] = [{"family": "Brand", "path": str(tmp_path / "brand.woff2")}]
        data["clients"][0]["logo"] = str(tmp_path / "logo.svg")
        data["clients"][0]["cover_image"] = str(tmp_path / "cover.jpg")

    config = load_config(example_copy(tmp_path, edit))
    fields = {p.field: p.message for p in check_config(config, load_plugins(),
                                                       today=NOW.date())}
    assert "not a font file" in fields["agency.fonts[0].path"]
    assert "logo.svg: not an image" in fields["clients[0].logo"]
    assert "cover.jpg: not an image" in fields["clients[0].cover_image"]


@pytest.mark.pdf
def test_an_unknown_section_is_a_clear_error(tmp_path):
    def edit(data):
        data["clients"][1]["sections"] = ["cover", "summry"]

    config = load_config(example_copy(tmp_path, edit))
    plugins = load_plugins()
    report = compute_report(config, config.client("northwind-dental"), plugins, now=NOW)
    with pytest.raises(Exception, match="summry"):
        render_report(report, plugins)


@pytest.mark.pdf
def test_narrative_commentary_and_escaping(tmp_path):
    commentary = tmp_path / "commentary" / "northwind-dental" / "2026-10.md"
    commentary.parent.mkdir(parents=True)
    commentary.write_text("## Our take\n\nNew patients **up** again. <img src='x'> stays text.\n\n"
                          "- Call back within 24 h\n- Review the booking form\n",
                          encoding="utf-8")
    _, rendered = render(example_copy(tmp_path), "northwind-dental")
    text = text_of(rendered.pdf)
    assert "Improved" in text
    assert "Objectives achieved or on track: 1 of 3." in text
    # The objectives at a glance, each with its status and the forecast it is judged on.
    assert "Objectives and OKRs at a glance" in text
    assert "550 qualified leads a month by year end 510 550" in text
    assert "Off track forecast 494 at the deadline" in text
    assert "Our take" in text and "Call back within 24 h" in text
    assert "<img src='x'> stays text." in text
    assert "<strong>up</strong>" in rendered.html and "<img src='x'>" not in rendered.html


ENGLISH_WORDS = re.compile(r"\b(Summary|Objectives|Target|Achieved|On track|At risk|Off track|"
                           r"Missed|Sessions per|Recommendations|Contents|This year|Last year|"
                           r"How to read)\b")
FRENCH_WORDS = re.compile(r"\b(Synthèse|Objectifs|Cible|Atteint|En bonne voie|À risque|"
                          r"En retard|Manqué|Recommandations|Sommaire|Cette année)\b")


@pytest.mark.pdf
def test_french_report_has_no_english_template_words_and_the_reverse(tmp_path):
    _, fr = render(example_copy(tmp_path), "maison-lumiere")
    fr_text = text_of(fr.pdf)
    assert FRENCH_WORDS.search(fr_text)
    assert not ENGLISH_WORDS.search(fr_text), ENGLISH_WORDS.search(fr_text)
    _, en = render(example_copy(tmp_path), "acme-robotics")
    en_text = text_of(en.pdf)
    assert ENGLISH_WORDS.search(en_text) and not FRENCH_WORDS.search(en_text)


@pytest.mark.pdf
def test_contents_has_page_numbers_and_the_pdf_has_an_outline(tmp_path):
    note = tmp_path / "commentary" / "acme-robotics" / "2026-10.md"
    note.parent.mkdir(parents=True)
    note.write_text("## From your account manager\n\nA good month.\n", encoding="utf-8")
    _, rendered = render(example_copy(tmp_path), "acme-robotics")
    reader = PdfReader(io.BytesIO(rendered.pdf))
    contents = reader.pages[0].extract_text(extraction_mode="layout")  # under the cover
    assert "Contents" in contents
    objectives_page = next(i for i, p in enumerate(reader.pages, 1)
                           if p.extract_text().lstrip().startswith("Objectives"))
    assert re.search(rf"Objectives\s*{objectives_page}\b", contents)
    titles = [item.title for item in reader.outline if not isinstance(item, list)]
    assert "Acme Robotics" in titles and "Summary" in titles and "Objectives" in titles
    # The commentary's opening heading titles its section, beside the others: no
    # "Commentary" above it.
    assert "From your account manager" in titles and "Commentary" not in titles
    assert "/StructTreeRoot" in reader.trailer["/Root"]  # tagged for accessibility


@pytest.mark.pdf
def test_archival_pdf_is_pdfa3b_with_the_figures_attached(tmp_path):
    def edit(data):
        data["clients"][1]["archival"] = True

    report, rendered = render(example_copy(tmp_path, edit), "northwind-dental")
    path = tmp_path / "archival.pdf"
    path.write_bytes(rendered.pdf)
    check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    reader = PdfReader(path)
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    [(name, [data])] = list(reader.attachments.items())
    assert name == "northwind-dental-2026-10-figures.csv"
    # Listed once among the document's associated files (PDF/A-3's /AF).
    assert len(reader.trailer["/Root"]["/AF"]) == 1
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    text = text_of(rendered.pdf)
    printed = {(r["key"], r["field"]): r for r in rows}
    leads = printed[("qualified_leads", "value")]
    assert float(leads["value"]) == report.kpis["qualified_leads"].value
    assert leads["printed"] in text
    sections = {row["section"] for row in rows}
    assert {"kpi", "objective", "key_result", "okr"} <= sections
    assert {"progress", "expected_progress", "days_left"} <= {r["field"] for r in rows}
    for row in rows:
        if row["section"] in ("kpi", "objective", "key_result", "okr") and row["printed"] not in (
                "", "—"):
            # A change in its unit ("+0.9 days") is quoted in the CSV, as text starting
            # with "+" that is not a bare number is (no spreadsheet reads it as a formula).
            # The text's spaces squeezed: a figure's no-break space before its unit too.
            assert " ".join(row["printed"].removeprefix("'").split()) in text, row


@pytest.mark.pdf
def test_the_compact_theme_is_the_same_report_denser(tmp_path):
    def edit(data):
        data["clients"][1]["theme"] = "compact"

    report, compact = render(example_copy(tmp_path, edit), "northwind-dental")
    plain, default = render(example_copy(tmp_path), "northwind-dental")
    assert report.theme == "compact"
    assert compact.pages <= default.pages
    # Denser: the same content takes less paper (pages count whole; their filled height is
    # measured on WeasyPrint's layout, the page's content area a unit).
    from page_fill import lay_out

    plugins = load_plugins()
    used = [sum(p.fill for p in lay_out(r, plugins)[1]) for r in (report, plain)]
    assert used[0] < 0.9 * used[1], used
    text = text_of(compact.pdf)
    for expected in ("Northwind Dental Group", "Monthly performance report", "Qualified leads",
                     "Off track", "Top pages", "Contents"):
        assert expected in text, expected
    assert "compact-cover" in compact.html and "compact-cover" not in default.html


@pytest.mark.pdf
def test_data_notes_speak_the_reports_language(tmp_path):
    import csv as csv_module

    source = Path(ROOT / "examples" / "data" / "maison-lumiere" / "web_daily.csv")
    kept = tmp_path / "web_daily.csv"
    with source.open(encoding="utf-8") as f_in, kept.open("w", encoding="utf-8",
                                                          newline="") as f_out:
        reader = csv_module.reader(f_in)
        writer = csv_module.writer(f_out)
        for row in reader:
            if row[0] not in ("2026-10-06", "2026-10-07"):  # two days lost
                writer.writerow(row)

    def edit(data):
        data["clients"][0]["sources"]["web"]["settings"]["tables"][0]["path"] = str(kept)

    _, rendered = render(example_copy(tmp_path, edit), "maison-lumiere")
    text = text_of(rendered.pdf)
    assert "Google Analytics : aucune donnée pour 6 oct. 2026, 7 oct. 2026." in text
    assert "no data" not in text


@pytest.mark.pdf
def test_a_quarters_report_speaks_of_the_quarter_in_french(tmp_path):
    def edit(data):
        data["clients"][0]["on_source_error"] = "partial"  # monthly exports cannot give Q3

    config = load_config(example_copy(tmp_path, edit))
    plugins = load_plugins()
    report = compute_report(config, config.client("maison-lumiere"), plugins, now=NOW,
                            period_spec="2026-Q3")
    rendered = render_report(report, plugins)
    text = text_of(rendered.pdf)
    # The quarter as clients name it, then its days.
    assert "Rapport de performance trimestriel T3 2026 1er juil. – 30 sept. 2026" in text
    assert "T3 2026, comparé avec le T2 2026 et le T3 2025 :" in text  # spaces squeezed
    assert "avril 2026" not in text  # the quarter before, not the month it starts with
    # What a source cannot give for a quarter is said in French, without its files' paths.
    squeezed = " ".join(text.split())  # the sentence wraps
    assert "Impossible de donner « Visiteurs uniques » pour cette période" in squeezed
    # Sources are named as the config labels them for the client, not by their ids.
    assert "Google Analytics ne fournit ce chiffre que par mois civil" in squeezed
    assert "web :" not in text
    assert ".csv" not in text and "distinct count" not in text
    # Charts are the quarter's three months, ending with its last.
    bars = rendered.html[rendered.html.index('class="chart chart-bars"'):]
    labels = re.findall(r'class="chart-x"[^>]*>([^<]*)<', bars)
    assert labels[:3] == ["juil. 2026", "août", "sept."]
