"""One agency client with all five API sources, run by ``kpireport run`` as cron runs it
(forked workers, the PDF rendered and delivered): GA4 for the site, Search Console for SEO,
Salesforce for sales, HubSpot for marketing leads, Meta for ads, each against its kit fake on
127.0.0.1. The PDF prints figures computed here from each fake's own data, the run summary
shows each quota, and no token or key reaches the PDF, the HTML or the ledger."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
import yaml
from ga4_fixtures import PROPERTY, Google, expected_web
from hubspot_expected import Expected as HubSpotExpected
from pypdf import PdfReader
from search_console_data import SITE, figures, select

from kpireport.cli import main
from kpireport.data import DateRange
from kpireport.testing import FakeServer
from kpireport.testing.fakes.ga4 import GA4Fake
from kpireport.testing.fakes.google_oauth import GoogleOAuthFake
from kpireport.testing.fakes.hubspot import HubSpotFake
from kpireport.testing.fakes.meta import MetaFake
from kpireport.testing.fakes.salesforce import SalesforceFake
from kpireport.testing.fakes.search_console import SearchConsoleFake

pytestmark = [pytest.mark.usefixtures("only_localhost"), pytest.mark.pdf,
              pytest.mark.workers]

OCT = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
TZ = "Europe/Paris"


def test_a_client_with_every_api_source_is_run_rendered_and_delivered(tmp_path: Path,
                                                                      monkeypatch,
                                                                      capsys) -> None:
    with FakeServer() as google_server, FakeServer() as crm_server, \
            FakeServer() as hub_server, FakeServer() as graph_server:
        oauth = GoogleOAuthFake(google_server)
        ga4 = GA4Fake(google_server, oauth, seed=7, start=dt.date(2024, 10, 1),
                      end=dt.date(2026, 11, 24), today=dt.date(2026, 11, 25),
                      properties=(PROPERTY,))
        gsc = SearchConsoleFake(google_server, oauth, seed=21, start=dt.date(2024, 10, 1),
                                today=dt.date(2026, 11, 25))
        key = oauth.write_service_account_key(tmp_path / "google-key.json")
        org = SalesforceFake(crm_server, seed=5, corporate_currency="EUR")
        (tmp_path / "sf.key").write_bytes(org.private_key_pem)
        portal = HubSpotFake(hub_server, seed=6, searches_per_second=None, currency="EUR",
                             busy_month=(2024, 1))
        graph = MetaFake(graph_server, seed=11)
        monkeypatch.setenv("HUBSPOT_TOKEN", portal.token)
        monkeypatch.setenv("META_TOKEN", graph.token)
        auth = {"service_account_file": key.name}
        config = {
            "agency": {"name": "Northstar Digital"},
            "defaults": {"period": "2026-10", "output": "out", "currency": "EUR",
                         "timezone": TZ},
            "clients": [{"id": "acme", "name": "Acme", "sources": {
                "web": {"plugin": "ga4", "settings": {
                    "property_id": PROPERTY, "auth": auth, "base_url": google_server.url,
                    "leads": ["generate_lead"]}},
                "seo": {"plugin": "search_console", "settings": {
                    "site": SITE, "auth": auth, "base_url": google_server.url}},
                "sales": {"plugin": "salesforce", "settings": {
                    "auth": "jwt", "consumer_key": org.consumer_key, "username": org.username,
                    "private_key_file": "sf.key", "login_url": crm_server.url}},
                "marketing": {"plugin": "hubspot", "settings": {
                    "token": "${HUBSPOT_TOKEN}", "base_url": hub_server.url,
                    "searches_per_second": 50}},
                "ads": {"plugin": "meta", "settings": {
                    "ad_account_id": graph.account_id, "graph_url": graph_server.url,
                    "access_token": "${META_TOKEN}", "events": ["purchase"],
                    "calls_per_minute": 10_000}}},
                "kpis": [{"kpi": "sessions", "source": "web"},
                         {"kpi": "users", "source": "web"},
                         {"kpi": "organic_clicks", "source": "seo"},
                         {"kpi": "won_deals", "source": "sales"},
                         {"kpi": "leads", "id": "crm_leads", "label": "CRM leads",
                          "source": "marketing"},
                         {"kpi": "ad_spend", "source": "ads"},
                         {"kpi": "ad_purchases", "source": "ads"}]}]}
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        code = main(["run", str(path), "--as-of", "2026-11-25", "--workers", "2"])
        out = capsys.readouterr().out
        assert code == 0, out

        pdf = tmp_path / "out" / "acme" / "acme-2026-10.pdf"
        text = " ".join(" ".join(page.extract_text() for page in PdfReader(pdf).pages).split())
        web = expected_web(Google(google_server, oauth, ga4, tmp_path), OCT.start, OCT.end)
        seo = figures(select(gsc.rows[SITE], OCT.start, OCT.end))
        won = [o for o in org.records("Opportunity") if o["IsWon"]
               and OCT.start <= o["CloseDate"] <= OCT.end]
        leads = HubSpotExpected(portal, TZ).leads(OCT)
        purchases = sum(d.purchases[w] for d in graph.days if OCT.start <= d.day <= OCT.end
                        for w in ("7d_click", "1d_view"))
        for label, figure in [("Sessions", web["sessions"]), ("Unique visitors", web["users"]),
                              ("Organic clicks", seo["clicks"]), ("Won deals", len(won)),
                              ("CRM leads", leads), ("Purchases from ads", purchases)]:
            assert figure > 0, label
            assert f"{label} {round(figure):,}" in text, label

        # Each API's quota in the run summary, under the client and the source's name.
        assert "quota used:" in out
        for line in ("acme web: tokensPerDay ", "acme sales: api-usage ",
                     "acme marketing: requests_per_day "):
            assert line in out, line
        # No credential anywhere a client or a log could see it.
        html = pdf.with_suffix(".html").read_text(encoding="utf-8")
        ledger = "\n".join(str(row) for row in sqlite3.connect(
            tmp_path / "out" / ".kpireport" / "ledger.sqlite").execute(
            "SELECT * FROM attempts"))
        secrets = [portal.token, graph.token, *oauth.live_tokens(), *org.tokens]
        for where in (text, html, out, ledger):
            assert not [s for s in secrets if s and s in where]
