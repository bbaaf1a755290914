"""What a recommendation rule plugin registers, and what it returns."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kpireport.report import Report


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Finding:
    """What to do next, with the figures that triggered it.

    ``title`` and ``text`` are given per language (English at least); ``figures`` holds the
    numbers behind the finding so that a reader (or an archive) can check them. A finding
    about one objective names it by key in ``figures["objective"]``: the summary, which
    already lists an objective that needs attention, then does not list the finding again.
    """

    rule: str
    severity: Severity
    title: Mapping[str, str]
    text: Mapping[str, str]
    figures: Mapping[str, Any] = field(default_factory=dict)
    kpis: tuple[str, ...] = ()

    def in_language(self, language: str) -> tuple[str, str]:
        lang = language.split("_")[0]
        return (self.title.get(lang) or self.title["en"], self.text.get(lang) or self.text["en"])


@dataclass(frozen=True)
class Rule:
    """A recommendation rule: ``evaluate(report)`` yields findings (possibly none)."""

    id: str
    evaluate: Callable[[Report], Iterable[Finding]]
    description: str = ""
