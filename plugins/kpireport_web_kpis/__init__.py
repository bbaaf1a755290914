"""Built-in web, e-commerce and SEO KPIs.

Each KPI reads standard metrics (see ``kpireport.metrics``) from whichever source of the client
offers them: GA4, Search Console, or CSV files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kpireport import Unit, hookimpl
from kpireport.kpis import Breakdown, Direction, Family, KpiDefinition, ratio

WEB = Family(id="web", label={"en": "Website and e-commerce", "fr": "Site web et e-commerce"},
             rank=20)
SEO = Family(id="seo", label={"en": "Search (SEO)", "fr": "Référencement naturel (SEO)"}, rank=30)
ADS = Family(id="ads", label={"en": "Advertising", "fr": "Publicité"}, rank=40)



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
        id="sessions", label={"en": "Sessions", "fr": "Sessions"}, unit=Unit.COUNT,
                  metrics=("sessions",), family=WEB,
        description={"en": "Visits to the site, summed over the period.",
                     "fr": "Visites du site, additionnées sur la période."},
    ),
    KpiDefinition(
        id="users", label={"en": "Unique visitors", "fr": "Visiteurs uniques"}, unit=Unit.COUNT,
                  metrics=("users",),
        family=WEB,
        description={"en": "People who visited, counted once over the whole period (not summed "
                           "from days).",
                     "fr": "Personnes venues sur le site, comptées une fois sur toute la période "
                           "(jamais additionnées jour par jour)."},
    ),
    KpiDefinition(
        id="pageviews", label={"en": "Pages viewed", "fr": "Pages vues"}, unit=Unit.COUNT,
                  metrics=("pageviews",),
        family=WEB,
        description={"en": "Pages and screens viewed.", "fr": "Pages et écrans consultés."},
    ),
    KpiDefinition(
        id="avg_session_duration",
        label={"en": "Average session duration", "fr": "Durée moyenne des sessions"},
        unit=Unit.DURATION, metrics=("avg_session_duration",), family=WEB,
        description={"en": "Mean session length, weighted by the sessions of each day.",
                     "fr": "Durée moyenne d'une session, pondérée par les sessions de chaque "
                           "jour."},
    ),
    KpiDefinition(
        id="time_on_page", label={"en": "Average time on page", "fr": "Temps moyen par page"},
        unit=Unit.DURATION, metrics=("time_on_page",), family=WEB,
        description={"en": "Mean time spent on a page, weighted by page views.",
                     "fr": "Temps moyen passé sur une page, pondéré par les pages vues."},
    ),
    KpiDefinition(
        id="leads", label={"en": "Leads", "fr": "Prospects"}, unit=Unit.COUNT, metrics=("leads",),
                  family=WEB,
        description={"en": "Contact requests, sign-ups or new CRM leads.",
                     "fr": "Demandes de contact, inscriptions ou nouveaux prospects du CRM."},
    ),
    KpiDefinition(
        id="conversion_rate", label={"en": "Conversion rate", "fr": "Taux de conversion"},
        unit=Unit.PERCENT, metrics=("conversions", "sessions"), family=WEB,
        formula=ratio("conversions", "sessions"),
        description={"en": "Conversions divided by sessions, both summed over the period.",
                     "fr": "Conversions divisées par les sessions, toutes deux additionnées sur "
                           "la période."},
    ),
    KpiDefinition(
        id="orders", label={"en": "Orders", "fr": "Commandes"}, unit=Unit.COUNT,
                  metrics=("transactions",), family=WEB,
        description={"en": "E-commerce orders.", "fr": "Commandes en ligne."},
    ),
    KpiDefinition(
        id="revenue", label={"en": "Online revenue", "fr": "Chiffre d'affaires en ligne"},
        unit=Unit.CURRENCY, metrics=("revenue",), family=WEB,
        description={"en": "Revenue of online orders.", "fr": "Montant des commandes en ligne."},
    ),
    KpiDefinition(
        id="top_pages", label={"en": "Top pages", "fr": "Pages les plus vues"}, unit=Unit.COUNT,
        metrics=("pageviews", "time_on_page"), family=WEB,
        breakdown=Breakdown(
            dimensions=("page", "page_title"), metric="pageviews", limit=10, columns=("pageviews",
                                                                                      "time_on_page"),
            column_labels={
                "page": {"en": "Page", "fr": "Page"},
                "page_title": {"en": "Title", "fr": "Titre"},
                "pageviews": {"en": "Views", "fr": "Vues"},
                "time_on_page": {"en": "Time on page", "fr": "Temps par page"},
                "conversions": {"en": "Conversions", "fr": "Conversions"},
                "revenue": {"en": "Revenue", "fr": "Chiffre d'affaires"},
            },
            column_units={"time_on_page": Unit.DURATION, "revenue": Unit.CURRENCY},
            # Where the client's analytics give them by page (GA4, a pages export with
            # those columns): what each page brings, beside what it is viewed.
            optional_columns=("conversions", "revenue"),
        ),
        description={"en": "The most viewed pages of the period.",
                     "fr": "Les pages les plus consultées de la période."},
    ),
    KpiDefinition(
        id="traffic_sources", label={"en": "Traffic sources", "fr": "Sources de trafic"},
                  unit=Unit.COUNT,
        metrics=("sessions", "conversions"), family=WEB,
        breakdown=Breakdown(
            dimensions=("channel",), metric="sessions", limit=10, columns=("sessions",
                                                                           "conversions"),
            column_labels={
                "channel": {"en": "Channel", "fr": "Canal"},
                "sessions": {"en": "Sessions", "fr": "Sessions"},
                "conversions": {"en": "Conversions", "fr": "Conversions"},
            },
            translated_values={"channel": GA4_CHANNELS},
        ),
        description={"en": "Sessions and conversions by channel.",
                     "fr": "Sessions et conversions par canal."},
        chart="bars",  # the channel mix, as bars above the table
    ),
]

SEARCH_CONSOLE_VALUES = frozenset({N_("(empty query)")})
"""The label the CSV source gives a query row whose cell is blank in an export."""

SEARCH_CONSOLE_DEVICES = frozenset({N_("Desktop"), N_("Mobile"), N_("Tablet")})
"""Search Console's devices, as its exports name them in English."""

_SEARCH_COLUMNS = {
    "clicks": {"en": "Clicks", "fr": "Clics"},
    "impressions": {"en": "Impressions", "fr": "Impressions"},
    "ctr": {"en": "CTR", "fr": "Taux de clic"},
    "position": {"en": "Position", "fr": "Position"},
}

SEO_KPIS = [
    KpiDefinition(
        id="organic_clicks", label={"en": "Organic clicks", "fr": "Clics naturels"},
                  unit=Unit.COUNT,
        metrics=("clicks",), family=SEO,
        description={"en": "Clicks from Google Search results.",
                     "fr": "Clics depuis les résultats de recherche Google."},
    ),
    KpiDefinition(
        id="impressions", label={"en": "Search impressions", "fr": "Impressions dans la recherche"},
        unit=Unit.COUNT, metrics=("impressions",), family=SEO,
        description={"en": "Times the site appeared in Google Search results.",
                     "fr": "Apparitions du site dans les résultats de recherche Google."},
    ),
    KpiDefinition(
        id="ctr", label={"en": "Click-through rate", "fr": "Taux de clic"}, unit=Unit.PERCENT,
        metrics=("clicks", "impressions"), family=SEO, formula=ratio("clicks", "impressions"),
        description={"en": "Clicks divided by impressions, both summed over the period.",
                     "fr": "Clics divisés par impressions, tous deux additionnés sur la période."},
    ),
    KpiDefinition(
        id="avg_position", label={"en": "Average position", "fr": "Position moyenne"},
                  unit=Unit.POSITION,
        metrics=("position",), direction=Direction.LOWER, family=SEO,
        description={"en": "Mean ranking in Google Search, weighted by impressions (lower is "
                           "better).",
                     "fr": "Classement moyen dans Google, pondéré par les impressions (plus bas "
                           "est meilleur)."},
    ),
    KpiDefinition(
        id="top_queries", label={"en": "Top search queries", "fr": "Principales requêtes"},
                  unit=Unit.COUNT,
        metrics=("clicks", "impressions", "ctr", "position"), family=SEO,
        breakdown=Breakdown(
            dimensions=("query",), metric="clicks", then_by=("impressions",), limit=10,
            columns=("clicks", "impressions", "ctr", "position"),
            column_labels={"query": {"en": "Query", "fr": "Requête"}, **_SEARCH_COLUMNS},
            column_units={"ctr": Unit.PERCENT, "position": Unit.POSITION},
            translated_values={"query": SEARCH_CONSOLE_VALUES},
        ),
        description={"en": "Search queries that brought the most clicks (then the most "
                           "impressions, as Search Console ranks them), with their click-through "
                           "rate and average position. Google leaves out the queries it hides "
                           "for privacy.",
                     "fr": "Les requêtes qui ont apporté le plus de clics (puis le plus "
                           "d'impressions, comme les classe la Search Console), avec leur taux "
                           "de clic et leur position moyenne. Google omet les requêtes qu'il "
                           "masque pour préserver l'anonymat."},
    ),
    KpiDefinition(
        id="search_top_pages",
        label={"en": "Top pages in Google Search", "fr": "Pages les plus cliquées dans Google"},
        unit=Unit.COUNT, metrics=("clicks", "impressions", "ctr", "position"), family=SEO,
        breakdown=Breakdown(
            dimensions=("page",), metric="clicks", then_by=("impressions",), limit=10,
            columns=("clicks", "impressions", "ctr", "position"),
            column_labels={"page": {"en": "Page", "fr": "Page"}, **_SEARCH_COLUMNS},
            column_units={"ctr": Unit.PERCENT, "position": Unit.POSITION},
        ),
        description={"en": "The site's pages that brought the most clicks from Google Search "
                           "(then the most impressions), with their click-through rate and "
                           "average position.",
                     "fr": "Les pages du site qui ont apporté le plus de clics depuis la "
                           "recherche Google (puis le plus d'impressions), avec leur taux de "
                           "clic et leur position moyenne."},
    ),
    KpiDefinition(
        id="branded_clicks", label={"en": "Branded clicks", "fr": "Clics sur la marque"},
        unit=Unit.COUNT, metrics=("clicks",), family=SEO, filter_on="query",
        description={"en": "Clicks from searches naming the brand (the brand terms of the "
                           "report's settings). Taken from exports, these count only the "
                           "queries listed: Google hides some queries for privacy.",
                     "fr": "Clics depuis des recherches citant la marque (ses termes, donnés "
                           "dans les réglages du rapport). Tirés des exports, ces clics ne "
                           "comptent que les requêtes listées : Google en masque certaines "
                           "pour protéger la vie privée."},
    ),
    KpiDefinition(
        id="non_branded_clicks",
        label={"en": "Non-branded clicks", "fr": "Clics hors marque"},
        unit=Unit.COUNT, metrics=("clicks",), family=SEO, filter_on="query",
        filter_negated=True,
        description={"en": "Clicks from searches that do not name the brand: people who found "
                           "the site without knowing it. Taken from exports, these count only "
                           "the queries listed: Google hides some queries for privacy.",
                     "fr": "Clics depuis des recherches qui ne citent pas la marque : des "
                           "personnes qui ont trouvé le site sans le connaître. Tirés des "
                           "exports, ces clics ne comptent que les requêtes listées : Google "
                           "en masque certaines pour protéger la vie privée."},
    ),
    KpiDefinition(
        id="clicks_by_device",
        label={"en": "Search clicks by device", "fr": "Clics de recherche par appareil"},
        unit=Unit.COUNT, metrics=("clicks", "impressions", "ctr", "position"), family=SEO,
        breakdown=Breakdown(
            dimensions=("device",), metric="clicks", then_by=("impressions",), limit=10,
            columns=("clicks", "impressions", "ctr", "position"),
            column_labels={"device": {"en": "Device", "fr": "Appareil"}, **_SEARCH_COLUMNS},
            column_units={"ctr": Unit.PERCENT, "position": Unit.POSITION},
            translated_values={"device": SEARCH_CONSOLE_DEVICES},
        ),
        description={"en": "Clicks from Google Search by device: computer, mobile, tablet.",
                     "fr": "Clics depuis la recherche Google par appareil : ordinateur, "
                           "mobile, tablette."},
    ),
    KpiDefinition(
        id="clicks_by_country",
        label={"en": "Search clicks by country", "fr": "Clics de recherche par pays"},
        unit=Unit.COUNT, metrics=("clicks", "impressions", "ctr", "position"), family=SEO,
        breakdown=Breakdown(
            dimensions=("country",), metric="clicks", then_by=("impressions",), limit=10,
            columns=("clicks", "impressions", "ctr", "position"),
            column_labels={"country": {"en": "Country", "fr": "Pays"}, **_SEARCH_COLUMNS},
            column_units={"ctr": Unit.PERCENT, "position": Unit.POSITION},
        ),
        description={"en": "Clicks from Google Search by the searcher's country.",
                     "fr": "Clics depuis la recherche Google selon le pays de l'internaute."},
    ),
]

ADS_KPIS = [
    KpiDefinition(
        id="ad_spend", label={"en": "Ad spend", "fr": "Dépenses publicitaires"}, unit=Unit.CURRENCY,
        metrics=("spend",), direction=Direction.LOWER, family=ADS,
        description={"en": "Amount spent on ads in the period.",
                     "fr": "Montant dépensé en publicité sur la période."},
    ),
    KpiDefinition(
        id="ad_conversions", label={"en": "Ad conversions", "fr": "Conversions publicitaires"},
        unit=Unit.COUNT, metrics=("ad_conversions",), family=ADS,
        description={"en": "Conversions attributed to ads (pixel or API events).",
                     "fr": "Conversions attribuées aux publicités (pixel ou événements API)."},
    ),
    KpiDefinition(
        id="cost_per_result", label={"en": "Cost per result", "fr": "Coût par résultat"},
        unit=Unit.CURRENCY, metrics=("spend", "ad_conversions"), direction=Direction.LOWER,
                  family=ADS,
        formula=ratio("spend", "ad_conversions"),
        description={"en": "Spend divided by conversions, both summed over the period.",
                     "fr": "Dépenses divisées par les conversions, toutes deux additionnées "
                           "sur la période."},
    ),
    KpiDefinition(
        id="roas", label={"en": "Return on ad spend", "fr": "Retour sur dépenses publicitaires"},
        unit=Unit.RATIO, metrics=("conversion_value", "spend"), family=ADS,
        formula=ratio("conversion_value", "spend"),
        description={"en": "Value of ad conversions divided by spend (3.0× = 3 for 1).",
                     "fr": "Valeur des conversions publicitaires divisée par les dépenses "
                           "(3,0× = 3 pour 1)."},
    ),
]




def per_thousand(numerator: str, denominator: str) -> Callable[[Mapping[str, float | None]],
                                                               float | None]:
    """1000 × Σnumerator / Σdenominator (CPM): a ratio of sums, scaled."""
    base = ratio(numerator, denominator)

    def formula(values: Mapping[str, float | None]) -> float | None:
        value = base(values)
        return None if value is None else 1000 * value

    formula.__name__ = f"per_thousand({numerator}/{denominator})"
    return formula


ADS_KPIS += [
    KpiDefinition(
        id="ad_impressions", label={"en": "Ad impressions", "fr": "Impressions publicitaires"},
        unit=Unit.COUNT, metrics=("ad_impressions",), family=ADS,
        description={"en": "Times the ads were shown.",
                     "fr": "Nombre d'affichages des publicités."},
    ),
    KpiDefinition(
        id="ad_reach", label={"en": "Reach", "fr": "Couverture"}, unit=Unit.COUNT,
        metrics=("reach",), family=ADS,
        description={"en": "People who saw an ad at least once, counted once over the whole "
                           "period (not summed from days).",
                     "fr": "Personnes ayant vu au moins une publicité, comptées une fois sur "
                           "toute la période (jamais additionnées jour par jour)."},
    ),
    KpiDefinition(
        id="ad_clicks", label={"en": "Ad clicks", "fr": "Clics publicitaires"},
        unit=Unit.COUNT, metrics=("ad_clicks",), family=ADS,
        description={"en": "Clicks on the ads.", "fr": "Clics sur les publicités."},
    ),
    KpiDefinition(
        id="ad_ctr", label={"en": "Ad click-through rate", "fr": "Taux de clic publicitaire"},
        unit=Unit.PERCENT, metrics=("ad_clicks", "ad_impressions"), family=ADS,
        formula=ratio("ad_clicks", "ad_impressions"),
        description={"en": "Ad clicks divided by ad impressions, both summed over the period.",
                     "fr": "Clics divisés par impressions publicitaires, tous deux additionnés "
                           "sur la période."},
    ),
    KpiDefinition(
        id="ad_cpc", label={"en": "Cost per click", "fr": "Coût par clic"}, unit=Unit.CURRENCY,
        metrics=("spend", "ad_clicks"), direction=Direction.LOWER, family=ADS,
        formula=ratio("spend", "ad_clicks"),
        description={"en": "Spend divided by ad clicks, both summed over the period.",
                     "fr": "Dépenses divisées par les clics, tous deux additionnés sur la "
                           "période."},
    ),
    KpiDefinition(
        id="ad_cpm", label={"en": "Cost per 1,000 impressions", "fr": "Coût pour 1 000 "
                                                                     "impressions"},
        unit=Unit.CURRENCY, metrics=("spend", "ad_impressions"), direction=Direction.LOWER,
        family=ADS, formula=per_thousand("spend", "ad_impressions"),
        description={"en": "Spend per thousand ad impressions (CPM): 1,000 × spend ÷ "
                           "impressions, both summed over the period.",
                     "fr": "Dépenses pour mille impressions (CPM) : 1 000 × dépenses ÷ "
                           "impressions, toutes deux additionnées sur la période."},
    ),
    KpiDefinition(
        id="ad_conversion_value", label={"en": "Ad conversion value",
                                         "fr": "Valeur des conversions publicitaires"},
        unit=Unit.CURRENCY, metrics=("conversion_value",), family=ADS,
        description={"en": "Value of the conversions attributed to ads (the purchases' "
                           "amounts).",
                     "fr": "Valeur des conversions attribuées aux publicités (montant des "
                           "achats)."},
    ),
    KpiDefinition(
        id="ad_purchases", label={"en": "Purchases from ads", "fr": "Achats issus des "
                                                                  "publicités"},
        unit=Unit.COUNT, metrics=("ad_purchases",), family=ADS,
        description={"en": "Purchases attributed to ads.",
                     "fr": "Achats attribués aux publicités."},
    ),
    KpiDefinition(
        id="cost_per_purchase", label={"en": "Cost per purchase", "fr": "Coût par achat"},
        unit=Unit.CURRENCY, metrics=("spend", "ad_purchases"), direction=Direction.LOWER,
        family=ADS, formula=ratio("spend", "ad_purchases"),
        description={"en": "Spend divided by purchases from ads, both summed over the period.",
                     "fr": "Dépenses divisées par les achats issus des publicités, tous deux "
                           "additionnés sur la période."},
    ),
    KpiDefinition(
        id="ad_leads", label={"en": "Leads from ads", "fr": "Prospects issus des publicités"},
        unit=Unit.COUNT, metrics=("ad_leads",), family=ADS,
        description={"en": "Leads attributed to ads.",
                     "fr": "Prospects attribués aux publicités."},
    ),
    KpiDefinition(
        id="cost_per_lead", label={"en": "Cost per lead", "fr": "Coût par prospect"},
        unit=Unit.CURRENCY, metrics=("spend", "ad_leads"), direction=Direction.LOWER,
        family=ADS, formula=ratio("spend", "ad_leads"),
        description={"en": "Spend divided by leads from ads, both summed over the period.",
                     "fr": "Dépenses divisées par les prospects issus des publicités, tous "
                           "deux additionnés sur la période."},
    ),
    KpiDefinition(
        id="ad_registrations", label={"en": "Registrations from ads",
                                      "fr": "Inscriptions issues des publicités"},
        unit=Unit.COUNT, metrics=("ad_registrations",), family=ADS,
        description={"en": "Completed registrations attributed to ads.",
                     "fr": "Inscriptions terminées attribuées aux publicités."},
    ),
    KpiDefinition(
        id="ad_adds_to_cart", label={"en": "Adds to cart from ads",
                                     "fr": "Ajouts au panier issus des publicités"},
        unit=Unit.COUNT, metrics=("ad_adds_to_cart",), family=ADS,
        description={"en": "Adds to cart attributed to ads.",
                     "fr": "Ajouts au panier attribués aux publicités."},
    ),
    KpiDefinition(
        id="top_campaigns", label={"en": "Top campaigns", "fr": "Principales campagnes"},
        unit=Unit.CURRENCY, metrics=("spend", "ad_conversions", "cost_per_result", "roas"),
        family=ADS,
        breakdown=Breakdown(
            dimensions=("campaign",), metric="spend", limit=10,
            columns=("spend", "ad_conversions", "cost_per_result", "roas"),
            column_labels={
                "campaign": {"en": "Campaign", "fr": "Campagne"},
                "spend": {"en": "Spend", "fr": "Dépenses"},
                "ad_conversions": {"en": "Results", "fr": "Résultats"},
                "cost_per_result": {"en": "Cost per result", "fr": "Coût par résultat"},
                "roas": {"en": "ROAS", "fr": "ROAS"},
            },
            column_units={"spend": Unit.CURRENCY, "cost_per_result": Unit.CURRENCY,
                          "roas": Unit.RATIO},
        ),
        description={"en": "The campaigns that spent the most: spend, results, cost per "
                           "result and return on ad spend, each campaign on its own row.",
                     "fr": "Les campagnes qui ont le plus dépensé : dépenses, résultats, coût "
                           "par résultat et retour sur dépenses, une ligne par campagne."},
    ),
]


@hookimpl
def register_kpis(register: Callable[[KpiDefinition], None]) -> None:
    for kpi in (*WEB_KPIS, *SEO_KPIS, *ADS_KPIS):
        register(kpi)
