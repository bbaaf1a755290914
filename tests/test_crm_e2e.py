"""Issue #13's check: one client with a Salesforce *and* a HubSpot source — sales from the
org, marketing from the portal, as agencies whose client runs both set them up — and each
commercial KPI equal to the figure computed from that CRM's own records (the two fakes'
``records``, through ``salesforce_expected`` and ``hubspot_expected``, never kpireport's
aggregation)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from hubspot_expected import Expected as HubSpotExpected
from salesforce_expected import Expected as SalesforceExpected

from kpireport import DateRange
from kpireport.config import load_config
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.testing import FakeServer
from kpireport.testing.fakes.hubspot import HubSpotFake
from kpireport.testing.fakes.salesforce import SalesforceFake

pytestmark = pytest.mark.usefixtures("only_localhost")

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
TZ = "Europe/Paris"
OCT = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
SEP = DateRange(start=dt.date(2026, 9, 1), end=dt.date(2026, 9, 30))


@pytest.fixture
def crms(tmp_path, monkeypatch):
    with FakeServer() as sf_server, FakeServer() as hs_server:
        org = SalesforceFake(sf_server, seed=5, corporate_currency="EUR")
        portal = HubSpotFake(hs_server, seed=6, searches_per_second=None, currency="EUR",
                             busy_month=(2024, 1))  # before the charts: a quick test
        monkeypatch.setenv("HUBSPOT_TOKEN", portal.token)
        (tmp_path / "sf.key").write_bytes(org.private_key_pem)
        yield org, portal


def write_config(tmp_path: Path, org: SalesforceFake, portal: HubSpotFake) -> Path:
    sources = {
        "sales": {"plugin": "salesforce", "label": "Salesforce", "settings": {
            "auth": "jwt", "consumer_key": org.consumer_key, "username": org.username,
            "private_key_file": "sf.key", "login_url": org.server.url}},
        "marketing": {"plugin": "hubspot", "label": "HubSpot", "settings": {
            "token": "${HUBSPOT_TOKEN}", "base_url": portal.server.url,
            "searches_per_second": 50}},
    }
    kpis = [
        {"kpi": "leads", "source": "marketing"},
        {"kpi": "qualified_leads", "source": "marketing"},
        {"kpi": "lead_conversion_rate", "source": "marketing"},
        {"kpi": "opportunities", "source": "sales"},
        {"kpi": "pipeline_value", "source": "sales"},
        {"kpi": "won_deals", "source": "sales"},
        {"kpi": "lost_deals", "source": "sales"},
        {"kpi": "won_revenue", "source": "sales"},
        {"kpi": "sales_cycle_length", "source": "sales"},
        {"kpi": "new_customers", "source": "sales"},
        {"kpi": "new_customers", "id": "marketing_customers", "source": "marketing"},
    ]
    data = {"agency": {"name": "CRM Agency"},
            "defaults": {"period": "2026-10", "output": "out", "currency": "EUR",
                         "timezone": TZ},
            "runs": {"snapshots": False},
            "clients": [{"id": "acme", "name": "Acme", "sources": sources, "kpis": kpis}]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_each_commercial_kpi_equals_its_crms_records(tmp_path: Path, crms: Any) -> None:
    org, portal = crms
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KPIREPORT_PLUGIN_DISTRIBUTIONS", "kpireport")
        plugins = load_plugins([])
    config = load_config(write_config(tmp_path, org, portal))
    report = compute_report(config, config.client("acme"), plugins, now=NOW,
                            state_root=tmp_path / "state")
    assert not report.fetched.errors
    sf, hs = SalesforceExpected(org, TZ), HubSpotExpected(portal, TZ)
    figures: dict[str, Any] = {
        "leads": lambda r: hs.leads(r),
        "qualified_leads": lambda r: hs.qualified_leads(r),
        "lead_conversion_rate": lambda r: hs.new_customers(r) / hs.leads(r),
        "opportunities": lambda r: len(sf.opportunities(r)),
        "pipeline_value": lambda r: sum(sf.amount(o) for o in sf.opportunities(r)),
        "won_deals": lambda r: len(sf.won(r)),
        "lost_deals": lambda r: len(sf.lost(r)),
        "won_revenue": lambda r: sum(sf.amount(o) for o in sf.won(r)),
        "sales_cycle_length": lambda r: sf.cycle(r),
        "new_customers": lambda r: sf.new_customers(r),
        "marketing_customers": lambda r: hs.new_customers(r),
    }
    for kpi, figure in figures.items():
        value = report.kpis[kpi]
        assert value.error is None, (kpi, value.error)
        assert value.value == pytest.approx(figure(OCT)), kpi
        assert value.previous == pytest.approx(figure(SEP)), kpi
        assert figure(OCT) > 0, kpi  # the seeds give every figure something to count
    # Both CRMs' quotas reach the run summary, each under its source.
    assert report.usage["sales"]["api-usage"].endswith("/100000")
    assert "requests_per_day" in report.usage["marketing"]
