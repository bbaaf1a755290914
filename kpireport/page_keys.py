"""A section's chart key names the target only on the pages where one of its charts draws it.

A KPI section's key is its table's header, which WeasyPrint repeats at the top of every page
the section goes on to (the template's kpis block). Its "Target" entry holds for the section,
not for each page: a page carrying over only charts without a target line (review 4: Acme's
sales cycle, under a key naming the target of the qualified leads' chart on the page
before) would name a line it does not show. After layout, and before the PDF is written,
each page's copy of a key drops its target entry where no chart of its section on that page
draws one: a box taken out of its line, no second layout (the entry is the key's last, so
nothing after it moves). The HTML, read on a screen without pages, keeps the section's key.
"""

from __future__ import annotations

from typing import Any

from kpireport.charts import TARGET_DASH


def _classes(box: Any) -> list[str]:
    element = getattr(box, "element", None)
    return (element.get("class") or "").split() if element is not None else []


def _draws_target(element: Any) -> bool:
    """Whether a chart's markup holds a target line (``<line class="target">``)."""
    return any(e.get("class") == "target" for e in element.iter())


def _is_target_entry(box: Any) -> bool:
    """A key's entry whose sample is the target's dash-dot line."""
    return "chart-key" in _classes(box) and any(
        e.get("stroke-dasharray") == TARGET_DASH for e in box.element.iter())


def fit_keys_to_pages(document: Any) -> int:
    """Take each page's key entries for a target that no chart of the key's section on that
    page draws out of the page (WeasyPrint's laid-out boxes). Returns how many."""
    removed = 0
    if not all(hasattr(page, "_page_box") for page in document.pages):
        # Another WeasyPrint than the one this reads (70): the keys stay the section's,
        # which is what the HTML shows, rather than failing the report.
        return 0
    for page in document.pages:
        entries: dict[str, list[tuple[Any, Any]]] = {}  # section id → (line, entry box)
        drawn: set[str] = set()
        stack: list[tuple[Any, Any, str | None]] = [(page._page_box, None, None)]
        while stack:
            box, parent, section = stack.pop()
            classes = _classes(box)
            if "family" in classes and box.element_tag == "section":
                section = box.element.get("id")
            if section is not None:
                if "chart-plot" in classes and box.element_tag == "div":
                    if _draws_target(box.element):
                        drawn.add(section)
                    continue
                if box.element_tag == "span" and _is_target_entry(box):
                    entries.setdefault(section, []).append((parent, box))
                    continue
            stack.extend((child, box, section) for child in getattr(box, "children", ()))
        for section, found in entries.items():
            if section in drawn:
                continue
            for line, entry in found:
                line.children = [c for c in line.children if c is not entry]
                removed += 1
    return removed
