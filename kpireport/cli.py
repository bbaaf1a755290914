"""The ``kpireport`` command. Kept light: heavy modules are imported by the command that needs
them, so ``kpireport --help`` and ``kpireport plugins`` start fast."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path
from typing import Any

from kpireport import __version__

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kpireport", description="Objectives → KPIs → branded PDF reports.")
    parser.add_argument("--version", action="version", version=f"kpireport {__version__}")
    parser.add_argument("-p", "--plugin", action="append", default=[], metavar="MODULE",
                        help="load an extra plugin module (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    parser.add_argument("--traceback", action="store_true",
                        help="show the full traceback of errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="render and deliver reports")
    run.add_argument("config", type=Path)
    which = run.add_mutually_exclusive_group()
    which.add_argument("--client", action="append", metavar="ID",
                       help="only this client (repeatable)")
    which.add_argument("--all", action="store_true",
                       help="every client of the config (the default)")
    run.add_argument("--period", help="last-month (default), month-to-date, last-quarter, "
                                      "year-to-date, 2026-10, 2026-Q3 or "
                                      "2026-10-01..2026-10-31")
    run.add_argument("--output", type=Path, metavar="DIR",
                     help="output folder (default: defaults.output in the config)")
    run.add_argument("--as-of", type=dt.date.fromisoformat, metavar="DATE",
                     help="run as if today were DATE (relative periods are computed from it)")
    run.add_argument("--workers", type=int, metavar="N",
                     help="worker processes (default: runs.workers, else the CPU count)")
    run.add_argument("--timeout", type=float, metavar="SECONDS",
                     help="per-report time limit (default: runs.timeout, 600)")
    run.add_argument("--force", action="store_true",
                     help="render and deliver again what was already delivered (or held)")
    run.add_argument("--dry-run", action="store_true",
                     help="say what would be done, do nothing")

    history = sub.add_parser("history", help="show the run ledger")
    history.add_argument("config", type=Path)
    history.add_argument("--client", metavar="ID")
    history.add_argument("--output", type=Path, metavar="DIR")
    history.add_argument("--limit", type=int, default=50)

    rerender = sub.add_parser("rerender",
                              help="rebuild a past report from its snapshot, offline")
    rerender.add_argument("config", type=Path)
    rerender.add_argument("--client", required=True, metavar="ID")
    rerender.add_argument("--period", required=True, metavar="KEY", help="e.g. 2026-10")
    rerender.add_argument("--output", type=Path, metavar="DIR")
    rerender.add_argument("--to", type=Path, metavar="FILE", help="where to write the PDF")

    validate = sub.add_parser("validate", help="check a config without rendering anything")
    validate.add_argument("config", type=Path)
    validate.add_argument("--no-data", action="store_true",
                          help="skip the SMART checks that read the clients' history")
    validate.add_argument("--as-of", type=dt.date.fromisoformat, metavar="DATE")

    preview = sub.add_parser("preview", help="serve a client's report on localhost, "
                                             "re-rendered when templates or config change")
    preview.add_argument("config", type=Path)
    preview.add_argument("--client", required=True, metavar="ID")
    preview.add_argument("--period")
    preview.add_argument("--host", default="127.0.0.1")
    preview.add_argument("--port", type=int, default=8000)
    preview.add_argument("--as-of", type=dt.date.fromisoformat, metavar="DATE")

    plugins = sub.add_parser("plugins", help="list loaded plugins and what they register")
    plugins.add_argument("--hook", help="only plugins implementing this hook")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    from kpireport.errors import KpiReportError
    from kpireport.secrets import redact

    try:
        return int(COMMANDS[args.command](args))
    except KpiReportError as exc:
        if args.traceback:
            import traceback

            print(redact(traceback.format_exc()), end="", file=sys.stderr)
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _setup_logging(verbose: bool) -> None:
    from kpireport.secrets import RedactingFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                           "%Y-%m-%d %H:%M:%S"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    # WeasyPrint is chatty about CSS it ignores; our own warnings matter more.
    logging.getLogger("weasyprint").setLevel(logging.ERROR if not verbose else logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.ERROR)


def _now(as_of: dt.date | None) -> dt.datetime | None:
    # Noon UTC is the same calendar day in every time zone from UTC-11 to UTC+11.
    return dt.datetime.combine(as_of, dt.time(12), dt.UTC) if as_of else None


def _load(args: argparse.Namespace, *,
          isolate_clients: bool = False) -> tuple[Any, Any, dict[str, list[Any]]]:
    """Load and check the config: config, plugins and the clients left out.

    Any problem is a ConfigError, unless ``isolate_clients``: then only the agency's are (or
    problems in every client asked for); a client's own problems (its sources, data, locale,
    theme, brand files, delivery) leave that client out, and those of clients not asked for
    are not this run's business.
    """
    from kpireport.config import load_config
    from kpireport.config.checks import check_config, problems_by_client
    from kpireport.errors import ConfigError
    from kpireport.plugins import load_plugins

    config = load_config(args.config)
    plugins = load_plugins(args.plugin, disable=config.plugins.disable)
    for failure in plugins.failures:
        print(f"warning: {failure}", file=sys.stderr)
    today = _now(args.as_of).date() if getattr(args, "as_of", None) else None
    clients = getattr(args, "client", None)
    if isinstance(clients, str):
        clients = [clients]
    for client_id in clients or ():
        config.client(client_id)  # an unknown id: a config error before anything else
    problems = check_config(config, plugins, today=today, client_ids=clients)
    if not isolate_clients:
        if problems:
            raise ConfigError(problems)
        return config, plugins, {}
    general, per_client = problems_by_client(config, problems)
    wanted = set(clients or (c.id for c in config.clients))
    # The clients not asked for are not run: their problems are for another day.
    per_client = {c: own for c, own in per_client.items() if c in wanted}
    if general or (per_client and wanted <= set(per_client)):
        raise ConfigError(general + [p for own in per_client.values() for p in own])
    return config, plugins, per_client


def cmd_run(args: argparse.Namespace) -> int:
    import gc

    from kpireport.batch import run_batch

    # Start-up (imports, config, parsed data) allocates only what the whole run keeps: the
    # cycle collector would walk it again and again for nothing (~35 ms of a fresh run).
    gc.disable()
    try:
        config, plugins, left_out = _load(args, isolate_clients=True)
    finally:
        gc.enable()
    from kpireport.errors import ConfigError
    from kpireport.secrets import redact

    # One client's bad file or setting costs that client its report, not every client theirs.
    invalid = {client: ConfigError(problems) for client, problems in left_out.items()}
    for client, error in invalid.items():
        print(f"error: {client} is left out of this run: {redact(str(error))}", file=sys.stderr)
    _warn_of_another_ledger(config, args.output)
    progress = _progress_printer()
    results, lines = run_batch(config, plugins, args.client, period_spec=args.period,
                               output_dir=args.output, now=_now(args.as_of),
                               workers=args.workers, timeout=args.timeout, force=args.force,
                               dry_run=args.dry_run, progress=progress, invalid=invalid)
    if args.dry_run:
        for line in lines:
            print(line)
        return EXIT_FAILED if invalid else EXIT_OK
    order = {c.id: i for i, c in enumerate(config.clients)}
    results = sorted(results, key=lambda r: order.get(r.client, len(order)))
    rows = [("client", "period", "status", "pages", "time", "output / error")]
    for r in results:
        detail = ", ".join(r.outputs) if r.status in ("delivered", "skipped") else ""
        if r.error:
            detail = f"{detail} ({r.error})" if detail else r.error
        rows.append((r.client, r.period, r.status, str(r.pages or "-"), f"{r.seconds:.1f}s",
                     detail))
    _print_table(rows)
    ok = ("delivered", "skipped", "held")
    return EXIT_OK if all(r.status in ok for r in results) else EXIT_FAILED


def _warn_of_another_ledger(config: Any, output: Path | None) -> None:
    """An --output of its own means a ledger of its own, which knows nothing of what the
    usual one recorded as delivered: say so before emails go out a second time."""
    from kpireport.batch import state_paths

    usual, this = state_paths(config, None).ledger, state_paths(config, output).ledger
    if output is not None and this != usual and usual.is_file() and not this.is_file():
        print(f"warning: this run records its deliveries in {this}, not in {usual}: reports "
              "that ledger says were delivered will be delivered again (set runs.ledger to "
              "share one)", file=sys.stderr)


def _progress_printer() -> Any:
    """A progress line on a terminal; plain timestamped lines under cron."""
    interactive = sys.stderr.isatty()

    def progress(event: str, client: str, done: int, total: int) -> None:
        if interactive:
            width = 24
            filled = int(width * done / total) if total else width
            bar = "#" * filled + "-" * (width - filled)
            what = f"rendering {client}" if event == "start" else f"finished {client}"
            end = "\n" if done == total and event == "done" else ""
            sys.stderr.write(f"\r[{bar}] {done}/{total} {what}".ljust(79) + end)
        else:
            stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
            sys.stderr.write(f"{stamp} {event} {client} ({done}/{total})\n")
        sys.stderr.flush()

    return progress


def cmd_history(args: argparse.Namespace) -> int:
    from kpireport.batch import state_paths
    from kpireport.config import load_config
    from kpireport.ledger import Ledger

    config = load_config(args.config)
    paths = state_paths(config, args.output)
    if not paths.ledger.is_file():
        print(f"no runs recorded yet ({paths.ledger})")
        return EXIT_OK
    with Ledger(paths.ledger) as ledger:
        attempts = ledger.history(args.client, args.limit)
    rows = [("id", "started", "client", "period", "status", "time", "pages", "output / error")]
    for a in attempts:
        rows.append((str(a.id), a.started, a.client, a.period, a.status,
                     f"{a.duration:.1f}s" if a.duration is not None else "-",
                     str(a.pages or "-"), a.error or ", ".join(a.outputs)))
    _print_table(rows)
    return EXIT_OK


def cmd_rerender(args: argparse.Namespace) -> int:
    from kpireport.batch import rerender
    from kpireport.config import load_config
    from kpireport.plugins import load_plugins

    config = load_config(args.config)
    plugins = load_plugins(args.plugin, disable=config.plugins.disable)
    path, pages = rerender(config, plugins, args.client, args.period, output_dir=args.output,
                           target=args.to)
    print(f"{path} ({pages} pages, from the snapshot of {args.client} {args.period})")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    config, plugins, _ = _load(args)
    print(f"{args.config}: configuration is valid ({len(config.clients)} clients)")
    if args.no_data:
        return EXIT_OK
    from kpireport.pipeline.assess import smart_review

    findings = smart_review(config, plugins, now=_now(args.as_of))
    errors = 0
    for finding in findings:
        print(f"{finding.severity}: {finding.where}: {finding.message}")
        errors += finding.severity == "error"
    if not findings:
        print("objectives: all pass the SMART checks")
    return EXIT_CONFIG if errors else EXIT_OK


def cmd_preview(args: argparse.Namespace) -> int:
    from kpireport.preview import serve

    config, _, _ = _load(args)
    config.client(args.client)
    server = serve(args.config, args.client, period=args.period, host=args.host,
                   port=args.port, extra_plugins=args.plugin, now=_now(args.as_of))
    print(f"previewing {args.client} at {server.url} (PDF: {server.url}report.pdf); "
          "Ctrl-C to stop", file=sys.stderr)
    server.serve_forever()
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace) -> int:
    from kpireport.plugins import load_plugins

    plugins = load_plugins(args.plugin)
    for info in sorted(plugins.infos.values(), key=lambda i: i.name):
        if args.hook and args.hook not in info.hooks:
            continue
        dist = f" ({info.distribution} {info.version})" if info.distribution else ""
        print(f"{info.name}{dist}  module {info.module}")
        print(f"  hooks: {', '.join(info.hooks) or '-'}")
        for kind, items in sorted(info.registered.items()):
            print(f"  {kind.replace('_', ' ')}: {', '.join(items)}")
    for failure in plugins.failures:
        print(f"FAILED {failure}")
    return EXIT_FAILED if plugins.failures else EXIT_OK


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())


COMMANDS = {"run": cmd_run, "validate": cmd_validate, "plugins": cmd_plugins,
            "history": cmd_history, "rerender": cmd_rerender, "preview": cmd_preview}

if __name__ == "__main__":
    sys.exit(main())
