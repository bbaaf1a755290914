"""Unattended runs: every client in worker processes, under a lock, recorded in the ledger.

Each report runs in its own short-lived process (forked from the parent, which has already
loaded the config, the plugins and WeasyPrint), so a crash, a hang or a leak costs that
client only, and a worker's memory does not grow with the number of clients. The process
computes and renders the report, writes the PDF, HTML and snapshot to the spool, then
delivers to each target still owed, recording each delivery in the ledger the moment it
succeeds; the parent records the attempts. A report is a pure function of (config, client, period),
which is what lets a distributed task queue run the same job (see README).
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import logging
import multiprocessing
import os
import signal
import sqlite3
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from kpireport.config import ClientConfig, Config
from kpireport.delivery import Artifacts, Delivery, atomic_write
from kpireport.errors import ConfigError, KpiReportError, disk_full
from kpireport.ledger import Ledger
from kpireport.periods import Period, PeriodError, add_months, from_key, resolve, today_in
from kpireport.pipeline.deliver import Outcome, deliver, render, target_keys
from kpireport.plugins import PluginSet
from kpireport.secrets import redact

log = logging.getLogger("kpireport.batch")

Progress = Callable[[str, str, int, int], None]
"""``progress(event, client, done, total)``; events: ``start``, ``done``."""


class LockHeld(KpiReportError):
    exit_code = 1


class StaleData(KpiReportError):
    """A report whose sources have no data for most of its period: held, not delivered
    (a report of dashes is worse than a late one); ``--force`` delivers it anyway."""

    exit_code = 1


STALE = "stale data"
"""The ledger's status of a report held for stale data: owed, so the next run tries again."""


def stale_message(client: ClientConfig, period: Period, stale: Iterable[Any]) -> str:
    """The agency's words for a held report: the client, and each source with its last day."""
    parts = [f"{s.label} has no data for most of the period (" + (
        f"its last day with data is {s.last_day.isoformat()}" if s.last_day else
        "none at all") + ")" for s in stale]
    return (f"stale data: {client.name} ({client.id}) {period.key} held, not delivered: "
            + "; ".join(parts) + f"; 'kpireport run --force --client {client.id} --period "
            f"{period.key}' delivers it anyway")


@dataclass(frozen=True)
class StatePaths:
    root: Path
    ledger: Path

    def spool(self, client: str, period: str, suffix: str) -> Path:
        return self.root / "spool" / client / f"{period}{suffix}"

    def snapshot(self, client: str, period: str) -> Path:
        return self.root / "snapshots" / client / f"{period}.json.gz"


def state_paths(config: Config, output_dir: Path | None) -> StatePaths:
    root = config.state_root(output_dir)
    ledger = (config.resolve_path(config.runs.ledger) if config.runs.ledger
              else root / "ledger.sqlite")
    return StatePaths(root, ledger)


@dataclass
class ClientResult:
    """One client's report in a run: ``delivered``, ``failed``, ``held``, ``stale data`` (held:
    its sources have no data for most of the period), ``skipped`` or ``planned`` (a dry run)."""

    client: str
    period: str
    status: str
    seconds: float
    outputs: list[str] = field(default_factory=list)
    pages: int = 0
    error: str | None = None
    usage: dict[str, dict[str, str]] = field(default_factory=dict)
    """The quota figures its sources reported, by source then quota."""


def config_hash(config: Config, client: ClientConfig) -> str:
    """Changes when anything that shapes this client's report changes."""
    payload = {"agency": config.agency.model_dump(mode="json"),
               "defaults": config.defaults.model_dump(mode="json"),
               "client": client.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def release_date(client: ClientConfig, period: Period) -> dt.date | None:
    """The day a period's report may go out when the client holds it for late data."""
    if client.deliver_after_day is None:
        return None
    return add_months(period.end.replace(day=1), 1).replace(day=client.deliver_after_day)


@dataclass
class Job:
    client: str
    period: str
    """The resolved period's key (``2026-10``), for the ledger and the spool."""
    resolved: Period | None = None
    """The period itself, resolved once when the run is planned: every worker reports on
    exactly it, even past midnight (a month-to-date key does not say where it ends)."""
    attempt_id: int = 0
    skip_targets: list[str] = field(default_factory=list)
    reuse_spool: bool = False
    """Only deliveries are owed: deliver the spooled PDF, do not render again."""


@dataclass
class Plan:
    jobs: list[Job]
    results: list[ClientResult]
    """Clients decided without work: skipped (already delivered), held or left out."""
    lines: list[str]
    """What would be done, in words (``--dry-run``)."""
    periods: dict[tuple[str, str], Period] = field(default_factory=dict)
    """The resolved period of each (client id, period key) planned."""


CATCH_UP_DAYS = 93
"""How far back a run looks for reports still owed (held, failed, interrupted): a quarter."""


def plan_batch(config: Config, client_ids: Iterable[str] | None, *, period_spec: str | None,
               now: dt.datetime | None, ledger: Ledger, paths: StatePaths,
               force: bool, invalid: Mapping[str, ConfigError] | None = None) -> Plan:
    """What to do for each client. ``invalid``: clients whose configuration or data has
    problems, failed without rendering.

    Without an explicit ``period_spec``, a client's reports of earlier periods that are still
    owed (held until a later day, failed, interrupted, or with a delivery that failed, in the
    last :data:`CATCH_UP_DAYS` days) come first: a monthly cron's next run is next month's.
    """
    clients = [config.client(c) for c in client_ids] if client_ids else list(config.clients)
    plan = Plan([], [], [])
    since = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=CATCH_UP_DAYS)
    for client in clients:
        today = today_in(config.timezone_of(client), now)
        period = resolve(period_spec or config.defaults.period, today)
        if period_spec is None:
            for key in ledger.owed_periods(client.id, since=since.isoformat()):
                try:
                    owed = from_key(key)
                except PeriodError:  # a key of an older version: nothing to catch up
                    continue
                if key != period.key:
                    _plan_period(plan, client, owed, today, ledger, paths, force=False,
                                 invalid=invalid, catching_up=True)
        _plan_period(plan, client, period, today, ledger, paths, force=force, invalid=invalid)
    return plan


def _plan_period(plan: Plan, client: ClientConfig, period: Period, today: dt.date,
                 ledger: Ledger, paths: StatePaths, *, force: bool,
                 invalid: Mapping[str, ConfigError] | None, catching_up: bool = False) -> None:
    key = period.key
    plan.periods[(client.id, key)] = period
    late = " (owed from an earlier run)" if catching_up else ""
    release = release_date(client, period)
    if release and today < release and not force:
        plan.results.append(ClientResult(client.id, key, "held", 0.0,
                                         error=f"held until {release.isoformat()}"))
        plan.lines.append(f"{client.id} {key}: hold until {release.isoformat()} "
                          "(deliver_after_day)")
        return
    wanted = target_keys(client)
    done = ledger.delivered_targets(client.id, key)
    uncertain = [] if force else ledger.uncertain_targets(client.id, key)
    if uncertain:
        for target in uncertain:
            # Sending again could send a second copy; not sending could send none: the
            # agency decides, told at every run until it does.
            warning = (f"{client.id} {key}: {target} may already have received this report "
                       "(a run began to deliver it and could not record the outcome); not "
                       f"sent again: check, then 'kpireport confirm CONFIG --client {client.id} "
                       f"--period {key} --target {target} --received' (or --not-received: the "
                       "next run sends it)")
            log.warning("%s", warning)
            plan.lines.append(warning)
            done.setdefault(target, "unconfirmed")
    owed = [t for t in wanted if t not in done]
    if not force and not owed:
        if not catching_up:
            said = ("already delivered" if not uncertain else
                    f"already delivered, or perhaps ({', '.join(uncertain)}: unconfirmed)")
            plan.results.append(ClientResult(client.id, key, "skipped", 0.0,
                                             outputs=list(done.values()), error=said))
            plan.lines.append(f"{client.id} {key}: skip ({said})")
        return
    if invalid and client.id in invalid:
        # Only once there is work to do: a report already delivered stays delivered.
        message = redact("invalid configuration: "
                         + "; ".join(map(str, invalid[client.id].problems)))
        plan.results.append(ClientResult(client.id, key, "failed", 0.0, error=message))
        plan.lines.append(f"{client.id} {key}: left out ({message})")
        return
    if force:
        plan.jobs.append(Job(client.id, key, resolved=period))
        plan.lines.append(f"{client.id} {key}: render and deliver to {', '.join(wanted)}"
                          + (" (again: --force)" if done else ""))
        return
    # A report rendered and spooled is delivered as it was rendered, whether some target
    # already has it or none yet: a source down since then does not hold it back.
    reuse = paths.spool(client.id, key, ".pdf").is_file() and paths.spool(
        client.id, key, ".json").is_file()
    plan.jobs.append(Job(client.id, key, resolved=period, skip_targets=list(done),
                         reuse_spool=reuse))
    verb = "deliver the rendered report" if reuse else "render and deliver"
    plan.lines.append(f"{client.id} {key}: {verb} to {', '.join(owed)}{late}")


# --- The worker side ------------------------------------------------------------------------

_PRELOADED: dict[str, Any] = {}
_NOTIFIED = False
"""In a worker: report_failed was called with the exception that stopped the report."""


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this worker when the run that forked it dies.

    A run killed with SIGKILL cannot stop its workers, and releases its lock as it dies: the
    next run would mark their attempts interrupted, plan the same reports again and send them
    while the orphans send theirs. Elsewhere the orphans live on (their timeout died with the
    parent); a run killed gracefully (SIGTERM, Ctrl-C) stops them itself.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != _PRELOADED.get("parent", os.getppid()):
        os._exit(1)  # the parent died before the request was made


def _worker(conn: Connection, job: Job, options: dict[str, Any]) -> None:
    """Runs in the child process: render (or reuse the spool), then deliver what is owed."""
    _die_with_parent()
    # One report, then exit: the collector would only spend time on memory freed at exit.
    gc.disable()
    try:
        config: Config = _PRELOADED["config"]
        plugins: PluginSet = _PRELOADED["plugins"]
        client = config.client(job.client)
        paths: StatePaths = options["paths"]
        report, rebuilt, meta = None, False, {}
        if job.reuse_spool:
            meta = json.loads(paths.spool(job.client, job.period, ".json").read_text())
            pdf = paths.spool(job.client, job.period, ".pdf").read_bytes()
            html_path = paths.spool(job.client, job.period, ".html")
            html = html_path.read_text(encoding="utf-8") if html_path.is_file() else ""
            artifacts = Artifacts(pdf=pdf, html=html, names=meta["names"], pages=meta["pages"])
            gaps = meta.get("gaps", {})
        else:
            report, artifacts = _render(config, client, plugins, job, options)
            gaps = gaps_of(report)
        conn.send(("rendered", {"pages": artifacts.pages, "gaps": gaps,
                                "usage": report.usage if report is not None else {},
                                "content_hash": hashlib.sha256(artifacts.pdf).hexdigest()}))
        # The worker records its own deliveries, the moment each succeeds: if the parent is
        # killed meanwhile, the next run still knows not to send this one again.
        with Ledger(paths.ledger) as ledger:

            def write(target: str, status: str, **fields: str | None) -> None:
                try:
                    ledger.record_delivery(client=job.client, period=job.period, target=target,
                                           status=status, attempt_id=job.attempt_id, **fields)
                except (sqlite3.Error, OSError) as exc:
                    if status == "sending":
                        raise KpiReportError(f"{target}: not delivered, the ledger could not "
                                             f"record it ({exc})") from None
                    raise KpiReportError(
                        f"{target}: {status}, but the ledger could not record it ({exc}); the "
                        "next run will not deliver it again without saying so") from None

            def record(outcome: Outcome) -> None:
                nonlocal report, rebuilt
                if outcome.error is not None:
                    write(outcome.key, "failed", error=outcome.error)
                    conn.send(("delivery_failed", {"target": outcome.key,
                                                   "error": outcome.error}))
                    return
                assert outcome.location is not None  # a delivery without error says where
                write(outcome.key, "delivered", location=outcome.location)
                conn.send(("delivered", {"target": outcome.key, "location": outcome.location}))
                if report is None and not rebuilt and plugins.implements("report_delivered"):
                    rebuilt = True  # once, even when there is no snapshot to rebuild it from
                    report = _spooled_report(config, client, plugins, job, paths, meta)
                if report is not None:
                    plugins.call_each("report_delivered", report=report,
                                      delivery=Delivery(target=outcome.target,
                                                        location=outcome.location))

            deliver(config, client, plugins, artifacts, output_dir=options["output_dir"],
                    skip=job.skip_targets, each=record,
                    before=lambda target: write(target, "sending"))
        conn.send(("finished", {}))
    except BaseException as exc:  # everything goes back to the parent, which decides
        message = (str(exc) if isinstance(exc, KpiReportError)
                   else disk_full(exc) or f"internal error: {exc!r}")
        if not isinstance(exc, KpiReportError):
            log.debug("worker traceback:\n%s", traceback.format_exc())
        try:
            conn.send(("failed", {"error": redact(message), "notified": _NOTIFIED,
                                  "stale": isinstance(exc, StaleData)}))
        except Exception:  # the parent will see a crash instead
            pass
    finally:
        conn.close()


def _render(config: Config, client: ClientConfig, plugins: PluginSet, job: Job,
            options: dict[str, Any]) -> tuple[Any, Artifacts]:
    from kpireport import snapshots
    from kpireport.pipeline.report import compute_report

    now = options["now"] or dt.datetime.now(dt.UTC)
    try:
        report = compute_report(config, client, plugins, period=job.resolved,
                                period_spec=job.period, now=now,
                                state_root=options["paths"].root)
        if report.stale and not options.get("force"):
            raise StaleData(stale_message(client, report.period, report.stale))
        artifacts = render(config, report, plugins, notify=False)
    except BaseException as exc:
        global _NOTIFIED
        period = job.resolved or from_key(job.period)
        plugins.call_each("report_failed", client=client, period=period, error=exc)
        _NOTIFIED = True  # the parent need not call it again
        raise
    plugins.call_each("report_rendered", report=report, artifacts=artifacts)
    paths: StatePaths = options["paths"]
    snapshot = snapshot_bytes(config, client, report, now) if config.runs.snapshots else None
    atomic_write(paths.spool(client.id, job.period, ".pdf"), artifacts.pdf)
    atomic_write(paths.spool(client.id, job.period, ".html"), artifacts.html)
    # The snapshot taken with this PDF, by its hash: a retry that delivers the PDF rebuilds
    # the report for report_delivered from that snapshot only, never from an older one.
    atomic_write(paths.spool(client.id, job.period, ".json"),
                 json.dumps({"names": artifacts.names, "pages": artifacts.pages,
                             "gaps": gaps_of(report),
                             # For the archive's index (kpireport site): how the objectives
                             # stood in this report, without computing it again.
                             "objectives": [{"title": a.title, "status": a.status.value}
                                            for a in report.objectives],
                             "snapshot": snapshot and hashlib.sha256(snapshot).hexdigest()}))
    if snapshot is not None:
        snapshots.write(paths.snapshot(client.id, job.period), snapshot)
        if config.runs.keep_snapshots:
            snapshots.prune(paths.snapshot(client.id, job.period).parent,
                            config.runs.keep_snapshots)
    return report, artifacts


def gaps_of(report: Any) -> dict[str, str]:
    """The sources a report was delivered without, by label, with their errors."""
    errors = report.fetched.errors if report.fetched else {}
    return {report.source_labels.get(name, name): message for name, message in errors.items()}


def snapshot_bytes(config: Config, client: ClientConfig, report: Any,
                   now: dt.datetime) -> bytes:
    from kpireport import snapshots

    # Settings may hold resolved secrets and are not needed to rebuild: leave them out.
    client_data = client.model_dump(mode="json")
    for source in client_data["sources"].values():
        source["settings"] = {}
    for ref in client_data["delivery"]:
        ref["settings"] = {}
    client_data["logo"] = None
    agency = config.agency.model_dump(mode="json")
    agency["logo"] = None
    agency["template_dir"] = None
    # Brand files travel as data URIs in the snapshot's brand, not as paths.
    for owner in (agency, client_data):
        owner["fonts"] = None
        owner["cover_image"] = None
    fetched = report.fetched
    return snapshots.dump(client=client_data, agency=agency,
                          defaults=config.defaults.model_dump(mode="json"),
                          period=report.period.key, now=now, specs=report.specs,
                          tables=fetched.tables, errors=fetched.errors, logos=report.logos,
                          brand=report.brand, sources_info=report.sources_info)


# --- The parent side ------------------------------------------------------------------------


@dataclass
class _Running:
    job: Job
    process: Any
    conn: Connection
    started: float
    deadline: float
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def run_batch(config: Config, plugins: PluginSet, client_ids: Iterable[str] | None = None, *,
              period_spec: str | None = None, output_dir: Path | None = None,
              now: dt.datetime | None = None, workers: int | None = None,
              timeout: float | None = None, force: bool = False, dry_run: bool = False,
              progress: Progress | None = None,
              invalid: Mapping[str, ConfigError] | None = None,
              ) -> tuple[list[ClientResult], list[str]]:
    """Run clients under the lock; returns their results and the plan in words.

    ``invalid`` holds the clients left out for problems in their own configuration or data
    (client id -> the problems): each is recorded as failed, with ``report_failed`` called,
    and not rendered; the others run.
    """
    from filelock import FileLock, Timeout

    for client_id in client_ids or ():
        config.client(client_id)  # an unknown id is a config error, before anything is written
    output = output_dir or config.resolve_path(config.defaults.output)
    paths = state_paths(config, output_dir)
    paths.root.mkdir(parents=True, exist_ok=True)
    lock_path = paths.root / "run.lock"
    lock = FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        holder = (paths.root / "run.pid").read_text().strip() if (
            paths.root / "run.pid").is_file() else "?"
        raise LockHeld(f"another kpireport run holds the lock {lock_path} (pid {holder}); "
                       "not starting") from None
    try:
        (paths.root / "run.pid").write_text(str(os.getpid()))
        with Ledger(paths.ledger) as ledger:
            if not dry_run and (stale := ledger.mark_interrupted()):
                log.warning("%d report(s) of an interrupted run marked as such", stale)
            plan = plan_batch(config, client_ids, period_spec=period_spec, now=now,
                              ledger=ledger, paths=paths, force=force, invalid=invalid)
            if dry_run:
                return plan.results + [ClientResult(j.client, j.period, "planned", 0.0)
                                       for j in plan.jobs], plan.lines
            run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
            versions = {name: info.version or "" for name, info in plugins.infos.items()}
            for result in plan.results:
                client = config.client(result.client)
                ledger.record(run_id=run_id, client=result.client, period=result.period,
                              status=result.status, error=result.error,
                              config_hash=config_hash(config, client))
                if invalid and result.client in invalid and result.status == "failed":
                    plugins.call_each("report_failed", client=client,
                                      period=plan.periods[(result.client, result.period)],
                                      error=invalid[result.client])
            for job in plan.jobs:
                if force:
                    ledger.forget(job.client, job.period)
                job.attempt_id = ledger.start(
                    run_id=run_id, client=job.client, period=job.period,
                    config_hash=config_hash(config, config.client(job.client)),
                    plugin_versions=versions)
            options = {"paths": paths, "output_dir": output, "now": now, "force": force}
            results = _execute(config, plugins, plan.jobs, options, ledger,
                               workers or config.runs.workers or os.cpu_count() or 1,
                               timeout or config.runs.timeout, progress)
            return plan.results + results, plan.lines
    finally:
        lock.release()


def _execute(config: Config, plugins: PluginSet, jobs: list[Job], options: dict[str, Any],
             ledger: Ledger, workers: int, timeout: float,
             progress: Progress | None) -> list[ClientResult]:
    # Import what every worker needs once, before forking, so each starts warm; with more
    # than one report, fill the caches each would fill for itself (one report: no gain).
    from kpireport import render, weasy

    weasy.load()
    render.share_typeface(plugins)
    if sum(not job.reuse_spool for job in jobs) > 1:
        render.warm_up({config.locale_of(config.client(job.client)) for job in jobs}, plugins)
    # Modules, config and parsed data live as long as the run: keep them out of the cycle
    # collector's sight, in this process and in the workers forked from it.
    gc.freeze()
    try:
        return _supervise(config, plugins, jobs, options, ledger, workers, timeout, progress)
    finally:
        gc.unfreeze()


def _supervise(config: Config, plugins: PluginSet, jobs: list[Job], options: dict[str, Any],
               ledger: Ledger, workers: int, timeout: float,
               progress: Progress | None) -> list[ClientResult]:
    """Fork a worker per job, at most ``workers`` at once; collect what each reports."""
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    _PRELOADED.update(config=config, plugins=plugins, parent=os.getpid())
    queue = deque(jobs)
    running: dict[int, _Running] = {}
    results: list[ClientResult] = []
    total, done = len(jobs), 0
    while queue or running:
        while queue and len(running) < workers:
            job = queue.popleft()
            parent_conn, child_conn = ctx.Pipe(duplex=False)
            process = ctx.Process(target=_worker, args=(child_conn, job, options),
                                  name=f"kpireport-{job.client}", daemon=True)
            process.start()
            child_conn.close()
            started = time.monotonic()
            running[process.sentinel] = _Running(job, process, parent_conn, started,
                                                 started + timeout)
            if progress:
                progress("start", job.client, done, total)
        nearest = min(r.deadline for r in running.values())
        ready = wait([*running.keys(), *(r.conn for r in running.values())],
                     timeout=max(0.0, nearest - time.monotonic()))
        for item in ready:
            for r in list(running.values()):
                if item is r.conn:
                    _drain(r)
        finished = []
        for sentinel, r in running.items():
            if not r.process.is_alive():
                _drain(r)
                finished.append(sentinel)
            elif time.monotonic() >= r.deadline:
                r.process.terminate()
                r.process.join(5)
                if r.process.is_alive():
                    r.process.kill()
                    r.process.join()
                _drain(r)
                r.messages.append(("failed", {"error": f"timed out after {timeout:g} s"}))
                finished.append(sentinel)
        for sentinel in finished:
            r = running.pop(sentinel)
            r.process.join()
            result = _conclude(r, ledger)
            if result.status == "failed" and not any(
                    k == "failed" and d.get("notified") for k, d in r.messages):
                # A crash, a timeout, a failed delivery: the worker could not say so itself.
                client = config.client(r.job.client)
                plugins.call_each("report_failed", client=client,
                                  period=r.job.resolved or from_key(r.job.period),
                                  error=KpiReportError(result.error or "failed"))
            results.append(result)
            done += 1
            if progress:
                progress("done", r.job.client, done, total)
    return results


def _drain(r: _Running) -> None:
    """Read what the worker said (it has recorded its deliveries itself)."""
    while True:
        try:
            if not r.conn.poll():
                return
            kind, data = r.conn.recv()
        except (EOFError, OSError):
            return
        r.messages.append((kind, data))


def _conclude(r: _Running, ledger: Ledger) -> ClientResult:
    seconds = time.monotonic() - r.started
    kinds = {k for k, _ in r.messages}
    rendered = next((d for k, d in r.messages if k == "rendered"), {})
    outputs = [d["location"] for k, d in r.messages if k == "delivered"]
    failures = [f"{d['target']}: {d['error']}" for k, d in r.messages if k == "delivery_failed"]
    error = next((d["error"] for k, d in r.messages if k == "failed"), None)
    if error is None and "finished" not in kinds:
        error = f"worker crashed (exit code {r.process.exitcode})"
    if error is None and failures:
        error = "delivery failed: " + "; ".join(failures)
    status = "failed" if error else "delivered"
    if any(k == "failed" and d.get("stale") for k, d in r.messages):
        status = STALE
    if status == "delivered" and rendered.get("gaps"):
        # Delivered by the client's on_source_error policy: the report states the gap in
        # the client's words; the agency gets the sources' errors here and in the ledger.
        error = "delivered with gaps: " + "; ".join(
            f"{label}: {message}" for label, message in rendered["gaps"].items())
    if status == "delivered" and not outputs and r.job.skip_targets:
        outputs = list(ledger.delivered_targets(r.job.client, r.job.period).values())
    usage = rendered.get("usage") or {}
    ledger.finish(r.job.attempt_id, status=status, duration=seconds, error=error,
                  outputs=outputs, pages=rendered.get("pages"),
                  content_hash=rendered.get("content_hash"), usage=usage)
    level = logging.ERROR if status != "delivered" else logging.WARNING if error else logging.INFO
    log.log(level, "%s %s: %s%s", r.job.client, r.job.period, status,
            f" ({error})" if error else "")
    return ClientResult(r.job.client, r.job.period, status, seconds, outputs,
                        rendered.get("pages") or 0, error, usage)


def _spooled_report(config: Config, client: ClientConfig, plugins: PluginSet, job: Job,
                    paths: StatePaths, meta: Mapping[str, Any]) -> Any | None:
    """The report an earlier run rendered into the spool, for ``report_delivered``: computed
    again from the snapshot taken with it (its figures as rendered, the client as configured
    now). None, said in the log, when that snapshot is not kept."""
    path = paths.snapshot(job.client, job.period)
    try:
        data = path.read_bytes()
    except OSError:
        data = None
    # A spool of an older version names no snapshot: its report's is the one on disk.
    if data is None or ("snapshot" in meta
                        and meta["snapshot"] != hashlib.sha256(data).hexdigest()):
        log.warning("%s %s: report_delivered not called: the report was rendered by an "
                    "earlier run and the snapshot taken with it is not kept", job.client,
                    job.period)
        return None
    try:
        report = report_from_snapshot(config, plugins, path, notify=False)
    except Exception as exc:
        log.warning("%s %s: report_delivered not called: the report could not be computed "
                    "again from its snapshot: %s", job.client, job.period, redact(str(exc)))
        return None
    report.client = client
    return report


def report_from_snapshot(config: Config, plugins: PluginSet, path: Path, *,
                         notify: bool = True) -> Any:
    """The report a snapshot was taken of, computed again from it alone (no source is asked).
    ``notify``: whether plugins hear of it (report_started, report_computed)."""
    from kpireport import snapshots
    from kpireport.pipeline.report import compute_report

    snap = snapshots.load(path)
    rebuilt = Config.model_validate({"agency": snap["agency"], "defaults": snap["defaults"],
                                     "runs": config.runs.model_dump(mode="json"),
                                     "clients": [snap["client"]]})
    rebuilt._path = config.path
    return compute_report(rebuilt, rebuilt.clients[0], plugins, period=from_key(snap["period"]),
                          now=snap["now"], snapshot=snap, notify=notify)


def rerender(config: Config, plugins: PluginSet, client_id: str, period_key: str, *,
             output_dir: Path | None = None, target: Path | None = None) -> tuple[Path, int]:
    """Rebuild a past report from its snapshot alone (no source is asked); returns the PDF's
    path and page count. The current templates are used, with the figures of the time."""
    config.client(client_id)
    from_key(period_key)  # a period's key, nothing else, before it becomes part of a path
    paths = state_paths(config, output_dir)
    report = report_from_snapshot(config, plugins, paths.snapshot(client_id, period_key))
    artifacts = render(config, report, plugins, notify=False)
    output = output_dir or config.resolve_path(config.defaults.output)
    path = target or output / client_id / f"{client_id}-{period_key}.rerendered.pdf"
    atomic_write(path, artifacts.pdf)
    return path, artifacts.pages
