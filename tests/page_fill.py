"""How full each page of a rendered report is, measured on WeasyPrint's own layout.

For each page: the bottom of its lowest box against the content area's height (the running
footer and page numbers, in the margins, do not count), the sections (elements with an id)
it holds, and whether it ends with a heading whose content went on to the next page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HEADINGS = ("h1", "h2", "h3", "h4")


@dataclass(frozen=True)
class PageLayout:
    number: int
    fill: float
    """The share of the content area's height down to the bottom of the lowest box."""
    ids: list[str] = field(default_factory=list)
    """The ids of the elements with one on this page (sections, KPI tables…), in order."""
    last: list[str] = field(default_factory=list)
    """The tags (with classes) from the page's outermost box down to its last box."""
    text: str = ""
    charts: int = 0
    """KPI charts (a family section's) on this page."""
    charts_before_key: int = 0
    """Of those, the ones above the first key a section prints on this page (carried over)."""
    keys: list[tuple[str, str]] = field(default_factory=list)
    """The chart keys on this page, in order: (the KPI section's id, the key's text)."""
    margin_text: str = ""
    """The text in the page's top margin boxes (none since the keys are the sections')."""
    stacked_keys: bool = False
    """Whether two keys follow one another with no chart between them."""
    opened: list[str] = field(default_factory=list)
    """The KPI sections whose heading (h2) is on this page."""
    cells: list[tuple[str, str, int]] = field(default_factory=list)
    """The tables' body cells on this page: (their classes, their text, their lines)."""
    targets: list[str] = field(default_factory=list)
    """The KPI sections with a chart on this page that draws a target line."""

    @property
    def ends_with_heading(self) -> bool:
        return any(tag.split(".")[0] in HEADINGS for tag in self.last)


def _in_flow(box: Any) -> list[Any]:
    from weasyprint.formatting_structure import boxes

    return [child for child in getattr(box, "children", [])
            if not isinstance(child, boxes.MarginBox)
            and getattr(child, "style", {}).get("position") not in ("absolute", "fixed")]


def _bottom(box: Any) -> float:
    bottom = 0.0
    stack = [box]
    while stack:
        b = stack.pop()
        children = _in_flow(b)
        if children:
            stack.extend(children)
        elif b.height:
            # A leaf (a line's text, an image, an empty block with a size): its border box.
            bottom = max(bottom, b.border_box_y() + b.border_height())
        # A box with a border or a background shows down to its own bottom.
        if b is not box and b.style["background_color"].alpha and b.height:
            bottom = max(bottom, b.border_box_y() + b.border_height())
    return bottom


def _last_chain(box: Any) -> list[str]:
    from weasyprint.formatting_structure import boxes

    chain: list[str] = []
    while True:
        children = [c for c in _in_flow(box) if isinstance(c, boxes.BlockLevelBox | boxes.LineBox)]
        if not children:
            return chain
        box = children[-1]
        if isinstance(box, boxes.LineBox):
            return chain
        element = getattr(box, "element", None)
        classes = (element.get("class") or "").split() if element is not None else []
        chain.append(".".join([box.element_tag or "?", *classes]))


def _ids_and_text(box: Any) -> tuple[list[str], str]:
    from weasyprint.formatting_structure import boxes

    ids: list[str] = []
    words: list[str] = []
    stack = [box]
    while stack:
        b = stack.pop()
        element = getattr(b, "element", None)
        if (element is not None and element.get("id") and element.get("id") not in ids
                and not isinstance(b, boxes.TextBox | boxes.LineBox | boxes.InlineBox)):
            ids.append(element.get("id"))
        if isinstance(b, boxes.TextBox):
            words.append(b.text)
        stack.extend(reversed(_in_flow(b)))
    return ids, " ".join(" ".join(words).split())


def _classes(box: Any) -> list[str]:
    element = getattr(box, "element", None)
    return (element.get("class") or "").split() if element is not None else []


def _targets(box: Any) -> list[str]:
    """The KPI sections (ids) with a chart on this page that draws a target line."""
    out: list[str] = []
    stack: list[tuple[Any, str | None]] = [(box, None)]
    while stack:
        b, family = stack.pop()
        classes = _classes(b)
        if "chart-plot" in classes and family and b.element_tag == "div":
            if any(e.get("class") == "target" for e in b.element.iter()) and family not in out:
                out.append(family)
            continue
        if "family" in classes:
            family = b.element.get("id")
        stack.extend((c, family) for c in reversed(_in_flow(b)))
    return out


def _charts_and_keys(box: Any) -> tuple[int, int, list[tuple[str, str]], bool, list[str]]:
    """KPI charts on the page, how many come before the first section key in its flow, the
    keys (their section's id and text), whether two keys follow one another, and the
    sections whose heading is on the page."""
    charts, before, keyed, stacked, last_was_key = 0, 0, False, False, False
    keys: list[tuple[str, str]] = []
    opened: list[str] = []
    stack: list[tuple[Any, str | None]] = [(box, None)]
    while stack:
        b, family = stack.pop()
        classes = _classes(b)
        if "chart-plot" in classes and family and b.element_tag == "div":
            charts += 1
            before += not keyed
            last_was_key = False
            continue
        if "chart-legend" in classes and family and b.element_tag == "div":
            keyed = True
            stacked = stacked or last_was_key
            last_was_key = True
            keys.append((family, _ids_and_text(b)[1]))
            continue
        if b.element_tag == "h2" and family:
            opened.append(family)
        if "family" in classes:
            family = b.element.get("id")
        stack.extend((c, family) for c in reversed(_in_flow(b)))
    return charts, before, keys, stacked, opened


def _cells(box: Any) -> list[tuple[str, str, int]]:
    from weasyprint.formatting_structure import boxes

    out = []
    stack = [box]
    while stack:
        b = stack.pop()
        if isinstance(b, boxes.TableCellBox) and b.element_tag == "td":
            lines = 0
            inner = [b]
            while inner:
                c = inner.pop()
                if isinstance(c, boxes.LineBox):
                    lines += 1
                else:
                    inner.extend(_in_flow(c))
            out.append((" ".join(_classes(b)), _ids_and_text(b)[1], lines))
            continue
        stack.extend(reversed(_in_flow(b)))
    return out


def _margin_text(box: Any) -> str:
    from weasyprint.formatting_structure import boxes

    return " ".join(_ids_and_text(margin)[1] for margin in box.children
                    if isinstance(margin, boxes.MarginBox) and margin.at_keyword.startswith("@top"))


def measure(document: Any) -> list[PageLayout]:
    """Each page of a WeasyPrint document, measured."""
    out = []
    for number, page in enumerate(document.pages, 1):
        box = page._page_box
        top, height = box.content_box_y(), box.height
        ids, text = _ids_and_text(box)
        charts, before, keys, stacked, opened = _charts_and_keys(box)
        out.append(PageLayout(number=number, fill=(_bottom(box) - top) / height, ids=ids,
                              last=_last_chain(box), text=text, charts=charts,
                              charts_before_key=before, keys=keys,
                              margin_text=_margin_text(box),
                              stacked_keys=stacked, opened=opened, cells=_cells(box),
                              targets=_targets(box)))
    return out


def lay_out(report: Any, plugins: Any) -> tuple[str, list[PageLayout]]:
    """A computed report's HTML and its pages as WeasyPrint lays them out for its PDF."""
    from kpireport import render

    html, theme, dirs = render.render_html(report, plugins)
    return html, measure(render.lay_out(html, theme, dirs, plugins))
