"""Email delivery against a real SMTP server on 127.0.0.1 (aiosmtpd)."""

import email
import email.policy
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import ValidationError

from kpireport.delivery import Artifacts, DeliveryContext
from kpireport.errors import KpiReportError
from kpireport_email import EmailSettings, EmailTarget

PDF = b"%PDF-1.7\n% a tiny stand-in for a report\n%%EOF\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self, refuse: str | None = None):
        self.envelopes = []
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse and address == self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"


def artifacts(language: str = "fr") -> Artifacts:
    return Artifacts(pdf=PDF, html="<p>report</p>", pages=3, names={
        "client": "maison-lumiere", "client_name": "Maison Lumière", "period": "2026-10",
        "start": "2026-10-01", "end": "2026-10-31", "language": language})


def target(**settings) -> EmailTarget:
    values = {"to": ["direction@client.example"], "sender": "reports@agency.example",
              "host": "127.0.0.1", "security": "none", **settings}
    return EmailTarget(EmailSettings.model_validate(values),
                       DeliveryContext(base_dir=Path("."), output_dir=Path(".")))


@pytest.fixture()
def server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def received(inbox: Inbox):
    [envelope] = inbox.envelopes
    return envelope, email.message_from_bytes(envelope.content, policy=email.policy.default)


def test_the_report_arrives_attached_in_the_clients_language(server):
    inbox, port = server
    location = target(port=port, cc=["team@client.example"], bcc=["archive@agency.example"],
                      sender_name="Northstar Digital").deliver(artifacts("fr"))
    assert location == "email:direction@client.example"
    envelope, msg = received(inbox)
    assert envelope.mail_from == "reports@agency.example"
    assert sorted(envelope.rcpt_tos) == ["archive@agency.example", "direction@client.example",
                                         "team@client.example"]
    assert msg["To"] == "direction@client.example" and msg["Cc"] == "team@client.example"
    assert "Bcc" not in msg and "archive@agency.example" not in envelope.content.decode()
    assert msg["Subject"] == "Maison Lumière — rapport de performance 2026-10"
    body = msg.get_body(("plain",)).get_content()
    assert "Vous trouverez ci-joint" in body and "Northstar Digital" in body
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "maison-lumiere-2026-10.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF


def test_english_and_custom_templates(server):
    inbox, port = server
    target(port=port, subject={"en": "{{ client_name }}: {{ period }} is ready"},
           attach_html=True).deliver(artifacts("en"))
    _, msg = received(inbox)
    assert msg["Subject"] == "Maison Lumière: 2026-10 is ready"
    assert "Please find attached" in msg.get_body(("plain",)).get_content()
    assert [a.get_filename() for a in msg.iter_attachments()] == [
        "maison-lumiere-2026-10.pdf", "maison-lumiere-2026-10.html"]


class Authenticator:
    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"reports" and \
            auth_data.password == b"s3cret-pa55"
        return AuthResult(success=ok, handled=False)


@pytest.fixture()
def auth_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(),
                            authenticator=Authenticator(), auth_require_tls=False)
    controller.start()
    yield inbox, controller.port
    controller.stop()


def test_login_with_the_password_from_the_environment(auth_server, monkeypatch):
    inbox, port = auth_server
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret-pa55")
    target(port=port, username="reports", password_env="TEST_SMTP_PASSWORD").deliver(
        artifacts())
    assert len(inbox.envelopes) == 1


def test_a_wrong_password_fails_without_showing_it(auth_server, monkeypatch):
    _, port = auth_server
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong-horse-battery")
    with pytest.raises(KpiReportError) as err:
        target(port=port, username="reports", password_env="TEST_SMTP_PASSWORD").deliver(
            artifacts())
    assert "535" in str(err.value) and f"127.0.0.1:{port}" in str(err.value)
    assert "wrong-horse-battery" not in str(err.value)


def test_a_missing_password_variable_is_named(auth_server, monkeypatch):
    _, port = auth_server
    monkeypatch.delenv("NOPE_SMTP_PASSWORD", raising=False)
    with pytest.raises(KpiReportError, match="NOPE_SMTP_PASSWORD"):
        target(port=port, username="reports", password_env="NOPE_SMTP_PASSWORD").deliver(
            artifacts())


def test_a_refused_recipient_is_an_error():
    inbox = Inbox(refuse="direction@client.example")
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        with pytest.raises(KpiReportError, match=r"direction@client\.example"):
            target(port=controller.port).deliver(artifacts())
    finally:
        controller.stop()
    assert inbox.envelopes == []


def test_a_recipient_refused_among_others_is_said_but_not_sent_again(caplog):
    inbox = Inbox(refuse="gone@client.example")
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        location = target(port=controller.port,
                          to=["direction@client.example", "gone@client.example"]
                          ).deliver(artifacts())
    finally:
        controller.stop()
    # The others have it: a failure would make the next run send them a second copy.
    [envelope] = inbox.envelopes
    assert envelope.rcpt_tos == ["direction@client.example"]
    assert location.endswith("(refused: gone@client.example)")
    assert "refused gone@client.example" in caplog.text


class RudeGoodbye(Inbox):
    async def handle_QUIT(self, server, session, envelope):
        return "421 shutting down"


def test_a_message_taken_then_a_failed_goodbye_is_delivered():
    inbox = RudeGoodbye()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        location = target(port=controller.port).deliver(artifacts())
    finally:
        controller.stop()
    assert len(inbox.envelopes) == 1 and location == "email:direction@client.example"


def test_a_server_that_is_down_is_an_error():
    with pytest.raises(KpiReportError, match=r"127\.0\.0\.1"):
        target(port=free_port(), timeout=2).deliver(artifacts())


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a cert")
def test_starttls_with_a_private_ca(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(),
                            tls_context=context, require_starttls=True)
    controller.start()
    try:
        target(port=controller.port, security="starttls", ca_file=str(cert)).deliver(
            artifacts())
        assert len(inbox.envelopes) == 1
        # Without trusting the private CA, the certificate is refused.
        with pytest.raises(KpiReportError, match="certificate"):
            target(port=controller.port, security="starttls").deliver(artifacts())
    finally:
        controller.stop()


def test_settings_are_validated():
    with pytest.raises(ValidationError, match="not an email address"):
        EmailSettings.model_validate({"to": ["nobody"], "sender": "a@b.example",
                                      "host": "h"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        EmailSettings.model_validate({"to": ["a@b.example"], "sender": "a@b.example",
                                      "host": "h", "pasword": "x"})
    with pytest.raises(ValidationError, match=r"password to smtp\.example unencrypted"):
        EmailSettings.model_validate({"to": ["a@b.example"], "sender": "a@b.example",
                                      "host": "smtp.example", "security": "none",
                                      "username": "reports", "password_env": "PW"})


@pytest.mark.pdf
@pytest.mark.workers
def test_kpireport_run_emails_each_report_once(server, tmp_path, capsys):
    import textwrap

    from kpireport.cli import main

    inbox, port = server
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""\
        agency: {{name: Test Agency}}
        defaults: {{period: 2026-10, output: out}}
        clients:
          - id: boutique
            name: La Boutique
            locale: fr_FR
            sources: {{a: {{plugin: constant, settings: {{per_day: 2}}}}}}
            kpis: [signups]
            delivery:
              - target: email
                settings: {{to: [patron@boutique.example], sender: rapports@agence.example,
                           host: 127.0.0.1, port: {port}, security: none}}
        """), encoding="utf-8")
    args = ["-p", "kpireport_test_extras", "run", str(config)]
    assert main(args) == 0
    assert main(args) == 0  # already delivered: not sent again
    envelope, msg = received(inbox)
    assert envelope.rcpt_tos == ["patron@boutique.example"]
    assert msg["Subject"] == "La Boutique — rapport de performance 2026-10"
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_content().startswith(b"%PDF")
    assert "already delivered" in capsys.readouterr().out


class HostileServer:
    """A bare SMTP server on 127.0.0.1 that takes the message, then misbehaves: ``stall``
    never answers QUIT; ``trickle`` sends its 250 to the message a byte every 0.2 s."""

    def __init__(self, mode: str):
        import threading

        self.mode, self.messages, self.quit_seen = mode, [], False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.done.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                self._session(conn)

    def _session(self, conn):
        import time

        file = conn.makefile("rb")
        conn.sendall(b"220 hostile.example ESMTP\r\n")
        data = None
        try:
            for line in file:
                if data is not None:
                    if line == b".\r\n":
                        self.messages.append(b"".join(data))
                        data = None
                        if self.mode == "trickle":
                            for byte in b"250 2.0.0 queued as 1234567890 ok\r\n":
                                conn.sendall(bytes([byte]))
                                time.sleep(0.2)
                        else:
                            conn.sendall(b"250 2.0.0 queued\r\n")
                    else:
                        data.append(line)
                    continue
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250 hostile.example\r\n")
                elif verb == b"DATA":
                    data = []
                    conn.sendall(b"354 go ahead\r\n")
                elif verb == b"QUIT":
                    self.quit_seen = True
                    self.done.wait(60)  # a server that never says goodbye
                    return
                else:
                    conn.sendall(b"250 OK\r\n")
        except OSError:
            return

    def close(self):
        self.done.set()
        self.listener.close()


@pytest.fixture()
def hostile(request):
    server = HostileServer(request.param)
    yield server
    server.close()


@pytest.mark.parametrize("hostile", ["stall"], indirect=True)
def test_the_250_is_the_delivery_and_a_stalled_goodbye_is_not_waited_on(hostile):
    import time

    started = time.monotonic()
    location = target(port=hostile.port, timeout=30).deliver(artifacts())
    assert location == "email:direction@client.example"
    assert len(hostile.messages) == 1
    # Closed without waiting 30 s for an answer to QUIT the server never gives.
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("hostile", ["trickle"], indirect=True)
def test_a_trickling_server_meets_the_deadline_of_the_whole_exchange(hostile):
    import time

    started = time.monotonic()
    with pytest.raises(KpiReportError, match="deadline"):
        target(port=hostile.port, timeout=5, deadline=1).deliver(artifacts())
    # Each byte comes well within the 5 s timeout; only the deadline stops it (before the
    # worker's own timeout would kill it with nothing recorded).
    assert time.monotonic() - started < 5


def run_config(tmp_path, port: int, runs: str = "", deadline: float = 120) -> Path:
    import textwrap

    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""\
        agency: {{name: Test Agency}}
        defaults: {{period: 2026-10, output: out}}
        {runs}
        clients:
          - id: boutique
            name: La Boutique
            sources: {{a: {{plugin: constant, settings: {{per_day: 2}}}}}}
            kpis: [signups]
            delivery:
              - target: email
                settings: {{to: [patron@boutique.example], sender: rapports@agence.example,
                           host: 127.0.0.1, port: {port}, security: none, timeout: 30,
                           deadline: {deadline:g}}}
        """), encoding="utf-8")
    return config


@pytest.mark.pdf
@pytest.mark.workers
@pytest.mark.parametrize("hostile", ["stall"], indirect=True)
def test_a_stalled_goodbye_then_a_second_run_is_one_email(hostile, tmp_path):
    from kpireport.cli import main

    # The run's timeout is shorter than the server's stall: waiting on QUIT got the worker
    # killed before it recorded the delivery, and the next run sent a second copy. (The
    # exchange's deadline fits in that timeout: validate refuses one that does not.)
    config = run_config(tmp_path, hostile.port, "runs: {timeout: 8}", deadline=6)
    args = ["-p", "kpireport_test_extras", "run", str(config)]
    assert main(args) == 0
    assert main(args) == 0
    assert len(hostile.messages) == 1


def run_unrecorded(args: list[str], monkeypatch) -> int:
    """``kpireport`` ``args`` with a ledger that cannot record a delivery (disk full): the
    email goes, its record stays "sending"."""
    import sqlite3

    from kpireport.cli import main
    from kpireport.ledger import Ledger

    record = Ledger.record_delivery

    def disk_full(self, **fields):
        if fields["status"] == "delivered":
            raise sqlite3.OperationalError("database or disk is full")
        record(self, **fields)

    with monkeypatch.context() as m:
        m.setattr(Ledger, "record_delivery", disk_full)
        return main(args)


@pytest.mark.pdf
@pytest.mark.workers
def test_a_delivery_the_ledger_cannot_record_is_not_sent_again_silently(
        server, tmp_path, monkeypatch, capsys):
    from kpireport.cli import main

    inbox, port = server
    config = run_config(tmp_path, port)
    args = ["-p", "kpireport_test_extras", "run", str(config)]
    assert run_unrecorded(args, monkeypatch) != 0
    err = capsys.readouterr()
    assert "delivered, but the ledger could not record it (database or disk is full)" in (
        err.out + err.err)
    assert len(inbox.envelopes) == 1
    assert main(args) == 0  # the next run: not sent again, and it says so
    out = capsys.readouterr()
    assert len(inbox.envelopes) == 1
    assert "email may already have received this report" in out.out + out.err
    assert "kpireport confirm CONFIG --client boutique --period 2026-10 --target email" in (
        out.out + out.err)
    assert main([*args, "--force"]) == 0  # the agency checked: sent again on purpose
    assert len(inbox.envelopes) == 2


@pytest.mark.pdf
@pytest.mark.workers
@pytest.mark.parametrize("received", [True, False])
def test_the_agency_settles_an_unconfirmed_email(server, tmp_path, monkeypatch, capsys,
                                                 received):
    from kpireport.cli import main

    inbox, port = server
    config = run_config(tmp_path, port)
    args = ["-p", "kpireport_test_extras", "run", str(config)]
    confirm = ["confirm", str(config), "--client", "boutique", "--period", "2026-10"]
    assert run_unrecorded(args, monkeypatch) != 0
    assert len(inbox.envelopes) == 1
    capsys.readouterr()
    assert main([*confirm, "--target", "folder", "--received"]) == 1
    assert "folder has no unconfirmed delivery (unconfirmed: email)" in capsys.readouterr().err
    assert main([*confirm, "--target", "email",
                 "--received" if received else "--not-received"]) == 0
    assert main(args) == 0
    out = capsys.readouterr()
    assert "may already have received" not in out.out + out.err
    # Received: never sent again. Not received: sent once more, then recorded.
    assert len(inbox.envelopes) == (1 if received else 2)
    assert main(args) == 0 and len(inbox.envelopes) == (1 if received else 2)
