"""What the ga4 tests share: a GA4 fake with a service account, and the source pointed at it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpireport import SourceContext
from kpireport.testing import FakeServer, make_context
from kpireport.testing.fakes.ga4 import GA4Fake, GA4Row
from kpireport.testing.fakes.google_oauth import GoogleOAuthFake
from kpireport_ga4 import Ga4Settings, Ga4Source

PROPERTY = "123456789"
SA_EMAIL = "reports@agency-project.iam.gserviceaccount.com"
TODAY = dt.date(2026, 11, 25)
OCTOBER = (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
REPORTS = r"/v1beta/properties/\d+:(runReport|batchRunReports)"


@dataclass
class Google:
    server: FakeServer
    oauth: GoogleOAuthFake
    ga4: GA4Fake
    tmp_path: Path

    def source(self, context: SourceContext | None = None, **settings: Any) -> Ga4Source:
        values: dict[str, Any] = {"property_id": PROPERTY,
                                  "auth": {"service_account_file": "key.json"},
                                  "base_url": self.server.url, "timeout": 5, **settings}
        return Ga4Source(Ga4Settings(**values),
                         context or make_context(self.tmp_path, plugin="ga4", today=TODAY))

    def api_calls(self) -> int:
        return len(self.server.calls_to(REPORTS))

    def rows(self, start: dt.date, end: dt.date, **dims: str) -> list[GA4Row]:
        return [r for r in self.ga4.rows_between(start, end)
                if all(r.dimension(k) == v for k, v in dims.items())]


def google_fake(tmp_path: Path, *, start: dt.date = dt.date(2026, 9, 1),
                end: dt.date = dt.date(2026, 11, 24), latency: float = 0.0,
                **knobs: Any) -> Iterator[Google]:
    with FakeServer(latency=latency) as server:
        oauth = GoogleOAuthFake(server)
        ga4 = GA4Fake(server, oauth, seed=7, start=start, end=end, today=TODAY,
                      properties=(PROPERTY,), **knobs)
        oauth.write_service_account_key(tmp_path / "key.json", SA_EMAIL)
        yield Google(server, oauth, ga4, tmp_path)


def expected_web(google: Google, start: dt.date, end: dt.date) -> dict[str, float]:
    """The built-in web KPIs over ``start``..``end`` from the fake's seeded rows: unique
    visitors the distinct ids of the range (never a sum of days), rates and averages from
    sums; leads are the ``generate_lead`` and ``form_submit`` key events, conversions
    ``sign_up`` (the tests' settings)."""
    rows = google.rows(start, end)

    def total(metric: str) -> float:
        return float(sum(r.metrics[metric] for r in rows))

    sessions = total("sessions")
    return {
        "sessions": sessions,
        "users": len(frozenset().union(*(r.users for r in rows))),
        "pageviews": total("screenPageViews"),
        "avg_session_duration": total("sessionDuration") / sessions,
        "time_on_page": total("userEngagementDuration") / total("screenPageViews"),
        "leads": sum(r.key_events["generate_lead"] + r.key_events["form_submit"] for r in rows),
        "conversion_rate": sum(r.key_events["sign_up"] for r in rows) / sessions,
        "orders": total("transactions"),
        "revenue": total("purchaseRevenue"),
    }
