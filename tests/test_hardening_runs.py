"""A full disk is one clear line, and what it stopped is finished by the next run."""

import errno
import sqlite3

import pytest
from test_batch import ledger_rows, run, sent, write_config


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", "/state/spool/alpha-2026-10.pdf")


@pytest.mark.pdf
@pytest.mark.workers
def test_a_full_disk_in_a_worker_is_one_clear_line(tmp_path, monkeypatch, capsys):
    import kpireport.batch

    path = write_config(tmp_path)
    with monkeypatch.context() as m:
        m.setattr(kpireport.batch, "atomic_write", no_space)
        assert run(path, "--client", "alpha") == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert ("the disk is full (No space left on device): could not write "
            "/state/spool/alpha-2026-10.pdf") in text
    assert "internal error" not in text and "Traceback" not in text
    [attempt] = ledger_rows(tmp_path)
    assert attempt["status"] == "failed" and "the disk is full" in attempt["error"]
    assert sent(tmp_path) == []
    assert run(path, "--client", "alpha") == 0  # space freed: done now
    assert len(sent(tmp_path)) == 1


@pytest.mark.pdf
@pytest.mark.workers
def test_a_ledger_the_full_disk_stops_is_one_line_and_the_next_run_finishes(
        tmp_path, monkeypatch, capsys):
    from kpireport.ledger import Ledger

    path = write_config(tmp_path)

    def full(self, *args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    with monkeypatch.context() as m:
        m.setattr(Ledger, "finish", full)
        assert run(path, "--client", "alpha") == 1
    err = capsys.readouterr().err
    assert "error: the disk is full: the ledger could not be written" in err
    assert "Traceback" not in err
    # What it could not finish, as the ledger says, until the next run.
    assert [r["status"] for r in ledger_rows(tmp_path)] == ["running"]
    assert run(path, "--client", "alpha") == 0
    assert ledger_rows(tmp_path)[0]["status"] == "interrupted"
    assert len(sent(tmp_path)) == 1  # delivered by the first run, recorded as such


def test_the_parent_keeps_no_clients_parsed_data_once_validated():
    from shared import ROOT

    from kpireport.config import load_config
    from kpireport.config.checks import check_config
    from kpireport.plugins import load_plugins
    from kpireport_csv import tidy

    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    tidy._PARSED._caches.clear()
    assert check_config(config, plugins) == []  # every client's files parsed and checked
    assert [key for key, cache in tidy._PARSED._caches.items() if "rows" in cache] == []
