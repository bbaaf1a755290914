"""Meta (Facebook) ads: Ads Insights and the Facebook Pixel, through the Graph API.

Spend, delivery and the pixel's conversions per campaign and day, read with an agency's
system-user token (``ads_read``); the pixel's own stats say whether it still receives events.
See ``docs/sources/meta.md``.
"""

from __future__ import annotations

from typing import Any

from kpireport import hookimpl
from kpireport_meta.settings import MetaSettings
from kpireport_meta.source import MetaSource

KPIREPORT_CONTRACT = "1"

__all__ = ["MetaSettings", "MetaSource"]


@hookimpl
def register_sources(register: Any) -> None:
    register(MetaSource)
