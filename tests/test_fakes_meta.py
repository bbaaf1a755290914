"""The Meta Graph API fake, exercised with real client code (``requests``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from kpireport.testing import FakeServer, Reply
from kpireport.testing.fakes import meta
from kpireport.testing.fakes.meta import MetaFake


@pytest.fixture(scope="module")
def graph() -> Iterator[MetaFake]:
    with FakeServer() as server:
        yield MetaFake(server, seed=4, now=dt.datetime(2026, 11, 30, 14, 30, tzinfo=dt.UTC))


def get(graph: MetaFake, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{graph.server.url}/v21.0/{path}",
                        params={"access_token": graph.token, **params}, timeout=10)


def fetch_all(graph: MetaFake, path: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every row, following ``paging.next`` as a client does: (rows, pages)."""
    reply = get(graph, path, **params)
    reply.raise_for_status()
    body = reply.json()
    rows, pages = list(body["data"]), 1
    while "next" in body.get("paging", {}):
        assert body["paging"]["next"].startswith(graph.server.url)
        body = requests.get(body["paging"]["next"], timeout=10).json()
        rows += body["data"]
        pages += 1
    return rows, pages


def span(since: str, until: str) -> str:
    return json.dumps({"since": since, "until": until})


def days_between(graph: MetaFake, since: dt.date, until: dt.date) -> list[meta.CampaignDay]:
    return [d for d in graph.days if since <= d.day <= until]


def test_daily_campaign_rows_page_and_are_strings(graph: MetaFake) -> None:
    rows, pages = fetch_all(graph, f"act_{graph.account_id}/insights", level="campaign",
                            time_increment=1, time_range=span("2025-05-01", "2025-05-31"),
                            fields="campaign_id,campaign_name,impressions,clicks,spend,reach",
                            limit=20)
    expected = days_between(graph, dt.date(2025, 5, 1), dt.date(2025, 5, 31))
    assert len(rows) == len(expected) and pages == -(-len(expected) // 20) > 1
    for row in rows:
        assert all(isinstance(row[k], str) for k in ("impressions", "clicks", "spend", "reach"))
        assert row["date_start"] == row["date_stop"]
    assert sum(float(r["spend"]) for r in rows) == pytest.approx(sum(d.spend for d in expected))
    assert sum(int(r["impressions"]) for r in rows) == sum(d.impressions for d in expected)
    by_key = {(d.campaign.id, d.day.isoformat()): d for d in expected}
    for row in rows:
        assert int(row["reach"]) == by_key[(row["campaign_id"], row["date_start"])].reach


def test_paging_cursors(graph: MetaFake) -> None:
    body = get(graph, f"act_{graph.account_id}/insights", time_increment=1, limit=5,
               time_range=span("2025-01-01", "2025-01-31")).json()
    assert set(body["paging"]["cursors"]) == {"before", "after"}
    second = get(graph, f"act_{graph.account_id}/insights", time_increment=1, limit=5,
                 time_range=span("2025-01-01", "2025-01-31"),
                 after=body["paging"]["cursors"]["after"]).json()
    assert second["data"][0]["date_start"] == "2025-01-06"
    last = get(graph, f"act_{graph.account_id}/insights", time_increment=1, limit=31,
               time_range=span("2025-01-01", "2025-01-31")).json()
    assert len(last["data"]) == 31 and "next" not in last["paging"]


def test_purchase_aliases_carry_the_same_count(graph: MetaFake) -> None:
    rows, _ = fetch_all(graph, f"act_{graph.account_id}/insights", time_increment="monthly",
                        time_range=span("2025-01-01", "2025-06-30"),
                        fields="spend,actions,action_values,purchase_roas", limit=100)
    assert len(rows) == 6
    for row in rows:
        low = dt.date.fromisoformat(row["date_start"])
        high = dt.date.fromisoformat(row["date_stop"])
        members = days_between(graph, low, high)
        purchases = sum(meta.default(d.purchases) for d in members)
        leads = sum(meta.default(d.leads) for d in members)
        actions = {a["action_type"]: a["value"] for a in row["actions"]}
        assert {actions[a] for a in meta.PURCHASE_ALIASES} == {str(purchases)}
        assert {actions[a] for a in meta.LEAD_ALIASES} == {str(leads)}
        values = {a["action_type"]: a["value"] for a in row["action_values"]}
        assert len(set(values.values())) == 1
        assert float(values["purchase"]) == pytest.approx(
            sum(meta.default(d.purchase_value) for d in members))


def test_attribution_windows_add_keys(graph: MetaFake) -> None:
    row = get(graph, f"act_{graph.account_id}/insights", fields="actions",
              time_range=span("2025-03-01", "2025-03-31"),
              action_attribution_windows=json.dumps(["1d_click", "7d_click", "1d_view"])
              ).json()["data"][0]
    purchase = next(a for a in row["actions"] if a["action_type"] == "purchase")
    assert set(purchase) == {"action_type", "value", "1d_click", "7d_click", "1d_view"}
    assert int(purchase["value"]) == int(purchase["7d_click"]) + int(purchase["1d_view"])


def test_reach_is_distinct_not_the_sum_of_days(graph: MetaFake) -> None:
    params = {"fields": "reach,impressions", "time_range": span("2025-04-01", "2025-04-30")}
    month = get(graph, f"act_{graph.account_id}/insights", **params).json()["data"][0]
    daily, _ = fetch_all(graph, f"act_{graph.account_id}/insights", time_increment=1,
                         limit=100, **params)
    summed = sum(int(r["reach"]) for r in daily)
    assert max(int(r["reach"]) for r in daily) < int(month["reach"]) < summed
    assert int(month["reach"]) == meta.reach(days_between(graph, dt.date(2025, 4, 1),
                                                          dt.date(2025, 4, 30)))
    assert int(month["impressions"]) == sum(int(r["impressions"]) for r in daily)


def test_async_report_run(graph: MetaFake) -> None:
    url = f"{graph.server.url}/v21.0/act_{graph.account_id}/insights"
    params = {"level": "campaign", "time_increment": "monthly", "fields": "campaign_id,spend",
              "time_range": span("2024-01-01", "2026-11-30")}
    run = requests.post(url, data={**params, "access_token": graph.token}, timeout=10).json()
    run_id = run["report_run_id"]
    statuses = []
    while True:
        status = get(graph, run_id).json()
        statuses.append((status["async_status"], status["async_percent_completion"]))
        if status["async_status"] == "Job Completed":
            break
        assert get(graph, f"{run_id}/insights").status_code == 400  # not ready yet
    assert statuses[0] == ("Job Not Started", 0) and statuses[-1] == ("Job Completed", 100)
    rows, pages = fetch_all(graph, f"{run_id}/insights", limit=50)
    assert pages > 1
    assert sum(float(r["spend"]) for r in rows) == pytest.approx(sum(d.spend for d in graph.days))


def test_large_sync_range_is_refused_but_async_works() -> None:
    with FakeServer() as server:
        graph = MetaFake(server, sync_max_days=92, async_polls=0)
        params = {"time_range": span("2025-01-01", "2025-12-31"), "fields": "spend"}
        refused = get(graph, f"act_{graph.account_id}/insights", **params)
        assert refused.status_code == 500
        assert refused.json()["error"]["code"] == 1
        run = requests.post(f"{server.url}/v21.0/act_{graph.account_id}/insights",
                            params={**params, "access_token": graph.token}, timeout=5).json()
        assert get(graph, run["report_run_id"]).json()["async_status"] == "Job Completed"
        assert get(graph, f"{run['report_run_id']}/insights").json()["data"]


def test_account_currency_and_timezone(graph: MetaFake) -> None:
    body = get(graph, f"act_{graph.account_id}", fields="currency,timezone_name").json()
    assert body == {"currency": "EUR", "timezone_name": "Europe/Paris",
                    "id": f"act_{graph.account_id}"}
    assert "x-ad-account-usage" in get(graph, f"act_{graph.account_id}").headers
    missing = get(graph, "act_42", fields="currency")
    assert missing.status_code == 400 and missing.json()["error"]["error_subcode"] == 33


def test_pixel_stats_hourly_last_seven_days(graph: MetaFake) -> None:
    rows, pages = fetch_all(graph, f"{graph.pixel_id}/stats", aggregation="event",
                            start_time="2026-11-01T00:00:00Z", end_time="2026-11-30T14:00:00Z",
                            limit=50)
    assert len(rows) == 7 * 24 and pages == 4
    assert rows[0]["start_time"] == "2026-11-30T13:00:00+0000"
    assert rows[-1]["start_time"] == "2026-11-23T14:00:00+0000"
    bucket = rows[0]
    assert bucket["aggregation"] == "event"
    counts = {e["value"]: e["count"] for e in bucket["data"]}
    assert counts == graph.pixel_counts(dt.datetime(2026, 11, 30, 13, tzinfo=dt.UTC))
    assert get(graph, f"{graph.pixel_id}/stats", aggregation="url").status_code == 400


def error_of(reply: requests.Response) -> dict[str, Any]:
    error = reply.json()["error"]
    assert error["type"] == "OAuthException" and error["fbtrace_id"] and error["message"]
    return error  # type: ignore[no-any-return]


@pytest.mark.parametrize("code", [4, 17, 613, 80000, 80001, 80002, 80003, 80004])
def test_throttling_is_400_never_429_with_usage(code: int) -> None:
    with FakeServer() as server:
        graph = MetaFake(server)
        graph.throttle(code, minutes=7)
        reply = get(graph, f"act_{graph.account_id}/insights", fields="spend")
        assert reply.status_code == 400 and "Retry-After" not in reply.headers
        error = error_of(reply)
        assert error["code"] == code and "error_subcode" in error
        usage = json.loads(reply.headers["x-business-use-case-usage"])
        assert usage[graph.account_id][0]["estimated_time_to_regain_access"] == 7
        assert json.loads(reply.headers["x-ad-account-usage"])["acc_id_util_pct"] == 100
        again = get(graph, f"act_{graph.account_id}/insights", fields="spend")
        assert again.status_code == 200
        usage = json.loads(again.headers["x-business-use-case-usage"])
        assert usage[graph.account_id][0]["estimated_time_to_regain_access"] == 0


@pytest.mark.parametrize("code", [10, 200])
def test_permission_errors(code: int) -> None:
    with FakeServer() as server:
        graph = MetaFake(server)
        graph.denied = code
        reply = get(graph, f"act_{graph.account_id}/insights")
        assert reply.status_code == 400 and error_of(reply)["code"] == code


def test_expired_token_is_190_also_with_a_bearer_header() -> None:
    with FakeServer() as server:
        graph = MetaFake(server)
        url = f"{server.url}/v21.0/act_{graph.account_id}/insights"
        headers = {"Authorization": f"Bearer {graph.token}"}
        assert requests.get(url, headers=headers, timeout=5).status_code == 200
        graph.expire_token()
        reply = requests.get(url, headers=headers, timeout=5)
        assert reply.status_code == 400
        error = error_of(reply)
        assert (error["code"], error["error_subcode"]) == (190, 463)
        wrong = requests.get(url, params={"access_token": "nope"}, timeout=5)
        assert error_of(wrong)["code"] == 190


@pytest.mark.parametrize("params", [
    {"fields": "spend,nosuchfield"},
    {"level": "adset"},
    {"time_increment": "weekly"},
    {"time_range": span("2025-02-01", "2025-01-01")},
    {"time_range": "{not json"},
])
def test_bad_parameters_are_error_100(graph: MetaFake, params: dict[str, str]) -> None:
    reply = get(graph, f"act_{graph.account_id}/insights", **params)
    assert reply.status_code == 400 and error_of(reply)["code"] == 100


def test_scripted_failures_and_latency_still_apply() -> None:
    with FakeServer(latency=0.01) as server:
        graph = MetaFake(server)
        server.fail("GET", r"/v21.0/act_\d+/insights", Reply(status=503, body={}))
        assert get(graph, f"act_{graph.account_id}/insights").status_code == 503
        assert get(graph, f"act_{graph.account_id}/insights").status_code == 200


def test_throttling_can_start_mid_report_and_a_silent_pixel_has_no_buckets() -> None:
    with FakeServer() as server:
        fake = MetaFake(server, seed=4, now=dt.datetime(2026, 11, 30, 14, 30, tzinfo=dt.UTC))
        fake.throttle(613, minutes=2, after=2)
        codes = [get(fake, f"act_{fake.account_id}", fields="currency").status_code
                 for _ in range(4)]
        assert codes == [200, 200, 400, 200]
        fake.silence_pixel(dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC),
                           dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC))
        rows, _ = fetch_all(fake, f"{fake.pixel_id}/stats", aggregation="event",
                            start_time="2026-11-30T09:00:00Z", end_time="2026-11-30T14:00:00Z")
        assert [r["start_time"][11:13] for r in rows] == ["13", "12", "09"]
