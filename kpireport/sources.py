"""What a source plugin implements: the :class:`Source` base class and its context."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from kpireport.data import MetricSpec, Query, Table

if TYPE_CHECKING:
    import requests


class SourceSettings(BaseModel):
    """Base for a source's settings model: unknown keys are an error, so typos are caught."""

    model_config = ConfigDict(extra="forbid")


@dataclass
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

    def resolve_path(self, path: str | Path) -> Path:
        """A path from the settings, resolved against the config file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def http_session(self, *, retries: int = 4, backoff: float = 1.0,
                     statuses: Sequence[int] = (429, 500, 502, 503, 504),
                     timeout: float = 60.0, max_wait: float = 120.0) -> requests.Session:
        """A ``requests`` session that retries throttled and failing calls with backoff.

        Retries honour ``Retry-After`` on every retried status, waiting at most ``max_wait``
        seconds at a time (a server asking for hours fails the source instead of holding the
        run). POST is retried too: the reporting APIs read with it (GA4's runReport, Search
        Console's query, HubSpot's search), and a source that writes should make its own
        session. Every request gets ``timeout`` seconds unless it says otherwise. Sources
        whose API signals throttling otherwise (Meta's error codes on HTTP 400, Salesforce's
        403) add their own handling on top.
        """
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        class _Retry(Retry):
            RETRY_AFTER_STATUS_CODES = frozenset(statuses) | Retry.RETRY_AFTER_STATUS_CODES

            def parse_retry_after(self, retry_after: str) -> float:
                return min(super().parse_retry_after(retry_after), max_wait)

        class _Adapter(HTTPAdapter):
            def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
                if kwargs.get("timeout") is None:
                    kwargs["timeout"] = timeout  # a hung server must not hang the report
                return super().send(request, *args, **kwargs)

        session = requests.Session()
        retry = _Retry(total=retries, backoff_factor=backoff, status_forcelist=tuple(statuses),
                       allowed_methods=None, respect_retry_after_header=True,
                       raise_on_status=False, backoff_max=max_wait)
        adapter = _Adapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session


class Source:
    """Base class of source plugins. Register subclasses with the ``register_sources`` hook.

    Class attributes:

    - ``name``: the id used in config (``plugin: csv``); unique across plugins.
    - ``label``: a human name.
    - ``Settings``: a :class:`SourceSettings` subclass (pydantic) that validates the source's
      ``settings`` mapping before anything runs, so ``kpireport validate`` catches typos.
      Fields that hold secrets should be typed :class:`pydantic.SecretStr`.

    An instance serves one client's source for one run. The engine calls :meth:`metrics` and
    :meth:`dimensions` to plan, :meth:`fetch` once per merged query, then :meth:`close`.
    Credentials, paging, throttling and retries are the source's business; data that is not
    final yet is reported as a ``DataNote(kind=INCOMPLETE)`` on the table it affects. Notes
    of the standard kinds are worded by the report in its language; a note of your own
    (``kind=OTHER``) can carry ``translations`` so a French report prints it in French.
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    Settings: ClassVar[type[SourceSettings]] = SourceSettings

    def __init__(self, settings: Any, context: SourceContext) -> None:
        self.settings = settings
        self.context = context

    def metrics(self) -> Mapping[str, MetricSpec]:
        """The metrics this source offers, by standard name, each with its aggregation.

        Must not touch the network: ``kpireport validate`` calls it. May read local files.
        """
        raise NotImplementedError

    def dimensions(self) -> Sequence[str]:
        """The dimensions this source can split metrics by (besides ``date``/``month``)."""
        return ()

    def check(self) -> list[str]:
        """Offline checks beyond the settings schema (files exist, headers are right).

        Returns messages, each naming what is wrong; empty when all is well. No network.
        """
        return []

    def fetch(self, query: Query) -> Table:
        """Answer one query. Raise :class:`kpireport.errors.SourceError` when it cannot.

        Distinct metrics must be computed for each bucket asked (day, month or whole range),
        never summed from smaller buckets; ``kpireport.data.aggregate_rows`` does the arithmetic
        for sources that hold daily rows.
        """
        raise NotImplementedError

    def watched_paths(self) -> Sequence[Path]:
        """The local files (or folders) this source reads, so that ``kpireport preview`` can
        render again when one changes. None for a source that reads no local file."""
        return ()

    def close(self) -> None:
        """Release connections or files. Called once the report's data is fetched."""
