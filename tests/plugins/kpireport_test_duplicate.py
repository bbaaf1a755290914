"""A plugin registering a KPI id that a built-in plugin already has."""

from kpireport import hookimpl
from kpireport.kpis import KpiDefinition, Unit


@hookimpl
def register_kpis(register):
    register(KpiDefinition(id="sessions", label={"en": "Other sessions"}, unit=Unit.COUNT,
                           metrics=("sessions",)))
