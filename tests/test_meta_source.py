"""The Meta source against the kit's fake Graph API: figures, requests, errors, notes.

Expected figures are computed here from the fake's raw rows (``MetaFake.days``: one row per
campaign and day, conversions per attribution window), never through the plugin's code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest

from kpireport import (
    AuthenticationError,
    DateRange,
    Filter,
    Granularity,
    NoteKind,
    Operator,
    Order,
    PermissionDenied,
    Query,
    QuotaExhausted,
    SourceError,
    TransientError,
)
from kpireport.testing import FakeServer, Reply, SourceContract, make_context
from kpireport.testing.fakes.meta import THROTTLE_MESSAGES, CampaignDay, MetaFake
from kpireport_meta import MetaSettings, MetaSource
from kpireport_meta import source as meta_source

pytestmark = pytest.mark.usefixtures("only_localhost")

OCT = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
DEFAULT = ("7d_click", "1d_view")
INSIGHTS = r"/v21\.0/act_\d+/insights"


@pytest.fixture
def graph() -> Iterator[MetaFake]:
    with FakeServer() as server:
        yield MetaFake(server, seed=5)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_source(graph: MetaFake, tmp_path: Any, *, backoff: float = 0.0,
                sleeps: Sleeps | None = None, **settings: Any) -> MetaSource:
    context = dataclasses.replace(make_context(tmp_path, plugin="meta", name="ads"),
                                  retry_backoff=backoff)
    values: dict[str, Any] = {"ad_account_id": f"act_{graph.account_id}",
                              "graph_url": graph.server.url, "access_token": graph.token,
                              "calls_per_minute": 10_000, **settings}
    return MetaSource(MetaSettings(**values), context, sleep=sleeps)


def rows_of(graph: MetaFake, rng: DateRange, campaign: str | None = None) -> list[CampaignDay]:
    return [d for d in graph.days if rng.start <= d.day <= rng.end
            and (campaign is None or d.campaign.name == campaign)]


def purchases(rows: list[CampaignDay], windows: tuple[str, ...] = DEFAULT) -> int:
    return sum(d.purchases[w] for d in rows for w in windows)


def value(rows: list[CampaignDay], windows: tuple[str, ...] = DEFAULT) -> float:
    return sum(d.purchase_value[w] for d in rows for w in windows)


def insights_calls(graph: MetaFake) -> list[Any]:
    return graph.server.calls_to(INSIGHTS)


# --- Figures ----------------------------------------------------------------------------------


def test_a_months_totals_equal_the_raw_rows(graph, tmp_path):
    source = make_source(graph, tmp_path, events=["purchase", "lead"])
    metrics = ("spend", "ad_impressions", "reach", "ad_clicks", "ad_ctr", "cpc", "ad_purchases",
               "ad_leads", "ad_conversions", "conversion_value", "cost_per_result", "roas")
    table = source.fetch(Query(metrics=metrics, range=OCT))
    raw = rows_of(graph, OCT)
    spend = sum(d.spend for d in raw)
    clicks, impressions = sum(d.clicks for d in raw), sum(d.impressions for d in raw)
    bought = purchases(raw)
    [row] = table.rows
    assert row["spend"] == pytest.approx(spend)
    assert row["ad_impressions"] == impressions and row["ad_clicks"] == clicks
    # The fake lists each purchase three times (pixel, purchase, omni_purchase): read once.
    assert row["ad_purchases"] == row["ad_conversions"] == bought
    assert row["ad_leads"] == sum(d.leads[w] for d in raw for w in DEFAULT)
    assert row["conversion_value"] == pytest.approx(value(raw))
    assert row["cost_per_result"] == pytest.approx(spend / bought)
    assert row["roas"] == pytest.approx(value(raw) / spend)
    assert row["ad_ctr"] == pytest.approx(clicks / impressions)
    assert row["cpc"] == pytest.approx(spend / clicks)
    # Reach is the account's deduplicated count for the month, not a sum of days or campaigns.
    assert row["reach"] == graph.reach(raw) < sum(d.reach for d in raw)
    assert (table.currency, table.timezone) == ("EUR", "Europe/Paris")
    [call] = insights_calls(graph)
    assert call.query["time_increment"] == ["all_days"] and call.query["level"] == ["account"]
    assert json.loads(call.query["action_attribution_windows"][0]) == list(DEFAULT)
    # The token goes in a header, never in a URL that could reach a log.
    assert graph.token not in call.path + json.dumps(call.query)
    assert call.headers["Authorization"] == f"Bearer {graph.token}"


def test_days_follow_paging_and_months_ask_each_months_reach(graph, tmp_path):
    source = make_source(graph, tmp_path, page_size=7)
    table = source.fetch(Query(metrics=("spend", "ad_purchases"), range=OCT,
                               granularity=Granularity.DAY))
    assert [r["date"] for r in table.rows] == list(OCT.iter_days())
    for row in table.rows:
        day = rows_of(graph, DateRange(start=row["date"], end=row["date"]))
        assert row["spend"] == pytest.approx(sum(d.spend for d in day))
        assert row["ad_purchases"] == purchases(day)
    assert len(insights_calls(graph)) == 5  # 31 days, 7 a page: paging.next followed

    rng = DateRange(start=dt.date(2026, 8, 15), end=OCT.end)
    months = source.fetch(Query(metrics=("reach",), range=rng, granularity=Granularity.MONTH))
    wanted = [DateRange(start=dt.date(2026, 8, 15), end=dt.date(2026, 8, 31)),
              DateRange(start=dt.date(2026, 9, 1), end=dt.date(2026, 9, 30)), OCT]
    assert [r["month"] for r in months.rows] == [w.start.replace(day=1) for w in wanted]
    assert [r["reach"] for r in months.rows] == [graph.reach(rows_of(graph, w)) for w in wanted]


def test_campaign_rows_stay_one_per_campaign(graph, tmp_path):
    source = make_source(graph, tmp_path)
    table = source.fetch(Query(metrics=("spend", "ad_conversions", "cost_per_result", "roas",
                                        "reach"), range=OCT, dimensions=("campaign",),
                               order=(Order(metric="spend"),), limit=10))
    running = {d.campaign.name for d in rows_of(graph, OCT)}
    assert {r["campaign"] for r in table.rows} == running and len(table.rows) == len(running) > 2
    for row in table.rows:
        raw = rows_of(graph, OCT, row["campaign"])
        spend = sum(d.spend for d in raw)
        assert row["spend"] == pytest.approx(spend)
        assert row["ad_conversions"] == purchases(raw)
        assert row["roas"] == pytest.approx(value(raw) / spend)
        assert row["reach"] == graph.reach(raw)
        if purchases(raw):
            assert row["cost_per_result"] == pytest.approx(spend / purchases(raw))
    assert [r["spend"] for r in table.rows] == sorted((r["spend"] for r in table.rows),
                                                      reverse=True)
    assert insights_calls(graph)[0].query["level"] == ["campaign"]


def test_two_campaigns_of_one_name_are_two_rows(graph, tmp_path):
    source = make_source(graph, tmp_path)
    query = Query(metrics=("spend",), range=OCT, dimensions=("campaign",))
    graph_rows = [{"campaign_id": "1", "campaign_name": "Promo", "spend": "10.00"},
                  {"campaign_id": "2", "campaign_name": "Promo", "spend": "5.50"},
                  {"campaign_id": "3", "campaign_name": "Brand", "spend": "1"}]
    rows = source._table_rows(query, query, graph_rows, [])
    assert sorted((r["campaign"], r["spend"]) for r in rows) == [
        ("Brand", 1.0), ("Promo (1)", 10.0), ("Promo (2)", 5.5)]


def test_a_campaign_filter_sums_the_campaigns_but_never_their_reach(graph, tmp_path):
    source = make_source(graph, tmp_path)
    one = Filter(dimension="campaign", operator=Operator.CONTAINS, values=("retargeting",))
    table = source.fetch(Query(metrics=("spend", "reach"), range=OCT, filters=(one,)))
    raw = rows_of(graph, OCT, "Retargeting – Cart")
    assert table.rows == [{"spend": pytest.approx(sum(d.spend for d in raw)),
                           "reach": graph.reach(raw)}]
    two = Filter(dimension="campaign", operator=Operator.CONTAINS, values=("Retargeting",),
                 negate=True)
    table = source.fetch(Query(metrics=("spend", "reach"), range=OCT, filters=(two,)))
    raw = [d for d in rows_of(graph, OCT) if "Retargeting" not in d.campaign.name]
    [row] = table.rows
    assert row["spend"] == pytest.approx(sum(d.spend for d in raw))
    assert row["reach"] is None
    assert [n.kind for n in table.notes if n.metrics == ("reach",)] == [NoteKind.UNAVAILABLE]


def test_the_attribution_setting_chooses_the_windows_and_is_noted(graph, tmp_path):
    source = make_source(graph, tmp_path, click_window="1d", view_window=None)
    table = source.fetch(Query(metrics=("ad_purchases", "spend"), range=OCT))
    assert table.rows[0]["ad_purchases"] == purchases(rows_of(graph, OCT), ("1d_click",))
    assert json.loads(insights_calls(graph)[0].query["action_attribution_windows"][0]) == [
        "1d_click"]
    [note] = [n for n in table.notes if n.kind is NoteKind.OTHER]
    assert note.message == "Ad conversions are counted with Meta's attribution setting: " \
                           "1-day click."
    assert note.metrics == ("ad_purchases",) and note.text_for("fr").endswith("1 jours après un "
                                                                              "clic.")


def test_custom_conversion_as_the_result(graph, tmp_path):
    source = make_source(graph, tmp_path, events=["purchase", "custom:555"],
                         result_event="custom:555")
    assert "ad_purchases" in source.metrics()
    row = source.fetch(Query(metrics=("ad_conversions", "ad_purchases"), range=OCT)).rows[0]
    # The fake records no custom conversion: the result is 0, never the purchases.
    assert row == {"ad_conversions": 0.0, "ad_purchases": purchases(rows_of(graph, OCT))}


def test_last_days_are_incomplete_and_not_cached_as_final(graph, tmp_path):
    source = make_source(graph, tmp_path)  # today: 2026-11-25
    nov = DateRange(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 25))
    table = source.fetch(Query(metrics=("ad_purchases", "spend"), range=nov))
    [late] = [n for n in table.notes if n.kind is NoteKind.INCOMPLETE]
    assert late.dates == tuple(dt.date(2026, 11, d) for d in range(18, 26))
    assert late.metrics == ("ad_purchases",)
    spend_only = source.fetch(Query(metrics=("spend",), range=nov))
    assert not [n for n in spend_only.notes if n.kind is NoteKind.INCOMPLETE]

    source.fetch(Query(metrics=("ad_purchases", "spend"), range=OCT))
    before = len(insights_calls(graph))
    again = make_source(graph, tmp_path)  # a run two hours later, same state folder
    again.context.cache.clock = lambda: time.time() + 7200
    again.fetch(Query(metrics=("ad_purchases", "spend"), range=nov))
    assert len(insights_calls(graph)) == before + 1  # November was not final: asked again
    again.fetch(Query(metrics=("ad_purchases", "spend"), range=OCT))
    assert len(insights_calls(graph)) == before + 1  # October was final: never again


# --- Asynchronous report runs -----------------------------------------------------------------


def test_a_refused_synchronous_call_becomes_a_report_run(graph, tmp_path):
    graph.sync_max_days = 10
    sleeps = Sleeps()
    source = make_source(graph, tmp_path, sleeps=sleeps, page_size=10)
    table = source.fetch(Query(metrics=("spend", "reach", "ad_purchases"), range=OCT,
                               dimensions=("campaign",)))
    for row in table.rows:
        raw = rows_of(graph, OCT, row["campaign"])
        assert row["spend"] == pytest.approx(sum(d.spend for d in raw))
        assert row["reach"] == graph.reach(raw)
        assert row["ad_purchases"] == purchases(raw)
    methods = [c.method for c in graph.server.calls_to(INSIGHTS)]
    assert methods == ["GET", "POST"]
    polls = graph.server.calls_to(r"/v21\.0/\d+$")
    assert len(polls) == graph.async_polls + 1 and len(sleeps) == graph.async_polls
    assert len(graph.server.calls_to(r"/v21\.0/\d+/insights")) == 1


def test_a_failed_report_run_is_a_transient_error(graph, tmp_path):
    graph.sync_max_days, graph.async_fail = 10, True
    with pytest.raises(TransientError, match="Job Failed"):
        make_source(graph, tmp_path).fetch(Query(metrics=("spend",), range=OCT))


def test_a_report_run_that_never_ends_fails_after_the_maximum(graph, tmp_path):
    graph.sync_max_days, graph.async_polls = 10, 1000
    with pytest.raises(TransientError, match="not complete after 5 s"):
        make_source(graph, tmp_path, max_report_wait=5).fetch(
            Query(metrics=("spend",), range=OCT))


# --- Throttling -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(THROTTLE_MESSAGES))
def test_each_throttling_code_waits_what_the_usage_header_says(graph, tmp_path, code):
    sleeps = Sleeps()
    source = make_source(graph, tmp_path, backoff=1.0, sleeps=sleeps)
    graph.throttle(code, minutes=3)
    table = source.fetch(Query(metrics=("spend",), range=OCT))
    assert table.rows[0]["spend"] == pytest.approx(sum(d.spend for d in rows_of(graph, OCT)))
    assert source.graph.waits == [180.0] and sleeps == [180.0]
    assert len(insights_calls(graph)) == 2
    # The usage header's figures reach the run summary: the throttled reply said 100 %.
    usage = source.context.usage["business_use_case_pct"]
    assert usage.limit == 100 and 0 <= usage.used < 100


def test_waits_are_scaled_by_the_contexts_backoff(graph, tmp_path):
    sleeps = Sleeps()
    source = make_source(graph, tmp_path, sleeps=sleeps)  # retry_backoff 0, as in tests
    graph.throttle(17, minutes=2, times=2)
    source.fetch(Query(metrics=("spend",), range=OCT))
    assert source.graph.waits == [120.0, 120.0] and sleeps == [0.0, 0.0]


def test_a_wait_beyond_the_maximum_fails_clearly(graph, tmp_path):
    sleeps = Sleeps()
    source = make_source(graph, tmp_path, sleeps=sleeps, max_throttle_wait=600)
    graph.throttle(80004, minutes=30)
    with pytest.raises(QuotaExhausted) as raised:
        source.fetch(Query(metrics=("spend",), range=OCT))
    assert "wait 30 minutes, more than max_throttle_wait (600 s)" in str(raised.value)
    assert f"act_{graph.account_id}" in str(raised.value)
    assert raised.value.retry_after == 1800 and sleeps == []


def test_throttling_without_a_wait_backs_off_then_gives_up(graph, tmp_path):
    sleeps = Sleeps()
    source = make_source(graph, tmp_path, backoff=1.0, sleeps=sleeps, max_throttle_wait=10_000)
    graph.throttle(4, minutes=0, times=10)
    with pytest.raises(QuotaExhausted, match="throttled 6 times in a row"):
        source.fetch(Query(metrics=("spend",), range=OCT))
    assert sleeps == [60.0, 120.0, 240.0, 480.0, 960.0]


def test_one_token_shares_one_limiter_across_clients(graph, tmp_path, monkeypatch):
    from kpireport.ratelimit import SharedRateLimiter

    paths = []
    real = SharedRateLimiter.acquire

    def spy(self: SharedRateLimiter) -> float:
        paths.append(self.path)
        return real(self)

    monkeypatch.setattr(SharedRateLimiter, "acquire", spy)
    sep = DateRange(start=dt.date(2026, 9, 1), end=dt.date(2026, 9, 30))
    for client, rng in (("a", OCT), ("b", sep)):
        context = dataclasses.replace(make_context(tmp_path, plugin="meta"), client_id=client)
        settings = MetaSettings(ad_account_id=graph.account_id, graph_url=graph.server.url,
                                access_token=graph.token, calls_per_minute=100)
        MetaSource(settings, context).fetch(Query(metrics=("spend",), range=rng))
    calls = len(graph.server.calls)
    assert calls == 3  # the account (once: cached), each client's insights
    assert len(paths) == calls and len(set(paths)) == 1
    assert graph.token not in str(paths[0])
    assert len(SharedRateLimiter(paths[0], calls=1, period=1)._read()) == calls


# --- Errors -----------------------------------------------------------------------------------


def test_an_expired_token_says_which_and_how_to_renew(graph, tmp_path, monkeypatch):
    monkeypatch.setenv("META_ACCESS_TOKEN", graph.token)
    source = make_source(graph, tmp_path, access_token=None)
    graph.expire_token()
    with pytest.raises(AuthenticationError) as raised:
        source.fetch(Query(metrics=("spend",), range=OCT))
    message = str(raised.value)
    assert "environment variable META_ACCESS_TOKEN" in message and "expired" in message
    assert "System users" in message and "ads_read" in message
    assert graph.token not in message


def test_a_missing_token_is_said_offline_and_at_run_time(graph, tmp_path, monkeypatch):
    monkeypatch.delenv("META_ACCESS_TOKEN", raising=False)
    source = make_source(graph, tmp_path, access_token=None)
    assert source.check() == ["the environment variable META_ACCESS_TOKEN (the system user's "
                              "access token) is not set"]
    with pytest.raises(AuthenticationError, match="META_ACCESS_TOKEN is not set"):
        source.fetch(Query(metrics=("spend",), range=OCT))


@pytest.mark.parametrize("code", [10, 200])
def test_permission_errors_name_the_ad_account(graph, tmp_path, code):
    graph.denied = code
    with pytest.raises(PermissionDenied) as raised:
        make_source(graph, tmp_path).probe()
    assert f"act_{graph.account_id}" in str(raised.value)


def test_a_bad_parameter_is_a_source_error(graph, tmp_path):
    graph.server.fail("GET", INSIGHTS, Reply(status=400, body={"error": {
        "code": 100, "message": "(#100) Invalid parameter", "type": "OAuthException"}}))
    with pytest.raises(SourceError, match="code 100"):
        make_source(graph, tmp_path).fetch(Query(metrics=("spend",), range=OCT))


# --- Settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("settings", "field", "words"), [
    ({"events": ["purchases"]}, "events", "unknown event 'purchases'"),
    ({"events": ["lead"], "result_event": "purchase"}, "", "result_event 'purchase' must be"),
    ({"click_window": None, "view_window": None}, "", "cannot both be null"),
    ({"click_window": "14d"}, "click_window", "'1d', '7d' or '28d'"),
    ({"ad_account_id": "acct-1"}, "ad_account_id", "pattern"),
    ({"api_version": "21"}, "api_version", "pattern"),
    ({"token": "x"}, "token", "Extra inputs are not permitted"),
])
def test_bad_settings_name_the_field(settings, field, words):
    with pytest.raises(pydantic.ValidationError) as raised:
        MetaSettings(**{"ad_account_id": "123", **settings})
    error = raised.value.errors()[0]
    assert ".".join(str(p) for p in error["loc"]) == field
    assert words in str(raised.value)


# --- Pixel health -----------------------------------------------------------------------------


def test_a_silent_pixel_while_spending_is_noted(graph, tmp_path, monkeypatch):
    now = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
    graph.now = now
    monkeypatch.setattr(meta_source, "utcnow", lambda: now)
    paris = dt.timezone(dt.timedelta(hours=1))  # the account's time zone in November
    graph.silence_pixel(dt.datetime(2026, 11, 21, tzinfo=paris),
                        dt.datetime(2026, 11, 22, 6, tzinfo=paris))
    source = make_source(graph, tmp_path, pixel_id=graph.pixel_id)
    source.fetch(Query(metrics=("spend", "ad_purchases"), range=OCT))
    assert graph.server.calls_to(r"/v21\.0/\d+/stats") == []  # October is beyond its reach
    nov = DateRange(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 24))
    table = source.fetch(Query(metrics=("spend", "ad_purchases"), range=nov))
    [gap] = [n for n in table.notes if n.kind is NoteKind.TRACKING_GAP]
    assert gap.dates == (dt.date(2026, 11, 21),)  # the 22nd had events after 6 am
    assert gap.metrics == ("ad_purchases", "spend")
    stats = graph.server.calls_to(r"/v21\.0/\d+/stats")[0]
    assert stats.query["start_time"] == [str(int(dt.datetime(2026, 11, 19,
                                                             tzinfo=paris).timestamp()))]
    # Asked once per report, and only for ranges that reach the stats' last 7 days.
    assert not [n for n in source.fetch(Query(metrics=("spend",), range=OCT)).notes
                if n.kind is NoteKind.TRACKING_GAP]
    asked = len(graph.server.calls_to(r"/v21\.0/\d+/stats"))
    source.fetch(Query(metrics=("spend",), range=nov))
    assert len(graph.server.calls_to(r"/v21\.0/\d+/stats")) == asked


def test_a_back_filled_report_does_not_judge_the_pixel(graph, tmp_path, monkeypatch):
    monkeypatch.setattr(meta_source, "utcnow",
                        lambda: dt.datetime(2026, 12, 10, 9, tzinfo=dt.UTC))
    graph.silence_pixel(dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                        dt.datetime(2026, 12, 31, tzinfo=dt.UTC))
    source = make_source(graph, tmp_path, pixel_id=graph.pixel_id)
    table = source.fetch(Query(metrics=("spend",), range=DateRange(
        start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 24))))
    assert not [n for n in table.notes if n.kind is NoteKind.TRACKING_GAP]
    assert graph.server.calls_to(r"/v21\.0/\d+/stats") == []


# --- The contract suite -----------------------------------------------------------------------


class TestMetaContract(SourceContract):
    @pytest.fixture
    def contract_source(self, source_context, monkeypatch):
        with FakeServer() as server:
            self.server = server
            graph = MetaFake(server, seed=2)
            monkeypatch.setenv("META_ACCESS_TOKEN", graph.token)
            context = dataclasses.replace(source_context, plugin="meta")
            yield MetaSource(MetaSettings(ad_account_id=graph.account_id,
                                          graph_url=server.url, calls_per_minute=10_000,
                                          events=["purchase", "lead", "add_to_cart"]), context)

    def contract_fail(self, status):
        self.server.fail("GET", r"/v21\.0/.*", Reply(status=status), times=20)
        return True

    def contract_calls(self):
        return len(self.server.calls)


def test_a_token_wide_limit_makes_the_other_workers_wait(graph, tmp_path):
    first_sleeps, other_sleeps = Sleeps(), Sleeps()
    first = make_source(graph, tmp_path, backoff=1.0, sleeps=first_sleeps)
    other = make_source(graph, tmp_path, backoff=1.0, sleeps=other_sleeps)  # same state
    graph.throttle(17, minutes=4)  # the user's limit: every call with the token
    first.fetch(Query(metrics=("spend",), range=OCT))
    assert first_sleeps == [240.0]
    # The other never met the limit, yet waits what is left of it before its first call.
    other.fetch(Query(metrics=("spend",), range=DateRange(start=dt.date(2026, 9, 1),
                                                          end=dt.date(2026, 9, 30))))
    assert len(other_sleeps) == 1 and 230 < other_sleeps[0] <= 240
    assert graph.token not in str(other.graph.blocked_file)


def test_an_ad_account_limit_does_not_stop_the_other_accounts(graph, tmp_path):
    first_sleeps, other_sleeps = Sleeps(), Sleeps()
    first = make_source(graph, tmp_path, backoff=1.0, sleeps=first_sleeps)
    other = make_source(graph, tmp_path, backoff=1.0, sleeps=other_sleeps)
    graph.throttle(80004, minutes=4)  # one ad account's limit
    first.fetch(Query(metrics=("spend",), range=OCT))
    other.fetch(Query(metrics=("spend",), range=DateRange(start=dt.date(2026, 9, 1),
                                                          end=dt.date(2026, 9, 30))))
    assert first_sleeps == [240.0] and other_sleeps == []


def test_a_token_wide_limit_beyond_the_maximum_fails_the_others_at_once(graph, tmp_path):
    first = make_source(graph, tmp_path, backoff=1.0, sleeps=Sleeps(), max_throttle_wait=60)
    other = make_source(graph, tmp_path, backoff=1.0, sleeps=Sleeps(), max_throttle_wait=60)
    graph.throttle(4, minutes=10)
    with pytest.raises(QuotaExhausted):
        first.fetch(Query(metrics=("spend",), range=OCT))
    calls = len(graph.server.calls)
    with pytest.raises(QuotaExhausted, match="throttles the token for 10 more minutes"):
        other.fetch(Query(metrics=("spend",), range=OCT))
    assert len(graph.server.calls) == calls  # not asked: the limit holds for the token
