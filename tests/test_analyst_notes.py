"""The analyst's notes in the commentary file (a note per KPI or section, the month's work
done and planned) and the bundled typeface with its fallbacks, in the HTML and the PDF."""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from shared import ROOT, example_copy

from kpireport import typeface
from kpireport.analyst_notes import parse
from kpireport.cli import main
from kpireport.commentary import commentary_html
from kpireport.config import load_config
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.render import render_html, render_report

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
UNICODE = "Café Ünïcode — Ελληνικά Русский עברית 🚀✅"

ACME_NOTES = f"""## From your account manager

A strong month. {UNICODE}

*James, Northstar Digital*

## Note: won_revenue

Two cobot orders slipped into November <script>alert(1)</script>, see
[the brief](javascript:alert(1)) and [our site](https://northstar.example).

## Note: web

The site moved to its new host on 12 October.

## Note: top_queries

Branded queries dominate since the trade show.

## Note: objectives

The robots objective was reset in June.

## Note: sesions

A typo: no KPI has this key.

## Done this month

- Ran the Automation UK stand
- Rewrote the palletising page

## Planned next month

- Publish the case study
"""


# --- Parsing -------------------------------------------------------------------------------


def test_a_file_without_notes_is_todays_commentary():
    text = "## Our take\n\nSessions rose.\n\n## Next\n\n- call back\n"
    notes = parse(text)
    assert notes.commentary == text and notes.notes == []
    assert notes.done is None and notes.planned is None
    assert commentary_html(notes.commentary) == commentary_html(text)
    assert parse(None).commentary is None and parse("").commentary is None


def test_notes_and_lists_leave_the_general_text():
    notes = parse(ACME_NOTES)
    assert notes.commentary is not None
    assert notes.commentary.startswith("## From your account manager\n\nA strong month.")
    assert notes.commentary.rstrip().endswith("*James, Northstar Digital*")
    assert "Note:" not in notes.commentary and "Done this month" not in notes.commentary
    assert [(n.key, n.line) for n in notes.notes] == [
        ("won_revenue", 7), ("web", 12), ("top_queries", 16), ("objectives", 20),
        ("sesions", 24)]
    assert notes.for_key("WEB") == "The site moved to its new host on 12 October."
    assert notes.done == "- Ran the Automation UK stand\n- Rewrote the palletising page"
    assert notes.planned == "- Publish the case study"
    assert [n.key for n in notes.unknown({"won_revenue", "web", "top_queries",
                                          "objectives"})] == ["sesions"]


def test_french_headings_with_french_spacing():
    text = ("## Le mot de votre consultante\n\nBon mois.\n\n"
            "### Note\u202f: `conversion_rate`\n\nPaiement indisponible du 8 au 10.\n\n"
            "## Fait ce mois-ci :\n\n- deux guides\n\n"
            "## Prévu le mois prochain\n\n- le tunnel mobile\n")
    notes = parse(text)
    assert notes.commentary == "## Le mot de votre consultante\n\nBon mois."
    assert [(n.key, n.text) for n in notes.notes] == [
        ("conversion_rate", "Paiement indisponible du 8 au 10.")]
    assert notes.done == "- deux guides" and notes.planned == "- le tunnel mobile"


def test_a_note_ends_at_the_next_heading_of_its_level_and_keeps_its_subheadings():
    text = ("Intro.\n\nNote: sessions\n--------------\n\nFirst.\n\n### Detail\n\nSecond.\n\n"
            "## After\n\nBack to the commentary.\n\n> ## Note: users\n> quoted, not a note\n")
    notes = parse(text)
    [note] = notes.notes
    assert note.key == "sessions" and note.line == 3  # a setext heading, underline not kept
    assert note.text == "First.\n\n### Detail\n\nSecond."
    assert notes.commentary is not None
    assert "Back to the commentary." in notes.commentary and "First." not in notes.commentary
    assert "> ## Note: users" in notes.commentary  # a quoted heading is text


def test_without_the_actions_section_the_lists_stay_in_the_commentary():
    notes = parse(ACME_NOTES, lists=False)
    assert notes.done is None and notes.planned is None
    assert notes.commentary is not None
    assert "## Done this month\n\n- Ran the Automation UK stand" in notes.commentary
    assert "## Planned next month\n\n- Publish the case study" in notes.commentary
    assert "Note: web" not in notes.commentary and len(notes.notes) == 5


def test_windows_line_ends_and_unusual_separators_keep_the_lines():
    text = "Intro\u2028still intro.\r\n\r\n## Note: sessions\r\n\r\nDown.\r\n"
    notes = parse(text)
    assert notes.commentary == "Intro\u2028still intro."
    assert [(n.key, n.line, n.text) for n in notes.notes] == [("sessions", 3, "Down.")]


def test_a_file_of_notes_alone_has_no_commentary_section():
    notes = parse("## Note: sessions\n\nDown because of the outage.\n")
    assert notes.commentary is None and notes.for_key("sessions")


# --- Validate ------------------------------------------------------------------------------


def test_validate_names_the_file_the_heading_and_the_keys(tmp_path: Path, capsys: Any):
    path = example_copy(tmp_path)
    note = tmp_path / "commentary" / "acme-robotics" / "2026-09.md"
    note.parent.mkdir(parents=True)
    note.write_text(ACME_NOTES, encoding="utf-8")
    assert main(["validate", str(path), "--no-data"]) == 2
    out = capsys.readouterr().out
    [line] = [x for x in out.splitlines() if x.startswith("error:")]
    assert f"{note}:24: Note: sesions: 'sesions' is no KPI or section of client " \
           "'acme-robotics'" in line
    for key in ("won_revenue", "top_queries", "web", "objectives", "okrs", "recommendations"):
        assert re.search(rf"\b{key}\b", line)
    note.write_text(ACME_NOTES.replace("## Note: sesions", "## Note: sessions"),
                    encoding="utf-8")
    assert main(["validate", str(path), "--no-data"]) == 0


# --- The report ----------------------------------------------------------------------------


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The acme example with the notes above and a client name in several scripts, rendered
    once (HTML and PDF), with the warnings of the run and of WeasyPrint."""
    tmp_path = tmp_path_factory.mktemp("notes")
    note = tmp_path / "commentary" / "acme-robotics" / "2026-10.md"
    note.parent.mkdir(parents=True)
    note.write_text(ACME_NOTES, encoding="utf-8")

    def edit(data: dict[str, Any]) -> None:
        for client in data["clients"]:
            if client["id"] == "acme-robotics":
                client["name"] = f"Acme {UNICODE}"

    config = load_config(example_copy(tmp_path, edit))
    plugins = load_plugins()
    report = compute_report(config, config.client("acme-robotics"), plugins, now=NOW)
    recorder = _Recorder()
    loggers = [logging.getLogger("weasyprint"), logging.getLogger("kpireport.render")]
    for logger in loggers:
        logger.addHandler(recorder)
    try:
        rendered = render_report(report, plugins)
    finally:
        for logger in loggers:
            logger.removeHandler(recorder)
    reader = PdfReader(io.BytesIO(rendered.pdf))
    drawn: dict[str, str] = {}  # font → the text drawn with it

    def visit(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if font is not None:
            name = str(font["/BaseFont"]).split("+")[-1]
            drawn[name] = drawn.get(name, "") + text

    pages = [" ".join(p.extract_text(visitor_text=visit).split()) for p in reader.pages]
    fonts = {str(f.get_object()["/BaseFont"]).split("+")[-1] for p in reader.pages
             for f in p["/Resources"].get("/Font", {}).values()}
    return {"html": rendered.html, "pages": pages, "fonts": fonts, "drawn": drawn,
            "warnings": recorder.messages, "file": note}


@pytest.mark.pdf
def test_a_kpi_note_is_under_its_chart_in_the_html_and_the_pdf(acme: dict[str, Any]):
    html = acme["html"]
    block = html[html.index('<h3>Revenue from won deals</h3>'):]
    block = block[:block.index('<div class="kpi">')]
    chart, note = block.index('class="chart'), block.index('class="analyst-note"')
    assert chart < note < block.index('class="kpi-description"')
    assert "Two cobot orders slipped into November" in block
    # The commentary's rules: raw HTML is text, a javascript: link is not a link.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in block and "<script>alert" not in block
    assert 'href="javascript' not in block and 'href="https://northstar.example"' in block
    [page] = [p for p in acme["pages"] if "Two cobot orders" in p]
    assert page.index("Sales and pipeline") < page.index("Revenue from won deals") < page.index(
        "Two cobot orders slipped into November") < page.index("Won deals")


@pytest.mark.pdf
def test_section_and_table_notes_and_the_unknown_one(acme: dict[str, Any]):
    html = acme["html"]
    web = html[html.index('id="family-web"'):]
    assert web.index("The site moved to its new host") < web.index('<div class="kpi">')
    table = html[html.index('id="table-top_queries"'):]
    table = table[:table.index("</section>")]
    assert "Branded queries dominate since the trade show." in table
    objectives = html[html.index('<section class="objectives"'):]
    assert objectives.index("The robots objective was reset") < objectives.index(
        'class="objective"')
    # The typo is left out of the report, with a warning naming the file, line and keys.
    assert "A typo" not in html
    [warning] = [w for w in acme["warnings"] if "sesions" in w]
    assert f"{acme['file']}, line 24" in warning and "won_revenue" in warning
    text = " ".join(acme["pages"])
    assert "Branded queries dominate since the trade show." in text
    assert "The site moved to its new host on 12 October." in text


@pytest.mark.pdf
def test_done_and_planned_is_its_own_block(acme: dict[str, Any]):
    html = acme["html"]
    block = html[html.index('<section class="actions" id="actions">'):]
    block = block[:block.index("</section>")]
    done = block[block.index("Done this month"):block.index("Planned next month")]
    assert "<li>Ran the Automation UK stand</li>" in done
    assert "<li>Rewrote the palletising page</li>" in done
    assert "<li>Publish the case study</li>" in block[block.index("Planned next month"):]
    assert '<a href="#actions">Done and planned</a>' in html
    # Before the commentary, which keeps its own text only.
    assert html.index('id="actions"') < html.index('id="commentary"')
    commentary = html[html.index('id="commentary"'):]
    assert "A strong month." in commentary and "Ran the Automation UK" not in commentary
    [page] = [p for p in acme["pages"] if "Done and planned Done this month" in p]
    assert ("Done this month Ran the Automation UK stand Rewrote the palletising page "
            "Planned next month Publish the case study") in page


def _emoji_font() -> str | None:
    if shutil.which("fc-match") is None:
        return None
    found = subprocess.run(["fc-match", "-f", "%{family}", "emoji"], capture_output=True,
                           text=True, check=False).stdout
    return found if "emoji" in found.lower() or "symbola" in found.lower() else None


@pytest.mark.pdf
def test_every_character_prints_in_a_real_glyph(acme: dict[str, Any]):
    if _emoji_font() is None:
        pytest.skip("no emoji font (apt-get install fonts-noto-color-emoji): 🚀 would print "
                    "as an empty box")
    assert not [w for w in acme["warnings"] if ".notdef" in w]
    assert {"Inter", "Inter-Bold"} <= acme["fonts"]
    assert any("Emoji" in f or "Symbola" in f for f in acme["fonts"])
    # The scripts Inter lacks come from the fallback, not from boxes.
    assert "Café Ünïcode — Ελληνικά Русский" in " ".join(acme["pages"])
    # The emoji font draws the emoji alone: digits and spaces stay Inter's (an emoji font
    # named in the stack would take them).
    emoji = "".join(t for f, t in acme["drawn"].items() if "Emoji" in f or "Symbola" in f)
    assert emoji and not re.search(r"[0-9A-Za-z]", emoji)
    assert re.search(r"[0-9]", acme["drawn"]["Inter"])


# --- The typeface --------------------------------------------------------------------------


def test_the_typeface_files_and_licence_are_there():
    folder = ROOT / "report_templates" / "default" / "fonts"
    assert typeface.fonts_dir(ROOT / "report_templates" / "compact",
                              ROOT / "report_templates" / "default") == folder
    for face in typeface.PRINT_FACES:
        assert (folder / f"{face.stem}.otf").read_bytes()[:4] == b"OTTO"
    for face in typeface.WEB_FACES:
        assert (folder / f"{face.stem}.woff2").read_bytes()[:4] == b"wOF2"
    assert "SIL OPEN FONT LICENSE Version 1.1" in (folder / "OFL.txt").read_text("utf-8")


@pytest.mark.parametrize("theme", ["default", "compact"])
def test_the_web_page_embeds_the_typeface_for_screens_only(tmp_path: Path, theme: str):
    def edit(data: dict[str, Any]) -> None:
        data["defaults"]["theme"] = theme

    config = load_config(example_copy(tmp_path, edit))
    plugins = load_plugins()
    report = compute_report(config, config.client("maison-lumiere"), plugins, now=NOW)
    html, _, _ = render_html(report, plugins)
    screen = " ".join(re.findall(r'<style media="screen">(.*?)</style>', html, re.S))
    assert screen
    faces = re.findall(r"@font-face \{ font-family: \"Inter\"; src: url\(data:font/woff2;"
                       r"base64,[A-Za-z0-9+/=]{1000,}\) format\(\"woff2\"\); font-weight: (\d+)",
                       screen)
    # Nowhere else: WeasyPrint never parses the screen's styles.
    assert "data:font/woff2" not in re.sub(r'<style media="screen">.*?</style>', "", html,
                                           flags=re.S)
    assert faces == ["400", "700"]
    assert 'html { font-family: "Inter", "DejaVu Sans", sans-serif;' in html
    assert "file:" not in html  # the print faces' paths stay out of a delivered page


def test_the_web_faces_cover_what_the_examples_print_in_inter():
    """The web page's faces are Inter's Latin subset (fonts/README.md): every character of
    the example reports (French and English) that the print faces draw, they draw too."""
    from fontTools.ttLib import TTFont

    folder = ROOT / "report_templates" / "default" / "fonts"
    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    text = set()
    for client in config.clients:
        report = compute_report(config, client, plugins, now=NOW)
        html, _, _ = render_html(report, plugins)
        html = re.sub(r"<style.*?</style>|<script.*?</script>", "", html, flags=re.S)
        text |= set(re.sub(r"<[^>]+>", " ", html))
    assert {"é", "ç", "€", "£", "–", "«"} <= text
    for web, printed in (("Inter-Regular.woff2", "Inter-Regular.otf"),
                         ("Inter-Bold.woff2", "Inter-Bold.otf")):
        web_map = TTFont(folder / web).getBestCmap()
        print_map = TTFont(folder / printed).getBestCmap()
        missing = sorted(c for c in text if ord(c) in print_map and ord(c) not in web_map)
        assert missing == [], (web, missing)
        assert len(web_map) < len(print_map) / 2  # a subset: the web page carries half


def test_the_french_example_carries_its_notes_and_lists():
    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    report = compute_report(config, config.client("maison-lumiere"), plugins, now=NOW)
    html, _, _ = render_html(report, plugins)
    block = html[html.index("<h3>Taux de conversion</h3>"):]
    block = block[:block.index('class="kpi-description"')]
    assert "Le paiement mobile a été indisponible du 8 au 10 octobre" in block
    actions = html[html.index('id="actions"'):]
    assert actions.index("<h2>Réalisé et prévu</h2>") < actions.index(
        "<h3>Fait ce mois-ci</h3>") < actions.index("<h3>Prévu le mois prochain</h3>")
    assert ("<li>Tester la livraison offerte dès 49\xa0€ sur la gamme soins du visage</li>"
            in actions)
    assert '<a href="#actions">Réalisé et prévu</a>' in html
