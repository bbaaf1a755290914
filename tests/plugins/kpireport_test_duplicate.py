"""A plugin registering a KPI id that a built-in plugin already has."""

from kpireport import Unit, hookimpl
from kpireport.kpis import KpiDefinition


@hookimpl
def register_kpis(register):
    register(KpiDefinition(id="sessions", label={"en": "Other sessions"}, unit=Unit.COUNT,
                           metrics=("sessions",)))
