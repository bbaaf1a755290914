"""Which target line each KPI's chart draws, and so which sections' keys say "Target".

A KPI's chart shows its figure month by month (thirteen months' lines, or a quarter's or a
year to date's months as bars): a target belongs on it only where it is a monthly level
those points can be read against. A level objective's target is one (it is judged on a
month's figure), and so is a key result's: key results are monthly levels, judged on a
month's figure like level objectives (:func:`kpireport.pipeline.assess.score_okrs`). A
cumulative objective's target is a running total at its deadline: it has its own burn-up
chart, and a line at 4.5m across monthly figures of 400k would read as a monthly aim.
"""

from __future__ import annotations

from dataclasses import dataclass

from kpireport.objectives import level_period
from kpireport.report import Report


@dataclass(frozen=True)
class TargetLine:
    """The target a KPI's chart draws: its ``value``, whose it is (``objective`` or
    ``key_result``) and ``other``, a different monthly target the report also holds for the
    KPI (a key result's 85 beside the objective's 80), which the chart does not draw."""

    value: float
    source: str
    other: float | None = None


def target_lines(report: Report) -> dict[str, TargetLine]:
    """Each KPI's target line, by KPI key, while it still applies: the chart ends with the
    report's month, and a line past its objective's (or OKR's) deadline would say it does.

    A level objective's target comes first (the config's order); a key result's is drawn
    on a KPI no level objective holds, the first key result on it (in the OKRs' order)."""
    out: dict[str, TargetLine] = {}
    last_month = level_period(report.period).start
    for a in report.objectives:
        if a.kind == "level" and a.kpi not in out and (
                a.deadline is None or a.deadline >= last_month):
            out[a.kpi] = TargetLine(a.target, "objective")
    # The OKRs the report scores (one not started by the month it is judged on is left out),
    # while their deadline has not passed.
    scored = {okr.key for okr in report.okrs}
    for j, okr in enumerate(report.client.okrs):
        if (okr.id or f"okr-{j + 1}") not in scored or (
                okr.deadline is not None and okr.deadline < last_month):
            continue
        for kr in okr.key_results:
            line = out.get(kr.kpi)
            if line is None:
                out[kr.kpi] = TargetLine(kr.target, "key_result")
            elif (line.source == "objective" and line.other is None
                  and kr.target != line.value):
                # Named beside the line, which draws the objective's (review 5).
                out[kr.kpi] = TargetLine(line.value, line.source, kr.target)
    return out


def chart_targets(report: Report) -> dict[str, float]:
    """Each KPI's target line's value, by KPI key (:func:`target_lines`)."""
    return {key: line.value for key, line in target_lines(report).items()}
