"""What a client's ``search_console`` source says: which property, how to reach it, what to ask."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from kpireport import SourceSettings
from kpireport_google import GoogleAuth

GOOGLE_API = "https://searchconsole.googleapis.com"
SEARCH_TYPES = ("web", "image", "video", "news", "discover", "googleNews")
MAX_ROW_LIMIT = 25_000
"""The most rows Search Console gives in one page (``rowLimit``)."""

_DOMAIN = re.compile(r"^sc-domain:[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
_PREFIX = re.compile(r"^https?://[^/\s?#]+(/[^\s?#]*)?$")


class SearchConsoleSettings(SourceSettings):
    """``settings:`` of a ``plugin: search_console`` source."""

    site: str = Field(description="The property as Search Console names it: a URL prefix "
                                  "(https://www.example.com/) or a domain "
                                  "(sc-domain:example.com)")
    auth: GoogleAuth = Field(description="How to reach Google: service_account_file, "
                                         "service_account_env or account")
    search_type: Literal["web", "image", "video", "news", "discover", "googleNews"] = Field(
        default="web", description="Which results: web (Search's 'Web' tab, as the "
                                   "Performance report opens), image, video, news, discover or "
                                   "googleNews")
    data_state: Literal["all", "final"] = Field(
        default="all", description="all: include the last days, still being processed "
                                   "(noted in the report, never cached); final: only final "
                                   "days (the last days are then left out, and noted)")
    base_url: str = Field(default=GOOGLE_API,
                          description="The API's address (tests point it at a fake)")
    timeout: float = Field(default=60.0, gt=0, le=600,
                           description="Seconds to wait for one answer")
    row_limit: int = Field(default=MAX_ROW_LIMIT, ge=1, le=MAX_ROW_LIMIT,
                           description="Rows per page (startRow paging); Google's maximum "
                                       "is the fastest")
    concurrent_requests: int = Field(default=20, ge=1, le=50,
                                     description="Requests of one report in flight at once")
    queries_per_minute: int = Field(default=1200, ge=1, le=1200,
                                    description="Google's limit per user (and per site), "
                                                "shared by every worker using the credential")

    @field_validator("site")
    @classmethod
    def _site(cls, value: str) -> str:
        site = value.strip()
        if site.startswith("sc-domain:"):
            site = site.lower()
            if not _DOMAIN.fullmatch(site):
                raise ValueError(f"{value!r} is not a domain property: expected "
                                 "sc-domain:example.com (no scheme, no path)")
            return site
        if not _PREFIX.fullmatch(site):
            raise ValueError(f"{value!r} is not a Search Console property: expected a URL "
                             "prefix such as https://www.example.com/ or a domain such as "
                             "sc-domain:example.com")
        # A URL-prefix property always ends with '/' in Search Console (its siteUrl).
        return site if site.endswith("/") else site + "/"

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError(f"{value!r}: expected an http(s):// address")
        return value.rstrip("/")
