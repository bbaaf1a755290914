"""Trying a source from the command line: what it takes (``kpireport plugins --source``),
whether it can be read (``kpireport check``) and what it answers (``kpireport fetch``)."""

from __future__ import annotations

import csv
import datetime as dt
import enum
import inspect
import io
import json
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic.fields import FieldInfo

from kpireport.data import Capabilities, Filter, MissingDays, Operator, Table
from kpireport.errors import KpiReportError

# --- plugins --source NAME --------------------------------------------------------------------


def type_name(tp: Any) -> str:
    """A field's annotation as a reader would write it: ``list[SecretStr]``, ``str | None``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(type_name(a) for a in args)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(type_name(a) for a in args)}]" if args else name
    if tp is type(None):
        return "None"
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _walk(tp: Any) -> list[Any]:
    """The annotation and every type inside it (list items, union members, dict values)."""
    out = [tp]
    for arg in typing.get_args(tp):
        out.extend(_walk(arg))
    return out


def is_secret(tp: Any) -> bool:
    """Whether a field holds a secret: ``SecretStr`` (or ``SecretBytes``), also inside lists,
    mappings and unions (a nested model's own fields are marked on their own lines)."""
    return any(t in (SecretStr, SecretBytes) for t in _walk(tp))


def _models(tp: Any) -> list[type[BaseModel]]:
    return [t for t in _walk(tp) if isinstance(t, type) and issubclass(t, BaseModel)]


def env_vars(name: str, field: FieldInfo) -> list[str]:
    """The environment variables a field says it reads: ``json_schema_extra={"env": ...}``
    (a name or a list of names), or, for a field named ``*_env``, its default (the field
    holds the variable's name)."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    env = extra.get("env")
    if isinstance(env, str):
        return [env]
    if isinstance(env, list | tuple):
        return [str(e) for e in env]
    if name.endswith("_env") and isinstance(field.default, str) and field.default:
        return [field.default]
    return []


def _default(field: FieldInfo, secret: bool) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except Exception:
            return "default: computed"
    else:
        value = field.default
    if secret and value:
        return "default: ***"
    if isinstance(value, enum.Enum):
        value = value.value
    return f"default: {json.dumps(value) if isinstance(value, str) else repr(value)}"


def settings_lines(model: type[BaseModel], indent: str = "    ",
                   seen: frozenset[type] = frozenset()) -> list[str]:
    """One line per field of a settings model (and, indented, of the models inside it)."""
    lines = []
    for name, field in model.model_fields.items():
        shown = field.alias or name
        secret = is_secret(field.annotation)
        parts = [f"{indent}{shown}: {type_name(field.annotation)}", _default(field, secret)]
        if secret:
            parts.append("secret")
        if envs := env_vars(name, field):
            parts.append("env " + ", ".join(envs))
        lines.append(", ".join(parts))
        if field.description:
            lines.append(f"{indent}  {field.description}")
        for nested in _models(field.annotation):
            if nested not in seen:
                lines.extend(settings_lines(nested, indent + "  ", seen | {model, nested}))
    return lines


def _class_offer(cls: type, attribute: str) -> Any:
    """What a source class says without settings: a mapping (or a ``Capabilities``) class
    attribute, or a static or class method; None when only an instance can tell."""
    raw = inspect.getattr_static(cls, attribute, None)
    if isinstance(raw, Mapping | Capabilities):
        return raw
    if isinstance(raw, staticmethod | classmethod):
        try:
            return getattr(cls, attribute)()
        except Exception:  # it needs its settings after all: say so rather than fail
            return None
    return None


def describe_source(cls: Any, plugin: str) -> list[str]:
    """What ``kpireport plugins --source NAME`` prints about a source plugin."""
    missing = ("a day absent from its rows counts 0" if cls.missing_days is MissingDays.ZERO
               else "a day absent from its rows is a missing figure")
    lines = [f"{cls.name}: {cls.label or cls.name}  (plugin {plugin})",
             f"  missing days: {MissingDays(cls.missing_days).value} ({missing})",
             f"  settings ({cls.Settings.__name__}; any value may be written ${{ENV_VAR}} "
             "in the config):"]
    lines.extend(settings_lines(cls.Settings) or ["    none"])
    metrics = _class_offer(cls, "metrics")
    if metrics is None:
        lines.append("  metrics: depend on its settings: run `kpireport fetch`")
    else:
        lines.append("  metrics:")
        for name, spec in metrics.items():
            lines.append(f"    {name}: {spec.aggregation.value}, {spec.unit.value}")
    caps = _class_offer(cls, "capabilities")
    if caps is None:
        lines.append("  capabilities: depend on its settings (`kpireport validate` checks every "
                     "query against them, `kpireport fetch` says what it refuses)")
    else:
        lines.append(f"  capabilities: dimensions {', '.join(caps.dimensions) or 'none'}; "
                     f"granularities {', '.join(g.value for g in caps.granularities)}; "
                     f"filters {', '.join(o.value for o in caps.filters) or 'none'}; "
                     f"order and top N {'yes' if caps.order else 'no'}")
        for metric, dims in caps.metric_dimensions.items():
            if set(dims) >= set(caps.dimensions):
                continue  # declared, and split by every dimension: nothing more to say
            lines.append(f"    {metric}: dimensions {', '.join(dims) or 'none'}")
    return lines


# --- check CONFIG -----------------------------------------------------------------------------

WHAT_TO_DO = {
    "authentication failed": "renew the credentials in the source's settings",
    "no permission": "ask the account's owner to grant these credentials access",
    "quota exhausted": "wait for the quota to come back, or ask for a larger one",
    "unreachable": "check the address and the network, then try again",
    "failed": "fix what the message says",
}


@dataclass(frozen=True)
class ProbeOutcome:
    """One source's answer to ``kpireport check``: ``ok`` or a reason, and the message."""

    client: str
    source: str
    label: str
    reason: str
    message: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.reason == "ok"

    def line(self) -> str:
        from kpireport.secrets import redact

        head = f"{self.client} {self.source} ({self.label}): {self.reason}"
        if self.ok:
            return head
        todo = WHAT_TO_DO.get(self.reason, WHAT_TO_DO["failed"])
        if self.retry_after is not None:
            todo += f" (the API says: retry after {self.retry_after:g}s)"
        return redact(f"{head}: {self.message.rstrip('.')}. What to do: {todo}")


def outcome_of(client: str, source: str, label: str, error: BaseException | None,
               plugin: str) -> ProbeOutcome:
    """The contract's errors by their ``reason``; a connection or a time-out the plugin let
    through is ``unreachable``; any other exception is the plugin's bug, ``failed``."""
    from kpireport.errors import SourceError

    if error is None:
        return ProbeOutcome(client, source, label, "ok")
    if isinstance(error, SourceError):
        return ProbeOutcome(client, source, label, error.reason, str(error), error.retry_after)
    if _unreachable(error):
        return ProbeOutcome(client, source, label, "unreachable", str(error))
    return ProbeOutcome(client, source, label, "failed",
                        f"source plugin {plugin!r} failed: {error!r}")


def _unreachable(error: BaseException) -> bool:
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    try:
        import requests
    except ImportError:  # pragma: no cover - requests is a dependency
        return False
    return isinstance(error, requests.ConnectionError | requests.Timeout)


# --- fetch CONFIG --client ID --source NAME ---------------------------------------------------


class FetchUsageError(KpiReportError):
    """An option of ``kpireport fetch`` that cannot be understood (exit 2)."""

    exit_code = 2


def parse_filter(text: str) -> Filter:
    """``dim=value`` (equals), ``dim!=value``, ``dim~=text`` (contains), ``dim!~=text``."""
    for token, operator, negate in (("!~=", Operator.CONTAINS, True),
                                    ("~=", Operator.CONTAINS, False),
                                    ("!=", Operator.EQUALS, True),
                                    ("=", Operator.EQUALS, False)):
        dimension, found, value = text.partition(token)
        if found and dimension.strip() and value:
            return Filter(dimension=dimension.strip(), operator=operator, values=(value,),
                          negate=negate)
    raise FetchUsageError(f"--filter {text!r}: expected dim=value, dim!=value, dim~=text "
                          "(contains) or dim!~=text")


def names(text: str | None) -> tuple[str, ...]:
    """A comma-separated option as a tuple of names."""
    return tuple(dict.fromkeys(n.strip() for n in (text or "").split(",") if n.strip()))


def columns(table: Table) -> list[str]:
    query = table.query
    time = {"day": ["date"], "month": ["month"]}.get(query.granularity.value, [])
    extra = [k for row in table.rows for k in row if k not in time and k not in
             query.dimensions and k not in query.metrics]
    return [*time, *query.dimensions, *query.metrics, *dict.fromkeys(extra)]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.6f}".rstrip("0").rstrip(".")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def note_texts(table: Table) -> list[str]:
    from kpireport.secrets import redact

    out = []
    for note in table.notes:
        about = f" ({', '.join(note.metrics)})" if note.metrics else ""
        out.append(redact(f"{note.kind.value}{about}: {note.message}"))
    return out


def render_table(table: Table, fmt: str) -> tuple[str, list[str]]:
    """The rows in ``table`` (aligned columns), ``csv`` or ``json``, and the notes' lines
    (``note: …``) to print after them: in the output itself for ``table`` and ``json``."""
    cols = columns(table)
    notes = note_texts(table)
    if fmt == "json":
        rows = [{c: _json_value(row.get(c)) for c in cols} for row in table.rows]
        return json.dumps({"rows": rows, "notes": notes}, indent=2, ensure_ascii=False) + "\n", []
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(cols)
        for row in table.rows:
            writer.writerow([_cell(row.get(c)) for c in cols])
        return buffer.getvalue(), [f"note: {n}" for n in notes]
    grid = [cols, *([_cell(row.get(c)) or "-" for c in cols] for row in table.rows)]
    widths = [max(len(r[i]) for r in grid) for i in range(len(cols))]
    numeric = [c in table.query.metrics for c in cols]
    lines = []
    for r in grid:
        cells = [cell.rjust(w) if num and r is not grid[0] else cell.ljust(w)
                 for cell, w, num in zip(r, widths, numeric, strict=True)]
        lines.append("  ".join(cells).rstrip())
    if not table.rows:
        lines.append("(no rows)")
    lines.extend(f"note: {n}" for n in notes)
    return "\n".join(lines) + "\n", []


def describe_query(metrics: Sequence[str], rng: Any, granularity: str, timezone: str) -> str:
    """The header ``kpireport fetch`` prints to stderr: what was asked, in which days."""
    return f"{', '.join(metrics)} by {granularity}, {rng} ({timezone} days)"
