"""Plugins for a test: the built-ins and the modules named, never a plugin installed by
accident in the environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from kpireport.plugins import BUILT_IN, PluginSet, load_plugins

_CLEARED = ("KPIREPORT_PLUGINS", "KPIREPORT_DISABLE_PLUGINS", "KPIREPORT_LOAD_ENTRYPOINTS",
            "KPIREPORT_STRICT_PLUGINS")


@contextmanager
def isolated_environment(*, builtins: bool = True) -> Iterator[None]:
    """The environment variables that choose plugins set so that only kpireport's own entry
    points load (none without ``builtins``), restored after."""
    saved = {name: os.environ.get(name) for name in (*_CLEARED, "KPIREPORT_PLUGIN_DISTRIBUTIONS")}
    try:
        for name in _CLEARED:
            os.environ.pop(name, None)
        os.environ["KPIREPORT_PLUGIN_DISTRIBUTIONS"] = BUILT_IN
        if not builtins:
            os.environ["KPIREPORT_LOAD_ENTRYPOINTS"] = "0"
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def plugin_set(*modules: str, builtins: bool = True) -> PluginSet:
    """A :class:`~kpireport.plugins.PluginSet` of kpireport's built-in plugins (unless
    ``builtins=False``) and the plugin modules named (imported by name, as ``kpireport -p``
    does). A named module that fails to load is an error, with the reason."""
    with isolated_environment(builtins=builtins):
        plugins = load_plugins(modules, entry_points=builtins)
    failed = [str(f) for f in plugins.failures if f.name in modules]
    if failed:
        raise RuntimeError("; ".join(failed))
    return plugins
