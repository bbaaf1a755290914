"""``kpireport validate``'s SMART review: is each objective time-bound, measurable, achievable
and realistic against the client's own history?"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kpireport import objectives as obj
from kpireport.config import Config
from kpireport.data import DateRange, Granularity, Query
from kpireport.engine import HISTORY_MONTHS, FetchResult, _values, is_additive, plan_client
from kpireport.errors import KpiReportError
from kpireport.kpis import SeriesPoint
from kpireport.periods import add_months, today_in
from kpireport.plugins import PluginSet
from kpireport.secrets import redact


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
                first = objective.start.replace(day=1)
                rng = DateRange(add_months(first, -HISTORY_MONTHS), first - dt.timedelta(days=1))
                fetched = FetchResult()
                for source in binding.sources:
                    metrics = tuple(m for m, s in binding.metric_sources.items() if s == source)
                    query = Query(metrics, rng, granularity=Granularity.MONTH)
                    try:
                        fetched.tables[(source, query.shape())] = plan.sources[source].fetch(
                            query)
                    except Exception as exc:  # a source down or a plugin's bug: this one only
                        fetched.errors[source] = redact(
                            str(exc) if isinstance(exc, KpiReportError) else repr(exc))
                rows, _, error = _values(binding, fetched,
                                         lambda m, r=rng: Query(m, r,
                                                                granularity=Granularity.MONTH))
                if error:
                    findings.append(SmartFinding("warning", where,
                                                 f"history could not be read: {error}"))
                by_month = {r["month"]: binding.definition.compute(r) for r in rows}
                history = []
                cursor = rng.start
                while cursor <= rng.end:
                    history.append(SeriesPoint(cursor, by_month.get(cursor)))
                    cursor = add_months(cursor, 1)
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
