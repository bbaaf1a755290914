"""The ``kpireport`` command (click). Kept light: heavy modules are imported by the command that
needs them, so ``kpireport --help`` and ``kpireport plugins`` start fast.

Plugins add commands of their own through the ``register_commands`` hook: the group loads the
plugins once the global options are parsed and before it looks the command up, so a plugin's
command is dispatched and listed like a core one (which it cannot replace)."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import click

from kpireport import __version__

if TYPE_CHECKING:
    from kpireport.plugins import PluginFailure, PluginSet

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


class _IsoDate(click.ParamType):
    """A date as YYYY-MM-DD, as ``dt.date.fromisoformat`` reads it."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.fail(f"invalid date: {value!r} (expected YYYY-MM-DD)", param, ctx)


PATH = click.Path(path_type=Path)
DATE = _IsoDate()


class KpiReportGroup(click.Group):
    """The core commands, and those that plugins add through ``register_commands``.

    Plugins are loaded once, when click first asks for a command (to dispatch or to list
    them in ``--help``): by then the global options are parsed, so ``-p`` modules are in.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plugins: PluginSet | None = None
        """The plugins loaded for this invocation (the commands reuse them)."""
        self.command_failures: list[PluginFailure] = []
        """Commands refused, and plugins failing in ``register_commands``."""
        self.argv: list[str] = []
        """The arguments as given (to find ``-p`` when ``--help`` comes first)."""

    def ensure_plugins(self, ctx: click.Context) -> PluginSet:
        if self.plugins is None:
            import gc

            from kpireport.plugins import load_plugins

            params = ctx.find_root().params
            # An eager --help given before -p is handled before -p is read: find -p in argv.
            modules = params["plugin"] if "plugin" in params else _scan_plugins(self.argv)
            _setup_logging(bool(params.get("verbose")))
            # As in cmd_run: what start-up imports is kept for the whole run, so the cycle
            # collector would only walk it again and again.
            enabled = gc.isenabled()
            gc.disable()
            try:
                self.plugins = load_plugins(modules)
            finally:
                if enabled:
                    gc.enable()
            self.command_failures = _add_plugin_commands(self, self.plugins)
            for failure in self.command_failures:
                print(f"warning: {failure}", file=sys.stderr)
        return self.plugins

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        self.argv = list(args)
        return super().parse_args(ctx, _unabbreviate(self, ctx, args, global_options=True))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self.ensure_plugins(ctx)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.ensure_plugins(ctx)
        # The core commands in their own order (as --help always listed them), then plugins'.
        core = [name for name in CORE_COMMANDS if name in self.commands]
        return core + sorted(name for name in self.commands if name not in CORE_COMMANDS)

    def invoke(self, ctx: click.Context) -> Any:
        from kpireport.errors import KpiReportError

        try:
            return super().invoke(ctx)
        except KpiReportError as exc:
            return _report_error(exc, bool(ctx.params.get("traceback")))
        except KeyboardInterrupt:
            return 130


def _unabbreviate(command: click.Command, ctx: click.Context, args: list[str], *,
                  global_options: bool = False) -> list[str]:
    """``--out`` for ``--output``: a unique prefix of a long option, as argparse took it.

    Only for the core commands and global options, so that crontabs written for the argparse
    CLI keep working; the global options end at the command, whose own are its business.
    """
    params = command.get_params(ctx)
    longs = {o for p in params for o in [*p.opts, *p.secondary_opts] if o.startswith("--")}
    takes_value = {o for p in params if isinstance(p, click.Option) and not p.is_flag
                   for o in p.opts}
    out = list(args)
    i = 0
    while i < len(out):
        arg = out[i]
        if arg == "--" or (global_options and not arg.startswith("-")):
            break
        name, eq, value = arg.partition("=")
        if name.startswith("--") and name not in longs:
            matches = [o for o in longs if o.startswith(name)]
            if len(matches) == 1:
                name = matches[0]
                out[i] = name + eq + value
        i += 2 if name in takes_value and not eq else 1
    return out


class _CoreCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _unabbreviate(self, ctx, args))


def _scan_plugins(argv: list[str]) -> list[str]:
    """The ``-p`` modules among the global options (those before the command)."""
    found, args = [], iter(argv)
    for arg in args:
        if arg in ("-p", "--plugin"):
            found.append(next(args, ""))
        elif arg.startswith("--plugin="):
            found.append(arg.partition("=")[2])
        elif arg.startswith("-p"):
            found.append(arg[2:])
        elif arg == "--" or not arg.startswith("-"):
            break  # the command: what follows is its own
    return [module for module in found if module]


def _add_plugin_commands(group: click.Group, plugins: PluginSet) -> list[PluginFailure]:
    """Call each plugin's ``register_commands`` on ``group``; return what was refused.

    A plugin may not replace a core command nor another plugin's (the first stays); one
    that raises loses the commands it had added so far. Each command added is recorded in
    the plugin's ``registered["commands"]`` (what ``kpireport plugins`` shows).
    """
    from kpireport.errors import PluginError
    from kpireport.plugins import PluginFailure, strict

    failures: list[PluginFailure] = []
    owners = dict.fromkeys(CORE_COMMANDS, "")  # command name -> plugin ("" for the core)
    impls = {i.plugin_name: i for i in plugins.pm.hook.register_commands.get_hookimpls()}
    # Registration order (built-ins, other entry points, then -p modules), as for sources.
    for name in [name for name in plugins.infos if name in impls]:
        impl = impls[name]
        before = dict(group.commands)
        try:
            impl.function(**({"cli": group} if "cli" in impl.argnames else {}))
        except Exception as exc:  # one plugin's bug must not take the whole CLI down
            group.commands.clear()
            group.commands.update(before)
            failures.append(PluginFailure(name, f"register_commands: {exc!r}"))
            continue
        added = [c for c, cmd in group.commands.items() if before.get(c) is not cmd]
        for command in added:
            if command in owners:
                owner = owners[command]
                why = f"plugin {owner!r} registered it first" if owner else "a core command " \
                      "has that name, and is kept"
                failures.append(PluginFailure(name, f"command {command!r} is refused: {why}"))
                group.commands[command] = before[command]
                continue
            owners[command] = name
            plugins.infos[name].registered.setdefault("commands", []).append(command)
        for command, cmd in before.items():  # nor may it remove one
            group.commands.setdefault(command, cmd)
    if failures and strict():
        raise PluginError("; ".join(str(f) for f in failures))
    return failures


def _report_error(exc: Exception, traceback: bool) -> int:
    """A user's error as one clean line (the full traceback only if asked for)."""
    from kpireport.secrets import redact

    if traceback:
        import traceback as tb

        print(redact(tb.format_exc()), end="", file=sys.stderr)
    print(f"error: {redact(str(exc))}", file=sys.stderr)
    return int(getattr(exc, "exit_code", EXIT_FAILED))


def build_cli() -> KpiReportGroup:
    """The ``kpireport`` group with the core commands; plugins add theirs when it runs.

    A new group each time: what plugins add belongs to one invocation (tests run many).
    """

    @click.group(cls=KpiReportGroup, name="kpireport", no_args_is_help=False,
                 help="Objectives → KPIs → branded PDF reports.",
                 context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, "--version", prog_name="kpireport",
                          message="%(prog)s %(version)s")
    @click.option("-p", "--plugin", multiple=True, metavar="MODULE", is_eager=True,
                  help="load an extra plugin module (repeatable)")
    @click.option("-v", "--verbose", is_flag=True, help="log more")
    @click.option("--traceback", is_flag=True, help="show the full traceback of errors")
    def cli(plugin: tuple[str, ...], verbose: bool, traceback: bool) -> None:
        pass  # the commands read these from the context; plugins were loaded before this

    for command in CORE_COMMANDS.values():
        cli.add_command(command)
    return cli


def main(argv: list[str] | None = None) -> int:
    """Run ``kpireport`` with ``argv`` (default: ``sys.argv[1:]``) and return its exit code."""
    from kpireport.errors import KpiReportError

    try:
        result = build_cli().main(args=argv, prog_name="kpireport", standalone_mode=False)
    except click.ClickException as exc:  # usage errors: exit 2
        exc.show()
        return exc.exit_code
    except click.Abort:
        return 130
    except KpiReportError as exc:  # a plugin failing (strict mode) while --help lists commands
        return _report_error(exc, False)
    except Exception as exc:
        from kpireport.errors import disk_full

        if (message := disk_full(exc)) is None:
            raise
        # What the run could not finish stays 'running' in the ledger: the next run marks it
        # interrupted and does it again.
        print(f"error: {message}; free some space and run again: what was not finished will "
              "be done then", file=sys.stderr)
        return EXIT_FAILED
    return result if isinstance(result, int) else EXIT_OK


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


def _load(args: SimpleNamespace, *,
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

    config = load_config(args.config)
    plugins = _plugins(args, config.plugins.disable)
    for failure in plugins.failures:
        print(f"warning: {failure}", file=sys.stderr)
    now = _now(getattr(args, "as_of", None))
    today = now.date() if now is not None else None
    clients = getattr(args, "client", None)
    if isinstance(clients, str):
        clients = [clients]
    for client_id in clients or ():
        config.client(client_id)  # an unknown id: a config error before anything else
    problems = check_config(config, plugins, today=today, client_ids=clients,
                            timeout=getattr(args, "timeout", None))
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


def _plugins(args: SimpleNamespace, disable: list[str] | None = None) -> PluginSet:
    """The plugins the CLI loaded before dispatching, unless the config disables some: then
    they are loaded again without those."""
    if args.loaded is not None and not disable:
        return args.loaded
    from kpireport.plugins import load_plugins

    return load_plugins(args.plugin, disable=disable or ())


def cmd_run(args: SimpleNamespace) -> int:
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
    # The quotas the sources reported, for the agency to see a limit coming before it bites.
    usage = [f"  {r.client} {source}: " + ", ".join(f"{q} {v}" for q, v in quotas.items())
             for r in results for source, quotas in r.usage.items() if quotas]
    if usage:
        print("quota used:")
        print("\n".join(usage))
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


def cmd_history(args: SimpleNamespace) -> int:
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


def cmd_confirm(args: SimpleNamespace) -> int:
    from kpireport.batch import state_paths
    from kpireport.config import load_config
    from kpireport.errors import KpiReportError
    from kpireport.ledger import Ledger

    config = load_config(args.config)
    config.client(args.client)  # an unknown client is named, with the known ones
    paths = state_paths(config, args.output)
    if not paths.ledger.is_file():
        raise KpiReportError(f"no runs recorded yet ({paths.ledger})")
    with Ledger(paths.ledger) as ledger:
        uncertain = ledger.uncertain_targets(args.client, args.period)
        if args.target not in uncertain:
            said = ", ".join(uncertain) or "none"
            raise KpiReportError(f"{args.client} {args.period}: {args.target} has no "
                                 f"unconfirmed delivery (unconfirmed: {said})")
        ledger.settle(args.client, args.period, args.target, received=args.received)
    if args.received:
        print(f"{args.client} {args.period}: {args.target} recorded as delivered")
    else:
        print(f"{args.client} {args.period}: {args.target} will be sent by the next run")
    return EXIT_OK


def cmd_rerender(args: SimpleNamespace) -> int:
    from kpireport.batch import rerender
    from kpireport.config import load_config

    config = load_config(args.config)
    plugins = _plugins(args, config.plugins.disable)
    path, pages = rerender(config, plugins, args.client, args.period, output_dir=args.output,
                           target=args.to)
    print(f"{path} ({pages} pages, from the snapshot of {args.client} {args.period})")
    return EXIT_OK


def cmd_site(args: SimpleNamespace) -> int:
    from kpireport.batch import state_paths
    from kpireport.config import load_config
    from kpireport.site import build_site

    config = load_config(args.config)
    clients = [config.client(args.client)] if args.client else None
    plugins = _plugins(args, config.plugins.disable)
    default = plugins.themes.get("default")
    theme_path = Path(default.item.path) if default is not None else None
    sites = build_site(config, args.output, theme_path=theme_path, clients=clients,
                       output_dir=args.reports)
    for site in sites:
        print(f"{site.client.id}: {len(site.reports)} reports")
        for key in site.missing:
            print(f"warning: {site.client.id} {key}: delivered, but its files are no longer "
                  f"in the spool ({state_paths(config, args.reports).root / 'spool'})",
                  file=sys.stderr)
    print(f"site written to {args.output}")
    return EXIT_OK


def cmd_validate(args: SimpleNamespace) -> int:
    config, plugins, _ = _load(args)
    print(f"{args.config}: configuration is valid ({len(config.clients)} clients)")
    from kpireport.analyst_notes import commentary_problems

    # Offline too: a note the report would leave out (its key a typo) is an error here.
    notes = commentary_problems(config, plugins)
    for problem in notes:
        print(f"error: {problem}")
    if args.no_data:
        return EXIT_CONFIG if notes else EXIT_OK
    from kpireport.pipeline.assess import smart_review

    findings = smart_review(config, plugins, now=_now(args.as_of))
    errors = 0
    for finding in findings:
        print(f"{finding.severity}: {finding.where}: {finding.message}")
        errors += finding.severity == "error"
    if not findings:
        print("objectives: all pass the SMART checks")
    return EXIT_CONFIG if errors or notes else EXIT_OK


def cmd_preview(args: SimpleNamespace) -> int:
    from kpireport.preview import serve

    config, _, _ = _load(args)
    config.client(args.client)
    server = serve(args.config, args.client, period=args.period, host=args.host,
                   port=args.port, extra_plugins=args.plugin, now=_now(args.as_of))
    print(f"previewing {args.client} at {server.url} (PDF: {server.url}report.pdf); "
          "Ctrl-C to stop", file=sys.stderr)
    server.serve_forever()
    return EXIT_OK


def cmd_plugins(args: SimpleNamespace) -> int:
    plugins = _plugins(args)
    if args.source is not None:
        return _describe_source(plugins, args.source)
    for info in sorted(plugins.infos.values(), key=lambda i: i.name):
        if args.hook and args.hook not in info.hooks:
            continue
        dist = f" ({info.distribution} {info.version})" if info.distribution else ""
        print(f"{info.name}{dist}  module {info.module}")
        print(f"  hooks: {', '.join(info.hooks) or '-'}")
        for kind, items in sorted(info.registered.items()):
            print(f"  {kind.replace('_', ' ')}: {', '.join(items)}")
    failures = [*plugins.failures, *args.command_failures]
    for failure in failures:
        print(f"FAILED {failure}")
    return EXIT_FAILED if failures else EXIT_OK


def _describe_source(plugins: PluginSet, name: str) -> int:
    from kpireport.sourcetools import FetchUsageError, describe_source

    if name not in plugins.sources:
        raise FetchUsageError(f"unknown source plugin {name!r} (installed: "
                              f"{', '.join(sorted(plugins.sources)) or 'none'})")
    registered = plugins.sources[name]
    print("\n".join(describe_source(registered.item, registered.plugin)))
    return EXIT_OK


def cmd_check(args: SimpleNamespace) -> int:
    from kpireport.periods import today_in
    from kpireport.pipeline.fetch import probe_sources
    from kpireport.pipeline.plan import plan_client
    from kpireport.sourcetools import outcome_of

    config, plugins, _ = _load(args)
    wanted = [config.client(c) for c in args.client] if args.client else config.clients
    outcomes = []
    for client in wanted:
        plan = plan_client(config, client, plugins, today_in(config.timezone_of(client),
                                                             _now(args.as_of)))
        for source in plan.sources.values():
            source.context.refresh = True  # a live call each, never a cached answer
        try:
            errors = probe_sources(plan.sources)
        finally:
            plan.close()
        for name, error in errors.items():
            outcome = outcome_of(client.id, name, plan.sources_info[name].label, error,
                                 client.sources[name].plugin)
            outcomes.append(outcome)
            print(outcome.line(), flush=True)
        if not client.sources:
            print(f"{client.id}: no source")
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED


def cmd_fetch(args: SimpleNamespace) -> int:
    from kpireport.data import Granularity, Order, Query
    from kpireport.errors import SourceError
    from kpireport.periods import resolve, today_in
    from kpireport.pipeline.fetch import ask_sources, normalise_for
    from kpireport.pipeline.plan import plan_client
    from kpireport.secrets import redact
    from kpireport.sourcetools import (
        FetchUsageError,
        describe_query,
        names,
        parse_filter,
        render_table,
    )

    metrics, dimensions = names(args.metrics), names(args.dimensions)
    if not metrics:
        raise FetchUsageError("--metrics names at least one metric, e.g. --metrics sessions")
    filters = tuple(parse_filter(f) for f in args.filter)
    from kpireport.config.models import parse_order

    try:
        order = [parse_order(item) for item in names(args.order)]
    except ValueError as exc:
        raise FetchUsageError(f"--order {exc}") from None
    if args.top is not None and not order:
        order = [Order(metric=metrics[0])]
    if unknown := [o.metric for o in order if o.metric not in metrics]:
        raise FetchUsageError(f"--order {', '.join(unknown)}: not among --metrics")
    if args.top is not None and args.top < 1:
        raise FetchUsageError("--top is a positive number of rows")
    config, plugins, _ = _load(args)
    client = config.client(args.client)
    if args.source not in client.sources:
        raise FetchUsageError(f"{client.id} has no source named {args.source!r} (its sources: "
                              f"{', '.join(client.sources) or 'none'})")
    timezone = config.timezone_of(client)
    today = today_in(timezone, _now(args.as_of))
    period = resolve(args.period or config.defaults.period, today)
    query = Query(metrics=metrics, range=period.range, dimensions=dimensions,
                  granularity=Granularity(args.granularity), filters=filters,
                  order=tuple(order), limit=args.top)
    plan = plan_client(config, client, plugins, today)
    try:
        source = plan.sources[args.source]
        label = f"{args.source} ({plan.sources_info[args.source].label})"
        offered = plan.specs[args.source]
        if lacking := [m for m in metrics if m not in offered]:
            raise SourceError(f"{label} does not offer {', '.join(lacking)} (it offers: "
                              f"{', '.join(sorted(offered)) or 'no metric'})")
        if (refusal := source.capabilities().refusal(query)) is not None:
            raise SourceError(f"{label} {refusal}")
        asked = describe_query(metrics, period.range, query.granularity.value, timezone)
        print(f"{client.id} {label}: {asked}", file=sys.stderr)
        result = ask_sources({args.source: source}, {args.source: [query]},
                             normalise_for(plan))
    finally:
        plan.close()
    table = result.table(args.source, query)
    if table is None:
        raise SourceError(f"{label}: {result.errors.get(args.source, 'no answer')}")
    text, after = render_table(table, args.format)
    sys.stdout.write(redact(text))
    for line in after:
        print(line, file=sys.stderr)
    return EXIT_OK


def _print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())


def _args(ctx: click.Context, params: dict[str, Any]) -> SimpleNamespace:
    """What a ``cmd_*`` function reads: the global options and the command's own."""
    root = ctx.find_root()
    group = root.command
    return SimpleNamespace(
        command=ctx.info_name, plugin=list(root.params["plugin"]),
        verbose=root.params["verbose"], traceback=root.params["traceback"],
        loaded=getattr(group, "plugins", None),
        command_failures=getattr(group, "command_failures", []), **params)


def _command(name: str, help: str) -> Callable[[Callable[..., Any]], click.Command]:
    # short_help too: click would cut a long one short in the list of commands.
    return click.command(name, cls=_CoreCommand, help=help, short_help=help)


@_command("run", "render and deliver reports")
@click.argument("config", type=PATH)
@click.option("--client", multiple=True, metavar="ID", help="only this client (repeatable)")
@click.option("--all", is_flag=True, help="every client of the config (the default)")
@click.option("--period", help="last-month (default), month-to-date, last-quarter, "
                                "year-to-date, 2026-10, 2026-Q3 or 2026-10-01..2026-10-31")
@click.option("--output", type=PATH, metavar="DIR",
              help="output folder (default: defaults.output in the config)")
@click.option("--as-of", type=DATE, metavar="DATE",
              help="run as if today were DATE (relative periods are computed from it)")
@click.option("--workers", type=int, metavar="N",
              help="worker processes (default: runs.workers, else the CPU count)")
@click.option("--timeout", type=float, metavar="SECONDS",
              help="per-report time limit (default: runs.timeout, 600)")
@click.option("--force", is_flag=True,
              help="render and deliver again what was already delivered (or held)")
@click.option("--dry-run", is_flag=True, help="say what would be done, do nothing")
@click.pass_context
def run_command(ctx: click.Context, **params: Any) -> int:
    if params["client"] and params["all"]:
        raise click.UsageError("argument --all: not allowed with argument --client", ctx)
    params["client"] = list(params["client"]) or None
    return cmd_run(_args(ctx, params))


@_command("history", "show the run ledger")
@click.argument("config", type=PATH)
@click.option("--client", metavar="ID")
@click.option("--output", type=PATH, metavar="DIR")
@click.option("--limit", type=int, default=50)
@click.pass_context
def history_command(ctx: click.Context, **params: Any) -> int:
    return cmd_history(_args(ctx, params))


@_command("confirm", "settle a delivery a run could not record (an email perhaps sent)")
@click.argument("config", type=PATH)
@click.option("--client", required=True, metavar="ID")
@click.option("--period", required=True, metavar="KEY", help="e.g. 2026-10")
@click.option("--target", required=True, metavar="NAME", help="the delivery target, e.g. email")
@click.option("--received/--not-received", required=True,
              help="it arrived (recorded as delivered), or it did not (the next run sends it)")
@click.option("--output", type=PATH, metavar="DIR")
@click.pass_context
def confirm_command(ctx: click.Context, **params: Any) -> int:
    return cmd_confirm(_args(ctx, params))


@_command("rerender", "rebuild a past report from its snapshot, offline")
@click.argument("config", type=PATH)
@click.option("--client", required=True, metavar="ID")
@click.option("--period", required=True, metavar="KEY", help="e.g. 2026-10")
@click.option("--output", type=PATH, metavar="DIR")
@click.option("--to", type=PATH, metavar="FILE", help="where to write the PDF")
@click.pass_context
def rerender_command(ctx: click.Context, **params: Any) -> int:
    return cmd_rerender(_args(ctx, params))


@_command("site", "write the archive of delivered reports as a static site")
@click.argument("config", type=PATH)
@click.option("--client", metavar="ID", help="only this client's folder")
@click.option("--output", type=PATH, metavar="DIR", required=True,
              help="the site's folder (empty, or a site written before)")
@click.option("--reports", type=PATH, metavar="DIR",
              help="the runs' output folder, when 'kpireport run' was given --output")
@click.pass_context
def site_command(ctx: click.Context, **params: Any) -> int:
    return cmd_site(_args(ctx, params))


@_command("validate", "check a config without rendering anything")
@click.argument("config", type=PATH)
@click.option("--no-data", is_flag=True,
              help="skip the SMART checks that read the clients' history")
@click.option("--as-of", type=DATE, metavar="DATE")
@click.pass_context
def validate_command(ctx: click.Context, **params: Any) -> int:
    return cmd_validate(_args(ctx, params))


@_command("preview", "serve a client's report on localhost, re-rendered when templates or "
                     "config change")
@click.argument("config", type=PATH)
@click.option("--client", required=True, metavar="ID")
@click.option("--period")
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, default=8000)
@click.option("--as-of", type=DATE, metavar="DATE")
@click.pass_context
def preview_command(ctx: click.Context, **params: Any) -> int:
    return cmd_preview(_args(ctx, params))


@_command("plugins", "list loaded plugins and what they register")
@click.option("--hook", help="only plugins implementing this hook")
@click.option("--source", metavar="NAME",
              help="describe a source plugin: its settings, secrets, metrics")
@click.pass_context
def plugins_command(ctx: click.Context, **params: Any) -> int:
    return cmd_plugins(_args(ctx, params))


@_command("check", "ask each source one minimal live question: can it be read?")
@click.argument("config", type=PATH)
@click.option("--client", multiple=True, metavar="ID", help="only this client (repeatable)")
@click.option("--as-of", type=DATE, metavar="DATE", help="as if today were DATE")
@click.pass_context
def check_command(ctx: click.Context, **params: Any) -> int:
    params["client"] = list(params["client"]) or None
    return cmd_check(_args(ctx, params))


@_command("fetch", "print what one source answers to one query")
@click.argument("config", type=PATH)
@click.option("--client", required=True, metavar="ID")
@click.option("--source", required=True, metavar="NAME", help="the client's name for it")
@click.option("--metrics", required=True, metavar="A,B", help="standard metric names")
@click.option("--dimensions", metavar="D,E", help="split rows by these dimensions")
@click.option("--period", help="as for run: the config's defaults.period (else last-month), "
                                "2026-10, 2026-Q3, 2026-10-01..2026-10-31…")
@click.option("--granularity", type=click.Choice(["day", "month", "total"]), default="total",
              show_default=True)
@click.option("--filter", multiple=True, metavar="DIM=VALUE",
              help="dim=value, dim!=value, dim~=text (contains), dim!~=text (repeatable)")
@click.option("--top", type=int, metavar="N", help="the first N rows in --order")
@click.option("--order", metavar="METRIC", help="order rows by these metrics, highest first "
                                                "('sessions asc' for lowest; default with "
                                                "--top: the first metric)")
@click.option("--format", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="notes follow the rows (csv: on stderr; json: \"notes\")")
@click.option("--as-of", type=DATE, metavar="DATE", help="as if today were DATE")
@click.pass_context
def fetch_command(ctx: click.Context, **params: Any) -> int:
    return cmd_fetch(_args(ctx, params))


@click.command("new-plugin", cls=_CoreCommand,
               short_help="write a new plugin package to start from, with passing tests")
@click.argument("name")
@click.option("--kind", required=True,
              type=click.Choice(["source", "kpi", "rules", "delivery", "theme"]),
              help="what the plugin registers")
@click.option("--directory", type=PATH, default=Path("."), show_default=True, metavar="DIR",
              help="where to write the kpireport-NAME folder")
def new_plugin_command(name: str, kind: str, directory: Path) -> int:
    """Write kpireport-NAME/, a plugin package to start from: pyproject.toml with its entry
    point, the package kpireport_NAME with a skeleton whose docstrings say what to fill in
    (search for TODO), tests that pass as written, a README.

    NAME is a slug such as acme_crm (letters, digits, underscores or hyphens). An existing
    folder that is not empty is never overwritten. docs/plugins.md goes on from there.
    """
    from kpireport.newplugin import create_plugin

    target, files = create_plugin(name, kind, directory)
    for path in files:
        print(path)
    print(f"\nNext: pip install -e '{target}[test]' && pytest {target}", file=sys.stderr)
    return EXIT_OK


CORE_COMMANDS: dict[str, click.Command] = {
    c.name: c for c in (run_command, history_command, confirm_command, rerender_command,
                        validate_command, check_command, fetch_command, preview_command,
                        site_command, plugins_command, new_plugin_command)
    if c.name}

if __name__ == "__main__":
    sys.exit(main())
