"""Pixel health: days on which the pixel received no event while the ads kept spending."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from kpireport_meta.graph import Graph

WINDOW_DAYS = 7
"""The pixel's stats endpoint keeps the last 7 days only (hourly buckets)."""


def checkable_days(now: dt.datetime, timezone: ZoneInfo) -> list[dt.date]:
    """The whole days (in the ad account's time zone) the stats endpoint still covers."""
    today = now.astimezone(timezone).date()
    return [today - dt.timedelta(days=n) for n in range(WINDOW_DAYS - 1, 0, -1)]


def events_per_day(graph: Graph, pixel_id: str, days: list[dt.date],
                   timezone: ZoneInfo) -> dict[dt.date, int]:
    """Events the pixel received on each of ``days`` (0 for a day without any)."""
    def midnight(day: dt.date) -> int:
        return int(dt.datetime.combine(day, dt.time(), timezone).timestamp())

    counts = dict.fromkeys(days, 0)
    params = {"aggregation": "event", "start_time": midnight(days[0]),
              "end_time": midnight(days[-1] + dt.timedelta(days=1)), "limit": 200}
    for bucket in graph.pages(f"{pixel_id}/stats", params):
        day = _moment(bucket.get("start_time")).astimezone(timezone).date()
        if day in counts:
            counts[day] += sum(int(item.get("count") or 0) for item in bucket.get("data", ()))
    return counts


def silent_days(events: Mapping[dt.date, int], spend: Mapping[dt.date, float]) -> list[dt.date]:
    """Days with spend and not one pixel event: the pixel (or its tag) stopped firing."""
    return sorted(day for day, count in events.items() if count == 0 and spend.get(day, 0) > 0)


def _moment(text: Any) -> dt.datetime:
    value = str(text)
    if value.isdigit():
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    # "2026-11-24T13:00:00+0000": Python < 3.12 wants the offset's colon.
    if len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit():
        value = f"{value[:-2]}:{value[-2:]}"
    moment = dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
