"""The search_console source against the kit's Search Console fake, on 127.0.0.1: real
``requests``, real google-auth token exchanges (service-account JWT, refresh grant), real
retries. Expected figures come from the fake's seeded rows (tests/search_console_data.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from search_console_data import DOMAIN, OCT, SITE, TODAY, figures, grouped, select

from kpireport import (
    AuthenticationError,
    DateRange,
    Filter,
    Granularity,
    NoteKind,
    Order,
    PermissionDenied,
    Query,
    QuotaExhausted,
    SourceError,
    TransientError,
)
from kpireport.testing import FakeServer, Reply, make_context
from kpireport.testing.fakes.google_oauth import WEBMASTERS_SCOPE, GoogleOAuthFake
from kpireport.testing.fakes.search_console import SearchConsoleFake
from kpireport_google.accounts import ConnectedAccount, save_account
from kpireport_search_console import SearchConsoleSettings, SearchConsoleSource

pytestmark = pytest.mark.usefixtures("only_localhost")

SA_EMAIL = "seo-reports@agency-project.iam.gserviceaccount.com"
METRICS = ("clicks", "impressions", "ctr", "position")
OCTOBER = DateRange(start=OCT[0], end=OCT[1])
COUNTRY_NAMES = {"usa": "United States", "deu": "Germany", "fra": "France",
                 "gbr": "United Kingdom", "jpn": "Japan", "esp": "Spain"}
"""The fake's country codes, as the Countries table of Search Console names them."""
CALLS = r"/webmasters/v3/sites/[^/]+/searchAnalytics/query"
START = dt.date(2026, 1, 1)
"""The fake's first day: these tests read 2026 only (fewer rows to generate)."""


@pytest.fixture
def server():
    with FakeServer() as fake:
        yield fake


@pytest.fixture
def oauth(server):
    return GoogleOAuthFake(server)


@pytest.fixture
def gsc(server, oauth):
    return SearchConsoleFake(server, oauth, seed=11, start=START, today=TODAY)


@pytest.fixture
def key(tmp_path, oauth):
    return oauth.write_service_account_key(tmp_path / "key.json", SA_EMAIL)


def source(server, tmp_path, *, site: str = SITE, **settings: Any) -> SearchConsoleSource:
    context = make_context(tmp_path, name="seo", plugin="search_console",
                           label="Search Console")
    values: dict[str, Any] = {"site": site, "auth": {"service_account_file": "key.json"},
                              "base_url": server.url, "timeout": 5, **settings}
    return SearchConsoleSource(SearchConsoleSettings(**values), context)


def calls(server) -> list[dict[str, Any]]:
    return [c.json() for c in server.calls_to(CALLS)]


def web(gsc, site: str = SITE, start: dt.date = OCT[0], end: dt.date = OCT[1], **kw: Any):
    return select(gsc.rows[site], start, end, **kw)


# --- Figures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("site", [SITE, DOMAIN])
def test_a_total_is_the_performance_reports_figures(server, gsc, key, tmp_path, site):
    src = source(server, tmp_path, site=site)
    table = src.fetch(Query(metrics=METRICS, range=OCTOBER))
    [row] = table.rows
    assert row == pytest.approx(figures(web(gsc, site)))
    assert table.timezone == "America/Los_Angeles"  # Search Console's days: Pacific time
    assert table.notes == []  # October is final on 2026-11-25
    [call] = server.calls_to(CALLS)
    assert call.path == SearchConsoleFake.path(site)  # the site URL-encoded, ':' and '/' too
    assert "%3A" in call.path and ":" not in call.path
    assert call.json() == {"startDate": "2026-10-01", "endDate": "2026-10-31",
                           "dimensions": [], "type": "web", "dataState": "all",
                           "rowLimit": 25000, "startRow": 0}
    assert oauth_scope(server) == WEBMASTERS_SCOPE


def oauth_scope(server) -> str:
    [token_call] = server.calls_to("/token")
    claims = token_call.form()["assertion"].split(".")[1]
    import base64

    return json.loads(base64.urlsafe_b64decode(claims + "==="))["scope"]


def test_a_url_prefix_without_its_slash_is_the_property_with_it(server, gsc, key, tmp_path):
    src = source(server, tmp_path, site="https://www.example.com")
    assert src.settings.site == SITE
    assert src.fetch(Query(metrics=("clicks",), range=OCTOBER)).value("clicks") == \
        figures(web(gsc))["clicks"]


@pytest.mark.parametrize("kind", ["image", "video"])
def test_the_search_type_is_asked_and_its_figures_given(server, gsc, key, tmp_path, kind):
    src = source(server, tmp_path, search_type=kind)
    table = src.fetch(Query(metrics=("clicks", "impressions"), range=OCTOBER))
    expected = figures(web(gsc, kind=kind))
    assert table.rows == [{"clicks": expected["clicks"],
                           "impressions": expected["impressions"]}]
    assert {c["type"] for c in calls(server)} == {kind}
    assert expected["impressions"] != figures(web(gsc))["impressions"]


def test_days_and_months_are_summed_from_google_days_ctr_and_position_from_sums(
        server, gsc, key, tmp_path):
    src = source(server, tmp_path)
    days = Query(metrics=METRICS, range=OCTOBER, granularity=Granularity.DAY)
    months = Query(metrics=METRICS, granularity=Granularity.MONTH,
                   range=DateRange(start=dt.date(2026, 6, 1), end=dt.date(2026, 10, 31)))
    answers = src.fetch_many([days, months])

    by_day = grouped(web(gsc), lambda r: r.date)
    assert [r["date"] for r in answers[days].rows] == sorted(by_day)  # days without data absent
    for row in answers[days].rows:
        assert {m: row[m] for m in METRICS} == pytest.approx(by_day[row["date"]])
    by_month = grouped(web(gsc, start=dt.date(2026, 6, 1)), lambda r: r.date.replace(day=1))
    assert [r["month"] for r in answers[months].rows] == [dt.date(2026, m, 1)
                                                          for m in range(6, 11)]
    for row in answers[months].rows:
        assert {m: row[m] for m in METRICS} == pytest.approx(by_month[row["month"]])
    # The five months (October shared by both queries) asked in one call, grouped by date.
    [call] = calls(server)
    assert (call["startDate"], call["endDate"], call["dimensions"]) == (
        "2026-06-01", "2026-10-31", ["date"])


def test_final_months_are_cached_one_by_one_next_month_asks_only_the_new_one(
        server, gsc, key, tmp_path):
    series = Query(metrics=("clicks",), granularity=Granularity.MONTH,
                   range=DateRange(start=dt.date(2026, 6, 1), end=dt.date(2026, 9, 30)))
    source(server, tmp_path).fetch(series)
    assert len(calls(server)) == 1
    # A re-render (a new source on the same state folder) asks nothing.
    again = source(server, tmp_path).fetch(series)
    assert len(calls(server)) == 1
    assert [r["clicks"] for r in again.rows] == [
        figures(web(gsc, start=a, end=b))["clicks"]
        for a, b in [(dt.date(2026, m, 1), dt.date(2026, m + 1, 1) - dt.timedelta(days=1))
                     for m in range(6, 10)]]
    # Next month's series, one month later: only October is asked.
    later = dataclasses.replace(series, range=DateRange(start=dt.date(2026, 7, 1),
                                                        end=dt.date(2026, 10, 31)))
    table = source(server, tmp_path).fetch(later)
    assert len(calls(server)) == 2
    assert (calls(server)[-1]["startDate"], calls(server)[-1]["endDate"]) == (
        "2026-10-01", "2026-10-31")
    assert table.rows[-1] == {"month": dt.date(2026, 10, 1),
                              "clicks": figures(web(gsc))["clicks"]}


def test_rows_are_paged_with_start_row_until_a_short_page(server, gsc, key, tmp_path):
    src = source(server, tmp_path, row_limit=7)
    table = src.fetch(Query(metrics=("clicks", "impressions"), range=OCTOBER,
                            dimensions=("query", "device")))
    expected = grouped(web(gsc, keep=lambda r: r.query is not None),
                       lambda r: (r.query, r.device.capitalize()))
    assert len(expected) > 14  # more than two pages
    assert {(r["query"], r["device"]): (r["clicks"], r["impressions"]) for r in table.rows} \
        == {k: (v["clicks"], v["impressions"]) for k, v in expected.items()}
    pages = [c for c in calls(server) if c["dimensions"] == ["query", "device"]]
    assert [c["startRow"] for c in pages] == list(range(0, 7 * len(pages), 7))
    assert all(c["rowLimit"] == 7 for c in pages)
    assert len(pages) == len(expected) // 7 + 1


def test_top_pages_by_clicks_then_impressions(server, gsc, key, tmp_path):
    src = source(server, tmp_path)
    order = (Order(metric="clicks"), Order(metric="impressions"))
    table = src.fetch(Query(metrics=("clicks", "impressions", "ctr", "position"),
                            range=OCTOBER, dimensions=("page",), order=order, limit=3))
    expected = grouped(web(gsc), lambda r: r.page)
    ranked = sorted(expected, key=lambda p: (-expected[p]["clicks"],
                                             -expected[p]["impressions"]))[:3]
    assert [r["page"] for r in table.rows] == ranked
    for row in table.rows:
        assert {m: row[m] for m in METRICS} == pytest.approx(expected[row["page"]])
    # A lowest-first order is Google's rows sorted here, not Google's first rows.
    lowest = src.fetch(Query(metrics=("position",), range=OCTOBER, dimensions=("page",),
                             order=(Order(metric="position", descending=False),), limit=2))
    by_position = sorted(expected, key=lambda p: expected[p]["position"])[:2]
    assert [r["page"] for r in lowest.rows] == by_position


def test_devices_and_countries_read_as_the_performance_report_names_them(
        server, gsc, key, tmp_path):
    src = source(server, tmp_path)
    by_device = src.fetch(Query(metrics=("clicks",), range=OCTOBER, dimensions=("device",)))
    expected = grouped(web(gsc), lambda r: r.device)
    assert {r["device"]: r["clicks"] for r in by_device.rows} == {
        d.capitalize(): v["clicks"] for d, v in expected.items()}
    assert {r["device"] for r in by_device.rows} <= {"Desktop", "Mobile", "Tablet"}
    by_country = src.fetch(Query(metrics=("clicks",), range=OCTOBER,
                                 dimensions=("country",)))
    countries = grouped(web(gsc), lambda r: r.country)
    assert {r["country"]: r["clicks"] for r in by_country.rows} == {
        COUNTRY_NAMES[c]: v["clicks"] for c, v in countries.items()}


# --- Filters -----------------------------------------------------------------------------------


def brand(row) -> bool:
    return row.query is not None and "kpi" in row.query.lower()


def test_branded_and_non_branded_clicks_through_filters(server, gsc, key, tmp_path):
    src = source(server, tmp_path)
    branded = Query(metrics=("clicks",), range=OCTOBER,
                    filters=(Filter(dimension="query", operator="contains", values=("KPI",)),))
    other = Query(metrics=("clicks",), range=OCTOBER,
                  filters=(Filter(dimension="query", operator="contains", values=("KPI",),
                                  negate=True),))
    answers = src.fetch_many([branded, other])
    assert answers[branded].value("clicks") == figures(web(gsc, keep=brand))["clicks"]
    shown_other = web(gsc, keep=lambda r: r.query is not None and not brand(r))
    assert answers[other].value("clicks") == figures(shown_other)["clicks"]
    filters = [c.get("dimensionFilterGroups") for c in calls(server)]
    assert [{"groupType": "and", "filters": [
        {"dimension": "query", "operator": "contains", "expression": "KPI"}]}] in filters
    assert [{"groupType": "and", "filters": [
        {"dimension": "query", "operator": "notContains", "expression": "KPI"}]}] in filters
    # Hidden searches belong to neither: each figure says so, with their share of the clicks.
    hidden = figures(web(gsc, keep=lambda r: r.query is None))["clicks"]
    total = figures(web(gsc))["clicks"]
    for table in answers.values():
        [note] = table.notes
        assert note.kind is NoteKind.OTHER and note.metrics == ("clicks",)
        assert f"{hidden / total:.0%} of clicks ({hidden:,.0f} of {total:,.0f})" in note.message
        assert "searches Google shows" in note.message
        assert dict(note.translations)["fr"].startswith("Search Console : ce chiffre")


@pytest.mark.parametrize(("flt", "keep", "operator"), [
    (Filter(dimension="country", operator="in", values=("usa", "DEU")),
     lambda r: r.country in ("usa", "deu"), "includingRegex"),
    (Filter(dimension="country", operator="equals", values=("Germany",)),
     lambda r: r.country == "deu", "includingRegex"),
    (Filter(dimension="country", operator="contains", values=("united",), negate=True),
     lambda r: r.country not in ("usa", "gbr"), "excludingRegex"),
    (Filter(dimension="device", operator="equals", values=("mobile",), negate=True),
     lambda r: r.device != "MOBILE", "notEquals"),
    (Filter(dimension="page", operator="regex", values=(r"/blog/",)),
     lambda r: "/blog/" in r.page, "includingRegex"),
    (Filter(dimension="page", operator="contains", values=("pricing",)),
     lambda r: "pricing" in r.page, "contains"),
])
def test_each_filter_operator_reaches_google(server, gsc, key, tmp_path, flt, keep, operator):
    src = source(server, tmp_path)
    table = src.fetch(Query(metrics=("clicks", "impressions"), range=OCTOBER, filters=(flt,)))
    expected = figures(web(gsc, keep=keep))
    assert table.rows == [{"clicks": expected["clicks"], "impressions": expected["impressions"]}]
    [call] = calls(server)
    [sent] = call["dimensionFilterGroups"][0]["filters"]
    assert (sent["dimension"], sent["operator"]) == (flt.dimension, operator)


def test_in_and_regex_filters_ignore_case_as_the_contract_says(server, gsc, key, tmp_path):
    src = source(server, tmp_path)
    table = src.fetch(Query(metrics=("clicks",), range=OCTOBER, filters=(
        Filter(dimension="page", operator="regex", values=("/BLOG/",)),)))
    assert table.value("clicks") == figures(web(gsc, keep=lambda r: "/blog/" in r.page))[
        "clicks"]
    [call] = calls(server)
    assert call["dimensionFilterGroups"][0]["filters"][0]["expression"] == "(?i)/BLOG/"


def test_a_case_sensitive_filter_is_refused_naming_it(server, gsc, key, tmp_path):
    src = source(server, tmp_path)
    query = Query(metrics=("clicks",), range=OCTOBER, filters=(
        Filter(dimension="query", operator="equals", values=("KPI",), case_sensitive=True),))
    with pytest.raises(SourceError, match=r"without regard to case.*case_sensitive"):
        src.fetch(query)
    assert not calls(server)


def test_the_query_table_notes_the_share_of_hidden_searches(server, gsc, key, tmp_path):
    src = source(server, tmp_path)
    table = src.fetch(Query(metrics=("clicks",), range=OCTOBER, dimensions=("query",),
                            order=(Order(metric="clicks"),), limit=5))
    shown = grouped(web(gsc, keep=lambda r: r.query is not None), lambda r: r.query)
    assert [r["query"] for r in table.rows] == sorted(
        shown, key=lambda q: (-shown[q]["clicks"], -shown[q]["impressions"]))[:5]
    hidden = figures(web(gsc, keep=lambda r: r.query is None))["clicks"]
    total = figures(web(gsc))["clicks"]
    assert 0 < hidden < total
    [note] = table.notes
    assert note.kind is NoteKind.OTHER and note.source == "seo"
    assert note.message == (
        f"Search Console: {hidden / total:.0%} of clicks ({hidden:,.0f} of {total:,.0f}) came "
        "from searches Google does not show, to protect searchers' privacy: they count in "
        "the totals, not in this table")


# --- Data not final yet ------------------------------------------------------------------------


@pytest.mark.parametrize("metadata_key", ["firstIncompleteDate", "first_incomplete_date"])
def test_incomplete_days_are_noted_and_never_cached(server, oauth, key, tmp_path,
                                                    metadata_key):
    gsc = SearchConsoleFake(server, oauth, seed=11, start=START, today=TODAY,
                            metadata_key=metadata_key)
    november = Query(metrics=("clicks",), range=DateRange(start=dt.date(2026, 11, 1),
                                                          end=dt.date(2026, 11, 24)))
    table = source(server, tmp_path).fetch(november)
    assert table.value("clicks") == figures(web(gsc, start=dt.date(2026, 11, 1),
                                                end=dt.date(2026, 11, 24)))["clicks"]
    [note] = table.notes
    assert note.kind is NoteKind.INCOMPLETE
    assert note.dates == (dt.date(2026, 11, 23), dt.date(2026, 11, 24))
    assert gsc.first_incomplete_date == dt.date(2026, 11, 23)
    asked = len(calls(server))
    # Within the hour a re-render reuses the answer; a later run asks again.
    source(server, tmp_path).fetch(november)
    assert len(calls(server)) == asked
    later = make_context(tmp_path, name="seo", plugin="search_console")
    later.cache.clock = lambda: 1e12  # hours later
    src = source(server, tmp_path)
    src.context = later
    src.fetch(november)
    assert len(calls(server)) > asked


def test_with_no_incomplete_day_the_last_days_are_final_and_cached(server, oauth, key,
                                                                    tmp_path):
    gsc = SearchConsoleFake(server, oauth, seed=11, start=START, today=TODAY, fresh_days=0)
    november = Query(metrics=("clicks",), range=DateRange(start=dt.date(2026, 11, 1),
                                                          end=dt.date(2026, 11, 24)))
    table = source(server, tmp_path).fetch(november)
    assert table.notes == []  # Google gave no first_incomplete_date: nothing to note
    assert table.value("clicks") == figures(web(gsc, start=dt.date(2026, 11, 1),
                                                end=dt.date(2026, 11, 24)))["clicks"]
    asked = len(calls(server))
    assert asked == 2  # which days are final, then November
    later = make_context(tmp_path, name="seo", plugin="search_console")
    later.cache.clock = lambda: 1e12  # hours later: the freshness answer has expired…
    src = source(server, tmp_path)
    src.context = later
    src.fetch(november)
    assert len(calls(server)) == asked + 1  # …November itself is final, from the cache


def test_data_state_final_leaves_the_last_days_out_and_says_so(server, gsc, key, tmp_path):
    november = Query(metrics=("clicks",), range=DateRange(start=dt.date(2026, 11, 1),
                                                          end=dt.date(2026, 11, 24)))
    table = source(server, tmp_path, data_state="final").fetch(november)
    assert table.value("clicks") == figures(web(gsc, start=dt.date(2026, 11, 1),
                                                end=dt.date(2026, 11, 22)))["clicks"]
    [note] = table.notes
    assert note.kind is NoteKind.INCOMPLETE and "left out (data_state: final)" in note.message
    assert note.dates == (dt.date(2026, 11, 23), dt.date(2026, 11, 24))
    report_calls = [c for c in calls(server) if c.get("startRow") is not None]
    assert {c["dataState"] for c in report_calls} == {"final"}


def test_a_past_month_asks_nothing_about_freshness(server, gsc, key, tmp_path):
    source(server, tmp_path).fetch(Query(metrics=("clicks",), range=OCTOBER))
    assert len(calls(server)) == 1  # no first_incomplete_date needed: October is long final


# --- Errors ------------------------------------------------------------------------------------


def test_a_site_the_service_account_cannot_read_names_the_site_and_the_email(
        server, gsc, key, tmp_path):
    src = source(server, tmp_path, site="https://shop.example.org/")
    with pytest.raises(PermissionDenied) as raised:
        src.fetch(Query(metrics=("clicks",), range=OCTOBER))
    message = str(raised.value)
    assert "Search Console site https://shop.example.org/" in message
    assert f"add {SA_EMAIL} as a user" in message
    assert "User does not have sufficient permission" in message


def test_a_fatal_error_stops_the_source_for_the_report(server, gsc, key, tmp_path):
    src = source(server, tmp_path, site="sc-domain:other.example")
    queries = [Query(metrics=("clicks",), range=DateRange(start=dt.date(2026, m, 1),
                                                          end=dt.date(2026, m, 28)))
               for m in range(1, 11)]
    answers = src.fetch_many(queries)
    assert all(isinstance(a, PermissionDenied) for a in answers.values())
    # The first call goes alone: its refusal stops the other nine before they start.
    assert len(calls(server)) == 1
    src.fetch_many(queries[:1])
    assert len(calls(server)) == 1


def test_a_bad_request_is_a_source_error_with_googles_message(server, gsc, key, tmp_path):
    gsc.fail(400, message="Invalid dimension filter expression.")
    with pytest.raises(SourceError) as raised:
        source(server, tmp_path).fetch(Query(metrics=("clicks",), range=OCTOBER))
    assert type(raised.value) is SourceError and not raised.value.fatal
    assert "Invalid dimension filter expression." in str(raised.value)


def test_an_expired_token_mid_report_is_renewed_once(server, oauth, gsc, key, tmp_path):
    src = source(server, tmp_path)
    src.fetch(Query(metrics=("clicks",), range=OCTOBER))
    [first] = list(oauth.tokens)
    oauth.expire(first)
    table = src.fetch(Query(metrics=("clicks",), range=DateRange(start=dt.date(2026, 9, 1),
                                                                 end=dt.date(2026, 9, 30))))
    assert table.value("clicks") == figures(web(gsc, start=dt.date(2026, 9, 1),
                                                end=dt.date(2026, 9, 30)))["clicks"]
    assert len(server.calls_to("/token")) == 2
    statuses = [c.headers["Authorization"] for c in server.calls_to(CALLS)]
    assert statuses[-2] == statuses[0] == f"Bearer {first}" != statuses[-1]


def test_a_token_google_keeps_refusing_is_an_authentication_error(server, oauth, gsc, key,
                                                                  tmp_path):
    gsc.fail(401, times=5)
    with pytest.raises(AuthenticationError) as raised:
        source(server, tmp_path).fetch(Query(metrics=("clicks",), range=OCTOBER))
    assert "Invalid Credentials" in str(raised.value)
    assert len(calls(server)) == 2  # one new token, then no more
    for token in oauth.tokens:
        assert token not in str(raised.value)


def test_a_connected_google_account_reads_the_site(server, oauth, gsc, tmp_path):
    src = source(server, tmp_path, auth={"account": "agency"})
    info = oauth.authorized_user_info(scopes=(WEBMASTERS_SCOPE,))
    assert src.context.state_root is not None
    save_account(src.context.state_root, ConnectedAccount(
        name="agency", client_id=info["client_id"], client_secret=info["client_secret"],
        refresh_token=info["refresh_token"], token_uri=info["token_uri"],
        scopes=(WEBMASTERS_SCOPE,), email="seo@agency.example"))
    assert src.fetch(Query(metrics=("clicks",), range=OCTOBER)).value("clicks") == \
        figures(web(gsc))["clicks"]
    assert oauth.forms[-1]["grant_type"] == "refresh_token"


def test_rate_limits_are_retried_then_the_quota_stops_the_source(server, gsc, key, tmp_path):
    gsc.fail(429, times=2)
    src = source(server, tmp_path)
    assert src.fetch(Query(metrics=("clicks",), range=OCTOBER)).value("clicks") == \
        figures(web(gsc))["clicks"]
    assert len(calls(server)) == 3

    gsc.fail(429, times=100)
    queries = [Query(metrics=("clicks",), range=DateRange(start=dt.date(2026, m, 1),
                                                          end=dt.date(2026, m, 28)))
               for m in range(1, 9)]
    before = len(calls(server))
    answers = source(server, tmp_path).fetch_many(queries)
    assert all(isinstance(a, QuotaExhausted) for a in answers.values())
    assert "Rate Limit Exceeded" in str(answers[queries[0]])
    assert len(calls(server)) - before == 4  # one query's tries; the others never asked


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried_then_transient(server, gsc, key, tmp_path, status):
    gsc.fail(status, times=2)
    src = source(server, tmp_path)
    assert src.fetch(Query(metrics=("clicks",), range=OCTOBER)).value("clicks") == \
        figures(web(gsc))["clicks"]
    gsc.fail(status, times=50)
    with pytest.raises(TransientError, match="Backend Error"):
        src.fetch(Query(metrics=("clicks",), range=DateRange(start=dt.date(2026, 9, 1),
                                                             end=dt.date(2026, 9, 30))))


def test_a_hanging_api_times_out(server, gsc, key, tmp_path):
    server.fail("POST", CALLS, Reply(hang=True), times=10)
    src = source(server, tmp_path, timeout=0.1)
    with pytest.raises(TransientError, match=r"did not answer within 0\.1 s"):
        src.fetch(Query(metrics=("clicks",), range=OCTOBER))


def test_no_secret_reaches_an_error(server, oauth, gsc, key, tmp_path):
    src = source(server, tmp_path)
    src.fetch(Query(metrics=("clicks",), range=OCTOBER))
    [token] = list(oauth.tokens)
    server.fail("POST", CALLS, Reply(status=400, body={"error": {
        "code": 400, "message": f"bad token Bearer {token}"}}), times=1)
    with pytest.raises(SourceError) as raised:
        src.fetch(Query(metrics=("clicks",), range=DateRange(start=dt.date(2026, 9, 1),
                                                             end=dt.date(2026, 9, 30))))
    from kpireport.secrets import redact

    assert token not in redact(str(raised.value))


# --- Concurrency, settings ---------------------------------------------------------------------


def test_a_reports_calls_run_concurrently(server, gsc, key, tmp_path):
    server.latency = 0.05
    src = source(server, tmp_path)
    queries = [Query(metrics=("clicks",), range=DateRange(start=dt.date(2026, m, 1),
                                                          end=dt.date(2026, m, 27)))
               for m in range(1, 11)]
    answers = src.fetch_many(queries)
    for query in queries:
        table = answers[query]
        assert not isinstance(table, SourceError)
        assert table.value("clicks") == figures(web(gsc, start=query.range.start,
                                                    end=query.range.end))["clicks"]
    assert server.max_concurrency(CALLS) > 1


def test_metrics_and_capabilities_need_no_settings():
    metrics = SearchConsoleSource.metrics()
    assert list(metrics) == list(METRICS)
    assert metrics["ctr"].numerator == "clicks" and metrics["ctr"].denominator == "impressions"
    assert metrics["position"].weight == "impressions"
    assert SearchConsoleSource.capabilities().dimensions == ("query", "page", "country",
                                                               "device")


@pytest.mark.parametrize(("settings", "wanted"), [
    ({"site": "example.com"}, "expected a URL prefix such as https://www.example.com/"),
    ({"site": "sc-domain:https://example.com/"}, "expected sc-domain:example.com"),
    ({"search_type": "shopping"}, "search_type"),
    ({"data_state": "fresh"}, "data_state"),
    ({"row_limit": 30000}, "row_limit"),
    ({"auth": {}}, "give exactly one of service_account_file"),
    ({"sites": "x"}, "Extra inputs are not permitted"),
])
def test_bad_settings_are_refused_naming_the_field(settings, wanted):
    values = {"site": SITE, "auth": {"service_account_file": "key.json"}, **settings}
    with pytest.raises(ValidationError, match=wanted):
        SearchConsoleSettings(**values)


def test_check_names_a_missing_key_file(tmp_path):
    src = SearchConsoleSource(SearchConsoleSettings(
        site=SITE, auth={"service_account_file": "missing.json"}),
        make_context(tmp_path, plugin="search_console"))
    [problem] = src.check()
    assert "auth.service_account_file" in problem and str(Path("missing.json")) in problem


def test_probe_is_one_small_call(server, gsc, key, tmp_path):
    src = source(server, tmp_path)
    src.probe()
    [call] = calls(server)
    assert call["dimensions"] == ["date"] and call["rowLimit"] <= 10
    with pytest.raises(PermissionDenied):
        source(server, tmp_path, site="sc-domain:nope.example").probe()


def test_when_freshness_cannot_be_asked_only_the_recent_figures_fail(server, gsc, key,
                                                                     tmp_path):
    gsc.fail(503, times=5)  # the first call (which days are final) and its four retries
    recent = Query(metrics=("clicks",), range=DateRange(start=dt.date(2026, 11, 1),
                                                        end=dt.date(2026, 11, 24)))
    september = Query(metrics=("clicks",), range=DateRange(start=dt.date(2026, 9, 1),
                                                           end=dt.date(2026, 9, 30)))
    answers = source(server, tmp_path).fetch_many([recent, september])
    assert isinstance(answers[recent], TransientError)
    assert answers[september].value("clicks") == figures(web(
        gsc, start=dt.date(2026, 9, 1), end=dt.date(2026, 9, 30)))["clicks"]
