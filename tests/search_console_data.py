"""Expected Search Console figures, computed here from the fake's seeded rows
(:attr:`SearchConsoleFake.rows`), never through the plugin's or kpireport's arithmetic."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from kpireport.testing.fakes.search_console import GSCRow

SITE = "https://www.example.com/"
DOMAIN = "sc-domain:example.com"
TODAY = dt.date(2026, 11, 25)
"""make_context's today: October 2026 is final, the fake's last two days are not."""
START = dt.date(2024, 10, 1)
OCT = (dt.date(2026, 10, 1), dt.date(2026, 10, 31))


def select(rows: Iterable[GSCRow], start: dt.date, end: dt.date, *, kind: str = "web",
           keep: Callable[[GSCRow], bool] = lambda r: True) -> list[GSCRow]:
    return [r for r in rows if r.type == kind and start <= r.date <= end and keep(r)]


def figures(rows: Iterable[GSCRow]) -> dict[str, float]:
    """Σclicks, Σimpressions, CTR = Σclicks / Σimpressions, position weighted by
    impressions: what Search Console's Performance report shows for these rows."""
    group = list(rows)
    clicks = sum(r.clicks for r in group)
    impressions = sum(r.impressions for r in group)
    return {"clicks": float(clicks), "impressions": float(impressions),
            "ctr": clicks / impressions,
            "position": sum(r.position * r.impressions for r in group) / impressions}


def grouped(rows: Iterable[GSCRow], key: Callable[[GSCRow], Any]) -> dict[Any, dict[str, float]]:
    groups: dict[Any, list[GSCRow]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return {k: figures(v) for k, v in groups.items()}


def months(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    out = []
    first = start
    while first <= end:
        following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        out.append((first, min(end, following - dt.timedelta(days=1))))
        first = following
    return out
