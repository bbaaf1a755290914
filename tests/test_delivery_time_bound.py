"""A delivery target's own time bound (``DeliveryTarget.longest_delivery``, contract 1.3)
must fit in the run's timeout, which stops the worker that computes, renders and delivers a
report: an e-mail whose ``deadline`` reaches ``runs.timeout`` could be cut in the middle of
the SMTP exchange, its ledger entry left ``sending``."""

from __future__ import annotations

import socket
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kpireport.cli import main
from kpireport.delivery import DeliveryContext, DeliveryTarget
from kpireport_email import EmailSettings, EmailTarget

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.yaml"
EMAIL = ("{to: [patron@boutique.example], sender: rapports@agence.example, host: 127.0.0.1, "
         "port: PORT, security: none")


class Listener:
    """A TCP port on 127.0.0.1 that counts the connections made to it (and says nothing)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture()
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def write(tmp_path: Path, port: int, *, runs: str = "", deliveries: list[str]) -> Path:
    entries = "\n".join(f"      - {{target: email, id: e{k}, settings: "
                        f"{EMAIL.replace('PORT', str(port))}{extra}}}}}"
                        for k, extra in enumerate(deliveries))
    config = tmp_path / "agency.yaml"
    config.write_text(textwrap.dedent("""\
        agency: {name: Test Agency}
        defaults: {period: 2026-10, output: out}
        RUNS
        clients:
          - id: boutique
            name: La Boutique
            sources: {a: {plugin: constant, settings: {per_day: 2}}}
            kpis: [signups]
            delivery:
        """).replace("RUNS", runs) + entries + "\n", encoding="utf-8")
    return config


def validate(config: Path, capsys: Any) -> tuple[int, str]:
    code = main(["-p", "kpireport_test_extras", "validate", str(config), "--no-data"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_email_target_says_its_deadline() -> None:
    settings = EmailSettings.model_validate({"to": ["a@b.example"], "sender": "c@d.example",
                                             "host": "127.0.0.1", "deadline": 45})
    context = DeliveryContext(base_dir=Path("."), output_dir=Path("."))
    assert EmailTarget(settings, context).longest_delivery() == 45.0
    # A target that does not bound itself says nothing (the default: folder, a 1.2 plugin).
    assert DeliveryTarget(None, context).longest_delivery() is None


def test_the_defaults_pass(tmp_path: Path, capsys: Any) -> None:
    # deadline 120 s, runs.timeout 600 s
    code, out = validate(write(tmp_path, 2525, deliveries=[""]), capsys)
    assert code == 0, out
    code, out = validate(EXAMPLE, capsys)
    assert code == 0, out


def test_validate_refuses_a_deadline_the_timeout_would_cut(tmp_path: Path, capsys: Any) -> None:
    config = write(tmp_path, 2525, runs="runs: {timeout: 90}", deliveries=[", deadline: 90"])
    code, out = validate(config, capsys)
    assert code == 2
    [line] = [x for x in out.splitlines() if "does not fit" in x]
    assert f"{config}:" in line and "clients[0].delivery[0].settings" in line
    assert "client 'boutique': the email delivery may take up to 90 s" in line
    assert "the run's timeout of 90 s (runs.timeout)" in line
    assert "lower that bound in its settings below 90 s, or raise runs.timeout above 90 s" in line
    # Just under the timeout: it fits.
    config = write(tmp_path, 2525, runs="runs: {timeout: 90}", deliveries=[", deadline: 89"])
    assert validate(config, capsys)[0] == 0


def test_a_clients_deliveries_add_up(tmp_path: Path, capsys: Any) -> None:
    # Two e-mails are sent one after the other by the same worker: 2 × 120 s reach 200 s.
    config = write(tmp_path, 2525, runs="runs: {timeout: 200}", deliveries=["", ""])
    code, out = validate(config, capsys)
    assert code == 2
    lines = [x for x in out.splitlines() if "does not fit" in x]
    assert len(lines) == 2
    assert "clients[0].delivery[0].settings" in lines[0]
    assert "clients[0].delivery[1].settings" in lines[1]
    assert "up to 120 s (the time bound its settings give) (240 s with the client's other " \
           "deliveries)" in lines[0]
    assert "below 80 s, or raise runs.timeout above 240 s" in lines[0]
    config = write(tmp_path, 2525, runs="runs: {timeout: 200}",
                   deliveries=[", deadline: 60", ", deadline: 60"])
    assert validate(config, capsys)[0] == 0


@pytest.mark.workers
def test_a_run_leaves_the_client_out_before_sending_anything(tmp_path: Path, capsys: Any,
                                                             listener: Listener) -> None:
    config = write(tmp_path, listener.port, runs="runs: {timeout: 60}",
                   deliveries=[", deadline: 60"])
    assert main(["-p", "kpireport_test_extras", "run", str(config)]) == 2
    err = capsys.readouterr().err
    assert "does not fit in the run's timeout of 60 s (runs.timeout)" in err
    assert listener.connections == 0
    assert not (tmp_path / "out").exists()  # no ledger, no spool, no report: nothing began


@pytest.mark.workers
def test_run_timeout_option_is_the_limit_checked(tmp_path: Path, capsys: Any,
                                                 listener: Listener) -> None:
    # runs.timeout (600 s) would do, but this run's --timeout is shorter than the deadline.
    config = write(tmp_path, listener.port, deliveries=[", deadline: 120"])
    assert main(["-p", "kpireport_test_extras", "run", str(config), "--timeout", "100"]) == 2
    err = capsys.readouterr().err
    assert "the run's timeout of 100 s (--timeout)" in err
    assert "raise --timeout above 120 s" in err
    assert listener.connections == 0
