"""From Graph insights rows to the standard metrics: strings to numbers, one action type per
event, the attribution setting's windows, ratios from sums."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kpireport_meta.settings import STANDARD_EVENTS, MetaSettings, action_type

BASE_FIELDS: dict[str, tuple[str, ...]] = {
    "spend": ("spend",),
    "ad_impressions": ("impressions",),
    "reach": ("reach",),
    "ad_clicks": ("clicks",),
    "ad_ctr": ("clicks", "impressions"),
    "cpc": ("spend", "clicks"),
    "ad_conversions": ("actions",),
    "conversion_value": ("action_values",),
    "cost_per_result": ("spend", "actions"),
    "roas": ("spend", "action_values"),
    **{metric: ("actions",) for _, metric in STANDARD_EVENTS.values()},
}
"""The Graph fields each metric is made of."""

CONVERSION_METRICS = frozenset({"ad_conversions", "conversion_value", "cost_per_result", "roas",
                                *(metric for _, metric in STANDARD_EVENTS.values())})
"""Metrics that late attribution changes after the day."""

ADDITIVE = ("spend", "ad_impressions", "ad_clicks", "ad_conversions", "conversion_value",
            *(metric for _, metric in STANDARD_EVENTS.values()))
RATIOS = {"ad_ctr": ("ad_clicks", "ad_impressions"), "cpc": ("spend", "ad_clicks"),
          "cost_per_result": ("spend", "ad_conversions"), "roas": ("conversion_value", "spend")}


def graph_fields(metrics: Iterable[str], campaign: bool) -> list[str]:
    fields: list[str] = []
    for metric in metrics:
        for name in BASE_FIELDS[metric]:
            if name not in fields:
                fields.append(name)
    if campaign:
        fields = ["campaign_id", "campaign_name", *fields]
    return fields


def _number(value: Any) -> float:
    """Graph numbers are strings ("12.34"); absent means none happened."""
    if value is None or value == "":
        return 0.0
    return float(value)


def _action(items: Any, kind: str, windows: tuple[str, ...]) -> float:
    """The figure of one action type under the attribution windows: the sum of its click and
    view windows, which never count the same conversion. Aliases of the event (``purchase``,
    ``omni_purchase``) are other entries of the list, and are not read."""
    for item in items or ():
        if item.get("action_type") == kind:
            return sum(_number(item.get(window)) for window in windows)
    return 0.0


def figures(row: Mapping[str, Any], settings: MetaSettings) -> dict[str, float | None]:
    """A Graph row's additive figures and reach, by standard metric name."""
    windows = settings.windows
    out: dict[str, float | None] = {
        "spend": _number(row.get("spend")),
        "ad_impressions": _number(row.get("impressions")),
        "ad_clicks": _number(row.get("clicks")),
        "reach": _number(row["reach"]) if row.get("reach") is not None else None,
    }
    actions, values = row.get("actions"), row.get("action_values")
    for event in settings.events:
        if event in STANDARD_EVENTS:
            out[STANDARD_EVENTS[event][1]] = _action(actions, action_type(event), windows)
    result = action_type(settings.result)
    out["ad_conversions"] = _action(actions, result, windows)
    out["conversion_value"] = _action(values, result, windows)
    return out


def finish(sums: Mapping[str, float | None], metrics: Iterable[str]) -> dict[str, float | None]:
    """The metrics asked, the ratios computed from the sums (None over a zero)."""
    out: dict[str, float | None] = {}
    for metric in metrics:
        if metric in RATIOS:
            num, den = (sums.get(m) for m in RATIOS[metric])
            out[metric] = num / den if num is not None and den else None
        else:
            out[metric] = sums.get(metric)
    return out
