"""Stage 4, assess: objectives, OKRs and recommendations from the computed KPIs.

Also the SMART review ``kpireport validate`` runs (unless ``--no-data``): is each objective
time-bound, measurable, achievable and realistic against the client's own history?
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from kpireport import objectives as obj
from kpireport.config.models import Config
from kpireport.kpis import KpiValue
from kpireport.periods import Period, add_months, today_in
from kpireport.pipeline.compute import monthly_series, total
from kpireport.pipeline.fetch import FetchResult, ask_sources, normalise_for
from kpireport.pipeline.plan import (
    HISTORY_MONTHS,
    KpiBinding,
    PerSource,
    ReportPlan,
    history_queries,
    is_additive,
    plan_client,
)
from kpireport.plugins import PluginSet
from kpireport.report import Assessment, Finding, KeyResultScore, OkrScore, Report
from kpireport.secrets import redact

log = logging.getLogger(__name__)


def cumulative_total(plan: ReportPlan, binding: KpiBinding, queries: PerSource,
                     fetched: FetchResult) -> float | None:
    value, _, error = total(binding, queries, fetched, plan.answered_by)
    return None if error else value


def assess_objectives(plan: ReportPlan, kpis: Mapping[str, KpiValue],
                      fetched: FetchResult) -> list[Assessment]:
    """Each objective judged on the period (a level one on a calendar month)."""
    out = []
    # One day for every objective's days left and monthly need: the data's last day.
    as_of = obj.reference_day(plan.period.end, [
        (plan.period_of(o.kpi).end, o.deadline, o.kind == "cumulative")
        for o in plan.client.objectives])
    for j, objective in enumerate(plan.client.objectives):
        binding = plan.bindings[objective.kpi]
        kpi = kpis[objective.kpi]
        # Judged on the days its KPI's data covers: a cumulative total up to the data's last
        # day against the path to that day, a level on the last month covered in full.
        period = plan.period_of(objective.kpi)
        key = objective.id or f"{objective.kpi}-{j + 1}"
        title = objective.title or kpi.label
        judged = period  # a level objective is judged on a calendar month (below)
        if objective.kind == "cumulative":
            queries = plan.queries[objective.kpi].cumulative.get(j)
            value = (cumulative_total(plan, binding, queries, fetched)
                     if queries is not None else None)
            baseline: float | None = (objective.baseline if objective.baseline is not None
                                      else 0.0)
        else:
            judged = obj.level_period(period, objective.deadline)
            value = kpi.value if judged is period else _month_value(kpi, judged)
            baseline = objective.baseline
            if baseline is None:
                before = add_months(objective.start.replace(day=1), -1)
                baseline = next((p.value for p in kpi.monthly if p.start == before), None)
        assessment = obj.assess(objective, key=key, title=title,
                                kpi_direction=binding.definition.direction, period=judged,
                                value=value, baseline=baseline, monthly=kpi.monthly)
        if objective.kind == "cumulative" and period.partial:
            assessment.measured_to = period.end
        if judged is not period:
            assessment.measured_in = judged.start
        if objective.deadline is not None and (period.partial or judged is not period):
            # Days left are counted from the report's one reference day, as for every other
            # objective in it (37 days from 24 November).
            assessment.days_left = max(0, (objective.deadline - as_of).days)
            if (assessment.required_rate is not None and value is not None
                    and objective.kind == "cumulative"):
                # A total runs to that day: its need is spread over what is left after it
                # (1.2 months). A level measured on a whole month keeps obj.assess's need,
                # spread over the months after that one: a year to date and October's own
                # report give the same need for October's value (review 5).
                assessment.required_rate = ((objective.target - value)
                                            / obj.months_left(as_of, objective.deadline))
        history = [p for p in kpi.monthly if p.start < objective.start.replace(day=1)]
        direction = objective.direction or (
            "increase" if binding.definition.direction.value == "higher" else "decrease")
        problems = obj.smart_problems(objective, measurable=True, not_measurable_reason=None,
                                      additive=is_additive(binding, plan.specs),
                                      history=history[-HISTORY_MONTHS:], direction=direction)
        assessment.smart = list(dict.fromkeys(
            [*assessment.smart, *(p.message for p in problems if p.severity == "warning")]))
        out.append(assessment)
    return out


def _month_value(kpi: KpiValue, month: Period) -> float | None:
    """The KPI's value in one calendar month, from its monthly series."""
    return next((p.value for p in kpi.monthly if p.start == month.start), None)


def score_okrs(plan: ReportPlan, kpis: Mapping[str, KpiValue]) -> list[OkrScore]:
    out = []
    for j, okr in enumerate(plan.client.okrs):
        # Key results are monthly levels, judged like level objectives: on the period's last
        # whole month, or the deadline's once it has passed; all on one month, the last
        # every key result's data covers in full.
        period = min((plan.period_of(kr.kpi) for kr in okr.key_results),
                     key=lambda p: p.end, default=plan.period)
        judged = obj.level_period(period, okr.deadline)
        if okr.start and okr.start > judged.end:
            continue  # an OKR not started by that month is no part of this report
        values: dict[int, float | None] = {}
        worsts: dict[int, float | None] = {}
        for r, kr in enumerate(okr.key_results):
            kpi = kpis[kr.kpi]
            values[r] = kpi.value if judged is period else _month_value(kpi, judged)
            if okr.start:
                window = [p.value for p in kpi.monthly
                          if p.value is not None and okr.start.replace(day=1) <= p.start
                          <= judged.end]
                if window:
                    worsts[r] = min(window) if kr.direction == "stay_above" else max(window)
        score = obj.score_okr(okr, okr.id or f"okr-{j + 1}", values, worsts)
        if judged is not period:
            score.measured_in = judged.start
        out.append(score)
    return out


def label_key_results(okrs: list[OkrScore], kpis: Mapping[str, KpiValue]) -> None:
    for okr in okrs:
        for kr in okr.key_results:
            if isinstance(kr, KeyResultScore) and not kr.title and kr.kpi in kpis:
                kr.title = kpis[kr.kpi].label


def run_rules(report: Report, plugins: PluginSet) -> list[Finding]:
    """Every recommendation rule's findings, the highest priority first (then the most
    severe)."""
    findings: list[Finding] = []
    for rule_id, registered in sorted(plugins.rules.items()):
        try:
            findings.extend(registered.item.evaluate(report))
        except Exception as exc:  # one broken rule must not cost the report
            log.warning("recommendation rule %r of plugin %r failed: %r", rule_id,
                        registered.plugin, exc)
    order = {"critical": 0, "warning": 1, "info": 2}
    return sorted(findings, key=lambda f: (-f.rank, order.get(str(f.severity), 3)))


# --- The SMART review (validate) ---------------------------------------------------------------


@dataclass(frozen=True)
class SmartFinding:
    severity: str
    where: str
    message: str


def smart_review(config: Config, plugins: PluginSet, *,
                 now: dt.datetime | None = None) -> list[SmartFinding]:
    findings: list[SmartFinding] = []
    for client in config.clients:
        if not client.objectives:
            continue
        plan = plan_client(config, client, plugins, today_in(config.timezone_of(client), now))
        try:
            for j, objective in enumerate(client.objectives):
                where = f"{client.id}: objective {objective.id or j + 1} ({objective.kpi})"
                binding = plan.bindings.get(objective.kpi)
                if binding is None:
                    findings.append(SmartFinding("error", where, "not measurable: no source of "
                                                 "this client serves its KPI"))
                    continue
                rng, queries = history_queries(binding, objective)
                fetched = ask_sources(plan.sources,
                                      {source: [query] for source, query in queries.items()},
                                      normalise_for(plan))
                history, error = monthly_series(binding, queries, rng, fetched)
                if error:
                    findings.append(SmartFinding("warning", where,
                                                 f"history could not be read: {error}"))
                direction = objective.direction or (
                    "increase" if binding.definition.direction.value == "higher" else "decrease")
                for problem in obj.smart_problems(
                        objective, measurable=True, not_measurable_reason=None,
                        additive=is_additive(binding, plan.specs), history=history,
                        direction=direction):
                    findings.append(SmartFinding(problem.severity, f"{where} [{problem.criterion}]",
                                                 problem.message))
        except Exception as exc:  # one client's failure leaves the others' review whole
            findings.append(SmartFinding("warning", client.id, "objectives could not be "
                                         f"reviewed: {redact(repr(exc))}"))
        finally:
            plan.close()
    return findings
