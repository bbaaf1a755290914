"""The Google Analytics 4 source (``plugin: ga4``): the Data API's ``runReport`` and
``batchRunReports``, through the Google connection of :mod:`kpireport_google`.

Light to import: google-auth and requests are loaded when a report first calls Google.
"""

from __future__ import annotations

from typing import Any

from kpireport import hookimpl
from kpireport_ga4.settings import Ga4Settings
from kpireport_ga4.source import Ga4Source

KPIREPORT_CONTRACT = "1"

__all__ = ["Ga4Settings", "Ga4Source"]


@hookimpl
def register_sources(register: Any) -> None:
    register(Ga4Source)
