"""A fake of Google's OAuth 2.0 token endpoint (``POST /token``, form body) for GA4 and GSC.

It serves the grants a source plugin uses, and the consent step of installed apps:

- the **JWT-bearer grant** of service accounts
  (``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>``): the JWT's RS256
  signature is verified against the public key of a service-account key the fake generated, and
  its claims are checked (``iss`` a known account, ``scope`` present, ``aud`` = the token URI
  or Google's own token URL — google-auth always signs ``https://oauth2.googleapis.com/token``,
  even with a local ``token_uri`` —,
  ``iat``/``exp`` integers with ``exp`` ≤ ``iat`` + 3600 and not past);
- the **refresh-token grant** of installed-app (authorized-user) credentials
  (``grant_type=refresh_token&client_id&client_secret&refresh_token``);
- the **authorization-code grant** of installed apps with a loopback redirect
  (``kpireport connect google``): ``GET /o/oauth2/auth`` stands for the consent page the user
  approves in a browser: it checks ``client_id``, ``response_type=code``, a loopback
  ``redirect_uri`` (``http://localhost:PORT/`` or ``http://127.0.0.1:PORT/``), the scopes and the
  PKCE ``code_challenge`` (S256 or plain), and redirects (302) to ``redirect_uri`` with ``code``,
  ``state`` and ``scope`` — or ``error=access_denied`` when :attr:`GoogleOAuthFake.deny` is set;
  ``grant_type=authorization_code&code&client_id&client_secret&redirect_uri&code_verifier``
  (client credentials in the form or as HTTP Basic auth) then gives an access token and a
  refresh token (a code works once, for ten minutes, with the
  same ``redirect_uri``). :attr:`GoogleOAuthFake.consent_scopes` narrows what the user ticks.
  :meth:`GoogleOAuthFake.write_client_secrets` writes the ``{"installed": …}`` OAuth client file
  pointing both endpoints here.

Replies are Google's: ``{"access_token", "expires_in": 3599, "token_type": "Bearer"}`` (plus
``scope`` for the refresh grant, never a new refresh token); errors are 400
``{"error": "invalid_grant", "error_description": …}``, 401 ``invalid_client``, 400
``unsupported_grant_type`` / ``invalid_request``.

How a plugin's test points at it::

    with FakeServer() as server:
        oauth = GoogleOAuthFake(server)
        key_file = oauth.write_service_account_key(tmp_path / "sa.json")  # token_uri → the fake
        creds = service_account.Credentials.from_service_account_file(key_file, scopes=[...])
        # or, installed apps: info = oauth.authorized_user_info(), then
        # google.oauth2.credentials.Credentials(None, token_uri=info["token_uri"], ...)

Every access token issued is recorded in :attr:`GoogleOAuthFake.tokens` with its scopes; the API
fakes (:mod:`~kpireport.testing.fakes.ga4`, :mod:`~kpireport.testing.fakes.search_console`)
accept only those, through :meth:`GoogleOAuthFake.check_bearer`. Mid-test, :meth:`revoke` and
:meth:`expire` make an access token fail (401 at the API), :meth:`revoke_refresh_token` makes the
refresh grant fail with "Token has been expired or revoked.". Latency and scripted failures are
the server's (``FakeServer(latency=…)``, ``server.fail("POST", "/token", Reply(...))``);
:func:`token_error` builds a Google-shaped error body for them.

Deliberate limits: no consent *page* (the auth endpoint approves at once), no ID tokens, no
``sub`` impersonation (domain-wide delegation) check beyond recording it, no JWKS endpoint,
clock skew tolerated up to :attr:`GoogleOAuthFake.skew` seconds. Needs
``cryptography`` (the ``test`` extra).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote_plus, urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kpireport.testing.server import Call, FakeServer, Reply

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ANALYTICS_SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
WEBMASTERS_SCOPE = "https://www.googleapis.com/auth/webmasters.readonly"
# The audiences Google accepts besides the URI the request went to. google-auth signs
# ``aud = https://oauth2.googleapis.com/token`` whatever the key file's ``token_uri`` says.
GOOGLE_TOKEN_AUDIENCES = frozenset({"https://oauth2.googleapis.com/token",
                                    "https://www.googleapis.com/oauth2/v4/token",
                                    "https://accounts.google.com/o/oauth2/token"})
# A read-write scope satisfies its read-only variant.
_WIDER = {ANALYTICS_SCOPE: {"https://www.googleapis.com/auth/analytics"},
          WEBMASTERS_SCOPE: {"https://www.googleapis.com/auth/webmasters"}}

BearerCheck = Literal["ok", "missing", "invalid", "scope"]

_KEY_CACHE: dict[int, rsa.RSAPrivateKey] = {}
_KEY_LOCK = threading.Lock()


def _rsa_key(slot: int) -> rsa.RSAPrivateKey:
    # Generating a 2048-bit key takes tens of milliseconds: once per process and slot.
    with _KEY_LOCK:
        if slot not in _KEY_CACHE:
            _KEY_CACHE[slot] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _KEY_CACHE[slot]


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def token_error(error: str, description: str, status: int = 400) -> Reply:
    """The token endpoint's error reply: ``{"error", "error_description"}``."""
    return Reply(status=status, body={"error": error, "error_description": description})


@dataclass(kw_only=True)
class ServiceAccount:
    """A service account the fake knows: its e-mail and its RSA key pair."""

    client_email: str
    key_id: str
    private_key: rsa.RSAPrivateKey
    project_id: str = "kpireport-test"

    def private_key_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode("ascii")


@dataclass(kw_only=True)
class IssuedToken:
    """An access token the fake issued."""

    token: str
    scopes: frozenset[str]
    subject: str
    """The service account's e-mail, or the OAuth client id for the refresh grant."""
    expires_at: float
    """``time.time()`` when it stops working."""
    revoked: bool = False
    grant: str = JWT_BEARER


@dataclass(kw_only=True)
class InstalledClient:
    """An OAuth client (installed app) with the refresh tokens issued to it and their scopes."""

    client_id: str
    client_secret: str
    refresh_tokens: dict[str, frozenset[str]] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)


class GoogleOAuthFake:
    """Google's token endpoint on ``server`` at ``path`` (default ``/token``)."""

    def __init__(self, server: FakeServer, *, path: str = "/token", lifetime: int = 3599,
                 skew: int = 300) -> None:
        self.server = server
        self.path = path
        self.lifetime = lifetime
        """``expires_in`` of the access tokens issued."""
        self.skew = skew
        """Seconds of clock difference tolerated on ``iat``."""
        self.tokens: dict[str, IssuedToken] = {}
        self.accounts: dict[str, ServiceAccount] = {}
        self.clients: dict[str, InstalledClient] = {}
        self.forms: list[dict[str, str]] = []
        """Every form body the endpoint received, in order (recorded before the reply goes
        out, so a test reading it right after a refresh finds the last one)."""
        self.assertions: list[dict[str, Any]] = []
        """The verified JWT claim sets, in order (a test asserts what the plugin signed)."""
        self.auth_path = "/o/oauth2/auth"
        self.deny = False
        """The user refuses on the consent page: the redirect carries ``error=access_denied``."""
        self.consent_scopes: tuple[str, ...] | None = None
        """The scopes the user leaves ticked (None: all those asked)."""
        self.codes: dict[str, dict[str, Any]] = {}
        """Authorization codes issued by the consent step, not yet exchanged."""
        self._lock = threading.Lock()
        server.route("POST", path, self.token)
        server.route("GET", self.auth_path, self.authorize)

    @property
    def token_uri(self) -> str:
        return self.server.url + self.path

    # --- Credentials a test hands to the plugin ---------------------------------------------

    def add_service_account(self, client_email: str = "kpireport@kpireport-test"
                            ".iam.gserviceaccount.com", *, slot: int = 0) -> ServiceAccount:
        """Know a service account; ``slot`` picks one of the process's cached RSA keys (use a
        different slot for a second account whose key must differ)."""
        account = ServiceAccount(client_email=client_email, key_id=secrets.token_hex(20),
                                 private_key=_rsa_key(slot))
        self.accounts[client_email] = account
        return account

    def service_account_info(self, client_email: str | None = None) -> dict[str, str]:
        """The JSON key of a service account (added if new), ``token_uri`` pointing here."""
        email = client_email or "kpireport@kpireport-test.iam.gserviceaccount.com"
        account = self.accounts.get(email) or self.add_service_account(email)
        return {
            "type": "service_account",
            "project_id": account.project_id,
            "private_key_id": account.key_id,
            "private_key": account.private_key_pem(),
            "client_email": account.client_email,
            "client_id": str(int(account.key_id[:12], 16)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
                                    + account.client_email.replace("@", "%40"),
            "universe_domain": "googleapis.com",
        }

    def write_service_account_key(self, path: str | Path,
                                  client_email: str | None = None) -> Path:
        """Write the service account's JSON key file at ``path``; returns the path."""
        target = Path(path)
        target.write_text(json.dumps(self.service_account_info(client_email), indent=2),
                          encoding="utf-8")
        return target

    def add_installed_client(self, client_id: str = "1234567890-fake.apps.googleusercontent.com",
                             client_secret: str | None = None) -> InstalledClient:
        client = InstalledClient(client_id=client_id,
                                 client_secret=client_secret or "GOCSPX-" + secrets.token_hex(12))
        self.clients[client_id] = client
        return client

    def write_client_secrets(self, path: str | Path, client_id: str | None = None) -> Path:
        """The OAuth client file (type "Desktop app") a user downloads from the Cloud console,
        its ``auth_uri`` and ``token_uri`` pointing here."""
        client = (self.clients[client_id] if client_id
                  else next(iter(self.clients.values()), None) or self.add_installed_client())
        target = Path(path)
        target.write_text(json.dumps({"installed": {
            "client_id": client.client_id, "project_id": "kpireport-test",
            "auth_uri": self.server.url + self.auth_path, "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_secret": client.client_secret, "redirect_uris": ["http://localhost"]}},
            indent=2), encoding="utf-8")
        return target

    def issue_refresh_token(self, client_id: str | None = None,
                            scopes: tuple[str, ...] = (ANALYTICS_SCOPE, WEBMASTERS_SCOPE)) -> str:
        """A refresh token for an installed client (the first one, added if none), as if the
        user had consented to ``scopes``."""
        client = (self.clients[client_id] if client_id
                  else next(iter(self.clients.values()), None) or self.add_installed_client())
        token = "1//0" + secrets.token_urlsafe(40)
        client.refresh_tokens[token] = frozenset(scopes)
        return token

    def authorized_user_info(self, client_id: str | None = None,
                             scopes: tuple[str, ...] = (ANALYTICS_SCOPE, WEBMASTERS_SCOPE),
                             ) -> dict[str, str]:
        """An ``authorized_user`` JSON (what google-auth-oauthlib saves) with a fresh refresh
        token. Beware: google-auth's ``Credentials.from_authorized_user_info`` *always* sets
        Google's token URI, whatever ``token_uri`` says; build ``Credentials(None,
        refresh_token=…, client_id=…, client_secret=…, token_uri=info["token_uri"])`` or call
        ``.with_token_uri(...)`` so that the refresh comes here."""
        client = (self.clients[client_id] if client_id
                  else next(iter(self.clients.values()), None) or self.add_installed_client())
        return {"type": "authorized_user", "client_id": client.client_id,
                "client_secret": client.client_secret,
                "refresh_token": self.issue_refresh_token(client.client_id, scopes),
                "token_uri": self.token_uri}

    def issue_access_token(self, scopes: tuple[str, ...] = (ANALYTICS_SCOPE, WEBMASTERS_SCOPE),
                           subject: str = "test", lifetime: int | None = None) -> str:
        """An access token without the HTTP exchange (for tests of an API fake alone)."""
        return self._issue(frozenset(scopes), subject, JWT_BEARER, lifetime).token

    # --- Mid-test changes ---------------------------------------------------------------------

    def revoke(self, token: str) -> None:
        """The access token stops working at once (the API answers 401)."""
        with self._lock:
            self.tokens[token].revoked = True

    def expire(self, token: str) -> None:
        """The access token's lifetime is over (the API answers 401)."""
        with self._lock:
            self.tokens[token].expires_at = time.time() - 1

    def revoke_all(self) -> None:
        with self._lock:
            for issued in self.tokens.values():
                issued.revoked = True

    def revoke_refresh_token(self, refresh_token: str) -> None:
        """The user revoked access: the refresh grant fails with ``invalid_grant``."""
        for client in self.clients.values():
            if refresh_token in client.refresh_tokens:
                client.revoked.add(refresh_token)
                return
        raise KeyError(refresh_token)

    # --- What the API fakes ask ---------------------------------------------------------------

    def check_bearer(self, call: Call, scope: str) -> BearerCheck:
        """Whether ``call`` carries a live access token issued here with ``scope``: ``ok``,
        ``missing`` (no Bearer header), ``invalid`` (unknown, revoked or expired) or ``scope``
        (a live token without the scope)."""
        header = next((v for k, v in call.headers.items() if k.lower() == "authorization"), "")
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            return "missing"
        with self._lock:
            issued = self.tokens.get(token.strip())
            if issued is None or issued.revoked or issued.expires_at <= time.time():
                return "invalid"
            if scope not in issued.scopes and not (_WIDER.get(scope, set()) & issued.scopes):
                return "scope"
        return "ok"

    def live_tokens(self) -> list[str]:
        now = time.time()
        with self._lock:
            return [t.token for t in self.tokens.values()
                    if not t.revoked and t.expires_at > now]

    # --- The endpoint -------------------------------------------------------------------------

    def _issue(self, scopes: frozenset[str], subject: str, grant: str,
               lifetime: int | None = None) -> IssuedToken:
        issued = IssuedToken(token="ya29.fake-" + secrets.token_urlsafe(48), scopes=scopes,
                             subject=subject, grant=grant,
                             expires_at=time.time() + (self.lifetime if lifetime is None
                                                       else lifetime))
        with self._lock:
            self.tokens[issued.token] = issued
        return issued

    def token(self, call: Call) -> Reply | dict[str, Any]:
        content_type = call.headers.get("Content-Type", call.headers.get("content-type", ""))
        if "application/x-www-form-urlencoded" not in content_type:
            return token_error("invalid_request", "Invalid Content-Type: expected a form body.")
        form = call.form()
        # Client credentials may come as HTTP Basic auth (client_secret_basic), as
        # requests-oauthlib sends them for the authorization-code grant.
        header = next((v for k, v in call.headers.items() if k.lower() == "authorization"), "")
        if header.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
            except (ValueError, binascii.Error):
                return token_error("invalid_client", "Unauthorized", 401)
            form.setdefault("client_id", unquote_plus(user))
            form.setdefault("client_secret", unquote_plus(password))
        with self._lock:
            self.forms.append(form)
        grant = form.get("grant_type")
        if grant is None:
            return token_error("invalid_request", "Missing required parameter: grant_type")
        if grant == JWT_BEARER:
            return self._jwt_grant(form)
        if grant == "refresh_token":
            return self._refresh_grant(form)
        if grant == "authorization_code":
            return self._code_grant(form)
        return token_error("unsupported_grant_type", f"Invalid grant_type: {grant}")

    def _jwt_grant(self, form: dict[str, str]) -> Reply | dict[str, Any]:
        assertion = form.get("assertion")
        if not assertion:
            return token_error("invalid_request", "Missing required parameter: assertion")
        parts = assertion.split(".")
        if len(parts) != 3:
            return token_error("invalid_grant", "Invalid JWT: malformed.")
        try:
            header = json.loads(_b64decode(parts[0]))
            claims = json.loads(_b64decode(parts[1]))
            signature = _b64decode(parts[2])
        except (ValueError, binascii.Error):
            return token_error("invalid_grant", "Invalid JWT: malformed.")
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return token_error("invalid_grant", "Invalid JWT: malformed.")
        if header.get("alg") != "RS256":
            return token_error("invalid_grant", "Invalid JWT: the signing algorithm must be RS256.")
        account = self.accounts.get(str(claims.get("iss")))
        if account is None:
            return token_error("invalid_grant", "Invalid grant: account not found")
        try:
            account.private_key.public_key().verify(
                signature, f"{parts[0]}.{parts[1]}".encode("ascii"), padding.PKCS1v15(),
                hashes.SHA256())
        except InvalidSignature:
            return token_error("invalid_grant", "Invalid JWT Signature.")
        kid = header.get("kid")
        if kid is not None and kid != account.key_id:
            return token_error("invalid_grant", "Invalid JWT Signature.")
        if claims.get("aud") not in {self.token_uri, *GOOGLE_TOKEN_AUDIENCES}:
            return token_error("invalid_grant",
                               "Invalid JWT: audience must be the token URI "
                               f"{self.token_uri!r}, got {claims.get('aud')!r}.")
        iat, exp = claims.get("iat"), claims.get("exp")
        now = time.time()
        if (not isinstance(iat, int) or not isinstance(exp, int) or exp <= iat
                or exp - iat > 3600 or iat > now + self.skew or exp < now - self.skew):
            return token_error("invalid_grant",
                               "Invalid JWT: Token must be a short-lived token (60 minutes) and "
                               "in a reasonable timeframe. Check your iat and exp values in the "
                               "JWT claim.")
        scope = claims.get("scope")
        if not isinstance(scope, str) or not scope.strip():
            return token_error("invalid_scope", "Invalid OAuth scope or ID token audience "
                               "provided.")
        self.assertions.append(dict(claims))
        issued = self._issue(frozenset(scope.split()), account.client_email, JWT_BEARER)
        return {"access_token": issued.token, "expires_in": self.lifetime,
                "token_type": "Bearer"}

    def _refresh_grant(self, form: dict[str, str]) -> Reply | dict[str, Any]:
        for name in ("client_id", "refresh_token"):
            if not form.get(name):
                return token_error("invalid_request", f"Missing required parameter: {name}")
        client = self.clients.get(form["client_id"])
        if client is None:
            return token_error("invalid_client", "The OAuth client was not found.", 401)
        if form.get("client_secret") != client.client_secret:
            return token_error("invalid_client", "Unauthorized", 401)
        refresh = form["refresh_token"]
        if refresh not in client.refresh_tokens:
            return token_error("invalid_grant", "Bad Request")
        if refresh in client.revoked:
            return token_error("invalid_grant", "Token has been expired or revoked.")
        granted = client.refresh_tokens[refresh]
        asked = frozenset(form.get("scope", "").split())
        if asked - granted:
            return token_error("invalid_scope",
                               "The requested scope exceeds the scope granted by the user.")
        scopes = asked or granted
        issued = self._issue(scopes, client.client_id, "refresh_token")
        return {"access_token": issued.token, "expires_in": self.lifetime,
                "scope": " ".join(sorted(scopes)), "token_type": "Bearer"}

    # --- The consent step of installed apps ---------------------------------------------------

    def authorize(self, call: Call) -> Reply | dict[str, Any]:
        """``GET /o/oauth2/auth``: the consent page, approved (or refused) at once."""
        params = {k: v[0] for k, v in call.query.items()}
        client = self.clients.get(params.get("client_id", ""))
        if client is None:
            return Reply(status=401, body={"error": "invalid_client",
                                           "error_description": "The OAuth client was not found."})
        redirect = params.get("redirect_uri", "")
        if not re.fullmatch(r"http://(localhost|127\.0\.0\.1)(:\d+)?/?", redirect):
            return Reply(status=400, body={"error": "redirect_uri_mismatch",
                                           "error_description": f"Bad redirect_uri: {redirect}"})
        if params.get("response_type") != "code":
            return token_error("unsupported_response_type", "response_type must be code")
        asked = tuple(params.get("scope", "").split())
        if not asked:
            return token_error("invalid_request", "Missing required parameter: scope")
        state = params.get("state", "")
        if self.deny:
            return Reply(status=302, headers={"Location": f"{redirect}?"
                                              + urlencode({"error": "access_denied",
                                                           "state": state})})
        granted = tuple(s for s in asked
                        if self.consent_scopes is None or s in self.consent_scopes)
        code = "4/0" + secrets.token_urlsafe(32)
        with self._lock:
            self.codes[code] = {"client_id": client.client_id, "redirect_uri": redirect,
                                "scopes": frozenset(granted), "expires": time.time() + 600,
                                "challenge": params.get("code_challenge"),
                                "method": params.get("code_challenge_method", "plain"),
                                "access_type": params.get("access_type", "online")}
        return Reply(status=302, headers={"Location": f"{redirect}?" + urlencode(
            {"state": state, "code": code, "scope": " ".join(granted)})})

    def _code_grant(self, form: dict[str, str]) -> Reply | dict[str, Any]:
        for name in ("code", "client_id", "redirect_uri"):
            if not form.get(name):
                return token_error("invalid_request", f"Missing required parameter: {name}")
        client = self.clients.get(form["client_id"])
        if client is None:
            return token_error("invalid_client", "The OAuth client was not found.", 401)
        if form.get("client_secret") != client.client_secret:
            return token_error("invalid_client", "Unauthorized", 401)
        with self._lock:
            issued = self.codes.pop(form["code"], None)
        if (issued is None or issued["client_id"] != client.client_id
                or issued["expires"] < time.time()):
            return token_error("invalid_grant", "Malformed auth code.")
        if issued["redirect_uri"] != form["redirect_uri"]:
            return token_error("redirect_uri_mismatch", "Bad Request")
        if issued["challenge"]:
            verifier = form.get("code_verifier", "")
            if issued["method"] == "S256":
                digest = hashlib.sha256(verifier.encode("ascii")).digest()
                expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
            else:
                expected = verifier
            if not verifier or expected != issued["challenge"]:
                return token_error("invalid_grant", "Invalid code verifier.")
        access = self._issue(issued["scopes"], client.client_id, "authorization_code")
        reply: dict[str, Any] = {"access_token": access.token, "expires_in": self.lifetime,
                                 "scope": " ".join(sorted(issued["scopes"])),
                                 "token_type": "Bearer"}
        if issued["access_type"] == "offline":
            refresh = "1//0" + secrets.token_urlsafe(40)
            client.refresh_tokens[refresh] = issued["scopes"]
            reply["refresh_token"] = refresh
        return reply
