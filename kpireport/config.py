"""The configuration: YAML → validated models, with errors that point at file, line and field.

Loading is in two passes. The first checks the shape of the file (types, required fields,
``${ENV_VAR}`` interpolation). The second, :func:`check_config`, needs the loaded plugins: it
checks each source's settings against the model its plugin declares, that every KPI and
objective refers to something that exists, and that brand assets are present. Both passes
collect every problem before raising one :class:`~kpireport.errors.ConfigError`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kpireport.errors import ConfigError, Problem
from kpireport.secrets import register_secret

HEX_COLOUR = r"^#(?:[0-9a-fA-F]{3}){1,2}$"
LOCALE = r"^[a-z]{2,3}(?:_[A-Z]{2})?$"
ID = r"^[a-z0-9][a-z0-9_-]*$"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Colours(Model):
    primary: Annotated[str, Field(pattern=HEX_COLOUR)] = "#1f3a5f"
    accent: Annotated[str, Field(pattern=HEX_COLOUR)] = "#e07a1f"
    text: Annotated[str, Field(pattern=HEX_COLOUR)] = "#1d232b"


SECTIONS = ("cover", "contents", "summary", "objectives", "okrs", "kpis", "tables",
            "recommendations", "commentary", "data_notes", "appendix")
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
    name: str
    locale: Annotated[str, Field(pattern=LOCALE)] = "en_GB"
    website: str | None = None
    template_dir: str | None = None
    """A folder whose templates override the theme's, block by block."""


class Defaults(Model):
    period: str = "last-month"
    theme: str = "default"
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"
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

    @property
    def key(self) -> str:
        return self.id or self.kpi


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
    baseline: float | None = None
    target: float
    direction: Literal["increase", "decrease"] | None = None
    start: dt.date
    deadline: dt.date | None = None

    @model_validator(mode="after")
    def _dates(self) -> ObjectiveConfig:
        if self.deadline is not None and self.deadline <= self.start:
            raise ValueError(f"deadline {self.deadline} must come after start {self.start}")
        return self


class KeyResultConfig(Model):
    kpi: str
    title: str | None = None
    start: float
    target: float
    direction: Literal["increase", "decrease", "stay_above", "stay_below"] = "increase"
    weight: Annotated[float, Field(gt=0)] = 1.0


class OkrConfig(Model):
    id: Annotated[str | None, Field(pattern=ID)] = None
    objective: str
    start: dt.date | None = None
    deadline: dt.date | None = None
    key_results: Annotated[list[KeyResultConfig], Field(min_length=1)]


class DeliveryRef(Model):
    target: str
    settings: dict[str, Any] = Field(default_factory=dict)
    id: Annotated[str | None, Field(pattern=ID)] = None
    """Names this delivery in the run ledger (``email:ceo``). Without it a target listed twice
    is known by its place (``email#2``): moving or removing one of the two would then make a
    retry go to the other. Changing it makes the current period's report go out again."""


class ClientConfig(Branding):
    id: Annotated[str, Field(pattern=ID)]
    name: str
    timezone: str | None = None
    locale: Annotated[str | None, Field(pattern=LOCALE)] = None
    currency: Annotated[str | None, Field(pattern=r"^[A-Z]{3}$")] = None
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


# --- Loading ------------------------------------------------------------------------------

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def load_config(path: str | Path, environ: dict[str, str] | None = None) -> Config:
    """Read, interpolate and validate a config file's shape. Raises ConfigError."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(file, None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(file, None, "", f"cannot read the file: {exc}")]) from None
    data, positions = parse_yaml(text, file)
    if not isinstance(data, dict):
        raise ConfigError([Problem(file, 1, "", "expected a mapping with agency and clients")])
    problems: list[Problem] = []
    data = _interpolate(data, (), environ if environ is not None else dict(os.environ),
                        positions, file, problems)
    repeated = _repeated_ids(data, positions, file)
    problems.extend(repeated)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems.extend(p for p in _problems_from(exc, data, positions, file)
                        if not (repeated and p.message.endswith(_USED_TWICE)))
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    config._path = path
    config._positions = positions
    return config


class _Loader(yaml.SafeLoader):
    """Safe YAML, but dates stay text: the models parse them, so that ``2026-02-30`` is an
    error with its field and line rather than a crash inside the YAML library."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp",
                        lambda loader, node: loader.construct_scalar(node))


def parse_yaml(text: str, file: str) -> tuple[Any, dict[tuple[Any, ...], tuple[int, int]]]:
    """Parse YAML, returning the data and the (line, column) of every key and item."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        what = " ".join(filter(None, [exc.context, exc.problem]))
        raise ConfigError([Problem(file, line, "", f"YAML syntax error: {what}", column)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(file, None, "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    positions: dict[tuple[Any, ...], tuple[int, int]] = {}
    repeated: list[Problem] = []
    if node is not None:
        _walk(node, (), positions, repeated, file)
    if repeated:
        raise ConfigError(repeated)
    return data, positions


def _walk(node: yaml.Node, path: tuple[Any, ...], out: dict, repeated: list[Problem],
          file: str) -> None:
    out.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        first: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line, column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if key in first and key != "<<":
                # YAML keeps the last silently: a client's second 'kpis:' would drop the first.
                repeated.append(Problem(file, line, dotted((*path, key)),
                                        f"{key!r} is already set on line {first[key]} of "
                                        f"the same block: keep one", column))
            first.setdefault(key, line)
            out[(*path, key)] = (line, column)
            _walk(value_node, (*path, key), out, repeated, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), out, repeated, file)


def _interpolate(value: Any, path: tuple[Any, ...], environ: dict[str, str],
                 positions: dict, file: str, problems: list[Problem]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, (*path, k), environ, positions, file, problems)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, i), environ, positions, file, problems)
                for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        def substitute(match: re.Match[str]) -> str:
            name, default = match[1], match[2]
            # As in the shell, ${NAME:-default} also takes the default when NAME is empty.
            if name in environ and not (default is not None and environ[name] == ""):
                if not _is_location(path):
                    register_secret(environ[name])
                return environ[name]
            if default is not None:
                return default
            line = positions.get(path, (None, None))[0]
            problems.append(Problem(file, line, dotted(path),
                                    f"environment variable {name} is not set"))
            return ""

        return _ENV.sub(substitute, value)
    return value


_LOCATIONS = frozenset({"path", "search_console", "template_dir", "logo", "cover_image",
                        "output", "state_dir", "ledger", "commentary"})


def _is_location(path: tuple[Any, ...]) -> bool:
    """Whether a value names a file or folder (``${DATA_DIR}/web.csv``): such a value is not
    masked as a secret, or no error could say which file it means. Any other value taken
    from the environment is."""
    keys = [k for k in path if isinstance(k, str)]
    return bool(keys) and keys[-1] in _LOCATIONS


_USED_TWICE = "is used twice"
"""The model's own words for a repeated client id: a loaded file says it at its line instead."""


def _repeated_ids(data: dict[str, Any], positions: dict, file: str) -> list[Problem]:
    """Client ids used twice, at the second one's line (the model's own check has no line)."""
    first: dict[Any, int] = {}
    problems = []
    clients = data.get("clients")
    for i, client in enumerate(clients if isinstance(clients, list) else []):
        cid = client.get("id") if isinstance(client, dict) else None
        if cid is None:
            continue
        if cid in first:
            where = positions.get(("clients", first[cid], "id"), (None, None))[0]
            problems.append(Problem(file, positions.get(("clients", i, "id"), (None, None))[0],
                                    f"clients[{i}].id", f"client id {cid!r} is already the id "
                                    f"of clients[{first[cid]}] (line {where}): ids name output "
                                    f"folders and ledger rows, so they must differ"))
        else:
            first[cid] = i
    return problems


def _problems_from(exc: ValidationError, data: Any, positions: dict, file: str) -> list[Problem]:
    problems = []
    for err in exc.errors():
        path = _data_path(err["loc"], data)
        line = None
        for i in range(len(path), -1, -1):
            if (pos := positions.get(tuple(path[:i]))) is not None:
                line = pos[0]
                break
        problems.append(Problem(file, line, dotted(path), _describe(err)))
    return problems


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """Pydantic's error location without the union/validator tags that are not in the data."""
    path: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and err_is_field(part, node):
            path.append(part)  # a missing field: point at it by name
            node = None
    return tuple(path)


def err_is_field(part: str, node: dict) -> bool:
    # Union members and validator names look like "str", "KpiRef", "function-after[...]".
    return not (part[:1].isupper() or "[" in part or part in {"str", "int", "float", "dict"})


def _describe(err: dict[str, Any]) -> str:
    kind, msg = err["type"], err["msg"]
    given = err.get("input")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (check its spelling)"
    if kind == "string_pattern_mismatch":
        pattern = err.get("ctx", {}).get("pattern", "")
        expected = {HEX_COLOUR: "a colour such as #1f3a5f", LOCALE: "a locale such as fr_FR",
                    ID: "lower-case letters, digits, - and _"}.get(pattern, f"to match {pattern}")
        return f"expected {expected}, got {given!r}"
    if kind.startswith("value_error"):
        return msg.removeprefix("Value error, ")
    if isinstance(given, dict | list):
        return f"{msg}"
    if kind == "string_type" and (given is None or isinstance(given, bool | int | float)):
        # YAML read the value as something else: no/yes/on/off are booleans, 0123 an octal
        # number, and a '#' starts a comment.
        return (f"{msg}, got {given!r}: put the value in quotes (YAML reads no and yes as "
                f"booleans, 0123 as a number, and everything after # as a comment)")
    return f"{msg}, got {given!r}"


def config_hash(client: ClientConfig) -> str:
    """A stable hash of a client's configuration (for ledgers and caches)."""
    import hashlib
    import json

    dumped = json.dumps(client.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(dumped.encode()).hexdigest()[:16]
