"""Issue #13's HubSpot acceptance: a client whose commercial KPIs come from a HubSpot portal,
through the real pipeline (config, plan, fetch, compute). Each figure is computed here from
the fake portal's raw records (``hubspot_expected``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hubspot_expected import Expected
from shared import months

from kpireport import DateRange, NoteKind, SourceError
from kpireport.config import load_config
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.testing import FakeServer, Reply
from kpireport.testing.fakes.hubspot import HubSpotFake

pytestmark = pytest.mark.usefixtures("only_localhost")

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
TZ = "America/New_York"
OCT = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
SEP = DateRange(start=dt.date(2026, 9, 1), end=dt.date(2026, 9, 30))
OCT_LAST_YEAR = DateRange(start=dt.date(2025, 10, 1), end=dt.date(2025, 10, 31))
SEARCH = r"/crm/v3/objects/\w+/search"
KPIS = ["leads", "qualified_leads", "opportunities", "new_customers", "won_deals",
        "won_revenue", "sales_cycle_length"]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def portal(server: FakeServer) -> HubSpotFake:
    # The default busy month (March 2025, over 10,000 new contacts) is in the charts' 25 months.
    return HubSpotFake(server, seed=21, searches_per_second=None, currency="EUR")


@pytest.fixture(autouse=True)
def _fresh_calls(server: FakeServer) -> Iterator[None]:
    server.calls.clear()
    yield
    server.calls.clear()


@pytest.fixture(scope="module")
def plugins() -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KPIREPORT_PLUGIN_DISTRIBUTIONS", "kpireport")
        return load_plugins([])


def write_config(tmp_path: Path, url: str, **client: Any) -> Path:
    data = {"agency": {"name": "CRM Agency"},
            "defaults": {"period": "2026-10", "output": "out", "currency": "EUR"},
            "clients": [{"id": "acme", "name": "Acme", "timezone": TZ,
                         "sources": {"crm": {"plugin": "hubspot", "settings": {
                             "token": "${HUBSPOT_TOKEN}", "base_url": url,
                             "searches_per_second": 50}}},
                         "kpis": KPIS, **client}]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def compute(path: Path, plugins: Any) -> Any:
    config = load_config(path)
    return compute_report(config, config.client("acme"), plugins, now=NOW,
                          state_root=path.parent / "state")


def figure(expected: Expected, kpi: str, rng: DateRange) -> float | None:
    won = expected.won(rng)
    return {"leads": expected.leads(rng), "qualified_leads": expected.qualified_leads(rng),
            "opportunities": len(expected.created(rng)),
            "new_customers": expected.new_customers(rng), "won_deals": len(won),
            "won_revenue": expected.amount_of(won),
            "sales_cycle_length": expected.cycle_days(won)}[kpi]


def test_every_commercial_kpi_equals_the_portals_records(tmp_path: Path, server: FakeServer,
                                                         portal: HubSpotFake, plugins: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", portal.token)
    report = compute(write_config(tmp_path, server.url), plugins)
    expected = Expected(portal, TZ)
    series = months(dt.date(2024, 10, 1), dt.date(2026, 10, 1))
    assert any(expected.leads(m) > 10_000 for m in series)  # the busy month is charted
    for kpi in KPIS:
        value = report.kpis[kpi]
        assert value.error is None, (kpi, value.error)
        assert value.value == pytest.approx(figure(expected, kpi, OCT)), kpi
        assert value.previous == pytest.approx(figure(expected, kpi, SEP)), kpi
        assert value.last_year == pytest.approx(figure(expected, kpi, OCT_LAST_YEAR)), kpi
        assert [p.value for p in value.monthly] == pytest.approx(
            [figure(expected, kpi, m) for m in series], nan_ok=True), kpi
        if kpi != "sales_cycle_length":  # a mean has no value on a day without a won deal
            assert [p.value or 0 for p in value.daily] == pytest.approx(
                [figure(expected, kpi, DateRange(start=d, end=d)) for d in OCT.iter_days()])
    assert report.kpis["won_revenue"].currency is None  # the portal's EUR is the client's
    # Never the 400 past 10,000 results; the daily quota reached the summary.
    assert all(int(c.json().get("after", 0)) < 10_000 for c in server.calls_to(SEARCH))
    used = report.usage["crm"]["requests_per_day"]
    assert used == f"{portal.daily_used}/{portal.daily_limit}"


def test_a_refused_token_costs_one_call_and_partial_states_the_gap(
        tmp_path: Path, server: FakeServer, plugins: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-na1-revoked-0000")
    report = compute(write_config(tmp_path, server.url, on_source_error="partial"), plugins)
    assert len(server.calls) == 1
    assert "refused the private-app token" in report.fetched.errors["crm"]
    assert "pat-na1-revoked-0000" not in report.fetched.errors["crm"]
    [gap] = [n for n in report.notes if n.kind is NoteKind.SOURCE_FAILED]
    assert gap.source == "crm"
    assert all(k.value is None for k in report.kpis.values())


def test_a_daily_limit_stops_the_source_after_one_call(tmp_path: Path, server: FakeServer,
                                                       portal: HubSpotFake, plugins: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", portal.token)
    server.fail("POST", SEARCH, Reply(status=429, body={
        "status": "error", "errorType": "RATE_LIMIT", "policyName": "DAILY",
        "message": "You have reached your daily limit."}), times=1)
    with pytest.raises(SourceError) as raised:
        compute(write_config(tmp_path, server.url), plugins)
    assert "daily API limit" in str(raised.value)
    assert len(server.calls_to(SEARCH)) == 1


def with_settings(path: Path, **settings: Any) -> Path:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["clients"][0]["sources"]["crm"]["settings"].update(settings)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_validate_names_a_bad_setting_offline(tmp_path: Path, server: FakeServer,
                                              portal: HubSpotFake, capsys: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from kpireport.cli import main

    monkeypatch.setenv("HUBSPOT_TOKEN", portal.token)
    path = with_settings(write_config(tmp_path, server.url), qualified_lead_stage="mql")
    assert main(["validate", str(path), "--no-data"]) == 2
    err = capsys.readouterr().err
    assert "qualified_lead_stage" in err and "unknown lifecycle stage 'mql'" in err
    with_settings(path, qualified_lead_stage="salesqualifiedlead", won_stages=["closedwon"],
                  lost_stages=["closedwon"])
    assert main(["validate", str(path), "--no-data"]) == 2
    assert "won_stages and lost_stages both list closedwon" in capsys.readouterr().err
    with_settings(path, lost_stages=["closedlost"])
    assert main(["validate", str(path), "--no-data"]) == 0
    assert not server.calls  # offline


@pytest.mark.workers  # kpireport check probes the sources in a thread pool
def test_check_names_what_the_portal_lacks(tmp_path: Path, server: FakeServer,
                                           portal: HubSpotFake, capsys: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from kpireport.cli import main

    monkeypatch.setenv("HUBSPOT_TOKEN", portal.token)
    path = write_config(tmp_path, server.url)
    assert main(["check", str(path), "--as-of", "2026-11-25"]) == 0
    assert "ok" in capsys.readouterr().out
    with_settings(path, won_stages=["closed-won"], pipelines=["default"])
    assert main(["check", str(path), "--as-of", "2026-11-25"]) == 1
    out = capsys.readouterr().out
    assert "won_stages: the portal has no deal stage closed-won" in out
    assert portal.token not in out


def test_validate_refuses_a_contact_count_filtered_by_pipeline(
        tmp_path: Path, server: FakeServer, portal: HubSpotFake, capsys: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Contacts have no pipeline: said by validate, offline, not by the run's fetch.
    from kpireport.cli import main

    monkeypatch.setenv("HUBSPOT_TOKEN", portal.token)
    by_pipeline = [{"dimension": "pipeline", "equals": "default"}]
    path = write_config(tmp_path, server.url, kpis=[
        {"kpi": "won_deals", "filters": by_pipeline},
        {"kpi": "leads", "filters": by_pipeline}])
    assert main(["validate", str(path), "--no-data"]) == 2
    err = capsys.readouterr().err
    assert "KPI 'leads'" in err and "cannot split or filter leads by pipeline" in err
    assert "leads offers: stage" in err and "won_deals" not in err
    assert not server.calls
