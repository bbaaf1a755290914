"""What a client's ``ga4`` source says: which property, which credential, which key events."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from kpireport import SourceSettings
from kpireport_google import GoogleAuth

GA4_API = "https://analyticsdata.googleapis.com"
# GA4's own rule for event names: a letter, then letters, digits or underscores, 40 at most.
EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")


class Ga4Settings(SourceSettings):
    property_id: str = Field(description="The GA4 property's numeric id (Admin > Property "
                                         "details), e.g. 123456789")
    auth: GoogleAuth = Field(description="How to reach Google: service_account_file, "
                                         "service_account_env or account")
    conversions: list[str] = Field(
        default_factory=list,
        description="Key events counted as conversions (e.g. [purchase]); empty: every key "
                    "event of the property (GA4's keyEvents)")
    leads: list[str] = Field(
        default_factory=list,
        description="Key events counted as leads (e.g. [generate_lead, form_submit]); empty: "
                    "the source offers no leads metric")
    base_url: str = Field(GA4_API, description="The Data API's address (tests point it at a "
                                               "fake)")
    page_size: int = Field(100_000, ge=1, le=250_000,
                           description="Rows asked per request (GA4's limit: 250,000)")
    concurrent_requests: int = Field(
        5, ge=1, le=10,
        description="Requests to the property in progress at once, across every worker of "
                    "the run (GA4 allows 10 for a standard property, shared with every "
                    "other tool reading it)")
    processing_days: int = Field(
        2, ge=0, le=30,
        description="Days GA4 may still be processing before the run date (one more is "
                    "added for time zones): noted as not final, and their answers kept an "
                    "hour at most, never for good")
    timeout: float = Field(60.0, gt=0, description="Seconds to wait for Google's answer")
    analytics_360: bool = Field(
        False, description="A Google Analytics 360 property: its token quotas are ten times "
                           "a standard property's (for the run summary's used/limit)")

    @field_validator("property_id", mode="before")
    @classmethod
    def _property(cls, value: object) -> str:
        text = str(value).strip()
        text = text.removeprefix("properties/")
        if not text.isdigit():
            raise ValueError("a GA4 property id is a number such as 123456789 (Admin > Property "
                             "details), not a measurement id (G-…) or a URL")
        return text

    @field_validator("conversions", "leads")
    @classmethod
    def _events(cls, names: list[str]) -> list[str]:
        bad = [n for n in names if not EVENT_NAME.fullmatch(n)]
        if bad:
            raise ValueError(f"{', '.join(repr(b) for b in bad)}: not a GA4 event name "
                             "(letters, digits and underscores, starting with a letter, as "
                             "listed in Admin > Events, e.g. generate_lead)")
        if len(set(names)) != len(names):
            raise ValueError("an event is listed twice")
        return names

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError("base_url is an http(s) address, such as " + GA4_API)
        return value.rstrip("/")
