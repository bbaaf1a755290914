"""The ``search_console`` source: Google Search Console's Search Analytics API
(``searchAnalytics.query``) for clicks, impressions, CTR and position, by query, page, device
and country.

The connection (a service account, or the agency's own Google account) is the
``kpireport_google`` plugin's; google-auth is imported only when a source calls Google.
"""

from __future__ import annotations

from typing import Any

from kpireport import hookimpl
from kpireport_search_console.settings import SearchConsoleSettings
from kpireport_search_console.source import SearchConsoleSource

KPIREPORT_CONTRACT = "1"

__all__ = ["SearchConsoleSettings", "SearchConsoleSource"]


@hookimpl
def register_sources(register: Any) -> None:
    register(SearchConsoleSource)
