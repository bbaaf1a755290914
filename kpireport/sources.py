"""What a source plugin implements: the :class:`Source` base class and its context."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from kpireport.data import Capabilities, DateRange, MetricSpec, MissingDays, Query, Table
from kpireport.errors import SourceError

if TYPE_CHECKING:
    import requests

    from kpireport.cache import ResponseCache
    from kpireport.ratelimit import SharedRateLimiter


class SourceSettings(BaseModel):
    """Base for a source's settings model: unknown keys are an error, so typos are caught."""

    model_config = ConfigDict(extra="forbid")


SettingsT = TypeVar("SettingsT", bound=SourceSettings)


@dataclass(frozen=True, kw_only=True)
class Usage:
    """One quota figure a source reported: ``used`` of ``limit`` (None when unknown)."""

    used: float
    limit: float | None = None

    def __str__(self) -> str:
        used = _figure(self.used)
        return used if self.limit is None else f"{used}/{_figure(self.limit)}"


def _figure(value: float) -> str:
    # Whole numbers in full (a 360 property's 2000000 tokens, never "2e+06").
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(kw_only=True)
class SourceContext:
    """What the engine gives a source besides its settings.

    ``name`` is the client's name for the source (``web``, ``crm``…), ``base_dir`` the folder of
    the config file (relative paths in settings are resolved against it), ``today`` the run date
    in the client's time zone.
    """

    name: str
    client_id: str
    timezone: ZoneInfo
    base_dir: Path
    today: dt.date
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("kpireport.source"))
    plugin: str = field(default="", kw_only=True)
    """The source plugin's name (``Source.name``): names its state folder and cache."""
    label: str = field(default="", kw_only=True)
    """How the report names this source (the config's ``label``, else the plugin's)."""
    currency: str = field(default="", kw_only=True)
    """The client's currency (ISO 4217)."""
    state_root: Path | None = field(default=None, kw_only=True)
    """The run's state folder; None (tests, one-off calls) uses a temporary one."""
    retry_backoff: float = field(default=1.0, kw_only=True)
    """What :meth:`http_session` multiplies every wait between retries by (its ``backoff``
    and the waits ``Retry-After`` asks for): 1 in a run, 0 in tests
    (:func:`kpireport.testing.make_context`), so that retries are exercised without waiting.
    A minor addition to the contract: an optional keyword field."""
    usage: dict[str, Usage] = field(default_factory=dict, kw_only=True)
    """Quota figures the source reported (:meth:`record_usage`), by quota name."""
    refresh: bool = field(default=False, kw_only=True)
    """True when every call must reach the API (``kpireport check``): :attr:`cache` answers
    nothing it stored before."""

    def __post_init__(self) -> None:
        # What a source logs is masked before any handler sees it: the CLI's handler redacts,
        # but a host's own (a task queue's worker calling run_batch) may not.
        from kpireport.secrets import RedactingFilter

        if not any(isinstance(f, RedactingFilter) for f in self.logger.filters):
            self.logger.addFilter(RedactingFilter())

    def resolve_path(self, path: str | Path) -> Path:
        """A path from the settings, resolved against the config file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def state_dir(self) -> Path:
        """This plugin's own folder (mode 0700), kept between runs: token caches, incremental
        state. Shared by every client's source of the same plugin, so key what you store by
        credential or account."""
        if self.state_root is None:
            self.state_root = Path(tempfile.mkdtemp(prefix="kpireport-state-"))
        folder = self.state_root / "plugins" / (self.plugin or "source")
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
        return folder

    @property
    def cache(self) -> ResponseCache:
        """Raw responses keyed by request (see :mod:`kpireport.cache`): what is final is never
        asked again, by this run, a re-render, a preview or next month's report."""
        if self._cache is None or self._cache.refresh != self.refresh:
            from kpireport.cache import ResponseCache

            self._cache = ResponseCache(self.state_dir / "cache", refresh=self.refresh)
        return self._cache

    _cache: ResponseCache | None = field(default=None, init=False, repr=False, compare=False)

    def register_secret(self, value: str | None) -> None:
        """Mask ``value`` (a token obtained at run time) in every log, error, ledger and PDF."""
        from kpireport.secrets import register_secret

        register_secret(value)

    def rate_limiter(self, credential: str, *, calls: int, period: float) -> SharedRateLimiter:
        """A limiter of ``calls`` per ``period`` seconds shared by every worker process (and
        every client) using ``credential`` — pass the token or key itself: only its digest
        names the limiter's file."""
        from kpireport.ratelimit import SharedRateLimiter

        digest = hashlib.sha256(credential.encode("utf-8")).hexdigest()[:24]
        folder = self.state_dir.parent.parent / "ratelimits"
        return SharedRateLimiter(folder / f"{self.plugin or 'source'}-{digest}",
                                 calls=calls, period=period)

    def record_usage(self, quota: str, *, used: float, limit: float | None = None) -> None:
        """Report a quota figure the API returned (GA4 ``tokensPerDay``, Salesforce
        ``api-usage``): it reaches the run summary and the ledger. The last value wins."""
        self.usage[quota] = Usage(used=used, limit=limit)

    def http_session(self, *, retries: int = 4, backoff: float = 1.0,
                     statuses: Sequence[int] = (429, 500, 502, 503, 504),
                     timeout: float = 60.0, max_wait: float = 120.0) -> requests.Session:
        """A ``requests`` session that retries throttled and failing calls with backoff.

        Only ``statuses`` are retried (a 429 left out reaches the caller at once, Retry-After
        or not). Retries honour ``Retry-After`` on every retried status, waiting at most
        ``max_wait`` seconds at a time (a server asking for hours fails the source instead of
        holding the run). POST is retried too: the reporting APIs read with it (GA4's
        runReport, Search Console's query, HubSpot's search), and a source that writes should
        make its own session. Every request gets ``timeout`` seconds unless it says otherwise.
        Sources whose API signals throttling otherwise (Meta's error codes on HTTP 400,
        Salesforce's 403) add their own handling on top.
        """
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        class _Retry(Retry):
            # Only the statuses asked for: urllib3 would also retry a 413, 429 or 503 that
            # carries Retry-After, behind the back of a source that handles 429 itself.
            RETRY_AFTER_STATUS_CODES = frozenset(statuses)

            def parse_retry_after(self, retry_after: str) -> float:
                return min(super().parse_retry_after(retry_after), max_wait) * scale

        class _Adapter(HTTPAdapter):
            def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
                if kwargs.get("timeout") is None:
                    kwargs["timeout"] = timeout  # a hung server must not hang the report
                return super().send(request, *args, **kwargs)

        scale = max(self.retry_backoff, 0.0)
        session = requests.Session()
        retry = _Retry(total=retries, backoff_factor=backoff * scale,
                       status_forcelist=tuple(statuses), allowed_methods=None,
                       respect_retry_after_header=True, raise_on_status=False,
                       backoff_max=max_wait)
        adapter = _Adapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session


class Source(Generic[SettingsT]):
    """Base class of source plugins. Register subclasses with the ``register_sources`` hook.

    Subclass it with your settings model, ``class MySource(Source[MySettings])``, so that
    ``self.settings`` is typed: the engine validates the client's ``settings`` mapping with
    ``Settings`` before anything runs (``kpireport validate`` catches typos) and hands the
    source the validated model, never a second time to validate.

    Class attributes:

    - ``name``: the id used in config (``plugin: csv``); unique across plugins.
    - ``label``: a human name; a client's config may give the source its own (``label:``),
      which is how the report names it.
    - ``Settings``: the :class:`SourceSettings` subclass (pydantic). Fields that hold secrets
      are typed :class:`pydantic.SecretStr` (also inside lists and nested models): they are
      masked everywhere.
    - ``missing_days``: what a day absent from the rows means (:class:`MissingDays`).

    An instance serves one client's source for one report. The engine calls :meth:`check`,
    :meth:`metrics` and :meth:`capabilities` to plan and validate (no network), then
    :meth:`fetch_many` once with every query of the report, then :meth:`close`.
    ``kpireport check`` calls :meth:`probe` instead (one minimal live call).
    Sources of one report are fetched concurrently, each in its own thread. Credentials, paging and
    retries are the source's business (:meth:`SourceContext.http_session`); it raises the
    contract's errors (:class:`~kpireport.errors.AuthenticationError`,
    :class:`~kpireport.errors.PermissionDenied`, :class:`~kpireport.errors.QuotaExhausted`,
    :class:`~kpireport.errors.TransientError`), after which the engine asks it nothing more
    for this report if the error is fatal. Data that is not final yet is reported as a
    ``DataNote(kind=INCOMPLETE)`` on the table it affects. Notes of the standard kinds are
    worded by the report in its language; a note of your own (``kind=OTHER``) can carry
    ``translations`` so a French report prints it in French.
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    Settings: ClassVar[type[SourceSettings]] = SourceSettings
    missing_days: ClassVar[MissingDays] = MissingDays.GAP

    def __init__(self, settings: SettingsT, context: SourceContext) -> None:
        self.settings: SettingsT = settings
        self.context = context

    def metrics(self) -> Mapping[str, MetricSpec]:
        """The metrics this source offers, by standard name, each with its aggregation.

        Must not touch the network: ``kpireport validate`` calls it. May read local files.
        """
        raise NotImplementedError

    def capabilities(self) -> Capabilities:
        """The dimensions, granularities, filters and ordering this source can answer.

        ``kpireport validate`` checks every query of the report against them. No network.
        The default offers no dimension, every granularity, filter and order.
        """
        return Capabilities()

    def check(self) -> list[str]:
        """Offline checks beyond the settings schema (files exist, headers are right).

        Returns messages, each naming what is wrong; empty when all is well. No network.
        """
        return []

    def fetch(self, query: Query) -> Table:
        """Answer one query. Raise a :class:`kpireport.errors.SourceError` when it cannot.

        Distinct metrics must be computed for each bucket asked (day, month or whole range),
        never summed from smaller buckets; ``kpireport.data.aggregate_rows`` does the arithmetic
        for sources that hold daily rows. A query without dimensions at ``total`` granularity
        gets at most one row. Filters and order are the query's to apply.
        """
        raise NotImplementedError

    def fetch_many(self, queries: Sequence[Query]) -> dict[Query, Table | SourceError]:
        """Answer all of a report's queries: each query's table, or the error that stopped it.

        The default calls :meth:`fetch` for each, and after a fatal error (authentication,
        permission, quota) answers the remaining queries with that same error without asking
        again. Override it to batch (GA4 ``batchRunReports``, several date ranges in one
        request); the engine never calls :meth:`fetch` itself.
        """
        answers: dict[Query, Table | SourceError] = {}
        fatal: SourceError | None = None
        for query in queries:
            if fatal is not None:
                answers[query] = fatal
                continue
            try:
                answers[query] = self.fetch(query)
            except SourceError as exc:
                answers[query] = exc
                if exc.fatal:
                    fatal = exc
        return answers

    def probe(self) -> None:
        """One minimal live call, to tell whether the source can be read (``kpireport check``).

        Returns when it can; raises the contract's errors when it cannot
        (:class:`~kpireport.errors.AuthenticationError`, :class:`~kpireport.errors.
        PermissionDenied`, :class:`~kpireport.errors.QuotaExhausted`,
        :class:`~kpireport.errors.TransientError`, :class:`~kpireport.errors.SourceError`).
        The default asks, through :meth:`fetch_many`, the total of its first metric over
        yesterday (``context.today`` - 1 day); a source with no metric is not asked anything.
        Under ``kpireport check`` the context's :attr:`~SourceContext.cache` answers nothing
        stored (``context.refresh``), so the call reaches the API. Override it when the API
        has a cheaper call (a token check, an account lookup).
        """
        metrics = list(self.metrics())
        if not metrics:
            return
        yesterday = self.context.today - dt.timedelta(days=1)
        query = Query(metrics=(metrics[0],), range=DateRange(start=yesterday, end=yesterday))
        answer = self.fetch_many([query]).get(query)
        if isinstance(answer, SourceError):
            raise answer
        if answer is None:
            raise SourceError("gave no answer to a one-day total of "
                              f"{metrics[0]} ({yesterday})")

    def watched_paths(self) -> Sequence[Path]:
        """The local files (or folders) this source reads, so that ``kpireport preview`` can
        render again when one changes. None for a source that reads no local file."""
        return ()

    def close(self) -> None:
        """Release connections or files. Called once the report's data is fetched."""


def state_folder(config_file: str | Path, *, output: str | Path | None = None) -> Path:
    """The state folder a run of ``config_file`` uses (``runs.state_dir``, else
    ``<output>/.kpireport``; ``output`` as ``kpireport run --output`` gives it): for a
    plugin's command that keeps something there for its sources, such as a connected
    account's refresh token. A source finds the same folder as ``context.state_root``.
    Raises :class:`~kpireport.errors.ConfigError` for a config that does not load."""
    from kpireport.config.load import load_config

    config = load_config(config_file)
    return config.state_root(Path(output) if output is not None else None)
