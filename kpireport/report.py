"""A computed report: everything the templates and the rules see, as plain data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from kpireport.data import DataNote, MetricSpec
from kpireport.kpis import KpiValue

if TYPE_CHECKING:
    from kpireport.config import AgencyConfig, ClientConfig, Colours
    from kpireport.periods import Period
    from kpireport.pipeline.fetch import FetchResult


class Status(StrEnum):
    ACHIEVED = "achieved"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    MISSED = "missed"
    NO_DATA = "no_data"


@dataclass(kw_only=True)
class Assessment:
    """A SMART objective evaluated for the report's period.

    For a ``level`` objective ``value`` is the KPI's value in the period; for a ``cumulative``
    one it is the total from the objective's start to the period's end. ``progress`` is the share
    of the way from baseline to target (1.0 = reached; may exceed 1 or be negative).
    ``expected`` is the value a straight path from baseline (at start) to target (at deadline)
    would have reached by the period's end, ``forecast`` the value expected at the deadline at
    the current run rate (cumulative) or trend (level). ``required_rate`` is what each remaining
    month must bring (cumulative) or gain (level) to still reach the target.
    """

    key: str
    title: str
    kpi: str
    kind: str
    direction: str
    baseline: float | None
    target: float
    start: dt.date
    deadline: dt.date | None
    value: float | None
    status: Status
    progress: float | None = None
    expected: float | None = None
    expected_progress: float | None = None
    forecast: float | None = None
    required_rate: float | None = None
    days_left: int | None = None
    smart: list[str] = field(default_factory=list)
    """SMART problems found (not time-bound, unrealistic…), as sentences with their figures."""
    measured_in: dt.date | None = None
    """For a level objective judged on another month than the report's period (the last
    whole month of a quarter, the month of a passed deadline): that month's first day."""
    measured_to: dt.date | None = None
    """For a cumulative objective whose data stops before the period's end: the last day its
    total (and the path it is compared with) counts."""


@dataclass(kw_only=True)
class KeyResultScore:
    kpi: str
    title: str
    direction: str
    start: float
    target: float
    weight: float
    value: float | None
    score: float | None


@dataclass(kw_only=True)
class OkrScore:
    key: str
    objective: str
    key_results: list[KeyResultScore]
    score: float | None
    """Weighted mean of the key results' scores (those with data), 0.0 to 1.0."""
    measured_in: dt.date | None = None
    """The month its key results were measured in, when not the report's period (a quarter's
    last month, a passed deadline's month)."""


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, kw_only=True)
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
    priority: int | None = None
    """How much acting on it matters, 0 to 100 (the report lists the highest first and puts
    the first three in its summary); None takes its severity's (see :attr:`rank`)."""
    impact: Mapping[str, str] = field(default_factory=dict)
    """The expected effect of acting on it in the client's units, per language ("about 160
    more orders a month"), empty when it cannot be computed; its number goes in
    ``figures["impact"]``."""
    verbatim: tuple[str, ...] = ()
    """The data its title and text quote (a search query, a page, a campaign's or a
    channel's name), printed as the data has it: the report's typography (French « »
    quotes and spaces) is applied around them, never inside (contract 1.4)."""

    @property
    def rank(self) -> int:
        """``priority`` (held within 0 to 100), or its severity's default (critical 70,
        warning 40, info 10)."""
        if self.priority is not None:
            return max(0, min(100, self.priority))
        return {"critical": 70, "warning": 40}.get(str(self.severity), 10)

    def in_language(self, language: str) -> tuple[str, str]:
        lang = language.split("_")[0]
        return (self.title.get(lang) or self.title["en"], self.text.get(lang) or self.text["en"])

    def impact_in(self, language: str) -> str:
        """Its expected impact in ``language`` (English when not translated), or ""."""
        return self.impact.get(language.split("_")[0]) or self.impact.get("en", "")


@dataclass(kw_only=True)
class Report:
    """One client's report for one period, computed and ready to render."""

    agency: AgencyConfig
    client: ClientConfig
    period: Period
    language: str
    locale: str
    currency: str
    timezone: str
    colours: Colours
    theme: str
    generated_at: dt.datetime
    kpis: dict[str, KpiValue] = field(default_factory=dict)
    objectives: list[Assessment] = field(default_factory=list)
    okrs: list[OkrScore] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[DataNote] = field(default_factory=list)
    logos: dict[str, str] = field(default_factory=dict)
    """Data URIs of the agency's and the client's logos (``agency``, ``client``)."""
    brand: dict[str, Any] = field(default_factory=dict)
    """Resolved branding: ``footer``, ``fonts`` (family, weight, style, data URI),
    ``cover_image`` (data URI), ``sections``, ``archival``, ``tagged``, ``commentary``
    (the analyst's Markdown for this period, if any) and ``commentary_file`` (its path)."""
    all_kpis: dict[str, KpiValue] = field(default_factory=dict)
    """Every KPI computed: ``kpis`` and those only objectives or key results need."""
    fetched: FetchResult | None = None
    """What the sources answered (tables and errors): what a snapshot of the run stores."""
    specs: dict[str, dict[str, MetricSpec]] = field(default_factory=dict)
    """Source name → the metrics it offered."""
    source_labels: dict[str, str] = field(default_factory=dict)
    """Source name (the config's key) → how the report names it (its label)."""
    sources_info: dict[str, Any] = field(default_factory=dict)
    """Source name → what a snapshot keeps of it (label, what its missing days mean)."""
    usage: dict[str, dict[str, str]] = field(default_factory=dict)
    """Source name → the quota figures it reported during the fetch (``"120/200000"``)."""
    data_end: dt.date | None = None
    """The earliest last day of data of a source that stops before the period's end (its
    KPIs cover the period up to that day); None when the data covers the whole period."""
    kpi_periods: dict[str, Period] = field(default_factory=dict)
    """KPI key → its period cut to its data's last day, for KPIs whose data stops early."""
    stale: list[Any] = field(default_factory=list)
    """Sources with no data for most of the period (:class:`kpireport.pipeline.coverage.Stale`):
    a scheduled run holds such a report rather than deliver it."""

    @property
    def title(self) -> str:
        return f"{self.client.name} — {self.period.key}"

    def period_of(self, kpi: str | None = None) -> Period:
        """The days a KPI's figures cover and are compared on: its period cut to its data's
        last day (:attr:`kpi_periods`), else the report's. Without a KPI, the period every
        single figure shares when their data all stop on one day, else the report's. Words
        such as "vs 1 Jan – 24 Nov 2025" name ``period_of(key).previous``, never
        ``period.previous`` when the figures stop earlier."""
        if kpi is not None:
            return self.kpi_periods.get(kpi, self.period)
        cut = {self.kpi_periods.get(k.key) for k in self.kpis.values()
               if k.definition.breakdown is None}
        if len(cut) == 1 and (only := cut.pop()) is not None:
            return only
        return self.period

    def every_kpi(self) -> dict[str, KpiValue]:
        """``all_kpis``, or ``kpis`` for a report built without them."""
        return self.all_kpis or self.kpis

    def kpi_list(self, family: str | None = None) -> list[KpiValue]:
        return [k for k in self.kpis.values() if family is None or k.definition.family == family]
