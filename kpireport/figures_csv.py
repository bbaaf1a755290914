"""The archival CSV: every figure a report prints, raw and as printed, attached to its
PDF/A."""

from __future__ import annotations

import io
from typing import Any

from kpireport import formatting
from kpireport.kpis import KpiValue
from kpireport.report import Report
from kpireport.template_context import (
    STATUS_LABELS,
    column_text,
    objective_gain_text,
    objective_text,
    row_change,
)
from kpireport.untrusted import csv_cell


class _SafeCsvWriter:
    """Every row of the archival CSV through one door: no cell opens as a formula."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def writerow(self, row: list[Any]) -> None:
        self._writer.writerow([csv_cell(cell) for cell in row])


def figures_csv(report: Report, words: Any = None) -> str:
    """Every figure the report prints, raw and as printed (in the words of ``words``, the
    report's catalogue), for the archival attachment."""
    import csv

    if words is None:
        from babel.support import NullTranslations as Untranslated

        words = Untranslated()
    gettext = words.gettext

    buffer = io.StringIO()
    writer = _SafeCsvWriter(csv.writer(buffer, lineterminator="\n"))
    writer.writerow(["section", "key", "label", "field", "value", "printed"])
    locale, currency = report.locale, report.currency

    def fmt(kpi: KpiValue, v: float | None) -> str:
        return formatting.format_value(v, kpi.definition.unit, locale, kpi.currency or currency,
                                       kpi.definition.duration_unit)

    for key, kpi in report.kpis.items():
        if kpi.definition.breakdown is not None:
            metric = kpi.definition.breakdown.metric
            for i, row in enumerate(kpi.rows, 1):
                for name, v in row.items():
                    writer.writerow(["table", key, kpi.label, f"{i}.{name}",
                                     "" if v is None else v,
                                     column_text(report, kpi, name, v, gettext)])
                if i <= len(kpi.previous_rows):
                    # Its ranking figure the period before, printed as the change the table
                    # shows.
                    v = kpi.previous_rows[i - 1]
                    writer.writerow(["table", key, kpi.label, f"{i}.{metric}_previous",
                                     "" if v is None else v,
                                     row_change(report, kpi, i - 1, words)[0]])
            continue
        for name in ("value", "previous", "last_year"):
            v = getattr(kpi, name)
            writer.writerow(["kpi", key, kpi.label, name, "" if v is None else repr(v),
                             fmt(kpi, v)])
        # The change as the report prints it: a percentage for a count or an amount, the
        # difference in the figure's unit otherwise (points, places, seconds).
        if kpi.relative:
            for name in ("change_previous", "change_last_year"):
                v = getattr(kpi, name)
                writer.writerow(["kpi", key, kpi.label, name, "" if v is None else repr(v),
                                 formatting.format_change(v, locale)])
        else:
            for name in ("difference_previous", "difference_last_year"):
                v = getattr(kpi, name)
                # As printed: from the two figures as the report rounds them.
                writer.writerow(["kpi", key, kpi.label, name, "" if v is None else repr(v),
                                 formatting.kpi_change(kpi, None, v, locale, words,
                                                       kpi.currency or currency)[0]])
    all_kpis = report.every_kpi()
    for a in report.objectives:
        for name in ("value", "target", "baseline", "expected", "forecast", "required_rate"):
            v = getattr(a, name)
            # A decrease is printed as its size, under "Decrease needed each remaining month".
            printed = (objective_gain_text(report, all_kpis, a, abs(v), words)
                       if name == "required_rate" and v is not None
                       else objective_text(report, all_kpis, a, v))
            writer.writerow(["objective", a.key, a.title, name, "" if v is None else repr(v),
                             printed])
        for name in ("progress", "expected_progress"):
            v = getattr(a, name)
            # As the bar's caption prints it: a progress below zero in words, not "−17%".
            shown = ("" if v is None else
                     gettext("further from the target than at the start")
                     if name == "progress" and v < 0
                     else formatting.format_percent(v, locale, 0))
            writer.writerow(["objective", a.key, a.title, name, "" if v is None else repr(v),
                             shown])
        writer.writerow(["objective", a.key, a.title, "days_left",
                         "" if a.days_left is None else a.days_left,
                         "—" if a.days_left is None else str(a.days_left)])
        writer.writerow(["objective", a.key, a.title, "status", a.status.value,
                         gettext(STATUS_LABELS[a.status])])
    for okr in report.okrs:
        writer.writerow(["okr", okr.key, okr.objective, "score",
                         "" if okr.score is None else repr(okr.score),
                         formatting.format_number(okr.score, locale, 2)])
        for i, kr in enumerate(okr.key_results, 1):
            kr_kpi = all_kpis.get(kr.kpi)
            label = f"{okr.objective} / {kr.title}"
            for name in ("start", "target", "value"):
                v = getattr(kr, name)
                writer.writerow(["key_result", f"{okr.key}.{i}", label, name,
                                 "" if v is None else repr(v),
                                 fmt(kr_kpi, v) if kr_kpi is not None else
                                 formatting.format_number(v, locale, 2)])
            writer.writerow(["key_result", f"{okr.key}.{i}", label, "weight", repr(kr.weight),
                             formatting.format_number(kr.weight, locale, 1)])
            writer.writerow(["key_result", f"{okr.key}.{i}", label, "score",
                             "" if kr.score is None else repr(kr.score),
                             "—" if kr.score is None else
                             formatting.format_number(kr.score, locale, 2)])
    return buffer.getvalue()
