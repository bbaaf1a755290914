"""One font configuration per process for the reports that declare no font of their own: they
share Pango's loaded faces; a document with its own ``@font-face`` gets its own, so that two
brands naming different files alike each print in their own."""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader
from shared import example_copy

from kpireport import render, typeface
from kpireport.config import load_config
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def plugins() -> Any:
    return load_plugins()


@pytest.fixture(scope="module")
def theme(plugins: Any) -> Any:
    return plugins.themes["default"].item


def embedded_faces(pdf: bytes) -> set[str]:
    """The full names of the font programs a PDF embeds (from their own name tables)."""
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                descriptor = descendant.get_object()["/FontDescriptor"].get_object()
                for key in ("/FontFile2", "/FontFile3", "/FontFile"):
                    if key in descriptor:
                        data = descriptor[key].get_object().get_data()
                        names.add(TTFont(io.BytesIO(data)).get("name").getDebugName(4))
    return names


def page(body: str, head: str = "") -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><style>{head} html {{ font-family: '
            f"{typeface.STACK}; }}</style></head><body><p>{body}</p></body></html>")


@pytest.mark.pdf
def test_reports_without_fonts_of_their_own_share_one_configuration(plugins: Any, theme: Any):
    dirs = [Path(theme.path)]
    first = render.lay_out(page("Monthly report"), theme, dirs, plugins)
    second = render.lay_out(page("Rapport mensuel"), theme, dirs, plugins)
    assert first.font_config is second.font_config
    # Shared or not, the bundled typeface prints.
    assert any("Inter" in name for name in embedded_faces(second.write_pdf())), \
        embedded_faces(second.write_pdf())


@pytest.mark.pdf
def test_two_brands_naming_different_files_alike_each_print_in_their_own(
        plugins: Any, theme: Any, tmp_path: Path):
    for name in ("DejaVuSerif.ttf", "DejaVuSansMono.ttf"):
        shutil.copy(DEJAVU / name, tmp_path / name)
    dirs = [Path(theme.path), tmp_path]

    def branded(file: str) -> Any:
        face = f'@font-face {{ font-family: "Brand"; src: url("{(tmp_path / file).as_uri()}"); }}'
        html = page("Quarterly report", face).replace(f"font-family: {typeface.STACK}",
                                                       f'font-family: "Brand", {typeface.STACK}')
        return render.lay_out(html, theme, dirs, plugins)

    serif, mono = branded("DejaVuSerif.ttf"), branded("DejaVuSansMono.ttf")
    plain = render.lay_out(page("Quarterly report"), theme, dirs, plugins)
    assert serif.font_config is not mono.font_config
    assert plain.font_config is not serif.font_config
    assert "DejaVu Serif" in embedded_faces(serif.write_pdf())
    assert "DejaVu Sans Mono" in embedded_faces(mono.write_pdf())
    # The shared configuration never saw the brands' faces.
    plain_faces = embedded_faces(plain.write_pdf())
    assert not plain_faces & {"DejaVu Serif", "DejaVu Sans Mono"}, plain_faces


def test_what_may_declare_fonts():
    assert not typeface.declares_fonts(page("Text"))
    assert typeface.declares_fonts(page("Text", '@font-face { font-family: "B"; src: url(b); }'))
    assert typeface.declares_fonts(page("Text", '@import url("brand.css");'))
    assert typeface.declares_fonts('<link rel="stylesheet" href="brand.css"><p>Text</p>')


def test_the_pdf_reads_the_html_without_the_web_faces(theme: Any):
    fonts = typeface.fonts_dir(Path(theme.path))
    assert fonts is not None
    html = page("Text").replace("</head>", typeface.web_style(fonts) + "</head>")
    stripped = typeface.without_web_faces(html, fonts)
    assert "@font-face" in html and "woff2" in html
    assert "woff2" not in stripped and stripped == page("Text")
    assert not typeface.declares_fonts(stripped)


def test_a_reports_html_for_the_pdf_has_no_web_faces(plugins: Any):
    config = load_config(ROOT / "config.example.yaml")
    report = compute_report(config, config.client("northwind-dental"), plugins, now=NOW)
    html, theme, _ = render.render_html(report, plugins)
    stripped = typeface.without_web_faces(html, typeface.fonts_dir(Path(theme.path)))
    assert "font/woff2" in html and "font/woff2" not in stripped
    assert len(stripped) < len(html) - 150_000  # two faces of 60 kB, in base64
    # The web page's faces were its only fonts: the report shares the configuration.
    assert not typeface.declares_fonts(stripped)


@pytest.mark.pdf
def test_the_warm_up_fills_the_configuration_the_reports_share(plugins: Any, theme: Any):
    render.warm_up(plugins=plugins)
    fonts = typeface.fonts_dir(Path(theme.path))
    shared, _ = typeface._shared[fonts]
    assert render.lay_out(page("Text"), theme, [Path(theme.path)], plugins).font_config \
        is shared


@pytest.mark.pdf
@pytest.mark.workers
def test_a_run_leaves_no_copies_of_faces_in_the_temporary_folder(tmp_path: Path):
    """Workers exit without collecting garbage: the faces WeasyPrint copies for a document
    with its own fonts, and the shared configuration's, must still be deleted."""
    shutil.copy(DEJAVU / "DejaVuSerif.ttf", tmp_path / "brand.ttf")

    def edit(data: dict[str, Any]) -> None:
        data["clients"][2]["fonts"] = [{"family": "Brand", "path": str(tmp_path / "brand.ttf")}]

    config = example_copy(tmp_path, edit)
    temp = tmp_path / "tmp"
    temp.mkdir()
    for client in (["--client", "acme-robotics"], []):  # one report, then a batch
        subprocess.run([sys.executable, "-m", "kpireport", "run", str(config), *client,
                        "--output", str(tmp_path / "out"), "--force", "--workers", "2"],
                       check=True, capture_output=True, env={**os.environ, "TMPDIR": str(temp)})
        assert sorted(p.name for p in temp.iterdir() if p.name.startswith("weasyprint")) == []
    faces = {name: embedded_faces((tmp_path / "out" / name / f"{name}-2026-10.pdf").read_bytes())
             for name in ("acme-robotics", "northwind-dental")}
    assert "DejaVu Serif" in faces["acme-robotics"]
    assert any("Inter" in face for face in faces["northwind-dental"]), faces
