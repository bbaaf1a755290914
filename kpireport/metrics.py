"""The standard metric vocabulary.

Sources map what their API or file calls a figure onto these names, so that one KPI plugin
works with any source that offers the metric. A source may offer other metrics too; these are
the ones the built-in KPIs read, each with the aggregation that gives correct monthly figures.
"""

from __future__ import annotations

from kpireport.data import Aggregation, MetricSpec, Unit

A = Aggregation
U = Unit

_STANDARD = [
    # Web analytics
    MetricSpec(name="sessions", aggregation=A.SUM, description="Sessions started"),
    MetricSpec(name="users", aggregation=A.DISTINCT,
               description="Unique visitors (distinct over the range)"),
    MetricSpec(name="new_users", aggregation=A.SUM, description="First-time visitors"),
    MetricSpec(name="pageviews", aggregation=A.SUM, description="Pages (or screens) viewed"),
    MetricSpec(name="engaged_sessions", aggregation=A.SUM, description="Sessions with engagement"),
    MetricSpec(name="avg_session_duration", unit=U.DURATION, aggregation=A.WEIGHTED_MEAN,
               weight="sessions",
               description="Average session duration in seconds, weighted by sessions"),
    MetricSpec(name="time_on_page", unit=U.DURATION, aggregation=A.WEIGHTED_MEAN,
               weight="pageviews",
               description="Average time on page in seconds, weighted by page views"),
    MetricSpec(name="conversions", aggregation=A.SUM, description="Key events / goal completions"),
    MetricSpec(name="leads", aggregation=A.SUM,
               description="Leads (form submissions, sign-ups, new CRM leads)"),
    MetricSpec(name="transactions", aggregation=A.SUM, description="E-commerce orders"),
    MetricSpec(name="revenue", unit=U.CURRENCY, aggregation=A.SUM,
               description="Revenue in the client's currency"),
    MetricSpec(name="conversion_rate", unit=U.PERCENT, aggregation=A.RATIO, numerator="conversions",
               denominator="sessions",
               description="Conversions per session"),
    # Search (Search Console)
    MetricSpec(name="clicks", aggregation=A.SUM, description="Organic clicks"),
    MetricSpec(name="impressions", aggregation=A.SUM, description="Organic impressions"),
    MetricSpec(name="ctr", unit=U.PERCENT, aggregation=A.RATIO, numerator="clicks",
               denominator="impressions",
               description="Click-through rate = Σclicks / Σimpressions"),
    MetricSpec(name="position", unit=U.POSITION, aggregation=A.WEIGHTED_MEAN, weight="impressions",
               description="Average position, weighted by impressions"),
    # Commercial (CRM)
    MetricSpec(name="qualified_leads", aggregation=A.SUM,
               description="Leads qualified by marketing or sales"),
    MetricSpec(name="opportunities", aggregation=A.SUM,
               description="Opportunities / deals created"),
    MetricSpec(name="new_customers", aggregation=A.SUM,
               description="Accounts that became customers"),
    MetricSpec(name="won_deals", aggregation=A.SUM, description="Deals closed won"),
    MetricSpec(name="won_revenue", unit=U.CURRENCY, aggregation=A.SUM,
               description="Amount of deals closed won"),
    MetricSpec(name="sales_cycle_days", unit=U.DURATION, aggregation=A.WEIGHTED_MEAN,
               weight="won_deals",
               description="Days from creation to close of won deals, weighted by won deals"),
    MetricSpec(name="lost_deals", aggregation=A.SUM, description="Deals closed lost"),
    MetricSpec(name="pipeline_value", unit=U.CURRENCY, aggregation=A.SUM,
               description="Amount of the opportunities / deals created"),
    MetricSpec(name="lead_conversion_rate", unit=U.PERCENT, aggregation=A.RATIO,
               numerator="new_customers", denominator="leads",
               description="New customers per lead created = Σnew_customers / Σleads"),
    # Ads
    MetricSpec(name="spend", unit=U.CURRENCY, aggregation=A.SUM, description="Ad spend"),
    MetricSpec(name="ad_impressions", aggregation=A.SUM, description="Ad impressions"),
    MetricSpec(name="reach", aggregation=A.DISTINCT,
               description="People who saw an ad at least once (distinct over the range)"),
    MetricSpec(name="ad_clicks", aggregation=A.SUM, description="Ad clicks"),
    MetricSpec(name="ad_ctr", unit=U.PERCENT, aggregation=A.RATIO, numerator="ad_clicks",
               denominator="ad_impressions",
               description="Ad click-through rate = Σad_clicks / Σad_impressions"),
    MetricSpec(name="cpc", unit=U.CURRENCY, aggregation=A.RATIO, numerator="spend",
               denominator="ad_clicks", description="Cost per click = Σspend / Σad_clicks"),
    # CPM (1000 × spend / impressions) is no metric: a ratio of sums has no scale, so the
    # ad_cpm KPI computes it from spend and ad_impressions.
    MetricSpec(name="ad_conversions", aggregation=A.SUM,
               description="Conversions attributed to ads: the result the client's ads aim at"),
    MetricSpec(name="ad_purchases", aggregation=A.SUM,
               description="Purchases attributed to ads (one event type, never its aliases)"),
    MetricSpec(name="ad_leads", aggregation=A.SUM, description="Leads attributed to ads"),
    MetricSpec(name="ad_registrations", aggregation=A.SUM,
               description="Completed registrations attributed to ads"),
    MetricSpec(name="ad_adds_to_cart", aggregation=A.SUM,
               description="Adds to cart attributed to ads"),
    MetricSpec(name="conversion_value", unit=U.CURRENCY, aggregation=A.SUM,
               description="Value of conversions attributed to ads"),
    MetricSpec(name="cost_per_result", unit=U.CURRENCY, aggregation=A.RATIO, numerator="spend",
               denominator="ad_conversions",
               description="Spend per conversion"),
    MetricSpec(name="roas", unit=U.RATIO, aggregation=A.RATIO, numerator="conversion_value",
               denominator="spend",
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
    "pipeline": "CRM pipeline (HubSpot deal pipelines)",
    "owner": "CRM record owner",
    "lead_source": "Where a CRM lead or deal came from",
}
"""Standard dimension names."""
