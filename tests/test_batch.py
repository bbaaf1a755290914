"""Unattended runs: workers, failures isolated, lock, ledger, idempotence, snapshots, holds."""

import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from kpireport.cli import main

ROOT = Path(__file__).resolve().parent.parent

CONFIG = """\
agency:
  name: Batch Agency
defaults:
  period: 2026-10
  output: out
runs:
  timeout: {timeout}
clients:
  - id: alpha
    name: Alpha
    sources: {{a: {{plugin: constant, settings: {{per_day: 3}}}}}}
    kpis: [signups]
    delivery:
      - target: folder
      - target: recording
        settings: {{log: {log}, fail_while: {down}}}
  - id: beta
    name: Beta
    locale: fr_FR
    sources: {{a: {{plugin: constant, settings: {{per_day: 5}}}}}}
    kpis: [signups]
{extra}"""


def write_config(tmp_path: Path, extra: str = "", timeout: float = 60) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(timeout=timeout, log=tmp_path / "sent.log",
                                  down=tmp_path / "server-down",
                                  extra=textwrap.indent(textwrap.dedent(extra), "  ")),
                    encoding="utf-8")
    return path


def run(path: Path, *args: str) -> int:
    return main(["-p", "kpireport_test_extras", "run", str(path), *args])


def ledger_rows(tmp_path: Path) -> list[sqlite3.Row]:
    db = sqlite3.connect(tmp_path / "out" / ".kpireport" / "ledger.sqlite")
    db.row_factory = sqlite3.Row
    return db.execute("SELECT * FROM attempts ORDER BY id").fetchall()


def sent(tmp_path: Path) -> list[str]:
    log = tmp_path / "sent.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.pdf
@pytest.mark.workers
def test_all_clients_in_workers_then_nothing_twice(tmp_path, capsys):
    path = write_config(tmp_path)
    assert run(path, "--all", "--workers", "2") == 0
    out = capsys.readouterr()
    assert "alpha" in out.out and "delivered" in out.out
    # Without a terminal, progress is plain timestamped lines.
    assert "start alpha" in out.err and "done beta" in out.err
    assert (tmp_path / "out" / "alpha" / "alpha-2026-10.pdf").is_file()
    assert (tmp_path / "out" / "beta" / "beta-2026-10.pdf").is_file()
    assert [line.split()[:2] for line in sent(tmp_path)] == [["alpha", "2026-10"]]
    rows = ledger_rows(tmp_path)
    assert [(r["client"], r["status"]) for r in rows] == [("alpha", "delivered"),
                                                          ("beta", "delivered")]
    alpha = rows[0]
    assert alpha["pages"] >= 2 and len(alpha["content_hash"]) == 64
    assert alpha["config_hash"] and "csv" in alpha["plugin_versions"]
    assert "alpha-2026-10.pdf" in alpha["outputs"]

    # A second run skips what was delivered; --force sends again.
    assert run(path, "--all") == 0
    assert "already delivered" in capsys.readouterr().out
    assert len(sent(tmp_path)) == 1
    assert run(path, "--client", "alpha", "--force") == 0
    assert len(sent(tmp_path)) == 2
    assert [r["status"] for r in ledger_rows(tmp_path)][-3:] == ["skipped", "skipped",
                                                                 "delivered"]


def test_dry_run_says_what_would_be_done_and_does_nothing(tmp_path, capsys):
    path = write_config(tmp_path)
    assert run(path, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "alpha 2026-10: render and deliver to folder, recording" in out
    assert "beta 2026-10: render and deliver to folder" in out
    assert not list((tmp_path / "out").rglob("*.pdf")) and not sent(tmp_path)


@pytest.mark.pdf
@pytest.mark.workers
def test_workers_are_forked_warm_when_there_is_more_than_one_report(tmp_path, monkeypatch):
    import kpireport.render

    calls = []
    real = kpireport.render.warm_up
    monkeypatch.setattr(kpireport.render, "warm_up",
                        lambda locales=(), plugins=None: calls.append(set(locales))
                        or real(locales, plugins))
    path = write_config(tmp_path)
    assert run(path, "--client", "alpha") == 0
    assert calls == []  # one report: the worker would do the same work, no sooner
    assert run(path, "--all", "--force", "--workers", "1") == 0
    assert calls == [{"en_GB", "fr_FR"}]  # the locales of the clients to render


GAMMA = """
- id: gamma
  name: Gamma
  sources: {web: {plugin: csv, settings: {tables: [{path: gamma.csv}]}}}
  kpis: [sessions]
"""
"""A third client, read from gamma.csv in the test's folder."""


@pytest.mark.pdf
@pytest.mark.workers
def test_a_client_with_a_bad_data_file_is_left_out_and_the_others_run(tmp_path, capsys):
    import kpireport_test_extras

    (tmp_path / "gamma.csv").write_text("date,sessions\n2026-10-01,12\n2026-10-02,lots\n")
    path = write_config(tmp_path, GAMMA)
    kpireport_test_extras.EVENTS.clear()
    assert run(path, "--all", "--workers", "2") == 1
    out = capsys.readouterr()
    assert "error: gamma is left out of this run" in out.err
    assert "gamma.csv, line 3, column 2: sessions: 'lots' is not a number" in out.err
    assert (tmp_path / "out" / "alpha" / "alpha-2026-10.pdf").is_file()
    assert (tmp_path / "out" / "beta" / "beta-2026-10.pdf").is_file()
    assert not (tmp_path / "out" / "gamma").exists()
    statuses = {r["client"]: (r["status"], r["error"]) for r in ledger_rows(tmp_path)}
    assert statuses["alpha"][0] == statuses["beta"][0] == "delivered"
    status, error = statuses["gamma"]
    assert status == "failed" and "invalid configuration" in error and "gamma.csv" in error
    assert ("failed", "gamma") in kpireport_test_extras.EVENTS  # alerting plugins hear of it
    # Fixed, the next run renders gamma only: the others are delivered already. (The whole
    # month: two days of October would be held as stale data.)
    (tmp_path / "gamma.csv").write_text("date,sessions\n" + "".join(
        f"2026-10-{day:02d},{10 + day}\n" for day in range(1, 32)))
    assert run(path, "--all") == 0
    assert (tmp_path / "out" / "gamma" / "gamma-2026-10.pdf").is_file()
    assert [r["status"] for r in ledger_rows(tmp_path)][-3:] == ["skipped", "skipped",
                                                                 "delivered"]
    # Broken again after its report went out: that report stays delivered, nobody is alerted.
    (tmp_path / "gamma.csv").write_text("date,sessions\n2026-10-01,x\n")
    kpireport_test_extras.EVENTS.clear()
    assert run(path, "--all") == 0
    assert [r["status"] for r in ledger_rows(tmp_path)][-3:] == ["skipped"] * 3
    assert ("failed", "gamma") not in kpireport_test_extras.EVENTS


@pytest.mark.pdf
@pytest.mark.workers
def test_an_unknown_locale_leaves_its_client_out_and_others_problems_wait(tmp_path, capsys):
    path = write_config(tmp_path, """
- id: delta
  name: Delta
  locale: zz
  sources: {a: {plugin: constant, settings: {per_day: 2}}}
  kpis: [signups]
""" + GAMMA)
    (tmp_path / "gamma.csv").write_text("date,sessions\n2026-10-01,x\n")
    # Asked for alone, alpha runs: the other clients' problems are not this run's business.
    assert run(path, "--client", "alpha") == 0
    assert "left out" not in capsys.readouterr().err
    assert run(path, "--all", "--workers", "2") == 1
    err = capsys.readouterr().err
    assert "clients[2].locale: unknown locale 'zz'" in err and "error: delta is left out" in err
    assert (tmp_path / "out" / "beta" / "beta-2026-10.pdf").is_file()
    assert {r["client"]: r["status"] for r in ledger_rows(tmp_path)}["delta"] == "failed"


@pytest.mark.pdf
@pytest.mark.workers
def test_clients_whose_files_would_replace_each_other_are_left_out(tmp_path, capsys):
    path = write_config(tmp_path, """
- id: delta
  name: Delta
  sources: {a: {plugin: constant, settings: {per_day: 2}}}
  kpis: [signups]
  delivery: [{target: folder, settings: {path: "reports/{period}.pdf"}}]
- id: epsilon
  name: Epsilon
  sources: {a: {plugin: constant, settings: {per_day: 7}}}
  kpis: [signups]
  delivery: [{target: folder, settings: {path: "reports/{period}.pdf"}}]
- id: zeta
  name: Zeta
  sources: {a: {plugin: constant, settings: {per_day: 7}}}
  kpis: [signups]
  delivery: [{target: folder, settings: {path: "beta/beta-{period}.pdf"}}]
""")
    assert main(["-p", "kpireport_test_extras", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    # Neither delta nor epsilon names its client: both are at fault.
    assert "clients[2].delivery[0].settings: folder would put this client's reports in the " \
           "same place as those of client 'epsilon', one replacing the other" in err
    assert "clients[3].delivery[0].settings: folder would put this client's reports in the " \
           "same place as those of client 'delta'" in err
    assert "put {client} in its file name" in err
    # zeta took beta's file name: zeta is at fault, not beta (default delivery, no pattern).
    assert "clients[4].delivery[0].settings: folder would put this client's reports in the " \
           "same place as those of client 'beta'" in err
    assert "clients[1]" not in err
    assert run(path, "--all") == 1
    err = capsys.readouterr().err
    assert all(f"error: {c} is left out" in err for c in ("delta", "epsilon", "zeta"))
    assert not (tmp_path / "out" / "reports").exists()
    beta = tmp_path / "out" / "beta" / "beta-2026-10.pdf"
    assert "Beta" in PdfReader(beta).pages[0].extract_text()  # beta's own, not zeta's
    statuses = {r["client"]: r["status"] for r in ledger_rows(tmp_path)}
    assert statuses["beta"] == "delivered" and statuses["zeta"] == "failed"


@pytest.mark.pdf
@pytest.mark.workers
def test_a_quarter_is_run_snapshotted_and_rebuilt_by_its_key(tmp_path, capsys):
    path = write_config(tmp_path)
    assert run(path, "--client", "beta", "--period", "last-quarter", "--as-of",
               "2026-11-15") == 0
    pdf = tmp_path / "out" / "beta" / "beta-2026-Q3.pdf"
    assert pdf.is_file()
    assert "460" in "".join(p.extract_text() for p in PdfReader(pdf).pages)  # 92 days × 5
    target = tmp_path / "again.pdf"
    assert main(["-p", "kpireport_test_extras", "rerender", str(path), "--client", "beta",
                 "--period", "2026-Q3", "--to", str(target)]) == 0
    assert [p.extract_text() for p in PdfReader(target).pages] == [
        p.extract_text() for p in PdfReader(pdf).pages]


def test_when_every_client_asked_for_is_invalid_nothing_is_written(tmp_path, capsys):
    (tmp_path / "gamma.csv").write_text("date,sessions\n2026-10-01,x\n")
    path = write_config(tmp_path, GAMMA)
    assert run(path, "--client", "gamma") == 2
    assert "1 problem in the configuration" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.pdf
@pytest.mark.workers
def test_a_failed_delivery_is_retried_without_rendering_again(tmp_path, capsys, monkeypatch):
    import kpireport_test_extras

    path = write_config(tmp_path)
    (tmp_path / "server-down").touch()
    kpireport_test_extras.EVENTS.clear()
    assert run(path, "--client", "alpha") == 1
    out = capsys.readouterr().out
    assert "recording: recording target: connection refused" in out
    assert ("failed", "alpha") in kpireport_test_extras.EVENTS  # alerting hears of it
    assert (tmp_path / "out" / "alpha" / "alpha-2026-10.pdf").is_file()  # folder delivered
    (tmp_path / "server-down").unlink()

    import kpireport.render

    def must_not_render(*args, **kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr(kpireport.render, "render_report", must_not_render)
    events = tmp_path / "events.log"
    monkeypatch.setenv("KPIREPORT_TEST_EVENTS", str(events))
    assert run(path, "--client", "alpha") == 0
    [line] = sent(tmp_path)
    spooled = tmp_path / "out" / ".kpireport" / "spool" / "alpha" / "2026-10.pdf"
    assert line == f"alpha 2026-10 {spooled.stat().st_size}"
    # Plugins hear of the delivery, with the report rebuilt from its snapshot.
    assert events.read_text().splitlines() == ["delivered alpha 2026-10 recording"]
    db = sqlite3.connect(tmp_path / "out" / ".kpireport" / "ledger.sqlite")
    assert db.execute("SELECT target, status FROM deliveries ORDER BY target").fetchall() == [
        ("folder", "delivered"), ("recording", "delivered")]


TWO_MAILBOXES = """
- id: delta
  name: Delta
  sources: {{a: {{plugin: constant, settings: {{per_day: 2}}}}}}
  kpis: [signups]
  delivery:
{entries}
"""
MAILBOX = {
    "ceo": "    - {{target: recording, id: ceo, settings: {{log: {tmp}/ceo.log, "
           "fail_while: {tmp}/ceo-down}}}}",
    "cmo": "    - {{target: recording, id: cmo, settings: {{log: {tmp}/cmo.log}}}}",
}


@pytest.mark.pdf
@pytest.mark.workers
def test_named_deliveries_keep_their_ledger_entry_when_reordered(tmp_path, capsys):
    def config(*order: str) -> Path:
        entries = "\n".join(MAILBOX[name] for name in order).format(tmp=tmp_path)
        return write_config(tmp_path, TWO_MAILBOXES.format(entries=entries))

    (tmp_path / "ceo-down").touch()
    assert run(config("ceo", "cmo"), "--client", "delta") == 1
    assert "recording:ceo: recording target: connection refused" in capsys.readouterr().out
    assert (tmp_path / "cmo.log").read_text().count("delta") == 1
    (tmp_path / "ceo-down").unlink()
    # Listed the other way round, the retry still goes to the mailbox that missed it.
    assert run(config("cmo", "ceo"), "--client", "delta") == 0
    assert (tmp_path / "ceo.log").read_text().count("delta") == 1
    assert (tmp_path / "cmo.log").read_text().count("delta") == 1
    db = sqlite3.connect(tmp_path / "out" / ".kpireport" / "ledger.sqlite")
    assert db.execute("SELECT target, status FROM deliveries ORDER BY target").fetchall() == [
        ("recording:ceo", "delivered"), ("recording:cmo", "delivered")]
    # Naming one of two entries moves no other entry's key.
    from kpireport.batch import target_keys
    from kpireport.config import ClientConfig

    def keys(*entries: dict) -> list[str]:
        return target_keys(ClientConfig(id="x", name="X", sources={"a": {"plugin": "p"}},
                                        kpis=["k"], delivery=list(entries)))

    email = {"target": "email"}
    assert keys(email, email) == ["email", "email#2"]
    assert keys({**email, "id": "ceo"}, email) == ["email:ceo", "email#2"]
    assert keys(email, {"target": "folder"}, {**email, "id": "cmo"}) == [
        "email", "folder", "email:cmo"]
    # One id for two deliveries is a configuration error naming the entry.
    assert run(config("cmo", "cmo"), "--client", "delta") == 2
    assert "clients[2].delivery: id 'cmo' names two recording deliveries" in \
        capsys.readouterr().err


@pytest.mark.pdf
@pytest.mark.workers
def test_a_crashing_or_hanging_client_fails_alone(tmp_path, capsys):
    extra = """\
      - id: crashes
        name: Crashes
        sources: {a: {plugin: constant, settings: {crash: true}}}
        kpis: [signups]
      - id: hangs
        name: Hangs
        sources: {a: {plugin: constant, settings: {hang: true}}}
        kpis: [signups]
      - id: failing
        name: Failing
        sources: {a: {plugin: constant, settings: {fail: true}}}
        kpis: [signups]
    """
    path = write_config(tmp_path, extra, timeout=4)
    import kpireport_test_extras

    kpireport_test_extras.EVENTS.clear()
    started = time.monotonic()
    assert run(path, "--workers", "3") == 1
    assert time.monotonic() - started < 30
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "delivered" in lines["alpha"] and "delivered" in lines["beta"]
    assert "worker crashed (exit code 70)" in lines["crashes"]
    assert "timed out after 4 s" in lines["hangs"]
    assert "HTTP 503" in lines["failing"]
    statuses = {r["client"]: (r["status"], r["error"]) for r in ledger_rows(tmp_path)}
    assert statuses["failing"][0] == "failed" and "HTTP 503" in statuses["failing"][1]
    assert statuses["alpha"] == ("delivered", None)
    # A worker that crashed or hung could not call report_failed: the run does.
    failed = {c for kind, c in kpireport_test_extras.EVENTS if kind == "failed"}
    assert {"crashes", "hangs"} <= failed and "alpha" not in failed


@pytest.mark.pdf
@pytest.mark.workers
def test_the_lock_stops_an_overlapping_run(tmp_path):
    extra = """\
      - id: slow
        name: Slow
        sources: {a: {plugin: constant, settings: {hang: true}}}
        kpis: [signups]
    """
    path = write_config(tmp_path, extra, timeout=6)
    env_path = str(ROOT / "tests" / "plugins")
    first = subprocess.Popen(
        [sys.executable, "-m", "kpireport", "-p", "kpireport_test_extras", "run", str(path),
         "--client", "slow"], env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lock = tmp_path / "out" / ".kpireport" / "run.pid"
        for _ in range(200):
            if lock.exists():
                break
            time.sleep(0.05)
        second = subprocess.run(
            [sys.executable, "-m", "kpireport", "-p", "kpireport_test_extras", "run",
             str(path), "--client", "alpha"], env={"PYTHONPATH": env_path, "PATH": "/usr/bin"},
            capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert "holds the lock" in second.stderr and str(first.pid) in second.stderr
    finally:
        first.wait(60)
    assert first.returncode == 1  # the hanging client timed out; the lock is then released
    assert run(path, "--client", "alpha") == 0


@pytest.mark.workers
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_run_killed_outright_takes_its_workers_with_it(tmp_path):
    import signal

    path = write_config(tmp_path, """\
      - id: slow
        name: Slow
        sources: {a: {plugin: constant, settings: {hang: true}}}
        kpis: [signups]
    """, timeout=600)
    run_ = subprocess.Popen(
        [sys.executable, "-m", "kpireport", "-p", "kpireport_test_extras", "run", str(path),
         "--client", "slow"], env={"PYTHONPATH": str(ROOT / "tests" / "plugins"),
                                   "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[str] = []
    for _ in range(200):
        children = Path(f"/proc/{run_.pid}/task/{run_.pid}/children")
        workers = children.read_text().split() if children.exists() else []
        if workers:
            break
        time.sleep(0.05)
    assert workers, "the run never forked its worker"
    run_.send_signal(signal.SIGKILL)
    run_.wait(10)

    def alive(pid: str) -> bool:
        stat = Path(f"/proc/{pid}/stat")
        return stat.exists() and stat.read_text().split(") ")[1][0] not in "ZX"

    for _ in range(100):  # an orphan would go on, and send what the next run sends again
        if not any(alive(pid) for pid in workers):
            break
        time.sleep(0.05)
    assert not any(alive(pid) for pid in workers)


@pytest.mark.pdf
@pytest.mark.workers
def test_snapshot_rebuilds_the_same_report_offline(tmp_path, capsys):
    path = write_config(tmp_path)
    assert run(path, "--client", "beta") == 0
    snapshot = tmp_path / "out" / ".kpireport" / "snapshots" / "beta" / "2026-10.json.gz"
    assert snapshot.is_file()
    # The source is now broken: the rerender must not ask it anything.
    path.write_text(path.read_text().replace("per_day: 5", "per_day: 5, fail: true"))
    target = tmp_path / "again.pdf"
    assert main(["-p", "kpireport_test_extras", "rerender", str(path), "--client", "beta",
                 "--period", "2026-10", "--to", str(target)]) == 0
    original = PdfReader(tmp_path / "out" / "beta" / "beta-2026-10.pdf")
    again = PdfReader(target)
    assert [p.extract_text() for p in again.pages] == [p.extract_text() for p in original.pages]
    assert "155" in again.pages[1].extract_text() + again.pages[2].extract_text()  # 31 × 5


@pytest.mark.pdf
@pytest.mark.workers
def test_history_lists_attempts(tmp_path, capsys):
    path = write_config(tmp_path)
    assert run(path, "--client", "beta") == 0
    capsys.readouterr()
    assert main(["history", str(path), "--client", "beta"]) == 0
    out = capsys.readouterr().out
    assert "beta" in out and "delivered" in out and "alpha" not in out


@pytest.mark.pdf
@pytest.mark.workers
def test_deliver_after_day_holds_last_month(tmp_path, capsys):
    extra = """\
      - id: late
        name: Late Data
        deliver_after_day: 5
        sources: {a: {plugin: constant}}
        kpis: [signups]
    """
    path = write_config(tmp_path, extra)
    path.write_text(path.read_text().replace("period: 2026-10", "period: last-month"))
    assert run(path, "--client", "late", "--as-of", "2026-11-03") == 0
    assert "held until 2026-11-05" in capsys.readouterr().out
    assert not (tmp_path / "out" / "late").exists()
    assert run(path, "--client", "late", "--as-of", "2026-11-05") == 0
    assert (tmp_path / "out" / "late" / "late-2026-10.pdf").is_file()


@pytest.mark.pdf
@pytest.mark.workers
def test_a_monthly_cron_catches_up_with_what_last_month_still_owes(tmp_path, capsys):
    path = write_config(tmp_path, """\
      - id: late
        name: Late Data
        deliver_after_day: 5
        sources: {a: {plugin: constant}}
        kpis: [signups]
    """)
    path.write_text(path.read_text().replace("period: 2026-10", "period: last-month"))
    (tmp_path / "server-down").touch()
    # 3 November: alpha's recording target is down, late is held until the 5th.
    assert run(path, "--client", "alpha", "--client", "late", "--as-of", "2026-11-03") == 1
    assert not sent(tmp_path) and not (tmp_path / "out" / "late").exists()
    (tmp_path / "server-down").unlink()
    spooled = tmp_path / "out" / ".kpireport" / "spool" / "alpha" / "2026-10.pdf"
    rendered_at = spooled.stat().st_mtime_ns
    # The next monthly run, 3 December: October's owed reports come first.
    assert run(path, "--client", "alpha", "--client", "late", "--as-of", "2026-12-03",
               "--workers", "1") == 0
    assert [line.split()[:2] for line in sent(tmp_path)] == [["alpha", "2026-10"],
                                                             ["alpha", "2026-11"]]
    # alpha's October went out as it was rendered in November; late's is rendered now.
    assert spooled.stat().st_mtime_ns == rendered_at
    assert (tmp_path / "out" / "late" / "late-2026-10.pdf").is_file()
    assert "held until 2026-12-05" in capsys.readouterr().out  # late's November waits
    # Nothing is owed any more: the next run has nothing to catch up.
    assert run(path, "--client", "alpha", "--as-of", "2026-12-04", "--dry-run") == 0
    assert "owed" not in capsys.readouterr().out


@pytest.mark.pdf
@pytest.mark.workers
@pytest.mark.parametrize("policy,code", [("fail", 1), ("partial", 0)])
def test_partial_data_policy(tmp_path, capsys, policy, code):
    extra = f"""\
      - id: gap
        name: Gap
        on_source_error: {policy}
        sources:
          ok: {{plugin: constant, settings: {{per_day: 2}}}}
          broken: {{plugin: constant, label: Partner CRM, settings: {{fail: true}}}}
        kpis:
          - {{kpi: signups, id: good, source: ok, label: Good signups}}
          - {{kpi: signups, id: bad, source: broken, label: Lost signups}}
    """
    path = write_config(tmp_path, extra)
    assert run(path, "--client", "gap") == code
    out = capsys.readouterr().out
    pdf = tmp_path / "out" / "gap" / "gap-2026-10.pdf"
    if policy == "fail":
        assert "HTTP 503" in out and not pdf.exists()
        return
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(pdf).pages).split())
    assert "Good signups" in text and "62" in text  # 31 days × 2
    # The client's PDF names the source by its label, never by its key in the config.
    assert "Lost signups — Unavailable: Partner CRM could not be read for this report." in text
    assert "Partner CRM could not be read for this report: the figures that depend on it are " \
           "missing." in text  # and in "About the data"
    assert "broken" not in text
    # The error itself is the agency's: in the summary and the ledger, not the client's PDF,
    # worded once ("Partner CRM: HTTP 503 …", not "source 'broken': broken: …").
    assert "HTTP 503" not in text
    assert "delivered with gaps: Partner CRM: HTTP 503 from the upstream API" in out
    row = ledger_rows(tmp_path)[-1]
    assert row["status"] == "delivered" and "Partner CRM: HTTP 503" in row["error"]


@pytest.mark.pdf
@pytest.mark.workers
def test_a_french_report_states_gaps_and_plugin_notes_in_french(tmp_path):
    extra = """\
      - id: trou
        name: Trou
        locale: fr_FR
        on_source_error: partial
        sources:
          ok:
            plugin: constant
            settings: {per_day: 2, note: Figures from the staging account,
                       note_fr: Chiffres du compte de préproduction}
          broken: {plugin: constant, settings: {fail: true}}
        kpis:
          - {kpi: signups, id: good, source: ok, label: Bonnes inscriptions}
          - {kpi: signups, id: bad, source: broken, label: Inscriptions perdues}
    """
    path = write_config(tmp_path, extra)
    assert run(path, "--client", "trou") == 0
    reader = PdfReader(tmp_path / "out" / "trou" / "trou-2026-10.pdf")
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    # No label in the config: the plugin's own names the source.
    assert "Indisponible : Constant (tests) n’a pas pu être lue pour ce rapport." in text
    assert "les chiffres qui en dépendent manquent" in text
    assert "Chiffres du compte de préproduction" in text
    for english in ("could not be read", "Unavailable", "staging", "HTTP"):
        assert english not in text


@pytest.mark.pdf
@pytest.mark.workers
def test_a_killed_run_is_finished_by_the_next_without_redoing_anything(tmp_path):
    extra = "".join(textwrap.dedent(f"""\
      - id: c{i}
        name: Client {i}
        sources: {{a: {{plugin: constant}}}}
        kpis: [signups]
        delivery: [{{target: recording, settings: {{log: {tmp_path / 'sent.log'}}}}}]
    """) for i in range(6))
    path = write_config(tmp_path, extra)
    env = {"PYTHONPATH": str(ROOT / "tests" / "plugins"), "PATH": "/usr/bin:/bin"}
    first = subprocess.Popen(
        [sys.executable, "-m", "kpireport", "-p", "kpireport_test_extras", "run", str(path),
         "--workers", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(600):
        if len([s for s in sent(tmp_path) if s.startswith("c")]) >= 2:
            break
        time.sleep(0.05)
    first.kill()
    _, err = first.communicate()
    before = sent(tmp_path)
    assert 2 <= len(before) < 7, err
    assert run(path, "--workers", "2") == 0
    after = sent(tmp_path)
    # Everyone got exactly one report: nothing sent twice, nothing left out.
    assert sorted(line.split()[0] for line in after) == ["alpha", "c0", "c1", "c2", "c3",
                                                        "c4", "c5"]
    rows = ledger_rows(tmp_path)
    assert all(r["status"] in ("delivered", "interrupted", "skipped") for r in rows)
    delivered = [r["client"] for r in rows if r["status"] == "delivered"]
    assert sorted(delivered) == sorted(set(delivered))
    assert {"alpha", "beta", "c0", "c5"} <= set(delivered)


@pytest.mark.pdf
@pytest.mark.workers
def test_snapshots_are_kept_for_the_configured_number_of_periods(tmp_path):
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace("runs:\n", "runs:\n  keep_snapshots: 2\n"))
    for period in ("2026-07", "2026-08", "2026-09", "2026-10"):
        assert run(path, "--client", "beta", "--period", period) == 0
    folder = tmp_path / "out" / ".kpireport" / "snapshots" / "beta"
    assert sorted(p.name for p in folder.iterdir()) == ["2026-09.json.gz", "2026-10.json.gz"]
    assert main(["-p", "kpireport_test_extras", "rerender", str(path), "--client", "beta",
                 "--period", "2026-07"]) == 2  # pruned: a clear error, not a crash


def test_pruning_keeps_the_latest_periods_whatever_their_kind(tmp_path):
    from kpireport.snapshots import prune

    for key in ("2026-08", "2026-09", "2026-Q3", "2026-10", "2026-ytd-10-14", "notes"):
        (tmp_path / f"{key}.json.gz").write_bytes(b"")
    deleted = prune(tmp_path, keep=2)
    # By their last day: a quarter's key sorts after every month's name, not after its months.
    assert sorted(p.name for p in deleted) == ["2026-08.json.gz", "2026-09.json.gz",
                                                "2026-Q3.json.gz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "2026-10.json.gz", "2026-ytd-10-14.json.gz", "notes.json.gz"]


@pytest.mark.pdf
@pytest.mark.workers
def test_a_run_with_its_own_output_warns_that_its_ledger_is_new(tmp_path, capsys):
    path = write_config(tmp_path)
    assert run(path, "--client", "beta") == 0
    capsys.readouterr()
    assert run(path, "--client", "beta", "--output", str(tmp_path / "elsewhere")) == 0
    err = capsys.readouterr().err
    assert "warning: this run records its deliveries in" in err
    assert "will be delivered again (set runs.ledger to share one)" in err
    assert run(path, "--client", "beta", "--output", str(tmp_path / "elsewhere")) == 0
    assert "warning: this run records" not in capsys.readouterr().err  # its ledger now exists


@pytest.mark.parametrize("content", [b"[]", b'{"format": 1}', b'{"format": 1, "tables": 3}'])
def test_a_damaged_snapshot_is_a_clear_error(tmp_path, content):
    import gzip

    from kpireport.snapshots import FORMAT, SnapshotError, load

    path = tmp_path / "2026-10.json.gz"
    path.write_bytes(gzip.compress(content.replace(b'"format": 1', f'"format": {FORMAT}'
                                                  .encode())))
    with pytest.raises(SnapshotError, match=r"2026-10\.json\.gz"):
        load(path)


@pytest.mark.pdf
@pytest.mark.workers
@pytest.mark.parametrize("spooled", ["by an older version", "with another snapshot"])
def test_a_retry_rebuilds_the_report_only_from_the_snapshot_taken_with_it(
        tmp_path, capsys, monkeypatch, spooled):
    import json

    path = write_config(tmp_path)
    (tmp_path / "server-down").touch()
    assert run(path, "--client", "alpha") == 1
    (tmp_path / "server-down").unlink()
    meta_path = tmp_path / "out" / ".kpireport" / "spool" / "alpha" / "2026-10.json"
    meta = json.loads(meta_path.read_text())
    assert len(meta["snapshot"]) == 64
    if spooled == "by an older version":
        del meta["snapshot"]  # no hash: the snapshot on disk is that report's
    else:
        meta["snapshot"] = "0" * 64  # e.g. re-rendered with snapshots off since
    meta_path.write_text(json.dumps(meta))
    events = tmp_path / "events.log"
    monkeypatch.setenv("KPIREPORT_TEST_EVENTS", str(events))
    capsys.readouterr()
    assert run(path, "--client", "alpha") == 0
    heard = events.read_text().splitlines() if events.exists() else []
    if spooled == "by an older version":
        assert heard == ["delivered alpha 2026-10 recording"]
    else:
        assert heard == []  # not told of a report other than the one delivered
