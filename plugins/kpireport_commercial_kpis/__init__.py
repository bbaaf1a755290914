"""Built-in commercial KPIs, read from a CRM (Salesforce, HubSpot) or CSV exports of one."""

from __future__ import annotations

from collections.abc import Callable

from kpireport import hookimpl
from kpireport.kpis import Direction, Family, KpiDefinition, Unit

COMMERCIAL = Family("commercial", {"en": "Sales and pipeline",
                                   "fr": "Ventes et pipeline commercial"}, rank=10)
COMMERCIAL_KPIS = [
    KpiDefinition(
        "qualified_leads", {"en": "Qualified leads", "fr": "Prospects qualifiés"}, Unit.COUNT,
        ("qualified_leads",), family=COMMERCIAL,
        description={"en": "Leads qualified by marketing or sales in the period.",
                     "fr": "Prospects qualifiés par le marketing ou les ventes sur la période."},
    ),
    KpiDefinition(
        "opportunities", {"en": "New opportunities", "fr": "Nouvelles opportunités"},
        Unit.COUNT, ("opportunities",), family=COMMERCIAL,
        description={"en": "Opportunities (deals) created.",
                     "fr": "Opportunités (affaires) créées."},
    ),
    KpiDefinition(
        "new_customers", {"en": "New customers", "fr": "Nouveaux clients"}, Unit.COUNT,
        ("new_customers",), family=COMMERCIAL,
        description={"en": "Accounts that became customers.",
                     "fr": "Comptes devenus clients."},
    ),
    KpiDefinition(
        "won_deals", {"en": "Won deals", "fr": "Affaires gagnées"}, Unit.COUNT,
        ("won_deals",), family=COMMERCIAL,
        description={"en": "Deals closed won in the period.",
                     "fr": "Affaires conclues sur la période."},
    ),
    KpiDefinition(
        "won_revenue", {"en": "Revenue from won deals", "fr": "Chiffre d'affaires signé"},
        Unit.CURRENCY, ("won_revenue",), family=COMMERCIAL,
        description={"en": "Amount of the deals closed won in the period.",
                     "fr": "Montant des affaires conclues sur la période."},
    ),
    KpiDefinition(
        "sales_cycle_length", {"en": "Sales cycle length", "fr": "Durée du cycle de vente"},
        Unit.DURATION, ("sales_cycle_days",), direction=Direction.LOWER, family=COMMERCIAL,
        duration_unit="days",
        description={"en": "Mean days from creation to close of the deals won in the period.",
                     "fr": "Nombre moyen de jours entre la création et la signature des "
                           "affaires gagnées sur la période."},
    ),
]


@hookimpl
def register_kpis(register: Callable[[KpiDefinition], None]) -> None:
    for kpi in COMMERCIAL_KPIS:
        register(kpi)
