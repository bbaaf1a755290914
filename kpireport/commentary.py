"""The analyst's Markdown (commentary, per-KPI notes) as safe HTML: raw HTML shown as
text, links only to the web, mail or within the report, images only from the template
folders, French typography in its text."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from markupsafe import Markup

from kpireport import typography

COMMENTARY_LINK_SCHEMES = ("http:", "https:", "mailto:")
"""Where a link in the commentary may point, besides ``#anchors`` within the report."""
COMMENTARY_IMAGES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                     ".gif": "image/gif", ".webp": "image/webp", ".svg": "image/svg+xml"}
"""What an image in the commentary may be: a file of the theme's or the agency's template
folder, named by its path there, embedded in the HTML and the PDF alike."""
COMMENTARY_IMAGE_BYTES = 5_000_000


def _commentary_link_allowed(url: str) -> bool:
    # An allow-list: anything else (javascript:, data:, file:) stays text. A relative path
    # passes here only to become an image of the template folders (never a link).
    url = url.strip().lower()
    return (url.startswith("#") or url.startswith(COMMENTARY_LINK_SCHEMES)
            or _relative_path(url))


def _relative_path(url: str) -> bool:
    head = url.split("/", 1)[0]
    return bool(url) and ":" not in head and not url.startswith(("/", "\\", "#"))


def _commentary_image(src: str, folders: Iterable[Path]) -> str | None:
    """``src`` as a data: URI, if it names an image inside one of ``folders``."""
    import base64

    if not _relative_path(src.strip()):
        return None  # a remote address, a file: or data: URI: never fetched
    relative = unquote(src.strip())
    mime = COMMENTARY_IMAGES.get(Path(relative).suffix.lower())
    if mime is None:
        return None
    for folder in folders:
        root = folder.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            continue
        if path.stat().st_size > COMMENTARY_IMAGE_BYTES:
            return None
        if mime == "image/svg+xml":
            from kpireport.config.checks import svg_problem

            try:
                if svg_problem(path) is not None:  # it would fetch what it refers to
                    return None
            except (OSError, SyntaxError, ValueError):
                return None
        return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"
    return None


@lru_cache(maxsize=1)
def commentary_markdown() -> Any:
    # Imported here, not at the top: the CLI starts without the Markdown parser.
    from markdown_it import MarkdownIt
    from markdown_it.common.utils import escapeHtml

    # CommonMark with raw HTML off: "<script>" in the source is printed as text.
    md = MarkdownIt("commonmark", {"html": False})
    md.validateLink = _commentary_link_allowed  # type: ignore[method-assign]  # its documented hook

    def image(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        # The report fetches nothing on the analyst's behalf (a tracking pixel, a stale
        # link): an image of the template folders is embedded, any other is its alt text.
        alt = escapeHtml(self.renderInlineAsText(tokens[idx].children or [], options, env))
        uri = _commentary_image(tokens[idx].attrGet("src") or "", env.get("folders", ()))
        return f'<img src="{escapeHtml(uri)}" alt="{alt}">' if uri else alt

    def link_open(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        # A relative path is for images only: as a link, its text alone.
        dropped = _relative_path((tokens[idx].attrGet("href") or "").strip())
        env.setdefault("dropped", []).append(dropped)
        return "" if dropped else self.renderToken(tokens, idx, options, env)

    def link_close(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        dropped = env.get("dropped", [False]).pop() if env.get("dropped") else False
        return "" if dropped else self.renderToken(tokens, idx, options, env)

    def heading_levels(state: Any) -> None:
        # The analyst's headings in order under the section's own h2, whatever levels the
        # file uses: its levels, from the highest, become h2, h3… (a "####" under a "##"
        # would skip a level for a screen reader). The opening one may title the section.
        levels = sorted({int(t.tag[1]) for t in state.tokens if t.type == "heading_open"})
        new = {f"h{level}": f"h{min(6, 2 + rank)}" for rank, level in enumerate(levels)}
        for token in state.tokens:
            if token.type in ("heading_open", "heading_close"):
                token.tag = new[token.tag]

    def french_text(state: Any) -> None:
        # The text of each paragraph or heading only: code and addresses stay as written.
        if not state.env.get("french"):
            return
        for token in state.tokens:
            if token.type != "inline":
                continue
            quote_open = False
            for child in token.children or []:
                if child.type == "text":
                    child.content, quote_open = typography.french_piece(child.content,
                                                                        quote_open)

    md.core.ruler.push("heading_levels", heading_levels)
    md.core.ruler.push("french_text", french_text)
    md.add_render_rule("image", image)
    md.add_render_rule("link_open", link_open)
    md.add_render_rule("link_close", link_close)
    return md


def commentary_html(text: str | None, folders: Iterable[Path] = (), *,
                    language: str = "") -> Markup | None:
    """The analyst's Markdown as HTML. Raw HTML in it is shown as text, not obeyed; links go to
    web or mail addresses or within the report only; an image is embedded when it is a file
    of ``folders`` (the theme's and agency's templates), shown as its alt text otherwise.
    Its text (not its code, nor its links' addresses) is set as ``language`` sets it."""
    if not text:
        return None
    french = language.split("_")[0].lower() == "fr"
    return Markup(commentary_markdown().render(text, {"folders": list(folders),
                                                       "french": french}))
