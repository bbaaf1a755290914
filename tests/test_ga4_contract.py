"""The ga4 source runs the contract suite plugin authors run (kpireport.testing.SourceContract)
against the kit's GA4 fake, its token obtained from the fake token endpoint by google-auth."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from ga4_fixtures import PROPERTY, REPORTS, SA_EMAIL, TODAY

from kpireport.testing import FakeServer, SourceContract
from kpireport.testing.fakes.ga4 import _STATUSES, GA4Fake, error_reply
from kpireport.testing.fakes.google_oauth import GoogleOAuthFake
from kpireport_ga4 import Ga4Settings, Ga4Source


class TestGa4Contract(SourceContract):
    @pytest.fixture
    def contract_source(self, source_context, tmp_path):
        with FakeServer() as server:
            self.server = server
            oauth = GoogleOAuthFake(server)
            GA4Fake(server, oauth, seed=3, start=dt.date(2026, 9, 1),
                    end=dt.date(2026, 11, 24), today=TODAY, properties=(PROPERTY,))
            oauth.write_service_account_key(tmp_path / "key.json", SA_EMAIL)
            context = dataclasses.replace(source_context, plugin="ga4")
            settings = Ga4Settings(property_id=PROPERTY, base_url=server.url,
                                   auth={"service_account_file": "key.json"},
                                   leads=["generate_lead", "form_submit"], timeout=5)
            source = Ga4Source(settings, context)
            yield source
            source.close()

    def contract_fail(self, status):
        status_name, message = _STATUSES[status]
        self.server.fail("POST", REPORTS, error_reply(status, status_name, message), times=20)
        return True

    def contract_calls(self):
        return len(self.server.calls_to(REPORTS))
