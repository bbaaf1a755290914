"""The fake of the test API source's remote service, on a local :class:`FakeServer`.

Data is generated from a seed: daily rows of sessions and revenue per channel, so that a test
can compute any expected figure from :func:`daily_rows` independently of the source.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from kpireport.data import (
    Aggregation,
    DateRange,
    Filter,
    Granularity,
    MetricSpec,
    Operator,
    Order,
    Query,
    aggregate_rows,
)
from kpireport.testing import Call, FakeServer, Reply

SECRET = "s3cret-client-Secret-42"
CHANNELS = ("Organic Search", "Direct", "Paid Social", "Email")
SPECS = {"sessions": MetricSpec(name="sessions", aggregation=Aggregation.SUM),
         "revenue": MetricSpec(name="revenue", aggregation=Aggregation.SUM)}


def daily_rows(seed: int = 1, start: dt.date = dt.date(2024, 1, 1),
               end: dt.date = dt.date(2026, 11, 24)) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    rows = []
    day = start
    while day <= end:
        for channel in CHANNELS:
            sessions = rnd.randint(20, 200)
            rows.append({"date": day, "channel": channel, "sessions": sessions,
                         "revenue": round(sessions * rnd.uniform(0.5, 3.0), 2)})
        day += dt.timedelta(days=1)
    return rows


class FakeApi:
    """Routes of the fake API on ``server``; ``tokens`` lists the access tokens it issued."""

    def __init__(self, server: FakeServer, *, seed: int = 1, currency: str | None = None,
                 timezone: str | None = None, quota: int = 10_000) -> None:
        self.server = server
        self.rows = daily_rows(seed)
        self.currency = currency
        self.timezone = timezone
        self.quota = quota
        self.used = 0
        self.tokens: list[str] = []
        server.route("POST", "/oauth/token", self.token)
        server.route("POST", r"/v1/accounts/[^/]+:report", self.report)

    def token(self, call: Call) -> Reply | dict[str, Any]:
        if call.form().get("client_secret") != SECRET:
            return Reply(status=400, body={"error": "invalid_client"})
        token = f"tok-{len(self.tokens) + 1}-ABCDEFGH12345678"
        self.tokens.append(token)
        return {"access_token": token, "expires_in": 3600}

    def report(self, call: Call) -> Reply | dict[str, Any]:
        if call.headers.get("Authorization") not in {f"Bearer {t}" for t in self.tokens}:
            return Reply(status=401, body={"error": {"message": "invalid token"}})
        self.used += 1
        body = call.json()
        query = Query(metrics=tuple(body["metrics"]),
                      range=DateRange(start=dt.date.fromisoformat(body["start"]),
                                      end=dt.date.fromisoformat(body["end"])),
                      dimensions=tuple(body["dimensions"]),
                      granularity=Granularity(body["granularity"]),
                      order=tuple(Order(metric=m, descending=d) for m, d in body["order"]),
                      limit=body["limit"],
                      filters=tuple(Filter(dimension=f["dimension"],
                                           operator=Operator(f["operator"]),
                                           values=tuple(f["values"]), negate=f["negate"])
                                    for f in body["filters"]))
        rows = aggregate_rows(self.rows, SPECS, query)
        out = [{k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()}
               for row in rows]
        reply: dict[str, Any] = {"rows": out}
        if self.currency:
            reply["currency"] = self.currency
        if self.timezone:
            reply["timeZone"] = self.timezone
        return Reply(body=reply, headers={"X-Quota-Used": f"{self.used}/{self.quota}"})
