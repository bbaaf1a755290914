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

Once the server has answered 250 to the message, the report is delivered: the connection is
closed at once, without waiting on the server's goodbye, and the whole exchange has one
deadline (``deadline``, seconds), so a server that trickles its answers cannot keep the
worker until the run's timeout kills it before it has recorded the delivery. The deadline
must fit in that timeout (``runs.timeout``, which also covers computing and rendering the
report): the target says it (``longest_delivery``), and ``kpireport validate`` and every run
refuse a client whose e-mails' deadlines add up to the timeout or more.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from kpireport import hookimpl
from kpireport.delivery import Artifacts, DeliverySettings, DeliveryTarget
from kpireport.errors import KpiReportError
from kpireport.secrets import redact, register_secret

if TYPE_CHECKING:
    import smtplib
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


_LINE_BREAKS = "\r\n\x85\u2028\u2029"
SAMPLE_FIELDS = {"client": "acme", "client_name": "Acme", "period": "2026-10",
                 "start": "2026-10-01", "end": "2026-10-31", "language": "en",
                 "sender_name": "Agency"}
"""What a subject or body template is tried with when the config is validated."""


def _header_text(value: str) -> str:
    # A line break in a header would start another one ("Bcc: …") or fail the delivery.
    if any(c in value for c in _LINE_BREAKS):
        raise ValueError("contains a line break, which an e-mail header cannot hold")
    return value


def _sample(value: str) -> str:
    """The template rendered by the sandbox with sample fields: a syntax error or a refused
    attribute fails here, at validate, not at the delivery."""
    from jinja2 import TemplateError

    try:
        return _render(value, SAMPLE_FIELDS)
    except TemplateError as exc:
        raise ValueError(f"template refused: {type(exc).__name__}: {exc}") from None


def _template(value: str) -> str:
    _sample(value)
    return value


def _subject(value: str) -> str:
    _header_text(value)
    _header_text(_sample(value).strip())
    return value


HeaderText = Annotated[str, AfterValidator(_header_text)]
Subject = Annotated[str, AfterValidator(_subject)]
Body = Annotated[str, AfterValidator(_template)]


def _address(value: str) -> str:
    from email.headerregistry import Address

    _header_text(value)

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
    sender_name: HeaderText = ""
    """Shown in From and used to sign the default body."""
    host: HeaderText
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    """``starttls`` (port 587), ``tls`` (implicit TLS, port 465) or ``none`` (a local relay)."""
    username: HeaderText | None = None
    password_env: str | None = None
    """The name of the environment variable that holds the password."""
    ca_file: str | None = None
    """A CA bundle for a private mail server's certificate."""
    timeout: float = Field(default=30, gt=0)
    """Seconds to wait for any one answer of the server."""
    deadline: float = Field(default=120, gt=0)
    """Seconds for the whole exchange, from connecting to the server's 250 to the message.
    It must fit in the run's timeout (``runs.timeout``), which stops the worker that also
    computes and renders the report: ``validate`` and ``run`` refuse a client whose
    deliveries' deadlines add up to that timeout or more."""
    subject: dict[str, Subject] = Field(default_factory=dict)
    """Subject templates by language (Jinja2, sandboxed); fields: client, client_name,
    period, start, end, language, sender_name."""
    body: dict[str, Body] = Field(default_factory=dict)
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

    def longest_delivery(self) -> float:
        # The whole exchange, connecting to the 250, ends at the deadline (then one second
        # at most to hang up).
        return float(self.settings.deadline)

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
        if s.username and password:
            # As an SMTP server may echo it back in an error: AUTH PLAIN's base64.
            register_secret(f"\0{s.username}\0{password}")
        deadline = time.monotonic() + s.deadline
        smtp: smtplib.SMTP | None = None
        try:
            smtp = _connect(s, context, deadline)
            if s.security == "starttls":
                smtp.starttls(context=context)
            if s.username:
                smtp.login(s.username, password or "")
            refused = smtp.send_message(msg, from_addr=s.sender, to_addrs=recipients)
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            # Before the 250 to the message: not delivered (perhaps received all the same,
            # which SMTP cannot tell; see the README).
            reason = _describe(exc)
            if time.monotonic() >= deadline:
                reason = f"no 250 to the message within the deadline of {s.deadline:g} s " \
                         f"({reason})"
            raise DeliveryError(redact(f"email via {where}: {reason}")) from None
        finally:
            if smtp is not None:
                _hang_up(smtp)
        location = "email:" + ",".join(s.to)
        if refused:
            # Accepted for the others: sending again would send them a second copy. The
            # refused addresses are said where the agency looks (log, ledger, summary).
            addresses = ", ".join(sorted(refused))
            log.warning("email via %s: sent, but the server refused %s", where, addresses)
            location += f" (refused: {addresses})"
        return location


def _connect(s: EmailSettings, context: Any, deadline: float) -> smtplib.SMTP:
    """An SMTP connection whose every answer must come before ``deadline`` (monotonic)."""
    import smtplib

    base: type[smtplib.SMTP] = smtplib.SMTP_SSL if s.security == "tls" else smtplib.SMTP

    class WithDeadline(base):  # type: ignore[valid-type,misc]  # one of two bases, at run time
        def getreply(self) -> tuple[int, bytes]:
            if getattr(self, "file", None) is None and self.sock is not None:
                self.file = _DeadlineReader(self.sock, deadline, s.timeout)
            return super().getreply()

        def send(self, data: Any) -> None:
            if self.sock is not None:
                self.sock.settimeout(_remaining(deadline, s.timeout))
            super().send(data)

    kwargs = {"context": context} if s.security == "tls" else {}
    smtp: smtplib.SMTP = WithDeadline(s.host, s.port, timeout=_remaining(deadline, s.timeout),
                                      **kwargs)
    return smtp


def _remaining(deadline: float, timeout: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("no answer within the deadline for the whole exchange")
    return min(left, timeout)


class _DeadlineReader:
    """What smtplib reads the server's lines from: a line trickled a byte at a time still
    ends at the deadline (a socket timeout alone restarts at every byte)."""

    def __init__(self, sock: Any, deadline: float, timeout: float) -> None:
        self.sock, self.deadline, self.timeout = sock, deadline, timeout
        self.buffer = b""

    def readline(self, limit: int = -1) -> bytes:
        while b"\n" not in self.buffer and (limit < 0 or len(self.buffer) < limit):
            self.sock.settimeout(_remaining(self.deadline, self.timeout))
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buffer += chunk
        end = self.buffer.find(b"\n") + 1 or len(self.buffer)
        if limit >= 0:
            end = min(end, limit)
        line, self.buffer = self.buffer[:end], self.buffer[end:]
        return line

    def close(self) -> None:
        self.buffer = b""


def _hang_up(smtp: smtplib.SMTP) -> None:
    """Say goodbye without waiting for the answer: after the 250 nothing the server says can
    change what was delivered, and waiting on a slow QUIT is how a report is sent twice."""
    sock = smtp.sock
    if sock is not None:
        try:
            sock.settimeout(1)
            sock.sendall(b"QUIT\r\n")
        except OSError:
            pass
    smtp.close()


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
