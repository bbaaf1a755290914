"""HubSpot's API as this source uses it: one token, its errors, the search and its limits.

Every search waits its turn at a rate limiter shared by all worker processes using the token
(HubSpot counts a portal's searches together), pages with ``after`` and, when a date range
matches more than the 10,000 results a search can reach, halves the range until each part
fits.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any

from kpireport import (
    AuthenticationError,
    PermissionDenied,
    QuotaExhausted,
    SourceContext,
    SourceError,
    TransientError,
)

THROTTLED_RETRIES = 5
"""How many times a 429 of a rolling window is waited out before the source gives up."""
MAX_RESULTS = 10_000
"""A search reaches at most this many results (asking for more is an HTTP 400)."""
PAGE = 200
"""The largest page HubSpot gives."""
SCOPES = ("crm.objects.contacts.read", "crm.objects.companies.read", "crm.objects.deals.read",
          "crm.schemas.contacts.read", "crm.schemas.companies.read", "crm.schemas.deals.read")
"""The read-only scopes the private app needs (docs/sources/hubspot.md)."""

Filter = dict[str, Any]


def epoch_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


class HubSpotApi:
    """The calls the source makes, with ``token``, raising the contract's errors."""

    def __init__(self, context: SourceContext, *, base_url: str, token: str,
                 searches_per_second: int) -> None:
        self.context = context
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._session: Any = None
        self._limiter = context.rate_limiter(token, calls=searches_per_second, period=1.0)
        self.searches = 0
        """Searches sent by this instance (retries by the session not counted)."""
        self.throttled = 0
        """429s of a rolling window met, and waited out."""

    # --- HTTP ---------------------------------------------------------------------------------

    def _http(self) -> Any:
        if self._session is None:
            # 429s are handled here, not by the session: a daily limit must stop at once,
            # and a secondly one waits HubSpot's window, not an exponential backoff.
            self._session = self.context.http_session(retries=4, backoff=1.0, timeout=60,
                                                      statuses=(500, 502, 503, 504))
            self._session.headers["Authorization"] = f"Bearer {self._token}"
        return self._session

    def _call(self, method: str, path: str, body: Any = None,
              wait_turn: Callable[[], object] | None = None) -> Any:
        import requests

        for attempt in range(THROTTLED_RETRIES + 1):
            if wait_turn is not None:
                wait_turn()
            try:
                reply = self._http().request(method, f"{self.base_url}{path}", json=body)
            except requests.RequestException as exc:
                raise TransientError(f"HubSpot could not be reached ({type(exc).__name__})") \
                    from None
            self._usage(reply.headers)
            pause = self._throttled(reply, attempt)
            if pause is None:
                break
            self.throttled += 1
            time.sleep(pause * max(self.context.retry_backoff, 0.0))
        if reply.status_code >= 400:
            raise self._error(reply)
        try:
            return reply.json()
        except ValueError:
            raise TransientError(f"HubSpot answered HTTP {reply.status_code} with a body that "
                                 "is not JSON") from None

    @staticmethod
    def _throttled(reply: Any, attempt: int) -> float | None:
        """Seconds to wait before asking again after a 429 of a rolling window (secondly,
        ten-secondly); None when the reply is not one, or the retries are spent. A daily
        limit is never retried: it comes back tomorrow."""
        if reply.status_code != 429 or attempt >= THROTTLED_RETRIES:
            return None
        try:
            policy = str(reply.json().get("policyName") or "").upper()
        except (ValueError, AttributeError):
            policy = ""
        if policy == "DAILY":
            return None
        retry = reply.headers.get("Retry-After", "")
        if retry.replace(".", "", 1).isdigit():
            return min(float(retry), 60.0)
        return (10.0 if policy == "TEN_SECONDLY_ROLLING" else 1.0) * (attempt + 1)

    def _usage(self, headers: Any) -> None:
        daily, remaining = (headers.get("X-HubSpot-RateLimit-Daily"),
                            headers.get("X-HubSpot-RateLimit-Daily-Remaining"))
        if daily and remaining and daily.isdigit() and remaining.isdigit():
            self.context.record_usage("requests_per_day", used=int(daily) - int(remaining),
                                      limit=int(daily))

    def _error(self, reply: Any) -> SourceError:
        """HubSpot's error body (``status``, ``message``, ``category``, ``errors``) in words."""
        try:
            body = reply.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        message = str(body.get("message") or reply.reason or "").replace(self._token, "***")
        category = str(body.get("category") or body.get("policyName") or "")
        status = reply.status_code
        if status == 401:
            return AuthenticationError(
                f"HubSpot refused the private-app token ({category or 'HTTP 401'}): it is "
                f"invalid, rotated or its app was deleted. Give a current token of a private "
                f"app with the scopes {', '.join(SCOPES)}")
        if status == 403:
            needed = [scope for error in body.get("errors") or [] if isinstance(error, dict)
                      for key in ("requiredGranularScopes", "requiredScopes")
                      for scope in (error.get("context") or {}).get(key) or []]
            if category == "MISSING_SCOPES" or needed:
                return PermissionDenied(
                    f"the private app lacks a scope this call needs ("
                    f"{', '.join(needed) or 'not named by HubSpot'}): add the read-only scopes "
                    f"{', '.join(SCOPES)} to the app in HubSpot (Settings › Integrations › "
                    f"Private apps) and give its new token")
            return PermissionDenied(f"HubSpot refused access (HTTP 403 {category}): {message}")
        if status == 429:
            retry = reply.headers.get("Retry-After")
            seconds = float(retry) if retry and retry.replace(".", "", 1).isdigit() else None
            if str(body.get("policyName", "")).upper() == "DAILY":
                return QuotaExhausted("the portal's daily API limit is reached: HubSpot "
                                      "accepts calls again after midnight in the portal's "
                                      "time zone", retry_after=seconds)
            return QuotaExhausted(f"HubSpot kept answering that its rate limit is reached "
                                  f"({body.get('policyName') or 'HTTP 429'}) after retries: "
                                  f"another integration may use the same portal's limit",
                                  retry_after=seconds)
        if status >= 500:
            self.context.logger.warning("HubSpot failed with HTTP %s: %s", status, reply.text)
            return TransientError(f"HubSpot failed with HTTP {status}")
        return SourceError(f"HubSpot refused the request (HTTP {status} {category}): {message}")

    # --- Reads --------------------------------------------------------------------------------

    def account_details(self) -> dict[str, Any]:
        """``companyCurrency``, ``timeZone``, ``portalId``…"""
        answer: dict[str, Any] = self._call("GET", "/account-info/v3/details")
        return answer

    def properties(self, obj: str) -> dict[str, dict[str, Any]]:
        """The properties of ``obj`` by name (one call)."""
        answer = self._call("GET", f"/crm/v3/properties/{obj}")
        return {p["name"]: p for p in answer.get("results") or [] if isinstance(p, dict)}

    def deal_pipelines(self) -> list[dict[str, Any]]:
        answer = self._call("GET", "/crm/v3/pipelines/deals")
        return [p for p in answer.get("results") or [] if isinstance(p, dict)]

    def _search_page(self, obj: str, body: dict[str, Any]) -> dict[str, Any]:
        self.searches += 1
        # Every search, retries included, waits its turn: HubSpot counts the portal's together.
        answer: dict[str, Any] = self._call("POST", f"/crm/v3/objects/{obj}/search", body,
                                            wait_turn=self._limiter.acquire)
        return answer

    def count(self, obj: str, filters: list[Filter]) -> int:
        """How many records match: the search's ``total``, one result asked."""
        answer = self._search_page(obj, {"filterGroups": [{"filters": filters}], "limit": 1,
                                         "properties": ["hs_object_id"]})
        return int(answer.get("total") or 0)

    def search(self, obj: str, date_property: str, start: int, end: int,
               filters: list[Filter], properties: list[str]) -> list[dict[str, Any]]:
        """The properties of every ``obj`` whose ``date_property`` is between ``start`` and
        ``end`` (epoch milliseconds, both included) and that match ``filters``."""
        return list(self._search(obj, date_property, start, end, filters, properties))

    def _search(self, obj: str, date_property: str, start: int, end: int,
                filters: list[Filter], properties: list[str]) -> Iterator[dict[str, Any]]:
        def body(after: str | None) -> dict[str, Any]:
            between = {"propertyName": date_property, "operator": "BETWEEN",
                       "value": str(start), "highValue": str(end)}
            request: dict[str, Any] = {
                "filterGroups": [{"filters": [between, *filters]}],
                "properties": properties, "limit": PAGE,
                # A stable order, so that pages do not overlap or skip while paging.
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]}
            if after is not None:
                request["after"] = after
            return request

        first = self._search_page(obj, body(None))
        total = int(first.get("total") or 0)
        if total > MAX_RESULTS:
            if end - start < 2:
                raise SourceError(f"more than {MAX_RESULTS} {obj} have {date_property} at "
                                  f"the same millisecond: they cannot be read by search")
            middle = start + (end - start) // 2
            yield from self._search(obj, date_property, start, middle, filters, properties)
            yield from self._search(obj, date_property, middle + 1, end, filters, properties)
            return
        page: dict[str, Any] = first
        while True:
            for result in page.get("results") or []:
                yield result.get("properties") or {}
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return
            page = self._search_page(obj, body(str(after)))

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

