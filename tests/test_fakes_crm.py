"""The Salesforce and HubSpot fakes, exercised with real client code (``requests``)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests

from kpireport.testing import FakeServer
from kpireport.testing.fakes import salesforce as sf
from kpireport.testing.fakes.hubspot import HubSpotFake
from kpireport.testing.fakes.salesforce import SalesforceFake

# --- Salesforce -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def org() -> Iterator[SalesforceFake]:
    with FakeServer() as server:
        yield SalesforceFake(server, seed=7)


def login(org: SalesforceFake, **form: str) -> requests.Response:
    body = {"grant_type": "client_credentials", "client_id": org.consumer_key,
            "client_secret": org.client_secret, **form}
    return requests.post(f"{org.server.url}/services/oauth2/token", data=body, timeout=5)


def session(org: SalesforceFake) -> tuple[str, str]:
    reply = login(org).json()
    return reply["instance_url"], reply["access_token"]


def soql(org: SalesforceFake, q: str, token: str | None = None) -> requests.Response:
    instance, fresh = session(org) if token is None else (org.server.url, token)
    return requests.get(f"{instance}/services/data/v60.0/query", params={"q": q},
                        headers={"Authorization": f"Bearer {fresh}"}, timeout=10)


def query_all(org: SalesforceFake, q: str) -> tuple[list[dict[str, Any]], int, int]:
    """Every record of ``q`` following nextRecordsUrl: (records, totalSize, batches)."""
    instance, token = session(org)
    headers = {"Authorization": f"Bearer {token}"}
    reply = requests.get(f"{instance}/services/data/v60.0/query", params={"q": q},
                         headers=headers, timeout=10)
    reply.raise_for_status()
    body = reply.json()
    records, batches = list(body["records"]), 1
    while not body["done"]:
        body = requests.get(instance + body["nextRecordsUrl"], headers=headers, timeout=10).json()
        records += body["records"]
        batches += 1
    return records, body["totalSize"], batches


def test_client_credentials_token_has_instance_url_and_no_expires_in(org: SalesforceFake) -> None:
    reply = login(org)
    assert reply.status_code == 200
    body = reply.json()
    assert body["instance_url"] == org.server.url
    assert body["token_type"] == "Bearer" and body["issued_at"].isdigit()
    assert "expires_in" not in body and "refresh_token" not in body
    assert reply.headers["Sforce-Limit-Info"].startswith("api-usage=")
    bad = login(org, client_secret="wrong")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client"


def test_client_credentials_in_a_basic_auth_header(org: SalesforceFake) -> None:
    url = f"{org.server.url}/services/oauth2/token"
    auth = (org.consumer_key, org.client_secret)
    good = requests.post(url, data={"grant_type": "client_credentials"}, auth=auth, timeout=5)
    assert good.status_code == 200 and good.json()["access_token"]
    bad = requests.post(url, data={"grant_type": "client_credentials"},
                        auth=(org.consumer_key, "wrong"), timeout=5)
    assert bad.status_code == 400


def test_refresh_token_grant(org: SalesforceFake) -> None:
    form = {"grant_type": "refresh_token", "client_id": org.consumer_key,
            "client_secret": org.client_secret, "refresh_token": org.refresh_token}
    url = f"{org.server.url}/services/oauth2/token"
    assert "access_token" in requests.post(url, data=form, timeout=5).json()
    bad = requests.post(url, data={**form, "refresh_token": "nope"}, timeout=5)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"


def jwt_login(org: SalesforceFake, assertion: str) -> requests.Response:
    return requests.post(f"{org.server.url}/services/oauth2/token",
                         data={"grant_type": sf.JWT_GRANT, "assertion": assertion}, timeout=5)


def test_jwt_bearer_assertion_signed_by_the_client(org: SalesforceFake) -> None:
    claims = {"iss": org.consumer_key, "sub": org.username, "aud": "https://login.salesforce.com",
              "exp": str(int(time.time()) + 180)}  # simple-salesforce sends exp as a string
    good = jwt_login(org, jwt.encode(claims, org.private_key_pem, algorithm="RS256"))
    assert good.status_code == 200, good.text
    assert good.json()["instance_url"] == org.server.url
    # The certificate the fake hands out holds the key that verifies what the client signed.
    assert org.certificate_pem.startswith(b"-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize(("change", "error"), [
    ({"iss": "someone-else"}, "client identifier invalid"),
    ({"sub": "intruder@example.com"}, "user hasn't approved this consumer"),
    ({"aud": "https://evil.example.com"}, "audience is invalid"),
    ({"exp": int(time.time()) - 10}, "expired authorization code"),
])
def test_jwt_bearer_claims_are_checked(org: SalesforceFake, change: dict[str, Any],
                                       error: str) -> None:
    reply = jwt_login(org, org.assertion(**change))
    assert reply.status_code == 400 and reply.json()["error_description"] == error


def test_jwt_bearer_signed_with_another_key_is_refused(org: SalesforceFake) -> None:
    other = SalesforceFake(FakeServer(), seed=1)  # another key pair, never started
    forged = jwt.encode({"iss": org.consumer_key, "sub": org.username, "aud": "x",
                         "exp": int(time.time()) + 60}, other.private_key_pem, algorithm="RS256")
    reply = jwt_login(org, forged)
    assert reply.status_code == 400 and reply.json() == {
        "error": "invalid_grant", "error_description": "invalid assertion"}


def test_soql_pages_over_several_batches_of_2000(org: SalesforceFake) -> None:
    records, total, batches = query_all(org, "SELECT Id, Status, IsConverted, CreatedDate "
                                             "FROM Lead")
    leads = org.records("Lead")
    assert total == len(leads) == len(records) and batches == -(-len(leads) // 2000) >= 3
    assert len({r["Id"] for r in records}) == len(leads)
    first = records[0]
    assert first["attributes"]["type"] == "Lead"
    assert first["attributes"]["url"].endswith(first["Id"])
    assert isinstance(first["IsConverted"], bool)
    assert dt.datetime.strptime(first["CreatedDate"], "%Y-%m-%dT%H:%M:%S.000%z")
    assert list(first) == ["attributes", "Id", "Status", "IsConverted", "CreatedDate"]


def test_where_filters_match_an_independent_count(org: SalesforceFake) -> None:
    q = ("SELECT Id, Amount, StageName FROM Opportunity WHERE IsWon = true AND "
         "CloseDate >= 2025-03-01 AND CloseDate <= 2025-03-31 AND StageName IN ('closed won') "
         "AND Amount != null")
    records, total, _ = query_all(org, q)
    expected = [o for o in org.records("Opportunity") if o["IsWon"] and o["Amount"] is not None
                and dt.date(2025, 3, 1) <= o["CloseDate"] <= dt.date(2025, 3, 31)]  # type: ignore[operator]
    assert total == len(expected) > 0
    assert sorted(r["Id"] for r in records) == sorted(str(o["Id"]) for o in expected)
    assert all(isinstance(r["Amount"], float) for r in records)


def test_datetime_literal_on_created_date(org: SalesforceFake) -> None:
    q = ("SELECT COUNT() FROM Lead WHERE CreatedDate >= 2025-01-01T00:00:00Z "
         "AND CreatedDate < 2025-02-01T00:00:00Z")
    body = soql(org, q).json()
    expected = sum(1 for lead in org.records("Lead")
                   if lead["CreatedDate"].date().strftime("%Y-%m") == "2025-01")  # type: ignore[union-attr]
    assert body == {"totalSize": expected, "done": True, "records": []}


def test_aggregates_equal_the_records_sums(org: SalesforceFake) -> None:
    q = ("SELECT CALENDAR_YEAR(CloseDate) y, CALENDAR_MONTH(CloseDate) m, SUM(Amount) s, "
         "COUNT(Id) c FROM Opportunity WHERE IsWon = true GROUP BY CALENDAR_YEAR(CloseDate), "
         "CALENDAR_MONTH(CloseDate)")
    body = soql(org, q).json()
    assert body["done"] is True and body["totalSize"] == len(body["records"])
    expected: dict[tuple[int, int], list[float]] = {}
    for opp in org.records("Opportunity"):
        if opp["IsWon"]:
            close = opp["CloseDate"]
            assert isinstance(close, dt.date)
            bucket = expected.setdefault((close.year, close.month), [0.0, 0])
            bucket[0] += float(opp["Amount"] or 0)  # type: ignore[arg-type]
            bucket[1] += 1
    got = {(r["y"], r["m"]): [r["s"], r["c"]] for r in body["records"]}
    assert got.keys() == expected.keys()
    for key, (amount, count) in expected.items():
        assert got[key][0] == pytest.approx(amount) and got[key][1] == count
    assert body["records"][0]["attributes"] == {"type": "AggregateResult"}


def test_unaliased_aggregates_are_expr_n(org: SalesforceFake) -> None:
    body = soql(org, "SELECT LeadSource, COUNT(Id), SUM(Amount) FROM Lead GROUP BY LeadSource")
    assert body.status_code == 400  # Amount is not a Lead field
    body = soql(org, "SELECT StageName, COUNT(Id), SUM(Amount) FROM Opportunity "
                     "GROUP BY StageName").json()
    row = body["records"][0]
    assert set(row) == {"attributes", "StageName", "expr0", "expr1"}
    assert sum(r["expr0"] for r in body["records"]) == len(org.records("Opportunity"))


@pytest.mark.parametrize(("q", "code"), [
    ("SELECT Id FROM Lead ORDER BY CreatedDate", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE Status = 'Open' OR IsConverted = true", "MALFORMED_QUERY"),
    ("SELECT Id, COUNT() FROM Lead", "MALFORMED_QUERY"),
    ("SELECT Status, COUNT(Id) FROM Lead", "MALFORMED_QUERY"),
    ("SELECT Nope FROM Lead", "INVALID_FIELD"),
    ("SELECT Id FROM Opportunity WHERE CloseDate >= '2024-01-01'", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE CreatedDate >= 2024-01-01", "INVALID_FIELD"),
    ("SELECT Id FROM Contact", "INVALID_TYPE"),
    ("SELEC Id FROM Lead", "MALFORMED_QUERY"),
])
def test_outside_the_subset_is_an_error_array(org: SalesforceFake, q: str, code: str) -> None:
    reply = soql(org, q)
    assert reply.status_code == 400
    body = reply.json()
    assert isinstance(body, list) and body[0]["errorCode"] == code and body[0]["message"]
    assert reply.headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_group_by_over_2000_groups_is_refused(org: SalesforceFake) -> None:
    reply = soql(org, "SELECT Id, COUNT(Name) FROM Lead GROUP BY Id")
    assert reply.status_code == 400 and "queryMore" in reply.json()[0]["message"]


def test_token_expires_mid_paging_then_a_refresh_resumes() -> None:
    with FakeServer() as server:
        org = SalesforceFake(server, seed=2, batch_size=500, expire_after_calls=2)
        instance, token = session(org)
        headers = {"Authorization": f"Bearer {token}"}
        first = requests.get(f"{instance}/services/data/v60.0/query",
                             params={"q": "SELECT Id FROM Opportunity"}, headers=headers,
                             timeout=5).json()
        second = requests.get(instance + first["nextRecordsUrl"], headers=headers, timeout=5)
        assert second.status_code == 200
        third = requests.get(instance + second.json()["nextRecordsUrl"], headers=headers,
                             timeout=5)
        assert third.status_code == 401
        assert third.json() == [{"message": "Session expired or invalid",
                                 "errorCode": "INVALID_SESSION_ID"}]
        _, fresh = session(org)
        again = requests.get(instance + second.json()["nextRecordsUrl"],
                             headers={"Authorization": f"Bearer {fresh}"}, timeout=5)
        assert again.status_code == 200 and len(again.json()["records"]) == 500
        org.expire_tokens()
        assert soql(org, "SELECT COUNT() FROM Lead", token=fresh).status_code == 401


def test_daily_limit_is_403_with_usage_header() -> None:
    with FakeServer() as server:
        org = SalesforceFake(server, daily_limit=100, api_usage=98)
        _, token = session(org)
        ok = soql(org, "SELECT COUNT() FROM Account", token=token)
        assert ok.headers["Sforce-Limit-Info"] == "api-usage=99/100"
        assert soql(org, "SELECT COUNT() FROM Account", token=token).status_code == 200
        refused = soql(org, "SELECT COUNT() FROM Account", token=token)
        assert refused.status_code == 403
        assert refused.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
        assert refused.headers["Sforce-Limit-Info"] == "api-usage=100/100"


# --- HubSpot ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def portal() -> Iterator[HubSpotFake]:
    with FakeServer() as server:
        yield HubSpotFake(server, seed=5, searches_per_second=None)


def search(portal: HubSpotFake, obj: str, body: dict[str, Any],
           token: str | None = None) -> requests.Response:
    return requests.post(f"{portal.server.url}/crm/v3/objects/{obj}/search", json=body,
                         headers={"Authorization": f"Bearer {token or portal.token}"},
                         timeout=10)


def search_all(portal: HubSpotFake, obj: str, body: dict[str, Any]) -> tuple[list[Any], int]:
    results: list[Any] = []
    after: str | None = "0"
    pages = 0
    while after is not None:
        reply = search(portal, obj, {**body, "limit": 200, "after": after})
        reply.raise_for_status()
        page = reply.json()
        results += page["results"]
        pages += 1
        after = page.get("paging", {}).get("next", {}).get("after")
    return results, pages


def ms(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)


def created_between(rows: list[dict[str, Any]], start: dt.date, end: dt.date,
                    prop: str = "createdate") -> list[dict[str, Any]]:
    low, high = ms(start), ms(end + dt.timedelta(days=1)) - 1
    out = []
    for row in rows:
        value = row["properties"].get(prop)
        if value is not None:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if low <= moment.timestamp() * 1000 <= high:
                out.append(row)
    return out


def test_hubspot_pages_with_after_and_strings(portal: HubSpotFake) -> None:
    body = {"filterGroups": [{"filters": [
        {"propertyName": "createdate", "operator": "BETWEEN", "value": "2024-05-01T00:00:00.000Z",
         "highValue": "2024-06-30T23:59:59.999Z"}]}],
        "properties": ["lifecyclestage", "hs_lifecyclestage_customer_date", "nosuchprop"]}
    results, pages = search_all(portal, "contacts", body)
    expected = created_between(portal.contacts, dt.date(2024, 5, 1), dt.date(2024, 6, 30))
    assert sorted(r["id"] for r in results) == sorted(c["id"] for c in expected)
    assert pages == -(-len(expected) // 200) >= 2
    first = results[0]
    assert set(first) == {"id", "properties", "createdAt", "updatedAt", "archived"}
    assert all(v is None or isinstance(v, str) for v in first["properties"].values())
    assert "nosuchprop" in first["properties"] and "hs_object_id" in first["properties"]
    last = search(portal, "contacts", {**body, "limit": 200,
                                       "after": str((pages - 1) * 200)}).json()
    assert "paging" not in last and last["total"] == len(expected)


def test_hubspot_filters_or_groups_and_operators(portal: HubSpotFake) -> None:
    body = {"filterGroups": [
        {"filters": [{"propertyName": "pipeline", "operator": "EQ", "value": "default"},
                     {"propertyName": "hs_is_closed_won", "operator": "EQ", "value": "true"},
                     {"propertyName": "closedate", "operator": "GTE", "value": str(
                         ms(dt.date(2025, 1, 1)))},
                     {"propertyName": "closedate", "operator": "LT", "value": str(
                         ms(dt.date(2025, 7, 1)))}]},
        {"filters": [{"propertyName": "dealstage", "operator": "IN", "values": ["1011004"]},
                     {"propertyName": "amount", "operator": "HAS_PROPERTY"},
                     {"propertyName": "amount", "operator": "GT", "value": "5000"}]}],
        "properties": ["amount", "dealstage", "closedate", "pipeline"]}
    results, _ = search_all(portal, "deals", body)
    first_half = {d["id"] for d in created_between(portal.deals, dt.date(2025, 1, 1),
                                                   dt.date(2025, 6, 30), prop="closedate")}
    expected = {d["id"] for d in portal.deals
                if (d["properties"]["pipeline"] == "default"
                    and d["properties"]["hs_is_closed_won"] == "true" and d["id"] in first_half)
                or (d["properties"]["dealstage"] == "1011004"
                    and d["properties"]["amount"] is not None
                    and float(d["properties"]["amount"]) > 5000)}
    assert {r["id"] for r in results} == expected and expected


def test_hubspot_sorts(portal: HubSpotFake) -> None:
    reply = search(portal, "deals", {"sorts": [{"propertyName": "amount",
                                                "direction": "DESCENDING"}],
                                     "properties": ["amount"], "limit": 50}).json()
    amounts = [float(r["properties"]["amount"]) for r in reply["results"]]
    assert amounts == sorted(amounts, reverse=True) and reply["total"] == len(portal.deals)


def test_hubspot_busy_month_hits_the_10000_ceiling(portal: HubSpotFake) -> None:
    month = {"filterGroups": [{"filters": [
        {"propertyName": "createdate", "operator": "BETWEEN", "value": "2025-03-01T00:00:00.000Z",
         "highValue": "2025-03-31T23:59:59.999Z"}]}], "limit": 200}
    first = search(portal, "contacts", month).json()
    assert first["total"] > 10_000
    near = search(portal, "contacts", {**month, "after": "9800"}).json()
    assert near["paging"]["next"]["after"] == "10000" and len(near["results"]) == 200
    past = search(portal, "contacts", {**month, "after": "10000"})
    assert past.status_code == 400
    assert past.json()["category"] == "VALIDATION_ERROR" and past.json()["status"] == "error"
    # Split in halves, each under the ceiling: together they are the whole month.
    halves = [("2025-03-01T00:00:00.000Z", "2025-03-15T23:59:59.999Z"),
              ("2025-03-16T00:00:00.000Z", "2025-03-31T23:59:59.999Z")]
    ids: set[str] = set()
    for low, high in halves:
        results, _ = search_all(portal, "contacts", {"filterGroups": [{"filters": [
            {"propertyName": "createdate", "operator": "BETWEEN", "value": low,
             "highValue": high}]}]})
        ids |= {r["id"] for r in results}
    assert len(ids) == first["total"]


@pytest.mark.parametrize("body", [
    {"limit": 201},
    {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "HAS_PROPERTY"}]}] * 6},
    {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "HAS_PROPERTY"}] * 11}]},
    {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "HAS_PROPERTY"}] * 9}]
     * 3},
    {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "LIKE", "value": "1"}]}]},
])
def test_hubspot_validation_errors(portal: HubSpotFake, body: dict[str, Any]) -> None:
    reply = search(portal, "deals", body)
    assert reply.status_code == 400 and reply.json()["category"] == "VALIDATION_ERROR"


def test_hubspot_bad_token_is_401(portal: HubSpotFake) -> None:
    reply = search(portal, "contacts", {}, token="pat-na1-wrong")
    assert reply.status_code == 401
    assert reply.json()["category"] == "INVALID_AUTHENTICATION"


def test_hubspot_rate_limit_429_after_n_searches_in_a_second() -> None:
    now = [100.0]
    with FakeServer() as server:
        portal = HubSpotFake(server, seed=1, searches_per_second=3, busy_month_contacts=0,
                             clock=lambda: now[0])
        replies = [search(portal, "deals", {"limit": 1}) for _ in range(4)]
        assert [r.status_code for r in replies] == [200, 200, 200, 429]
        assert replies[2].headers["X-HubSpot-RateLimit-Secondly-Remaining"] == "0"
        assert replies[0].headers["X-HubSpot-RateLimit-Secondly"] == "3"
        assert "X-HubSpot-RateLimit-Daily-Remaining" in replies[3].headers
        body = replies[3].json()
        assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "SECONDLY"
        assert body["message"] == "You have reached your secondly limit."
        assert body["status"] == "error" and body["correlationId"]
        now[0] += 0.5
        assert search(portal, "deals", {"limit": 1}).status_code == 429
        now[0] += 0.51  # a second after the first three
        assert search(portal, "deals", {"limit": 1}).status_code == 200
        assert portal.rate_limited == 2


def test_hubspot_rate_limit_in_real_time() -> None:
    with FakeServer() as server:
        portal = HubSpotFake(server, seed=1, busy_month_contacts=0)  # the default: 5 a second
        started = time.monotonic()
        codes = [search(portal, "deals", {"limit": 1}).status_code for _ in range(6)]
        assert codes[:5] == [200] * 5
        if time.monotonic() - started < 1.0:  # a loaded machine may take longer than a second
            assert codes[5] == 429


def test_query_with_a_trailing_slash_as_simple_salesforce_sends_it(org: SalesforceFake) -> None:
    instance, token = session(org)
    reply = requests.get(f"{instance}/services/data/v60.0/query/",
                         params={"q": "SELECT COUNT() FROM Account"},
                         headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert reply.json()["totalSize"] == len(org.records("Account"))
