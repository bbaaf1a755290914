"""A well-behaved third-party plugin: a source, a KPI, a rule and lifecycle observers."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import ClassVar

from kpireport import Unit, hookimpl
from kpireport.data import Aggregation, DataNote, MetricSpec, NoteKind, Table, aggregate_rows
from kpireport.delivery import Artifacts, DeliverySettings, DeliveryTarget
from kpireport.errors import KpiReportError, TransientError
from kpireport.kpis import KpiDefinition
from kpireport.recommendations import Finding, Rule, Severity
from kpireport.sources import Source, SourceSettings

EVENTS: list[tuple[str, str]] = []
"""Events heard in this process; a batch's workers also append them to the file named by
KPIREPORT_TEST_EVENTS, where the test can read them."""


def _event(kind: str, client: str) -> None:
    EVENTS.append((kind, client))
    if path := os.environ.get("KPIREPORT_TEST_EVENTS"):
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{kind} {client}\n")


class ConstantSettings(SourceSettings):
    per_day: float = 10.0
    fail: bool = False
    crash: bool = False
    """Kill the worker process outright (as a segfault in a native library would)."""
    hang: bool = False
    explode_with: str | None = None
    """Raise a ConnectionError quoting this (a token in a URL, as requests' errors do)."""
    note: str | None = None
    """A data note on every answer, in English …"""
    note_fr: str | None = None
    """… and in French, as a plugin gives its own notes in the report's language."""


class ConstantSource(Source):
    """Gives ``per_day`` signups every day; fails on demand."""

    name = "constant"
    label = "Constant (tests)"
    Settings = ConstantSettings
    SPECS: ClassVar[dict[str, MetricSpec]] = {"signups": MetricSpec(name="signups",
                                                                    aggregation=Aggregation.SUM)}

    def metrics(self):
        return self.SPECS

    def fetch(self, query):
        if self.settings.crash:
            os._exit(70)
        if self.settings.hang:
            time.sleep(3600)
        if self.settings.explode_with:
            raise ConnectionError(f"GET https://api.example/v1?key={self.settings.explode_with}")
        if self.settings.fail:
            raise TransientError("HTTP 503 from the upstream API after 4 retries")
        rows = []
        day = query.range.start
        while day <= query.range.end:
            rows.append({"date": day, "signups": self.settings.per_day})
            day += dt.timedelta(days=1)
        notes = []
        if self.settings.note:
            translations = (("fr", self.settings.note_fr),) if self.settings.note_fr else ()
            notes.append(DataNote(kind=NoteKind.OTHER, message=self.settings.note,
                                  source=self.context.name,
                                  translations=translations))
        return Table(query=query, rows=aggregate_rows(rows, self.SPECS, query), notes=notes)


def _rule(report):
    kpi = report.kpis.get("signups")
    if kpi and kpi.value is not None and kpi.value > 100:
        yield Finding(rule="many-signups", severity=Severity.INFO, title={"en": "Signups are high"},
                      text={"en": f"{kpi.value:.0f} signups this period."},
                      figures={"signups": kpi.value},
                      kpis=("signups",))


@hookimpl
def register_sources(register):
    register(ConstantSource)


@hookimpl
def register_kpis(register):
    register(KpiDefinition(id="signups", label={"en": "Signups", "fr": "Inscriptions"},
                           unit=Unit.COUNT,
                           metrics=("signups",)))


class RecordingSettings(DeliverySettings):
    log: str
    """A file that gets one line per delivery (workers are other processes)."""
    fail_while: str | None = None
    """Fail while this file exists (a mail server that is down)."""


class RecordingTarget(DeliveryTarget):
    name = "recording"
    Settings = RecordingSettings

    def deliver(self, artifacts: Artifacts) -> str:
        if self.settings.fail_while and Path(self.settings.fail_while).exists():
            raise KpiReportError("recording target: connection refused by the server")
        with open(self.settings.log, "a", encoding="utf-8") as f:
            f.write(f"{artifacts.names['client']} {artifacts.names['period']} "
                    f"{len(artifacts.pdf)}\n")
        return f"recording:{self.settings.log}"


@hookimpl
def register_delivery_targets(register):
    register(RecordingTarget)


@hookimpl
def register_recommendation_rules(register):
    register(Rule(id="many-signups", evaluate=_rule, description="Says when signups are above 100"))


@hookimpl
def report_started(client, period):
    _event("started", client.id)


@hookimpl
def report_delivered(report, delivery):
    _event("delivered", f"{report.client.id} {report.period.key} {delivery.target}")


@hookimpl
def report_failed(client, period, error):
    _event("failed", client.id)
