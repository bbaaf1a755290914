"""kpireport: objectives → KPIs → branded PDF reports.

**This module is the plugin contract's one import place.** Every name a plugin may use is
in ``__all__`` and importable from here (``from kpireport import Source, Query, Table``);
everything else in the package is private and may change in any release. The hooks are
specified, with their reference documentation, in :mod:`kpireport.hookspecs`.

The contract is versioned by :data:`CONTRACT_VERSION` (``MAJOR.MINOR``), apart from the
package's own version. A minor version only adds: new names, new optional keyword fields on
the dataclasses (they are all keyword-only, so adding one never breaks a plugin), new hooks,
new optional hook arguments, new note kinds and metrics. Anything else (removing or renaming
a name, a field or a hook argument, changing a meaning) takes a new major version. A plugin
may declare the major version it was written for with a module attribute
``KPIREPORT_CONTRACT = "1"``: a plugin of another major version is refused at load time with
a message naming it, instead of failing in the middle of a report.

Names are imported lazily, so that ``kpireport``'s command line starts without loading what
only a report needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
CONTRACT_VERSION = "1.4"
"""The plugin contract's version (``MAJOR.MINOR``); see the module's documentation."""

# Public name → the private module that defines it.
_EXPORTS: dict[str, str] = {
    # Hooks
    "hookimpl": "kpireport.hookspecs",
    # Sources
    "Source": "kpireport.sources",
    "SourceSettings": "kpireport.sources",
    "SourceContext": "kpireport.sources",
    "Usage": "kpireport.sources",
    "ResponseCache": "kpireport.cache",
    "SharedRateLimiter": "kpireport.ratelimit",
    "state_folder": "kpireport.sources",
    "atomic_write": "kpireport.delivery",
    # Queries and tables
    "Aggregation": "kpireport.data",
    "Capabilities": "kpireport.data",
    "DataNote": "kpireport.data",
    "DateRange": "kpireport.data",
    "Filter": "kpireport.data",
    "Granularity": "kpireport.data",
    "MetricSpec": "kpireport.data",
    "MissingDays": "kpireport.data",
    "NoteKind": "kpireport.data",
    "Operator": "kpireport.data",
    "Order": "kpireport.data",
    "Query": "kpireport.data",
    "Table": "kpireport.data",
    "aggregate_rows": "kpireport.data",
    "filter_rows": "kpireport.data",
    "order_rows": "kpireport.data",
    "split_by_month": "kpireport.data",
    "STANDARD_METRICS": "kpireport.metrics",
    "STANDARD_DIMENSIONS": "kpireport.metrics",
    # KPIs
    "Breakdown": "kpireport.kpis",
    "Direction": "kpireport.kpis",
    "KpiDefinition": "kpireport.kpis",
    "KpiValue": "kpireport.kpis",
    "SeriesPoint": "kpireport.kpis",
    "Unit": "kpireport.data",
    "ratio": "kpireport.kpis",
    # Periods
    "Period": "kpireport.periods",
    # Reports, objectives, recommendations
    "Assessment": "kpireport.report",
    "KeyResultScore": "kpireport.report",
    "OkrScore": "kpireport.report",
    "Report": "kpireport.report",
    "Status": "kpireport.report",
    "Finding": "kpireport.recommendations",
    "Rule": "kpireport.recommendations",
    "Severity": "kpireport.recommendations",
    # Delivery and themes
    "Artifacts": "kpireport.delivery",
    "Delivery": "kpireport.delivery",
    "DeliveryContext": "kpireport.delivery",
    "DeliverySettings": "kpireport.delivery",
    "DeliveryTarget": "kpireport.delivery",
    "Theme": "kpireport.themes",
    # Errors
    "AuthenticationError": "kpireport.errors",
    "DataFileError": "kpireport.errors",
    "KpiReportError": "kpireport.errors",
    "PermissionDenied": "kpireport.errors",
    "PluginError": "kpireport.errors",
    "QuotaExhausted": "kpireport.errors",
    "SourceError": "kpireport.errors",
    "TransientError": "kpireport.errors",
}

__all__ = [
    "CONTRACT_VERSION",
    "STANDARD_DIMENSIONS",
    "STANDARD_METRICS",
    "Aggregation",
    "Artifacts",
    "Assessment",
    "AuthenticationError",
    "Breakdown",
    "Capabilities",
    "DataFileError",
    "DataNote",
    "DateRange",
    "Delivery",
    "DeliveryContext",
    "DeliverySettings",
    "DeliveryTarget",
    "Direction",
    "Filter",
    "Finding",
    "Granularity",
    "KeyResultScore",
    "KpiDefinition",
    "KpiReportError",
    "KpiValue",
    "MetricSpec",
    "MissingDays",
    "NoteKind",
    "OkrScore",
    "Operator",
    "Order",
    "Period",
    "PermissionDenied",
    "PluginError",
    "Query",
    "QuotaExhausted",
    "Report",
    "ResponseCache",
    "Rule",
    "SeriesPoint",
    "Severity",
    "SharedRateLimiter",
    "Source",
    "SourceContext",
    "SourceError",
    "SourceSettings",
    "Status",
    "Table",
    "Theme",
    "TransientError",
    "Unit",
    "Usage",
    "aggregate_rows",
    "atomic_write",
    "filter_rows",
    "hookimpl",
    "order_rows",
    "ratio",
    "split_by_month",
    "state_folder",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kpireport' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports
    from kpireport.cache import ResponseCache
    from kpireport.data import (
        Aggregation,
        Capabilities,
        DataNote,
        DateRange,
        Filter,
        Granularity,
        MetricSpec,
        MissingDays,
        NoteKind,
        Operator,
        Order,
        Query,
        Table,
        Unit,
        aggregate_rows,
        filter_rows,
        order_rows,
        split_by_month,
    )
    from kpireport.delivery import (
        Artifacts,
        Delivery,
        DeliveryContext,
        DeliverySettings,
        DeliveryTarget,
        atomic_write,
    )
    from kpireport.errors import (
        AuthenticationError,
        DataFileError,
        KpiReportError,
        PermissionDenied,
        PluginError,
        QuotaExhausted,
        SourceError,
        TransientError,
    )
    from kpireport.hookspecs import hookimpl
    from kpireport.kpis import (
        Breakdown,
        Direction,
        KpiDefinition,
        KpiValue,
        SeriesPoint,
        ratio,
    )
    from kpireport.metrics import STANDARD_DIMENSIONS, STANDARD_METRICS
    from kpireport.periods import Period
    from kpireport.ratelimit import SharedRateLimiter
    from kpireport.recommendations import Finding, Rule, Severity
    from kpireport.report import Assessment, KeyResultScore, OkrScore, Report, Status
    from kpireport.sources import Source, SourceContext, SourceSettings, Usage, state_folder
    from kpireport.themes import Theme
