"""An authorised JSON client for Google's APIs, shared by the Google sources.

google-auth obtains and refreshes the access token (a service account's JWT grant, or a
connected account's refresh token); this module adds what a report run needs around it: the
token shared by every worker through the state folder, one refresh on a 401 in the middle of a
report, and Google's errors turned into the contract's, saying what to do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpireport import (
    AuthenticationError,
    PermissionDenied,
    QuotaExhausted,
    SourceContext,
    SourceError,
    TransientError,
    atomic_write,
)
from kpireport_google.accounts import ConnectedAccount, load_account, renew_hint
from kpireport_google.settings import GoogleAuth

if TYPE_CHECKING:
    import requests

INSTALL_HINT = 'the Google sources need google-auth: pip install "kpireport[google]"'
# A quota that comes back only with the next day or hour: waiting inside a run is pointless.
_LONG_QUOTA = re.compile(r"per (day|hour)|daily|tokens per", re.IGNORECASE)
_API_DISABLED = re.compile(r"has not been used in project|is disabled|SERVICE_DISABLED",
                           re.IGNORECASE)
# Throttling that clears within seconds (concurrent requests, queries per second): a few
# backed-off tries before the source gives up for this report.
THROTTLE_TRIES = 3
TOKEN_MARGIN = 300.0
"""Seconds before its expiry when a cached access token is no longer handed out."""


def google_message(response: requests.Response) -> tuple[str, str]:
    """Google's ``(status, message)`` from an error reply, in its current shape
    (``{"error": {"code", "message", "status"}}``) or the older one (``errors[].reason``)."""
    try:
        error = response.json().get("error")
    except ValueError:
        error = None
    if isinstance(error, dict):
        status = str(error.get("status") or "")
        if not status and isinstance(error.get("errors"), list) and error["errors"]:
            status = str(error["errors"][0].get("reason") or "")
        return status, str(error.get("message") or response.reason or "")
    if isinstance(error, str):  # the token endpoint's {"error": "invalid_grant", ...}
        return error, str(response.json().get("error_description") or error)
    return "", (response.text or response.reason or "")[:300]


class GoogleClient:
    """POSTs JSON to a Google API for one source of one report (``post``).

    Construction is offline and cheap (``kpireport validate`` may build sources): the key is
    read and the token obtained at the first call. Safe to share between threads.
    """

    def __init__(self, auth: GoogleAuth, context: SourceContext, *,
                 scopes: Sequence[str], timeout: float = 60.0) -> None:
        self.auth = auth
        self.context = context
        self.scopes = tuple(scopes)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._credentials: Any = None
        self._session: requests.Session | None = None
        self._token: str | None = None
        self._info: dict[str, Any] | None = None
        self._account: ConnectedAccount | None = None

    # --- Who we are -----------------------------------------------------------------------

    @property
    def identity(self) -> str:
        """How messages name the credential: a service account's e-mail, or the connected
        account's name (and e-mail when known)."""
        if self.auth.account:
            email = self._connected().email
            return f"the Google account {self.auth.account!r}" + (f" ({email})" if email else "")
        return f"the service account {self._key_info().get('client_email', '?')}"

    @property
    def grantee(self) -> str | None:
        """The e-mail to add as a user of a property or site (a service account's), if any."""
        if self.auth.account:
            return self._connected().email or None
        return str(self._key_info().get("client_email") or "") or None

    def _where(self) -> str:
        if self.auth.service_account_file:
            return f"the key file {self.context.resolve_path(self.auth.service_account_file)} " \
                   "(auth.service_account_file)"
        return f"the environment variable {self.auth.service_account_env} " \
               "(auth.service_account_env)"

    def _key_info(self) -> dict[str, Any]:
        if self._info is not None:
            return self._info
        if self.auth.service_account_file:
            path = self.context.resolve_path(self.auth.service_account_file)
            try:
                raw = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise SourceError(f"{self._where()}: no such file; download a JSON key of the "
                                  "service account from the Google Cloud console") from None
            except OSError as exc:
                raise SourceError(f"{self._where()}: cannot be read ({exc.strerror})") from None
        else:
            name = self.auth.service_account_env or ""
            raw = os.environ.get(name, "")
            if not raw.strip():
                raise SourceError(f"{self._where()} is not set: it must hold the service "
                                  "account's JSON key")
        try:
            info = json.loads(raw)
        except ValueError:
            raise SourceError(f"{self._where()}: not JSON; expected a service account's JSON "
                              "key (\"type\": \"service_account\")") from None
        if not isinstance(info, dict) or info.get("type") != "service_account":
            raise SourceError(f"{self._where()}: not a service account key (expected "
                              "\"type\": \"service_account\"; an OAuth client file is used "
                              "with `kpireport connect google` instead)")
        missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
        if missing:
            raise SourceError(f"{self._where()}: the key lacks {', '.join(missing)}")
        self.context.register_secret(str(info["private_key"]))
        self.context.register_secret(str(info.get("private_key_id") or "") or None)
        self._info = info
        return info

    def _connected(self) -> ConnectedAccount:
        if self._account is None:
            _ = self.context.state_dir  # sets state_root when the context had none
            assert self.context.state_root is not None
            account = load_account(self.context.state_root, self.auth.account or "")
            self.context.register_secret(account.refresh_token)
            self.context.register_secret(account.client_secret)
            self._account = account
        return self._account

    # --- The access token -----------------------------------------------------------------

    def _build_credentials(self) -> Any:
        try:
            from google.oauth2 import credentials as user_credentials
            from google.oauth2 import service_account
        except ImportError:
            raise SourceError(INSTALL_HINT) from None
        if self.auth.account:
            account = self._connected()
            missing = set(self.scopes) - set(account.scopes)
            if account.scopes and missing:
                raise AuthenticationError(
                    f"{self.identity} was connected without {' '.join(sorted(missing))}: "
                    f"{renew_hint(account.name)}")
            # Built by hand: from_authorized_user_info would replace the stored token URI.
            return user_credentials.Credentials(
                None, refresh_token=account.refresh_token, client_id=account.client_id,
                client_secret=account.client_secret, token_uri=account.token_uri,
                scopes=list(self.scopes))
        try:
            return service_account.Credentials.from_service_account_info(
                self._key_info(), scopes=list(self.scopes))
        except ValueError as exc:
            raise SourceError(f"{self._where()}: the private key cannot be read "
                              f"({type(exc).__name__})") from None

    def _token_file(self) -> Path:
        _ = self.context.state_dir
        assert self.context.state_root is not None
        if self.auth.account:
            who = f"account:{self.auth.account}:{self._connected().refresh_token}"
        else:
            info = self._key_info()
            who = f"sa:{info['client_email']}:{info.get('private_key_id', '')}:{info['token_uri']}"
        digest = hashlib.sha256(f"{who}|{' '.join(sorted(self.scopes))}".encode()).hexdigest()
        return self.context.state_root / "google" / "tokens" / f"{digest[:32]}.json"

    def _shared_token(self) -> str | None:
        """An access token another worker obtained for the same credential and scopes."""
        try:
            data = json.loads(self._token_file().read_text(encoding="utf-8"))
            if float(data["expires_at"]) - TOKEN_MARGIN > time.time():
                return str(data["token"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    def _share_token(self, token: str, expiry: dt.datetime | None) -> None:
        expires_at = (expiry.replace(tzinfo=dt.UTC).timestamp() if expiry
                      else time.time() + 3000)
        target = self._token_file()
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write(target, json.dumps({"token": token, "expires_at": expires_at}), mode=0o600)

    def _forget_token(self, token: str) -> None:
        self._token = None
        try:
            path = self._token_file()
            if json.loads(path.read_text(encoding="utf-8")).get("token") == token:
                path.unlink()
        except (OSError, ValueError, AttributeError):
            pass

    def access_token(self) -> str:
        """A live access token: this client's, another worker's, or a new one."""
        with self._lock:
            if self._token:
                return self._token
            shared = self._shared_token()
            if shared:
                self.context.register_secret(shared)
                self._token = shared
                return shared
            if self._credentials is None:
                self._credentials = self._build_credentials()
            self._refresh()
            token = str(self._credentials.token)
            self.context.register_secret(token)
            self._share_token(token, self._credentials.expiry)
            self._token = token
            return token

    def _refresh(self) -> None:
        import google.auth.exceptions
        import google.auth.transport.requests

        request = google.auth.transport.requests.Request(session=self.session)
        try:
            self._credentials.refresh(request)
        except google.auth.exceptions.RefreshError as exc:
            raise AuthenticationError(self._refusal(exc)) from None
        except google.auth.exceptions.TransportError as exc:
            raise TransientError(f"Google's token endpoint did not answer "
                                 f"({type(exc.__cause__ or exc).__name__})") from None

    def _refusal(self, exc: Exception) -> str:
        # RefreshError's args: (message, response body); the body names the OAuth error.
        body = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        why = str(body.get("error_description") or body.get("error") or exc.args[0])
        if self.auth.account:
            return (f"Google refused the stored authorisation of {self.identity} ({why}): it "
                    f"was revoked or has expired; {renew_hint(self.auth.account)}")
        return (f"Google refused the key of {self.identity} from {self._where()} ({why}): "
                "the key may have been deleted or disabled; create a new JSON key for the "
                "service account")

    # --- Calls ----------------------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            # 429 is handled here, not retried blindly: a daily quota does not come back.
            self._session = self.context.http_session(statuses=(500, 502, 503, 504),
                                                      timeout=self.timeout)
        return self._session

    def post(self, url: str, body: Mapping[str, Any], *, resource: str,
             timeout: float | None = None) -> dict[str, Any]:
        """POST ``body`` as JSON to ``url``; the reply's JSON, or the contract's error.

        ``resource`` names what is read (``GA4 property 123``) in error messages.
        """
        import requests

        refreshed = False
        throttled = 0
        while True:
            token = self.access_token()
            try:
                response = self.session.post(url, json=dict(body), timeout=timeout or self.timeout,
                                             headers={"Authorization": f"Bearer {token}"})
            except (requests.Timeout, requests.ConnectionError) as exc:
                # After the session's retries a read timeout arrives as a ConnectionError
                # wrapping urllib3's MaxRetryError: say which it was.
                reason = getattr(exc.args[0] if exc.args else None, "reason", exc)
                if isinstance(exc, requests.Timeout) or "timed out" in str(reason).lower():
                    raise TransientError(f"{resource}: Google did not answer within "
                                         f"{timeout or self.timeout:g} s") from None
                raise TransientError(f"{resource}: cannot reach Google "
                                     f"({type(reason).__name__})") from None
            if response.status_code == 401 and not refreshed:
                # An access token can die before its time (revoked, rotated): one new one.
                refreshed = True
                with self._lock:
                    self._forget_token(token)
                continue
            if response.status_code == 429 and throttled < THROTTLE_TRIES:
                _status, message = google_message(response)
                if not _LONG_QUOTA.search(message):
                    throttled += 1
                    time.sleep(self._wait(response, throttled))
                    continue
            break
        if response.ok:
            try:
                reply = response.json()
            except ValueError:
                raise TransientError(f"{resource}: Google's reply was not JSON") from None
            if not isinstance(reply, dict):
                raise TransientError(f"{resource}: Google's reply was not a JSON object")
            return reply
        raise self.error(response, resource)

    def _wait(self, response: requests.Response, attempt: int) -> float:
        try:
            asked = float(response.headers.get("Retry-After", ""))
        except ValueError:
            asked = 2.0 ** attempt
        return min(asked, 60.0) * max(self.context.retry_backoff, 0.0)

    def error(self, response: requests.Response, resource: str) -> SourceError:
        """The contract's error for a failed reply, with Google's message and what to do."""
        status, message = google_message(response)
        code = response.status_code
        said = f"{resource}: {message}" if message else f"{resource}: HTTP {code}"
        if code == 401:
            if self.auth.account:
                return AuthenticationError(f"{said} — {self.identity} is no longer authorised; "
                                           f"{renew_hint(self.auth.account)}")
            return AuthenticationError(f"{said} — Google refused the token of {self.identity}")
        if code == 403:
            if _API_DISABLED.search(message) or _API_DISABLED.search(status):
                return PermissionDenied(f"{said} — enable this API in the Google Cloud project "
                                        f"of {self.identity}")
            if "scope" in message.lower() and self.auth.account:
                return PermissionDenied(f"{said} — {renew_hint(self.auth.account)}")
            grantee = self.grantee
            if grantee:
                return PermissionDenied(f"{said} — {self.identity} cannot read {resource}: add "
                                        f"{grantee} as a user of it (read access is enough)")
            return PermissionDenied(f"{said} — {self.identity} cannot read {resource}")
        if code == 429:
            return QuotaExhausted(f"{said} — the source is not asked again in this run",
                                  retry_after=_retry_after(response))
        if code >= 500:
            return TransientError(f"{said} (HTTP {code}, after retries)",
                                  retry_after=_retry_after(response))
        return SourceError(f"{said} (HTTP {code}{', ' + status if status else ''})")

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
