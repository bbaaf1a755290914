"""The note under a table saying how its optional columns are credited to its rows: a
page's conversions are the key events recorded on that page for GA4 (the order confirmation
page gets the orders, not the landing page), what the file says for a CSV export. Each
source words its own (``MetricSpec.attribution``); the report prints it once per table."""

from __future__ import annotations

from collections.abc import Callable

from babel.lists import format_list

from kpireport.kpis import KpiValue


def attribution_note(kpi: KpiValue, locale: str, gettext: Callable[[str], str]) -> str | None:
    """One sentence per wording, naming the columns it covers in the table's order
    ("Conversions and revenue: counted on the page where they happened (…)."); None when no
    printed column has one."""
    breakdown = kpi.definition.breakdown
    if breakdown is None or not kpi.column_attribution:
        return None
    groups: dict[str, list[str]] = {}
    for column in breakdown.optional_columns:
        if (how := kpi.column_attribution.get(column)) is not None:
            groups.setdefault(how, []).append(_label(kpi, column, locale))
    sentences = []
    for how, labels in groups.items():
        # "Conversions and revenue": a label after the first is lower-cased, unless it is an
        # acronym ("ROAS") or a name.
        names = [labels[0], *(w[:1].lower() + w[1:] if w[1:2].islower() else w
                              for w in labels[1:])]
        sentences.append(gettext("%(columns)s: %(how)s.") % {
            "columns": format_list(names, locale=locale), "how": how})
    return " ".join(sentences)


def _label(kpi: KpiValue, column: str, locale: str) -> str:
    breakdown = kpi.definition.breakdown
    assert breakdown is not None
    return kpi.definition.text(breakdown.column_labels.get(column, {"en": column}), locale)
