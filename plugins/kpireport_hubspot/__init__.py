"""The ``hubspot`` source: commercial KPIs from a HubSpot portal's CRM (private-app token).

Contacts, companies and deals are read with the CRM v3 search API, month by month in the
client's time zone, and counted here: leads, qualified leads, new customers, opportunities,
won and lost deals, won revenue, pipeline value, sales-cycle length and the lead-to-customer
conversion rate. What counts as what (the qualifying lifecycle stage, won and lost stages,
the pipelines) is the agency's choice per client, in the settings. See docs/sources/hubspot.md.
"""

from __future__ import annotations

from typing import Any

from kpireport import hookimpl

KPIREPORT_CONTRACT = "1"


@hookimpl
def register_sources(register: Any) -> None:
    from kpireport_hubspot.source import HubSpotSource

    register(HubSpotSource)
