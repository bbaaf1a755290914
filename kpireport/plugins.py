"""The plugin manager: entry points of group ``kpireport``, each loaded in isolation.

Built-in plugins are found through the same entry-point group as third-party ones. A plugin
that fails to import, misnames a hook or raises while registering is recorded in
:attr:`PluginSet.failures` with its name and error, and the others go on. For plugin authors:

- ``KPIREPORT_STRICT_PLUGINS=1`` turns any such failure into an error;
- ``KPIREPORT_DISABLE_PLUGINS=name,other`` skips entry points by name;
- ``KPIREPORT_PLUGINS=module,other`` (or ``kpireport -p module``) loads extra plugin modules,
  as pytest's ``-p`` does, which is how tests load the plugins under ``tests/plugins``;
- ``KPIREPORT_LOAD_ENTRYPOINTS=0`` loads no entry point at all (only ``-p`` modules);
- ``KPIREPORT_PLUGIN_DISTRIBUTIONS=kpireport`` loads only the entry points of the named
  distributions (the test suite uses it so that plugins installed by accident stay out).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata as md
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from kpireport import hookspecs
from kpireport.errors import PluginError

log = logging.getLogger("kpireport.plugins")

ENTRY_POINT_GROUP = "kpireport"
BUILT_IN = "kpireport"
"""The distribution of the built-in plugins, which load before any other."""


@dataclass
class PluginInfo:
    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class PluginFailure:
    name: str
    error: str
    distribution: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        dist = f" ({self.distribution} {self.version})" if self.distribution else ""
        return f"plugin {self.name!r}{dist}: {self.error}"


@dataclass
class Registered:
    item: Any
    plugin: str


class PluginSet:
    """Loaded plugins and everything they registered."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.infos: dict[str, PluginInfo] = {}
        self.failures: list[PluginFailure] = []
        self.sources: dict[str, Registered] = {}
        self.kpis: dict[str, Registered] = {}
        self.rules: dict[str, Registered] = {}
        self.delivery_targets: dict[str, Registered] = {}
        self.themes: dict[str, Registered] = {}
        self.tracing = bool(os.environ.get("KPIREPORT_TRACE_PLUGINS"))

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def source_class(self, name: str) -> Any:
        return self.sources[name].item

    def kpi(self, kpi_id: str) -> Any:
        return self.kpis[kpi_id].item

    def implements(self, hook_name: str) -> bool:
        """Whether any loaded plugin implements the hook (to skip preparing its arguments)."""
        return bool(self.pm.hook.__dict__[hook_name].get_hookimpls())

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation of a hook in pluggy's order, isolating failures.

        Returns ``(plugin name, result)`` pairs. A plugin that raises is logged by name and
        skipped (or, in strict mode, the error is raised as :class:`PluginError`).
        """
        results = []
        for impl in reversed(self.pm.hook.__dict__[hook_name].get_hookimpls()):
            args = {k: v for k, v in kwargs.items() if k in impl.argnames}
            if self.tracing:  # each call is made here, not through pluggy's own caller
                log.warning("trace: %s(%s) -> %s", hook_name, ", ".join(args), impl.plugin_name)
            try:
                results.append((impl.plugin_name, impl.function(**args)))
            except Exception as exc:  # a plugin's bug must not stop the others
                message = f"plugin {impl.plugin_name!r} failed in {hook_name}: {exc!r}"
                if strict():
                    raise PluginError(message) from exc
                log.warning(message)
        return results


def strict() -> bool:
    return os.environ.get("KPIREPORT_STRICT_PLUGINS", "") not in ("", "0", "false")


def _env_list(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


def load_plugins(
    extra_modules: Iterable[str] = (),
    *,
    entry_points: bool | None = None,
    disable: Iterable[str] = (),
) -> PluginSet:
    """Build the plugin manager, load plugins and collect what they register."""
    pm = pluggy.PluginManager("kpireport")
    pm.add_hookspecs(hookspecs)
    plugins = PluginSet(pm)
    if plugins.tracing:
        pm.trace.root.setwriter(lambda msg: log.warning("trace: %s", msg.rstrip()))
        pm.enable_tracing()
    disabled = set(disable) | set(_env_list("KPIREPORT_DISABLE_PLUGINS"))
    if entry_points is None:
        entry_points = os.environ.get("KPIREPORT_LOAD_ENTRYPOINTS", "1") not in ("0", "false")
    only = set(_env_list("KPIREPORT_PLUGIN_DISTRIBUTIONS"))
    if entry_points:
        # Built-ins first: on a name two plugins register, the one already there stays, so a
        # third-party plugin cannot take over a built-in's KPI or target by sorting first.
        def order(ep: md.EntryPoint) -> tuple[bool, str]:
            return (not ep.dist or ep.dist.name != BUILT_IN, ep.name)

        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=order):
            dist = ep.dist.name if ep.dist else None
            version = ep.dist.version if ep.dist else None
            if ep.name in disabled or (only and dist not in only):
                continue
            if pm.has_plugin(ep.name):
                info = plugins.infos.get(ep.name)
                owner = (info.distribution if info else None) or "another plugin"
                _fail(plugins, PluginFailure(ep.name, f"not loaded: the entry point name is "
                                                      f"already taken (by {owner})", dist,
                                             version))
                continue
            _register(plugins, ep.name, ep.load, dist, version)
    for module in [*extra_modules, *_env_list("KPIREPORT_PLUGINS")]:
        if module in disabled or pm.has_plugin(module):
            continue
        _register(plugins, module, functools.partial(importlib.import_module, module), None,
                  None)
    _collect(plugins)
    return plugins


def _register(plugins: PluginSet, name: str, load: Callable[[], Any],
              dist: str | None, version: str | None) -> None:
    pm = plugins.pm
    try:
        obj = load()
        if problem := _contract_problem(obj):
            _fail(plugins, PluginFailure(name, problem, dist, version))
            return
        pm.register(obj, name=name)
    except Exception as exc:  # isolate each plugin: one broken install must not stop the rest
        _fail(plugins, PluginFailure(name, f"failed to load: {exc!r}", dist, version))
        return
    try:
        # pluggy accepts a misspelled hook silently; check_pending() is how it is caught.
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        pm.unregister(name=name)
        _fail(plugins, PluginFailure(name, str(exc), dist, version))
        return
    callers = pm.get_hookcallers(pm.get_plugin(name)) or []
    wrapped = sorted(c.name for c in callers for i in c.get_hookimpls()
                     if i.plugin_name == name and (i.wrapper or i.hookwrapper))
    if wrapped:
        # The engine calls each implementation itself, to isolate one plugin's failure.
        pm.unregister(name=name)
        _fail(plugins, PluginFailure(name, f"hook wrappers are not supported "
                                           f"({', '.join(wrapped)})", dist, version))
        return
    hooks = sorted(h.name for h in callers)
    module = getattr(obj, "__name__", type(obj).__name__)
    plugins.infos[name] = PluginInfo(name, module, dist, version, hooks)


def _contract_problem(obj: Any) -> str | None:
    """Why a plugin written for another major version of the contract is not loaded (it
    states the one it was written for as ``KPIREPORT_CONTRACT = "1"``)."""
    from kpireport import CONTRACT_VERSION

    declared = getattr(obj, "KPIREPORT_CONTRACT", None)
    if declared is None:
        return None
    ours = CONTRACT_VERSION.split(".")[0]
    if str(declared).split(".")[0] == ours:
        return None
    return (f"not loaded: written for plugin contract {declared}, and this kpireport has "
            f"contract {CONTRACT_VERSION}; install a version of the plugin made for "
            f"contract {ours}")


def _fail(plugins: PluginSet, failure: PluginFailure) -> None:
    if strict():
        raise PluginError(str(failure))
    plugins.failures.append(failure)
    log.warning("%s", failure)


_REGISTRIES = {
    "register_sources": ("sources", "name"),
    "register_kpis": ("kpis", "id"),
    "register_recommendation_rules": ("rules", "id"),
    "register_delivery_targets": ("delivery_targets", "name"),
    "register_themes": ("themes", "name"),
}


def _collect(plugins: PluginSet) -> None:
    for hook_name, (attr, id_attr) in _REGISTRIES.items():
        registry: dict[str, Registered] = getattr(plugins, attr)
        # Registration order (built-ins by entry-point name, then other plugins, then -p
        # modules), whatever tryfirst/trylast say: on a duplicate the item already registered
        # stays and the newcomer is the one refused.
        impls = {i.plugin_name: i for i in plugins.pm.hook.__dict__[hook_name].get_hookimpls()}
        for plugin in [name for name in plugins.infos if name in impls]:
            impl = impls[plugin]

            def register(item: Any, _plugin: str = plugin, _registry: dict = registry,
                         _attr: str = attr, _id: str = id_attr) -> None:
                key = getattr(item, _id, None)
                if not key or not isinstance(key, str):
                    raise PluginError(f"plugin {_plugin!r} registered a {_attr[:-1]} "
                                      f"without a {_id}: {item!r}")
                if key in _registry:
                    # Refuse this item only: the plugin's other items still register.
                    _fail(plugins, PluginFailure(_plugin, (
                        f"{_attr[:-1].replace('_', ' ')} {key!r} is registered by both plugin "
                        f"{_registry[key].plugin!r} and plugin {_plugin!r}; the first is kept")))
                    return
                _registry[key] = Registered(item, _plugin)
                info = plugins.infos.get(_plugin)
                if info is not None:
                    info.registered.setdefault(_attr, []).append(key)

            try:
                impl.function(**({"register": register} if "register" in impl.argnames else {}))
            except Exception as exc:
                message = str(exc) if isinstance(exc, PluginError) else repr(exc)
                _fail(plugins, PluginFailure(plugin, f"{hook_name}: {message}"))
