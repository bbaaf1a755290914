#!/usr/bin/env python3
"""Generate the bundled sample data of ``config.example.yaml``.

Three fictional clients of the fictional agency Northstar Digital:

* ``maison-lumiere``: a French organic cosmetics e-shop (Europe/Paris, EUR);
* ``northwind-dental``: a US group of dental clinics doing lead generation (America/New_York, USD);
* ``acme-robotics``: a UK maker of industrial robots selling B2B (Europe/London, GBP).

For each, daily web analytics (by channel, by page, unique visitors by day and by month), and
where the business has one, a CRM export and monthly Search Console web-UI exports. The data has
a trend, weekly and yearly seasonality, noise and a few events (a tracking outage, campaigns, a
trade show, a Google core update), so that reports, comparisons and objectives have something to
say.

The output is deterministic: one seed, the standard library only, and the same bytes on every
run. Run from anywhere::

    python examples/generate_sample_data.py            # writes examples/data/
    python examples/generate_sample_data.py --out DIR  # writes DIR/<client>/ instead

The output folder's client sub-folders are replaced as a whole, so files that a previous version
wrote and this one does not are removed.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import math
import random
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SEED = 2026
START = dt.date(2024, 9, 1)
"""First day written."""
END = dt.date(2026, 11, 24)
"""Last day written (the example's "yesterday")."""
WARMUP = dt.date(2024, 3, 1)
"""Simulated but not written: CRM deals that close from START on were opened before it."""
LAST_FULL_MONTH = dt.date(2026, 10, 1)

CHANNELS = ("Organic Search", "Direct", "Paid Search", "Paid Social", "Referral", "Email")
DAY = dt.timedelta(days=1)
OUT = Path(__file__).resolve().parent / "data"


# --- Small helpers: calendar, random draws, rounding ---------------------------------------------


def days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + DAY * i for i in range((end - start).days + 1)]


def months(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of the months from ``start``'s to ``end``'s, inclusive."""
    out, cursor = [], start.replace(day=1)
    while cursor <= end:
        out.append(cursor)
        cursor = (cursor + dt.timedelta(days=32)).replace(day=1)
    return out


def month_end(first: dt.date) -> dt.date:
    return (first + dt.timedelta(days=32)).replace(day=1) - DAY


def years_since_start(d: dt.date) -> float:
    return (d - START).days / 365.25


def nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th (1-based; -1 for the last) given weekday (0 = Monday) of a month."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + DAY * ((weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = month_end(dt.date(year, month, 1))
    return last - DAY * ((last.weekday() - weekday) % 7)


def easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def black_friday(year: int) -> dt.date:
    return nth_weekday(year, 11, 3, 4) + DAY


def us_holidays(year: int) -> set[dt.date]:
    return {
        dt.date(year, 1, 1), nth_weekday(year, 5, 0, -1), dt.date(year, 7, 4),
        nth_weekday(year, 9, 0, 1), nth_weekday(year, 11, 3, 4), dt.date(year, 12, 25),
    }


def uk_holidays(year: int) -> set[dt.date]:
    e = easter(year)
    return {
        dt.date(year, 1, 1), e - 2 * DAY, e + DAY, nth_weekday(year, 5, 0, 1),
        nth_weekday(year, 5, 0, -1), nth_weekday(year, 8, 0, -1), dt.date(year, 12, 25),
        dt.date(year, 12, 26),
    }


def in_window(d: dt.date, start: dt.date, length: int) -> bool:
    return start <= d < start + DAY * length


def pulse(d: dt.date, start: dt.date, length: int, peak: float, decay: float = 0.0) -> float:
    """A multiplier: ``peak`` from ``start`` for ``length`` days, then fading by ``decay`` a day."""
    if d < start:
        return 1.0
    offset = (d - start).days
    if offset < length:
        return peak
    if decay <= 0:
        return 1.0
    return 1.0 + (peak - 1.0) * math.exp(-decay * (offset - length + 1))


def ramp(d: dt.date, start: dt.date, length: int, gain: float) -> float:
    """A step up by ``gain`` (0.15 = +15 %) phased in linearly over ``length`` days."""
    if d < start:
        return 1.0
    return 1.0 + gain * min(1.0, ((d - start).days + 1) / length)


def path(d: dt.date, points: Sequence[tuple[dt.date, float]]) -> float:
    """A value following straight lines between dated points (flat beyond them)."""
    if d <= points[0][0]:
        return points[0][1]
    for (d0, v0), (d1, v1) in itertools.pairwise(points):
        if d <= d1:
            return v0 + (v1 - v0) * (d - d0).days / (d1 - d0).days
    return points[-1][1]


def yearly(d: dt.date, by_month: Sequence[float]) -> float:
    """Smooth yearly seasonality: ``by_month`` (January first) at mid-month, linear between."""
    t = d.month - 1 + (d.day - 0.5) / month_end(d.replace(day=1)).day - 0.5
    i = math.floor(t)
    frac = t - i
    return by_month[i % 12] * (1 - frac) + by_month[(i + 1) % 12] * frac


def ar_noise(rng: random.Random, n: int, phi: float, sigma: float) -> list[float]:
    """Multipliers exp(x) with x an AR(1) series of stationary standard deviation ``sigma``."""
    out, x = [], 0.0
    step = sigma * math.sqrt(1 - phi * phi)
    for _ in range(n):
        x = phi * x + rng.gauss(0.0, step)
        out.append(math.exp(x))
    return out


def jitter(rng: random.Random, sigma: float) -> float:
    return math.exp(rng.gauss(0.0, sigma))


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam < 30:
        limit, k, p = math.exp(-lam), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))


def binomial(rng: random.Random, n: int, p: float) -> int:
    if n <= 0 or p <= 0:
        return 0
    if n < 80:
        return sum(rng.random() < p for _ in range(n))
    return min(n, max(0, round(rng.gauss(n * p, math.sqrt(n * p * (1 - p))))))


def split(total: int, weights: Sequence[float]) -> list[int]:
    """Integers proportional to ``weights`` that add up to ``total`` (largest remainder)."""
    s = sum(weights)
    if total <= 0 or s <= 0:
        return [0] * len(weights)
    raw = [total * w / s for w in weights]
    out = [math.floor(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (out[i] - raw[i], i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def money(x: float) -> str:
    return f"{x:.2f}"


def one_decimal(x: float) -> str:
    return f"{x:.1f}"


def write_csv(file: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    with file.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


# --- Client profiles -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Channel:
    share: float
    """Share of the client's non-organic base traffic (organic comes from search)."""
    new: float
    """New users per session."""
    pages: float
    """Pages per session."""
    engaged: float
    """Engaged sessions per session."""
    duration: float
    """Average session duration, seconds."""
    conversion: float
    """Key events per session: purchases (shop), leads (others)."""
    signup: float = 0.0
    """Newsletter sign-ups (shop) or content downloads (B2B) per session."""


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    weight: float
    """Share of page views (relative)."""
    seconds: float
    """Typical time on page."""
    seo: float = 0.0
    """Share of organic clicks (relative); 0 for pages Google does not send people to."""
    position: float = 12.0
    since: dt.date | None = None
    season: Callable[[dt.date], float] | None = None
    converts: float = 0.0
    """Conversions credited to the page per page view (relative): a client whose pages all
    say 0 has no conversions by page."""


@dataclass(frozen=True)
class Query:
    text: str
    weight: float
    """Share of impressions (relative)."""
    position: float
    """Position when the site's average position is the reference one."""
    brand: bool = False
    season: Callable[[dt.date], float] | None = None


@dataclass
class Search:
    """How the client's site does in Google Search."""

    site: str
    impressions: float
    """Impressions a day at START, before seasonality."""
    growth: float
    """Yearly impression growth (0.2 = +20 %)."""
    position: Sequence[tuple[dt.date, float]]
    ctr_at: tuple[float, float]
    """(position, CTR) of the property: the CTR when the average position is that one."""
    ctr_slope: float
    """Relative CTR gained per position climbed."""
    other_engines: float
    """Organic sessions per Google click (Bing, Qwant, Ecosia, DuckDuckGo…)."""
    queries: Sequence[Query]
    query_click_share: float
    """Share of clicks the export lists by query (the rest are anonymised queries)."""
    query_impression_share: float
    """Share of impressions the export lists by query."""
    countries: Sequence[tuple[str, float, float, float]]
    """(country, share of impressions, relative CTR, position offset)."""
    devices: Sequence[tuple[str, float, float, float]]
    events: Callable[[dt.date], float] = lambda d: 0.0
    """Added to the position on a given day (a core update, say)."""


@dataclass
class Client:
    id: str
    weekly: Sequence[float]
    """Monday first."""
    seasons: Sequence[float]
    """By month, January first."""
    base: float
    """Non-organic sessions a day at START, before seasonality."""
    growth: float
    channels: dict[str, Channel]
    pages: Sequence[Page]
    sessions_per_user: float
    monthly_users_ratio: float
    """Monthly unique visitors / sum of the month's daily visitors."""
    ecommerce: bool = False
    search: Search | None = None
    organic_share: float = 0.0
    """Without a Search Console export: organic sessions as a share of the base."""
    holidays: Callable[[int], set[dt.date]] = lambda year: set()
    holiday_factor: float = 1.0
    extra: Callable[[dt.date, str], float] = lambda d, channel: 1.0
    """Campaigns and events: a multiplier per day and channel."""
    conversion_factor: Callable[[dt.date], float] = lambda d: 1.0
    engagement_factor: Callable[[dt.date], float] = lambda d: 1.0
    outage: set[dt.date] = field(default_factory=set)
    """Days the conversion tag did not fire: sessions recorded, conversions lost."""
    order_value: Callable[[dt.date], float] = lambda d: 0.0


def factor(client: Client, d: dt.date) -> float:
    """Trend × weekday × season × public holidays, for the non-organic base traffic."""
    f = (1 + client.growth) ** years_since_start(d)
    f *= client.weekly[d.weekday()] * yearly(d, client.seasons)
    if d in client.holidays(d.year):
        f *= client.holiday_factor
    return f


# --- Maison Lumière: French organic cosmetics e-shop ---------------------------------------------


def soldes(year: int) -> tuple[dt.date, dt.date]:
    """French winter and summer sales: second Wednesday of January, last Wednesday of June."""
    return nth_weekday(year, 1, 2, 2), nth_weekday(year, 6, 2, -1)


def shop_events(d: dt.date, channel: str) -> float:
    f = 1.0
    bf = black_friday(d.year)
    offset = (d - bf).days
    winter, summer = soldes(d.year)
    if d.month in (11, 12):
        # Black Week: ramps up the week before, peaks on Friday, Cyber Monday.
        if -7 <= offset < 0:
            f *= 1.0 + 0.08 * (8 + offset)
        elif offset in (0, 1, 2):
            f *= (2.3, 1.6, 1.5)[offset]
        elif offset == 3:
            f *= 1.8
        # Christmas orders stop after the last delivery date.
        if dt.date(d.year, 12, 21) <= d <= dt.date(d.year, 12, 31):
            f *= 0.72
        if channel == "Paid Search" and d >= bf - 10 * DAY:
            f *= 1.35
    for sale in (winter, summer):
        if in_window(d, sale, 28):
            f *= 1.45 if (d - sale).days < 4 else 1.15
    if d.month == 8:  # les congés: the second and third weeks are the quietest
        f *= 0.86 if 5 <= d.day <= 22 else 0.95
    # An influencer's story (Referral, Direct), 12 March 2025.
    if channel in ("Referral", "Direct"):
        story = pulse(d, dt.date(2025, 3, 12), 1, 7.0 if channel == "Referral" else 1.6, 0.7)
        f *= story
    # Mother's Day campaign on Instagram before the last Sunday of May 2026.
    if channel == "Paid Social" and in_window(d, dt.date(2026, 5, 18), 14):
        f *= 2.6
    if channel == "Email":
        if -3 <= offset <= 3 or (d - winter).days in (0, 1) or (d - summer).days in (0, 1):
            f *= 2.4  # a mailing every day of Black Week and of the sales' opening
        else:
            f *= 2.2 if d.weekday() in (1, 3) else 0.55  # newsletters: Tuesday and Thursday
    return f


def shop_conversion(d: dt.date) -> float:
    # The new one-page checkout (launched 10 February 2026) converts better.
    f = ramp(d, dt.date(2026, 2, 10), 45, 0.12)
    bf = black_friday(d.year)
    if d.month in (11, 12):
        offset = (d - bf).days
        if 0 <= offset <= 3:
            f *= 1.55
        elif dt.date(d.year, 12, 1) <= d <= dt.date(d.year, 12, 18):
            f *= 1.25
    winter, summer = soldes(d.year)
    if in_window(d, winter, 10) or in_window(d, summer, 10):
        f *= 1.3
    if d.month == 8:
        f *= 0.9
    return f


def shop_order_value(d: dt.date) -> float:
    value = 52.0 * 1.035 ** years_since_start(d)
    bf = black_friday(d.year)
    if 0 <= (d - bf).days <= 3:
        value *= 0.9  # Black Friday discounts
    elif d.month == 12 and d.day <= 22:
        value *= 1.16  # gift sets
    return value


def lumiere_seasonal_gifts(d: dt.date) -> float:
    if d.month == 11:
        return 1.5 + 2.5 * d.day / 30
    if d.month == 12:
        return 5.0 if d.day <= 20 else 1.2
    return 0.35


def lumiere_sales_page(d: dt.date) -> float:
    winter, summer = soldes(d.year)
    if in_window(d, winter, 28) or in_window(d, summer, 28):
        return 1.0
    return 0.0


def lumiere_winter(d: dt.date) -> float:
    return 1.8 if d.month in (11, 12, 1, 2) else 0.8


def lumiere_summer(d: dt.date) -> float:
    return 2.8 if d.month in (5, 6, 7, 8) else 0.25


def lumiere_sales_query(d: dt.date) -> float:
    return 3.0 if d.month in (1, 7) else (1.3 if d.month in (6, 2) else 0.2)


def lumiere_core_update(d: dt.date) -> float:
    # A Google core update in March 2026 costs a position for three weeks, then mostly recovers.
    start = dt.date(2026, 3, 10)
    if d < start:
        return 0.0
    offset = (d - start).days
    if offset < 21:
        return 0.9 * min(1.0, (offset + 1) / 5)
    return 0.9 * math.exp(-(offset - 20) / 10)


LUMIERE_PAGES = (
    Page("/", "Maison Lumière — Cosmétiques bio & naturels fabriqués en France", 22, 38,
         seo=30, position=6, converts=0.3),
    Page("/boutique", "Toute la boutique | Maison Lumière", 12, 55, seo=4, position=14,
         converts=0.6),
    Page("/boutique/soins-visage", "Soins visage bio | Maison Lumière", 10, 62, seo=9,
         position=11, converts=0.8),
    Page("/produit/serum-eclat-vitamine-c",
         "Sérum Éclat à la vitamine C — 30 ml | Maison Lumière", 8, 84, seo=12, position=9,
         converts=2.0),
    Page("/produit/creme-de-nuit-regenerante",
         "Crème de nuit régénérante à l'huile de rose musquée | Maison Lumière", 6, 78, seo=7,
         position=11, converts=1.8),
    Page("/produit/huile-demaquillante", "Huile démaquillante douceur | Maison Lumière", 4, 71,
         seo=5, position=10, converts=1.5),
    Page("/produit/shampoing-solide-ortie",
         "Shampoing solide à l'ortie — cheveux gras | Maison Lumière", 3, 69, seo=4,
         position=15, converts=1.4),
    Page("/boutique/coffrets-cadeaux", "Coffrets cadeaux de Noël | Maison Lumière", 3, 66,
         seo=4, position=9, season=lumiere_seasonal_gifts, converts=2.2),
    Page("/soldes", "Soldes : jusqu'à -30 % sur vos soins préférés | Maison Lumière", 9, 48,
         seo=3, position=12, season=lumiere_sales_page, converts=1.0),
    Page("/panier", "Mon panier | Maison Lumière", 7, 45, converts=1.2),
    Page("/commande/livraison", "Livraison & paiement | Maison Lumière", 4, 95, converts=3.0),
    Page("/compte", "Mon compte | Maison Lumière", 4, 40, converts=0.2),
    Page("/blog/routine-hiver-peau-glow", "5 gestes pour une peau \"glow\" tout l'hiver", 3,
         185, seo=9, position=8, season=lumiere_winter, converts=0.3),
    Page("/blog/lire-une-etiquette-inci", "Comment lire une étiquette INCI ? Le guide complet",
         2.5, 210, seo=8, position=7, since=dt.date(2025, 4, 8), converts=0.2),
    Page("/nos-engagements", "Nos engagements : bio, vegan & zéro déchet", 2, 92, seo=2,
         position=13, converts=0.2),
    Page("/contact", "Contact & FAQ | Maison Lumière", 1.5, 58, seo=1, position=9,
         converts=0.05),
)

LUMIERE_QUERIES = (
    Query("maison lumière", 24, 1.1, brand=True),
    Query("maison lumiere cosmetique", 7, 1.2, brand=True),
    Query("maison lumière avis", 4, 1.8, brand=True),
    Query("maison lumière code promo", 3, 1.4, brand=True),
    Query("sérum vitamine c bio", 60, 9.5),
    Query("crème hydratante visage bio", 70, 12.0),
    Query("cosmétique bio français", 55, 14.0),
    Query("crème de nuit bio", 40, 11.0),
    Query("huile démaquillante naturelle", 35, 10.0),
    Query("shampoing solide bio", 45, 16.0),
    Query("déodorant naturel sans aluminium", 50, 18.0),
    Query("coffret cadeau cosmétique bio", 25, 8.0, season=lumiere_seasonal_gifts),
    Query("crème visage bio, peau sèche", 22, 13.0),
    Query('sérum "clean beauty"', 12, 15.0),
    Query("eau micellaire bio", 30, 17.0),
    Query("baume à lèvres bio", 20, 12.0, season=lumiere_winter),
    Query("gommage visage naturel", 18, 14.0),
    Query("masque à l'argile verte", 16, 19.0),
    Query("routine soin visage naturelle", 24, 22.0),
    Query("huile de jojoba pure", 20, 9.0),
    Query("crème mains karité", 15, 15.0, season=lumiere_winter),
    Query("soin anti-âge bio", 28, 20.0),
    Query("savon saponifié à froid", 18, 11.0),
    Query("contour des yeux bio", 14, 13.0),
    Query("cosmétiques vegan", 26, 24.0),
    Query("crème solaire minérale", 20, 18.0, season=lumiere_summer),
    Query("idée cadeau femme bio", 15, 16.0, season=lumiere_seasonal_gifts),
    Query("soldes cosmétiques bio", 10, 12.0, season=lumiere_sales_query),
    Query("sérum acide hyaluronique naturel", 22, 14.0),
    Query("dentifrice solide", 14, 21.0),
    Query("comment lire une étiquette inci", 12, 6.0),
    Query("peau terne que faire", 18, 11.0, season=lumiere_winter),
    Query("huile de rose musquée visage", 16, 10.0),
    Query("cosmétique zéro déchet", 12, 17.0),
    Query("crème bio peau sensible", 20, 15.0),
    Query("shampoing solide cheveux gras", 12, 12.0),
    Query("démaquillant yeux waterproof bio", 9, 16.0),
    Query("meilleur sérum éclat", 11, 19.0),
)

LUMIERE = Client(
    id="maison-lumiere",
    weekly=(1.02, 1.0, 1.0, 0.98, 0.9, 0.94, 1.12),
    seasons=(1.0, 0.88, 0.95, 0.96, 1.0, 0.96, 0.9, 0.76, 0.93, 0.98, 1.16, 1.3),
    base=1950,
    growth=0.2,
    channels={
        "Organic Search": Channel(0, 0.66, 4.4, 0.64, 158, 0.017, 0.004),
        "Direct": Channel(0.31, 0.42, 4.9, 0.68, 182, 0.026, 0.003),
        "Paid Search": Channel(0.23, 0.71, 4.1, 0.61, 139, 0.022, 0.003),
        "Paid Social": Channel(0.2, 0.83, 2.6, 0.44, 84, 0.008, 0.006),
        "Referral": Channel(0.09, 0.6, 3.7, 0.58, 131, 0.015, 0.004),
        "Email": Channel(0.12, 0.07, 5.2, 0.76, 201, 0.034, 0.0005),
    },
    pages=LUMIERE_PAGES,
    sessions_per_user=1.17,
    monthly_users_ratio=0.71,
    ecommerce=True,
    search=Search(
        site="https://www.maison-lumiere.example",
        impressions=30500,
        growth=0.2,
        position=((dt.date(2024, 9, 1), 14.6), (dt.date(2025, 6, 1), 12.8),
                  (dt.date(2025, 12, 31), 11.8), (dt.date(2026, 11, 30), 10.2)),
        ctr_at=(12.0, 0.031),
        ctr_slope=0.095,
        other_engines=1.11,
        queries=LUMIERE_QUERIES,
        query_click_share=0.63,
        query_impression_share=0.46,
        countries=(("France", 0.84, 1.0, 0.0), ("Belgium", 0.055, 0.92, 1.4),
                   ("Switzerland", 0.04, 0.85, 2.1), ("Canada", 0.022, 0.6, 4.5),
                   ("Luxembourg", 0.01, 0.95, 1.1), ("Réunion", 0.007, 0.9, 2.0),
                   ("Morocco", 0.008, 0.45, 5.2), ("Germany", 0.006, 0.35, 7.5),
                   ("United States", 0.006, 0.25, 9.0), ("Spain", 0.004, 0.3, 8.1),
                   ("Côte d’Ivoire", 0.002, 0.5, 6.0)),
        devices=(("Mobile", 0.67, 1.05, 0.35), ("Desktop", 0.3, 0.92, -0.6),
                 ("Tablet", 0.03, 0.85, 0.5)),
        events=lumiere_core_update,
    ),
    extra=shop_events,
    conversion_factor=shop_conversion,
    engagement_factor=lambda d: ramp(d, dt.date(2026, 2, 10), 45, 0.04),
    outage={dt.date(2025, 6, 17), dt.date(2025, 6, 18)},
    order_value=shop_order_value,
)


# --- Northwind Dental Group: US dental clinics, lead generation ----------------------------------


WEST_HARTFORD_OPENING = dt.date(2025, 5, 12)


def dental_events(d: dt.date, channel: str) -> float:
    f = ramp(d, WEST_HARTFORD_OPENING - 21 * DAY, 75, 0.17)  # the fourth clinic opens
    # "New Year, New Smile" search campaign, January–February 2026.
    if channel == "Paid Search" and in_window(d, dt.date(2026, 1, 5), 55):
        f *= 1.85
    if channel == "Paid Social" and in_window(d, dt.date(2026, 1, 5), 55):
        f *= 1.4
    if dt.date(d.year, 12, 24) <= d <= dt.date(d.year, 12, 31):
        f *= 0.7
    if channel == "Email":
        f *= 2.6 if d.weekday() == 2 and d.day <= 7 else 0.85  # monthly newsletter
    return f


NORTHWIND_PAGES = (
    Page("/", "Northwind Dental Group — Family Dentists in Hartford, New Haven & Stamford", 24,
         41),
    Page("/book-appointment", "Book an Appointment Online | Northwind Dental", 12, 96),
    Page("/new-patients", "New Patients: $99 Exam, Cleaning & X-Rays | Northwind Dental", 9,
         64),
    Page("/services/dental-implants", "Dental Implants | Northwind Dental Group", 7, 88),
    Page("/services/invisalign", "Invisalign® Clear Aligners | Northwind Dental Group", 6, 81),
    Page("/services/teeth-whitening", "Professional Teeth Whitening | Northwind Dental", 4, 62),
    Page("/services/emergency-dentist", "Emergency Dentist — Same-Day Appointments", 5, 47),
    Page("/locations/hartford", "Hartford, CT Dental Office | Northwind Dental", 6, 52),
    Page("/locations/new-haven", "New Haven, CT Dental Office | Northwind Dental", 5, 50),
    Page("/locations/stamford", "Stamford, CT Dental Office | Northwind Dental", 4, 51),
    Page("/locations/west-hartford", "West Hartford, CT Dental Office — Now Open!", 4, 55,
         since=WEST_HARTFORD_OPENING - 21 * DAY),
    Page("/insurance-and-financing", "Insurance, Payment Plans & Financing | Northwind Dental",
         5, 74),
    Page("/blog/how-much-do-dental-implants-cost",
         "How Much Do Dental Implants Cost? A \"No Surprises\" Guide", 4, 232),
    Page("/about/our-dentists", "Meet Our Dentists | Northwind Dental Group", 3, 70),
    Page("/contact", "Contact Us | Northwind Dental Group", 2, 44),
)

NORTHWIND = Client(
    id="northwind-dental",
    weekly=(1.18, 1.1, 1.05, 1.0, 0.9, 0.72, 0.68),
    seasons=(1.15, 1.05, 1.04, 1.0, 0.98, 0.94, 0.9, 0.95, 1.0, 1.0, 0.97, 1.03),
    base=330,
    growth=0.09,
    channels={
        "Organic Search": Channel(0, 0.63, 2.9, 0.6, 96, 0.024, 0.011),
        "Direct": Channel(0.32, 0.38, 3.1, 0.64, 108, 0.031, 0.013),
        "Paid Search": Channel(0.38, 0.74, 2.5, 0.57, 83, 0.041, 0.016),
        "Paid Social": Channel(0.12, 0.8, 1.9, 0.42, 58, 0.012, 0.004),
        "Referral": Channel(0.12, 0.58, 2.6, 0.55, 90, 0.02, 0.012),
        "Email": Channel(0.06, 0.06, 2.8, 0.66, 102, 0.028, 0.009),
    },
    pages=NORTHWIND_PAGES,
    sessions_per_user=1.08,
    monthly_users_ratio=0.7,
    organic_share=0.55,
    holidays=us_holidays,
    holiday_factor=0.7,
    extra=dental_events,
    conversion_factor=lambda d: ramp(d, dt.date(2025, 9, 15), 30, 0.08),  # online booking v2
)


# --- Acme Robotics: UK B2B industrial robots -----------------------------------------------------


def ppma_show(year: int) -> dt.date:
    """The PPMA Total Show at the NEC: last Tuesday of September (fictionally)."""
    return nth_weekday(year, 9, 1, -1)


def acme_events(d: dt.date, channel: str) -> float:
    f = 1.0
    if dt.date(d.year, 12, 20) <= d or d <= dt.date(d.year, 1, 2):
        f *= 0.45  # the Christmas shutdown
    if d.month == 8:
        f *= 0.85 if 4 <= d.day <= 22 else 0.95
    show = ppma_show(d.year)
    if channel in ("Direct", "Referral"):
        f *= pulse(d, show, 3, 2.4 if channel == "Referral" else 1.7, 0.35)
    if channel == "Email":
        f *= pulse(d, dt.date(2026, 3, 17), 2, 3.5, 0.8)  # webinar invitations
        f *= 2.0 if d.weekday() == 1 else 0.8
    if channel == "Paid Social":  # LinkedIn launch campaign for the AR-12
        f *= 1.9 if in_window(d, dt.date(2026, 4, 14), 42) else 1.0
    return f


ACME_PAGES = (
    Page("/", "Acme Robotics — Industrial Robots & Cobots for UK Manufacturers", 20, 44, seo=24,
         position=7, converts=0.2),
    Page("/robots/cobots", "Collaborative Robots (Cobots) | Acme Robotics", 9, 83, seo=9,
         position=12, converts=0.5),
    Page("/robots/cobots/ar-7", "AR-7 Cobot — 7 kg Payload, 900 mm Reach | Acme Robotics", 6,
         121, seo=5, position=11, converts=0.9),
    Page("/robots/cobots/ar-12", "New: AR-12 Heavy-Payload Cobot | Acme Robotics", 5, 134,
         seo=3, position=14, since=dt.date(2026, 4, 14), converts=1.0),
    Page("/robots/palletising", "Palletising Robots & End-of-Line Automation | Acme Robotics", 7,
         97, seo=12, position=9, converts=0.7),
    Page("/robots/welding-cells", "Robotic Welding Cells | Acme Robotics", 5, 92, seo=7,
         position=11, converts=0.6),
    Page("/solutions/machine-tending", "Machine Tending Automation | Acme Robotics", 4, 88, seo=6,
         position=10, converts=0.6),
    Page("/case-studies", "Case Studies | Acme Robotics", 5, 61, seo=2, position=15,
         converts=0.3),
    Page("/case-studies/brightwell-foods",
         "Brightwell Foods: 38 % Faster End-of-Line Packing | Acme Robotics", 3, 168, seo=2,
         position=13, converts=0.6),
    Page("/resources/roi-calculator", "Automation ROI Calculator | Acme Robotics", 5, 236,
         seo=8, position=6, converts=1.5),
    Page("/resources/cobot-safety-guide",
         "The Cobot Safety Guide: ISO 10218 & ISO/TS 15066 Explained", 4, 265, seo=11,
         position=6, converts=1.8),
    Page("/blog/lights-out-manufacturing",
         "Why \"Lights-Out\" Factories Are Closer Than You Think", 3, 198, seo=7, position=9,
         since=dt.date(2025, 1, 21), converts=0.3),
    Page("/request-a-demo", "Request a Demo | Acme Robotics", 6, 104, seo=1, position=8,
         converts=6.0),
    Page("/events/ppma-show", "Meet Us at the PPMA Total Show, Stand C42 | Acme Robotics", 3, 57,
         seo=1, position=9, season=lambda d: 6.0 if d.month == 9 else 0.15, converts=0.8),
    Page("/contact", "Contact Us | Acme Robotics", 3, 52, seo=2, position=8, converts=3.0),
    Page("/careers", "Careers at Acme Robotics", 2, 73, seo=2, position=5),
)

ACME_QUERIES = (
    Query("acme robotics", 6, 1.1, brand=True),
    Query("acme robotics ar-7", 1.5, 1.3, brand=True),
    Query("acme robotics careers", 0.8, 1.5, brand=True),
    Query("collaborative robot uk", 55, 12.0),
    Query("cobot price", 60, 16.0),
    Query("palletising robot", 45, 9.0),
    Query("pick and place robot", 50, 14.0),
    Query("industrial robot arm", 70, 18.0),
    Query("robotic welding cell", 30, 11.0),
    Query("cobot vs industrial robot", 25, 8.0),
    Query("end of arm tooling", 28, 15.0),
    Query("cobot safety iso 10218", 18, 6.5),
    Query("iso/ts 15066 power and force limits", 10, 7.0),
    Query("machine tending robot", 24, 10.0),
    Query("robot integrator midlands", 8, 6.0),
    Query("automation roi calculator", 14, 5.0),
    Query("case packing robot", 16, 13.0),
    Query("warehouse automation uk", 40, 22.0),
    Query("robot leasing uk", 10, 9.0),
    Query("lights out manufacturing", 20, 11.0),
    Query("6 axis robot arm", 35, 19.0),
    Query("cobot welding", 22, 12.0),
    Query("robotic palletiser cost", 12, 8.0),
    Query("end of line packaging automation", 18, 13.0),
    Query("made smarter grant robots", 9, 10.0),
    Query("ppma show 2025", 6, 7.0, season=lambda d: 8.0 if d.month == 9 else 0.05),
    Query("heavy payload cobot", 14, 17.0),
    Query("robot cell guarding", 11, 14.0),
    Query("cobot payload 12kg", 8, 12.0),
    Query("how much does a robot arm cost", 26, 15.0),
)

ACME = Client(
    id="acme-robotics",
    weekly=(1.12, 1.15, 1.14, 1.1, 0.92, 0.34, 0.3),
    seasons=(0.96, 1.03, 1.08, 1.0, 1.03, 1.02, 0.95, 0.78, 1.06, 1.08, 1.05, 0.82),
    base=400,
    growth=0.16,
    channels={
        "Organic Search": Channel(0, 0.67, 3.3, 0.62, 171, 0.0032, 0.006),
        "Direct": Channel(0.32, 0.41, 3.6, 0.66, 188, 0.0052, 0.004),
        "Paid Search": Channel(0.25, 0.72, 2.8, 0.56, 132, 0.0058, 0.005),
        "Paid Social": Channel(0.13, 0.79, 2.1, 0.45, 96, 0.0022, 0.007),
        "Referral": Channel(0.18, 0.6, 3.2, 0.6, 164, 0.0045, 0.005),
        "Email": Channel(0.12, 0.09, 3.9, 0.7, 214, 0.0062, 0.012),
    },
    pages=ACME_PAGES,
    sessions_per_user=1.14,
    monthly_users_ratio=0.62,
    search=Search(
        site="https://www.acme-robotics.example",
        impressions=6300,
        growth=0.17,
        position=((dt.date(2024, 9, 1), 19.2), (dt.date(2025, 3, 3), 17.9),
                  (dt.date(2025, 12, 31), 15.4), (dt.date(2026, 11, 30), 13.3)),
        ctr_at=(15.0, 0.0165),
        ctr_slope=0.085,
        other_engines=1.09,
        queries=ACME_QUERIES,
        query_click_share=0.58,
        query_impression_share=0.42,
        countries=(("United Kingdom", 0.71, 1.0, 0.0), ("Ireland", 0.05, 0.9, 1.2),
                   ("United States", 0.09, 0.35, 8.5), ("Germany", 0.03, 0.4, 9.0),
                   ("Netherlands", 0.025, 0.55, 6.1), ("India", 0.05, 0.3, 11.0),
                   ("Australia", 0.015, 0.4, 9.4), ("Poland", 0.015, 0.45, 7.8)),
        devices=(("Desktop", 0.69, 1.04, -0.4), ("Mobile", 0.28, 0.9, 0.9),
                 ("Tablet", 0.03, 0.8, 0.6)),
    ),
    holidays=uk_holidays,
    holiday_factor=0.38,
    extra=acme_events,
    conversion_factor=lambda d: ramp(d, dt.date(2025, 3, 3), 30, 0.15),  # new website
    engagement_factor=lambda d: ramp(d, dt.date(2025, 3, 3), 30, 0.09),
)

CLIENTS = (LUMIERE, NORTHWIND, ACME)


# --- Search Console: daily property totals -------------------------------------------------------


@dataclass
class SearchDay:
    clicks: int
    impressions: int
    position: float


def search_days(client: Client, rng: random.Random, span: list[dt.date]) -> dict[dt.date,
                                                                                  SearchDay]:
    s = client.search
    assert s is not None
    noise_i = ar_noise(rng, len(span), 0.7, 0.07)
    noise_p = ar_noise(rng, len(span), 0.8, 0.025)
    out = {}
    for i, d in enumerate(span):
        seasonal = client.weekly[d.weekday()] * yearly(d, client.seasons)
        if d in client.holidays(d.year):
            seasonal *= client.holiday_factor
        seasonal *= client.extra(d, "Organic Search")
        impressions = s.impressions * (1 + s.growth) ** years_since_start(d) * seasonal
        impressions = max(1, round(impressions * noise_i[i]))
        position = (path(d, s.position) + s.events(d)) * noise_p[i]
        ctr = s.ctr_at[1] * math.exp(s.ctr_slope * (s.ctr_at[0] - position)) * jitter(rng, 0.04)
        clicks = min(impressions, poisson(rng, impressions * ctr))
        out[d] = SearchDay(clicks, impressions, round(position, 2))
    return out


# --- Web analytics -------------------------------------------------------------------------------


@dataclass
class WebRow:
    sessions: int
    new_users: int
    pageviews: int
    engaged: int
    duration: float
    conversions: int
    leads: int
    transactions: int = 0
    revenue: float = 0.0


def web_days(client: Client, rng: random.Random, span: list[dt.date],
             search: dict[dt.date, SearchDay] | None) -> dict[dt.date, dict[str, WebRow]]:
    base_noise = ar_noise(rng, len(span), 0.6, 0.06)
    out: dict[dt.date, dict[str, WebRow]] = {}
    for i, d in enumerate(span):
        base = client.base * factor(client, d) * base_noise[i]
        rows = {}
        for name in CHANNELS:
            ch = client.channels[name]
            if name == "Organic Search":
                if search is not None:
                    assert client.search is not None
                    mean = search[d].clicks * client.search.other_engines
                else:
                    mean = base * client.organic_share * client.extra(d, name)
            else:
                mean = base * ch.share * client.extra(d, name)
            sessions = poisson(rng, mean * jitter(rng, 0.05))
            engagement = client.engagement_factor(d)
            new_users = min(sessions, round(sessions * ch.new * jitter(rng, 0.04)))
            pageviews = max(sessions, round(sessions * ch.pages * engagement
                                            * jitter(rng, 0.05)))
            engaged = min(sessions, round(sessions * min(0.95, ch.engaged * engagement)
                                          * jitter(rng, 0.04)))
            duration = ch.duration * engagement * jitter(rng, 0.07) if sessions else 0.0
            rate = ch.conversion * client.conversion_factor(d)
            key_events = poisson(rng, sessions * rate)
            extra_events = poisson(rng, sessions * ch.signup)
            if client.ecommerce:
                transactions = key_events
                revenue = sum(client.order_value(d) * jitter(rng, 0.55) for _ in
                              range(transactions))
                row = WebRow(sessions, new_users, pageviews, engaged, duration, transactions,
                             extra_events, transactions, revenue)
            else:
                # Leads: appointment or demo requests; conversions add calls or downloads.
                row = WebRow(sessions, new_users, pageviews, engaged, duration,
                             key_events + extra_events, key_events)
            if d in client.outage:
                row.conversions = row.leads = row.transactions = 0
                row.revenue = 0.0
            rows[name] = row
        out[d] = rows
    return out


def write_web(client: Client, folder: Path, web: dict[dt.date, dict[str, WebRow]]) -> None:
    header = ["date", "channel", "sessions", "new_users", "pageviews", "engaged_sessions",
              "avg_session_duration", "conversions", "leads"]
    if client.ecommerce:
        header += ["transactions", "revenue"]
    rows = []
    for d in days(START, END):
        for name in CHANNELS:
            r = web[d][name]
            row: list[object] = [d.isoformat(), name, r.sessions, r.new_users, r.pageviews,
                                 r.engaged, one_decimal(r.duration), r.conversions, r.leads]
            if client.ecommerce:
                row += [r.transactions, money(r.revenue)]
            rows.append(row)
    write_csv(folder / "web_daily.csv", header, rows)


def write_users(client: Client, rng: random.Random, folder: Path,
                web: dict[dt.date, dict[str, WebRow]]) -> None:
    daily = {}
    for d in days(START, END):
        sessions = sum(r.sessions for r in web[d].values())
        daily[d] = min(sessions - 1, round(sessions / client.sessions_per_user
                                           * jitter(rng, 0.02)))
    write_csv(folder / "users_daily.csv", ["date", "users"],
              ([d.isoformat(), n] for d, n in daily.items()))
    monthly = []
    for first in months(START, LAST_FULL_MONTH):
        values = [n for d, n in daily.items() if first <= d <= month_end(first)]
        ratio = client.monthly_users_ratio + rng.uniform(-0.025, 0.025)
        monthly.append([f"{first:%Y-%m}", max(max(values) + 1, round(sum(values) * ratio))])
    write_csv(folder / "users_monthly.csv", ["month", "users"], monthly)


def write_pages(client: Client, rng: random.Random, folder: Path,
                web: dict[dt.date, dict[str, WebRow]]) -> None:
    """Page views by page add up to the day's page views in web_daily.csv; so do conversions
    (and revenue) by page, for a client whose pages convert, to the day's in web_daily.csv."""
    converting = any(page.converts for page in client.pages)
    # A generator of its own: the page views and every other file stay what they were.
    credit = random.Random(f"{client.id}:page-conversions")
    rows = []
    for d in days(START, END):
        total = sum(r.pageviews for r in web[d].values())
        weights = []
        for page in client.pages:
            w = page.weight * (page.season(d) if page.season else 1.0)
            if page.since and d < page.since:
                w = 0.0
            weights.append(w * jitter(rng, 0.12) if w else 0.0)
        by_page = split(total, weights)
        day_rows = []
        for page, views in zip(client.pages, by_page, strict=True):
            if views:
                seconds = page.seconds * client.engagement_factor(d) * jitter(rng, 0.08)
                day_rows.append([d.isoformat(), page.path, page.title, views,
                                 one_decimal(seconds)])
        if converting:
            credited(client, credit, web[d], [p for p, v in zip(client.pages, by_page,
                                                                  strict=True) if v],
                     day_rows)
        rows.extend(day_rows)
    header = ["date", "page", "page_title", "pageviews", "time_on_page"]
    if converting:
        header += ["conversions", "revenue"] if client.ecommerce else ["conversions"]
    write_csv(folder / "pages_daily.csv", header, rows)


def credited(client: Client, rng: random.Random, web: dict[str, WebRow], pages: list[Page],
             rows: list[list[object]]) -> None:
    """Append to a day's page rows the conversions (and revenue) credited to each page: the
    day's, split by each page's views times its conversion rate, so they add up to the day's
    figures in web_daily.csv."""
    conversions = sum(r.conversions for r in web.values())
    weights = [page.converts * int(str(row[3])) * jitter(rng, 0.3)
               for page, row in zip(pages, rows, strict=True)]
    if not any(weights):
        weights = [float(str(row[3])) for row in rows]
    by_page = split(conversions, weights)
    for row, n in zip(rows, by_page, strict=True):
        row.append(n)
    if client.ecommerce:
        # The day's revenue as web_daily.csv writes it, channel by channel, to the cent.
        cents = sum(round(float(money(r.revenue)) * 100) for r in web.values())
        for row, c in zip(rows, split(cents, [n * jitter(rng, 0.35) for n in by_page]),
                          strict=True):
            row.append(money(c / 100))


# --- CRM -----------------------------------------------------------------------------------------


@dataclass
class CrmDay:
    leads: int = 0
    qualified: int = 0
    opportunities: int = 0
    new_customers: int = 0
    won: int = 0
    revenue: float = 0.0
    cycles: list[int] = field(default_factory=list)


def open_day(d: dt.date, closed: Callable[[dt.date], bool]) -> dt.date:
    while closed(d):
        d += DAY
    return d


def show_up_rate(visit: dt.date) -> float:
    # SMS reminders (from April 2026) cut no-shows at first visits.
    return 0.8 * ramp(visit, dt.date(2026, 4, 1), 150, 0.16)


def dental_crm(rng: random.Random, web: dict[dt.date, dict[str, WebRow]],
               span: list[dt.date]) -> dict[dt.date, CrmDay]:
    """Leads from the site, the phone and walk-ins; new patients; accepted treatment plans."""
    crm: dict[dt.date, CrmDay] = defaultdict(CrmDay)

    def closed(d: dt.date) -> bool:
        return d.weekday() == 6 or d in us_holidays(d.year)

    for d in span:
        web_leads = sum(r.leads for r in web[d].values())
        phone = 0 if closed(d) else poisson(rng, 5.2 * factor(NORTHWIND, d) / 1.04)
        day = crm[d]
        day.leads = web_leads + phone
        day.qualified = binomial(rng, day.leads, 0.61)
        # Each qualified lead may book a first visit, then accept a treatment plan.
        for _ in range(day.qualified):
            if rng.random() >= 0.7:
                continue
            crm[d].opportunities += 1
            visit = open_day(d + DAY * (1 + poisson(rng, 6)), closed)
            if rng.random() < show_up_rate(visit):
                crm[visit].new_customers += 1
                if rng.random() < 0.33:
                    cycle = max(visit - d, dt.timedelta(days=round(rng.gammavariate(3.2, 7.0))))
                    won = open_day(d + cycle, closed)
                    amount = round(rng.lognormvariate(math.log(1900), 0.7) / 10) * 10
                    crm[won].won += 1
                    crm[won].revenue += amount
                    crm[won].cycles.append((won - d).days)
    return crm


def acme_mean_cycle(created: dt.date) -> float:
    # Longer approval chains at customers: cycles lengthen from autumn 2025.
    return path(created, ((dt.date(2025, 6, 1), 74.0), (dt.date(2026, 9, 1), 92.0)))


def acme_crm(rng: random.Random, web: dict[dt.date, dict[str, WebRow]],
             span: list[dt.date]) -> dict[dt.date, CrmDay]:
    """Few, large deals: leads from the site, trade shows and partners; weekday closes."""
    crm: dict[dt.date, CrmDay] = defaultdict(CrmDay)

    def closed(d: dt.date) -> bool:
        shutdown = d >= dt.date(d.year, 12, 23) or d <= dt.date(d.year, 1, 2)
        return d.weekday() >= 5 or d in uk_holidays(d.year) or shutdown

    for d in span:
        web_leads = sum(r.leads for r in web[d].values())
        other = 0 if closed(d) else poisson(rng, 0.55 * factor(ACME, d))
        show = ppma_show(d.year)
        if in_window(d, show, 3):
            other += poisson(rng, 9)  # badge scans worth following up
        day = crm[d]
        day.leads = web_leads + other
        day.qualified = binomial(rng, day.leads, 0.43)
        for _ in range(day.qualified):
            if rng.random() >= 0.5:
                continue
            created = open_day(d + DAY * (2 + poisson(rng, 7)), closed)
            crm[created].opportunities += 1
            if rng.random() >= 0.34:
                continue
            cycle = max(35, round(rng.gauss(acme_mean_cycle(created), 17)))
            won = open_day(created + DAY * cycle, closed)
            # The sales team pulls deals due early in a quarter into the last days of the one
            # before.
            previous_end = dt.date(won.year, (won.month - 1) // 3 * 3 + 1, 1) - DAY
            if (won - previous_end).days <= 9 and rng.random() < 0.4:
                won = previous_end - DAY * rng.randrange(0, 4)
                while closed(won):
                    won -= DAY
            while crm[won].won >= 2:  # at most two signatures a day
                won = open_day(won + DAY, closed)
            amount = round(rng.lognormvariate(math.log(36000), 0.42), -2)
            crm[won].won += 1
            crm[won].revenue += amount
            crm[won].cycles.append((won - created).days)
            if rng.random() < 0.62:
                crm[won].new_customers += 1
    return crm


def write_crm(folder: Path, crm: dict[dt.date, CrmDay]) -> None:
    rows = []
    for d in days(START, END):
        c = crm.get(d, CrmDay())
        cycle = one_decimal(sum(c.cycles) / len(c.cycles)) if c.cycles else ""
        rows.append([d.isoformat(), c.leads, c.qualified, c.opportunities, c.new_customers,
                     c.won, money(c.revenue), cycle])
    write_csv(folder / "crm_daily.csv",
              ["date", "leads", "qualified_leads", "opportunities", "new_customers", "won_deals",
               "won_revenue", "sales_cycle_days"], rows)


# --- Search Console web-UI exports ---------------------------------------------------------------


def ctr_text(clicks: int, impressions: int) -> str:
    return f"{100 * clicks / impressions:.2f}%" if impressions else "0.00%"


def gsc_row(key: str, clicks: int, impressions: int, position: float) -> list[object]:
    return [key, clicks, impressions, ctr_text(clicks, impressions), f"{position:.2f}"]


def by_clicks(rows: list[list[object]]) -> list[list[object]]:
    return sorted(rows, key=lambda r: (-int(r[1]), -int(r[2]), str(r[0])))


def write_search_console(client: Client, rng: random.Random, folder: Path,
                         search: dict[dt.date, SearchDay]) -> None:
    s = client.search
    assert s is not None
    header = ["Clicks", "Impressions", "CTR", "Position"]
    reference = path(START, s.position)
    for first in months(START, LAST_FULL_MONTH):
        month_days = [d for d in days(first, month_end(first))]
        clicks = sum(search[d].clicks for d in month_days)
        impressions = sum(search[d].impressions for d in month_days)
        position = sum(search[d].position * search[d].impressions
                       for d in month_days) / impressions
        mid = first + DAY * 14
        out = folder / "search-console" / f"{first:%Y-%m}"

        dates = [gsc_row(d.isoformat(), search[d].clicks, search[d].impressions,
                         search[d].position) for d in reversed(month_days)]
        write_csv(out / "Dates.csv", ["Date", *header], dates)

        # Queries: the site's position moves every query. Anonymised queries are left out of
        # the export, so the listed ones add up to part of the totals only.
        improvement = position / reference
        weights = [q.weight * (q.season(mid) if q.season else 1.0) * jitter(rng, 0.15)
                   for q in s.queries]
        listed_impressions = impressions * s.query_impression_share * jitter(rng, 0.03)
        rows = []
        for q, weight in zip(s.queries, weights, strict=True):
            q_impr = max(1, round(listed_impressions * weight / sum(weights)))
            if q.brand:
                q_pos = q.position * jitter(rng, 0.04)
                q_ctr = 0.45 * jitter(rng, 0.08)
            else:
                q_pos = max(1.0, q.position * improvement * jitter(rng, 0.04))
                q_ctr = 0.65 * s.ctr_at[1] * math.exp(s.ctr_slope * (s.ctr_at[0] - q_pos))
            rows.append((q, q_impr * q_ctr, q_impr, q_pos))
        # Non-brand CTRs are scaled so that the listed clicks are the expected share.
        brand = sum(c for q, c, _, _ in rows if q.brand)
        generic = sum(c for q, c, _, _ in rows if not q.brand)
        wanted = clicks * s.query_click_share * jitter(rng, 0.03)
        scale = min(2.0, max(0.5, (wanted - brand) / generic))
        queries = []
        for q, q_clicks, q_impr, q_pos in rows:
            n = min(q_impr, round(q_clicks if q.brand else q_clicks * scale))
            queries.append(gsc_row(q.text, n, q_impr, q_pos))
        write_csv(out / "Queries.csv", ["Top queries", *header], by_clicks(queries))

        # Pages: nearly all clicks land on a listed page.
        pages = [p for p in client.pages if p.seo and (p.since is None or p.since <= month_end(
            first))]
        p_weights = [p.seo * (p.season(mid) if p.season else 1.0) * jitter(rng, 0.1)
                     for p in pages]
        p_clicks = split(round(clicks * 0.985), p_weights)
        p_impr = split(round(impressions * 0.97), [w * p.position ** 1.2 for w, p in
                                                   zip(p_weights, pages, strict=True)])
        page_rows = [gsc_row(s.site + p.path, c, max(i, c),
                             max(1.0, p.position * improvement * jitter(rng, 0.05)))
                     for p, c, i in zip(pages, p_clicks, p_impr, strict=True)]
        write_csv(out / "Pages.csv", ["Top pages", *header], by_clicks(page_rows))

        for name, table, label in (("Countries.csv", s.countries, "Country"),
                                   ("Devices.csv", s.devices, "Device")):
            write_csv(out / name, [label, *header],
                      by_clicks(breakdown(rng, table, clicks, impressions, position)))


def breakdown(rng: random.Random, table: Sequence[tuple[str, float, float, float]], clicks: int,
              impressions: int, position: float) -> list[list[object]]:
    """Split a month's totals by country or device; the totals and mean position are kept."""
    shares = [share * jitter(rng, 0.05) for _, share, _, _ in table]
    impr = split(impressions, shares)
    clicks_by = split(clicks, [i * rel for i, (_, _, rel, _) in zip(impr, table, strict=True)])
    offsets = [off for _, _, _, off in table]
    mean_offset = sum(o * i for o, i in zip(offsets, impr, strict=True)) / impressions
    return [gsc_row(name, c, i, max(1.0, position + off - mean_offset))
            for (name, _, _, off), c, i in zip(table, clicks_by, impr, strict=True)]


# --- Main ----------------------------------------------------------------------------------------


def generate(out: Path) -> None:
    master = random.Random(SEED)
    seeds = {client.id: master.getrandbits(64) for client in CLIENTS}
    span = days(WARMUP, END)
    for client in CLIENTS:
        rng = random.Random(seeds[client.id])
        folder = out / client.id
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        search = search_days(client, rng, span) if client.search else None
        web = web_days(client, rng, span, search)
        write_web(client, folder, web)
        write_users(client, rng, folder, web)
        write_pages(client, rng, folder, web)
        if client is NORTHWIND:
            write_crm(folder, dental_crm(rng, web, span))
        elif client is ACME:
            write_crm(folder, acme_crm(rng, web, span))
        if search is not None:
            write_search_console(client, rng, folder, search)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT,
                        help="output folder (default: examples/data next to this script)")
    args = parser.parse_args(argv)
    generate(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
