"""The archive site's typeface: the reports' Inter, linked rather than embedded.

A report's web page embeds its faces (it must read from a file, alone); an index page of
``kpireport site`` is a few kilobytes, so its faces are files beside it instead, in the
folder's ``_fonts/`` (a name no client id can take: ids begin with a letter or a digit),
written only when missing or changed, with their licence, and linked by relative URLs. Each
client's folder has its own copy, so that it still links nowhere outside itself and can be
hosted or shared on its own. Without the theme's files the pages fall back to the reports'
stack (DejaVu Sans, then the system's sans-serif).
"""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from kpireport import typeface

FOLDER = "_fonts"
"""The site's own folder of faces, in the site's root and in each client's folder."""

LICENCE = "OFL.txt"
"""The SIL Open Font License travels with the faces it covers."""

STACK = Markup(typeface.STACK)
"""The index pages' ``font-family``: the reports' own stack."""


def files(theme_path: Path | None) -> dict[str, Path]:
    """The faces to publish (file name → the theme's file), with their licence; none when
    the theme has no typeface."""
    source = typeface.fonts_dir(theme_path) if theme_path is not None else None
    if source is None:
        return {}
    names = [f"{face.stem}.woff2" for face in typeface.WEB_FACES]
    out = {name: source / name for name in names if (source / name).is_file()}
    if out and (source / LICENCE).is_file():
        out[LICENCE] = source / LICENCE
    return out


def publish(folder: Path, theme_path: Path | None) -> Markup:
    """Write the faces into ``folder/_fonts`` (a file already there and equal is left alone;
    one the site no longer publishes is removed) and return the ``@font-face`` rules that
    link them from a page in ``folder``; empty without the theme's faces."""
    from kpireport.delivery import atomic_write

    wanted = files(theme_path)
    target = folder / FOLDER
    if not wanted:
        return Markup("")
    target.mkdir(parents=True, exist_ok=True)
    for stray in target.iterdir():
        if stray.name not in wanted and stray.is_file():
            stray.unlink()
    for name, source in wanted.items():
        data = source.read_bytes()
        path = target / name
        if not path.is_file() or path.read_bytes() != data:
            atomic_write(path, data)
    return Markup("".join(
        typeface.web_face_rule(face, f'"{FOLDER}/{face.stem}.woff2"')
        for face in typeface.WEB_FACES if f"{face.stem}.woff2" in wanted))
