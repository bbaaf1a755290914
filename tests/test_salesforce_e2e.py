"""Issue #13's checks for Salesforce, through the real pipeline: a client whose commercial
KPIs come from the ``salesforce`` source, each equal to the figure computed from the fake's
records (``salesforce_expected``); an expired session renewed once; the daily limit stopping
the source after one call, said in the report and the run summary."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from salesforce_expected import Expected

from kpireport.cli import main
from kpireport.config import load_config
from kpireport.data import DateRange
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.testing import FakeServer
from kpireport.testing.fakes.salesforce import SalesforceFake

pytestmark = pytest.mark.usefixtures("only_localhost")

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
OCT = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
SEP = DateRange(start=dt.date(2026, 9, 1), end=dt.date(2026, 9, 30))
OCT_LAST_YEAR = DateRange(start=dt.date(2025, 10, 1), end=dt.date(2025, 10, 31))
TZ = "America/Chicago"
QUERY_CALLS = r"/services/data/v60.0/query.*"

# KPI id → the figure it must equal, from the records.
KPIS: dict[str, Any] = {
    "leads": lambda e, r: e.leads(r),
    "qualified_leads": lambda e, r: e.qualified_converted(r),
    "opportunities": lambda e, r: len(e.opportunities(r)),
    "pipeline_value": lambda e, r: sum(e.amount(o) for o in e.opportunities(r)),
    "won_deals": lambda e, r: len(e.won(r)),
    "won_revenue": lambda e, r: sum(e.amount(o) for o in e.won(r)),
    "lost_deals": lambda e, r: len(e.lost(r)),
    "sales_cycle_length": lambda e, r: e.cycle(r),
    "new_customers": lambda e, r: e.new_customers(r),
    "lead_conversion_rate": lambda e, r: e.new_customers(r) / e.leads(r),
}


@pytest.fixture
def server():
    with FakeServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def plugins():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KPIREPORT_PLUGIN_DISTRIBUTIONS", "kpireport")
        return load_plugins()


def write_config(tmp_path: Path, org: SalesforceFake, **client: Any) -> Path:
    (tmp_path / "sf.key").write_bytes(org.private_key_pem)
    crm = {"plugin": "salesforce", "label": "Acme CRM", "settings": {
        "auth": "jwt", "consumer_key": org.consumer_key, "username": org.username,
        "private_key_file": "sf.key", "login_url": org.server.url}}
    data = {"agency": {"name": "CRM Agency"},
            "defaults": {"period": "2026-10", "output": "out", "currency": "USD",
                         "timezone": TZ},
            "runs": {"snapshots": False},
            "clients": [{"id": "acme", "name": "Acme", "sources": {"crm": crm},
                         "kpis": list(KPIS), **client}]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def compute(path: Path, plugins: Any) -> Any:
    config = load_config(path)
    return compute_report(config, config.client("acme"), plugins, now=NOW,
                          state_root=path.parent / "state")


def test_each_commercial_kpi_equals_the_records(tmp_path, server, plugins):
    org = SalesforceFake(server, seed=11)
    report = compute(write_config(tmp_path, org), plugins)
    want = Expected(org, TZ)
    for kpi, figure in KPIS.items():
        value = report.kpis[kpi]
        assert value.error is None, (kpi, value.error)
        assert value.value == pytest.approx(figure(want, OCT)), kpi
        assert value.previous == pytest.approx(figure(want, SEP)), kpi
        assert value.last_year == pytest.approx(figure(want, OCT_LAST_YEAR)), kpi
    # The series too: each day of October, each of the 25 months.
    won = report.kpis["won_deals"]
    assert [p.value for p in won.daily] == [
        len(want.won(DateRange(start=d, end=d))) for d in OCT.iter_days()]
    cycle = report.kpis["sales_cycle_length"]
    [october] = [p for p in cycle.monthly if p.start == OCT.start]
    assert october.value == pytest.approx(want.cycle(OCT))
    assert report.kpis["won_revenue"].currency is None  # the org's USD is the client's
    # One login for the whole report; aggregates for counts, records only where needed.
    assert len(org.tokens) == 1
    assert report.usage["crm"]["api-usage"].endswith("/100000")


def test_an_expired_session_mid_report_is_renewed_once(tmp_path, server, plugins):
    org = SalesforceFake(server, seed=11, expire_after_calls=6)
    report = compute(write_config(tmp_path, org), plugins)
    want = Expected(org, TZ)
    assert not report.fetched.errors
    for kpi in ("won_revenue", "sales_cycle_length", "new_customers"):
        assert report.kpis[kpi].value == pytest.approx(KPIS[kpi](want, OCT))
    assert len(org.tokens) == 2
    assert len(server.calls_to("/services/oauth2/token")) == 2


def test_the_daily_limit_stops_the_source_after_one_call(tmp_path, server, plugins):
    org = SalesforceFake(server, seed=11, daily_limit=15000, api_usage=15000)
    report = compute(write_config(tmp_path, org, on_source_error="partial"), plugins)
    assert len(server.calls_to(QUERY_CALLS)) == 1
    error = report.fetched.errors["crm"]
    assert "daily API request limit is reached" in error and "REQUEST_LIMIT_EXCEEDED" in error
    assert report.usage == {"crm": {"api-usage": "15000/15000"}}
    assert all(k.value is None and k.failed_source == "crm" for k in report.kpis.values())


@pytest.mark.pdf
@pytest.mark.workers
def test_the_run_summary_says_the_limit_was_reached(tmp_path, server, capsys):
    org = SalesforceFake(server, seed=11, daily_limit=15000, api_usage=15000)
    path = write_config(tmp_path, org, on_source_error="partial")
    assert main(["run", str(path), "--as-of", "2026-11-25", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "Acme CRM: the org's daily API request limit is reached" in out
    assert "acme crm: api-usage 15000/15000" in out
    assert len(server.calls_to(QUERY_CALLS)) == 1


def test_validate_names_a_bad_setting_offline(tmp_path, server, capsys, monkeypatch):
    monkeypatch.setenv("SF_SECRET", "a-consumer-secret")
    org = SalesforceFake(server, seed=11)
    path = write_config(tmp_path, org)
    data = yaml.safe_load(path.read_text())
    settings = data["clients"][0]["sources"]["crm"]["settings"]
    settings.update(auth="client_credentials", login_url="https://login.salesforce.com",
                    consumer_secret="${SF_SECRET}")
    del settings["username"], settings["private_key_file"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["validate", str(path), "--no-data"]) == 2
    err = capsys.readouterr().err
    assert "needs the org's My Domain as login_url" in err
    assert not server.calls


@pytest.mark.workers  # kpireport check probes the sources in threads
def test_kpireport_check_describes_the_objects(tmp_path, server, capsys):
    org = SalesforceFake(server, seed=11)
    path = write_config(tmp_path, org)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ok" in out
    assert [c.path.rsplit("/", 2)[1] for c in server.calls_to(r".*/describe")] == [
        "Lead", "Opportunity"]
    data = yaml.safe_load(path.read_text())
    data["clients"][0]["sources"]["crm"]["settings"]["won_stages"] = ["Signed"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "won_stages: 'Signed' not in StageName" in out

