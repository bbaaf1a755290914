"""Commercial figures computed straight from a Salesforce fake's raw records
(``SalesforceFake.records``), independently of the source's SOQL and of kpireport's
aggregation: what each KPI must equal."""

from __future__ import annotations

import datetime as dt
from statistics import mean
from typing import Any
from zoneinfo import ZoneInfo

from kpireport.data import DateRange
from kpireport.testing.fakes.salesforce import SalesforceFake


class Expected:
    """Figures over a range of the client's days, in time zone ``tz``."""

    def __init__(self, org: SalesforceFake, tz: str) -> None:
        self.org = org
        self.tz = ZoneInfo(tz)

    def day(self, moment: Any) -> dt.date:
        return moment.astimezone(self.tz).date()

    def amount(self, row: dict[str, Any]) -> float:
        if row["Amount"] is None:
            return 0.0
        rates = self.org.rates
        return row["Amount"] / rates[row["CurrencyIsoCode"]] if rates else row["Amount"]

    def leads(self, rng: DateRange, **where: Any) -> float:
        return sum(1 for r in self.org.records("Lead") if self.day(r["CreatedDate"]) in rng
                   and all(r[k] == v for k, v in where.items()))

    def qualified_converted(self, rng: DateRange) -> float:
        return sum(1 for r in self.org.records("Lead")
                   if r["IsConverted"] and r["ConvertedDate"] in rng)

    def qualified_by_status(self, rng: DateRange, statuses: set[str]) -> float:
        return sum(1 for h in self.org.records("LeadHistory")
                   if h["Field"] == "Status" and h["NewValue"] in statuses
                   and h["OldValue"] not in statuses and self.day(h["CreatedDate"]) in rng)

    def opportunities(self, rng: DateRange) -> list[dict[str, Any]]:
        return [o for o in self.org.records("Opportunity") if self.day(o["CreatedDate"]) in rng]

    def won(self, rng: DateRange) -> list[dict[str, Any]]:
        return [o for o in self.org.records("Opportunity") if o["IsWon"] and o["CloseDate"] in rng]

    def lost(self, rng: DateRange) -> list[dict[str, Any]]:
        return [o for o in self.org.records("Opportunity")
                if o["IsClosed"] and not o["IsWon"] and o["CloseDate"] in rng]

    def cycle(self, rng: DateRange) -> float | None:
        deals = self.won(rng)
        if not deals:
            return None
        return mean((o["CloseDate"] - self.day(o["CreatedDate"])).days for o in deals)

    def new_customers(self, rng: DateRange) -> float:
        first: dict[str, dt.date] = {}
        for o in self.org.records("Opportunity"):
            if o["IsWon"] and o["AccountId"]:
                first[o["AccountId"]] = min(first.get(o["AccountId"], o["CloseDate"]),
                                            o["CloseDate"])
        return sum(1 for day in first.values() if day in rng)

    def figures(self, rng: DateRange) -> dict[str, float | None]:
        """Every metric of the source over ``rng`` (default definitions)."""
        leads = self.leads(rng)
        new = self.new_customers(rng)
        return {
            "leads": leads,
            "qualified_leads": self.qualified_converted(rng),
            "opportunities": len(self.opportunities(rng)),
            "pipeline_value": sum(self.amount(o) for o in self.opportunities(rng)),
            "won_deals": len(self.won(rng)),
            "won_revenue": sum(self.amount(o) for o in self.won(rng)),
            "lost_deals": len(self.lost(rng)),
            "sales_cycle_days": self.cycle(rng),
            "new_customers": new,
            "lead_conversion_rate": new / leads if leads else None,
        }
