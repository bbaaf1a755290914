"""Built-in delivery by email over SMTP: the PDF attached, subject and body in the client's
language.

```yaml
delivery:
  - target: email
    settings:
      to: [direction@client.example]
      sender: reports@agency.example
      host: smtp.agency.example
      port: 587                 # 465 with security: tls
      security: starttls        # or tls, or none (a local relay)
      username: reports
      password_env: SMTP_PASSWORD
```

The password is read from the environment variable named by ``password_env`` when the
report is sent, and kept out of every log and error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from kpireport import hookimpl
from kpireport.delivery import Artifacts, DeliverySettings, DeliveryTarget
from kpireport.errors import KpiReportError
from kpireport.secrets import redact, register_secret

if TYPE_CHECKING:
    from email.message import EmailMessage

log = logging.getLogger("kpireport.email")

SUBJECTS = {
    "en": "{{ client_name }} — performance report {{ period }}",
    "fr": "{{ client_name }} — rapport de performance {{ period }}",
}
BODIES = {
    "en": "Hello,\n\nPlease find attached the performance report of {{ client_name }} for "
          "{{ period }} ({{ start }} to {{ end }}).\n\nBest regards,\n{{ sender_name }}\n",
    "fr": "Bonjour,\n\nVous trouverez ci-joint le rapport de performance de {{ client_name }} "
          "pour la période {{ period }} (du {{ start }} au {{ end }}).\n\nBien cordialement,\n"
          "{{ sender_name }}\n",
}


class DeliveryError(KpiReportError):
    """A delivery target could not deliver (the report itself is fine)."""


def _address(value: str) -> str:
    from email.headerregistry import Address

    try:
        Address(addr_spec=value)
    except (ValueError, IndexError) as exc:
        raise ValueError(f"{value!r} is not an email address") from exc
    if "@" not in value:
        raise ValueError(f"{value!r} is not an email address")
    return value


class EmailSettings(DeliverySettings):
    to: list[str] = Field(min_length=1)
    """Recipients."""
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)
    """Blind copies: in the envelope only, never in the headers."""
    sender: str
    """The From address."""
    sender_name: str = ""
    """Shown in From and used to sign the default body."""
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    """``starttls`` (port 587), ``tls`` (implicit TLS, port 465) or ``none`` (a local relay)."""
    username: str | None = None
    password_env: str | None = None
    """The name of the environment variable that holds the password."""
    ca_file: str | None = None
    """A CA bundle for a private mail server's certificate."""
    timeout: float = Field(default=30, gt=0)
    subject: dict[str, str] = Field(default_factory=dict)
    """Subject templates by language (Jinja2, sandboxed); fields: client, client_name,
    period, start, end, language, sender_name."""
    body: dict[str, str] = Field(default_factory=dict)
    """Body templates by language, same fields."""
    attach_html: bool = False

    @field_validator("to", "cc", "bcc")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [_address(v) for v in value]

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return _address(value)

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> EmailSettings:
        # A relay on this machine may ask for a login without TLS: nothing crosses a network.
        local = self.host in ("localhost", "127.0.0.1", "::1")
        if self.security == "none" and (self.username or self.password_env) and not local:
            raise ValueError(f"security: none would send the SMTP password to {self.host} "
                             "unencrypted; use starttls or tls (or a relay on localhost)")
        return self


def _render(template: str, fields: dict[str, str]) -> str:
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(autoescape=False).from_string(template).render(**fields)


class EmailTarget(DeliveryTarget):
    name = "email"
    Settings = EmailSettings

    def message(self, artifacts: Artifacts) -> tuple[EmailMessage, list[str]]:
        """The message to send and its envelope recipients."""
        from email.message import EmailMessage
        from email.utils import formataddr, formatdate, make_msgid

        s: EmailSettings = self.settings
        names = dict(artifacts.names)
        language = names.get("language", "en").split("_")[0]
        fields = {**names, "sender_name": s.sender_name or s.sender}

        def pick(custom: dict[str, str], default: dict[str, str]) -> str:
            return custom.get(language) or default.get(language) or custom.get("en") or \
                default["en"]

        msg = EmailMessage()
        msg["Subject"] = _render(pick(s.subject, SUBJECTS), fields).strip()
        msg["From"] = formataddr((s.sender_name, s.sender)) if s.sender_name else s.sender
        msg["To"] = ", ".join(s.to)
        if s.cc:
            msg["Cc"] = ", ".join(s.cc)
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain=s.sender.split("@", 1)[1])
        msg.set_content(_render(pick(s.body, BODIES), fields))
        stem = f"{names.get('client', 'report')}-{names.get('period', '')}".strip("-")
        msg.add_attachment(artifacts.pdf, maintype="application", subtype="pdf",
                           filename=f"{stem}.pdf")
        if s.attach_html and artifacts.html:
            msg.add_attachment(artifacts.html.encode("utf-8"), maintype="text",
                               subtype="html", filename=f"{stem}.html")
        return msg, [*s.to, *s.cc, *s.bcc]

    def deliver(self, artifacts: Artifacts) -> str:
        import smtplib
        import ssl

        s: EmailSettings = self.settings
        password = None
        if s.password_env:
            password = os.environ.get(s.password_env)
            if password is None:
                raise DeliveryError(f"email: environment variable {s.password_env} (the SMTP "
                                    "password) is not set")
            register_secret(password)
        msg, recipients = self.message(artifacts)
        context = ssl.create_default_context(cafile=s.ca_file) if s.security != "none" else None
        where = f"{s.host}:{s.port}"
        sent, refused = False, {}
        try:
            if s.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                                      context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            with smtp:
                if s.security == "starttls":
                    smtp.starttls(context=context)
                if s.username:
                    smtp.login(s.username, password or "")
                refused = smtp.send_message(msg, from_addr=s.sender, to_addrs=recipients)
                sent = True
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            if not sent:
                raise DeliveryError(redact(f"email via {where}: {_describe(exc)}")) from None
            # The server took the message and only the goodbye failed: a delivery recorded as
            # failed would be sent again, in full, on the next run.
            log.warning("%s", redact(f"email via {where}: sent, then {_describe(exc)}"))
        location = "email:" + ",".join(s.to)
        if refused:
            # Accepted for the others: sending again would send them a second copy. The
            # refused addresses are said where the agency looks (log, ledger, summary).
            addresses = ", ".join(sorted(refused))
            log.warning("email via %s: sent, but the server refused %s", where, addresses)
            location += f" (refused: {addresses})"
        return location


def _describe(exc: BaseException) -> str:
    """An SMTP failure in words: the server's code and text when it sent one."""
    import smtplib

    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(
            exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"recipients refused: {', '.join(exc.recipients)}"
    return str(exc)


@hookimpl
def register_delivery_targets(register: Callable[[type[DeliveryTarget]], None]) -> None:
    register(EmailTarget)
