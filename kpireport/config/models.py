"""The configuration's models: what a valid config.yaml holds (its first, shape-only check).

:mod:`kpireport.config.load` reads the YAML into them; :mod:`kpireport.config.checks` is the
second pass, which needs the plugins.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kpireport.data import Filter, Operator, Order
from kpireport.errors import ConfigError, Problem

HEX_COLOUR = r"^#(?:[0-9a-fA-F]{3}){1,2}$"
LOCALE = r"^[a-z]{2,3}(?:_[A-Z]{2})?$"
ID = r"^[a-z0-9][a-z0-9_-]*$"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


LARGEST_FIGURE = 1e15
"""The largest target, baseline or key result a report prints (a quadrillion): beyond it the
arithmetic loses its units and the figures their meaning."""


def _figure(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, not {value}")
    if abs(value) > LARGEST_FIGURE:
        raise ValueError(f"{value:g} is beyond what a report can print: expected a number of "
                         f"at most {LARGEST_FIGURE:g} in size")
    return value


Figure = Annotated[float, AfterValidator(_figure)]
"""A target, a baseline: finite, and small enough to print."""

FIRST_YEAR, LAST_YEAR = 1900, 2999


def _calendar_date(value: dt.date) -> dt.date:
    # A report reaches months and years around its dates (the month before a start, a year
    # before a deadline): far from the calendar's ends, that arithmetic cannot leave it.
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"year {value.year} is out of range: expected a date between "
                         f"{FIRST_YEAR} and {LAST_YEAR}")
    return value


CalendarDate = Annotated[dt.date, AfterValidator(_calendar_date)]


def _one_line(value: str) -> str:
    if any(c in value for c in "\r\n\x85\u2028\u2029"):
        raise ValueError("contains a line break: expected one line (it names files and "
                         "e-mail subjects)")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("contains a control character: expected printable text")
    return value


OneLine = Annotated[str, AfterValidator(_one_line)]
"""Text that becomes a file name or an e-mail header: no line break, no control character."""

MAX_ID_LENGTH = 64


def _client_id(value: str) -> str:
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"an id of {len(value)} characters is too long for a file name: "
                         f"expected at most {MAX_ID_LENGTH}")
    return value


class Colours(Model):
    primary: Annotated[str, Field(pattern=HEX_COLOUR)] = "#1f3a5f"
    accent: Annotated[str, Field(pattern=HEX_COLOUR)] = "#e07a1f"
    text: Annotated[str, Field(pattern=HEX_COLOUR)] = "#1d232b"


SECTIONS = ("cover", "contents", "summary", "objectives", "okrs", "kpis", "tables",
            "recommendations", "actions", "commentary", "data_notes", "appendix")
"""The default theme's sections, in their default order (each is a template block)."""


class FontFace(Model):
    """A font file the agency supplies, embedded in the PDF with ``@font-face``."""

    family: Annotated[str, Field(min_length=1, max_length=80)]
    path: str
    weight: Annotated[int, Field(ge=100, le=900)] = 400
    style: Literal["normal", "italic"] = "normal"


class Branding(Model):
    """Brand settings of the agency, which a client may override field by field."""

    logo: str | None = None
    colours: Colours | None = None
    theme: str | None = None
    footer: str | None = None
    """Text at the foot of every page."""
    fonts: list[FontFace] | None = None
    """Font files to embed; the first family becomes the report's font."""
    cover_image: str | None = None
    """An image (PNG, JPEG, SVG) across the cover."""
    sections: list[str] | None = None
    """Sections to print, in order (default: all of ``SECTIONS``); a template may add its own
    blocks and list them here."""
    archival: bool | None = None
    """Write PDF/A-3b with the report's figures attached as CSV."""
    tagged: bool | None = None
    """Tag the PDF for accessibility (default: on)."""

    @field_validator("sections")
    @classmethod
    def _known_or_custom(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for name in value:
                if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                    raise ValueError(f"section {name!r}: expected a block name such as "
                                     f"{', '.join(SECTIONS[:3])}")
            if len(set(value)) != len(value):
                raise ValueError("a section is listed twice")
        return value


class AgencyConfig(Branding):
    name: OneLine
    locale: Annotated[str, Field(pattern=LOCALE)] = "en_GB"
    website: str | None = None
    template_dir: str | None = None
    """A folder whose templates override the theme's, block by block."""


class Defaults(Model):
    period: str = "last-month"
    theme: str = "default"
    currency: Annotated[str, Field(pattern=CURRENCY_CODE)] = "EUR"
    exchange_rates: dict[Annotated[str, Field(pattern=CURRENCY_CODE)],
                         Annotated[float, Field(gt=0, allow_inf_nan=False)]] = \
        Field(default_factory=dict)
    """Rates into the client's currency, by currency code (``USD: 0.92``: one US dollar is
    0.92 of the client's currency), for sources whose figures are in another currency."""
    output: str = "reports"
    timezone: str = "UTC"
    commentary: str = "commentary/{client}/{period}.md"
    """The analyst's Markdown commentary for a client and period, printed when the file
    exists (fields: client, period)."""

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        from kpireport.periods import PeriodError, resolve

        try:
            resolve(value, dt.date(2000, 1, 15))
        except PeriodError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        _check_zone(value)
        return value


class SourceRef(Model):
    plugin: str
    settings: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None
    """How the client's report names the source in its notes ("Google Analytics"), in the
    client's language; the source's id (``web``) otherwise."""


CURRENCY_CODE = r"^[A-Z]{3}$"

_COMPARISONS = {"equals": Operator.EQUALS, "in": Operator.IN, "contains": Operator.CONTAINS,
                "regex": Operator.REGEX}


class FilterConfig(Model):
    """A filter on a dimension: one comparison, e.g. ``{dimension: channel, equals: Direct}``,
    ``{dimension: query, not_regex: "lumi[eè]re"}``. Case is ignored unless
    ``case_sensitive: true``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    dimension: str = Field(min_length=1)
    equals: str | None = None
    in_: list[str] | None = Field(default=None, alias="in", min_length=1)
    contains: str | None = None
    regex: str | None = None
    not_equals: str | None = None
    not_in: list[str] | None = Field(default=None, min_length=1)
    not_contains: str | None = None
    not_regex: str | None = None
    case_sensitive: bool = False

    def _given(self) -> list[tuple[str, Any]]:
        fields = ("equals", "in_", "contains", "regex", "not_equals", "not_in", "not_contains",
                  "not_regex")
        return [(name.rstrip("_"), getattr(self, name)) for name in fields
                if getattr(self, name) is not None]

    @model_validator(mode="after")
    def _one_comparison(self) -> FilterConfig:
        given = self._given()
        if len(given) != 1:
            raise ValueError("a filter takes one comparison: equals, in, contains or regex, or "
                             f"one of them with not_ (found {len(given)})")
        self.to_filter()  # a bad regular expression is a config error, with its line
        return self

    def to_filter(self) -> Filter:
        [(name, value)] = self._given()
        negate = name.startswith("not_")
        values = tuple(value) if isinstance(value, list) else (value,)
        return Filter(dimension=self.dimension, operator=_COMPARISONS[name.removeprefix("not_")],
                      values=values, negate=negate, case_sensitive=self.case_sensitive)


class KpiRef(Model):
    """A KPI in a client's report. ``source`` names the client source that serves its metrics,
    or maps each metric to a source; without it, the one source offering them is used."""

    kpi: str
    id: Annotated[str | None, Field(pattern=ID)] = None
    source: str | dict[str, str] | None = None
    label: str | None = None
    description: str | None = None
    """What the KPI measures, in the client's words (under its chart and in the appendix):
    a KPI given a label of its own ("Newsletter signups" for ``leads``) needs one too."""
    limit: Annotated[int | None, Field(ge=1, le=100)] = None
    filters: list[FilterConfig] = Field(default_factory=list)
    """Only the rows matching every filter count: ``organic sessions`` is ``sessions`` with
    ``{dimension: channel, equals: Organic Search}`` (give such a KPI an ``id`` and a label)."""
    order: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*( (asc|desc))?$")]] | \
        None = None
    """For a table KPI: the metrics its rows are ordered by, each ``metric`` or ``metric asc``
    (highest first unless ``asc``); default: the KPI's own ranking metric."""

    @property
    def key(self) -> str:
        return self.id or self.kpi

    def query_filters(self) -> tuple[Filter, ...]:
        return tuple(f.to_filter() for f in self.filters)

    def query_order(self) -> tuple[Order, ...] | None:
        if self.order is None:
            return None
        return tuple(parse_order(item) for item in self.order)


def parse_order(text: str) -> Order:
    """``metric``, ``metric desc`` (highest first) or ``metric asc``, as a KPI's ``order`` and
    ``kpireport fetch --order`` write it."""
    metric, _, way = text.strip().partition(" ")
    way = way.strip()
    if not metric or way not in ("", "asc", "desc"):
        raise ValueError(f"{text!r}: expected a metric, 'metric asc' or 'metric desc'")
    return Order(metric=metric, descending=way != "asc")


class ObjectiveConfig(Model):
    """A SMART objective on one KPI.

    ``kind: level`` is a value to reach in a period ("150 leads a month by June");
    ``kind: cumulative`` a total to reach between ``start`` and ``deadline`` ("1 000 leads in
    2026"). ``baseline`` defaults to the KPI's value in the month before ``start`` (level) or 0
    (cumulative); ``direction`` defaults to the KPI's own.
    """

    id: Annotated[str | None, Field(pattern=ID)] = None
    title: str | None = None
    kpi: str
    kind: Literal["level", "cumulative"] = "level"
    baseline: Figure | None = None
    target: Figure
    direction: Literal["increase", "decrease"] | None = None
    start: CalendarDate
    deadline: CalendarDate | None = None

    @model_validator(mode="after")
    def _dates(self) -> ObjectiveConfig:
        if self.deadline is not None and self.deadline <= self.start:
            raise ValueError(f"deadline {self.deadline} must come after start {self.start}")
        return self


class KeyResultConfig(Model):
    kpi: str
    title: str | None = None
    start: Figure
    target: Figure
    direction: Literal["increase", "decrease", "stay_above", "stay_below"] = "increase"
    weight: Annotated[Figure, Field(gt=0)] = 1.0


class OkrConfig(Model):
    id: Annotated[str | None, Field(pattern=ID)] = None
    objective: str
    start: CalendarDate | None = None
    deadline: CalendarDate | None = None
    key_results: Annotated[list[KeyResultConfig], Field(min_length=1)]


class DeliveryRef(Model):
    target: str
    settings: dict[str, Any] = Field(default_factory=dict)
    id: Annotated[str | None, Field(pattern=ID)] = None
    """Names this delivery in the run ledger (``email:ceo``). Without it a target listed twice
    is known by its place (``email#2``): moving or removing one of the two would then make a
    retry go to the other. Changing it makes the current period's report go out again."""


class ClientConfig(Branding):
    id: Annotated[str, Field(pattern=ID), AfterValidator(_client_id)]
    name: OneLine
    timezone: str | None = None
    locale: Annotated[str | None, Field(pattern=LOCALE)] = None
    currency: Annotated[str | None, Field(pattern=CURRENCY_CODE)] = None
    exchange_rates: dict[Annotated[str, Field(pattern=CURRENCY_CODE)],
                         Annotated[float, Field(gt=0, allow_inf_nan=False)]] = \
        Field(default_factory=dict)
    """This client's rates into its currency; they add to and override the defaults'."""
    sources: dict[str, SourceRef] = Field(min_length=1)
    kpis: list[KpiRef] = Field(min_length=1)
    objectives: list[ObjectiveConfig] = Field(default_factory=list)
    okrs: list[OkrConfig] = Field(default_factory=list)
    delivery: list[DeliveryRef] = Field(default_factory=lambda: [DeliveryRef(target="folder")])
    recommendations: bool = True
    on_source_error: Literal["fail", "partial"] = "fail"
    """When a source still fails after its retries: fail this client's report, or deliver it
    with the gap stated where the figures are missing."""
    deliver_after_day: Annotated[int | None, Field(ge=1, le=28)] = None
    """Hold last month's report until this day of the month (in the client's time zone), so
    that late data (ad conversions, Search Console's last days) has settled."""
    headline: list[str] | None = None
    """The summary's tiles, most important first: keys of this client's KPIs (its business
    outcomes: ``[won_revenue, new_customers]``); the other figures follow by family (the
    commercial and e-commerce ones first). At most eight tiles are printed."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            _check_zone(value)
        return value

    @field_validator("delivery")
    @classmethod
    def _delivery_ids(cls, value: list[DeliveryRef]) -> list[DeliveryRef]:
        named = [(ref.target, ref.id) for ref in value if ref.id]
        for pair in named:
            if named.count(pair) > 1:
                raise ValueError(f"id {pair[1]!r} names two {pair[0]} deliveries: each needs "
                                 f"its own")
        return value

    @field_validator("headline")
    @classmethod
    def _headline_keys(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        # Declared after ``kpis`` and ``id``: both are validated by now (absent if invalid).
        keys = [ref.key for ref in info.data.get("kpis") or []]
        client = info.data.get("id", "?")
        for key in value or []:
            if keys and key not in keys:
                raise ValueError(f"client {client!r}: {key!r} is not one of its KPIs "
                                 f"(expected one of: {', '.join(keys)})")
        if value and len(set(value)) != len(value):
            raise ValueError(f"client {client!r}: a KPI is listed twice")
        return value

    @field_validator("kpis", mode="before")
    @classmethod
    def _kpi_shorthand(cls, value: Any) -> Any:
        # "- sessions" is short for "- kpi: sessions".
        if isinstance(value, list):
            return [{"kpi": v} if isinstance(v, str) else v for v in value]
        return value


class PluginsConfig(Model):
    disable: list[str] = Field(default_factory=list)


class RunsConfig(Model):
    """How unattended runs keep their state (relative paths are from the config file)."""

    state_dir: str | None = None
    """Lock, run ledger, spool and snapshots; default: ``<output>/.kpireport``."""
    ledger: str | None = None
    """The SQLite run ledger; default: ``<state_dir>/ledger.sqlite``."""
    workers: Annotated[int | None, Field(ge=1, le=256)] = None
    """Worker processes for ``run --all``; default: the CPU count."""
    timeout: Annotated[float, Field(gt=0)] = 600
    """Seconds one report may take before its worker is stopped and the client failed."""
    snapshots: bool = True
    """Store what the sources returned for each report (for ``kpireport rerender``)."""
    keep_snapshots: Annotated[int, Field(ge=0)] = 24
    """Snapshots kept per client (the newest periods); 0 keeps them all."""


class Config(Model):
    agency: AgencyConfig
    defaults: Defaults = Field(default_factory=Defaults)
    plugins: PluginsConfig = Field(default_factory=PluginsConfig)
    runs: RunsConfig = Field(default_factory=RunsConfig)
    clients: list[ClientConfig] = Field(min_length=1)

    # Set by the loader: where the file is, and where each value stood in it.
    _path: Path = Path("config.yaml")
    _positions: dict[tuple[Any, ...], tuple[int, int]] = {}

    @model_validator(mode="after")
    def _unique_clients(self) -> Config:
        seen: set[str] = set()
        for client in self.clients:
            if client.id in seen:
                raise ValueError(f"client id {client.id!r} {_USED_TWICE}")
            seen.add(client.id)
        return self

    @property
    def path(self) -> Path:
        return self._path

    @property
    def base_dir(self) -> Path:
        return self._path.parent

    def client(self, client_id: str) -> ClientConfig:
        for client in self.clients:
            if client.id == client_id:
                return client
        known = ", ".join(c.id for c in self.clients)
        raise ConfigError([Problem(str(self._path), None, "clients",
                                   f"no client {client_id!r} (clients: {known})")])

    def position(self, path: tuple[Any, ...]) -> int | None:
        """The 1-based line of a value in the file, or of its nearest enclosing value."""
        for i in range(len(path), -1, -1):
            if (pos := self._positions.get(tuple(path[:i]))) is not None:
                return pos[0]
        return None

    def problem(self, path: tuple[Any, ...], message: str) -> Problem:
        return Problem(str(self._path), self.position(path), dotted(path), message)

    # Effective settings of a client, the agency's where the client says nothing.
    def timezone_of(self, client: ClientConfig) -> str:
        return client.timezone or self.defaults.timezone

    def locale_of(self, client: ClientConfig) -> str:
        return client.locale or self.agency.locale

    def currency_of(self, client: ClientConfig) -> str:
        return client.currency or self.defaults.currency

    def exchange_rates_of(self, client: ClientConfig) -> dict[str, float]:
        return {**self.defaults.exchange_rates, **client.exchange_rates}

    def state_root(self, output_dir: Path | None = None) -> Path:
        """The state folder: lock, ledger, spool, snapshots, and the plugins' own folders."""
        if self.runs.state_dir:
            return self.resolve_path(self.runs.state_dir)
        return (output_dir or self.resolve_path(self.defaults.output)) / ".kpireport"

    def theme_of(self, client: ClientConfig) -> str:
        return client.theme or self.agency.theme or self.defaults.theme

    def colours_of(self, client: ClientConfig) -> Colours:
        return client.colours or self.agency.colours or Colours()

    def brand_of(self, client: ClientConfig, name: str) -> Any:
        """A branding field: the client's when set, else the agency's."""
        value = getattr(client, name)
        return value if value is not None else getattr(self.agency, name)

    def resolve_path(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p


def _check_zone(value: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (expected an IANA name such as "
                         "Europe/Paris)") from None


def dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_USED_TWICE = "is used twice"
