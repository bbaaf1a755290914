"""Logging in to Salesforce (JWT bearer, client credentials, refresh token), once per
credential for every worker of a run.

Salesforce's token reply has no ``expires_in``: a session lasts until Salesforce refuses it
(401 ``INVALID_SESSION_ID``). So the token is kept in the plugin's state folder, in a file
named by a digest of the credential (mode 0600, under a file lock): every worker process and
every client sharing the credential reuses it, and the first worker to meet a 401 logs in
again while the others wait and then take the new token.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpireport import (
    AuthenticationError,
    SourceContext,
    SourceError,
    TransientError,
    atomic_write,
)

from .settings import SalesforceSettings

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True)
class Session:
    """An access token and the instance it is valid for."""

    access_token: str
    instance_url: str


def credential_id(settings: SalesforceSettings) -> str:
    """A digest naming the credential (never the credential itself)."""
    secret = (settings.consumer_secret.get_secret_value() if settings.consumer_secret else "")
    refresh = settings.refresh_token.get_secret_value() if settings.refresh_token else ""
    parts = [settings.auth, settings.login_url, settings.consumer_key, settings.username or "",
             settings.private_key_file or "", secret, refresh]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:32]


class TokenStore:
    """The shared session of one credential (see the module's docstring)."""

    def __init__(self, settings: SalesforceSettings, context: SourceContext,
                 http: Any) -> None:
        self.settings = settings
        self.context = context
        self.http = http
        folder = context.state_dir / "sessions"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = folder / f"{credential_id(settings)}.json"
        from filelock import FileLock  # when a report runs, not when plugins load

        self._lock = FileLock(str(self.path) + ".lock")
        self.logins = 0
        """Logins this store made (tests count them)."""

    def get(self) -> Session:
        """The credential's session: the stored one, or a new login when there is none."""
        with self._lock:
            session = self._read()
            if session is None:
                session = self._login()
            return session

    def renew(self, stale: Session) -> Session:
        """A session to replace ``stale``, which Salesforce refused: a new login, unless
        another worker has already made one."""
        with self._lock:
            session = self._read()
            if session is not None and session.access_token != stale.access_token:
                return session
            return self._login()

    def _read(self) -> Session | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            session = Session(access_token=str(data["access_token"]),
                              instance_url=str(data["instance_url"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        self.context.register_secret(session.access_token)
        return session

    def _write(self, session: Session) -> None:
        atomic_write(self.path, json.dumps({"access_token": session.access_token,
                                            "instance_url": session.instance_url}), mode=0o600)

    def _login(self) -> Session:
        form = self._grant()
        url = f"{self.settings.login_url}/services/oauth2/token"
        try:
            reply = self.http.post(url, data=form, headers={"Accept": "application/json"})
        except OSError as exc:  # requests' ConnectionError and Timeout are OSErrors
            raise TransientError(f"could not reach {self.settings.login_url}: "
                                 f"{type(exc).__name__}") from None
        if reply.status_code >= 500:
            raise TransientError(f"the login service answered HTTP {reply.status_code}")
        try:
            body = reply.json()
        except ValueError:
            body = {}
        if reply.status_code != 200 or "access_token" not in body:
            error = body.get("error", f"HTTP {reply.status_code}") if isinstance(body, dict) \
                else f"HTTP {reply.status_code}"
            described = body.get("error_description", "") if isinstance(body, dict) else ""
            raise AuthenticationError(
                f"the {self.settings.auth.replace('_', ' ')} login was refused ({error}"
                f"{': ' + described if described else ''}); {self._advice()}")
        token = str(body["access_token"])
        self.context.register_secret(token)
        session = Session(access_token=token,
                          instance_url=str(body.get("instance_url") or "").rstrip("/"))
        self.logins += 1
        self._write(session)
        return session

    def _advice(self) -> str:
        return {
            "jwt": "check the consumer key, that the connected app holds the certificate of "
                   "private_key_file and that the user is pre-authorized (Manage Connected "
                   "Apps → Permitted Users: admin approved)",
            "client_credentials": "check the consumer key and secret, and that the connected "
                                  "app enables the client credentials flow with a Run As user",
            "refresh_token": "the refresh token may be revoked or expired: log in again "
                             "through the connected app to get a new one",
        }[self.settings.auth]

    def _grant(self) -> dict[str, str]:
        s = self.settings
        if s.auth == "client_credentials":
            assert s.consumer_secret is not None
            return {"grant_type": "client_credentials", "client_id": s.consumer_key,
                    "client_secret": s.consumer_secret.get_secret_value()}
        if s.auth == "refresh_token":
            assert s.refresh_token is not None
            form = {"grant_type": "refresh_token", "client_id": s.consumer_key,
                    "refresh_token": s.refresh_token.get_secret_value()}
            if s.consumer_secret is not None:
                form["client_secret"] = s.consumer_secret.get_secret_value()
            return form
        return {"grant_type": JWT_GRANT, "assertion": self._assertion()}

    def _assertion(self) -> str:
        s = self.settings
        try:
            import jwt  # PyJWT, with cryptography for RS256: the ``salesforce`` extra
        except ImportError:
            raise SourceError('the JWT bearer login needs PyJWT: pip install '
                              '"kpireport[salesforce]"') from None
        assert s.private_key_file is not None
        path = self.context.resolve_path(s.private_key_file)
        try:
            key = path.read_bytes()
        except OSError as exc:
            raise AuthenticationError(f"cannot read private_key_file {path}: "
                                      f"{exc.strerror}") from None
        claims = {"iss": s.consumer_key, "sub": s.username, "aud": s.audience,
                  "exp": int(time.time()) + 180}
        try:
            return jwt.encode(claims, key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise AuthenticationError(f"private_key_file {path} is not a usable RSA private "
                                      f"key (PEM): {type(exc).__name__}") from None


def key_problem(path: Path) -> str | None:
    """Why ``path`` cannot be the JWT bearer's private key (offline), or None."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"private_key_file {path} cannot be read: {exc.strerror}"
    if "PRIVATE KEY-----" not in text:
        return (f"private_key_file {path} is not a PEM private key (expected a '-----BEGIN "
                "PRIVATE KEY-----' block; the certificate goes to the connected app)")
    return None
