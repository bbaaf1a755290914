"""Connected Google accounts: refresh tokens kept in the state folder, one file per name.

``<state>/google/accounts/<name>.json`` (mode 0600, folder 0700): the installed-app client's id
and secret, the refresh token, the token URI and the scopes granted. Written only by
``kpireport connect google``; read by every client's source that names the account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kpireport import SourceError, atomic_write


def accounts_dir(state_root: Path) -> Path:
    return state_root / "google" / "accounts"


@dataclass(frozen=True, kw_only=True)
class ConnectedAccount:
    name: str
    client_id: str
    client_secret: str
    refresh_token: str
    token_uri: str
    scopes: tuple[str, ...]
    email: str = ""
    """The Google account's e-mail when the flow returned it (shown by error messages)."""


def save_account(state_root: Path, account: ConnectedAccount) -> Path:
    """Write ``account`` atomically, readable by the owner only."""
    folder = accounts_dir(state_root)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    target = folder / f"{account.name}.json"
    atomic_write(target, json.dumps({
        "type": "authorized_user", "name": account.name, "client_id": account.client_id,
        "client_secret": account.client_secret, "refresh_token": account.refresh_token,
        "token_uri": account.token_uri, "scopes": list(account.scopes),
        "email": account.email}, indent=2), mode=0o600)
    return target


def renew_hint(name: str) -> str:
    return f"renew it with: kpireport connect google CONFIG --name {name}"


def load_account(state_root: Path, name: str) -> ConnectedAccount:
    path = accounts_dir(state_root) / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceError(
            f"no Google account connected under the name {name!r} (looked for {path}): "
            f"connect it with: kpireport connect google CONFIG --name {name}") from None
    except (OSError, ValueError) as exc:
        raise SourceError(f"the connected Google account {name!r} ({path}) cannot be read "
                          f"({type(exc).__name__}): {renew_hint(name)}") from None
    try:
        return ConnectedAccount(name=name, client_id=str(data["client_id"]),
                                client_secret=str(data["client_secret"]),
                                refresh_token=str(data["refresh_token"]),
                                token_uri=str(data["token_uri"]),
                                scopes=tuple(data.get("scopes") or ()),
                                email=str(data.get("email") or ""))
    except (KeyError, TypeError):
        raise SourceError(f"the connected Google account {name!r} ({path}) lacks a field: "
                          f"{renew_hint(name)}") from None
