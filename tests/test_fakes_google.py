"""The Google fakes (token endpoint, GA4 Data API, Search Console) against real client code:
``requests``, google-auth's service-account and authorized-user credentials and its
``AuthorizedSession``. Expected figures are computed from the fakes' generated data."""

import base64
import datetime as dt
import json
import time

import google.auth.transport.requests as gtr
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from google.auth.exceptions import RefreshError
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from kpireport.testing import FakeServer
from kpireport.testing.fakes import ga4 as ga4_module
from kpireport.testing.fakes.ga4 import ADDITIVE, GA4Fake, figures
from kpireport.testing.fakes.google_oauth import (
    ANALYTICS_SCOPE,
    JWT_BEARER,
    WEBMASTERS_SCOPE,
    GoogleOAuthFake,
    _rsa_key,
    token_error,
)
from kpireport.testing.fakes.search_console import SearchConsoleFake, totals

PROPERTY = "123456789"
RUN = f"/v1beta/properties/{PROPERTY}:runReport"
BATCH = f"/v1beta/properties/{PROPERTY}:batchRunReports"
MAY = ("2024-05-01", "2024-05-31")
SITE = "https://www.example.com/"
DOMAIN = "sc-domain:example.com"


@pytest.fixture
def server():
    with FakeServer() as running:
        yield running


@pytest.fixture
def oauth(server):
    return GoogleOAuthFake(server)


@pytest.fixture
def ga4(server, oauth):
    return GA4Fake(server, oauth, seed=7)


@pytest.fixture
def gsc(server, oauth):
    return SearchConsoleFake(server, oauth, seed=3)


def sa_credentials(oauth, tmp_path, scope=ANALYTICS_SCOPE):
    key_file = oauth.write_service_account_key(tmp_path / "sa.json")
    return service_account.Credentials.from_service_account_file(str(key_file), scopes=[scope])


@pytest.fixture
def ga4_session(oauth, tmp_path):
    return gtr.AuthorizedSession(sa_credentials(oauth, tmp_path))


@pytest.fixture
def gsc_session(oauth, tmp_path):
    return gtr.AuthorizedSession(sa_credentials(oauth, tmp_path, WEBMASTERS_SCOPE))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed_jwt(claims, key_slot=0, header=None):
    head = b64(json.dumps(header or {"alg": "RS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    signature = _rsa_key(key_slot).sign(f"{head}.{body}".encode(), padding.PKCS1v15(),
                                        hashes.SHA256())
    return f"{head}.{body}.{b64(signature)}"


def jwt_grant(server, assertion):
    return requests.post(server.url + "/token",
                         data={"grant_type": JWT_BEARER, "assertion": assertion}, timeout=5)


def claims_for(oauth, **changes):
    now = int(time.time())
    claims = {"iss": next(iter(oauth.accounts)), "scope": ANALYTICS_SCOPE,
              "aud": oauth.token_uri, "iat": now, "exp": now + 3600}
    claims.update(changes)
    return claims


# --- Token endpoint -----------------------------------------------------------------------------


def test_google_auth_service_account_exchange_gets_a_recorded_token(oauth, tmp_path):
    creds = sa_credentials(oauth, tmp_path)
    creds.refresh(gtr.Request())
    issued = oauth.tokens[creds.token]
    assert issued.scopes == {ANALYTICS_SCOPE}
    assert issued.subject == "kpireport@kpireport-test.iam.gserviceaccount.com"
    (claims,) = oauth.assertions
    assert claims["iss"] == issued.subject and claims["scope"] == ANALYTICS_SCOPE
    assert claims["exp"] - claims["iat"] <= 3600
    # google-auth signs Google's own token URL as the audience, whatever token_uri says.
    assert claims["aud"] == "https://oauth2.googleapis.com/token"
    assert oauth.forms[0]["grant_type"] == JWT_BEARER
    assert 3500 < (creds.expiry - dt.datetime.now(dt.UTC).replace(tzinfo=None)).seconds <= 3600


def test_the_token_reply_is_googles(oauth, server):
    oauth.add_service_account()
    reply = jwt_grant(server, signed_jwt(claims_for(oauth)))
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert (body["expires_in"], body["token_type"]) == (3599, "Bearer")


def test_a_jwt_signed_with_another_key_is_refused(oauth, tmp_path):
    info = oauth.service_account_info()
    info["private_key"] = _rsa_key(1).private_bytes(  # another key, same account and key id
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode("ascii")
    creds = service_account.Credentials.from_service_account_info(info, scopes=[ANALYTICS_SCOPE])
    with pytest.raises(RefreshError, match="invalid_grant: Invalid JWT Signature"):
        creds.refresh(gtr.Request())
    assert oauth.tokens == {}


@pytest.mark.parametrize("changes, description", [
    ({"exp_offset": 3601}, "short-lived token"),
    ({"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, "short-lived token"),
    ({"aud": "https://example.com/token"}, "audience"),
    ({"iss": "stranger@nowhere.iam.gserviceaccount.com"}, "account not found"),
    ({"scope": ""}, "Invalid OAuth scope"),
])
def test_bad_claims_are_an_invalid_grant(oauth, server, changes, description):
    oauth.add_service_account()
    changes = dict(changes)
    if "exp_offset" in changes:
        claims = claims_for(oauth)
        claims["exp"] = claims["iat"] + changes.pop("exp_offset")
    else:
        claims = claims_for(oauth, **changes)
    reply = jwt_grant(server, signed_jwt(claims))
    assert reply.status_code == 400
    assert reply.json()["error"] in {"invalid_grant", "invalid_scope"}
    assert description in reply.json()["error_description"]


def test_a_malformed_assertion_and_an_unknown_grant_are_400(oauth, server):
    assert jwt_grant(server, "not-a-jwt").json() == {
        "error": "invalid_grant", "error_description": "Invalid JWT: malformed."}
    reply = requests.post(oauth.token_uri, data={"grant_type": "password"}, timeout=5)
    assert (reply.status_code, reply.json()["error"]) == (400, "unsupported_grant_type")


def test_the_refresh_grant_with_google_auth_credentials(oauth):
    info = oauth.authorized_user_info(scopes=(WEBMASTERS_SCOPE,))
    creds = user_credentials.Credentials(
        None, refresh_token=info["refresh_token"], client_id=info["client_id"],
        client_secret=info["client_secret"], token_uri=info["token_uri"])
    creds.refresh(gtr.Request())
    assert oauth.tokens[creds.token].scopes == {WEBMASTERS_SCOPE}
    assert creds.refresh_token == info["refresh_token"]  # no new one: the old is kept
    form = oauth.forms[0]
    assert form["grant_type"] == "refresh_token"
    assert form["client_secret"] == info["client_secret"]


def test_a_revoked_refresh_token_and_a_wrong_secret(oauth):
    info = oauth.authorized_user_info()

    def creds(secret=info["client_secret"]):
        return user_credentials.Credentials(
            None, refresh_token=info["refresh_token"], client_id=info["client_id"],
            client_secret=secret, token_uri=info["token_uri"])

    with pytest.raises(RefreshError, match="invalid_client"):
        creds("wrong").refresh(gtr.Request())
    oauth.revoke_refresh_token(info["refresh_token"])
    with pytest.raises(RefreshError, match="Token has been expired or revoked"):
        creds().refresh(gtr.Request())
    reply = requests.post(oauth.token_uri, timeout=5, data={
        "grant_type": "refresh_token", "client_id": info["client_id"],
        "client_secret": info["client_secret"], "refresh_token": info["refresh_token"]})
    assert (reply.status_code, reply.json()) == (400, {
        "error": "invalid_grant", "error_description": "Token has been expired or revoked."})


def test_a_scripted_token_failure(oauth, server, tmp_path):
    server.fail("POST", "/token", token_error("invalid_grant", "account disabled"))
    with pytest.raises(RefreshError, match="account disabled"):
        sa_credentials(oauth, tmp_path).refresh(gtr.Request())


# --- GA4 ----------------------------------------------------------------------------------------


def report(session, server, body, path=RUN):
    reply = session.post(server.url + path, json=body, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def may(**extra):
    return {"dateRanges": [{"startDate": MAY[0], "endDate": MAY[1]}], **extra}


def rows_of(ga4, start=MAY[0], end=MAY[1]):
    return ga4.rows_between(dt.date.fromisoformat(start), dt.date.fromisoformat(end))


def metric_names(*names):
    return [{"name": n} for n in names]


def test_ga4_values_are_strings_and_headers_typed(ga4, server, ga4_session):
    body = report(ga4_session, server, may(
        dimensions=[{"name": "date"}],
        metrics=metric_names("sessions", "averageSessionDuration", "engagementRate",
                             "purchaseRevenue", "userEngagementDuration")))
    assert body["kind"] == "analyticsData#runReport"
    assert [h["type"] for h in body["metricHeaders"]] == [
        "TYPE_INTEGER", "TYPE_SECONDS", "TYPE_FLOAT", "TYPE_CURRENCY", "TYPE_SECONDS"]
    assert body["rowCount"] == 31 == len(body["rows"])
    for row in body["rows"]:
        assert all(isinstance(v["value"], str) for v in row["metricValues"])
        (date,) = row["dimensionValues"]
        assert len(date["value"]) == 8 and dt.datetime.strptime(date["value"], "%Y%m%d")
    assert body["metadata"] == {"currencyCode": "EUR", "timeZone": "Europe/Paris"}
    assert "propertyQuota" not in body and "totals" not in body


def test_ga4_month_distinct_users_are_not_the_sum_of_days(ga4, server, ga4_session):
    users = metric_names("totalUsers", "activeUsers")
    month = report(ga4_session, server, may(metrics=users))
    days = report(ga4_session, server, may(dimensions=[{"name": "date"}], metrics=users))
    total_users = int(month["rows"][0]["metricValues"][0]["value"])
    summed = sum(int(r["metricValues"][0]["value"]) for r in days["rows"])
    rows = rows_of(ga4)
    assert total_users == len(set().union(*(r.users for r in rows)))
    assert int(month["rows"][0]["metricValues"][1]["value"]) == len(
        set().union(*(r.active_users for r in rows)))
    assert total_users < summed


def test_ga4_month_total_equals_the_sum_of_daily_rows_for_additive_metrics(
        ga4, server, ga4_session):
    additive = [m for m in ADDITIVE if m != "engagedSessions"] + ["engagedSessions"]
    month = report(ga4_session, server, may(metrics=metric_names(*additive),
                                            metricAggregations=["TOTAL"]))
    days = report(ga4_session, server, may(dimensions=[{"name": "date"}],
                                           metrics=metric_names(*additive)))
    expected = figures(rows_of(ga4))
    for i, name in enumerate(additive):
        monthly = float(month["rows"][0]["metricValues"][i]["value"])
        daily = sum(float(r["metricValues"][i]["value"]) for r in days["rows"])
        assert monthly == pytest.approx(daily) == pytest.approx(expected[name])
        assert float(month["totals"][0]["metricValues"][i]["value"]) == pytest.approx(monthly)
    assert month["totals"][0]["dimensionValues"] == []


def test_ga4_averages_and_rates_are_weighted(ga4, server, ga4_session):
    body = report(ga4_session, server, may(
        metrics=metric_names("averageSessionDuration", "engagementRate")))
    rows = rows_of(ga4)
    sessions = sum(r.metrics["sessions"] for r in rows)
    duration = sum(r.metrics["sessionDuration"] for r in rows)
    engaged = sum(r.metrics["engagedSessions"] for r in rows)
    values = [float(v["value"]) for v in body["rows"][0]["metricValues"]]
    assert values == pytest.approx([duration / sessions, engaged / sessions])


def test_ga4_paging_with_limit_and_offset(ga4, server, ga4_session):
    query = may(dimensions=[{"name": "date"}, {"name": "deviceCategory"}],
                metrics=metric_names("sessions"),
                orderBys=[{"dimension": {"dimensionName": "date"}},
                          {"dimension": {"dimensionName": "deviceCategory"}}])
    full = report(ga4_session, server, query)
    pages, offset = [], 0
    while True:
        page = report(ga4_session, server, {**query, "limit": "25", "offset": str(offset)})
        assert page["rowCount"] == full["rowCount"]
        pages += page["rows"]
        offset += 25
        if offset >= page["rowCount"]:
            break
    assert len(pages) == full["rowCount"] == len(full["rows"]) > 50
    assert pages == full["rows"]
    # The fake's own log: the server's may lag a reply the client already has.
    assert len(ga4.reports) == 1 + -(-full["rowCount"] // 25)
    past = report(ga4_session, server, {**query, "offset": full["rowCount"]})
    assert "rows" not in past and past["rowCount"] == full["rowCount"]


def test_ga4_no_data_means_no_rows_and_no_row_count(ga4, server, ga4_session):
    body = report(ga4_session, server, {
        "dateRanges": [{"startDate": "2023-01-01", "endDate": "2023-01-31"}],
        "dimensions": [{"name": "date"}], "metrics": metric_names("sessions")})
    assert "rows" not in body and "rowCount" not in body
    assert body["metricHeaders"] == [{"name": "sessions", "type": "TYPE_INTEGER"}]


def test_ga4_dimension_filters(ga4, server, ga4_session):
    def sessions(expression):
        body = report(ga4_session, server, may(metrics=metric_names("sessions"),
                                               dimensionFilter=expression))
        return int(body["rows"][0]["metricValues"][0]["value"]) if "rows" in body else 0

    def expected(keep):
        return sum(r.metrics["sessions"] for r in rows_of(ga4) if keep(r))

    def string(field, match, value):
        return {"filter": {"fieldName": field,
                           "stringFilter": {"matchType": match, "value": value}}}

    assert sessions(string("sessionDefaultChannelGroup", "EXACT", "Organic Search")) == \
        expected(lambda r: r.channel == "Organic Search")
    assert sessions(string("pagePath", "CONTAINS", "blog")) == \
        expected(lambda r: "blog" in r.page)
    assert sessions(string("pagePath", "FULL_REGEXP", "/(pricing|checkout)")) == \
        expected(lambda r: r.page in ("/pricing", "/checkout"))
    in_list = {"filter": {"fieldName": "country",
                          "inListFilter": {"values": ["Germany", "France"]}}}
    assert sessions(in_list) == expected(lambda r: r.country in ("Germany", "France"))
    assert sessions({"andGroup": {"expressions": [
        in_list, {"notExpression": string("deviceCategory", "EXACT", "mobile")}]}}) == \
        expected(lambda r: r.country in ("Germany", "France") and r.device != "mobile")
    assert sessions(string("country", "EXACT", "Atlantis")) == 0


def test_ga4_order_bys_and_aggregations(ga4, server, ga4_session):
    body = report(ga4_session, server, may(
        dimensions=[{"name": "sessionDefaultChannelGroup"}],
        metrics=metric_names("sessions", "totalUsers"),
        orderBys=[{"metric": {"metricName": "sessions"}, "desc": False}],
        metricAggregations=["TOTAL", "MAXIMUM", "MINIMUM"]))
    sessions = [int(r["metricValues"][0]["value"]) for r in body["rows"]]
    assert sessions == sorted(sessions)
    assert body["maximums"][0]["metricValues"][0]["value"] == str(max(sessions))
    assert body["minimums"][0]["metricValues"][0]["value"] == str(min(sessions))
    assert body["totals"][0]["dimensionValues"] == [{"value": "RESERVED_TOTAL"}]
    # The total of users is the month's distinct users, below the sum of the channels' users.
    channel_users = sum(int(r["metricValues"][1]["value"]) for r in body["rows"])
    total_users = int(body["totals"][0]["metricValues"][1]["value"])
    assert total_users == len(set().union(*(r.users for r in rows_of(ga4)))) < channel_users


def test_ga4_several_named_date_ranges(ga4, server, ga4_session):
    body = report(ga4_session, server, {
        "dateRanges": [{"startDate": MAY[0], "endDate": MAY[1], "name": "may"},
                       {"startDate": "2024-04-01", "endDate": "2024-04-30"}],
        "metrics": metric_names("sessions")})
    assert body["dimensionHeaders"] == [{"name": "dateRange"}]
    got = {r["dimensionValues"][0]["value"]: int(r["metricValues"][0]["value"])
           for r in body["rows"]}
    april = sum(r.metrics["sessions"] for r in rows_of(ga4, "2024-04-01", "2024-04-30"))
    assert got == {"may": figures(rows_of(ga4))["sessions"], "date_range_1": april}
    too_many = {"dateRanges": [{"startDate": MAY[0], "endDate": MAY[1]}] * 5,
                "metrics": metric_names("sessions")}
    reply = ga4_session.post(server.url + RUN, json=too_many, timeout=5)
    assert (reply.status_code, reply.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")


def test_ga4_metadata_knobs_other_row_sampling_thresholding(server, oauth, ga4_session):
    ga4 = GA4Fake(server, oauth, seed=7, cardinality=10, sampling=0.25, thresholding=True,
                  currency="USD", timezone="America/New_York")
    body = report(ga4_session, server, may(
        dimensions=[{"name": "pagePath"}, {"name": "country"}],
        metrics=metric_names("sessions"), metricAggregations=["TOTAL"]))
    values = [tuple(v["value"] for v in r["dimensionValues"]) for r in body["rows"]]
    assert ("(other)", "(other)") in values and body["rowCount"] == 10
    assert sum(int(r["metricValues"][0]["value"]) for r in body["rows"]) == \
        figures(rows_of(ga4))["sessions"] == int(body["totals"][0]["metricValues"][0]["value"])
    meta = body["metadata"]
    assert meta["dataLossFromOtherRow"] is True and meta["subjectToThresholding"] is True
    assert (meta["currencyCode"], meta["timeZone"]) == ("USD", "America/New_York")
    (sampling,) = meta["samplingMetadatas"]
    assert int(sampling["samplesReadCount"]) < int(sampling["samplingSpaceSize"])


def test_ga4_property_quota_is_consumed(server, oauth, ga4_session):
    GA4Fake(server, oauth, tokens_per_day=35, tokens_per_request=10)
    quotas = [report(ga4_session, server, may(metrics=metric_names("sessions"),
                                              returnPropertyQuota=True))["propertyQuota"]
              for _ in range(3)]
    assert [q["tokensPerDay"] for q in quotas] == [
        {"consumed": 10, "remaining": 25}, {"consumed": 10, "remaining": 15},
        {"consumed": 10, "remaining": 5}]
    assert set(quotas[0]) == {"tokensPerDay", "tokensPerHour", "concurrentRequests",
                              "serverErrorsPerProjectPerHour",
                              "potentiallyThresholdedRequestsPerHour", "tokensPerProjectPerHour"}
    report(ga4_session, server, may(metrics=metric_names("sessions")))
    reply = ga4_session.post(server.url + RUN, json=may(metrics=metric_names("sessions")))
    assert reply.status_code == 429
    error = reply.json()["error"]
    assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")
    assert "Exhausted property tokens per day" in error["message"]


def test_ga4_batch_run_reports_in_order(ga4, server, ga4_session):
    requests_ = [may(metrics=metric_names("sessions")),
                 may(metrics=metric_names("totalUsers"), returnPropertyQuota=True),
                 may(dimensions=[{"name": "deviceCategory"}], metrics=metric_names("newUsers"))]
    body = report(ga4_session, server, {"requests": requests_}, BATCH)
    assert body["kind"] == "analyticsData#batchRunReports"
    assert [r["metricHeaders"][0]["name"] for r in body["reports"]] == [
        "sessions", "totalUsers", "newUsers"]
    assert ["propertyQuota" in r for r in body["reports"]] == [False, True, False]
    assert "propertyQuota" not in body
    expected = figures(rows_of(ga4))
    assert int(body["reports"][0]["rows"][0]["metricValues"][0]["value"]) == expected["sessions"]
    assert int(body["reports"][1]["rows"][0]["metricValues"][0]["value"]) == \
        expected["totalUsers"]
    reply = ga4_session.post(server.url + BATCH, json={"requests": requests_ * 2}, timeout=5)
    assert (reply.status_code, reply.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")


@pytest.mark.parametrize("code, status", [(500, "INTERNAL"), (503, "UNAVAILABLE"),
                                          (429, "RESOURCE_EXHAUSTED")])
def test_ga4_scripted_errors_in_googles_shape(ga4, server, ga4_session, code, status):
    ga4.fail(code)
    reply = ga4_session.post(server.url + RUN, json=may(metrics=metric_names("sessions")))
    assert reply.status_code == code
    assert set(reply.json()["error"]) == {"code", "message", "status"}
    assert reply.json()["error"]["status"] == status
    assert ga4_session.post(server.url + RUN,
                            json=may(metrics=metric_names("sessions"))).status_code == 200


def test_ga4_errors_400_401_403(ga4, server, oauth, ga4_session):
    def error(reply):
        return reply.status_code, reply.json()["error"]["status"]

    bad = ga4_session.post(server.url + RUN, json=may(metrics=metric_names("bounces")))
    assert error(bad) == (400, "INVALID_ARGUMENT")
    assert "bounces is not a valid metric" in bad.json()["error"]["message"]
    other = ga4_session.post(server.url + "/v1beta/properties/999:runReport",
                             json=may(metrics=metric_names("sessions")))
    assert error(other) == (403, "PERMISSION_DENIED")
    anonymous = requests.post(server.url + RUN, json=may(metrics=metric_names("sessions")),
                              timeout=5)
    assert error(anonymous) == (401, "UNAUTHENTICATED")
    webmasters_only = oauth.issue_access_token((WEBMASTERS_SCOPE,))
    scoped = requests.post(server.url + RUN, json=may(metrics=metric_names("sessions")),
                           headers={"Authorization": f"Bearer {webmasters_only}"}, timeout=5)
    assert error(scoped) == (403, "PERMISSION_DENIED")


def test_a_revoked_or_expired_token_is_401_and_google_auth_refreshes(ga4, server, oauth,
                                                                     ga4_session):
    query = may(metrics=metric_names("sessions"))
    report(ga4_session, server, query)
    first = ga4_session.credentials.token
    oauth.revoke(first)
    plain = requests.post(server.url + RUN, json=query, timeout=5,
                          headers={"Authorization": f"Bearer {first}"})
    assert plain.status_code == 401
    assert plain.json()["error"]["status"] == "UNAUTHENTICATED"
    # AuthorizedSession refreshes on 401 and retries once: a new token works.
    report(ga4_session, server, query)
    second = ga4_session.credentials.token
    assert second != first and len(oauth.forms) == 2
    oauth.expire(second)
    expired = requests.post(server.url + RUN, json=query, timeout=5,
                            headers={"Authorization": f"Bearer {second}"})
    assert expired.status_code == 401


def test_ga4_data_is_the_seeds():
    assert ga4_module.generate(5)[:50] == ga4_module.generate(5)[:50]
    assert ga4_module.generate(5)[:50] != ga4_module.generate(6)[:50]


# --- Search Console -----------------------------------------------------------------------------


def gsc_query(session, server, gsc, body, site=SITE):
    reply = session.post(server.url + gsc.path(site), json=body, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


DEC = {"startDate": "2024-12-01", "endDate": "2024-12-31"}


def gsc_rows(gsc, start="2024-12-01", end="2024-12-31", kind="web", site=SITE):
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return [r for r in gsc.rows[site] if r.type == kind and first <= r.date <= last]


def test_gsc_totals_ctr_and_position_are_aggregated(gsc, server, gsc_session):
    body = gsc_query(gsc_session, server, gsc, DEC)
    (row,) = body["rows"]
    expected = totals(gsc_rows(gsc))
    assert row["keys"] == []
    assert isinstance(row["clicks"], int) and isinstance(row["ctr"], float)
    assert row["clicks"] == expected["clicks"] and row["impressions"] == expected["impressions"]
    assert row["ctr"] == pytest.approx(row["clicks"] / row["impressions"])
    assert row["position"] == pytest.approx(expected["position"])
    assert body["responseAggregationType"] == "byProperty"
    by_date = gsc_query(gsc_session, server, gsc, {**DEC, "dimensions": ["date"]})
    assert sum(r["clicks"] for r in by_date["rows"]) == row["clicks"]
    weighted = sum(r["position"] * r["impressions"] for r in by_date["rows"])
    assert weighted / row["impressions"] == pytest.approx(row["position"])


def test_gsc_days_without_data_are_omitted_and_dates_sorted(server, oauth, gsc_session):
    gsc = SearchConsoleFake(server, oauth, seed=3, gaps=40)
    body = gsc_query(gsc_session, server, gsc, {
        "startDate": "2024-01-01", "endDate": "2024-12-31", "dimensions": ["date"],
        "rowLimit": 25000})
    dates = [r["keys"][0] for r in body["rows"]]
    assert dates == sorted(dates)
    with_data = {r.date.isoformat() for r in gsc_rows(gsc, "2024-01-01", "2024-12-31")}
    assert set(dates) == with_data and 366 - 40 <= len(dates) < 366


def test_gsc_privacy_hidden_queries(gsc, server, gsc_session):
    total = gsc_query(gsc_session, server, gsc, DEC)["rows"][0]
    queries = gsc_query(gsc_session, server, gsc, {**DEC, "dimensions": ["query"]})["rows"]
    clicks = [r["clicks"] for r in queries]
    assert clicks == sorted(clicks, reverse=True)
    hidden = sum(r.clicks for r in gsc_rows(gsc) if r.query is None)
    assert hidden > 0 and sum(clicks) == total["clicks"] - hidden
    pages = gsc_query(gsc_session, server, gsc, {**DEC, "dimensions": ["page"]})
    assert sum(r["clicks"] for r in pages["rows"]) == total["clicks"]
    assert pages["responseAggregationType"] == "byPage"


def test_gsc_paging_until_an_empty_page(gsc, server, gsc_session):
    query = {**DEC, "dimensions": ["date", "query", "device"]}
    full = gsc_query(gsc_session, server, gsc, {**query, "rowLimit": 25000})["rows"]
    pages, start = [], 0
    while True:
        page = gsc_query(gsc_session, server, gsc, {**query, "rowLimit": 100, "startRow": start})
        if not page.get("rows"):
            break
        pages += page["rows"]
        start += 100
    assert pages == full and len(full) > 200
    assert len(gsc.requests) == 2 + -(-len(full) // 100)


def test_gsc_sites_url_prefix_domain_and_unencoded(gsc, server, gsc_session):
    prefix = gsc_query(gsc_session, server, gsc, DEC)
    domain = gsc_query(gsc_session, server, gsc, DEC, site=DOMAIN)
    assert prefix["rows"][0]["clicks"] > 0 and domain["rows"][0]["clicks"] > 0
    raw = gsc_session.post(server.url + f"/webmasters/v3/sites/{SITE}/searchAnalytics/query",
                           json=DEC, timeout=5)
    assert raw.status_code == 404
    # Read after a later call: on this branch the server logs a call once its reply is sent.
    assert server.calls_to(r"/webmasters/v3/sites/sc-domain%3Aexample\.com/.*")
    assert server.calls_to(r"/webmasters/v3/sites/https%3A%2F%2Fwww\.example\.com%2F/.*")


def test_gsc_data_state_and_first_incomplete_date(gsc, server, gsc_session):
    recent = {"startDate": "2024-12-25", "endDate": "2025-01-02", "dimensions": ["date"]}
    final = gsc_query(gsc_session, server, gsc, recent)
    fresh = gsc_query(gsc_session, server, gsc, {**recent, "dataState": "all"})
    last_final = max(r["keys"][0] for r in final["rows"])
    assert last_final < "2025-01-01" and "metadata" not in final
    assert fresh["metadata"] == {"firstIncompleteDate": "2025-01-01"}
    gsc.metadata_key = "first_incomplete_date"
    snake = gsc_query(gsc_session, server, gsc, {**recent, "dataState": "all"})
    assert snake["metadata"] == {"first_incomplete_date": "2025-01-01"}
    old = gsc_query(gsc_session, server, gsc, {**recent, "endDate": "2024-12-30",
                                                "dataState": "all"})
    assert "metadata" not in old  # no incomplete day in the range
    assert {r["keys"][0] for r in fresh["rows"]} - {r["keys"][0] for r in final["rows"]} \
        <= {"2025-01-01", "2025-01-02"}
    assert max(r["keys"][0] for r in fresh["rows"]) == "2025-01-02"


def test_gsc_filters_and_search_types(gsc, server, gsc_session):
    def clicks(body):
        rows = gsc_query(gsc_session, server, gsc, {**DEC, **body}).get("rows", [])
        return sum(r["clicks"] for r in rows)

    usa = {"dimensionFilterGroups": [{"filters": [
        {"dimension": "country", "operator": "equals", "expression": "USA"}]}]}
    assert clicks(usa) == sum(r.clicks for r in gsc_rows(gsc) if r.country == "usa")
    both = {"dimensionFilterGroups": [{"groupType": "and", "filters": [
        {"dimension": "query", "operator": "contains", "expression": "kpi"},
        {"dimension": "page", "operator": "excludingRegex", "expression": "/blog/"}]}]}
    assert clicks(both) == sum(r.clicks for r in gsc_rows(gsc) if r.query and "kpi" in r.query
                               and "/blog/" not in r.page)
    assert clicks({"type": "image"}) == sum(r.clicks for r in gsc_rows(gsc, kind="image"))
    assert clicks({"searchType": "image"}) == clicks({"type": "image"})
    news = gsc_query(gsc_session, server, gsc, {**DEC, "type": "news"})
    assert "rows" not in news


def test_gsc_errors_in_the_older_shape(gsc, server, oauth, gsc_session):
    def error(reply):
        body = reply.json()["error"]
        assert set(body) == {"errors", "code", "message"} and body["code"] == reply.status_code
        return reply.status_code, body["errors"][0]["reason"], body["message"]

    denied = gsc_session.post(server.url + gsc.path("https://stranger.example/"), json=DEC)
    assert error(denied) == (403, "forbidden", "User does not have sufficient permission for "
                             "site 'https://stranger.example/'. See also: "
                             "https://support.google.com/webmasters/answer/2451999.")
    anonymous = requests.post(server.url + gsc.path(SITE), json=DEC, timeout=5)
    assert error(anonymous)[:2] == (401, "authError")
    analytics_only = oauth.issue_access_token((ANALYTICS_SCOPE,))
    scoped = requests.post(server.url + gsc.path(SITE), json=DEC, timeout=5,
                           headers={"Authorization": f"Bearer {analytics_only}"})
    assert error(scoped)[0] == 403
    too_many = gsc_session.post(server.url + gsc.path(SITE), json={**DEC, "rowLimit": 25001})
    assert error(too_many)[0] == 400
    by_property = gsc_session.post(server.url + gsc.path(SITE), json={
        **DEC, "dimensions": ["page"], "aggregationType": "byProperty"})
    assert error(by_property)[0] == 400
    for code in (500, 503):
        gsc.fail(code)
        assert error(gsc_session.post(server.url + gsc.path(SITE), json=DEC))[0] == code


def test_gsc_rate_limit_per_site(server, oauth, gsc_session):
    gsc = SearchConsoleFake(server, oauth, queries_per_minute=2)
    for _ in range(2):
        gsc_query(gsc_session, server, gsc, DEC)
    limited = gsc_session.post(server.url + gsc.path(SITE), json=DEC, timeout=5)
    assert limited.status_code == 429
    assert limited.json() == {"error": {"errors": [{
        "domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}],
        "code": 429, "message": "Rate Limit Exceeded"}}
    # Another site has its own budget.
    assert gsc_session.post(server.url + gsc.path(DOMAIN), json=DEC).status_code == 200


def test_gsc_revoked_token_is_401(gsc, server, oauth):
    token = oauth.issue_access_token((WEBMASTERS_SCOPE,))
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.post(server.url + gsc.path(SITE), json=DEC, headers=headers,
                         timeout=5).status_code == 200
    oauth.revoke(token)
    reply = requests.post(server.url + gsc.path(SITE), json=DEC, headers=headers, timeout=5)
    assert reply.status_code == 401
    assert reply.json()["error"]["errors"][0]["reason"] == "authError"


def test_fakes_with_latency(server, oauth):
    server.latency = 0.05
    ga4 = GA4Fake(server, oauth)
    token = oauth.issue_access_token()
    started = time.monotonic()
    reply = requests.post(server.url + RUN, json=may(metrics=metric_names("sessions")),
                          headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert reply.status_code == 200 and time.monotonic() - started >= 0.05
    assert ga4.reports[-1]["metrics"] == [{"name": "sessions"}]


def test_ga4_scripted_batch_failure_with_retry_after(ga4, server, ga4_session):
    ga4.fail(429, batch=True, headers={"Retry-After": "7"},
             message="Exhausted concurrent requests quota.")
    body = {"requests": [may(metrics=metric_names("sessions"))]}
    limited = ga4_session.post(server.url + BATCH, json=body, timeout=5)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "7")
    assert limited.json()["error"]["message"] == "Exhausted concurrent requests quota."
    assert report(ga4_session, server, body, BATCH)["reports"][0]["rowCount"] == 1


def test_ga4_concurrent_requests_past_the_quota_are_429(server, oauth):
    from concurrent.futures import ThreadPoolExecutor

    ga4 = GA4Fake(server, oauth, concurrent_requests=2, work=0.4)
    token = oauth.issue_access_token()

    def ask(_):
        return requests.post(server.url + RUN, json=may(metrics=metric_names("sessions")),
                             headers={"Authorization": f"Bearer {token}"}, timeout=10)

    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(ask, range(4)))
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [200, 200, 429, 429] and ga4.most_in_flight >= 3
    refused = next(r for r in replies if r.status_code == 429).json()["error"]
    assert (refused["status"], refused["message"]) == (
        "RESOURCE_EXHAUSTED", "Exhausted concurrent requests quota.")
    assert ask(0).status_code == 200 and ga4.in_flight == 0
