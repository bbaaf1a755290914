"""The run ledger: every report attempt and every delivery, in an embedded SQLite database.

An attempt is written when it starts (status ``running``) and updated when it ends, each in
its own committed transaction with the journal in WAL mode and ``synchronous=FULL``: a run
killed at any point leaves every earlier row intact and at worst one attempt still marked
``running``. Deliveries are recorded per client, period and target the moment they succeed,
which is what makes a re-run never send a report twice. A delivery that cannot safely be
repeated (an email) is first recorded as ``sending``: if its outcome is never recorded, the
next run does not send it again, and says so.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    client TEXT NOT NULL,
    period TEXT NOT NULL,
    started TEXT NOT NULL,
    duration REAL,
    status TEXT NOT NULL,
    error TEXT,
    outputs TEXT NOT NULL DEFAULT '[]',
    pages INTEGER,
    content_hash TEXT,
    plugin_versions TEXT NOT NULL DEFAULT '{}',
    config_hash TEXT,
    usage TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS attempts_client_period ON attempts (client, period);
CREATE TABLE IF NOT EXISTS deliveries (
    client TEXT NOT NULL,
    period TEXT NOT NULL,
    target TEXT NOT NULL,
    status TEXT NOT NULL,
    location TEXT,
    error TEXT,
    attempt_id INTEGER REFERENCES attempts (id),
    at TEXT NOT NULL,
    PRIMARY KEY (client, period, target)
);
"""


@dataclass(frozen=True)
class Attempt:
    id: int
    run_id: str
    client: str
    period: str
    started: str
    duration: float | None
    status: str
    error: str | None
    outputs: list[str]
    pages: int | None
    content_hash: str | None
    plugin_versions: dict[str, str]
    config_hash: str | None
    usage: dict[str, dict[str, str]]
    """Quota figures the sources reported, by source then quota (``"120/200000"``)."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Ledger:
    """A connection to the ledger file (created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        columns = {row["name"] for row in self.db.execute("PRAGMA table_info(attempts)")}
        if "usage" not in columns:  # a ledger written before sources reported their quotas
            self.db.execute("ALTER TABLE attempts ADD COLUMN usage TEXT NOT NULL DEFAULT '{}'")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- attempts -------------------------------------------------------------------------

    def start(self, *, run_id: str, client: str, period: str, config_hash: str,
              plugin_versions: dict[str, str]) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO attempts (run_id, client, period, started, status, "
                "plugin_versions, config_hash) VALUES (?, ?, ?, ?, 'running', ?, ?)",
                (run_id, client, period, _now(), json.dumps(plugin_versions, sort_keys=True),
                 config_hash))
            return int(cur.lastrowid or 0)

    def finish(self, attempt_id: int, *, status: str, duration: float,
               error: str | None = None, outputs: list[str] | None = None,
               pages: int | None = None, content_hash: str | None = None,
               usage: dict[str, dict[str, str]] | None = None) -> None:
        with self._tx() as db:
            db.execute("UPDATE attempts SET status = ?, duration = ?, error = ?, outputs = ?, "
                       "pages = ?, content_hash = ?, usage = ? WHERE id = ?",
                       (status, round(duration, 3), error, json.dumps(outputs or []), pages,
                        content_hash, json.dumps(usage or {}, sort_keys=True), attempt_id))

    def record(self, *, run_id: str, client: str, period: str, status: str,
               error: str | None = None, config_hash: str | None = None) -> int:
        """A finished attempt in one step (skipped, held…)."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO attempts (run_id, client, period, started, duration, status, "
                "error, config_hash) VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
                (run_id, client, period, _now(), status, error, config_hash))
            return int(cur.lastrowid or 0)

    def mark_interrupted(self) -> int:
        """Attempts left ``running`` by a run that was killed (call while holding the lock)."""
        with self._tx() as db:
            cur = db.execute("UPDATE attempts SET status = 'interrupted', error = "
                             "'the run was stopped before this report finished' "
                             "WHERE status = 'running'")
            return cur.rowcount

    def history(self, client: str | None = None, limit: int = 50) -> list[Attempt]:
        sql = "SELECT * FROM attempts"
        args: list[Any] = []
        if client:
            sql += " WHERE client = ?"
            args.append(client)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [_attempt(row) for row in self.db.execute(sql, args)]

    # --- deliveries -------------------------------------------------------------------------

    def delivered_targets(self, client: str, period: str) -> dict[str, str]:
        """Targets that already received this client's report for this period → location."""
        rows = self.db.execute("SELECT target, location FROM deliveries WHERE client = ? AND "
                               "period = ? AND status = 'delivered'", (client, period))
        return {row["target"]: row["location"] for row in rows}

    def delivered_periods(self, client: str) -> list[str]:
        """The client's periods whose report reached at least one target, oldest first."""
        rows = self.db.execute("SELECT period, MIN(at) AS first FROM deliveries WHERE client "
                               "= ? AND status = 'delivered' GROUP BY period ORDER BY period",
                               (client,))
        return [row["period"] for row in rows]

    def uncertain_targets(self, client: str, period: str) -> list[str]:
        """Targets a run began to deliver to without recording how it ended (it was killed,
        or the ledger could not be written): the report may be there already."""
        rows = self.db.execute("SELECT target FROM deliveries WHERE client = ? AND period = ? "
                               "AND status = 'sending' ORDER BY target", (client, period))
        return [row["target"] for row in rows]

    def owed_periods(self, client: str, *, since: str) -> list[str]:
        """The client's periods whose latest attempt, started at ``since`` (ISO) or later,
        ended held, held for stale data, failed or interrupted, or left a delivery failed;
        oldest first."""
        rows = self.db.execute(
            "SELECT a.period FROM attempts a WHERE a.client = ? AND a.started >= ? AND a.id = "
            "(SELECT MAX(b.id) FROM attempts b WHERE b.client = a.client AND b.period = "
            "a.period) AND (a.status IN ('held', 'stale data', 'failed', 'interrupted', "
            "'running') OR EXISTS "
            "(SELECT 1 FROM deliveries d WHERE d.client = a.client AND d.period = a.period AND "
            "d.status = 'failed')) ORDER BY a.id", (client, since))
        return [row["period"] for row in rows]

    def record_delivery(self, *, client: str, period: str, target: str, status: str,
                        attempt_id: int, location: str | None = None,
                        error: str | None = None) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO deliveries (client, period, target, status, location, "
                       "error, attempt_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                       "ON CONFLICT (client, period, target) DO UPDATE SET status = "
                       "excluded.status, location = excluded.location, error = excluded.error, "
                       "attempt_id = excluded.attempt_id, at = excluded.at",
                       (client, period, target, status, location, error, attempt_id, _now()))

    def settle(self, client: str, period: str, target: str, *, received: bool) -> bool:
        """Settle an uncertain delivery (``sending``) as the agency found it: received (it
        is recorded delivered) or not (the record is dropped: the next run sends it, to
        this target only). False when the target has no uncertain delivery."""
        with self._tx() as db:
            if received:
                changed = db.execute(
                    "UPDATE deliveries SET status = 'delivered', location = COALESCE("
                    "location, ?), error = NULL, at = ? WHERE client = ? AND period = ? AND "
                    "target = ? AND status = 'sending'",
                    (f"{target} (confirmed by hand)", _now(), client, period, target)).rowcount
            else:
                changed = db.execute(
                    "DELETE FROM deliveries WHERE client = ? AND period = ? AND target = ? "
                    "AND status = 'sending'", (client, period, target)).rowcount
        return bool(changed)

    def forget(self, client: str, period: str) -> None:
        """Drop the delivery records of a client and period (``--force`` sends again)."""
        with self._tx() as db:
            db.execute("DELETE FROM deliveries WHERE client = ? AND period = ?",
                       (client, period))


def _attempt(row: sqlite3.Row) -> Attempt:
    return Attempt(row["id"], row["run_id"], row["client"], row["period"], row["started"],
                   row["duration"], row["status"], row["error"], json.loads(row["outputs"]),
                   row["pages"], row["content_hash"], json.loads(row["plugin_versions"]),
                   row["config_hash"], json.loads(row["usage"]))
