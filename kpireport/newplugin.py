"""``kpireport new-plugin``: write a plugin package to start from, with tests that pass.

The templates are plain files under ``kpireport/templates/new_plugin/<kind>/``, rendered
with :class:`string.Template` (``$package``, ``$name``…; ``$$`` is a dollar sign): a file
named ``x.tmpl`` is written as ``x``, and a folder named ``package`` takes the package's
name. Files shared by every kind are under ``_common/``; a kind's own file of the same
path wins.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from kpireport.errors import KpiReportError

KINDS = ("source", "kpi", "rules", "delivery", "theme")
"""What ``--kind`` offers: the plugin's main hook."""

_HOOKS = {"source": "register_sources", "kpi": "register_kpis",
          "rules": "register_recommendation_rules", "delivery": "register_delivery_targets",
          "theme": "register_themes"}
_NAME = re.compile(r"[a-z][a-z0-9_]*")


class NewPluginError(KpiReportError):
    """The plugin cannot be written there, or by that name."""

    exit_code = 2


@dataclass(frozen=True)
class PluginNames:
    """Every spelling of a plugin's name the templates use."""

    name: str
    """``acme_crm``: the entry point's name, and the source's (``plugin: acme_crm``)."""
    package: str
    """``kpireport_acme_crm``: the import package."""
    distribution: str
    """``kpireport-acme-crm``: the name on PyPI, and the folder written."""
    cls: str
    """``AcmeCrm``: the prefix of class names."""
    label: str
    """``Acme Crm``: how people read it."""

    @classmethod
    def of(cls, raw: str) -> PluginNames:
        name = raw.strip().lower().replace("-", "_")
        for prefix in ("kpireport_",):
            if name.startswith(prefix):
                name = name[len(prefix):]
        if not _NAME.fullmatch(name) or name.endswith("_") or "__" in name:
            raise NewPluginError(
                f"invalid plugin name {raw!r}: use lower-case letters, digits and single "
                "underscores (or hyphens), starting with a letter, such as acme_crm")
        words = name.split("_")
        return cls(name=name, package=f"kpireport_{name}",
                   distribution="kpireport-" + "-".join(words),
                   cls="".join(w.capitalize() for w in words),
                   label=" ".join(w.capitalize() for w in words))


def _templates() -> Traversable:
    return resources.files("kpireport") / "templates" / "new_plugin"


def _walk(folder: Traversable, at: tuple[str, ...] = ()) -> dict[tuple[str, ...], Traversable]:
    found: dict[tuple[str, ...], Traversable] = {}
    for entry in folder.iterdir():
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            found.update(_walk(entry, (*at, entry.name)))
        else:
            found[(*at, entry.name)] = entry
    return found


def create_plugin(raw_name: str, kind: str, directory: Path) -> tuple[Path, list[Path]]:
    """Write the ``kind`` plugin ``raw_name`` in ``directory/kpireport-NAME``.

    Returns the folder and the files written. Refuses a folder that exists and holds
    anything: nothing is overwritten.
    """
    import kpireport

    if kind not in KINDS:
        raise NewPluginError(f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}")
    names = PluginNames.of(raw_name)
    target = directory / names.distribution
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise NewPluginError(f"{target} already exists and is not empty: choose another "
                             "name or --directory")
    root = _templates()
    files = {**_walk(root / "_common"), **_walk(root / kind)}
    major, minor = kpireport.__version__.split(".")[:2]
    values = {
        "name": names.name, "package": names.package, "distribution": names.distribution,
        "cls": names.cls, "label": names.label, "kind": kind, "hook": _HOOKS[kind],
        "contract": kpireport.CONTRACT_VERSION.split(".")[0],
        "kpireport_requirement": f"kpireport>={major}.{minor}",
    }
    written = []
    for parts, template in sorted(files.items()):
        out = [names.package if p == "package" else p for p in parts]
        if out[-1].endswith(".tmpl"):
            out[-1] = out[-1][: -len(".tmpl")]
            if out[-1] == "gitignore":  # a dot-file would not travel as package data
                out[-1] = ".gitignore"
            try:
                text = string.Template(template.read_text(encoding="utf-8")).substitute(values)
            except (KeyError, ValueError) as exc:  # a template's bug, not the user's
                raise RuntimeError(f"template {'/'.join(parts)}: {exc!r}") from exc
            data = text.encode("utf-8")
        else:
            data = template.read_bytes()
        path = target.joinpath(*out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return target, written
