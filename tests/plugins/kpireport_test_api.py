"""A source for a remote API, written against ``kpireport``'s public surface only.

It is what a third party's API source looks like under contract 1.0: a token obtained at run
time (registered as a secret), real ``requests`` calls, the contract's errors, a cache of final
answers, quota usage, currency and time zone from the API's reply. Its API is the fake in
``tests/api_fake.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, SecretStr

from kpireport import (
    Aggregation,
    AuthenticationError,
    Capabilities,
    MetricSpec,
    MissingDays,
    PermissionDenied,
    Query,
    QuotaExhausted,
    Source,
    SourceSettings,
    Table,
    TransientError,
    Unit,
    hookimpl,
    split_by_month,
)

KPIREPORT_CONTRACT = "1"


class ApiSettings(SourceSettings):
    base_url: str
    account: str
    client_secret: SecretStr
    spare_keys: list[SecretStr] = Field(default_factory=list)
    """Not used: a secret inside a list, which must be masked like any other."""
    final_after_days: int = 3
    """Days after which the API's figures no longer change."""


class ApiSource(Source[ApiSettings]):
    name = "test_api"
    label = "Test API"
    Settings = ApiSettings
    missing_days = MissingDays.ZERO

    def __init__(self, settings: ApiSettings, context: Any) -> None:
        super().__init__(settings, context)
        self._token: str | None = None
        self._session: Any = None

    def metrics(self) -> dict[str, MetricSpec]:
        return {"sessions": MetricSpec(name="sessions", aggregation=Aggregation.SUM),
                "revenue": MetricSpec(name="revenue", aggregation=Aggregation.SUM,
                                      unit=Unit.CURRENCY)}

    def capabilities(self) -> Capabilities:
        return Capabilities(dimensions=("channel",))

    def _http(self) -> Any:
        if self._session is None:
            self._session = self.context.http_session(retries=2, backoff=0, timeout=10)
        return self._session

    def _access_token(self) -> str:
        if self._token is None:
            reply = self._http().post(f"{self.settings.base_url}/oauth/token", data={
                "grant_type": "client_credentials",
                "client_secret": self.settings.client_secret.get_secret_value()})
            if reply.status_code != 200:
                raise AuthenticationError(f"the client secret was refused ({reply.text}); "
                                          "create a new one in the API console")
            self._token = reply.json()["access_token"]
            self.context.register_secret(self._token)
        return self._token

    def fetch(self, query: Query) -> Table:
        # Month by month: a final month is cached on its own, so next month's report (whose
        # series overlaps this one's) asks only for what is new.
        rows: list[dict[str, Any]] = []
        body: dict[str, Any] = {}
        for part in split_by_month(query):
            body = self._ask(part)
            rows.extend(self._row(query, row) for row in body["rows"])
        return Table(query=query, rows=rows, currency=body.get("currency"),
                     timezone=body.get("timeZone"))

    def _ask(self, query: Query) -> dict[str, Any]:
        request = {
            "account": self.settings.account, "metrics": list(query.metrics),
            "start": query.range.start.isoformat(), "end": query.range.end.isoformat(),
            "dimensions": list(query.dimensions), "granularity": query.granularity.value,
            "filters": [{"dimension": f.dimension, "operator": f.operator.value,
                         "values": list(f.values), "negate": f.negate} for f in query.filters],
            "order": [[o.metric, o.descending] for o in query.order], "limit": query.limit,
        }
        final = query.range.end <= self.context.today - dt.timedelta(
            days=self.settings.final_after_days)
        answer: dict[str, Any] = self.context.cache.cached(
            request, lambda: self._post(request), final=final)
        return answer

    @staticmethod
    def _row(query: Query, row: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "date" in row:
            out["date"] = dt.date.fromisoformat(row["date"])
        if "month" in row:
            out["month"] = dt.date.fromisoformat(row["month"])
        for dim in query.dimensions:
            out[dim] = row[dim]
        for metric in query.metrics:
            out[metric] = None if row.get(metric) is None else float(row[metric])
        return out

    def _post(self, request: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.settings.base_url}/v1/accounts/{self.settings.account}:report"
        reply = self._http().post(url, json=request,
                                  headers={"Authorization": f"Bearer {self._access_token()}"})
        if used := reply.headers.get("X-Quota-Used"):
            count, _, limit = used.partition("/")
            self.context.record_usage("requests_per_day", used=float(count),
                                      limit=float(limit) if limit else None)
        if reply.status_code == 401:
            raise AuthenticationError(f"the access token was refused: {reply.text}")
        if reply.status_code == 403:
            raise PermissionDenied(f"no access to account {self.settings.account}: ask its "
                                   "owner to add the API client")
        if reply.status_code == 429:
            retry = reply.headers.get("Retry-After")
            raise QuotaExhausted("the daily quota is spent",
                                 retry_after=float(retry) if retry else None)
        if reply.status_code >= 500:
            # What the API said, for the agency's log: it may quote the request (its token).
            self.context.logger.warning("the API failed with HTTP %s: %s", reply.status_code,
                                        reply.text)
            raise TransientError(f"HTTP {reply.status_code}: {reply.text}")
        reply.raise_for_status()
        return reply.json()  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


@hookimpl
def register_sources(register: Any) -> None:
    register(ApiSource)
