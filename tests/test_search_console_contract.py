"""The search_console source runs the contract suite plugin authors run
(:class:`kpireport.testing.SourceContract`), against the kit's Search Console fake: real
google-auth token exchange, real ``requests``; HTTP errors in Google's older error shape."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from search_console_data import SITE, TODAY

from kpireport.testing import FakeServer, SourceContract
from kpireport.testing.fakes.google_oauth import GoogleOAuthFake
from kpireport.testing.fakes.search_console import SearchConsoleFake
from kpireport_search_console import SearchConsoleSettings, SearchConsoleSource


class TestSearchConsoleContract(SourceContract):
    @pytest.fixture
    def contract_source(self, source_context, tmp_path):
        with FakeServer() as server:
            self.server = server
            oauth = GoogleOAuthFake(server)
            self.fake = SearchConsoleFake(server, oauth, seed=5, start=dt.date(2026, 1, 1),
                                          today=TODAY)
            oauth.write_service_account_key(tmp_path / "key.json")
            context = dataclasses.replace(source_context, plugin="search_console")
            settings = SearchConsoleSettings(site=SITE, base_url=server.url, timeout=5,
                                             auth={"service_account_file": "key.json"})
            source = SearchConsoleSource(settings, context)
            yield source
            source.close()

    def contract_fail(self, status: int) -> bool:
        self.fake.fail(status, times=20)
        return True

    def contract_calls(self) -> int:
        return len(self.server.calls_to(r"/webmasters/.*"))
