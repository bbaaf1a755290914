"""The ``salesforce`` source against the kit's Salesforce fake: real ``requests``, real token
flows (PyJWT signs the JWT bearer assertion the fake verifies), real paging and errors.

Expected figures come from the fake's raw records (``salesforce_expected.Expected``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from salesforce_expected import Expected

from kpireport import (
    AuthenticationError,
    Filter,
    Granularity,
    Query,
    QuotaExhausted,
    SourceError,
)
from kpireport.data import DateRange
from kpireport.testing import FakeServer, Reply, SourceContract, make_context
from kpireport.testing.fakes.salesforce import (
    CLIENT_SECRET,
    CONSUMER_KEY,
    REFRESH_TOKEN,
    USERNAME,
    SalesforceFake,
)
from kpireport_salesforce import SalesforceSettings, SalesforceSource
from kpireport_salesforce.source import METRICS

pytestmark = pytest.mark.usefixtures("only_localhost")

OCT = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
TZ = "Europe/Paris"
QUERY_CALLS = r"/services/data/v60.0/query"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        yield fake


@pytest.fixture
def org(server: FakeServer) -> SalesforceFake:
    return SalesforceFake(server, seed=3)


def jwt_settings(org: SalesforceFake, tmp_path: Path, **extra: Any) -> SalesforceSettings:
    key = tmp_path / "connected-app.key"
    if not key.exists():
        tmp_path.mkdir(parents=True, exist_ok=True)
        key.write_bytes(org.private_key_pem)
    return SalesforceSettings(auth="jwt", consumer_key=org.consumer_key, username=org.username,
                              private_key_file=key.name, login_url=org.server.url, **extra)


def context(tmp_path: Path, tz: str = TZ, **extra: Any) -> Any:
    return make_context(tmp_path, plugin="salesforce", timezone=tz, currency="USD", **extra)


def source(org: SalesforceFake, tmp_path: Path, tz: str = TZ, **extra: Any) -> SalesforceSource:
    return SalesforceSource(jwt_settings(org, tmp_path, **extra), context(tmp_path, tz))


def total(metrics: tuple[str, ...] | list[str], rng: DateRange = OCT, **extra: Any) -> Query:
    return Query(metrics=tuple(metrics), range=rng, **extra)


def queries(server: FakeServer) -> list[str]:
    return [(c.query.get("q") or [""])[0] for c in server.calls_to(QUERY_CALLS + "$")]


# --- figures ----------------------------------------------------------------------------------


def test_every_metric_over_a_month_equals_the_records(org, server, tmp_path):
    table = source(org, tmp_path).fetch(total(METRICS))
    want = Expected(org, TZ).figures(OCT)
    [row] = table.rows
    assert set(row) == set(METRICS)
    for metric in METRICS:
        assert row[metric] == pytest.approx(want[metric]), metric
    assert want["won_deals"] > 10 and want["new_customers"] > 0  # figures worth checking
    assert table.currency == "USD"  # the org's, asked once
    # Counts and amounts by SOQL aggregates, grouped by the UTC hour placed on Paris's days.
    sent = queries(server)
    assert any("SELECT DAY_ONLY(CreatedDate) d, HOUR_IN_DAY(CreatedDate) h, COUNT(Id) n FROM "
               "Lead WHERE CreatedDate >= 2026-09-30T22:00:00Z AND CreatedDate < "
               "2026-10-31T23:00:00Z GROUP BY" in q for q in sent)
    assert any(q.startswith("SELECT CloseDate, COUNT(Id) n, SUM(Amount) s FROM Opportunity "
                            "WHERE IsWon = true") for q in sent)


def test_days_and_months_in_the_clients_time_zone(org, tmp_path):
    tz = "America/New_York"
    src = source(org, tmp_path, tz=tz)
    want = Expected(org, tz)
    days = src.fetch(total(["leads", "won_revenue", "sales_cycle_days"],
                           granularity=Granularity.DAY))
    by_day = {r["date"]: r for r in days.rows}
    for day in OCT.iter_days():
        one = DateRange(start=day, end=day)
        assert by_day[day]["leads"] == want.leads(one)
        assert by_day[day]["won_revenue"] == pytest.approx(sum(want.amount(o)
                                                               for o in want.won(one)))
        if want.won(one):
            assert by_day[day]["sales_cycle_days"] == pytest.approx(want.cycle(one))
    # The sales cycle over the month is the mean of its deals, not of its days.
    [month_total] = src.fetch(total(["sales_cycle_days"])).rows
    assert month_total["sales_cycle_days"] == pytest.approx(want.cycle(OCT))
    year = DateRange(start=dt.date(2025, 11, 1), end=dt.date(2026, 10, 31))
    months = src.fetch(total(["opportunities", "new_customers"], rng=year,
                             granularity=Granularity.MONTH)).rows
    assert len(months) == 12
    for row in months:
        start = row["month"]
        end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(1)
        rng = DateRange(start=start, end=end)
        assert row["opportunities"] == len(want.opportunities(rng))
        assert row["new_customers"] == want.new_customers(rng)


def test_a_half_hour_time_zone_is_counted_from_records(org, server, tmp_path):
    tz = "Asia/Kolkata"  # UTC+5:30: whole UTC hours straddle its midnights
    table = source(org, tmp_path, tz=tz).fetch(total(["leads"], granularity=Granularity.DAY))
    want = Expected(org, tz)
    assert {r["date"]: r["leads"] for r in table.rows} == {
        d: want.leads(DateRange(start=d, end=d)) for d in OCT.iter_days()}
    assert any(q.startswith("SELECT Id, CreatedDate FROM Lead WHERE") for q in queries(server))
    assert not any("HOUR_IN_DAY" in q for q in queries(server))
    # Amounts too, in a single-currency org (no CurrencyType object: nothing to mix).
    [row] = source(org, tmp_path, tz=tz).fetch(total(["pipeline_value"])).rows
    assert row["pipeline_value"] == pytest.approx(sum(want.amount(o)
                                                      for o in want.opportunities(OCT)))
    assert "SELECT Id FROM CurrencyType WHERE IsActive = true" in queries(server)


def test_dimensions_and_filters(org, tmp_path):
    src = source(org, tmp_path)
    want = Expected(org, TZ)
    rows = src.fetch(total(["leads"], dimensions=("lead_source",))).rows
    assert {r["lead_source"]: r["leads"] for r in rows} == {
        s: want.leads(OCT, LeadSource=s) for s in {r["LeadSource"] for r in
                                                    org.records("Lead")}
        if want.leads(OCT, LeadSource=s)}
    web = src.fetch(total(["won_deals"], filters=(
        Filter(dimension="lead_source", operator="equals", values=("web",)),)))
    assert web.rows[0]["won_deals"] == sum(1 for o in want.won(OCT) if o["LeadSource"] == "Web")
    with pytest.raises(SourceError, match="cannot be split or filtered by stage"):
        source(org, tmp_path, qualified_leads={"by": "status", "statuses": ["Working - Contacted"]}
               ).fetch(total(["qualified_leads"], dimensions=("stage",)))


def test_too_many_groups_split_the_range(server, tmp_path):
    org = SalesforceFake(server, seed=3, max_groups=40)
    table = source(org, tmp_path).fetch(total(["leads", "opportunities"]))
    want = Expected(org, TZ)
    assert table.rows[0]["leads"] == want.leads(OCT)
    assert table.rows[0]["opportunities"] == len(want.opportunities(OCT))
    # Refused for the month (up to 744 hour groups), asked again in halves until each part
    # has at most 40 groups: several narrower aggregates, still no record read.
    lead_queries = [q for q in queries(server) if "FROM Lead" in q]
    assert len(lead_queries) > 3 and all("COUNT(Id)" in q for q in lead_queries)
    # Dates (ConvertedDate) split by days likewise.
    rows = source(org, tmp_path / "d").fetch(total(["qualified_leads"],
                                                   dimensions=("lead_source",))).rows
    converted = [r for r in org.records("Lead") if r["IsConverted"] and r["ConvertedDate"] in OCT]
    assert len(converted) > 40
    assert {r["lead_source"]: r["qualified_leads"] for r in rows} == {
        s: sum(1 for r in converted if r["LeadSource"] == s)
        for s in {r["LeadSource"] for r in converted}}
    assert len([q for q in queries(server) if "IsConverted = true" in q]) > 1


def test_records_are_paged_with_next_records_url(server, tmp_path):
    org = SalesforceFake(server, seed=3, batch_size=100)
    table = source(org, tmp_path).fetch(total(["new_customers"]))
    assert table.rows[0]["new_customers"] == Expected(org, TZ).new_customers(OCT)
    more = server.calls_to(QUERY_CALLS + r"/01g.*")
    won = sum(1 for o in org.records("Opportunity") if o["IsWon"] and o["AccountId"])
    assert len(more) == (won - 1) // 100  # every batch after the first


def test_qualified_leads_by_status_history_and_by_field(org, server, tmp_path):
    statuses = {"Working - Contacted", "Closed - Converted"}
    by_status = source(org, tmp_path, qualified_leads={"by": "status",
                                                       "statuses": sorted(statuses)})
    assert by_status.fetch(total(["qualified_leads"])).rows[0]["qualified_leads"] == \
        Expected(org, TZ).qualified_by_status(OCT, statuses) > 0
    assert any(q.startswith("SELECT Id, LeadId, OldValue, NewValue, CreatedDate FROM LeadHistory "
                            "WHERE Field = 'Status'") for q in queries(server))
    by_field = source(org, tmp_path / "f", qualified_leads={
        "by": "field", "field": "MQL_Date__c", "flag": "Is_MQL__c"})
    assert by_field.fetch(total(["qualified_leads"])).rows[0]["qualified_leads"] == sum(
        1 for r in org.records("Lead") if r["Is_MQL__c"] and r["MQL_Date__c"] in OCT)


def test_won_and_lost_by_named_stages(org, tmp_path):
    src = source(org, tmp_path, won_stages=["Closed Won"], lost_stages=["Closed Lost",
                                                                         "Negotiation/Review"])
    row = src.fetch(total(["won_deals", "lost_deals"])).rows[0]
    opps = org.records("Opportunity")
    assert row["won_deals"] == sum(1 for o in opps if o["StageName"] == "Closed Won"
                                   and o["CloseDate"] in OCT)
    assert row["lost_deals"] == sum(1 for o in opps if o["StageName"] in {
        "Closed Lost", "Negotiation/Review"} and o["CloseDate"] in OCT)


def test_a_month_with_nothing_counts_zero(org, tmp_path):
    before = DateRange(start=dt.date(2023, 5, 1), end=dt.date(2023, 5, 31))
    row = source(org, tmp_path).fetch(total(["won_deals", "sales_cycle_days"],
                                            rng=before)).rows[0]
    assert row == {"won_deals": 0.0, "sales_cycle_days": None}


# --- currency ---------------------------------------------------------------------------------


def test_a_multi_currency_org_sums_in_its_corporate_currency(server, tmp_path):
    org = SalesforceFake(server, seed=3, corporate_currency="EUR",
                         currencies={"USD": 1.1, "GBP": 0.85})
    table = source(org, tmp_path).fetch(total(["won_revenue", "pipeline_value", "won_deals"]))
    want = Expected(org, TZ)
    won = want.won(OCT)
    assert len({o["CurrencyIsoCode"] for o in won}) == 3  # the deals mix three currencies
    assert table.currency == "EUR"
    assert table.rows[0]["won_revenue"] == pytest.approx(sum(want.amount(o) for o in won),
                                                         abs=0.05)
    raw = sum(o["Amount"] or 0 for o in won)
    assert abs(table.rows[0]["won_revenue"] - raw) > 1  # not the amounts added as they are
    # A zone whose days cannot be built from UTC hours reads records: amounts in three
    # currencies are refused, never added up.
    with pytest.raises(SourceError, match="multi-currency org's Opportunity amounts"):
        source(org, tmp_path / "k", tz="Asia/Kolkata").fetch(total(["pipeline_value"]))


def test_a_configured_currency_is_not_asked(org, server, tmp_path):
    table = source(org, tmp_path, currency="GBP").fetch(total(["won_revenue"]))
    assert table.currency == "GBP"
    assert not any("Organization" in q for q in queries(server))


# --- logins -----------------------------------------------------------------------------------


def test_client_credentials_and_refresh_token_logins(org, server, tmp_path):
    flows = {
        "client_credentials": {"consumer_secret": CLIENT_SECRET},
        "refresh_token": {"refresh_token": REFRESH_TOKEN, "consumer_secret": CLIENT_SECRET},
    }
    for i, (flow, extra) in enumerate(flows.items()):
        settings = SalesforceSettings(auth=flow, consumer_key=CONSUMER_KEY,
                                      login_url=server.url, **extra)
        table = SalesforceSource(settings, context(tmp_path / str(i))).fetch(total(["leads"]))
        assert table.rows[0]["leads"] == Expected(org, TZ).leads(OCT)
    forms = [c.form() for c in server.calls_to("/services/oauth2/token")]
    assert [f["grant_type"] for f in forms] == ["client_credentials", "refresh_token"]
    assert forms[1]["refresh_token"] == REFRESH_TOKEN and forms[1]["client_id"] == CONSUMER_KEY


def test_the_jwt_assertion_is_signed_with_the_key_file(org, server, tmp_path):
    import jwt

    source(org, tmp_path).fetch(total(["leads"]))
    [call] = server.calls_to("/services/oauth2/token")
    form = call.form()
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = jwt.decode(form["assertion"], org.certificate.public_key(), algorithms=["RS256"],
                        audience="https://login.salesforce.com")
    assert claims["iss"] == CONSUMER_KEY and claims["sub"] == USERNAME
    assert 0 < claims["exp"] - dt.datetime.now(dt.UTC).timestamp() <= 180


def test_a_refused_login_says_why_without_the_secret(org, server, tmp_path):
    settings = SalesforceSettings(auth="client_credentials", consumer_key=CONSUMER_KEY,
                                  consumer_secret="not-the-secret-42", login_url=server.url)
    src = SalesforceSource(settings, context(tmp_path))
    with pytest.raises(AuthenticationError) as raised:
        src.fetch(total(["leads"]))
    message = str(raised.value)
    assert "invalid_client" in message and "client credentials flow" in message
    assert "not-the-secret-42" not in message
    assert not server.calls_to(QUERY_CALLS)


def test_one_login_per_credential_shared_through_the_state_folder(org, server, tmp_path):
    # Two clients' sources of one run (same state folder), as two workers would be.
    first = source(org, tmp_path)
    second = SalesforceSource(jwt_settings(org, tmp_path), context(tmp_path, name="crm2"))
    first.fetch(total(["leads"]))
    second.fetch(total(["opportunities"]))
    assert len(org.tokens) == 1
    [token_file] = (tmp_path / "state" / "plugins" / "salesforce" / "sessions").glob("*.json")
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert org.tokens[0] in token_file.read_text()
    assert CONSUMER_KEY not in token_file.name and USERNAME not in token_file.name


def test_a_session_renewed_by_one_worker_serves_the_others(org, server, tmp_path):
    first = source(org, tmp_path)
    second = SalesforceSource(jwt_settings(org, tmp_path), context(tmp_path, name="crm2"))
    first.fetch(total(["leads"]))
    second.fetch(total(["leads"], granularity=Granularity.DAY))  # the cache: no call
    second.fetch(total(["won_deals"]))  # holds the session now
    org.expire_tokens()
    first.fetch(total(["opportunities"]))  # refused, logs in again
    second.fetch(total(["lost_deals"]))  # refused, takes the first one's new session
    assert len(org.tokens) == 2
    assert len(server.calls_to("/services/oauth2/token")) == 2


@pytest.mark.workers  # two sources fetching in threads at once, as two workers would
def test_workers_starting_together_log_in_once(org, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    sources = [SalesforceSource(jwt_settings(org, tmp_path), context(tmp_path, name=f"c{i}"))
               for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        tables = list(pool.map(lambda src: src.fetch(total(["won_deals"])), sources))
    assert len({t.rows[0]["won_deals"] for t in tables}) == 1
    assert len(org.tokens) == 1


def test_an_expired_session_mid_report_is_renewed_once(server, tmp_path):
    org = SalesforceFake(server, seed=3, expire_after_calls=3, batch_size=200)
    table = source(org, tmp_path).fetch(total(METRICS))
    want = Expected(org, TZ).figures(OCT)
    for metric in METRICS:
        assert table.rows[0][metric] == pytest.approx(want[metric]), metric
    assert len(org.tokens) == 2  # one login, one renewal
    assert len(server.calls_to("/services/oauth2/token")) == 2


def test_a_session_refused_again_fails_after_one_renewal(org, server, tmp_path):
    server.fail("GET", QUERY_CALLS, Reply(status=401, body=[{
        "message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]), times=10)
    with pytest.raises(AuthenticationError, match="INVALID_SESSION_ID"):
        source(org, tmp_path).fetch(total(["leads"]))
    assert len(org.tokens) == 2 and len(server.calls_to(QUERY_CALLS)) == 2


# --- limits and errors ------------------------------------------------------------------------


def test_the_daily_limit_stops_the_source_after_one_call(server, tmp_path):
    org = SalesforceFake(server, seed=3, daily_limit=5000, api_usage=5000)
    ctx = context(tmp_path)
    src = SalesforceSource(jwt_settings(org, tmp_path), ctx)
    asked = [total(["leads"]), total(["won_deals"], granularity=Granularity.DAY),
             total(["opportunities"], rng=DateRange(start=dt.date(2026, 9, 1),
                                                    end=dt.date(2026, 9, 30)))]
    answers = src.fetch_many(asked)
    assert all(isinstance(answers[q], QuotaExhausted) for q in asked)
    assert "daily API request limit" in str(answers[asked[0]])
    assert "REQUEST_LIMIT_EXCEEDED" in str(answers[asked[0]])
    assert len(server.calls_to(QUERY_CALLS)) == 1
    assert str(ctx.usage["api-usage"]) == "5000/5000"


def test_limit_info_reaches_the_usage(org, tmp_path):
    ctx = context(tmp_path)
    SalesforceSource(jwt_settings(org, tmp_path), ctx).fetch(total(["leads", "won_deals"]))
    usage = ctx.usage["api-usage"]
    assert usage.limit == 100_000 and usage.used == org.api_usage


def test_an_unknown_field_is_read_from_the_error_array(org, tmp_path):
    src = source(org, tmp_path, qualified_leads={"by": "field", "field": "Nope__c"})
    with pytest.raises(SourceError, match=r"INVALID_FIELD: No such column 'Nope__c'"):
        src.fetch(total(["qualified_leads"]))


def test_a_final_month_is_asked_once(org, server, tmp_path):
    src = source(org, tmp_path)
    src.fetch(total(["leads"]))
    asked = len(queries(server))
    again = source(org, tmp_path)  # next run, same state folder
    again.fetch(total(["leads"], granularity=Granularity.DAY))
    assert len(queries(server)) == asked
    november = DateRange(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 24))
    src.fetch(total(["leads"], rng=november))
    assert len(queries(server)) == asked + 1  # not final: asked


# --- settings, check and probe ------------------------------------------------------------------


@pytest.mark.parametrize(("settings", "message"), [
    ({"auth": "jwt", "consumer_key": "k", "private_key_file": "k.pem"}, "needs username"),
    ({"auth": "client_credentials", "consumer_key": "k", "consumer_secret": "s"},
     "needs the org's My Domain"),
    ({"auth": "refresh_token", "consumer_key": "k"}, "needs refresh_token"),
    ({"auth": "refresh_token", "consumer_key": "k", "refresh_token": "r", "username": "u"},
     "username not used by auth: refresh_token"),
    ({"auth": "oauth", "consumer_key": "k"}, "'jwt', 'client_credentials' or 'refresh_token'"),
    ({"auth": "refresh_token", "consumer_key": "k", "refresh_token": "r", "api_version": "60"},
     "expected an API version such as 60.0"),
    ({"auth": "refresh_token", "consumer_key": "k", "refresh_token": "r",
      "qualified_leads": {"by": "status"}}, "by: status needs 'statuses'"),
    ({"auth": "refresh_token", "consumer_key": "k", "refresh_token": "r", "wonstages": []},
     "Extra inputs are not permitted"),
])
def test_bad_settings_are_refused_naming_the_field(settings, message):
    with pytest.raises(ValidationError, match=message):
        SalesforceSettings(**settings)


def test_check_is_offline_and_names_the_key_file(org, server, tmp_path):
    settings = SalesforceSettings(auth="jwt", consumer_key=CONSUMER_KEY, username=USERNAME,
                                  private_key_file="missing.pem", login_url=server.url)
    src = SalesforceSource(settings, context(tmp_path))
    [problem] = src.check()
    assert "private_key_file" in problem and "missing.pem" in problem
    (tmp_path / "cert.pem").write_bytes(org.certificate_pem)  # the certificate, not the key
    src = SalesforceSource(settings.model_copy(update={"private_key_file": "cert.pem"}),
                           context(tmp_path))
    assert "not a PEM private key" in src.check()[0]
    assert source(org, tmp_path).check() == []
    assert not server.calls


def test_probe_describes_each_object_once(org, server, tmp_path):
    source(org, tmp_path).probe()
    described = [c.path for c in server.calls_to(r"/services/data/v60.0/sobjects/.*")]
    assert described == ["/services/data/v60.0/sobjects/Lead/describe",
                         "/services/data/v60.0/sobjects/Opportunity/describe"]
    assert not server.calls_to(QUERY_CALLS)


def test_probe_names_the_stages_and_fields_the_org_lacks(org, tmp_path):
    src = source(org, tmp_path, won_stages=["Closed Won", "Signed"],
                 qualified_leads={"by": "field", "field": "MQL_Date__c",
                                  "field_type": "datetime"})
    with pytest.raises(SourceError) as raised:
        src.probe()
    message = str(raised.value)
    assert "won_stages: 'Signed' not in StageName" in message
    assert "Lead.MQL_Date__c is a date field, not datetime (set field_type: date)" in message


def test_the_plugin_loads_without_pyjwt_and_says_which_extra(org, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "jwt", None)  # import jwt now raises ImportError
    src = source(org, tmp_path)
    assert any('pip install "kpireport[salesforce]"' in p for p in src.check())
    with pytest.raises(SourceError, match=r'pip install "kpireport\[salesforce\]"'):
        src.fetch(total(["leads"]))


@pytest.mark.workers  # a Python subprocess: a clean interpreter
def test_importing_the_plugin_does_not_import_pyjwt():
    import subprocess
    import sys

    code = ("import sys, kpireport_salesforce; "
            "print('jwt' in sys.modules, 'cryptography' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ}).stdout
    assert out.split() == ["False", "False"]


# --- the contract suite -----------------------------------------------------------------------


class TestSalesforceContract(SourceContract):
    @pytest.fixture
    def contract_source(self, source_context, tmp_path):
        with FakeServer() as server:
            self.server = server
            org = SalesforceFake(server, seed=5)
            ctx = dataclasses.replace(source_context, plugin="salesforce")
            yield SalesforceSource(jwt_settings(org, tmp_path), ctx)

    def contract_fail(self, status: int) -> bool:
        self.server.fail("GET", QUERY_CALLS, Reply(status=status, body=[{
            "message": "scripted failure", "errorCode": "SCRIPTED"}]), times=20)
        return True

    def contract_calls(self) -> int | None:
        return len(self.server.calls_to(QUERY_CALLS))


def test_capabilities_say_which_metrics_have_no_stage(org, tmp_path):
    # Leads qualified by their status history (LeadHistory rows) have neither stage nor
    # source: validate refuses such a split before a run, as the fetch would.
    by_stage = total(["qualified_leads"], dimensions=("stage",))
    assert source(org, tmp_path).capabilities().refusal(by_stage) is None
    history = source(org, tmp_path, qualified_leads={"by": "status",
                                                     "statuses": ["Working - Contacted"]})
    assert history.capabilities().refusal(by_stage) == (
        "cannot split or filter qualified_leads by stage (qualified_leads offers: "
        "no dimension)")
    assert history.capabilities().refusal(total(["won_deals"], dimensions=("stage",))) is None
