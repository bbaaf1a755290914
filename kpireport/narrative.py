"""The executive summary's words: what improved, what worsened, what needs attention, from the
numbers.

Sentences are built from message-catalogue templates (so they translate like the rest of the
theme) and numbers formatted for the report's locale. Thresholds are constants: a change
smaller than ``NOTABLE`` is not news.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kpireport import formatting
from kpireport.data import NoteKind
from kpireport.kpis import KpiValue
from kpireport.period_words import compared_with
from kpireport.report import Report, Status

NOTABLE = 0.05
"""Relative change vs the previous period worth a sentence (5 %)."""
PER_LIST = 3

Gettext = Callable[[str], str]
NGettext = Callable[[str, str, int], str]


@dataclass
class Narrative:
    improved: list[str] = field(default_factory=list)
    """The biggest moves for the better, each by its KPI's direction: a shorter sales cycle
    or a lower average position is here, beside more revenue."""
    worsened: list[str] = field(default_factory=list)
    """The biggest moves for the worse, as :attr:`improved`."""
    attention: list[str] = field(default_factory=list)
    headline: str = ""
    recommended: list[str] = field(default_factory=list)
    """The titles of the report's highest-priority findings (``PER_LIST`` of them), each
    with its expected impact when a rule computed one."""

    @property
    def rose(self) -> list[str]:
        """Older templates' name for :attr:`improved` (its lists went by up and down, which
        read backwards for a figure where lower is better)."""
        return self.improved

    @property
    def fell(self) -> list[str]:
        """Older templates' name for :attr:`worsened`."""
        return self.worsened

    def __bool__(self) -> bool:
        return bool(self.improved or self.worsened or self.attention or self.headline
                    or self.recommended)


def _value(report: Report, kpi: KpiValue, value: float | None) -> str:
    return formatting.format_value(value, kpi.definition.unit, report.locale, report.currency,
                                   kpi.definition.duration_unit)


class _Words:
    """``gettext`` and ``ngettext`` as one object, for :func:`formatting.kpi_change`."""

    def __init__(self, gettext: Gettext, ngettext: NGettext | None) -> None:
        self.gettext = gettext
        self.ngettext = ngettext or (lambda one, many, n: one if n == 1 else many)


def summarise(report: Report, gettext: Gettext, ngettext: NGettext | None = None) -> Narrative:
    """Sentences for the executive summary, in the report's language (``ngettext`` for the
    plural forms; English's without it)."""
    words = _Words(gettext, ngettext)
    out = Narrative()
    movers = [k for k in report.kpis.values()
              if k.definition.breakdown is None and k.change_previous is not None
              and abs(k.change_previous) >= NOTABLE]
    movers.sort(key=lambda k: -abs(k.change_previous or 0))
    for kpi in movers:
        # Each change in its unit: a rate moves by points, a position by places ("up 2.3
        # places"), a duration by seconds; only counts and amounts by a percentage.
        text, good = formatting.kpi_change(kpi, kpi.change_previous, kpi.difference_previous,
                                           report.locale, words, report.currency)
        # The period compared with, with the preposition its name takes ("au T2 2026"); a
        # KPI whose data stops early was compared over the same days: those are named.
        compared = compared_with(report.period_of(kpi.key).previous, report.locale, gettext)
        sentence = gettext("%(kpi)s: %(value)s (%(change)s %(compared)s)") % {
            "kpi": kpi.label, "value": _value(report, kpi, kpi.value), "change": text,
            "compared": compared}
        if any(n.kind in (NoteKind.MISSING_DAYS, NoteKind.MISSING_VALUES) for n in kpi.notes):
            # The change compares a period with gaps to a whole one: say so where it is read.
            sentence += " — " + gettext("some days missing")
        # Listed by what the move means for the business, not its sign: under "Improved" a
        # shorter sales cycle, under "Worsened" a position number that grew. A change that
        # prints as none ("±0.00 pts") is in neither.
        if good is None:
            continue
        target = out.improved if good else out.worsened
        if len(target) < PER_LIST:
            target.append(sentence)
    all_kpis = report.every_kpi()
    for a in report.objectives:
        if a.status not in (Status.AT_RISK, Status.OFF_TRACK, Status.MISSED):
            continue
        objective_kpi = all_kpis.get(a.kpi)
        value = (_value(report, objective_kpi, a.value) if objective_kpi
                 else formatting.format_number(a.value, report.locale))
        target_text = (_value(report, objective_kpi, a.target) if objective_kpi
                       else formatting.format_number(a.target, report.locale))
        figures = {"objective": a.title, "value": value, "target": target_text}
        status = {Status.AT_RISK: gettext("at risk"), Status.OFF_TRACK: gettext("off track"),
                  Status.MISSED: ""}[a.status]
        if a.measured_in is not None:
            # Judged on a month other than the report's period: say which, beside its totals.
            figures["month"] = formatting.format_month(a.measured_in, report.locale)
            sentence = (gettext("%(objective)s was missed: %(value)s in %(month)s against a "
                                "target of %(target)s.") if a.status is Status.MISSED else
                        gettext("%(objective)s is %(status)s: %(value)s in %(month)s against "
                                "a target of %(target)s."))
        else:
            sentence = (gettext("%(objective)s was missed: %(value)s against a target of "
                                "%(target)s.") if a.status is Status.MISSED else
                        gettext("%(objective)s is %(status)s: %(value)s against a target of "
                                "%(target)s."))
        out.attention.append(sentence % {**figures, "status": status})
    # The findings come highest priority first: the summary names the first three, with
    # their expected impact (the recommendations section gives their reasons).
    for finding in sorted(report.findings, key=lambda f: -f.rank)[:PER_LIST]:
        title = finding.in_language(report.language)[0]
        impact = finding.impact_in(report.language)
        out.recommended.append(f"{title} — {impact}" if impact else title)
    done = sum(a.status in (Status.ACHIEVED, Status.ON_TRACK) for a in report.objectives)
    if report.objectives:
        out.headline = gettext("Objectives achieved or on track: %(done)d of %(total)d.") % {
            "done": done, "total": len(report.objectives)}
    return out
