"""The ``salesforce`` source's settings: how it logs in, and what counts as what in the org."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from kpireport import SourceSettings

# Hosts where the client-credentials flow cannot work: it needs the org's My Domain.
_GENERIC_LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")
_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class QualifiedLeads(BaseModel):
    """What makes a lead qualified, and the day it became so.

    - ``converted`` (default): the lead was converted (``IsConverted``), on ``ConvertedDate``;
    - ``status``: the lead's ``Status`` changed into one of ``statuses``, on the day of the
      change (``LeadHistory``: field history tracking must be on for Lead Status);
    - ``field``: a date or datetime field of the lead (``field``, e.g. ``MQL_Date__c``) holds
      the day; with ``flag`` (a checkbox, e.g. ``Is_MQL__c``), only leads whose flag is set.
    """

    model_config = ConfigDict(extra="forbid")

    by: Literal["converted", "status", "field"] = "converted"
    statuses: list[str] = Field(default_factory=list)
    field: str | None = None
    field_type: Literal["date", "datetime"] = "date"
    flag: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> QualifiedLeads:
        if self.by == "status" and not self.statuses:
            raise ValueError("by: status needs 'statuses', the lead statuses that mean "
                             "qualified (e.g. ['Working - Contacted'])")
        if self.by != "status" and self.statuses:
            raise ValueError("'statuses' applies only with by: status")
        if self.by == "field" and not self.field:
            raise ValueError("by: field needs 'field', the lead's date or datetime field that "
                             "holds the qualification day (e.g. MQL_Date__c)")
        if self.by != "field" and (self.field or self.flag):
            raise ValueError("'field' and 'flag' apply only with by: field")
        for name in (self.field, self.flag):
            if name is not None and not _API_NAME.match(name):
                raise ValueError(f"{name!r} is not a Salesforce field API name")
        return self


class SalesforceSettings(SourceSettings):
    """How to reach one Salesforce org, and the agency's definitions for this client."""

    auth: Literal["jwt", "client_credentials", "refresh_token"]
    """The OAuth flow: ``jwt`` (JWT bearer: connected app + certificate, the recommended one
    for a server), ``client_credentials`` (needs the org's My Domain as ``login_url``) or
    ``refresh_token`` (a token from a one-time web login)."""
    consumer_key: str
    """The connected app's consumer key (client id)."""
    consumer_secret: SecretStr | None = None
    """The connected app's consumer secret: client credentials; refresh token if the app
    requires it."""
    username: str | None = None
    """JWT bearer: the integration user whose access the reports use."""
    private_key_file: str | None = None
    """JWT bearer: the PEM private key whose certificate the connected app holds (relative
    paths are resolved against the config file)."""
    refresh_token: SecretStr | None = None
    """Refresh-token flow: the refresh token."""
    login_url: str = "https://login.salesforce.com"
    """Where to log in: ``https://login.salesforce.com``, ``https://test.salesforce.com``
    (sandboxes) or the org's My Domain (``https://acme.my.salesforce.com``)."""
    audience: str | None = None
    """JWT bearer: the assertion's ``aud``; by default ``https://login.salesforce.com``, or
    ``https://test.salesforce.com`` for a sandbox login URL."""
    instance_url: str | None = None
    """Where to send the API calls; by default the ``instance_url`` of the token reply."""
    api_version: str = "60.0"
    """The REST API version, pinned so that an upgrade on Salesforce's side changes nothing."""
    currency: str | None = None
    """The org's corporate currency (ISO 4217); by default asked of the org once a run."""
    qualified_leads: QualifiedLeads = Field(default_factory=QualifiedLeads)
    won_stages: list[str] = Field(default_factory=list)
    """Opportunity stages that count as won; empty: ``IsWon`` (every stage of type Closed/Won)."""
    lost_stages: list[str] = Field(default_factory=list)
    """Stages that count as lost; empty: closed and not won (``IsClosed`` and not ``IsWon``)."""
    final_after_days: int = Field(default=7, ge=0)
    """Days after a month's end from which its figures are taken as final and never asked
    again: deals closed late and back-dated change a month until then."""

    @field_validator("login_url", "instance_url", "audience")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^/\s]+$", value.rstrip("/")):
            raise ValueError(f"expected a URL such as https://acme.my.salesforce.com (scheme "
                             f"and host, no path), got {value!r}")
        return value.rstrip("/")

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        value = value.removeprefix("v")
        if not re.match(r"^\d{2,3}\.0$", value):
            raise ValueError(f"expected an API version such as 60.0, got {value!r}")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Z]{3}$", value):
            raise ValueError(f"expected an ISO 4217 code such as EUR, got {value!r}")
        return value

    @model_validator(mode="after")
    def _flow(self) -> SalesforceSettings:
        needs = {"jwt": ("username", "private_key_file"),
                 "client_credentials": ("consumer_secret",),
                 "refresh_token": ("refresh_token",)}[self.auth]
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"auth: {self.auth} needs {' and '.join(missing)}")
        unused = {"jwt": ("refresh_token", "consumer_secret"),
                  "client_credentials": ("refresh_token", "username", "private_key_file"),
                  "refresh_token": ("username", "private_key_file")}[self.auth]
        given = [name for name in unused if getattr(self, name) is not None]
        if given:
            raise ValueError(f"{' and '.join(given)} not used by auth: {self.auth}; remove "
                             "what this flow does not need")
        if self.auth == "client_credentials" and any(
                host in self.login_url for host in _GENERIC_LOGIN_HOSTS):
            raise ValueError("auth: client_credentials needs the org's My Domain as login_url "
                             "(https://<domain>.my.salesforce.com), not "
                             f"{self.login_url}")
        if self.audience is None and self.auth == "jwt":
            sandbox = "test.salesforce.com" in self.login_url or ".sandbox." in self.login_url
            self.audience = ("https://test.salesforce.com" if sandbox
                             else "https://login.salesforce.com")
        return self
