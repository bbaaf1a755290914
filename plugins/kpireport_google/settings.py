"""How a Google source says which credential to use: the ``auth:`` block of its settings."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, model_validator

if TYPE_CHECKING:
    from kpireport import SourceContext

ANALYTICS_SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
WEBMASTERS_SCOPE = "https://www.googleapis.com/auth/webmasters.readonly"

ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class GoogleAuth(BaseModel):
    """One of three ways to reach Google, exactly one given:

    - ``service_account_file``: the path of a service account's JSON key (relative to the
      config file);
    - ``service_account_env``: the name of an environment variable holding that JSON key
      itself (for hosts where secrets arrive as variables);
    - ``account``: the name of a Google account connected once with
      ``kpireport connect google CONFIG --name NAME`` (its refresh token lives in the state
      folder, never in the config).
    """

    model_config = ConfigDict(extra="forbid")

    service_account_file: str | None = None
    service_account_env: str | None = None
    account: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> GoogleAuth:
        given = [name for name in ("service_account_file", "service_account_env", "account")
                 if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of service_account_file (a key file's path), "
                "service_account_env (an environment variable holding the key JSON) or account "
                "(a name connected with `kpireport connect google`)"
                + (f"; got {', '.join(given)}" if given else ""))
        if self.service_account_env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*",
                                                         self.service_account_env):
            raise ValueError("service_account_env is the *name* of an environment variable "
                             "(such as GA4_KEY), not the key itself")
        if self.account and not ACCOUNT_NAME.fullmatch(self.account):
            raise ValueError("account: letters, digits, '.', '_' and '-' only (the name given "
                             "to `kpireport connect google --name`)")
        return self

    def problems(self, context: SourceContext) -> list[str]:
        """What ``kpireport validate`` can tell offline (a source's ``check()``): the key file
        exists, the variable holding the key is set."""
        if self.service_account_file:
            path = context.resolve_path(self.service_account_file)
            if not path.is_file():
                return [f"auth.service_account_file: {path} does not exist (the service "
                        "account's JSON key, downloaded from the Google Cloud console)"]
        if self.service_account_env and not os.environ.get(self.service_account_env):
            return [f"auth.service_account_env: the environment variable "
                    f"{self.service_account_env} is not set (it holds the service account's "
                    "JSON key)"]
        return []
