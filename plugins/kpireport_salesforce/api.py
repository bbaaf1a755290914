"""Salesforce's REST API as the source uses it: SOQL queries with their paging, the sObject
describe call, Salesforce's error array, and its limits header."""

from __future__ import annotations

import re
from typing import Any

from kpireport import (
    AuthenticationError,
    PermissionDenied,
    QuotaExhausted,
    SourceContext,
    SourceError,
    TransientError,
)

from .auth import Session, TokenStore
from .settings import SalesforceSettings

_USAGE = re.compile(r"([a-z-]+)=(\d+)/(\d+)")


class SoqlError(SourceError):
    """Salesforce refused a query (400): ``code`` is its ``errorCode``."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(f"{code}: {message}")


def errors_of(reply: Any) -> list[tuple[str, str]]:
    """(errorCode, message) pairs from Salesforce's error array (``[{"message", "errorCode"}]``);
    one pair from any other body."""
    try:
        body = reply.json()
    except ValueError:
        body = None
    if isinstance(body, list):
        found = [(str(e.get("errorCode", "")), str(e.get("message", ""))) for e in body
                 if isinstance(e, dict)]
        if found:
            return found
    if isinstance(body, dict) and ("errorCode" in body or "error" in body):
        return [(str(body.get("errorCode") or body.get("error")),
                 str(body.get("message") or body.get("error_description") or ""))]
    return [("", f"HTTP {reply.status_code}")]


class SalesforceApi:
    """Calls to one org, sharing the credential's session (:class:`TokenStore`)."""

    def __init__(self, settings: SalesforceSettings, context: SourceContext) -> None:
        self.settings = settings
        self.context = context
        self.http = context.http_session(retries=3, backoff=1.0, timeout=120)
        self.tokens = TokenStore(settings, context, self.http)
        self._session: Session | None = None

    @property
    def base(self) -> str:
        return f"/services/data/v{self.settings.api_version}"

    def _url(self, session: Session, path: str) -> str:
        instance = self.settings.instance_url or session.instance_url
        return path if path.startswith("http") else f"{instance}{path}"

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        """GET ``path`` (relative to the instance): the JSON reply, or the contract's error.
        A refused session (401) is renewed once and the call made again."""
        session = self._session or self.tokens.get()
        for attempt in (1, 2):
            self._session = session
            try:
                reply = self.http.get(self._url(session, path), params=params, headers={
                    "Authorization": f"Bearer {session.access_token}",
                    "Accept": "application/json"})
            except OSError as exc:
                raise TransientError(f"the org could not be reached: "
                                     f"{type(exc).__name__}") from None
            self._usage(reply.headers.get("Sforce-Limit-Info", ""))
            if reply.status_code == 401 and attempt == 1:
                session = self.tokens.renew(session)
                continue
            return self._answer(reply)
        raise AssertionError("unreachable")  # pragma: no cover

    def _usage(self, header: str) -> None:
        # api-usage=25/5000;per-app-api-usage=17/250(appName=x): every figure reaches the
        # run summary; the org's daily total is the one that stops a run.
        for name, used, limit in _USAGE.findall(header):
            self.context.record_usage(name, used=float(used), limit=float(limit))

    def _answer(self, reply: Any) -> Any:
        status = reply.status_code
        if status < 300:
            return reply.json()
        errors = errors_of(reply)
        code, message = errors[0]
        said = f"{code}: {message}" if code else message
        if status == 401:
            raise AuthenticationError(f"a fresh session was refused too ({said}); "
                                      "check that the integration user is active and the "
                                      "connected app's session policies")
        if status == 403 and any(c == "REQUEST_LIMIT_EXCEEDED" for c, _ in errors):
            usage = self.context.usage.get("api-usage")
            raise QuotaExhausted(
                f"the org's daily API request limit is reached ({said}"
                f"{f'; api-usage {usage}' if usage else ''}): nothing more is asked this run; "
                "the allowance comes back over the next 24 hours")
        if status == 429:
            raise QuotaExhausted(f"the org throttled the requests ({said})")
        if status == 403:
            raise PermissionDenied(f"the integration user may not read this ({said}); give "
                                   "it API Enabled and read access to Leads and Opportunities")
        if status >= 500:
            raise TransientError(f"the API answered HTTP {status} ({said})")
        if status == 400:
            raise SoqlError(code or "HTTP 400", message)
        raise SourceError(f"the API answered HTTP {status} ({said})")

    def query(self, soql: str) -> list[dict[str, Any]]:
        """Every record ``soql`` selects, following ``nextRecordsUrl`` until ``done``."""
        body = self.get(f"{self.base}/query", params={"q": soql})
        records: list[dict[str, Any]] = list(body.get("records") or [])
        while not body.get("done", True) and body.get("nextRecordsUrl"):
            body = self.get(str(body["nextRecordsUrl"]))
            records.extend(body.get("records") or [])
        return records

    def describe(self, obj: str) -> dict[str, Any]:
        """The sObject describe of ``obj``: its fields, their types and picklist values."""
        answer: dict[str, Any] = self.get(f"{self.base}/sobjects/{obj}/describe")
        return answer

    def close(self) -> None:
        self.http.close()
