"""Built-in commercial KPIs, read from a CRM (Salesforce, HubSpot) or CSV exports of one."""

from __future__ import annotations

from collections.abc import Callable

from kpireport import Unit, hookimpl
from kpireport.kpis import Direction, Family, KpiDefinition, ratio

COMMERCIAL = Family(id="commercial", label={"en": "Sales and pipeline",
                                   "fr": "Ventes et pipeline commercial"}, rank=10)
COMMERCIAL_KPIS = [
    KpiDefinition(
        id="qualified_leads", label={"en": "Qualified leads", "fr": "Prospects qualifiés"},
                  unit=Unit.COUNT,
        metrics=("qualified_leads",), family=COMMERCIAL,
        description={"en": "Leads qualified by marketing or sales in the period.",
                     "fr": "Prospects qualifiés par le marketing ou les ventes sur la période."},
    ),
    KpiDefinition(
        id="opportunities", label={"en": "New opportunities", "fr": "Nouvelles opportunités"},
        unit=Unit.COUNT, metrics=("opportunities",), family=COMMERCIAL,
        description={"en": "Opportunities (deals) created.",
                     "fr": "Opportunités (affaires) créées."},
    ),
    KpiDefinition(
        id="new_customers", label={"en": "New customers", "fr": "Nouveaux clients"},
                  unit=Unit.COUNT,
        metrics=("new_customers",), family=COMMERCIAL,
        description={"en": "Accounts that became customers.",
                     "fr": "Comptes devenus clients."},
    ),
    KpiDefinition(
        id="won_deals", label={"en": "Won deals", "fr": "Affaires gagnées"}, unit=Unit.COUNT,
        metrics=("won_deals",), family=COMMERCIAL,
        description={"en": "Deals closed won in the period.",
                     "fr": "Affaires conclues sur la période."},
    ),
    KpiDefinition(
        id="won_revenue", label={"en": "Revenue from won deals", "fr": "Chiffre d'affaires signé"},
        unit=Unit.CURRENCY, metrics=("won_revenue",), family=COMMERCIAL,
        description={"en": "Amount of the deals closed won in the period.",
                     "fr": "Montant des affaires conclues sur la période."},
    ),
    KpiDefinition(
        id="sales_cycle_length", label={"en": "Sales cycle length",
                                        "fr": "Durée du cycle de vente"},
        unit=Unit.DURATION, metrics=("sales_cycle_days",), direction=Direction.LOWER,
                  family=COMMERCIAL,
        duration_unit="days",
        description={"en": "Mean days from creation to close of the deals won in the period.",
                     "fr": "Nombre moyen de jours entre la création et la signature des "
                           "affaires gagnées sur la période."},
    ),
    KpiDefinition(
        id="lost_deals", label={"en": "Lost deals", "fr": "Affaires perdues"}, unit=Unit.COUNT,
        metrics=("lost_deals",), direction=Direction.LOWER, family=COMMERCIAL,
        description={"en": "Deals closed lost in the period.",
                     "fr": "Affaires perdues sur la période."},
    ),
    KpiDefinition(
        id="pipeline_value", label={"en": "Pipeline created", "fr": "Pipeline créé"},
        unit=Unit.CURRENCY, metrics=("pipeline_value",), family=COMMERCIAL,
        description={"en": "Amount of the opportunities (deals) created in the period.",
                     "fr": "Montant des opportunités (affaires) créées sur la période."},
    ),
    KpiDefinition(
        id="lead_conversion_rate", label={"en": "Lead-to-customer rate",
                                          "fr": "Taux de transformation en clients"},
        unit=Unit.PERCENT, metrics=("new_customers", "leads"), family=COMMERCIAL,
        formula=ratio("new_customers", "leads"),
        description={"en": "New customers divided by leads created, both summed over the "
                           "period.",
                     "fr": "Nouveaux clients divisés par les prospects créés, tous deux "
                           "additionnés sur la période."},
    ),
]


@hookimpl
def register_kpis(register: Callable[[KpiDefinition], None]) -> None:
    for kpi in COMMERCIAL_KPIS:
        register(kpi)
