"""The Meta source's settings: which ad account and pixel, which events, how to wait."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from kpireport import SourceSettings

STANDARD_EVENTS: dict[str, tuple[str, str]] = {
    # event → (the one action type read, the standard metric it fills)
    "purchase": ("offsite_conversion.fb_pixel_purchase", "ad_purchases"),
    "lead": ("offsite_conversion.fb_pixel_lead", "ad_leads"),
    "complete_registration": ("offsite_conversion.fb_pixel_complete_registration",
                              "ad_registrations"),
    "add_to_cart": ("offsite_conversion.fb_pixel_add_to_cart", "ad_adds_to_cart"),
}
"""Pixel events by the name a config gives them. Each is read from the pixel's own action type
only: Meta repeats the same conversions under aliases (``purchase``, ``omni_purchase``), which
must never be added together."""

CUSTOM = re.compile(r"^custom:(\d+)$")
CLICK_DAYS = {"1d": 1, "7d": 7, "28d": 28}


def action_type(event: str) -> str:
    """The one Graph ``action_type`` an event of the settings is read from."""
    if event in STANDARD_EVENTS:
        return STANDARD_EVENTS[event][0]
    match = CUSTOM.match(event)
    assert match, event  # the settings model refused anything else
    return f"offsite_conversion.custom.{match.group(1)}"


class MetaSettings(SourceSettings):
    """Settings of a client's Meta (Facebook) ads source."""

    ad_account_id: str = Field(pattern=r"^(act_)?\d+$")
    """The ad account's id (``act_123…`` or its digits), from Ads Manager's account menu."""
    pixel_id: str | None = Field(default=None, pattern=r"^\d+$")
    """The pixel (dataset) whose stats say whether it still receives events; none: no check."""
    access_token: SecretStr | None = None
    """A system user's token; usually ``${META_ACCESS_TOKEN}``. None: read ``access_token_env``."""
    access_token_env: str = "META_ACCESS_TOKEN"
    """The environment variable holding the token when ``access_token`` is not given."""
    api_version: str = Field(default="v21.0", pattern=r"^v\d+\.\d+$")
    """The Graph API version every call names (pinned: a new version changes fields)."""
    graph_url: str = "https://graph.facebook.com"
    events: list[str] = Field(default_factory=lambda: ["purchase"], min_length=1)
    """The pixel events this client reports: purchase, lead, complete_registration,
    add_to_cart, or ``custom:<id>`` for a custom conversion."""
    result_event: str | None = None
    """The event behind ad_conversions, cost per result, conversion value and ROAS (default:
    the first of ``events``)."""
    click_window: Literal["1d", "7d", "28d"] | None = "7d"
    view_window: Literal["1d"] | None = "1d"
    """The attribution setting: conversions within this many days of a click, plus those
    within a day of a view (Meta's default: 7-day click, 1-day view)."""
    calls_per_minute: int = Field(default=60, ge=1)
    """Graph calls a minute for the token, shared by every worker and client using it."""
    max_throttle_wait: float = Field(default=900.0, ge=0)
    """The longest wait (seconds) for Meta's throttling to lift before the source fails."""
    max_report_wait: float = Field(default=900.0, gt=0)
    """The longest wait (seconds) for an asynchronous report run to complete."""
    page_size: int = Field(default=500, ge=1, le=5000)

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str]) -> list[str]:
        for event in events:
            if event not in STANDARD_EVENTS and not CUSTOM.match(event):
                raise ValueError(f"unknown event {event!r}: expected one of "
                                 f"{', '.join(STANDARD_EVENTS)} or custom:<custom conversion id>")
        if len(set(events)) != len(events):
            raise ValueError("an event is listed twice")
        return events

    @model_validator(mode="after")
    def _result_and_windows(self) -> MetaSettings:
        if self.result_event is not None and self.result_event not in self.events:
            raise ValueError(f"result_event {self.result_event!r} must be one of events "
                             f"({', '.join(self.events)})")
        if self.click_window is None and self.view_window is None:
            raise ValueError("click_window and view_window cannot both be null: conversions "
                             "need an attribution window")
        return self

    @property
    def account(self) -> str:
        return self.ad_account_id.removeprefix("act_")

    @property
    def result(self) -> str:
        return self.result_event or self.events[0]

    @property
    def windows(self) -> tuple[str, ...]:
        """The Graph ``action_attribution_windows`` whose figures add up to a conversion count
        (a click window and a view window never count the same conversion)."""
        out = []
        if self.click_window:
            out.append(f"{self.click_window}_click")
        if self.view_window:
            out.append(f"{self.view_window}_view")
        return tuple(out)

    @property
    def late_days(self) -> int:
        """Days during which a day's conversions may still grow (late attribution)."""
        return max(CLICK_DAYS[self.click_window] if self.click_window else 0,
                   1 if self.view_window else 0)

    def attribution_words(self) -> str:
        parts = []
        if self.click_window:
            parts.append(f"{CLICK_DAYS[self.click_window]}-day click")
        if self.view_window:
            parts.append("1-day view")
        return ", ".join(parts)
