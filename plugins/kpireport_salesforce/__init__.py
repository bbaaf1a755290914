"""The built-in ``salesforce`` source: commercial KPIs from a Salesforce org.

Registered through the ``kpireport`` entry-point group, exactly as a third-party source is.
PyJWT (the ``salesforce`` extra) is imported only when a client logs in with a JWT bearer.
"""

from __future__ import annotations

from collections.abc import Callable

from kpireport import hookimpl

from .settings import QualifiedLeads, SalesforceSettings
from .source import SalesforceSource

KPIREPORT_CONTRACT = "1"

__all__ = ["QualifiedLeads", "SalesforceSettings", "SalesforceSource"]


@hookimpl
def register_sources(register: Callable[[type[SalesforceSource]], None]) -> None:
    register(SalesforceSource)
