"""Reading config.yaml: YAML with line positions, ``${ENV_VAR}`` interpolation, and the
models' validation errors turned into problems at file, line and field."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from kpireport.config.models import _USED_TWICE, HEX_COLOUR, ID, LOCALE, Config, dotted
from kpireport.errors import ConfigError, Problem
from kpireport.secrets import register_secret

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


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML, but dates stay text: the models parse them, so that ``2026-02-30`` is an
    error with its field and line rather than a crash inside the YAML library. LibYAML's
    parser where PyYAML has it (its wheels do): a seventh of the pure-Python one's time."""


def _timestamp_as_text(loader: _Loader, node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    # An explicit !!timestamp on a list or mapping: what construct_scalar itself raises.
    found = node.id if isinstance(node, yaml.SequenceNode | yaml.MappingNode) else "node"
    raise yaml.constructor.ConstructorError(
        None, None, f"expected a scalar node, but found {found}", node.start_mark)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


MAX_EXPANDED = 100_000
"""The most values a config may hold once its aliases are expanded: a real one holds a few
thousand; a few lines of nested aliases (an "alias bomb") would hold billions."""


def _expanded_size(node: yaml.Node, file: str) -> int:
    """How many values ``node`` holds with every alias expanded, refusing past the limit."""
    sizes: dict[int, int] = {}

    def size(n: yaml.Node) -> int:
        key = id(n)
        if key in sizes:
            if sizes[key] < 0:  # an alias inside its own anchor: endless
                raise _too_big(n, file, "an anchor contains an alias to itself")
            return sizes[key]
        sizes[key] = -1
        total = 1
        if isinstance(n, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            total += sum(size(item) for item in n.value)
        if total > MAX_EXPANDED:
            raise _too_big(n, file, f"its aliases expand to more than {MAX_EXPANDED:,} values")
        sizes[key] = total
        return total

    return size(node)


def _too_big(node: yaml.Node, file: str, why: str) -> ConfigError:
    return ConfigError([Problem(file, node.start_mark.line + 1, "",
                                f"refused: {why} (anchors and aliases are for reusing a "
                                "block, not multiplying it)", node.start_mark.column + 1)])


def _reader_problem(exc: yaml.reader.ReaderError, text: str, file: str) -> ConfigError:
    """A character YAML refuses (a NUL, a control character), at its line and column."""
    before = text[:exc.position]
    line = before.count("\n") + 1
    column = exc.position - (before.rfind("\n") + 1) + 1
    char = exc.character if isinstance(exc.character, str) else chr(exc.character)
    return ConfigError([Problem(file, line, "", f"control character {ord(char):#04x} is not "
                                "allowed in YAML: remove it (or write it as an escape in "
                                "double quotes)", column)])


def parse_yaml(text: str, file: str) -> tuple[Any, dict[tuple[Any, ...], tuple[int, int]]]:
    """Parse YAML, returning the data and the (line, column) of every key and item."""
    try:
        loader = _Loader(text)  # which reads every character first
    except yaml.reader.ReaderError as exc:
        raise _reader_problem(exc, text, file) from None
    try:
        node = loader.get_single_node()
        if node is not None:
            _expanded_size(node, file)
        data = loader.construct_document(node) if node is not None else None
    except yaml.reader.ReaderError as exc:
        raise _reader_problem(exc, text, file) from None
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
        elif isinstance(node, dict) and isinstance(part, str) and err_is_field(part):
            path.append(part)  # a missing field: point at it by name
            node = None
    return tuple(path)


def err_is_field(part: str) -> bool:
    # Union members and validator names look like "str", "KpiRef", "function-after[...]".
    return not (part[:1].isupper() or "[" in part or part in {"str", "int", "float", "dict"})


def _describe(err: ErrorDetails) -> str:
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
