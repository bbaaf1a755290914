"""The themes' typeface, Inter (SIL Open Font License 1.1), and the fonts behind it.

The files live in the default theme's ``fonts/`` folder with their licence (``OFL.txt``):
static OpenType faces for the PDF (WeasyPrint reads them as they are; a WOFF2 file would be
decompressed again for every report) and WOFF2 copies for the web page, embedded in it as
``data:`` URIs inside ``<style media="screen">`` so that the HTML shows the same letters from
a file, offline, in the archive site or the preview, while WeasyPrint (print media) skips
that style without parsing it. Where Inter has no glyph (Hebrew, Arabic, emoji), the stack
goes on to DejaVu Sans, then to whatever fontconfig finds (Noto Color Emoji for emoji).
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

FAMILY = "Inter"
FALLBACK = ('"DejaVu Sans"', "sans-serif")
"""After the theme's or the brand's font: DejaVu Sans (a requirement already) for Hebrew,
Arabic and symbols, then fontconfig's own choice for the rest: Noto Color Emoji for emoji
(``fonts-noto-color-emoji``), CJK with ``fonts-noto-cjk`` when installed. The emoji font is
not named: Pango would then take digits and spaces from it (they are emoji characters too)."""
STACK = ", ".join((f'"{FAMILY}"', *FALLBACK))


@dataclass(frozen=True)
class Face:
    stem: str
    weight: int
    style: str = "normal"


PRINT_FACES = (Face("Inter-Regular", 400), Face("Inter-Bold", 700),
               Face("Inter-Italic", 400, "italic"))
"""What the themes use: regular text, bold (and 600, which takes the nearest heavier face)
and the commentary's italics."""
WEB_FACES = (Face("Inter-Regular", 400), Face("Inter-Bold", 700))
"""The web page's faces, Inter's Latin subset (fonts/README.md), 60 kB each: a browser
slants the regular one for italics, and takes its next font for other scripts."""


def fonts_dir(*theme_dirs: Path) -> Path | None:
    """The first of the themes' ``fonts/`` folders that holds the typeface."""
    for folder in theme_dirs:
        candidate = Path(folder) / "fonts"
        if (candidate / f"{PRINT_FACES[0].stem}.otf").is_file():
            return candidate
    return None


def print_css(folder: Path) -> str:
    """``@font-face`` rules for WeasyPrint, naming the OpenType files by their path."""
    return "".join(
        f'@font-face {{ font-family: "{FAMILY}"; src: url("{(folder / face.stem).as_uri()}.otf");'
        f" font-weight: {face.weight}; font-style: {face.style}; }}\n"
        for face in PRINT_FACES)


@lru_cache(maxsize=4)
def web_css(folder: Path) -> str:
    """``@font-face`` rules for a browser, each face embedded (read once per process)."""
    return "".join(
        web_face_rule(face, "data:font/woff2;base64," + base64.b64encode(
            (folder / f"{face.stem}.woff2").read_bytes()).decode("ascii"))
        for face in WEB_FACES)


def web_face_rule(face: Face, url: str) -> str:
    """A web face's ``@font-face`` rule, its WOFF2 file at ``url`` (a ``data:`` URI, or a
    file's relative address in the archive site)."""
    return (f'@font-face {{ font-family: "{FAMILY}"; src: url({url}) format("woff2"); '
            f"font-weight: {face.weight}; font-style: {face.style}; font-display: swap; }}\n")


def print_stylesheet(folder: Path | None, url_fetcher: Any, font_config: Any) -> list[Any]:
    """The typeface as a WeasyPrint stylesheet (none without the files): it must share the
    document's ``font_config`` for its faces to be found."""
    if folder is None:
        return []
    from weasyprint import CSS

    return [CSS(string=print_css(folder), url_fetcher=url_fetcher, font_config=font_config)]


_shared: dict[Path | None, tuple[Any, list[Any]]] = {}


def print_fonts(folder: Path | None, url_fetcher: Any, *, shared: bool) -> tuple[Any, list[Any]]:
    """The font configuration a document is laid out with, and the typeface's stylesheet.

    ``shared``: one per process (and fonts folder), for documents that declare no font of
    their own. Pango's font map then keeps the faces it opened and the glyphs it measured
    for the reports before, and a batch's workers, forked after :func:`warm_up
    <kpireport.render.warm_up>`, start with it warm; a fresh one loads and scans the three
    faces again for every report. A document with its own ``@font-face`` (a brand's font)
    gets a fresh configuration: two brands may give one family name to different files.
    """
    from weasyprint.text.fonts import FontConfiguration

    if not shared:
        font_config = FontConfiguration()
        return font_config, print_stylesheet(folder, url_fetcher, font_config)
    if folder not in _shared:
        if not _shared:
            atexit.register(_release, os.getpid())
        font_config = FontConfiguration()
        _shared[folder] = (font_config, print_stylesheet(folder, url_fetcher, font_config))
    return _shared[folder]


def _release(owner: int) -> None:
    """Free the shared configurations (and their temporary copies of the faces) before the
    interpreter's teardown, in the process that made them: a forked worker inherits them and
    must leave the files to its parent and siblings."""
    if os.getpid() == owner:
        _shared.clear()


def release(font_config: Any) -> None:
    """Delete the temporary copies of a document's own faces once its PDF is written (a
    shared configuration keeps them). WeasyPrint deletes them when the configuration is
    garbage-collected, which a batch's worker, exiting without collecting, never does:
    each report would leave its faces, 800 kB, in the temporary folder."""
    if any(font_config is shared for shared, _ in _shared.values()):
        return
    folder = getattr(font_config, "_folder", None)  # WeasyPrint 70's own attribute
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        font_config._folder = None


def declares_fonts(html: str) -> bool:
    """Whether a document may declare fonts of its own: an ``@font-face`` rule (the web
    page's embedded faces aside, which the caller removes first) or a stylesheet it links or
    imports, which could hold one."""
    lowered = html.lower()
    return "@font-face" in lowered or "@import" in lowered or "stylesheet" in lowered


def without_web_faces(html: str, folder: Path | None) -> str:
    """The HTML without its ``<style media="screen">`` of embedded faces, which print media
    never reads (300 kB less for WeasyPrint's parser)."""
    if folder is None:
        return html
    return html.replace(web_style(folder), "", 1)


def web_style(folder: Path) -> str:
    """The web page's embedded faces as the template prints them."""
    return f'<style media="screen">{web_css(folder)}</style>'
