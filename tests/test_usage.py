"""Quota figures a source reports reach the run summary and the ledger."""

import json
import sqlite3
import textwrap

import pytest
from api_fake import SECRET, FakeApi

from kpireport.cli import main
from kpireport.testing import FakeServer

CONFIG = """\
agency: {{name: Test Agency}}
defaults: {{period: 2026-10, output: out, timezone: Europe/London}}
runs: {{snapshots: false}}
clients:
  - id: shop
    name: The Shop
    sources:
      web:
        plugin: test_api
        label: Shop Analytics
        settings: {{base_url: "{url}", account: "77", client_secret: "{secret}"}}
    kpis: [sessions]
"""


@pytest.mark.pdf
@pytest.mark.workers
def test_quota_usage_is_in_the_run_summary_and_the_ledger(tmp_path, capsys):
    with FakeServer() as server:
        api = FakeApi(server, quota=50_000)
        path = tmp_path / "config.yaml"
        path.write_text(textwrap.dedent(CONFIG.format(url=server.url, secret=SECRET)))
        code = main(["-p", "kpireport_test_api", "run", str(path), "--as-of", "2026-11-25",
                     "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    calls = api.used
    assert calls > 1
    # The last figure the API gave, as it gave it.
    assert "quota used:" in out and f"shop web: requests_per_day {calls}/50000" in out
    db = sqlite3.connect(tmp_path / "out" / ".kpireport" / "ledger.sqlite")
    [usage] = [json.loads(row[0]) for row in db.execute("SELECT usage FROM attempts")]
    assert usage == {"web": {"requests_per_day": f"{calls}/50000"}}


def test_a_large_quota_is_printed_in_full():
    from kpireport import Usage

    assert str(Usage(used=1_234_567, limit=2_000_000)) == "1234567/2000000"
    assert str(Usage(used=0.25)) == "0.25"
