"""Built-in web, e-commerce and SEO KPIs.

Each KPI reads standard metrics (see ``kpireport.metrics``) from whichever source of the client
offers them: GA4, Search Console, or CSV files.
"""

from __future__ import annotations

from collections.abc import Callable

from kpireport import hookimpl
from kpireport.kpis import Breakdown, Direction, Family, KpiDefinition, Unit, ratio

WEB = Family("web", {"en": "Website and e-commerce", "fr": "Site web et e-commerce"}, rank=20)
SEO = Family("seo", {"en": "Search (SEO)", "fr": "Référencement naturel (SEO)"}, rank=30)
ADS = Family("ads", {"en": "Advertising", "fr": "Publicité"}, rank=40)



def N_(message: str) -> str:
    """Babel's marker for a message the theme's translations carry (see babel.cfg)."""
    return message


GA4_CHANNELS = frozenset({
    N_("Organic Search"), N_("Paid Search"), N_("Direct"), N_("Referral"), N_("Email"),
    N_("Organic Social"), N_("Paid Social"), N_("Display"), N_("Affiliates"),
    N_("Organic Video"), N_("Paid Video"), N_("Organic Shopping"), N_("Paid Shopping"),
    N_("Cross-network"), N_("Paid Other"), N_("Audio"), N_("SMS"),
    N_("Mobile Push Notifications"), N_("Unassigned"),
})
"""Google Analytics 4's default channel groups, as its exports name them in English: the
report prints them in its language (the theme's translations carry them)."""

WEB_KPIS = [
    KpiDefinition(
        "sessions", {"en": "Sessions", "fr": "Sessions"}, Unit.COUNT, ("sessions",), family=WEB,
        description={"en": "Visits to the site, summed over the period.",
                     "fr": "Visites du site, additionnées sur la période."},
    ),
    KpiDefinition(
        "users", {"en": "Unique visitors", "fr": "Visiteurs uniques"}, Unit.COUNT, ("users",),
        family=WEB,
        description={"en": "People who visited, counted once over the whole period (not summed "
                           "from days).",
                     "fr": "Personnes venues sur le site, comptées une fois sur toute la période "
                           "(jamais additionnées jour par jour)."},
    ),
    KpiDefinition(
        "pageviews", {"en": "Pages viewed", "fr": "Pages vues"}, Unit.COUNT, ("pageviews",),
        family=WEB,
        description={"en": "Pages and screens viewed.", "fr": "Pages et écrans consultés."},
    ),
    KpiDefinition(
        "avg_session_duration",
        {"en": "Average session duration", "fr": "Durée moyenne des sessions"},
        Unit.DURATION, ("avg_session_duration",), family=WEB,
        description={"en": "Mean session length, weighted by the sessions of each day.",
                     "fr": "Durée moyenne d'une session, pondérée par les sessions de chaque "
                           "jour."},
    ),
    KpiDefinition(
        "time_on_page", {"en": "Average time on page", "fr": "Temps moyen par page"},
        Unit.DURATION, ("time_on_page",), family=WEB,
        description={"en": "Mean time spent on a page, weighted by page views.",
                     "fr": "Temps moyen passé sur une page, pondéré par les pages vues."},
    ),
    KpiDefinition(
        "leads", {"en": "Leads", "fr": "Prospects"}, Unit.COUNT, ("leads",), family=WEB,
        description={"en": "Contact requests, sign-ups or new CRM leads.",
                     "fr": "Demandes de contact, inscriptions ou nouveaux prospects du CRM."},
    ),
    KpiDefinition(
        "conversion_rate", {"en": "Conversion rate", "fr": "Taux de conversion"},
        Unit.PERCENT, ("conversions", "sessions"), family=WEB,
        formula=ratio("conversions", "sessions"),
        description={"en": "Conversions divided by sessions, both summed over the period.",
                     "fr": "Conversions divisées par les sessions, toutes deux additionnées sur "
                           "la période."},
    ),
    KpiDefinition(
        "orders", {"en": "Orders", "fr": "Commandes"}, Unit.COUNT, ("transactions",), family=WEB,
        description={"en": "E-commerce orders.", "fr": "Commandes en ligne."},
    ),
    KpiDefinition(
        "revenue", {"en": "Online revenue", "fr": "Chiffre d'affaires en ligne"},
        Unit.CURRENCY, ("revenue",), family=WEB,
        description={"en": "Revenue of online orders.", "fr": "Montant des commandes en ligne."},
    ),
    KpiDefinition(
        "top_pages", {"en": "Top pages", "fr": "Pages les plus vues"}, Unit.COUNT,
        ("pageviews", "time_on_page"), family=WEB,
        breakdown=Breakdown(
            ("page", "page_title"), "pageviews", 10, ("pageviews", "time_on_page"),
            column_labels={
                "page": {"en": "Page", "fr": "Page"},
                "page_title": {"en": "Title", "fr": "Titre"},
                "pageviews": {"en": "Views", "fr": "Vues"},
                "time_on_page": {"en": "Time on page", "fr": "Temps par page"},
            },
            column_units={"time_on_page": Unit.DURATION},
        ),
        description={"en": "The most viewed pages of the period.",
                     "fr": "Les pages les plus consultées de la période."},
    ),
    KpiDefinition(
        "traffic_sources", {"en": "Traffic sources", "fr": "Sources de trafic"}, Unit.COUNT,
        ("sessions", "conversions"), family=WEB,
        breakdown=Breakdown(
            ("channel",), "sessions", 10, ("sessions", "conversions"),
            column_labels={
                "channel": {"en": "Channel", "fr": "Canal"},
                "sessions": {"en": "Sessions", "fr": "Sessions"},
                "conversions": {"en": "Conversions", "fr": "Conversions"},
            },
            translated_values={"channel": GA4_CHANNELS},
        ),
        description={"en": "Sessions and conversions by channel.",
                     "fr": "Sessions et conversions par canal."},
    ),
]

SEO_KPIS = [
    KpiDefinition(
        "organic_clicks", {"en": "Organic clicks", "fr": "Clics naturels"}, Unit.COUNT,
        ("clicks",), family=SEO,
        description={"en": "Clicks from Google Search results.",
                     "fr": "Clics depuis les résultats de recherche Google."},
    ),
    KpiDefinition(
        "impressions", {"en": "Search impressions", "fr": "Impressions dans la recherche"},
        Unit.COUNT, ("impressions",), family=SEO,
        description={"en": "Times the site appeared in Google Search results.",
                     "fr": "Apparitions du site dans les résultats de recherche Google."},
    ),
    KpiDefinition(
        "ctr", {"en": "Click-through rate", "fr": "Taux de clic"}, Unit.PERCENT,
        ("clicks", "impressions"), family=SEO, formula=ratio("clicks", "impressions"),
        description={"en": "Clicks divided by impressions, both summed over the period.",
                     "fr": "Clics divisés par impressions, tous deux additionnés sur la période."},
    ),
    KpiDefinition(
        "avg_position", {"en": "Average position", "fr": "Position moyenne"}, Unit.POSITION,
        ("position",), direction=Direction.LOWER, family=SEO,
        description={"en": "Mean ranking in Google Search, weighted by impressions (lower is "
                           "better).",
                     "fr": "Classement moyen dans Google, pondéré par les impressions (plus bas "
                           "est meilleur)."},
    ),
    KpiDefinition(
        "top_queries", {"en": "Top search queries", "fr": "Principales requêtes"}, Unit.COUNT,
        ("clicks", "impressions", "position"), family=SEO,
        breakdown=Breakdown(
            ("query",), "clicks", 10, ("clicks", "impressions", "position"),
            column_labels={
                "query": {"en": "Query", "fr": "Requête"},
                "clicks": {"en": "Clicks", "fr": "Clics"},
                "impressions": {"en": "Impressions", "fr": "Impressions"},
                "position": {"en": "Position", "fr": "Position"},
            },
            column_units={"position": Unit.POSITION},
        ),
        description={"en": "Search queries that brought the most clicks.",
                     "fr": "Les requêtes qui ont apporté le plus de clics."},
    ),
]

ADS_KPIS = [
    KpiDefinition(
        "ad_spend", {"en": "Ad spend", "fr": "Dépenses publicitaires"}, Unit.CURRENCY,
        ("spend",), direction=Direction.LOWER, family=ADS,
        description={"en": "Amount spent on ads in the period.",
                     "fr": "Montant dépensé en publicité sur la période."},
    ),
    KpiDefinition(
        "ad_conversions", {"en": "Ad conversions", "fr": "Conversions publicitaires"},
        Unit.COUNT, ("ad_conversions",), family=ADS,
        description={"en": "Conversions attributed to ads (pixel or API events).",
                     "fr": "Conversions attribuées aux publicités (pixel ou événements API)."},
    ),
    KpiDefinition(
        "cost_per_result", {"en": "Cost per result", "fr": "Coût par résultat"},
        Unit.CURRENCY, ("spend", "ad_conversions"), direction=Direction.LOWER, family=ADS,
        formula=ratio("spend", "ad_conversions"),
        description={"en": "Spend divided by conversions, both summed over the period.",
                     "fr": "Dépenses divisées par les conversions, toutes deux additionnées "
                           "sur la période."},
    ),
    KpiDefinition(
        "roas", {"en": "Return on ad spend", "fr": "Retour sur dépenses publicitaires"},
        Unit.RATIO, ("conversion_value", "spend"), family=ADS,
        formula=ratio("conversion_value", "spend"),
        description={"en": "Value of ad conversions divided by spend (3.0× = 3 for 1).",
                     "fr": "Valeur des conversions publicitaires divisée par les dépenses "
                           "(3,0× = 3 pour 1)."},
    ),
]


@hookimpl
def register_kpis(register: Callable[[KpiDefinition], None]) -> None:
    for kpi in (*WEB_KPIS, *SEO_KPIS, *ADS_KPIS):
        register(kpi)
