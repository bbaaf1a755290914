"""A plugin with a misspelled hook name: pluggy accepts it silently unless checked."""

from kpireport import hookimpl


@hookimpl
def register_kpi(register):  # should be register_kpis
    raise AssertionError("never called")
