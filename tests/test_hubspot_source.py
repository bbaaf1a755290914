"""The hubspot source against the HubSpot fake: its figures, the requests it sends, its errors.

Expected figures come from the fake's raw records (``hubspot_expected``), never from the
source's code. One portal serves the module (its data takes half a second to make); each test
counts the calls it caused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hubspot_expected import Expected, local_day
from pydantic import ValidationError

from kpireport import (
    AuthenticationError,
    DateRange,
    Filter,
    Granularity,
    Operator,
    Order,
    PermissionDenied,
    Query,
    QuotaExhausted,
    SourceError,
    TransientError,
)
from kpireport.testing import FakeServer, Reply, make_context
from kpireport.testing.fakes.hubspot import HubSpotFake
from kpireport_hubspot.events import METRIC_NAMES
from kpireport_hubspot.settings import HubSpotSettings
from kpireport_hubspot.source import HubSpotSource

pytestmark = pytest.mark.usefixtures("only_localhost")

OCT = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
BUSY = DateRange(start=dt.date(2025, 3, 1), end=dt.date(2025, 3, 31))
SEARCH = r"/crm/v3/objects/\w+/search"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def portal(server: FakeServer) -> HubSpotFake:
    return HubSpotFake(server, seed=3, searches_per_second=None, currency="EUR")


@pytest.fixture(autouse=True)
def _fresh_calls(server: FakeServer) -> Iterator[None]:
    server.calls.clear()
    yield
    server.calls.clear()


@pytest.fixture
def make(tmp_path: Path, server: FakeServer, portal: HubSpotFake) -> Any:
    def build(timezone: str = "Europe/London", token: str | None = None,
              **settings: Any) -> HubSpotSource:
        context = make_context(tmp_path, plugin="hubspot", timezone=timezone)
        values = {"token": token or portal.token, "base_url": server.url,
                  "searches_per_second": 50, **settings}
        return HubSpotSource(HubSpotSettings(**values), context)
    return build


def searches(server: FakeServer) -> list[dict[str, Any]]:
    return [c.json() for c in server.calls_to(SEARCH)]


def between(body: dict[str, Any]) -> dict[str, Any]:
    [flt] = [f for f in body["filterGroups"][0]["filters"] if f["operator"] == "BETWEEN"]
    return flt


# --- Figures ----------------------------------------------------------------------------------


def test_every_metric_over_a_month_equals_the_records(make: Any, portal: HubSpotFake) -> None:
    table = make().fetch(Query(metrics=METRIC_NAMES, range=OCT))
    [row] = table.rows
    expected = Expected(portal).all(OCT)
    assert expected["won_deals"] and expected["lost_deals"] and expected["new_customers"]
    assert row == pytest.approx(expected)
    assert table.currency == "EUR"


@pytest.mark.parametrize("timezone", ["Europe/London", "America/New_York", "Asia/Tokyo"])
def test_days_are_the_clients_days(make: Any, portal: HubSpotFake, timezone: str) -> None:
    metrics = ("leads", "won_deals", "won_revenue", "sales_cycle_days", "qualified_leads")
    table = make(timezone=timezone).fetch(Query(metrics=metrics, range=OCT,
                                                granularity=Granularity.DAY))
    expected = Expected(portal, timezone)
    by_day = {r["date"]: r for r in table.rows}
    for day in OCT.iter_days():
        one = DateRange(start=day, end=day)
        won = expected.won(one)
        want = {"leads": expected.leads(one), "won_deals": len(won),
                "won_revenue": expected.amount_of(won),
                "sales_cycle_days": expected.cycle_days(won),
                "qualified_leads": expected.qualified_leads(one)}
        got = by_day.get(day, dict.fromkeys(metrics, 0.0) | {"sales_cycle_days": None})
        assert {m: got[m] for m in metrics} == pytest.approx(want), day
    # The searches' bounds are the client's midnights: October 1st's and November 1st's.
    tz = Expected(portal, timezone).tz
    start, end = (int(dt.datetime.combine(day, dt.time(0), tzinfo=tz).timestamp() * 1000)
                  for day in (OCT.start, dt.date(2026, 11, 1)))
    bounds = {(between(b)["value"], between(b)["highValue"]) for b in searches(portal.server)}
    assert bounds == {(str(start), str(end - 1))}


def test_sales_cycle_is_a_mean_weighted_by_won_deals(make: Any, portal: HubSpotFake) -> None:
    quarter = DateRange(start=dt.date(2026, 7, 1), end=dt.date(2026, 9, 30))
    table = make().fetch(Query(metrics=("sales_cycle_days", "won_deals"), range=quarter,
                               granularity=Granularity.MONTH))
    expected = Expected(portal)
    [total] = make().fetch(Query(metrics=("sales_cycle_days",), range=quarter)).rows
    assert total["sales_cycle_days"] == pytest.approx(expected.cycle_days(expected.won(quarter)))
    months = [r["sales_cycle_days"] for r in table.rows]
    # The mean of the quarter's deals, not the mean of its three months' means.
    assert total["sales_cycle_days"] != pytest.approx(sum(months) / len(months))
    assert [r["month"] for r in table.rows] == [dt.date(2026, m, 1) for m in (7, 8, 9)]


def test_a_month_of_counts_is_one_search_for_its_total(make: Any, portal: HubSpotFake,
                                                       server: FakeServer) -> None:
    year = DateRange(start=dt.date(2025, 1, 1), end=dt.date(2025, 6, 30))
    table = make().fetch(Query(metrics=("leads", "new_customers", "lead_conversion_rate"),
                               range=year, granularity=Granularity.MONTH))
    expected = Expected(portal)
    months = [DateRange(start=dt.date(2025, m, 1),
                        end=dt.date(2025, m + 1, 1) - dt.timedelta(days=1)) for m in range(1, 7)]
    assert [r["leads"] for r in table.rows] == [expected.leads(m) for m in months]
    assert expected.leads(BUSY) > 10_000  # March: beyond what a search can page through
    assert [r["lead_conversion_rate"] for r in table.rows] == pytest.approx(
        [expected.new_customers(m) / expected.leads(m) for m in months])
    bodies = searches(server)
    assert len(bodies) == 12 and all(b["limit"] == 1 for b in bodies)  # 6 months × 2 objects


def test_a_month_over_10000_results_is_split_until_each_part_fits(
        make: Any, portal: HubSpotFake, server: FakeServer) -> None:
    table = make().fetch(Query(metrics=("leads",), range=BUSY, granularity=Granularity.DAY))
    expected = Expected(portal)
    assert sum(r["leads"] for r in table.rows) == expected.leads(BUSY) > 10_000
    for row in table.rows:
        assert row["leads"] == expected.leads(DateRange(start=row["date"], end=row["date"]))
    bodies = searches(server)
    assert all(int(b.get("after", 0)) < 10_000 for b in bodies)  # never the 400
    parts = {(between(b)["value"], between(b)["highValue"]) for b in bodies}
    assert len(parts) >= 3  # the month, then its halves
    assert all(b["limit"] == 200 for b in bodies)


# --- Pipelines, stages and what counts as what ------------------------------------------------


def test_split_by_pipeline_in_the_portals_labels(make: Any, portal: HubSpotFake) -> None:
    table = make().fetch(Query(metrics=("won_deals", "won_revenue", "opportunities"),
                               range=OCT, dimensions=("pipeline",)))
    expected = Expected(portal)
    rows = {r["pipeline"]: r for r in table.rows}
    assert set(rows) == {"Sales Pipeline", "Renewals"}
    for label, pid in (("Sales Pipeline", "default"), ("Renewals", "renewals")):
        won = expected.won(OCT, pid)
        assert rows[label]["won_deals"] == len(won)
        assert rows[label]["won_revenue"] == pytest.approx(expected.amount_of(won))
        assert rows[label]["opportunities"] == len(expected.created(OCT, pid))


def test_a_stage_filter_and_the_top_n(make: Any, portal: HubSpotFake) -> None:
    closed_won = Filter(dimension="stage", operator=Operator.EQUALS, values=("Closed Won",))
    [row] = make().fetch(Query(metrics=("won_deals",), range=OCT, filters=(closed_won,))).rows
    assert row["won_deals"] == len(Expected(portal).won(OCT, "default"))
    top = make().fetch(Query(metrics=("opportunities",), range=OCT, dimensions=("stage",),
                             order=(Order(metric="opportunities"),), limit=3)).rows
    counts: dict[str, int] = {}
    for deal in Expected(portal).created(OCT):
        counts[deal["dealstage"]] = counts.get(deal["dealstage"], 0) + 1
    assert len(top) == 3
    assert [r["opportunities"] for r in top] == sorted(counts.values(), reverse=True)[:3]


def test_only_the_pipelines_the_settings_name(make: Any, portal: HubSpotFake,
                                              server: FakeServer) -> None:
    [row] = make(pipelines=["renewals"]).fetch(
        Query(metrics=("won_deals", "opportunities"), range=OCT)).rows
    expected = Expected(portal)
    assert row["won_deals"] == len(expected.won(OCT, "renewals"))
    assert row["opportunities"] == len(expected.created(OCT, "renewals"))
    assert all({"propertyName": "pipeline", "operator": "IN", "values": ["renewals"]}
               in b["filterGroups"][0]["filters"] for b in searches(server))


def test_won_and_lost_by_the_stages_the_agency_chose(make: Any, portal: HubSpotFake) -> None:
    [row] = make(won_stages=["closedwon"], lost_stages=["closedlost", "1011005"]).fetch(
        Query(metrics=("won_deals", "lost_deals"), range=OCT)).rows
    expected = Expected(portal)
    assert row["won_deals"] == len(expected.won(OCT, stages={"closedwon"}))
    assert row["won_deals"] < len(expected.won(OCT))  # renewals' "Renewed" no longer counts
    assert row["lost_deals"] == len(expected.lost(OCT))


def test_qualified_leads_at_another_stage_and_customers_as_contacts(
        make: Any, portal: HubSpotFake) -> None:
    [row] = make(qualified_lead_stage="salesqualifiedlead", customer_object="contacts").fetch(
        Query(metrics=("qualified_leads", "new_customers"), range=OCT)).rows
    expected = Expected(portal)
    assert row == {"qualified_leads": expected.qualified_leads(OCT, "salesqualifiedlead"),
                   "new_customers": expected.new_customers(OCT, "contacts")}


def test_leads_cannot_be_split_by_pipeline(make: Any) -> None:
    with pytest.raises(SourceError, match="leads count contacts or companies"):
        make().fetch(Query(metrics=("leads",), range=OCT, dimensions=("pipeline",)))


# --- Currency ---------------------------------------------------------------------------------


def test_amounts_are_in_the_portals_currency(make: Any, portal: HubSpotFake) -> None:
    table = make().fetch(Query(metrics=("pipeline_value",), range=OCT))
    foreign = [d for d in Expected(portal).created(OCT) if d["deal_currency_code"] != "EUR"]
    assert foreign  # some deals are in dollars: their home amount is what counts
    assert table.rows[0]["pipeline_value"] == pytest.approx(
        Expected(portal).amount_of(Expected(portal).created(OCT)))
    assert table.currency == "EUR"


def test_raw_amounts_in_another_currency_are_left_out_and_noted(make: Any,
                                                               portal: HubSpotFake) -> None:
    table = make(amount_property="amount").fetch(Query(metrics=("pipeline_value",), range=OCT))
    deals = Expected(portal).created(OCT)
    euros = [d for d in deals if d["deal_currency_code"] == "EUR"]
    assert table.rows[0]["pipeline_value"] == pytest.approx(
        Expected(portal, amount="amount").amount_of(euros))
    [note] = [n for n in table.notes if "USD" in n.message]
    assert note.metrics == ("pipeline_value",)
    assert note.message.startswith(f"{len(deals) - len(euros)} deal")


def test_a_portal_in_another_currency_says_so(tmp_path: Path) -> None:
    with FakeServer() as server:
        portal = HubSpotFake(server, seed=3, searches_per_second=None, currency="USD",
                             busy_month_contacts=0)
        source = HubSpotSource(HubSpotSettings(token=portal.token, base_url=server.url),
                               make_context(tmp_path, plugin="hubspot", currency="EUR"))
        table = source.fetch(Query(metrics=("won_revenue",), range=OCT))
    assert table.currency == "USD"
    assert table.rows[0]["won_revenue"] == pytest.approx(
        Expected(portal).amount_of(Expected(portal).won(OCT)))


# --- Errors, limits, usage --------------------------------------------------------------------


def test_a_refused_token_names_the_scopes_and_not_the_token(make: Any) -> None:
    source = make(token="pat-na1-wrong-token-0000")
    with pytest.raises(AuthenticationError) as raised:
        source.fetch(Query(metrics=("leads",), range=OCT))
    message = str(raised.value)
    assert "crm.objects.contacts.read" in message and "crm.objects.deals.read" in message
    assert "pat-na1-wrong-token-0000" not in message


def test_a_missing_scope_is_permission_denied_naming_it(tmp_path: Path) -> None:
    with FakeServer() as server:
        portal = HubSpotFake(server, seed=3, searches_per_second=None, busy_month_contacts=0,
                             scopes={"crm.objects.contacts.read"})
        source = HubSpotSource(HubSpotSettings(token=portal.token, base_url=server.url),
                               make_context(tmp_path, plugin="hubspot"))
        assert source.fetch(Query(metrics=("leads",), range=OCT)).rows[0]["leads"] > 0
        with pytest.raises(PermissionDenied, match=r"lacks a scope .*\(crm\.objects\.deals"):
            source.fetch(Query(metrics=("won_deals",), range=OCT))


def test_a_secondly_429_is_waited_out(make: Any, server: FakeServer,
                                      portal: HubSpotFake) -> None:
    secondly = Reply(status=429, body={"status": "error", "errorType": "RATE_LIMIT",
                                       "policyName": "SECONDLY",
                                       "message": "You have reached your secondly limit."})
    server.fail("POST", SEARCH, secondly, times=2)
    source = make()
    [row] = source.fetch(Query(metrics=("leads",), range=OCT)).rows
    assert row["leads"] == Expected(portal).leads(OCT)
    assert len(server.calls_to(SEARCH)) == 3  # two refused, the third answered
    assert source.api.throttled == 2


def test_a_daily_limit_stops_the_source_after_one_call(make: Any, server: FakeServer) -> None:
    daily = Reply(status=429, body={"status": "error", "errorType": "RATE_LIMIT",
                                    "policyName": "DAILY",
                                    "message": "You have reached your daily limit."})
    server.fail("POST", SEARCH, daily, times=1)
    answers = make().fetch_many([Query(metrics=("leads",), range=OCT),
                                 Query(metrics=("won_deals",), range=OCT),
                                 Query(metrics=("opportunities",), range=OCT)])
    assert all(isinstance(a, QuotaExhausted) for a in answers.values())
    assert "daily API limit" in str(next(iter(answers.values())))
    assert len(server.calls_to(SEARCH)) == 1


def test_a_server_error_is_transient(make: Any, server: FakeServer) -> None:
    server.fail("POST", SEARCH, Reply(status=503, body={"status": "error"}), times=5)
    with pytest.raises(TransientError, match="HTTP 503"):
        make().fetch(Query(metrics=("leads",), range=OCT))
    assert len(server.calls_to(SEARCH)) == 5  # the session's four retries


def test_a_bad_request_says_what_hubspot_said(make: Any, server: FakeServer) -> None:
    refusal = Reply(status=400, body={"status": "error", "category": "VALIDATION_ERROR",
                                      "message": "Property 'foo' does not exist",
                                      "correlationId": "x"})
    server.fail("POST", SEARCH, refusal, times=1)
    with pytest.raises(SourceError, match=r"HTTP 400 VALIDATION_ERROR\): Property 'foo' does"):
        make().fetch(Query(metrics=("leads",), range=OCT))


def test_the_daily_usage_reaches_the_run_summary(make: Any, portal: HubSpotFake) -> None:
    source = make()
    source.fetch(Query(metrics=("leads",), range=OCT))
    usage = source.context.usage["requests_per_day"]
    assert usage.limit == portal.daily_limit
    assert usage.used == portal.daily_used


# --- Cache ------------------------------------------------------------------------------------


def test_a_final_month_is_never_asked_again(make: Any, server: FakeServer) -> None:
    query = Query(metrics=("won_deals", "leads"), range=OCT, granularity=Granularity.DAY)
    source = make()
    first = source.fetch(query)
    asked = len(server.calls)
    assert asked
    again = make().fetch(query)  # another source, as next month's run: the same state folder
    assert len(server.calls) == asked
    assert again.rows == first.rows
    stored = list((source.context.state_dir / "cache").rglob("*.json"))
    token = source.api._token
    assert stored and all(token not in p.read_text() for p in stored)


def test_the_current_month_is_asked_again_each_run(make: Any, server: FakeServer) -> None:
    now = DateRange(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 24))
    source = make()
    source.fetch(Query(metrics=("won_deals",), range=now))
    asked = len(server.calls_to(SEARCH))
    source.context.refresh = True  # kpireport check, or a new run after the hour's cache
    source.fetch(Query(metrics=("won_deals",), range=now))
    assert len(server.calls_to(SEARCH)) == 2 * asked


# --- Settings and kpireport check ------------------------------------------------------------


@pytest.mark.parametrize(("settings", "message"), [
    ({"qualified_lead_stage": "mql"}, "unknown lifecycle stage 'mql'"),
    ({"won_stages": ["closedwon"], "lost_stages": ["closedwon"]}, "both list closedwon"),
    ({"pipelines": []}, "an empty list counts nothing"),
    ({"customer_object": "deals"}, "'companies' or 'contacts'"),
    ({"amount_property": "Amount"}, "String should match pattern"),
    ({"tokne": "x"}, "Extra inputs are not permitted"),
    ({"searches_per_second": 0}, "greater than or equal to 1"),
])
def test_bad_settings_are_refused_naming_the_field(settings: dict[str, Any],
                                                   message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        HubSpotSettings(token="t", **settings)
    assert message in str(raised.value)
    assert next(iter(settings)) in str(raised.value)


def test_validate_says_when_the_token_is_missing(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACME_HUBSPOT", raising=False)
    source = HubSpotSource(HubSpotSettings(token_env="ACME_HUBSPOT"), make_context(tmp_path))
    [problem] = source.check()
    assert "ACME_HUBSPOT" in problem
    monkeypatch.setenv("ACME_HUBSPOT", "pat-na1-x")
    assert source.check() == []


def test_check_finds_the_names_the_portal_lacks(make: Any, server: FakeServer) -> None:
    make(won_stages=["closedwon", "1011004"], pipelines=["default", "renewals"]).probe()
    with pytest.raises(SourceError) as raised:
        make(qualified_lead_property="became_mql_on", won_stages=["closed_won"],
             pipelines=["sales"], customer_property="lastmodifieddate_x").probe()
    message = str(raised.value)
    assert "contacts have no property 'became_mql_on' (qualified_lead_property)" in message
    assert "companies have no property 'lastmodifieddate_x' (customer_property)" in message
    assert "won_stages: the portal has no deal stage closed_won" in message
    assert "pipelines: the portal has no deal pipeline sales" in message
    kinds = {(c.method, c.path.split("/")[3] if c.path.startswith("/crm") else c.path)
             for c in server.calls}
    assert ("GET", "properties") in kinds and ("GET", "pipelines") in kinds


def test_check_refuses_a_property_of_the_wrong_type(make: Any) -> None:
    with pytest.raises(SourceError) as raised:
        make(qualified_lead_property="email", amount_property="dealname").probe()
    message = str(raised.value)
    assert "contacts property 'email' (qualified_lead_property) is of type string, not a " \
           "date or datetime" in message
    assert "deals property 'dealname' (amount_property) is of type string, not a number" \
           in message




def test_a_date_property_of_the_agencys_own_counts_qualified_leads(tmp_path: Path) -> None:
    # A portal whose sales team ticks a date picker, "Became SQL on", on the contact.
    with FakeServer() as server:
        portal = HubSpotFake(server, seed=4, searches_per_second=None, busy_month_contacts=0,
                             custom_date_properties=("became_sql_on",))
        for contact in portal.contacts:
            props = contact["properties"]
            reached = props.get("hs_lifecyclestage_salesqualifiedlead_date")
            # The day as the salesperson saw it in Sydney: not the client's day, nor UTC's.
            props["became_sql_on"] = None if reached is None else str(local_day(
                reached, ZoneInfo("Australia/Sydney")))
        portal.forget()
        source = HubSpotSource(HubSpotSettings(token=portal.token, base_url=server.url,
                                               qualified_lead_property="became_sql_on"),
                               # Behind UTC: October 1st's midnight there is 07:00 UTC, after
                               # the property's own midnight (UTC) that day.
                               make_context(tmp_path, plugin="hubspot",
                                            timezone="America/Los_Angeles"))
        source.probe()  # the property exists, and is a date
        table = source.fetch(Query(metrics=("qualified_leads",), range=OCT,
                                   granularity=Granularity.DAY))
    on_day: dict[dt.date, int] = {}
    for contact in portal.contacts:
        if (value := contact["properties"]["became_sql_on"]) is not None:
            day = dt.date.fromisoformat(value)
            on_day[day] = on_day.get(day, 0) + 1
    # Every day of October, the first and the last included (the search has a day's margin).
    assert {r["date"]: r["qualified_leads"] for r in table.rows} == {
        d: n for d, n in on_day.items() if d in OCT}
    assert table.rows[0]["date"] == OCT.start and table.rows[-1]["date"] == OCT.end
