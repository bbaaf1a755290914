"""What a recommendation rule plugin registers, and what it returns."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Findings are part of a report: defined beside it, re-exported here for rule plugins.
from kpireport.report import Finding, Report, Severity

__all__ = ["Finding", "Rule", "Severity"]


@dataclass(frozen=True, kw_only=True)
class Rule:
    """A recommendation rule: ``evaluate(report)`` yields findings (possibly none)."""

    id: str
    evaluate: Callable[[Report], Iterable[Finding]]
    description: str = ""
