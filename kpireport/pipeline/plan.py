"""Stage 1, plan: which sources serve which KPI, and every query each KPI asks of them.

:func:`plan_client` opens the client's sources and binds its KPIs (offline checks only;
``kpireport validate`` stops here). :func:`plan_report` adds the period: each KPI's queries
are built once, in :class:`KpiQueries`, and merged per source into what is actually asked.
Later stages look tables up by these very queries and never build one themselves.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, SecretStr, ValidationError

from kpireport import objectives as obj
from kpireport.config.models import ClientConfig, Config, KpiRef, ObjectiveConfig, dotted
from kpireport.data import (
    Aggregation,
    DateRange,
    Filter,
    Granularity,
    MetricSpec,
    MissingDays,
    Order,
    Query,
    Unit,
    merge_queries,
)
from kpireport.errors import KpiReportError, Problem
from kpireport.kpis import KpiDefinition
from kpireport.metrics import STANDARD_METRICS
from kpireport.periods import BAR_PERIODS, Period, add_months, shift_year
from kpireport.pipeline.columns import column_sources, columns_queries, drop_refused
from kpireport.plugins import PluginSet
from kpireport.secrets import register_secret
from kpireport.sources import Source, SourceContext

log = logging.getLogger(__name__)

HISTORY_MONTHS = 24
PREVIOUS_ROWS = 5
"""A table's previous period is asked for this many times its printed rows."""
TREND_MONTHS = 13


# --- Which source serves which metric of which KPI -----------------------------------------


@dataclass
class KpiBinding:
    key: str
    definition: KpiDefinition
    ref: KpiRef
    metric_sources: dict[str, str]
    """Metric name → the client's source name that serves it."""
    listed: bool = True
    """False for KPIs computed only because an objective or key result needs them."""
    filters: tuple[Filter, ...] = ()
    """The config's filters: every query of this KPI carries them."""
    column_sources: dict[str, str] = field(default_factory=dict)
    """A table's optional column → the source asked for it (``Breakdown.optional_columns``;
    see :mod:`kpireport.pipeline.columns`)."""

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.metric_sources.values()))


@dataclass
class ClientPlan:
    client: ClientConfig
    sources: dict[str, Source]
    specs: dict[str, dict[str, MetricSpec]]
    """Source name → the metrics it offers."""
    bindings: dict[str, KpiBinding]
    problems: list[Problem] = field(default_factory=list)
    sources_info: dict[str, SourceInfo] = field(default_factory=dict)
    """Source name → how the report names it and what its missing days mean."""
    currency: str = ""
    """The client's currency, which every amount is printed in."""
    timezone: str = ""
    """The client's time zone, whose days the report's periods are."""
    exchange_rates: dict[str, float] = field(default_factory=dict)
    """Rates into the client's currency, by currency code (the config's)."""

    def close(self) -> None:
        close_sources(self.sources)


@dataclass(frozen=True, kw_only=True)
class SourceInfo:
    """What the report keeps of a source besides its tables (stored in snapshots)."""

    label: str
    missing_days: MissingDays = MissingDays.GAP


def source_infos(client: ClientConfig, plugins: PluginSet) -> dict[str, SourceInfo]:
    """Each source's label (the config's, else the plugin's, else its name) and missing-day
    meaning, known without opening it."""
    out = {}
    for name, ref in client.sources.items():
        cls = plugins.source_class(ref.plugin) if ref.plugin in plugins.sources else None
        label = ref.label or (cls.label if cls is not None else "") or name
        out[name] = SourceInfo(label=label, missing_days=(
            cls.missing_days if cls is not None else MissingDays.GAP))
    return out


def build_sources(config: Config, client: ClientConfig, index: int, plugins: PluginSet,
                  today: dt.date, state_root: Path | None = None
                  ) -> tuple[dict[str, Source], dict[str, dict[str, MetricSpec]], list[Problem]]:
    """Instantiate the client's sources with validated settings; offline checks only."""
    problems: list[Problem] = []
    sources: dict[str, Source] = {}
    specs: dict[str, dict[str, MetricSpec]] = {}
    tz = ZoneInfo(config.timezone_of(client))
    infos = source_infos(client, plugins)
    root = state_root or config.state_root()
    for name, ref in client.sources.items():
        base = ("clients", index, "sources", name)
        if ref.plugin not in plugins.sources:
            known = ", ".join(sorted(plugins.sources)) or "none"
            problems.append(config.problem((*base, "plugin"),
                                           f"unknown source plugin {ref.plugin!r} "
                                           f"(installed: {known})"))
            continue
        cls = plugins.source_class(ref.plugin)
        try:
            settings = cls.Settings.model_validate(ref.settings)
        except ValidationError as exc:
            problems.extend(settings_problems(config, (*base, "settings"), ref.settings, exc))
            continue
        _register_secrets(settings)
        context = SourceContext(name=name, client_id=client.id, timezone=tz,
                                base_dir=config.base_dir, today=today,
                                logger=logging.getLogger(f"kpireport.source.{ref.plugin}"),
                                plugin=ref.plugin, label=infos[name].label,
                                currency=config.currency_of(client), state_root=root)
        try:
            source = cls(settings, context)
            messages = source.check()
            offered = standard_units(source.metrics()) if not messages else {}
        except KpiReportError as exc:
            messages, offered = [str(exc)], {}
        except Exception as exc:
            messages, offered = [f"plugin {plugins.sources[ref.plugin].plugin!r} failed: "
                                 f"{exc!r}"], {}
        for message in messages:
            problems.append(config.problem((*base, "settings"), message))
        if messages:
            continue
        sources[name] = source
        specs[name] = offered
    return sources, specs, problems


def standard_units(offered: Mapping[str, MetricSpec]) -> dict[str, MetricSpec]:
    """The metrics a source offers, each standard one in the standard's unit where the source
    left its spec at the default (a count): ``revenue`` is an amount whichever source gives
    it, and its unit is what has the engine convert it, or print it in its own currency."""
    out = {}
    for name, spec in offered.items():
        standard = STANDARD_METRICS.get(name)
        if standard is not None and spec.unit is Unit.COUNT and standard.unit is not Unit.COUNT:
            spec = replace(spec, unit=standard.unit)
        out[name] = spec
    return out


def _register_secrets(value: Any) -> None:
    """Mask every secret a source's settings hold, in nested models, lists and mappings too."""
    if isinstance(value, SecretStr):
        register_secret(value.get_secret_value())
    elif isinstance(value, BaseModel):
        for item in value.__dict__.values():
            _register_secrets(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            _register_secrets(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _register_secrets(item)


def settings_problems(config: Config, base: tuple[Any, ...], data: Any,
                       exc: ValidationError) -> list[Problem]:
    from kpireport.config.load import _data_path, _describe

    out = []
    for err in exc.errors():
        path = (*base, *_data_path(err["loc"], data))
        out.append(Problem(str(config.path), config.position(path), dotted(path),
                           _describe(err)))
    return out


def bind_kpis(config: Config, client: ClientConfig, index: int, plugins: PluginSet,
              specs: Mapping[str, Mapping[str, MetricSpec]],
              broken_sources: Iterable[str] = ()) -> tuple[dict[str, KpiBinding], list[Problem]]:
    """Decide which source serves each metric of each KPI (listed, or needed by objectives)."""
    problems: list[Problem] = []
    bindings: dict[str, KpiBinding] = {}
    broken = set(broken_sources)
    for k, ref in enumerate(client.kpis):
        path = ("clients", index, "kpis", k)
        if ref.kpi not in plugins.kpis:
            problems.append(config.problem((*path, "kpi") if ref.id or ref.source else path,
                                           f"unknown KPI {ref.kpi!r} (known: "
                                           f"{', '.join(sorted(plugins.kpis))})"))
            continue
        if ref.key in bindings:
            problems.append(config.problem(path, f"KPI key {ref.key!r} is used twice; give one "
                                                 "of them another id"))
            continue
        definition = plugins.kpi(ref.kpi)
        metric_sources, message = _resolve_sources(definition, ref, client, specs, broken)
        if message is not None:
            if message:  # "" = a consequence of a broken source, already reported
                problems.append(config.problem(path, message))
            continue
        bindings[ref.key] = KpiBinding(ref.key, definition, ref, metric_sources,
                                       filters=ref.query_filters(),
                                       column_sources=column_sources(
                                           definition, ref, metric_sources, specs, broken))
    # KPIs that objectives or key results need without being listed are computed too.
    needed: list[tuple[str, tuple[Any, ...]]] = []
    for j, objective in enumerate(client.objectives):
        needed.append((objective.kpi, ("clients", index, "objectives", j, "kpi")))
    for j, okr in enumerate(client.okrs):
        for r, kr in enumerate(okr.key_results):
            needed.append((kr.kpi, ("clients", index, "okrs", j, "key_results", r, "kpi")))
    for kpi_key, path in needed:
        if kpi_key in bindings:
            if bindings[kpi_key].definition.breakdown is not None:
                problems.append(config.problem(path, f"KPI {kpi_key!r} is a table; an objective "
                                                     "needs a KPI with a single value"))
            continue
        if kpi_key not in plugins.kpis:
            problems.append(config.problem(path, f"not measurable: {kpi_key!r} is neither a KPI "
                                                 "of this client nor a known KPI"))
            continue
        ref = KpiRef(kpi=kpi_key)
        definition = plugins.kpi(kpi_key)
        metric_sources, message = _resolve_sources(definition, ref, client, specs, broken)
        if message is not None:
            if message:
                problems.append(config.problem(path, f"not measurable: {message}"))
            continue
        bindings[kpi_key] = KpiBinding(kpi_key, definition, ref, metric_sources, listed=False)
    return bindings, problems


def _resolve_sources(definition: KpiDefinition, ref: KpiRef, client: ClientConfig,
                     specs: Mapping[str, Mapping[str, MetricSpec]],
                     broken: set[str]) -> tuple[dict[str, str], str | None]:
    """Metric → source for one KPI, or a problem (``""`` when a broken source explains it)."""
    out: dict[str, str] = {}
    optional = definition.breakdown.optional_columns if definition.breakdown else ()
    if isinstance(ref.source, dict) and (unknown := sorted(set(ref.source)
                                                           - {*definition.metrics, *optional})):
        # A misspelt metric would leave the metric it meant to the other sources' choice.
        return {}, (f"KPI {ref.key!r}: 'source:' names {', '.join(map(repr, unknown))}, which "
                    f"this KPI does not use (its metrics: {', '.join(definition.metrics)})")
    for metric in definition.metrics:
        chosen = ref.source.get(metric) if isinstance(ref.source, dict) else ref.source
        if chosen is not None:
            if chosen not in client.sources:
                return {}, (f"KPI {ref.key!r}: no source named {chosen!r} (sources: "
                            f"{', '.join(client.sources)})")
            if chosen in broken:
                return {}, ""
            if metric not in specs.get(chosen, {}):
                return {}, (f"KPI {ref.key!r}: source {chosen!r} does not offer metric "
                            f"{metric!r}")
            out[metric] = chosen
            continue
        offering = [name for name, offered in specs.items() if metric in offered]
        if len(offering) > 1:
            return {}, (f"KPI {ref.key!r}: sources {' and '.join(offering)} both offer metric "
                        f"{metric!r}; say which with 'source:'")
        if not offering:
            if broken:  # the broken source may be the one that offers it: say nothing more
                return {}, ""
            return {}, (f"KPI {ref.key!r} needs metric {metric!r}, which no source of this "
                        f"client offers")
        out[metric] = offering[0]
    return out, None


def plan_client(config: Config, client: ClientConfig, plugins: PluginSet, today: dt.date, *,
                specs: Mapping[str, Mapping[str, MetricSpec]] | None = None,
                sources_info: Mapping[str, SourceInfo] | None = None,
                state_root: Path | None = None) -> ClientPlan:
    """Open the client's sources and bind its KPIs. With ``specs`` (the metrics the sources
    offered when a snapshot was taken, and ``sources_info``, what it kept of them) no source
    is opened: the plan can only be answered from that snapshot. ``state_root`` is the run's
    state folder (default: the config's), where sources keep their own state and cache."""
    index = next(i for i, c in enumerate(config.clients) if c.id == client.id)
    infos = {**source_infos(client, plugins), **(sources_info or {})}
    if specs is not None:
        sources: dict[str, Source] = {}
        offered = {name: dict(metrics) for name, metrics in specs.items()}
        problems: list[Problem] = []
        broken: set[str] = set()
    else:
        sources, offered, problems = build_sources(config, client, index, plugins, today,
                                                   state_root)
        broken = set(client.sources) - set(sources)
    bindings, more = bind_kpis(config, client, index, plugins, offered, broken)
    problems += more
    problems += _objective_problems(config, client, index, bindings, offered)
    problems += _order_problems(config, index, bindings)
    problems += _filter_problems(config, index, bindings)
    for binding in bindings.values():
        drop_refused(binding, sources, today)
    if sources:
        problems += capability_problems(config, index, bindings, sources, infos, today)
    return ClientPlan(client, sources, offered, bindings, problems, infos,
                      currency=config.currency_of(client), timezone=config.timezone_of(client),
                      exchange_rates=config.exchange_rates_of(client))


def capability_problems(config: Config, index: int, bindings: Mapping[str, KpiBinding],
                        sources: Mapping[str, Source], infos: Mapping[str, SourceInfo],
                        today: dt.date) -> list[Problem]:
    """Every query the KPIs will ask, checked against what each source says it can answer,
    so that a KPI asking a source for a dimension, a granularity, a filter or an order it
    cannot give fails validation, not the run. What a report asks depends on the KPIs, not
    on the period: last month's queries stand for any period's."""
    from kpireport.periods import resolve

    client = config.clients[index]
    period = resolve("last-month", today)
    capabilities: dict[str, Any] = {}
    problems = []
    for key, binding in bindings.items():
        refused = None
        for source, queries in kpi_queries(binding, client, period).by_source().items():
            if source not in sources:
                continue
            if source not in capabilities:
                try:
                    capabilities[source] = sources[source].capabilities()
                except Exception as exc:  # the plugin's bug: named, the other sources go on
                    problems.append(config.problem(
                        ("clients", index, "sources", source),
                        f"source plugin {client.sources[source].plugin!r} failed to say what "
                        f"it can answer: {exc!r}"))
                    capabilities[source] = None
            caps = capabilities[source]
            reasons = [r for q in queries if caps is not None and (r := caps.refusal(q))]
            if reasons:
                refused = (source, reasons[0])
                break
        if refused is None:
            continue
        source, reason = refused
        problems.append(config.problem(
            _kpi_path(config, index, key, filters="filter" in reason),
            f"client {client.id!r}, KPI {key!r}: {infos[source].label} ({source}) {reason}"))
    return problems


def _kpi_path(config: Config, index: int, key: str, *, filters: bool = False
              ) -> tuple[Any, ...]:
    """Where a KPI is in the config: its entry under ``kpis``, else the first objective or
    key result that needs it."""
    client = config.clients[index]
    for k, ref in enumerate(client.kpis):
        if ref.key == key:
            return ("clients", index, "kpis", k, *(("filters",) if filters and ref.filters
                                                   else ()))
    for j, objective in enumerate(client.objectives):
        if objective.kpi == key:
            return ("clients", index, "objectives", j, "kpi")
    for j, okr in enumerate(client.okrs):
        for r, kr in enumerate(okr.key_results):
            if kr.kpi == key:
                return ("clients", index, "okrs", j, "key_results", r, "kpi")
    return ("clients", index)


def _order_problems(config: Config, index: int,
                    bindings: Mapping[str, KpiBinding]) -> list[Problem]:
    """A KPI's ``order`` applies to a table KPI, by metrics that KPI reads."""
    problems = []
    for k, ref in enumerate(config.clients[index].kpis):
        binding = bindings.get(ref.key)
        if ref.order is None or binding is None or binding.ref is not ref:
            continue
        path = ("clients", index, "kpis", k, "order")
        if binding.definition.breakdown is None:
            problems.append(config.problem(path, f"KPI {ref.key!r} is a single figure: only a "
                                                 "table KPI (top pages, queries…) has an order"))
            continue
        order = ref.query_order() or ()
        if unknown := [o.metric for o in order if o.metric not in binding.definition.metrics]:
            problems.append(config.problem(path, f"KPI {ref.key!r} does not read "
                                                 f"{', '.join(unknown)} (its metrics: "
                                                 f"{', '.join(binding.definition.metrics)})"))
        elif len({binding.metric_sources[o.metric] for o in order}) > 1:
            problems.append(config.problem(path, f"KPI {ref.key!r}: the metrics it is ordered "
                                                 "by must come from one source"))
    return problems


def _filter_problems(config: Config, index: int,
                     bindings: Mapping[str, KpiBinding]) -> list[Problem]:
    """A KPI that means nothing without a filter (branded clicks: the brand terms) has it."""
    problems = []
    for key, binding in bindings.items():
        definition = binding.definition
        if definition.filter_on is None:
            continue
        if any(f.dimension == definition.filter_on and f.negate == definition.filter_negated
               for f in binding.filters):
            continue
        way = "not_regex" if definition.filter_negated else "regex"
        problems.append(config.problem(
            _kpi_path(config, index, key, filters=True),
            f"KPI {key!r} needs a filter on {definition.filter_on!r}"
            f"{' (negated: not_…)' if definition.filter_negated else ''}, e.g. filters: "
            f"[{{dimension: {definition.filter_on}, {way}: \"acme|akme\"}}]"))
    return problems


def _objective_problems(config: Config, client: ClientConfig, index: int,
                        bindings: Mapping[str, KpiBinding],
                        specs: Mapping[str, Mapping[str, MetricSpec]]) -> list[Problem]:
    problems = []
    for j, objective in enumerate(client.objectives):
        binding = bindings.get(objective.kpi)
        if objective.kind == "cumulative" and binding is not None and not is_additive(binding,
                                                                                      specs):
            problems.append(config.problem(
                ("clients", index, "objectives", j, "kind"),
                f"a cumulative goal needs an additive KPI; {objective.kpi!r} is a rate, an "
                "average or a distinct count (use kind: level)"))
    return problems


def is_additive(binding: KpiBinding, specs: Mapping[str, Mapping[str, MetricSpec]]) -> bool:
    """Whether the KPI's values over consecutive ranges add up (so cumulative goals make sense)."""
    if binding.definition.formula is not None or binding.definition.breakdown is not None:
        return False
    metric = binding.definition.metrics[0]
    spec = specs[binding.metric_sources[metric]][metric]
    return spec.aggregation is Aggregation.SUM



def _monthly_range(client: ClientConfig, key: str, period: Period) -> DateRange:
    # The charts' thirteen months end with the last whole month (a month-to-date report's
    # previous month), and each has its line of the same months a year before: the series
    # starts twelve months before the first of them.
    start = add_months(obj.level_period(period).start, -(TREND_MONTHS - 1) - 12)
    for objective in client.objectives:
        if objective.kpi == key:
            start = min(start, add_months(objective.start.replace(day=1), -HISTORY_MONTHS))
    for okr in client.okrs:
        if okr.start and any(kr.kpi == key for kr in okr.key_results):
            start = min(start, okr.start.replace(day=1))
    # Data that stops before the period's end: the series stops with its last whole month,
    # so a partial month is never drawn as a whole one.
    end = obj.level_period(period).end if period.partial else period.end
    return DateRange(start=start, end=end)




# --- Which queries: built once per report ---------------------------------------------------


PerSource = dict[str, Query]
"""One query per source of a KPI (each asks that source's metrics only)."""


@dataclass
class KpiQueries:
    """Every query one KPI asks, per source: built once, then only looked up.

    A breakdown KPI (a table) asks ``breakdown`` only; any other asks ``value``, ``previous``,
    ``last_year``, ``daily``, ``monthly`` and one ``cumulative`` total per cumulative objective
    on it (by the objective's index in the client's list, when it has started).
    """

    breakdown: PerSource = field(default_factory=dict)
    breakdown_previous: PerSource = field(default_factory=dict)
    """A table's rows over the previous period, deeper than its own top rows (see
    :data:`PREVIOUS_ROWS`), for each row's change."""
    breakdown_columns: PerSource = field(default_factory=dict)
    """A table's optional columns (:func:`~kpireport.pipeline.columns.columns_queries`)."""
    value: PerSource = field(default_factory=dict)
    previous: PerSource = field(default_factory=dict)
    last_year: PerSource = field(default_factory=dict)
    daily: PerSource = field(default_factory=dict)
    monthly: PerSource = field(default_factory=dict)
    monthly_range: DateRange | None = None
    cumulative: dict[int, PerSource] = field(default_factory=dict)
    partial_month: PerSource = field(default_factory=dict)
    """A quarter's or a year to date's period that ends inside a month: that month's days up
    to its end (:func:`partial_month_ranges`), the charts' striped bar."""
    partial_month_last_year: PerSource = field(default_factory=dict)
    """The same days a year before: the striped bar's last-year twin."""

    def by_source(self, *, optional: bool = True) -> dict[str, list[Query]]:
        """All of them per source, in the order they are asked (without the optional ones,
        ``breakdown_previous``, ``breakdown_columns`` and the partial month's two, when
        ``optional`` is False)."""
        out: dict[str, list[Query]] = {}
        # The partial month only draws a bar: a source that cannot tell a month's first days
        # (a monthly export) leaves it empty, and is not failed for it.
        groups = [self.breakdown,
                  *([self.breakdown_previous, self.breakdown_columns] if optional else []),
                  self.value, self.previous, self.last_year, self.daily, self.monthly,
                  *self.cumulative.values(),
                  *([self.partial_month, self.partial_month_last_year] if optional else [])]
        for source in dict.fromkeys(s for group in groups for s in group):
            out[source] = [group[source] for group in groups if source in group]
        return out


@dataclass
class ReportPlan:
    """One client's report for one period: its sources, KPIs and queries."""

    client: ClientConfig
    period: Period
    sources: dict[str, Source]
    specs: dict[str, dict[str, MetricSpec]]
    bindings: dict[str, KpiBinding]
    queries: dict[str, KpiQueries]
    """KPI key → the queries it asks."""
    asks: dict[str, list[Query]]
    """Source name → the merged queries it is asked: one call serves every KPI query of the
    same shape."""
    answered_by: dict[tuple[str, Query], Query]
    """(source, a KPI's query) → the merged query in ``asks`` whose table answers it."""
    problems: list[Problem] = field(default_factory=list)
    sources_info: dict[str, SourceInfo] = field(default_factory=dict)
    currency: str = ""
    timezone: str = ""
    exchange_rates: dict[str, float] = field(default_factory=dict)
    kpi_periods: dict[str, Period] = field(default_factory=dict)
    """KPI key → the period it is judged on when its data stops before the period's end
    (:meth:`Period.through`): its figures, comparisons and objectives over those days only."""
    optional: frozenset[tuple[str, Query]] = frozenset()
    """(source, a query of ``asks``) that serve only optional KPI queries (the tables'
    previous periods): their errors do not count as their source's."""

    def period_of(self, key: str) -> Period:
        """The period a KPI's figures cover: the report's, or its data's when cut short."""
        return self.kpi_periods.get(key, self.period)

    def label(self, source: str) -> str:
        """How the report names a source (its label), never its config key alone."""
        info = self.sources_info.get(source)
        return info.label if info is not None else source

    def close(self) -> None:
        close_sources(self.sources)


def close_sources(sources: Mapping[str, Source]) -> None:
    for source in sources.values():
        try:
            source.close()
        except Exception as exc:  # closing must not mask the report's own outcome
            log.warning("closing source failed: %r", exc)


def plan_report(plan: ClientPlan, period: Period,
                kpi_periods: Mapping[str, Period] | None = None) -> ReportPlan:
    """Every query of every KPI for ``period`` (or, for a KPI in ``kpi_periods``, for the days
    its data covers), and what each source is asked for them."""
    kpi_periods = dict(kpi_periods or {})
    queries = {key: kpi_queries(binding, plan.client, kpi_periods.get(key, period))
               for key, binding in plan.bindings.items()}
    wanted: dict[str, list[Query]] = {}
    for kq in queries.values():
        for source, qs in kq.by_source().items():
            wanted.setdefault(source, []).extend(qs)
    asks: dict[str, list[Query]] = {}
    answered_by: dict[tuple[str, Query], Query] = {}
    for source, qs in wanted.items():
        asks[source] = merge_queries(qs)
        by_shape = {q.shape(): q for q in asks[source]}
        for q in qs:
            answered_by[(source, q)] = by_shape[q.shape()]
    required = {(source, answered_by[(source, q)]) for kq in queries.values()
                for source, qs in kq.by_source(optional=False).items() for q in qs}
    optional = frozenset((source, q) for source, qs in asks.items() for q in qs
                         if (source, q) not in required)
    return ReportPlan(plan.client, period, plan.sources, plan.specs, plan.bindings, queries,
                      asks, answered_by, plan.problems, plan.sources_info, plan.currency,
                      plan.timezone, plan.exchange_rates, kpi_periods, optional)


def _per_source(binding: KpiBinding, make: Any) -> PerSource:
    """One query per source of the KPI, each with that source's metrics and the KPI's
    filters."""
    out = {}
    for source in binding.sources:
        query = make(tuple(m for m, s in binding.metric_sources.items() if s == source))
        out[source] = replace(query, filters=binding.filters) if binding.filters else query
    return out


def _top(order: tuple[Order, ...], limit: int, metrics: tuple[str, ...]) -> dict[str, Any]:
    """The order and limit of a breakdown's query: its top rows, asked of the source that
    gives the metrics it is ordered by (another source's columns are joined to them)."""
    if not all(o.metric in metrics for o in order):
        return {}
    return {"order": order, "limit": limit}


def kpi_queries(binding: KpiBinding, client: ClientConfig, period: Period) -> KpiQueries:
    """The queries one KPI needs for ``period``, per source."""
    definition = binding.definition
    if definition.breakdown is not None:
        b = definition.breakdown
        limit = binding.ref.limit or b.limit
        order = binding.ref.query_order() or b.default_order()
        return KpiQueries(
            breakdown=_per_source(binding, lambda m: Query(
                metrics=m, range=period.range, dimensions=b.dimensions,
                granularity=Granularity.TOTAL, **_top(order, limit, m))),
            # A row of this period's top may have ranked lower the period before: its
            # previous figure is looked up among more rows than are printed.
            breakdown_previous=_per_source(binding, lambda m: Query(
                metrics=m, range=period.previous, dimensions=b.dimensions,
                granularity=Granularity.TOTAL, **_top(order, limit * PREVIOUS_ROWS, m))),
            breakdown_columns=columns_queries(binding, period.range, order, limit))
    monthly_range = _monthly_range(client, binding.key, period)
    out = KpiQueries(
        value=_per_source(binding, lambda m: Query(metrics=m, range=period.range)),
        previous=_per_source(binding, lambda m: Query(metrics=m, range=period.previous)),
        last_year=_per_source(binding, lambda m: Query(metrics=m, range=period.last_year)),
        daily=_per_source(binding, lambda m: Query(metrics=m, range=period.range,
                                                   granularity=Granularity.DAY)),
        monthly=_per_source(binding, lambda m: Query(metrics=m, range=monthly_range,
                                                     granularity=Granularity.MONTH)),
        monthly_range=monthly_range,
    )
    if (ranges := partial_month_ranges(period)) is not None:
        days, last_year = ranges
        out.partial_month = _per_source(binding, lambda m: Query(metrics=m, range=days))
        out.partial_month_last_year = _per_source(binding,
                                                  lambda m: Query(metrics=m, range=last_year))
    for j, objective in enumerate(client.objectives):
        if objective.kpi == binding.key and objective.kind == "cumulative":
            if (rng := cumulative_range(objective, period)) is not None:
                out.cumulative[j] = _per_source(binding, lambda m, r=rng: Query(metrics=m, range=r))
    return out


def partial_month_ranges(period: Period) -> tuple[DateRange, DateRange] | None:
    """For a quarter or a year to date (a KPI's, cut where its data stops) that ends inside a
    month: that month's days up to the end (1–24 November) and the same days a year before
    (1–24 November last year, the end of the period's own last-year range); None otherwise."""
    if period.kind not in BAR_PERIODS:
        return None
    end = period.end
    if (end + dt.timedelta(days=1)).day == 1:
        return None
    first = end.replace(day=1)
    if first < period.start:  # a period starting mid-month: no month of its own to draw
        return None
    last_year = DateRange(start=shift_year(first), end=period.last_year.end)
    if last_year.end < last_year.start:
        return None
    return DateRange(start=first, end=end), last_year


def cumulative_range(objective: ObjectiveConfig, period: Period) -> DateRange | None:
    """What a cumulative objective counts by the period's end: from its start to the end (or
    its deadline, if passed); None before it starts."""
    end = min(period.end, objective.deadline or period.end)
    return DateRange(start=objective.start, end=end) if end >= objective.start else None


def history_queries(binding: KpiBinding, objective: ObjectiveConfig) -> tuple[DateRange,
                                                                                PerSource]:
    """The SMART review's queries: the KPI's months in the two years before the objective."""
    first = objective.start.replace(day=1)
    rng = DateRange(start=add_months(first, -HISTORY_MONTHS), end=first - dt.timedelta(days=1))
    return rng, _per_source(binding, lambda m: Query(metrics=m, range=rng,
                                                     granularity=Granularity.MONTH))


def language_of(locale: str) -> str:
    return locale.split("_")[0]
