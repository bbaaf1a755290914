"""``kpireport run`` end to end: config → CSV → KPIs → objectives → PDF on disk."""

import shutil
import textwrap
from pathlib import Path

import pytest
from pypdf import PdfReader
from shared import recording_server

from kpireport.cli import main

ROOT = Path(__file__).resolve().parent.parent

# Every test runs ``kpireport run`` (here or in the module's example_run): PDFs, in workers.
pytestmark = [pytest.mark.pdf, pytest.mark.workers]


def delivered_pdfs(folder: Path) -> list[Path]:
    """PDFs delivered to a folder (the run's own state lives in .kpireport/)."""
    return [p for p in folder.rglob("*.pdf") if ".kpireport" not in p.parts]


def pdf_text(path: Path) -> tuple[PdfReader, str]:
    reader = PdfReader(path)
    text = "\n".join(page.extract_text() for page in reader.pages)
    return reader, " ".join(text.split())


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    code = main(["run", str(ROOT / "config.example.yaml"), "--output", str(out)])
    return code, out


def test_example_run_writes_one_pdf_per_client(example_run):
    code, out = example_run
    assert code == 0
    pdfs = sorted(p.relative_to(out).as_posix() for p in delivered_pdfs(out))
    assert pdfs == ["acme-robotics/acme-robotics-2026-10.pdf",
                    "maison-lumiere/maison-lumiere-2026-10.pdf",
                    "northwind-dental/northwind-dental-2026-10.pdf"]
    assert not list(out.rglob("*.part"))
    assert len([p for p in out.rglob("*.html") if ".kpireport" not in p.parts]) == 3


def test_english_report_holds_names_labels_and_statuses(example_run):
    _, out = example_run
    reader, text = pdf_text(out / "acme-robotics" / "acme-robotics-2026-10.pdf")
    assert len(reader.pages) >= 4
    for expected in ("Acme Robotics", "Northstar Digital", "Revenue from won deals",
                     "Qualified leads", "Sales cycle length", "Organic clicks",
                     "Top search queries", "Missed", "£4.5m of robots sold in 2026"):
        assert expected in text, expected
    # Numbered from the second page (the cover's has no footer) to the last.
    n = len(reader.pages)
    assert f"2 / {n}" in text and f"{n} / {n}" in text
    meta = reader.metadata
    assert "Acme Robotics" in meta.title and meta.author == "Northstar Digital"
    assert str(reader.trailer["/Root"]["/Lang"]) == "en"


def test_french_report_is_in_french(example_run):
    _, out = example_run
    reader, text = pdf_text(out / "maison-lumiere" / "maison-lumiere-2026-10.pdf")
    for expected in ("Maison Lumière", "Chiffre d’affaires en ligne", "Taux de conversion",
                     "Clics naturels", "Position moyenne", "octobre 2026"):
        assert expected in text, expected
    assert str(reader.trailer["/Root"]["/Lang"]) == "fr"
    # Numbers in French: a comma before decimals, the euro sign after the amount.
    assert " €" in text and "%" in text


def test_one_client_only_and_an_unknown_client(tmp_path, capsys):
    code = main(["run", str(ROOT / "config.example.yaml"), "--client", "northwind-dental",
                 "--output", str(tmp_path)])
    assert code == 0
    assert [p.name for p in delivered_pdfs(tmp_path)] == ["northwind-dental-2026-10.pdf"]
    code = main(["run", str(ROOT / "config.example.yaml"), "--client", "nobody",
                 "--output", str(tmp_path / "x")])
    assert code == 2 and "nobody" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_html_and_urls_in_data_are_text_and_fetch_nothing(tmp_path):
    with recording_server() as (port, hits):
        evil = (f'<img src="http://127.0.0.1:{port}/pixel.png">'
                '<img src="file:///etc/passwd"><b>Bold</b> & co')
        data = tmp_path / "data"
        data.mkdir()
        lines = ["date,page,page_title,pageviews,time_on_page"]
        for day in range(1, 32):
            lines.append(f'2026-10-{day:02d},/x,"{evil.replace(chr(34), chr(34) * 2)}",10,30')
            lines.append(f"2026-10-{day:02d},/y,Plain page,5,20")
        (data / "pages.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        config = tmp_path / "config.yaml"
        config.write_text(textwrap.dedent("""\
            agency:
              name: Test Agency
              logo: logo.svg
            defaults:
              period: 2026-10
            clients:
              - id: evil
                name: "Evil <script>alert(1)</script> Ltd"
                sources:
                  web:
                    plugin: csv
                    settings:
                      tables: [{path: data/pages.csv, dimensions: [page, page_title]}]
                kpis: [pageviews, top_pages]
            """), encoding="utf-8")
        shutil.copy(ROOT / "examples" / "assets" / "northstar-logo.svg", tmp_path / "logo.svg")
        code = main(["run", str(config), "--output", str(tmp_path / "out")])
        assert code == 0
        _, text = pdf_text(tmp_path / "out" / "evil" / "evil-2026-10.pdf")
        squeezed = text.replace(" ", "")  # long cells wrap: compare without line breaks
        assert "<b>Bold</b>&co" in squeezed
        assert f"http://127.0.0.1:{port}/pixel.png" in squeezed
        assert "file:///etc/passwd" in squeezed
        assert "Evil <script>alert(1)</script> Ltd" in text
        assert hits == []


def test_a_failed_render_keeps_the_previous_pdf(tmp_path, monkeypatch):
    out = tmp_path / "out"
    args = ["run", str(ROOT / "config.example.yaml"), "--client", "northwind-dental",
            "--output", str(out)]
    assert main(args) == 0
    pdf = out / "northwind-dental" / "northwind-dental-2026-10.pdf"
    good = pdf.read_bytes()

    import kpireport.render

    def broken(*args, **kwargs):
        raise RuntimeError("layout exploded")

    monkeypatch.setattr(kpireport.render, "render_report", broken)
    assert main([*args, "--force"]) == 1
    assert pdf.read_bytes() == good


def test_long_words_and_right_to_left_text_stay_on_the_page(tmp_path):
    data = tmp_path / "pages.csv"
    long_word = "Supercalifragilistic" * 15
    arabic = "روبوتات صناعية للمصانع"
    rows = ["date,page,page_title,pageviews,time_on_page"]
    for day in range(1, 32):
        rows.append(f"2026-10-{day:02d},/{long_word},{arabic},9,30")
        rows.append(f"2026-10-{day:02d},/plain,Plain page,5,20")
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent("""\
        agency: {name: Test Agency}
        defaults: {period: 2026-10}
        clients:
          - id: wide
            name: Wide
            sources: {web: {plugin: csv, settings: {tables: [{path: pages.csv,
                     dimensions: [page, page_title]}]}}}
            kpis: [top_pages]
        """), encoding="utf-8")
    assert main(["run", str(config), "--output", str(tmp_path / "out")]) == 0
    reader, text = pdf_text(tmp_path / "out" / "wide" / "wide-2026-10.pdf")
    squeezed = text.replace(" ", "")
    assert long_word in squeezed  # wrapped across lines, not cut
    assert arabic.replace(" ", "") in squeezed or "روبوتات" in text
    # Wrapped: no line holds the whole word (unwrapped, it would run off the page's edge).
    lines = [line for page in reader.pages for line in page.extract_text().splitlines()]
    assert not any(long_word in line.replace(" ", "") for line in lines)


def test_analytics_channel_names_in_the_reports_language(example_run):
    _, out = example_run
    _, french = pdf_text(out / "maison-lumiere" / "maison-lumiere-2026-10.pdf")
    _, english = pdf_text(out / "acme-robotics" / "acme-robotics-2026-10.pdf")
    assert "Recherche naturelle" in french and "Organic Search" not in french
    assert "Organic Search" in english
