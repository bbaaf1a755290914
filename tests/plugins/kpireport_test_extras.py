"""A well-behaved third-party plugin: a source, a KPI, a rule and lifecycle observers."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from kpireport import hookimpl
from kpireport.data import Aggregation, MetricSpec, Table, aggregate_rows
from kpireport.errors import SourceError
from kpireport.kpis import KpiDefinition, Unit
from kpireport.recommendations import Finding, Rule, Severity
from kpireport.sources import Source, SourceSettings

EVENTS: list[tuple[str, str]] = []


class ConstantSettings(SourceSettings):
    per_day: float = 10.0
    fail: bool = False


class ConstantSource(Source):
    """Gives ``per_day`` signups every day; fails on demand."""

    name = "constant"
    label = "Constant (tests)"
    Settings = ConstantSettings
    SPECS: ClassVar[dict[str, MetricSpec]] = {"signups": MetricSpec("signups", Aggregation.SUM)}

    def metrics(self):
        return self.SPECS

    def fetch(self, query):
        if self.settings.fail:
            raise SourceError(self.context.name, "HTTP 503 from the upstream API after 4 retries")
        rows = []
        day = query.range.start
        while day <= query.range.end:
            rows.append({"date": day, "signups": self.settings.per_day})
            day += dt.timedelta(days=1)
        return Table(query, aggregate_rows(rows, self.SPECS, query))


def _rule(report):
    kpi = report.kpis.get("signups")
    if kpi and kpi.value is not None and kpi.value > 100:
        yield Finding("many-signups", Severity.INFO, {"en": "Signups are high"},
                      {"en": f"{kpi.value:.0f} signups this period."}, {"signups": kpi.value},
                      ("signups",))


@hookimpl
def register_sources(register):
    register(ConstantSource)


@hookimpl
def register_kpis(register):
    register(KpiDefinition("signups", {"en": "Signups", "fr": "Inscriptions"}, Unit.COUNT,
                           ("signups",)))


@hookimpl
def register_recommendation_rules(register):
    register(Rule("many-signups", _rule, "Says when signups are above 100"))


@hookimpl
def report_started(client, period):
    EVENTS.append(("started", client.id))


@hookimpl
def report_delivered(report, delivery):
    EVENTS.append(("delivered", report.client.id))


@hookimpl
def report_failed(client, period, error):
    EVENTS.append(("failed", client.id))
