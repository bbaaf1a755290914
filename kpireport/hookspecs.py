"""The kpireport plugin contract.

This module is the reference documentation of every hook. A plugin is a module (or object) with
functions decorated by :data:`hookimpl` and named like the specifications below; it is found
through the ``kpireport`` entry-point group, exactly as the built-in plugins are::

    # pyproject.toml of a third-party plugin
    [project.entry-points.kpireport]
    my_source = "kpireport_my_source"

    # kpireport_my_source/__init__.py
    from kpireport import hookimpl

    @hookimpl
    def register_sources(register):
        register(MySource)

An implementation may accept fewer arguments than the specification names. Hooks are grouped
by the stage of the pipeline they serve: registration (what exists), rendering (how it looks),
lifecycle (what happened); and the command line (what ``kpireport`` can be asked to do).
Installed plugins are code the agency chose to trust: they run with the same rights as
kpireport itself.

Registration hooks take a ``register`` callback rather than returning values, so that the core
checks each item as it arrives, records which plugin supplied it, and refuses a second item with
the same id with an error that names both plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    import jinja2

    from kpireport.config import ClientConfig
    from kpireport.delivery import Artifacts, Delivery, DeliveryTarget
    from kpireport.kpis import KpiDefinition
    from kpireport.periods import Period
    from kpireport.recommendations import Rule
    from kpireport.report import Report
    from kpireport.sources import Source
    from kpireport.themes import Theme

hookspec = pluggy.HookspecMarker("kpireport")
hookimpl = pluggy.HookimplMarker("kpireport")


# --- Registration -------------------------------------------------------------------------


@hookspec
def register_sources(register: Callable[[type[Source[Any]]], None]) -> None:
    """Register source classes: ``register(SourceSubclass)``.

    Called once when the plugin manager is built. Each class is a :class:`kpireport.Source`
    subclass, generic in its settings model (``class MySource(Source[MySettings])``), with a
    unique ``name`` (the ``plugin:`` value in a client's config), a ``label`` and ``Settings``,
    the pydantic model the engine validates the client's settings with before anything runs.
    A second class with a name already registered is refused with an error naming both
    plugins.

    What the engine then asks of an instance, per report: :meth:`~kpireport.Source.check`,
    :meth:`~kpireport.Source.metrics` and :meth:`~kpireport.Source.capabilities` (offline;
    ``kpireport validate`` checks every query of the report against the capabilities), then
    :meth:`~kpireport.Source.fetch_many` once with all of the report's queries (the sources
    of one report concurrently), then :meth:`~kpireport.Source.close`. The queries, the
    tables, the errors to raise and what the context offers (state folder, cache, shared rate
    limiter, run-time secrets, usage) are the contract described in ``docs/contract.md``.
    """


@hookspec
def register_kpis(register: Callable[[KpiDefinition], None]) -> None:
    """Register KPI definitions: ``register(KpiDefinition(...))``.

    Called once when the plugin manager is built. Each :class:`kpireport.kpis.KpiDefinition` has
    a unique ``id`` (what a client lists under ``kpis:``), the standard metrics it reads, a unit, a
    direction and labels (English at least). Duplicate ids are refused, naming both plugins.
    """


@hookspec
def register_recommendation_rules(register: Callable[[Rule], None]) -> None:
    """Register recommendation rules: ``register(Rule(id=..., evaluate=...))``.

    A :class:`kpireport.recommendations.Rule` looks at a computed report (KPI values and
    objective assessments) and returns :class:`kpireport.recommendations.Finding` items, each
    with a severity, the figures that triggered it and its text per language. A rule that
    raises is reported by name in the run's log; the report goes on without its findings.
    """


@hookspec
def register_delivery_targets(register: Callable[[type[DeliveryTarget]], None]) -> None:
    """Register delivery targets: ``register(DeliveryTargetSubclass)``.

    A :class:`kpireport.delivery.DeliveryTarget` has a unique ``name`` (``target:`` in config),
    a ``Settings`` model, and ``deliver(artifacts)`` which puts a rendered report somewhere
    (a folder, an email) and returns where. ``folder`` is built in and is the default. A
    target where one report can replace another (a file) also answers ``destination(names)``,
    so that validation refuses two clients whose reports would land in the same place. A
    target that bounds its own time (an SMTP deadline) answers ``longest_delivery()``
    (contract 1.3), so that validation refuses a client whose deliveries cannot fit in the
    run's timeout, which stops the worker that renders and delivers the report.
    """


@hookspec
def register_themes(register: Callable[[Theme], None]) -> None:
    """Register report themes: ``register(Theme(name=..., path=...))``.

    A theme is a folder of Jinja2 templates (``report.html.j2`` at least), CSS, images and
    ``locale/<lang>/LC_MESSAGES/kpireport.po`` catalogues. Rendering looks in the agency's own
    template folder first, then the theme, then the ``default`` theme, so a theme or an agency
    overrides single blocks without copying the rest.
    """


# --- Rendering ----------------------------------------------------------------------------


@hookspec
def prepare_jinja2_environment(env: jinja2.Environment, theme: Theme, language: str) -> None:
    """Add filters, tests and globals to the Jinja2 environment a report is rendered with.

    Called for each environment the renderer builds (one per theme and language). Modify
    ``env`` in place; the return value is ignored. Autoescaping is on and stays on: text from
    remote APIs is untrusted. Filters and tests are called when a report is rendered, never
    when its template is compiled (the compiled code is shared by reports of every
    language), so a filter may depend on the report's locale.
    """


@hookspec
def extra_template_context(report: Report, language: str) -> dict[str, Any] | None:
    """Return extra variables for the report's template context.

    Called once per rendering; the dictionaries of all plugins are merged (a later plugin's key
    wins). Keys already set by the engine (``report``, ``client``, ``agency``, ``kpis``…) cannot be
    replaced.
    """


# --- Lifecycle ----------------------------------------------------------------------------
#
# ``kpireport run`` computes, renders and delivers each report in its own worker process
# (forked from the one that loaded the plugins): lifecycle hooks run there. A plugin that
# collects something across reports must write it somewhere shared (a file, a database, a
# queue), not keep it in memory.


@hookspec
def report_started(client: ClientConfig, period: Period) -> None:
    """Called when a client's report begins, before any source is asked for data.

    ``period`` is the resolved reporting period (with its comparison ranges).
    """


@hookspec
def report_computed(report: Report) -> None:
    """Called when a report's KPIs, objectives and findings are computed, before rendering.

    Plugins may inspect the report (and, with care, add ``report.notes``).
    """


@hookspec
def report_rendered(report: Report, artifacts: Artifacts) -> None:
    """Called when the PDF and HTML are rendered, before delivery. ``artifacts`` holds the bytes."""


@hookspec
def report_delivered(report: Report, delivery: Delivery) -> None:
    """Called after each successful delivery of a report.

    ``delivery.target`` names the delivery target and ``delivery.location`` says where the
    report went (a path, an address). Called once per target of the client. When a later run
    delivers a report rendered earlier (a retry), ``report`` is computed again from the
    snapshot taken with it, without calling ``report_started`` or ``report_computed``; with
    snapshots off, this hook is not called for such a delivery (a warning says so).
    """


@hookspec
def report_failed(client: ClientConfig, period: Period, error: BaseException) -> None:
    """Called when a client's report fails, with the exception that stopped it.

    In a run, a report that fails while it is computed or rendered calls this in its worker
    with the exception itself; a worker that crashes or times out, a delivery that fails and a
    client left out for its configuration call it in the run's own process, with a
    :class:`~kpireport.errors.KpiReportError` (or ConfigError) saying what happened.

    Other clients' reports go on. A plugin can use this to alert someone; the error's message
    has already had secrets removed when it is printed or logged by kpireport.
    """


# --- Command line -------------------------------------------------------------------------


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``kpireport`` command: decorate them with ``@cli.command()``.

    Called once per invocation of ``kpireport`` (``--version`` alone excepted), after the
    global options (``-p``, ``-v``, ``--traceback``) are read and before the command is looked
    up, so that a plugin's command is dispatched, and listed by ``kpireport --help``, like a
    core one::

        @hookimpl
        def register_commands(cli):
            @cli.command()
            @click.argument("account")
            def connect(account):
                "Authorise kpireport to read ACCOUNT."
                from kpireport_google.oauth import authorise  # heavy: imported when run

                authorise(account)

    ``cli`` is a :class:`click.Group`; ``@cli.group()`` adds a command with subcommands of its
    own (``kpireport connect google``). The hook runs on every invocation, whatever the
    command: import heavy modules inside the command, not at the top of the plugin, so that
    ``kpireport --help`` stays fast. A :class:`~kpireport.errors.KpiReportError` raised by a
    command is printed as one clean line with its exit code, like a core command's; a command
    may return an int, its exit code.

    A command whose name is already taken, by a core command or by a plugin registered
    earlier, is refused with a warning that names the plugin; the command already there stays
    (a plugin cannot replace ``run``). A plugin that raises in this hook is reported by name
    and loses the commands it had added; the other plugins' commands and the core ones still
    work. ``KPIREPORT_STRICT_PLUGINS=1`` makes either an error. ``kpireport plugins`` lists
    each plugin's commands, and refusals as failures. A config's ``plugins.disable`` does not
    apply here (no config is read yet); ``KPIREPORT_DISABLE_PLUGINS`` does.
    """
