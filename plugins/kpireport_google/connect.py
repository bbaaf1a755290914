"""``kpireport connect google``: the installed-app OAuth flow, once per agency account.

Google's own flow (google-auth-oauthlib's ``InstalledAppFlow``, loopback redirect): the agency
opens the consent page, Google redirects to a one-off server on localhost, the code is
exchanged for a refresh token, which is kept in the state folder (0600) under a name every
client's source can use (``auth: {account: NAME}``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kpireport import KpiReportError
from kpireport_google.accounts import ConnectedAccount, save_account
from kpireport_google.settings import ACCOUNT_NAME, ANALYTICS_SCOPE, WEBMASTERS_SCOPE

SCOPES = (ANALYTICS_SCOPE, WEBMASTERS_SCOPE)


class ConnectError(KpiReportError):
    """The flow did not give a usable authorisation."""


def connect_google(state_root: Path, *, name: str, client_secrets: Path,
                   open_browser: bool = True, port: int = 0, browser: str | None = None,
                   host: str = "localhost", echo: Any = print) -> ConnectedAccount:
    """Run the consent flow and store the account as ``name``; returns what was stored."""
    if not ACCOUNT_NAME.fullmatch(name):
        raise ConnectError(f"--name {name!r}: letters, digits, '.', '_' and '-' only")
    try:
        from google_auth_oauthlib.flow import InstalledAppFlow
    except ImportError:
        raise ConnectError('connecting a Google account needs google-auth-oauthlib: '
                           'pip install "kpireport[google]"') from None
    try:
        flow = InstalledAppFlow.from_client_secrets_file(str(client_secrets), scopes=SCOPES)
    except (ValueError, KeyError, OSError) as exc:
        raise ConnectError(
            f"{client_secrets}: not an OAuth client file of type 'Desktop app' "
            f"({type(exc).__name__}): create one in the Google Cloud console (APIs & Services "
            "> Credentials > Create credentials > OAuth client ID > Desktop app) and download "
            "its JSON") from None
    # Google's granular consent lets the user untick a scope; oauthlib would then raise
    # instead of returning what was granted, which is reported below.
    relax = os.environ.get("OAUTHLIB_RELAX_TOKEN_SCOPE")
    os.environ["OAUTHLIB_RELAX_TOKEN_SCOPE"] = "1"
    try:
        credentials = flow.run_local_server(
            host=host, port=port, open_browser=open_browser, browser=browser,
            authorization_prompt_message="Open this address to let kpireport read Google "
                                         "Analytics and Search Console:\n{url}",
            success_message="kpireport is connected. You may close this window.",
            # consent: Google gives a refresh token only when the consent page is shown.
            prompt="consent", access_type="offline")
    except Exception as exc:  # oauthlib's errors have no common base worth naming
        raise ConnectError(f"Google did not complete the authorisation: "
                           f"{type(exc).__name__}: {exc}") from None
    finally:
        if relax is None:
            os.environ.pop("OAUTHLIB_RELAX_TOKEN_SCOPE", None)
        else:
            os.environ["OAUTHLIB_RELAX_TOKEN_SCOPE"] = relax
    if not credentials.refresh_token:
        raise ConnectError("Google returned no refresh token: remove kpireport's access at "
                           "https://myaccount.google.com/permissions and connect again")
    granted = tuple(credentials.granted_scopes or SCOPES)
    account = ConnectedAccount(name=name, client_id=credentials.client_id,
                               client_secret=credentials.client_secret,
                               refresh_token=credentials.refresh_token,
                               token_uri=credentials.token_uri, scopes=granted)
    path = save_account(state_root, account)
    missing = [s for s in SCOPES if s not in granted]
    echo(f"Connected the Google account {name!r}: its authorisation is kept in {path}.")
    if missing:
        echo("Not granted (the sources that need it will fail until you connect again and "
             "tick it): " + ", ".join(missing))
    echo(f"Sources use it with:  auth: {{account: {name}}}")
    return account
