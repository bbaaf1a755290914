"""Calls to the Graph API: errors, throttling (HTTP 400 with codes), paging, report runs."""

from __future__ import annotations

import hashlib
import json
import os
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

THROTTLE_CODES = frozenset({4, 17, 613, *range(80000, 80005)})
"""Meta's rate limits: HTTP 400 (never 429) with one of these codes, and no Retry-After."""
TOKEN_WIDE = frozenset({4, 17})
"""Limits of the app (4) and of the user (17): every call with the token is throttled, so every
worker using it waits, not only the one told. The others concern one ad account."""
FALLBACK_WAIT = 60.0
"""Seconds to wait when a throttled reply says nothing of when access returns."""
MAX_THROTTLES = 5
"""Throttled replies in a row before the source gives up, however short each wait."""


def pause(seconds: float) -> None:
    """How the source waits (a test replaces it, to record the waits of a whole report)."""
    time.sleep(seconds)


class SyncRefused(Exception):
    """The synchronous insights call was refused as too big: use an asynchronous run."""


def regain_seconds(headers: Any) -> float | None:
    """The longest ``estimated_time_to_regain_access`` (minutes) in the usage header, in
    seconds; None when the header says nothing."""
    text = headers.get("x-business-use-case-usage")
    if not text:
        return None
    try:
        usage = json.loads(text)
        minutes = [float(entry.get("estimated_time_to_regain_access") or 0)
                   for entries in usage.values() for entry in entries]
    except (ValueError, TypeError, AttributeError):
        return None
    return max(minutes, default=0.0) * 60


class Graph:
    """One client's calls, with the agency's token, through a limiter shared by every worker."""

    def __init__(self, context: SourceContext, *, base: str, token: str, account: str,
                 token_origin: str, calls_per_minute: int, max_throttle_wait: float,
                 max_report_wait: float, sleep: Callable[[float], None] | None = None) -> None:
        self.context = context
        self.base = base.rstrip("/")
        self.token = token
        self.account = account
        self.token_origin = token_origin
        self.max_throttle_wait = max_throttle_wait
        self.max_report_wait = max_report_wait
        self.sleep = sleep
        self.waits: list[float] = []
        """Seconds each throttled call asked to wait (before ``retry_backoff`` scales them)."""
        self.calls = 0
        # 500 is not retried by the session: Meta's "reduce the amount of data" (code 1) is a
        # 500 that calls for an asynchronous run, not the same call again.
        self.session = context.http_session(statuses=(429, 502, 503, 504), backoff=2.0)
        self.limiter = context.rate_limiter(token, calls=calls_per_minute, period=60.0)
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest()[:24]
        self.blocked_file = context.state_dir / f"throttled-{digest}"
        """Until when (unix time) Meta throttles the token, for every worker and client."""
        self._own_block = 0.0

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, path_or_url: str,
                params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One call's JSON, after waiting out Meta's throttling as the usage header says."""
        url = path_or_url if "://" in path_or_url else f"{self.base}/{path_or_url}"
        throttles = 0
        while True:
            self._wait_while_blocked()
            self.limiter.acquire()
            self.calls += 1
            try:
                reply = self.session.request(method, url, params=params, headers={
                    "Authorization": f"Bearer {self.token}"})
            except Exception as exc:  # requests' errors, after the session's retries
                raise TransientError(f"the Graph API could not be reached "
                                     f"({type(exc).__name__})") from None
            self._record_usage(reply.headers)
            if reply.status_code == 200:
                body: dict[str, Any] = reply.json()
                return body
            error = _error_of(reply)
            code = error.get("code")
            if isinstance(code, int) and code in THROTTLE_CODES:
                throttles += 1
                self._wait(code, regain_seconds(reply.headers), throttles,
                           token_wide=code in TOKEN_WIDE)
                continue
            self._raise(reply.status_code, error)

    def _wait_while_blocked(self) -> None:
        """Wait out a token-wide throttling another worker (or client) was told of."""
        try:
            until = float(self.blocked_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        remaining = until - time.time()
        if remaining <= 0 or until <= self._own_block:
            return  # over, or this graph's own, waited already
        if remaining > self.max_throttle_wait:
            raise QuotaExhausted(f"Meta throttles the token for {remaining / 60:.0f} more "
                                 f"minutes, more than max_throttle_wait "
                                 f"({self.max_throttle_wait:g} s): run the report later",
                                 retry_after=remaining)
        self.waits.append(remaining)
        self.context.logger.warning("Meta throttles the token (told to another report): "
                                    "waiting %.0f s", remaining)
        self._pause(remaining)

    def _wait(self, code: int, seconds: float | None, throttles: int, *,
              token_wide: bool = False) -> None:
        wait = seconds if seconds else FALLBACK_WAIT * 2 ** (throttles - 1)
        scaled = wait * max(self.context.retry_backoff, 0.0)
        if token_wide:
            # The other workers using the token wait too (or fail at once, when it is too
            # long), instead of meeting the limit again. Written whole: a temporary file
            # renamed, so no worker reads half a time.
            self._own_block = time.time() + scaled
            tmp = self.blocked_file.with_name(f"{self.blocked_file.name}.{os.getpid()}.tmp")
            tmp.write_text(repr(self._own_block), encoding="utf-8")
            os.replace(tmp, self.blocked_file)
        if wait > self.max_throttle_wait or throttles > MAX_THROTTLES:
            raise QuotaExhausted(
                f"Meta throttled the calls to ad account act_{self.account} (code {code}) "
                f"and asks to wait {wait / 60:g} minutes"
                + (f", more than max_throttle_wait ({self.max_throttle_wait:g} s)"
                   if wait > self.max_throttle_wait else
                   f", throttled {throttles} times in a row")
                + ": run the report later, or raise max_throttle_wait", retry_after=wait)
        self.waits.append(wait)
        self.context.logger.warning("Meta throttled ad account act_%s (code %s): waiting %g s "
                                    "as x-business-use-case-usage asks", self.account, code,
                                    wait)
        self._pause(scaled)

    def _pause(self, seconds: float) -> None:
        (self.sleep if self.sleep is not None else pause)(seconds)

    def _raise(self, status: int, error: dict[str, Any]) -> None:
        code = error.get("code")
        message = str(error.get("message") or f"HTTP {status}")
        if code == 190 or (code is None and status == 401):
            raise AuthenticationError(
                f"the access token ({self.token_origin}) is invalid or has expired ({message}): "
                "in Business Settings › Users › System users, generate a new token for the "
                "system user with the ads_read permission and put it there")
        if code == 10 or (isinstance(code, int) and 200 <= code <= 299) or (
                code is None and status == 403):
            raise PermissionDenied(
                f"the token may not read ad account act_{self.account} ({message}): in "
                "Business Settings, assign the ad account to the system user (View "
                "performance) and generate its token with ads_read")
        if code is None and status == 429:
            raise QuotaExhausted(f"the Graph API refused the call as too many ({message})")
        if code == 1 and status >= 500:
            raise SyncRefused(message)
        if status >= 500 or code == 2:
            raise TransientError(f"the Graph API failed (HTTP {status}): {message}")
        raise SourceError(f"the Graph API refused the request (code {code}): {message}")

    def _record_usage(self, headers: Any) -> None:
        text = headers.get("x-business-use-case-usage")
        if not text:
            return
        try:
            usage = json.loads(text)
            entries = [e for entries in usage.values() for e in entries]
            used = max(float(e.get(k) or 0) for e in entries
                       for k in ("call_count", "total_cputime", "total_time"))
        except (ValueError, TypeError, AttributeError):
            return
        self.context.record_usage("business_use_case_pct", used=used, limit=100)

    def pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every row of a paged edge, following ``paging.next``."""
        body = self.request("GET", path, params)
        while True:
            yield from body.get("data", [])
            following = body.get("paging", {}).get("next")
            if not following:
                return
            body = self.request("GET", following)

    def insights(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Insights rows: synchronously, or through a report run when Meta refuses that."""
        path = f"act_{self.account}/insights"
        try:
            return list(self.pages(path, params))
        except SyncRefused:
            self.context.logger.info("the synchronous insights call was refused as too "
                                     "big: asking for an asynchronous report run")
        run = self.request("POST", path, params).get("report_run_id")
        if not run:
            raise SourceError("the Graph API started no report run (no report_run_id)")
        waited, interval = 0.0, 1.0
        while True:
            status = self.request("GET", str(run), {"fields": "async_status,"
                                                    "async_percent_completion"})
            state = status.get("async_status")
            if state == "Job Completed":
                break
            if state in ("Job Failed", "Job Skipped"):
                raise TransientError(f"Meta's report run {run} ended with '{state}'")
            if waited >= self.max_report_wait:
                raise TransientError(f"Meta's report run {run} was not complete after "
                                     f"{self.max_report_wait:g} s ({state}, "
                                     f"{status.get('async_percent_completion')} %)")
            self._pause(interval * max(self.context.retry_backoff, 0.0))
            waited += interval
            interval = min(interval * 2, 30.0)
        return list(self.pages(f"{run}/insights", {"limit": params.get("limit", 500)}))


def _error_of(reply: Any) -> dict[str, Any]:
    try:
        error = reply.json().get("error")
    except (ValueError, AttributeError):
        return {}
    return error if isinstance(error, dict) else {}
