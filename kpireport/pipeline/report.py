"""One client's report: plan → fetch → compute → assess, in that order (no rendering).

The period is resolved once, here, and every stage after gets it from the plan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kpireport.branding import brand_of, logos_of
from kpireport.config.models import ClientConfig, Config
from kpireport.data import DataNote, NoteKind
from kpireport.errors import ConfigError, SourceError
from kpireport.periods import Period, resolve, today_in
from kpireport.pipeline import coverage
from kpireport.pipeline.assess import (
    assess_objectives,
    label_key_results,
    run_rules,
    score_okrs,
)
from kpireport.pipeline.compute import compute_kpis, dedupe
from kpireport.pipeline.fetch import Fetcher, FetchResult, LiveFetcher, SnapshotFetcher
from kpireport.pipeline.plan import ReportPlan, language_of, plan_client, plan_report
from kpireport.plugins import PluginSet
from kpireport.report import Report


def compute_report(config: Config, client: ClientConfig, plugins: PluginSet, *,
                   period_spec: str | None = None, now: dt.datetime | None = None,
                   snapshot: Mapping[str, Any] | None = None,
                   period: Period | None = None, notify: bool = True,
                   state_root: Path | None = None) -> Report:
    """Fetch, compute and assess one client's report (no rendering, no delivery).

    The period is ``period`` when given (a batch resolves it once, when it plans), else
    ``period_spec`` (or the config's default) resolved in the client's time zone.

    With ``snapshot`` (see :mod:`kpireport.snapshots`) nothing is fetched: the tables, the
    metrics the sources offered and the logos come from it, so the figures are those of the
    original run. The report keeps what a snapshot of this run needs (``fetched``, ``specs``).
    Without ``notify``, plugins do not hear of it (``report_started``, ``report_computed``):
    a report computed again only to be passed to another hook. ``state_root`` is the run's
    state folder (the sources' own state and cache live there); default: the config's.
    """
    tz_name = config.timezone_of(client)
    today = today_in(tz_name, now)
    period = period or resolve(period_spec or config.defaults.period, today)
    locale = config.locale_of(client)
    language = language_of(locale)
    fetcher: Fetcher = LiveFetcher() if snapshot is None else SnapshotFetcher(snapshot)
    client_plan = plan_client(
        config, client, plugins, today,
        specs=None if snapshot is None else snapshot["specs"],
        sources_info=None if snapshot is None else snapshot.get("sources_info"),
        state_root=state_root)
    plan = plan_report(client_plan, period)
    try:
        if plan.problems:
            raise ConfigError(plan.problems)
        if notify:
            plugins.call_each("report_started", client=client, period=period)
        fetched = fetcher.fetch(plan)
        reach = coverage.last_days(plan, fetched)
        stale = coverage.stale_sources(plan, fetched, reach)
        if cut := coverage.kpi_periods(plan, reach):
            # Files that stop within the period: their KPIs are asked again over the days
            # they cover, and compared with the same days (the other tables are reused).
            plan = plan_report(client_plan, period, cut)
            fetched = refetch(fetcher, plan, fetched)
    finally:
        plan.close()
    if fetched.errors and client_policy(client) == "fail":
        raise SourceError(source_failures(plan, fetched.errors),
                          source=", ".join(fetched.errors))
    kpis = compute_kpis(plan, fetched, language)
    report = Report(
        agency=config.agency, client=client, period=period, language=language, locale=locale,
        currency=config.currency_of(client), timezone=tz_name,
        colours=config.colours_of(client), theme=config.theme_of(client),
        generated_at=(now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(tz_name)),
        all_kpis=kpis, fetched=fetched, specs=plan.specs,
        source_labels={name: plan.label(name) for name in client.sources},
        sources_info=plan.sources_info, usage=fetched.usage,
    )
    report.kpis = {k: v for k, v in kpis.items() if plan.bindings[k].listed}
    report.stale = stale
    report.kpi_periods = dict(plan.kpi_periods)
    # One note per last day, naming every source that stops on it.
    ends: dict[dt.date, list[str]] = {}
    for name in client.sources:
        last = reach.get(name)
        if last is not None and any(last == p.end and name in plan.bindings[k].sources
                                    for k, p in cut.items()):
            ends.setdefault(last, []).append(name)
    for end, names in sorted(ends.items()):
        report.notes.append(DataNote(
            kind=NoteKind.DATA_END, source=",".join(names), params=(("end", end.isoformat()),),
            message=f"{', '.join(map(plan.label, names))}: data up to {end.isoformat()} only: "
                    "the figures cover the period up to that day, compared with the same days"))
    report.data_end = min((p.end for p in cut.values()), default=None)
    for name, message in fetched.errors.items():
        report.notes.append(DataNote(kind=NoteKind.SOURCE_FAILED, message=message, source=name,
                                     params=partly_read(report, name)))
    report.objectives = assess_objectives(plan, kpis, fetched)
    report.okrs = score_okrs(plan, kpis)
    label_key_results(report.okrs, kpis)
    for kpi in kpis.values():
        report.notes.extend(n for n in kpi.notes
                            if n.kind not in (NoteKind.UNAVAILABLE, NoteKind.NO_DATA))
    report.notes = dedupe(report.notes)
    if snapshot is not None:
        report.logos.update(snapshot.get("logos", {}))
        report.brand.update(snapshot.get("brand", {}))
    else:
        report.logos.update(logos_of(config, client))
        report.brand = brand_of(config, client, period)
    if client.recommendations:
        report.findings = run_rules(report, plugins)
    if notify:
        plugins.call_each("report_computed", report=report)
    return report


def partly_read(report: Report, source: str) -> tuple[tuple[str, str], ...]:
    """For a source that failed on some of its queries only: the figures it leaves missing,
    by their labels (("missing", "Clicks, CTR")), so the report says exactly what is missing;
    () when none of its figures is printed (the source could not be read at all)."""
    served = [k for k in report.kpis.values() if source in k.sources]
    missing = [k.label for k in served if k.failed_source == source]
    if not missing or len(missing) == len(served):
        return ()
    return (("missing", ", ".join(missing)),)


def refetch(fetcher: Fetcher, plan: ReportPlan, first: FetchResult) -> FetchResult:
    """The plan's tables: those the first fetch has, and the others asked now. The first
    fetch's are all kept: a snapshot of the report then holds the daily tables that showed
    where the data stops, and a rebuild from it cuts the period at the same day."""
    missing = {source: [q for q in queries if (source, q) not in first.tables]
               for source, queries in plan.asks.items()}
    asked = replace(plan, asks={s: qs for s, qs in missing.items() if qs})
    more = fetcher.fetch(asked) if asked.asks else FetchResult()
    return FetchResult(tables={**first.tables, **more.tables},
                       errors={**first.errors, **more.errors},
                       usage={**first.usage, **more.usage})


def source_failures(plan: ReportPlan, errors: Mapping[str, str]) -> str:
    """Each failed source by its label, with its error, worded once: "Google Analytics:
    the access token was refused; …"."""
    return "; ".join(f"{plan.label(name)}: {message}" for name, message in errors.items())


def client_policy(client: ClientConfig) -> str:
    """What to do when a source fails: ``fail`` the client (default) or deliver with the gap."""
    return client.on_source_error
