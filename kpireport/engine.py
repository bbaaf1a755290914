"""Runs one client's report through the stages: plan → fetch → compute → assess → render → deliver.

Each stage is a function with plain data in and out. :func:`check_config` is the second
validation pass (it needs the plugins); :func:`compute_report` produces a :class:`Report`
without rendering; :func:`run_client` does everything for one client in this process and
never raises for that client's own failures. ``kpireport run`` goes through
:mod:`kpireport.batch`, which runs the same stages in a worker process per report.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import mimetypes
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, SecretStr, ValidationError

from kpireport import objectives as obj
from kpireport.config import ClientConfig, Config, KpiRef, dotted
from kpireport.data import (
    Aggregation,
    DataNote,
    DateRange,
    Granularity,
    MetricSpec,
    NoteKind,
    Query,
    Table,
    TopN,
    merge_queries,
    time_key,
)
from kpireport.delivery import (
    Artifacts,
    Delivery,
    DeliveryContext,
    DeliveryTarget,
    report_names,
)
from kpireport.errors import ConfigError, KpiReportError, Problem, SourceError
from kpireport.kpis import KpiDefinition, KpiValue, SeriesPoint
from kpireport.periods import Period, add_months, resolve, today_in
from kpireport.plugins import PluginSet
from kpireport.report import KeyResultScore, OkrScore, Report
from kpireport.secrets import redact, register_secret
from kpireport.sources import Source, SourceContext

log = logging.getLogger("kpireport.engine")

HISTORY_MONTHS = 24
TREND_MONTHS = 13


# --- Planning: which source serves which metric of which KPI -------------------------------


@dataclass
class KpiBinding:
    key: str
    definition: KpiDefinition
    ref: KpiRef
    metric_sources: dict[str, str]
    """Metric name → the client's source name that serves it."""
    listed: bool = True
    """False for KPIs computed only because an objective or key result needs them."""

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

    def close(self) -> None:
        for source in self.sources.values():
            try:
                source.close()
            except Exception as exc:  # closing must not mask the report's own outcome
                log.warning("closing source failed: %r", exc)


def build_sources(config: Config, client: ClientConfig, index: int, plugins: PluginSet,
                  today: dt.date) -> tuple[dict[str, Source], dict[str, dict[str, MetricSpec]],
                                           list[Problem]]:
    """Instantiate the client's sources with validated settings; offline checks only."""
    problems: list[Problem] = []
    sources: dict[str, Source] = {}
    specs: dict[str, dict[str, MetricSpec]] = {}
    tz = ZoneInfo(config.timezone_of(client))
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
            problems.extend(_settings_problems(config, (*base, "settings"), ref.settings, exc))
            continue
        _register_secrets(settings)
        context = SourceContext(name=name, client_id=client.id, timezone=tz,
                                base_dir=config.base_dir, today=today,
                                logger=logging.getLogger(f"kpireport.source.{ref.plugin}"))
        try:
            source = cls(settings, context)
            messages = source.check()
            offered = dict(source.metrics()) if not messages else {}
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


def _register_secrets(settings: BaseModel) -> None:
    for value in settings.__dict__.values():
        if isinstance(value, SecretStr):
            register_secret(value.get_secret_value())
        elif isinstance(value, BaseModel):
            _register_secrets(value)


def _settings_problems(config: Config, base: tuple[Any, ...], data: Any,
                       exc: ValidationError) -> list[Problem]:
    from kpireport.config import _data_path, _describe

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
        bindings[ref.key] = KpiBinding(ref.key, definition, ref, metric_sources)
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
    if isinstance(ref.source, dict) and (unknown := sorted(set(ref.source)
                                                           - set(definition.metrics))):
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


def plan_client(config: Config, client: ClientConfig, plugins: PluginSet,
                today: dt.date) -> ClientPlan:
    index = next(i for i, c in enumerate(config.clients) if c.id == client.id)
    sources, specs, problems = build_sources(config, client, index, plugins, today)
    broken = set(client.sources) - set(sources)
    bindings, more = bind_kpis(config, client, index, plugins, specs, broken)
    problems += more
    problems += _objective_problems(config, client, index, bindings, specs)
    return ClientPlan(client, sources, specs, bindings, problems)


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


# --- Config checks (second pass) -------------------------------------------------------------


def check_config(config: Config, plugins: PluginSet, *, today: dt.date | None = None,
                 agency_template_dir_required: bool = True,
                 client_ids: Iterable[str] | None = None) -> list[Problem]:
    """Every problem the plugins can see in the config, before any data is fetched.

    With ``client_ids``, the sources of the other clients are not opened (the whole file has
    already been validated against the models when it was loaded).
    """
    only = set(client_ids) if client_ids else None
    problems: list[Problem] = []
    for name in config.plugins.disable:
        if name in plugins.infos:
            problems.append(config.problem(("plugins", "disable"),
                                           f"plugin {name!r} is loaded although disabled"))
    for path, value in _asset_paths(config):
        if not value:
            continue
        file = config.resolve_path(value)
        if not file.is_file():
            problems.append(config.problem(path, f"file not found: {file}"))
        elif problem := _asset_problem(file, font="fonts" in path):
            problems.append(config.problem(path, f"{file}: {problem}"))
    if config.agency.template_dir and not config.resolve_path(config.agency.template_dir).is_dir():
        problems.append(config.problem(("agency", "template_dir"),
                                       f"folder not found: "
                                       f"{config.resolve_path(config.agency.template_dir)}"))
    if problem := _locale_problem(config.agency.locale):
        problems.append(config.problem(("agency", "locale"), problem))
    deliveries: list[tuple[int, int, DeliveryTarget]] = []
    context = DeliveryContext(base_dir=config.base_dir,
                              output_dir=config.resolve_path(config.defaults.output))
    for i, client in enumerate(config.clients):
        if client.locale and (problem := _locale_problem(client.locale)):
            problems.append(config.problem(("clients", i, "locale"), problem))
        theme = config.theme_of(client)
        if theme not in plugins.themes:
            where = ("clients", i, "theme") if client.theme else ("defaults", "theme")
            problems.append(config.problem(where, f"unknown theme {theme!r} (installed: "
                                                  f"{', '.join(sorted(plugins.themes))})"))
        for j, ref in enumerate(client.delivery):
            path = ("clients", i, "delivery", j)
            if ref.target not in plugins.delivery_targets:
                problems.append(config.problem((*path, "target"),
                                               f"unknown delivery target {ref.target!r} "
                                               f"(installed: "
                                               f"{', '.join(sorted(plugins.delivery_targets))})"))
                continue
            cls = plugins.delivery_targets[ref.target].item
            try:
                settings = cls.Settings.model_validate(ref.settings)
            except ValidationError as exc:
                problems.extend(_settings_problems(config, (*path, "settings"), ref.settings, exc))
                continue
            try:
                deliveries.append((i, j, cls(settings, context)))
            except Exception:  # the target's own problem, for its delivery to report
                pass
        if only is not None and client.id not in only:
            continue
        day = today or today_in(config.timezone_of(client))
        plan = plan_client(config, client, plugins, day)
        plan.close()
        problems.extend(plan.problems)
    problems.extend(_clashes(config, deliveries, today))
    return problems


def _clashes(config: Config, deliveries: list[tuple[int, int, DeliveryTarget]],
             today: dt.date | None) -> list[Problem]:
    """Deliveries of different clients that would put reports in the same place (a file),
    one replacing the other. Blamed on the entries whose place does not name their client
    (their pattern lacks ``{client}``); on all of them when none or each does."""
    period = resolve("last-month", today or dt.date.today())
    by_place: dict[str, list[tuple[int, int, DeliveryTarget, bool]]] = {}
    for i, j, target in deliveries:
        client = config.clients[i]
        try:
            where = target.destination(_names(config, client, period))
            if where is None:
                continue
            other = target.destination(_names(config, client, period, stranger=True))
        except Exception:  # the target's own problem, for its delivery to report
            continue
        by_place.setdefault(where, []).append((i, j, target, other != where))
    problems = []
    for where, entries in by_place.items():
        if len({i for i, _, _, _ in entries}) < 2:
            continue
        blamed = [e for e in entries if not e[3]] or entries
        for i, j, target, names_client in blamed:
            client = config.clients[i]
            others = sorted({config.clients[k].id for k, _, _, _ in entries if k != i})
            hint = ("its name gives the same file name as theirs" if names_client
                    else "put {client} in its file name")
            message = (f"{target.name} would put this client's reports in the same place as "
                       f"those of {_quoted(others)}, one replacing the other (the {period.key} "
                       f"report at {where}): {hint}")
            path = (("clients", i, "delivery", j, "settings")
                    if "delivery" in client.model_fields_set else ("clients", i))
            problems.append(config.problem(path, message))
    return problems


def _names(config: Config, client: ClientConfig, period: Period,
           stranger: bool = False) -> dict[str, str]:
    """What a report of ``client`` for ``period`` is named by (Artifacts.names); with
    ``stranger``, another client's id and name, to see whether a place depends on them."""
    return report_names("another-client" if stranger else client.id,
                        "Another client" if stranger else client.name, period,
                        language_of(config.locale_of(client)))


def _quoted(ids: list[str]) -> str:
    return ("client " if len(ids) == 1 else "clients ") + ", ".join(repr(i) for i in ids)


def _locale_problem(locale: str) -> str | None:
    """Why Babel cannot format in ``locale`` (the config's pattern checks only its shape)."""
    from babel import localedata

    # Whether Babel has the locale's data file: loading it would cost each run ~10 ms.
    if localedata.exists(locale):
        return None
    return (f"unknown locale {locale!r}: Babel has no data for it (expected a locale such as "
            f"fr_FR, en_GB or de)")


_FONT_MAGIC = (b"\x00\x01\x00\x00", b"true", b"OTTO", b"wOFF", b"wOF2", b"ttcf")


def _asset_problem(file: Path, *, font: bool) -> str | None:
    """Why a brand file would not show in the PDF (WeasyPrint would leave it out quietly)."""
    try:
        if font:
            with file.open("rb") as f:
                head = f.read(4)
            return (None if head in _FONT_MAGIC
                    else "not a font file (expected TrueType, OpenType or WOFF)")
        if file.suffix.lower() == ".svg":
            import xml.etree.ElementTree as ET

            root = ET.parse(file).getroot()
            return None if root.tag.rsplit("}", 1)[-1] == "svg" else "not an SVG image"
        from PIL import Image

        with Image.open(file) as image:
            image.verify()
    except (OSError, SyntaxError, ValueError) as exc:
        return f"not an image that can be printed ({type(exc).__name__}: {exc})"
    return None


def _asset_paths(config: Config) -> Iterable[tuple[tuple[Any, ...], str | None]]:
    """Every brand file the config names: a missing one fails validation, never a PDF."""
    owners: list[tuple[tuple[Any, ...], Any]] = [(("agency",), config.agency)]
    owners += [(("clients", i), client) for i, client in enumerate(config.clients)]
    for base, owner in owners:
        yield (*base, "logo"), owner.logo
        yield (*base, "cover_image"), owner.cover_image
        for j, font in enumerate(owner.fonts or []):
            yield (*base, "fonts", j, "path"), font.path


def ensure_valid(config: Config, plugins: PluginSet, **kwargs: Any) -> None:
    problems = check_config(config, plugins, **kwargs)
    if problems:
        raise ConfigError(problems)


_CLIENT_FIELD = re.compile(r"clients\[(\d+)\]")


def problems_by_client(config: Config, problems: Iterable[Problem]
                       ) -> tuple[list[Problem], dict[str, list[Problem]]]:
    """Split problems into the agency's (no report can be right) and each client's.

    A client's own sources, data, objectives, theme, brand files or delivery targets concern
    its report alone: a run leaves that client out and renders the others.
    """
    general: list[Problem] = []
    clients: dict[str, list[Problem]] = {}
    for problem in problems:
        match = _CLIENT_FIELD.match(problem.field)
        if match and int(match.group(1)) < len(config.clients):
            clients.setdefault(config.clients[int(match.group(1))].id, []).append(problem)
        else:
            general.append(problem)
    return general, clients


# --- Fetching and computing --------------------------------------------------------------------


@dataclass
class _Ranges:
    period: Period
    monthly: DateRange
    cumulative: dict[str, list[DateRange]]


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
    return DateRange(start, period.end)


def _queries_for(binding: KpiBinding, client: ClientConfig,
                 period: Period) -> dict[str, list[Query]]:
    """The queries one KPI needs, per source."""
    per_source: dict[str, list[Query]] = {}
    definition = binding.definition
    for source in binding.sources:
        metrics = tuple(m for m, s in binding.metric_sources.items() if s == source)
        qs = per_source.setdefault(source, [])
        if definition.breakdown is not None:
            b = definition.breakdown
            limit = binding.ref.limit or b.limit
            qs.append(Query(metrics, period.range, b.dimensions, Granularity.TOTAL,
                            TopN(b.metric, limit) if b.metric in metrics else None))
            continue
        for rng in (period.range, period.previous, period.last_year):
            qs.append(Query(metrics, rng))
        qs.append(Query(metrics, period.range, granularity=Granularity.DAY))
        qs.append(Query(metrics, _monthly_range(client, binding.key, period),
                        granularity=Granularity.MONTH))
        for objective in client.objectives:
            if objective.kpi == binding.key and objective.kind == "cumulative":
                end = min(period.end, objective.deadline or period.end)
                if end >= objective.start:
                    qs.append(Query(metrics, DateRange(objective.start, end)))
    return per_source


@dataclass
class FetchResult:
    tables: dict[tuple[str, tuple[Any, ...]], Table] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    from_snapshot: bool = False
    """Tables stored by an earlier run (and version), which may have asked other ranges."""

    def table(self, source: str, query: Query) -> Table | None:
        found = self.tables.get((source, query.shape()))
        if found is None and self.from_snapshot and query.granularity is Granularity.MONTH:
            found = self._months_from_another_range(source, query)
        return found

    def _months_from_another_range(self, source: str, query: Query) -> Table | None:
        """A monthly series from a stored one of the same shape over another range (a
        snapshot of an older version, whose series started a month later): its months
        within the range asked, rather than none."""
        best, overlap = None, 0
        for (name, _), table in self.tables.items():
            q = table.query
            if (name != source or q.granularity is not Granularity.MONTH or q.top is not None
                    or q.dimensions != query.dimensions
                    or not set(query.metrics) <= set(q.metrics)):
                continue
            days = (min(q.range.end, query.range.end) - max(q.range.start, query.range.start)).days
            if days > overlap:
                best, overlap = table, days
        if best is None:
            return None
        rng = query.range
        return Table(query, [r for r in best.rows if rng.start <= r["month"] <= rng.end],
                     best.notes)


def fetch_all(plan: ClientPlan, period: Period) -> FetchResult:
    """Ask each source its merged queries: one call serves every KPI of the same shape."""
    wanted: dict[str, list[Query]] = {}
    for binding in plan.bindings.values():
        for source, queries in _queries_for(binding, plan.client, period).items():
            wanted.setdefault(source, []).extend(queries)
    result = FetchResult()
    for source_name, queries in wanted.items():
        source = plan.sources[source_name]
        for query in merge_queries(queries):
            try:
                table = source.fetch(query)
            except KpiReportError as exc:
                result.errors.setdefault(source_name, redact(str(exc)))
                continue
            except Exception as exc:  # a plugin bug: report it by name, keep the others
                result.errors.setdefault(source_name,
                                         redact(f"source plugin {type(source).__name__} failed: "
                                                f"{exc!r}"))
                continue
            result.tables[(source_name, query.shape())] = table
    return result


def _values(binding: KpiBinding, fetched: FetchResult,
            query_for: Any) -> tuple[list[dict[str, Any]], list[DataNote], str | None]:
    """Rows of one query shape, joined across the KPI's sources on their time/dimension keys."""
    joined: dict[tuple[Any, ...], dict[str, Any]] = {}
    notes: list[DataNote] = []
    for source in binding.sources:
        metrics = tuple(m for m, s in binding.metric_sources.items() if s == source)
        query = query_for(metrics)
        table = fetched.table(source, query)
        if table is None:
            return [], notes, fetched.errors.get(source, f"source {source!r} gave no data")
        # A table answers every KPI asking the same shape: keep the notes about this one's
        # (a note naming none of the table's metrics concerns them all, rather than none).
        asked = set(table.query.metrics)
        notes.extend(n for n in table.notes if not set(n.metrics) & asked
                     or set(n.metrics) & set(metrics))
        tkey = time_key(query.granularity)
        keys = ([tkey] if tkey else []) + list(query.dimensions)
        for row in table.rows:
            k = tuple(row.get(name) for name in keys)
            target = joined.setdefault(k, {name: row.get(name) for name in keys})
            for metric in metrics:
                target[metric] = row.get(metric)
    return list(joined.values()), notes, None


def compute_kpi(binding: KpiBinding, client: ClientConfig, period: Period,
                fetched: FetchResult, language: str) -> KpiValue:
    definition = binding.definition
    label = binding.ref.label or definition.text(definition.label, language)
    description = binding.ref.description or (
        definition.text(definition.description, language) if definition.description else "")
    value = KpiValue(binding.key, definition, label, sources=binding.sources,
                     description=description)
    if definition.breakdown is not None:
        b = definition.breakdown
        limit = binding.ref.limit or b.limit

        def breakdown_query(metrics: tuple[str, ...]) -> Query:
            return Query(metrics, period.range, b.dimensions, Granularity.TOTAL,
                         TopN(b.metric, limit) if b.metric in metrics else None)

        rows, notes, error = _values(binding, fetched, breakdown_query)
        rows.sort(key=lambda r: (r.get(b.metric) is None, -(r.get(b.metric) or 0)))
        value.rows, value.notes, value.error = rows[:limit], _dedupe(notes), error
        if error:
            value.failed_source = _failed_source(binding, fetched)
        return value

    def total(rng: DateRange) -> tuple[float | None, list[DataNote], str | None]:
        rows, notes, error = _values(binding, fetched, lambda m: Query(m, rng))
        return (definition.compute(rows[0]) if rows else None), notes, error

    value.value, notes, error = total(period.range)
    value.previous, _, _ = total(period.previous)
    value.last_year, _, _ = total(period.last_year)
    daily_rows, _, _ = _values(binding, fetched,
                               lambda m: Query(m, period.range, granularity=Granularity.DAY))
    monthly_range = _monthly_range(client, binding.key, period)
    monthly_rows, _, _ = _values(binding, fetched,
                                 lambda m: Query(m, monthly_range, granularity=Granularity.MONTH))
    by_day = {r["date"]: definition.compute(r) for r in daily_rows}
    value.daily = [SeriesPoint(d, by_day.get(d)) for d in period.range.iter_days()]
    by_month = {r["month"]: definition.compute(r) for r in monthly_rows}
    months = []
    cursor = monthly_range.start
    while cursor <= monthly_range.end:
        months.append(SeriesPoint(cursor, by_month.get(cursor)))
        cursor = add_months(cursor, 1)
    value.monthly = months
    value.notes = _dedupe(notes)
    if error:
        value.error = error
        value.failed_source = _failed_source(binding, fetched)
    elif value.value is None and not any(n.kind is NoteKind.UNAVAILABLE for n in value.notes):
        # (An unavailable figure has said why already: "no data" would contradict it.)
        value.notes.append(DataNote(NoteKind.NO_DATA,
                                    "no data for this period", ",".join(binding.sources)))
    return value


def _failed_source(binding: KpiBinding, fetched: FetchResult) -> str | None:
    """The first of the KPI's sources that could not be read, if any."""
    return next((s for s in binding.sources if s in fetched.errors), None)


def _dedupe(notes: list[DataNote]) -> list[DataNote]:
    return list(dict.fromkeys(notes))


def cumulative_total(binding: KpiBinding, fetched: FetchResult, rng: DateRange) -> float | None:
    rows, _, error = _values(binding, fetched, lambda m: Query(m, rng))
    if error or not rows:
        return None
    return binding.definition.compute(rows[0])


# --- Objectives and OKRs -------------------------------------------------------------------------


def assess_objectives(plan: ClientPlan, period: Period, kpis: Mapping[str, KpiValue],
                      fetched: FetchResult, language: str) -> list[Any]:
    out = []
    for j, objective in enumerate(plan.client.objectives):
        binding = plan.bindings[objective.kpi]
        kpi = kpis[objective.kpi]
        key = objective.id or f"{objective.kpi}-{j + 1}"
        title = objective.title or kpi.label
        judged = period  # a level objective is judged on a calendar month (below)
        if objective.kind == "cumulative":
            end = min(period.end, objective.deadline or period.end)
            value = (cumulative_total(binding, fetched, DateRange(objective.start, end))
                     if end >= objective.start else None)
            baseline = objective.baseline if objective.baseline is not None else 0.0
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
        if judged is not period:
            assessment.measured_in = judged.start
            if objective.deadline is not None:
                # Counted from the report's own end, as for every other objective in it.
                assessment.days_left = max(0, (objective.deadline - period.end).days)
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


def score_okrs(plan: ClientPlan, period: Period, kpis: Mapping[str, KpiValue]) -> list[OkrScore]:
    out = []
    for j, okr in enumerate(plan.client.okrs):
        # Key results are monthly levels, judged like level objectives: on the period's last
        # whole month, or the deadline's once it has passed.
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


def _kr_labels(okrs: list[OkrScore], kpis: Mapping[str, KpiValue]) -> None:
    for okr in okrs:
        for kr in okr.key_results:
            if isinstance(kr, KeyResultScore) and not kr.title and kr.kpi in kpis:
                kr.title = kpis[kr.kpi].label


# --- The whole report ----------------------------------------------------------------------------


def language_of(locale: str) -> str:
    return locale.split("_")[0]


def data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix.lower() == ".svg":
        mime = "image/svg+xml"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def compute_report(config: Config, client: ClientConfig, plugins: PluginSet, *,
                   period_spec: str | None = None, now: dt.datetime | None = None,
                   snapshot: Mapping[str, Any] | None = None,
                   period: Period | None = None, notify: bool = True) -> Report:
    """Fetch, compute and assess one client's report (no rendering, no delivery).

    The period is ``period`` when given (a batch resolves it once, when it plans), else
    ``period_spec`` (or the config's default) resolved in the client's time zone.

    With ``snapshot`` (see :mod:`kpireport.snapshots`) nothing is fetched: the tables, the
    metrics the sources offered and the logos come from it, so the figures are those of the
    original run. ``report.extra`` keeps what a snapshot of this run needs (``fetched``,
    ``specs``). Without ``notify``, plugins do not hear of it (``report_started``,
    ``report_computed``): a report computed again only to be passed to another hook.
    """
    tz_name = config.timezone_of(client)
    today = today_in(tz_name, now)
    period = period or resolve(period_spec or config.defaults.period, today)
    locale = config.locale_of(client)
    language = language_of(locale)
    if snapshot is not None:
        index = next(i for i, c in enumerate(config.clients) if c.id == client.id)
        specs = dict(snapshot["specs"])
        bindings, problems = bind_kpis(config, client, index, plugins, specs)
        problems += _objective_problems(config, client, index, bindings, specs)
        plan = ClientPlan(client, {}, specs, bindings, problems)
    else:
        plan = plan_client(config, client, plugins, today)
    if plan.problems:
        plan.close()
        raise ConfigError(plan.problems)
    if notify:
        plugins.call_each("report_started", client=client, period=period)
    if snapshot is not None:
        fetched = FetchResult(dict(snapshot["tables"]), dict(snapshot["errors"]),
                              from_snapshot=True)
    else:
        try:
            fetched = fetch_all(plan, period)
        finally:
            plan.close()
    if fetched.errors and client_policy(client) == "fail":
        failures = "; ".join(f"{name}: {msg}" for name, msg in fetched.errors.items())
        raise SourceError(", ".join(fetched.errors), failures)
    kpis = {key: compute_kpi(b, client, period, fetched, language)
            for key, b in plan.bindings.items()}
    report = Report(
        agency=config.agency, client=client, period=period, language=language, locale=locale,
        currency=config.currency_of(client), timezone=tz_name,
        colours=config.colours_of(client), theme=config.theme_of(client),
        generated_at=(now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(tz_name)),
    )
    report.kpis = {k: v for k, v in kpis.items() if plan.bindings[k].listed}
    report.extra["all_kpis"] = kpis
    report.extra["fetched"] = fetched
    report.extra["specs"] = plan.specs
    for name, message in fetched.errors.items():
        report.notes.append(DataNote(NoteKind.SOURCE_FAILED, message, name))
    report.objectives = assess_objectives(plan, period, kpis, fetched, language)
    report.okrs = score_okrs(plan, period, kpis)
    _kr_labels(report.okrs, kpis)
    for kpi in kpis.values():
        report.notes.extend(n for n in kpi.notes
                            if n.kind not in (NoteKind.UNAVAILABLE, NoteKind.NO_DATA))
    report.notes = _dedupe(report.notes)
    if snapshot is not None:
        report.logos.update(snapshot.get("logos", {}))
        report.brand.update(snapshot.get("brand", {}))
    else:
        if config.agency.logo:
            report.logos["agency"] = data_uri(config.resolve_path(config.agency.logo))
        if client.logo:
            report.logos["client"] = data_uri(config.resolve_path(client.logo))
        report.brand = brand_of(config, client, period)
    if client.recommendations:
        report.findings = run_rules(report, plugins)
    if notify:
        plugins.call_each("report_computed", report=report)
    return report


def brand_of(config: Config, client: ClientConfig, period: Period) -> dict[str, Any]:
    """The client's branding with files read in (data URIs), so rendering reads no path."""
    from kpireport.config import SECTIONS

    fonts = [{"family": f.family, "weight": f.weight, "style": f.style,
              "src": data_uri(config.resolve_path(f.path))}
             for f in (config.brand_of(client, "fonts") or [])]
    cover = config.brand_of(client, "cover_image")
    commentary_path = config.resolve_path(config.defaults.commentary.format(
        client=client.id, period=period.key))
    tagged = config.brand_of(client, "tagged")
    return {
        "footer": config.brand_of(client, "footer") or config.agency.name,
        "fonts": fonts,
        "cover_image": data_uri(config.resolve_path(cover)) if cover else None,
        "sections": list(config.brand_of(client, "sections") or SECTIONS),
        "archival": bool(config.brand_of(client, "archival")),
        "tagged": True if tagged is None else tagged,
        "commentary": (commentary_path.read_text(encoding="utf-8")
                       if commentary_path.is_file() else None),
    }


def client_policy(client: ClientConfig) -> str:
    """What to do when a source fails: ``fail`` the client (default) or deliver with the gap."""
    return client.on_source_error


def run_rules(report: Report, plugins: PluginSet) -> list[Any]:
    findings = []
    for rule_id, registered in sorted(plugins.rules.items()):
        try:
            findings.extend(registered.item.evaluate(report))
        except Exception as exc:  # one broken rule must not cost the report
            log.warning("recommendation rule %r of plugin %r failed: %r", rule_id,
                        registered.plugin, exc)
    order = {"critical": 0, "warning": 1, "info": 2}
    return sorted(findings, key=lambda f: order.get(str(f.severity), 3))


@dataclass
class ClientResult:
    client: str
    period: str
    status: str
    """``delivered`` or ``failed``."""
    seconds: float
    outputs: list[str] = field(default_factory=list)
    pages: int = 0
    error: str | None = None


def run_client(config: Config, client: ClientConfig, plugins: PluginSet, *,
               period_spec: str | None = None, output_dir: Path | None = None,
               now: dt.datetime | None = None) -> ClientResult:
    """Compute, render and deliver one client's report. Never raises for the client's failures."""
    started = time.perf_counter()
    period_key = period_spec or config.defaults.period
    try:
        report = compute_report(config, client, plugins, period_spec=period_spec, now=now)
        period_key = report.period.key
        from kpireport.render import render_report

        template_dir = (config.resolve_path(config.agency.template_dir)
                        if config.agency.template_dir else None)
        rendered = render_report(report, plugins, agency_template_dir=template_dir)
        artifacts = Artifacts(
            pdf=rendered.pdf, html=rendered.html, pages=rendered.pages,
            names=report_names(client.id, client.name, report.period, report.language),
        )
        plugins.call_each("report_rendered", report=report, artifacts=artifacts)
        outputs = deliver(config, client, plugins, report, artifacts, output_dir)
        return ClientResult(client.id, period_key, "delivered",
                            time.perf_counter() - started, outputs, rendered.pages)
    except Exception as exc:
        if isinstance(exc, KpiReportError):
            message = str(exc)
        else:
            log.exception("report for client %r failed", client.id)
            message = f"internal error: {exc!r}"
        message = redact(message)
        period_obj = None
        try:
            period_obj = resolve(period_spec or config.defaults.period,
                                 today_in(config.timezone_of(client), now))
        except Exception:  # the period itself may be what failed
            pass
        if period_obj is not None:
            plugins.call_each("report_failed", client=client, period=period_obj, error=exc)
        return ClientResult(client.id, period_key, "failed", time.perf_counter() - started,
                            error=message)


def deliver(config: Config, client: ClientConfig, plugins: PluginSet, report: Report,
            artifacts: Artifacts, output_dir: Path | None) -> list[str]:
    context = DeliveryContext(base_dir=config.base_dir,
                              output_dir=output_dir or config.resolve_path(config.defaults.output))
    outputs = []
    for ref in client.delivery:
        cls = plugins.delivery_targets[ref.target].item
        target = cls(cls.Settings.model_validate(ref.settings), context)
        location = target.deliver(artifacts)
        outputs.append(location)
        plugins.call_each("report_delivered", report=report,
                          delivery=Delivery(ref.target, location))
    return outputs
