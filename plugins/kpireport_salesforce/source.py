"""The ``salesforce`` source: the commercial KPIs from a Salesforce org's leads and
opportunities (REST API, SOQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from kpireport import (
    STANDARD_METRICS,
    Capabilities,
    Granularity,
    MetricSpec,
    MissingDays,
    Query,
    Source,
    SourceContext,
    SourceError,
    Table,
    aggregate_rows,
)

from .api import SalesforceApi
from .auth import credential_id, key_problem
from .events import Events, Row, merge_rows, metric_dimensions
from .settings import SalesforceSettings

METRICS = ("leads", "qualified_leads", "opportunities", "pipeline_value", "won_deals",
           "won_revenue", "lost_deals", "sales_cycle_days", "new_customers",
           "lead_conversion_rate")
DIMENSIONS = ("stage", "lead_source")


def months_of(start: dt.date, end: dt.date) -> list[dt.date]:
    """The first day of every calendar month from ``start``'s to ``end``'s."""
    out, month = [], start.replace(day=1)
    while month <= end:
        out.append(month)
        month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


class SalesforceSource(Source[SalesforceSettings]):
    """Leads, qualified leads, opportunities, won and lost deals, revenue, sales cycle, new
    customers and the lead-to-customer rate of one Salesforce org."""

    name = "salesforce"
    label = "Salesforce"
    Settings = SalesforceSettings
    missing_days = MissingDays.ZERO
    SPECS: ClassVar[dict[str, MetricSpec]] = {m: STANDARD_METRICS[m] for m in METRICS}

    def __init__(self, settings: SalesforceSettings, context: SourceContext) -> None:
        super().__init__(settings, context)
        self._api: SalesforceApi | None = None
        self._events: Events | None = None
        self._currency: str | None = settings.currency

    @classmethod
    def metrics(cls) -> Mapping[str, MetricSpec]:
        return dict(cls.SPECS)

    def capabilities(self) -> Capabilities:
        # Per metric, as its object has them: leads qualified by their status history
        # (LeadHistory) have neither stage nor source, which validate says before a run.
        return Capabilities(dimensions=DIMENSIONS,
                            metric_dimensions=metric_dimensions(self.settings, DIMENSIONS))

    def check(self) -> list[str]:
        problems = []
        s = self.settings
        if s.auth == "jwt":
            try:
                import jwt  # noqa: F401
            except ImportError:
                problems.append('auth: jwt needs PyJWT: pip install "kpireport[salesforce]"')
            assert s.private_key_file is not None
            problem = key_problem(self.context.resolve_path(s.private_key_file))
            if problem:
                problems.append(problem)
        overlap = set(s.won_stages) & set(s.lost_stages)
        if overlap:
            problems.append(f"won_stages and lost_stages both name {', '.join(sorted(overlap))}")
        return problems

    # --- the API ------------------------------------------------------------------------

    @property
    def api(self) -> SalesforceApi:
        if self._api is None:
            self._api = SalesforceApi(self.settings, self.context)
        return self._api

    @property
    def events(self) -> Events:
        if self._events is None:
            self._events = Events(self.api, self.settings, self.context.timezone)
        return self._events

    def currency(self) -> str:
        """The org's corporate currency: aggregates give their amounts in it."""
        if self._currency is None:
            records = self.api.query("SELECT DefaultCurrencyIsoCode FROM Organization")
            code = str(records[0].get("DefaultCurrencyIsoCode") or "") if records else ""
            if not code:
                raise SourceError("the org did not say its currency: set 'currency'")
            self._currency = code
        return self._currency

    # --- answering ----------------------------------------------------------------------

    def fetch(self, query: Query) -> Table:
        unknown = [m for m in query.metrics if m not in self.SPECS]
        if unknown:
            raise SourceError(f"does not offer {', '.join(unknown)}")
        dims = tuple(dict.fromkeys([*query.dimensions, *(f.dimension for f in query.filters)]))
        events = list(dict.fromkeys(e for m in query.metrics for e in self.events.events_for(m)))
        rows: list[Row] = []
        for month in months_of(query.range.start, query.range.end):
            rows.extend(merge_rows((self._month(e, month, dims) for e in events), dims))
        # A CRM that records nothing has nothing: counts and amounts absent from a day's row
        # are 0, not unknown (before ordering, so a top N sees them as 0); a mean or a rate
        # with nothing to divide stays None.
        additive = {c for m in query.metrics for c in self.SPECS[m].components()
                    if self.SPECS[c].aggregation.value == "sum"}
        for row in rows:
            for name in additive:
                if row.get(name) is None:
                    row[name] = 0.0
        answer = aggregate_rows(rows, self.SPECS, query)
        if not answer and query.granularity is Granularity.TOTAL and not query.dimensions:
            answer = [{m: 0.0 if m in additive else None for m in query.metrics}]
        amounts = any(self.SPECS[m].unit.value == "currency" for m in query.metrics)
        return Table(query=query, rows=answer, currency=self.currency() if amounts else None)

    def _month(self, event: str, month: dt.date, dims: Sequence[str]) -> list[Row]:
        """One event's daily rows for a calendar month, from the cache when stored."""
        following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        final = (following - dt.timedelta(days=1)
                 <= self.context.today - dt.timedelta(days=self.settings.final_after_days))
        s = self.settings
        request = {"event": event, "month": month.isoformat(), "dimensions": list(dims),
                   "org": credential_id(s), "instance": s.instance_url or "",
                   "timezone": self.context.timezone.key, "api": s.api_version,
                   "definitions": [s.qualified_leads.model_dump(), s.won_stages,
                                   s.lost_stages]}

        def ask() -> list[dict[str, Any]]:
            rows = self.events.month(event, month, dims)
            return [{**row, "date": row["date"].isoformat()} for row in rows]

        stored = self.context.cache.cached(request, ask, final=final)
        return [{**row, "date": dt.date.fromisoformat(row["date"])} for row in stored]

    def probe(self) -> None:
        """``kpireport check``: one describe call per object, checking that the fields,
        statuses and stages the settings name exist in the org."""
        problems: list[str] = []
        lead = self._fields("Lead")
        opp = self._fields("Opportunity")
        need = {"Lead": ["CreatedDate", "Status", "LeadSource", "IsConverted", "ConvertedDate"],
                "Opportunity": ["CreatedDate", "CloseDate", "StageName", "IsWon", "IsClosed",
                                "Amount", "AccountId", "LeadSource"]}
        for obj, fields in (("Lead", lead), ("Opportunity", opp)):
            problems += [f"{obj}.{f} is missing or not readable by the integration user"
                         for f in need[obj] if f not in fields]
        q = self.settings.qualified_leads
        if q.by == "field":
            assert q.field is not None
            kind = lead.get(q.field, {}).get("type")
            if kind is None:
                problems.append(f"qualified_leads.field: Lead has no field {q.field}")
            elif kind != q.field_type:
                problems.append(f"qualified_leads.field: Lead.{q.field} is a {kind} field, "
                                f"not {q.field_type} (set field_type: {kind})"
                                if kind in {"date", "datetime"} else
                                f"qualified_leads.field: Lead.{q.field} is a {kind} field, "
                                "not a date or datetime")
            if q.flag is not None and lead.get(q.flag, {}).get("type") != "boolean":
                problems.append(f"qualified_leads.flag: Lead has no checkbox field {q.flag}")
        if q.by == "status":
            problems += _unknown("qualified_leads.statuses", q.statuses, lead.get("Status"))
            history = self._fields("LeadHistory")
            if "NewValue" not in history:
                problems.append("LeadHistory cannot be read: turn on field history tracking "
                                "for Lead Status")
        problems += _unknown("won_stages", self.settings.won_stages, opp.get("StageName"))
        problems += _unknown("lost_stages", self.settings.lost_stages, opp.get("StageName"))
        if problems:
            raise SourceError("; ".join(problems))

    def _fields(self, obj: str) -> dict[str, dict[str, Any]]:
        described = self.api.describe(obj)
        return {str(f["name"]): f for f in described.get("fields", [])}

    def close(self) -> None:
        if self._api is not None:
            self._api.close()


def _unknown(setting: str, values: Sequence[str], field: dict[str, Any] | None) -> list[str]:
    """Messages for the values the picklist ``field`` does not hold."""
    if not values or field is None:
        return []
    known = {str(v.get("value")) for v in field.get("picklistValues", [])}
    missing = [v for v in values if v not in known]
    if not missing:
        return []
    return [f"{setting}: {', '.join(repr(v) for v in missing)} not in {field['name']} "
            f"(it holds {', '.join(sorted(known))})"]
