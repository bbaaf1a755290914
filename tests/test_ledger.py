"""The run ledger keeps the quota figures sources report, and opens older ledgers."""

import sqlite3

from kpireport.ledger import SCHEMA, Ledger


def test_usage_is_recorded_with_the_attempt(tmp_path):
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        attempt = ledger.start(run_id="r", client="c", period="2026-10", config_hash="h",
                               plugin_versions={})
        ledger.finish(attempt, status="delivered", duration=1.0,
                      usage={"web": {"tokensPerDay": "120/200000"}})
        assert ledger.history()[0].usage == {"web": {"tokensPerDay": "120/200000"}}


def test_a_ledger_from_before_usage_opens_and_gains_the_column(tmp_path):
    path = tmp_path / "ledger.sqlite"
    old = SCHEMA.replace(",\n    usage TEXT NOT NULL DEFAULT '{}'", "")
    assert "usage" not in old
    db = sqlite3.connect(path)
    db.executescript(old)
    db.execute("INSERT INTO attempts (run_id, client, period, started, status) "
               "VALUES ('r', 'c', '2026-09', '2026-10-03T06:00:00+00:00', 'delivered')")
    db.commit()
    db.close()
    with Ledger(path) as ledger:
        assert ledger.history()[0].usage == {}
