"""The source contract's suite (kpireport.testing.SourceContract), run on the hubspot source
against the HubSpot fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kpireport import SourceContext
from kpireport.testing import FakeServer, Reply, SourceContract
from kpireport.testing.fakes.hubspot import HubSpotFake
from kpireport_hubspot.settings import HubSpotSettings
from kpireport_hubspot.source import HubSpotSource


class TestHubSpotContract(SourceContract):
    @pytest.fixture
    def contract_source(self, source_context: SourceContext) -> Iterator[HubSpotSource]:
        with FakeServer() as server:
            self.server = server
            # No busy month: the suite asks October 2026, and the portal is made per test.
            portal = HubSpotFake(server, seed=11, searches_per_second=None,
                                 busy_month_contacts=0)
            settings = HubSpotSettings(token=portal.token, base_url=server.url,
                                       searches_per_second=50)
            source_context.plugin = "hubspot"
            source = HubSpotSource(settings, source_context)
            yield source
            source.close()

    def contract_fail(self, status: int) -> bool:
        body: dict[str, Any] = {"status": "error", "message": "scripted",
                                "correlationId": "c"}
        self.server.fail("POST", r"/crm/v3/objects/\w+/search", Reply(status=status, body=body),
                         times=10)
        return True

    def contract_calls(self) -> int:
        return len(self.server.calls)
