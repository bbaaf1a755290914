"""The standard metric vocabulary.

Sources map what their API or file calls a figure onto these names, so that one KPI plugin
works with any source that offers the metric. A source may offer other metrics too; these are
the ones the built-in KPIs read, each with the aggregation that gives correct monthly figures.
"""

from __future__ import annotations

from kpireport.data import Aggregation, MetricSpec

A = Aggregation

_STANDARD = [
    # Web analytics
    MetricSpec("sessions", A.SUM, description="Sessions started"),
    MetricSpec("users", A.DISTINCT, description="Unique visitors (distinct over the range)"),
    MetricSpec("new_users", A.SUM, description="First-time visitors"),
    MetricSpec("pageviews", A.SUM, description="Pages (or screens) viewed"),
    MetricSpec("engaged_sessions", A.SUM, description="Sessions with engagement"),
    MetricSpec("avg_session_duration", A.WEIGHTED_MEAN, weight="sessions",
               description="Average session duration in seconds, weighted by sessions"),
    MetricSpec("time_on_page", A.WEIGHTED_MEAN, weight="pageviews",
               description="Average time on page in seconds, weighted by page views"),
    MetricSpec("conversions", A.SUM, description="Key events / goal completions"),
    MetricSpec("leads", A.SUM, description="Leads (form submissions, sign-ups, new CRM leads)"),
    MetricSpec("transactions", A.SUM, description="E-commerce orders"),
    MetricSpec("revenue", A.SUM, description="Revenue in the client's currency"),
    MetricSpec("conversion_rate", A.RATIO, numerator="conversions", denominator="sessions",
               description="Conversions per session"),
    # Search (Search Console)
    MetricSpec("clicks", A.SUM, description="Organic clicks"),
    MetricSpec("impressions", A.SUM, description="Organic impressions"),
    MetricSpec("ctr", A.RATIO, numerator="clicks", denominator="impressions",
               description="Click-through rate = Σclicks / Σimpressions"),
    MetricSpec("position", A.WEIGHTED_MEAN, weight="impressions",
               description="Average position, weighted by impressions"),
    # Commercial (CRM)
    MetricSpec("qualified_leads", A.SUM, description="Leads qualified by marketing or sales"),
    MetricSpec("opportunities", A.SUM, description="Opportunities / deals created"),
    MetricSpec("new_customers", A.SUM, description="Accounts that became customers"),
    MetricSpec("won_deals", A.SUM, description="Deals closed won"),
    MetricSpec("won_revenue", A.SUM, description="Amount of deals closed won"),
    MetricSpec("sales_cycle_days", A.WEIGHTED_MEAN, weight="won_deals",
               description="Days from creation to close of won deals, weighted by won deals"),
    # Ads
    MetricSpec("spend", A.SUM, description="Ad spend"),
    MetricSpec("ad_impressions", A.SUM, description="Ad impressions"),
    MetricSpec("ad_clicks", A.SUM, description="Ad clicks"),
    MetricSpec("ad_conversions", A.SUM, description="Conversions attributed to ads"),
    MetricSpec("conversion_value", A.SUM, description="Value of conversions attributed to ads"),
    MetricSpec("cost_per_result", A.RATIO, numerator="spend", denominator="ad_conversions",
               description="Spend per conversion"),
    MetricSpec("roas", A.RATIO, numerator="conversion_value", denominator="spend",
               description="Return on ad spend"),
]

STANDARD_METRICS: dict[str, MetricSpec] = {spec.name: spec for spec in _STANDARD}
"""Standard metric names and their aggregation."""

STANDARD_DIMENSIONS: dict[str, str] = {
    "channel": "Traffic channel (Organic Search, Direct, Paid Social…)",
    "source": "Traffic source / medium",
    "page": "Page path",
    "page_title": "Page title",
    "query": "Search query",
    "country": "Country",
    "device": "Device category",
    "campaign": "Ad campaign",
    "stage": "CRM stage",
}
"""Standard dimension names."""
