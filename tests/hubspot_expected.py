"""The commercial figures of a :class:`~kpireport.testing.fakes.hubspot.HubSpotFake` portal,
computed here from its raw records, by the definitions of docs/sources/hubspot.md, without
any of the hubspot source's code: what the source's answers are checked against."""

from __future__ import annotations

import bisect
import datetime as dt
import statistics
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from kpireport import DateRange
from kpireport.testing.fakes.hubspot import HubSpotFake

Record = dict[str, Any]


def local_day(value: str | None, tz: ZoneInfo) -> dt.date | None:
    if value is None:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(tz).date()


class Expected:
    """Figures over a range, optionally for the deals of some pipelines."""

    def __init__(self, portal: HubSpotFake, timezone: str = "Europe/London",
                 amount: str = "amount_in_home_currency") -> None:
        self.portal = portal
        self.tz = ZoneInfo(timezone)
        self.amount = amount
        self._index: dict[tuple[int, str], tuple[list[dt.date], list[Record]]] = {}

    def _by_day(self, records: list[Record], prop: str) -> tuple[list[dt.date], list[Record]]:
        """The records having ``prop``, sorted by its day: parsed once, as tests ask day by
        day."""
        key = (id(records), prop)
        if key not in self._index:
            dated = sorted(((day, i, r["properties"]) for i, r in enumerate(records)
                            if (day := local_day(r["properties"].get(prop), self.tz))),
                           key=lambda t: (t[0], t[1]))
            self._index[key] = ([d for d, _, _ in dated], [p for _, _, p in dated])
        return self._index[key]

    def _on(self, records: list[Record], prop: str, rng: DateRange,
            keep: Callable[[Record], bool] = lambda r: True) -> list[Record]:
        """The records whose ``prop`` falls on a day of ``rng`` (the client's days)."""
        days, props = self._by_day(records, prop)
        first, last = bisect.bisect_left(days, rng.start), bisect.bisect_right(days, rng.end)
        return [p for p in props[first:last] if keep(p)]

    def leads(self, rng: DateRange) -> int:
        return len(self._on(self.portal.contacts, "createdate", rng))

    def qualified_leads(self, rng: DateRange, stage: str = "marketingqualifiedlead") -> int:
        return len(self._on(self.portal.contacts, f"hs_lifecyclestage_{stage}_date", rng))

    def new_customers(self, rng: DateRange, obj: str = "companies") -> int:
        records = self.portal.companies if obj == "companies" else self.portal.contacts
        return len(self._on(records, "hs_lifecyclestage_customer_date", rng))

    def created(self, rng: DateRange, pipeline: str | None = None) -> list[Record]:
        return self._on(self.portal.deals, "createdate", rng,
                        lambda p: pipeline is None or p["pipeline"] == pipeline)

    def won(self, rng: DateRange, pipeline: str | None = None,
            stages: set[str] | None = None) -> list[Record]:
        def is_won(p: Record) -> bool:
            flag = p["dealstage"] in stages if stages else p["hs_is_closed_won"] == "true"
            return flag and (pipeline is None or p["pipeline"] == pipeline)
        return self._on(self.portal.deals, "closedate", rng, is_won)

    def lost(self, rng: DateRange, pipeline: str | None = None) -> list[Record]:
        return self._on(self.portal.deals, "closedate", rng,
                        lambda p: p["hs_is_closed"] == "true" and p["hs_is_closed_won"] != "true"
                        and (pipeline is None or p["pipeline"] == pipeline))

    def amount_of(self, deals: list[Record]) -> float:
        return sum(float(d[self.amount]) for d in deals if d[self.amount] is not None)

    def cycle_days(self, deals: list[Record]) -> float | None:
        if not deals:
            return None
        return statistics.mean((local_day(d["closedate"], self.tz)  # type: ignore[operator]
                                - local_day(d["createdate"], self.tz)).days for d in deals)

    def all(self, rng: DateRange) -> dict[str, float | None]:
        """Every metric the source offers, over ``rng``."""
        won = self.won(rng)
        leads, customers = self.leads(rng), self.new_customers(rng)
        return {"leads": leads, "qualified_leads": self.qualified_leads(rng),
                "new_customers": customers,
                "lead_conversion_rate": customers / leads if leads else None,
                "opportunities": len(self.created(rng)),
                "pipeline_value": self.amount_of(self.created(rng)),
                "won_deals": len(won), "lost_deals": len(self.lost(rng)),
                "won_revenue": self.amount_of(won), "sales_cycle_days": self.cycle_days(won)}
