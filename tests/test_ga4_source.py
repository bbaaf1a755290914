"""The ga4 source against the kit's GA4 fake: real requests, real google-auth token exchanges
on 127.0.0.1. Expected figures come from the fake's seeded rows (kpireport.testing.fakes.ga4),
computed here by hand: distinct users over the whole range, ratios and means from sums."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from ga4_fixtures import OCTOBER, PROPERTY, REPORTS, SA_EMAIL, TODAY, google_fake
from pydantic import ValidationError

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
    Table,
    TransientError,
)
from kpireport.testing import Reply, make_context
from kpireport.testing.fakes.ga4 import GA4Error, GA4Fake
from kpireport_ga4 import Ga4Settings

pytestmark = pytest.mark.usefixtures("only_localhost")

OCT = DateRange(start=OCTOBER[0], end=OCTOBER[1])


@pytest.fixture
def google(tmp_path):
    yield from google_fake(tmp_path)


def total(rows, metric):
    return sum(r.metrics[metric] for r in rows)


def users(rows):
    return len(frozenset().union(*(r.users for r in rows)))


def events(rows, *names):
    return sum(r.key_events[n] for r in rows for n in names)


def table(answer) -> Table:
    assert isinstance(answer, Table), answer
    return answer


# --- Settings ------------------------------------------------------------------------------


def test_settings_name_the_field_and_what_was_expected():
    auth = {"service_account_file": "key.json"}
    with pytest.raises(ValidationError) as raised:
        Ga4Settings(property_id="G-ABC123", auth=auth)
    assert "property_id" in str(raised.value) and "measurement id" in str(raised.value)
    assert Ga4Settings(property_id="properties/42", auth=auth).property_id == "42"
    with pytest.raises(ValidationError) as raised:
        Ga4Settings(property_id="42", auth=auth, leads=["generate lead"])
    assert "leads" in str(raised.value) and "'generate lead'" in str(raised.value)
    with pytest.raises(ValidationError) as raised:
        Ga4Settings(property_id="42", auth={})
    assert "exactly one of service_account_file" in str(raised.value)
    with pytest.raises(ValidationError) as raised:
        Ga4Settings(property_id="42", auth=auth, property="x")
    assert "property" in str(raised.value) and "Extra inputs" in str(raised.value)


def test_check_names_a_missing_key_file_offline(google):
    source = google.source(auth={"service_account_file": "nowhere.json"})
    [message] = source.check()
    assert "auth.service_account_file" in message and "nowhere.json" in message
    assert google.server.calls == []


# --- Figures -------------------------------------------------------------------------------


def test_web_kpis_are_the_figures_ga4_computes_for_the_whole_range(google):
    source = google.source(leads=["generate_lead", "form_submit"], conversions=["sign_up"])
    metrics = ("sessions", "users", "new_users", "pageviews", "engaged_sessions",
               "avg_session_duration", "engagement_rate", "engagement_duration",
               "time_on_page", "leads", "conversions", "conversion_rate", "transactions",
               "revenue")
    query = Query(metrics=metrics, range=OCT)
    got = table(source.fetch_many([query])[query])
    [row] = got.rows
    rows = google.rows(*OCTOBER)
    sessions = total(rows, "sessions")
    assert row["sessions"] == sessions
    # Distinct people over the month: fewer than the sum of each day's.
    daily = sum(users([r for r in rows if r.date == d]) for d in OCT.iter_days())
    assert row["users"] == users(rows) < daily
    assert row["new_users"] == total(rows, "newUsers")
    assert row["pageviews"] == total(rows, "screenPageViews")
    assert row["engaged_sessions"] == total(rows, "engagedSessions")
    assert row["avg_session_duration"] == pytest.approx(total(rows, "sessionDuration") / sessions)
    assert row["engagement_rate"] == pytest.approx(total(rows, "engagedSessions") / sessions)
    assert row["engagement_duration"] == total(rows, "userEngagementDuration")
    assert row["time_on_page"] == pytest.approx(
        total(rows, "userEngagementDuration") / total(rows, "screenPageViews"))
    assert row["leads"] == events(rows, "generate_lead", "form_submit")
    assert row["conversions"] == events(rows, "sign_up")
    assert row["conversion_rate"] == pytest.approx(events(rows, "sign_up") / sessions)
    assert row["transactions"] == total(rows, "transactions")
    assert row["revenue"] == pytest.approx(total(rows, "purchaseRevenue"))
    # The property's currency and time zone, from the reply's metadata.
    assert (got.currency, got.timezone) == ("EUR", "Europe/Paris")
    assert got.notes == []
    # More than ten GA4 metrics: two requests of one batch, joined again.
    [call] = google.server.calls_to(REPORTS)
    asked = [[m["name"] for m in r["metrics"]] for r in call.json()["requests"]]
    assert call.path.endswith(":batchRunReports") and [len(a) for a in asked] == [10, 2]
    assert {"keyEvents:generate_lead", "keyEvents:form_submit", "keyEvents:sign_up",
            "totalUsers", "purchaseRevenue"} <= {m for a in asked for m in a}


def test_conversions_are_every_key_event_unless_events_are_named(google):
    source = google.source()
    assert "leads" not in source.metrics()
    query = Query(metrics=("conversions",), range=OCT)
    assert table(source.fetch_many([query])[query]).value("conversions") == total(
        google.rows(*OCTOBER), "keyEvents")
    leads = Query(metrics=("leads",), range=OCT)
    error = source.fetch_many([leads])[leads]
    assert isinstance(error, SourceError) and "set `leads:`" in str(error)


def test_days_and_months_each_bucket_computed_by_ga4(google):
    source = google.source()
    rng = DateRange(start=dt.date(2026, 9, 1), end=dt.date(2026, 10, 31))
    by_day = Query(metrics=("sessions", "users"), range=rng, granularity=Granularity.DAY)
    by_month = Query(metrics=("sessions", "users"), range=rng, granularity=Granularity.MONTH)
    answers = source.fetch_many([by_day, by_month])
    days = table(answers[by_day]).rows
    assert [r["date"] for r in days] == list(rng.iter_days())  # YYYYMMDD parsed, in order
    assert all(r["users"] == users(google.rows(r["date"], r["date"])) for r in days)
    months = table(answers[by_month]).rows
    assert [(r["month"], r["sessions"], r["users"]) for r in months] == [
        (dt.date(2026, 9, 1), total(google.rows(rng.start, dt.date(2026, 9, 30)), "sessions"),
         users(google.rows(rng.start, dt.date(2026, 9, 30)))),
        (dt.date(2026, 10, 1), total(google.rows(*OCTOBER), "sessions"),
         users(google.rows(*OCTOBER)))]
    # Cached month by month, but asked in one request a shape over both months (their rows
    # carry their dates), the two in one batch.
    [call] = google.server.calls_to(REPORTS)
    assert [r["dateRanges"] for r in call.json()["requests"]] == [
        [{"startDate": "2026-09-01", "endDate": "2026-10-31"}]] * 2
    assert [[d["name"] for d in r["dimensions"]] for r in call.json()["requests"]] == [
        ["date"], ["yearMonth"]]


def test_dimensions_filters_and_the_top_n(google):
    source = google.source()
    organic = Query(metrics=("sessions",), range=OCT, filters=(
        Filter(dimension="channel", operator=Operator.EQUALS, values=("organic search",)),))
    not_mobile = Query(metrics=("sessions",), range=OCT, dimensions=("source",), filters=(
        Filter(dimension="device", operator=Operator.EQUALS, values=("mobile",), negate=True),))
    top = Query(metrics=("pageviews", "sessions"), range=OCT, dimensions=("page", "page_title"),
                order=(Order(metric="pageviews"),), limit=3)
    answers = source.fetch_many([organic, not_mobile, top])
    rows = google.rows(*OCTOBER)
    assert table(answers[organic]).value("sessions") == total(
        [r for r in rows if r.channel == "Organic Search"], "sessions")
    by_source = {r["source"]: r["sessions"] for r in table(answers[not_mobile]).rows}
    expected: dict[str, float] = {}
    for r in rows:
        if r.device != "mobile":
            key = r.dimension("sessionSourceMedium")
            expected[key] = expected.get(key, 0) + r.metrics["sessions"]
    assert by_source == expected and "google / organic" in by_source
    pages: dict[str, float] = {}
    for r in rows:
        pages[r.page] = pages.get(r.page, 0) + r.metrics["screenPageViews"]
    best = sorted(pages.items(), key=lambda kv: -kv[1])[:3]
    assert [(r["page"], r["pageviews"]) for r in table(answers[top]).rows] == best
    bodies = [r for c in google.server.calls_to(REPORTS) for r in c.json()["requests"]]
    [top_body] = [b for b in bodies if "orderBys" in b]
    assert top_body["orderBys"] == [{"metric": {"metricName": "screenPageViews"}, "desc": True}]
    assert top_body["limit"] == "3"
    assert {"notExpression": {"filter": {"fieldName": "deviceCategory", "stringFilter": {
        "matchType": "EXACT", "value": "mobile", "caseSensitive": False}}}} in [
        b.get("dimensionFilter") for b in bodies]


def test_a_top_n_of_a_derived_metric_is_ordered_here(google):
    source = google.source()
    top = Query(metrics=("engagement_rate",), range=OCT, dimensions=("channel",),
                order=(Order(metric="engagement_rate", descending=False),), limit=2)
    rows = table(source.fetch_many([top])[top]).rows
    sums: dict[str, list[float]] = {}
    for r in google.rows(*OCTOBER):
        acc = sums.setdefault(r.channel, [0, 0])
        acc[0] += r.metrics["engagedSessions"]
        acc[1] += r.metrics["sessions"]
    lowest = sorted((e / s, c) for c, (e, s) in sums.items())[:2]
    assert [(r["channel"], pytest.approx(r["engagement_rate"])) for r in rows] == [
        (c, rate) for rate, c in lowest]
    [call] = google.server.calls_to(REPORTS)
    assert "orderBys" not in call.json()


def test_paging_follows_offsets_to_row_count(google):
    source = google.source(page_size=7)
    query = Query(metrics=("sessions",), range=OCT, dimensions=("page", "country", "device"))
    rows = table(source.fetch_many([query])[query]).rows
    groups = {(r.page, r.country, r.device) for r in google.rows(*OCTOBER)}
    assert len(rows) == len(groups) > 3 * 7
    assert {(r["page"], r["country"], r["device"]) for r in rows} == groups
    assert sum(r["sessions"] for r in rows) == total(google.rows(*OCTOBER), "sessions")
    calls = google.server.calls_to(REPORTS)
    offsets = [c.json().get("offset") for c in calls]
    assert offsets == [None] + [str(7 * i) for i in range(1, len(calls))]
    assert all(c.json()["limit"] == "7" for c in calls)


# --- Notes -----------------------------------------------------------------------------------


def test_thresholding_sampling_and_other_rows_are_noted_on_the_figures(tmp_path):
    for google in google_fake(tmp_path, thresholding=True, sampling=0.25, cardinality=4):
        source = google.source()
        query = Query(metrics=("users", "sessions"), range=OCT, dimensions=("page",))
        got = table(source.fetch_many([query])[query])
        kinds = {n.kind: n for n in got.notes}
        assert set(kinds) == {NoteKind.THRESHOLDED, NoteKind.SAMPLED, NoteKind.OTHER}
        assert all(n.metrics == ("users", "sessions") for n in got.notes)
        assert "25.0 %" in kinds[NoteKind.SAMPLED].message
        assert "(other)" in kinds[NoteKind.OTHER].message
        assert "(other)" in {r["page"] for r in got.rows} and len(got.rows) == 4


def test_days_not_final_are_noted_and_not_kept_for_good(google):
    source = google.source()
    november = DateRange(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 24))
    query = Query(metrics=("sessions",), range=november, granularity=Granularity.DAY)
    got = table(source.fetch_many([query])[query])
    [note] = got.notes
    assert note.kind is NoteKind.INCOMPLETE and note.metrics == ("sessions",)
    # The last two days before the run date, and one more for the property's time zone.
    assert note.dates == (dt.date(2026, 11, 22), dt.date(2026, 11, 23), dt.date(2026, 11, 24))
    # Final months are kept for good; November, not final, only for a while: a later run
    # (the cache's clock moved past its life) asks for it again, October never.
    octo = Query(metrics=("sessions",), range=OCT, granularity=Granularity.DAY)
    source.fetch_many([octo])
    later = google.source()
    later.context.cache.clock = lambda: 4e9
    before = google.api_calls()
    later.fetch_many([query, octo])
    assert google.api_calls() == before + 1
    [call] = google.server.calls_to(REPORTS)[before:]
    assert call.json()["dateRanges"] == [{"startDate": "2026-11-01", "endDate": "2026-11-24"}]


def test_a_second_run_and_next_months_report_ask_only_what_is_new(google):
    series = Query(metrics=("sessions", "users"), granularity=Granularity.MONTH,
                   range=DateRange(start=dt.date(2026, 9, 1), end=dt.date(2026, 10, 31)))
    google.source().fetch_many([series])
    first = google.api_calls()
    google.source().fetch_many([series])  # a re-render, a preview, a second run
    assert google.api_calls() == first
    # Next month: the series gains November; September and October come from the cache.
    next_context = make_context(google.tmp_path, plugin="ga4", today=dt.date(2026, 12, 28))
    longer = dataclasses.replace(series, range=DateRange(start=dt.date(2026, 9, 1),
                                                         end=dt.date(2026, 11, 30)))
    got = table(google.source(next_context).fetch_many([longer])[longer])
    assert [r["month"].month for r in got.rows] == [9, 10, 11]
    asked = [r for c in google.server.calls_to(REPORTS)[first:]
             for r in c.json().get("requests", [c.json()])]
    assert [b["dateRanges"] for b in asked] == [[{"startDate": "2026-11-01",
                                                  "endDate": "2026-11-30"}]]


# --- Quota, concurrency, speed ------------------------------------------------------------------


def test_what_is_left_of_the_quota_reaches_the_run_summary(google):
    source = google.source()
    query = Query(metrics=("sessions",), range=OCT)
    source.fetch_many([query])
    assert all(c.json()["returnPropertyQuota"] is True for c in google.server.calls_to(REPORTS))
    used = google.ga4.quota.used
    assert str(source.context.usage["tokensPerDay"]) == f"{used}/200000"
    assert str(source.context.usage["tokensPerHour"]) == f"{used}/40000"


def test_exhausted_tokens_stop_the_source_for_the_run(tmp_path):
    for google in google_fake(tmp_path, tokens_per_day=20, tokens_per_request=10):
        source = google.source(concurrent_requests=1)
        queries = [Query(metrics=("sessions",), range=OCT, granularity=Granularity.DAY,
                         dimensions=dims) for dims in
                   [(), ("channel",), ("device",), ("country",), ("page",), ("source",),
                    ("page_title",), ("landing_page",), ("channel", "device"),
                    ("country", "device"), ("page", "device"), ("source", "device")]]
        answers = source.fetch_many(queries)
        # Twelve reports, three batches: the first answered (its 50 tokens overrun the
        # day's 20), the second refused with a 429, the third never sent.
        assert len(google.server.calls_to(REPORTS)) == 2
        refused = [a for a in answers.values() if isinstance(a, QuotaExhausted)]
        assert len(refused) == 7 and "tokens per day" in str(refused[0])
        assert sum(isinstance(a, Table) for a in answers.values()) == 5
        again = source.fetch_many(queries[:1])
        assert isinstance(again[queries[0]], QuotaExhausted)
        assert len(google.server.calls_to(REPORTS)) == 2
        assert str(source.context.usage["tokensPerDay"]) == "200000/200000"


def test_never_more_requests_at_once_than_the_property_allows(tmp_path):
    for google in google_fake(tmp_path, concurrent_requests=3, work=0.05):
        source = google.source(concurrent_requests=3)
        queries = [Query(metrics=(metric,), range=OCT, dimensions=(dim,)) for dim in
                   ("channel", "device", "country", "page", "source", "page_title",
                    "landing_page") for metric in ("sessions", "users", "pageviews", "revenue")]
        answers = source.fetch_many(queries)
        assert all(isinstance(a, Table) for a in answers.values())
        # 28 reports in six batches, three at a time: in parallel, never refused.
        assert len(google.server.calls_to(REPORTS)) == 6
        assert 2 <= google.ga4.most_in_flight <= 3


def _fetch_in_a_worker(google, run, name, queries, out):
    source = google.source(make_context(run, plugin="ga4", today=TODAY, name=name),
                           concurrent_requests=2)
    answers = source.fetch_many(queries)
    out.put(sorted(str(a) for a in answers.values() if not isinstance(a, Table)))


@pytest.mark.workers
def test_worker_processes_share_the_propertys_concurrent_requests(tmp_path):
    # Two reports of two clients of one property in two worker processes (forked, as
    # `kpireport run` forks them), one state folder: each may have two requests in
    # progress; together they still have two, never a 429.
    import multiprocessing

    fork = multiprocessing.get_context("fork")
    for google in google_fake(tmp_path, concurrent_requests=2, work=0.05):
        run = tmp_path / "run"
        run.mkdir()
        (run / "key.json").write_bytes((tmp_path / "key.json").read_bytes())
        queries = [Query(metrics=(metric,), range=OCT, dimensions=(dim,)) for dim in
                   ("channel", "device", "country", "page") for metric in
                   ("sessions", "users", "pageviews", "revenue", "transactions")]
        out = fork.Queue()
        workers = [fork.Process(target=_fetch_in_a_worker,
                                args=(google, run, f"web{i}", queries, out))
                   for i in range(2)]
        for worker in workers:
            worker.start()
        failures = [out.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=10)
        assert failures == [[], []]
        assert len(google.server.calls_to(REPORTS)) == 8  # four batches each
        assert google.server.max_concurrency(REPORTS) == 2
        assert google.ga4.most_in_flight == 2


# --- Errors ------------------------------------------------------------------------------------


def one(source, query=None):
    query = query or Query(metrics=("sessions",), range=OCT)
    return source.fetch_many([query])[query]


def test_a_bad_request_says_what_google_said(google):
    google.ga4.fail(400, message="Field foo is not a valid dimension.")
    error = one(google.source())
    assert type(error) is SourceError
    assert f"GA4 property {PROPERTY}: Field foo is not a valid dimension." in str(error)


def test_one_request_google_refuses_costs_only_its_own_figures(google, monkeypatch):
    # Google answers 400 to a whole batch for one request it refuses (an incompatible
    # dimension and metric): the others are asked again alone and answered.
    report = GA4Fake._report

    def refuse_devices(self, body):
        if [d["name"] for d in body.get("dimensions") or []] == ["deviceCategory"]:
            raise GA4Error(400, "INVALID_ARGUMENT",
                           "Please remove deviceCategory to make the request compatible.")
        return report(self, body)

    monkeypatch.setattr(GA4Fake, "_report", refuse_devices)
    by_device = Query(metrics=("sessions",), range=OCT, dimensions=("device",))
    by_channel = Query(metrics=("sessions",), range=OCT, dimensions=("channel",))
    whole = Query(metrics=("sessions",), range=OCT)
    answers = google.source().fetch_many([by_device, by_channel, whole])
    assert "Please remove deviceCategory" in str(answers[by_device])
    assert isinstance(answers[by_device], SourceError)
    assert table(answers[whole]).value("sessions") == total(google.rows(*OCTOBER), "sessions")
    assert sum(r["sessions"] for r in table(answers[by_channel]).rows) == \
        total(google.rows(*OCTOBER), "sessions")
    calls = google.server.calls_to(REPORTS)
    assert [c.path.rsplit(":", 1)[1] for c in calls] == [
        "batchRunReports", "runReport", "runReport", "runReport"]


def test_a_property_the_service_account_cannot_read_names_both(google):
    source = google.source(property_id="987654321")
    error = one(source)
    assert isinstance(error, PermissionDenied)
    assert "GA4 property 987654321" in str(error) and SA_EMAIL in str(error)
    assert len(google.server.calls_to(REPORTS)) == 1
    assert isinstance(one(source), PermissionDenied)  # not asked again in this run
    assert len(google.server.calls_to(REPORTS)) == 1


def test_a_refused_token_is_an_authentication_error(google):
    google.ga4.fail(401, times=5)
    error = one(google.source())
    assert isinstance(error, AuthenticationError)
    assert "GA4 property" in str(error) and SA_EMAIL in str(error)
    assert len(google.server.calls_to(REPORTS)) == 2  # one new token, then it gives up


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried(google, status):
    google.ga4.fail(status, times=2)
    got = one(google.source())
    assert table(got).value("sessions") == total(google.rows(*OCTOBER), "sessions")
    assert len(google.server.calls_to(REPORTS)) == 3


def test_server_errors_that_last_are_transient(google):
    google.ga4.fail(503, times=20)
    error = one(google.source())
    assert isinstance(error, TransientError) and "HTTP 503" in str(error)


def test_a_hung_google_is_a_timeout(google):
    google.server.fail("POST", REPORTS, Reply(hang=True), times=10)
    error = one(google.source(timeout=0.3))
    assert isinstance(error, TransientError) and "did not answer within 0.3 s" in str(error)


def test_slow_answers_within_the_timeout_are_waited_for(tmp_path):
    for google in google_fake(tmp_path, latency=0.2):
        got = one(google.source(timeout=2))
        assert table(got).value("sessions") == total(google.rows(*OCTOBER), "sessions")


def test_a_token_that_expires_in_the_middle_of_a_report_is_renewed_once(tmp_path, monkeypatch):
    answered = []
    original = GA4Fake._batch_run_reports

    def expire_after_first(self, call):
        reply = original(self, call)
        answered.append(call)
        if len(answered) == 1:
            for token in self.oauth.live_tokens():
                self.oauth.expire(token)
        return reply

    monkeypatch.setattr(GA4Fake, "_batch_run_reports", expire_after_first)
    for google in google_fake(tmp_path):
        source = google.source(concurrent_requests=1)
        queries = [Query(metrics=("sessions",), range=OCT, dimensions=(d,))
                   for d in ("channel", "device", "country", "page", "source", "page_title",
                             "landing_page")]
        answers = source.fetch_many(queries)
        assert all(isinstance(a, Table) for a in answers.values())
        assert len(google.server.calls_to(r"/token")) == 2
        # Two batches, the second one twice: refused with the expired token, then answered.
        assert len(google.server.calls_to(REPORTS)) == 3


def test_the_source_loads_as_a_plugin(kpireport_plugins):
    plugins = kpireport_plugins()  # a built-in: registered by its entry point
    assert plugins.sources["ga4"].item.__name__ == "Ga4Source"
    assert TODAY == dt.date(2026, 11, 25)


# --- Requests and replies, without the network -----------------------------------------------


def test_values_are_parsed_by_their_metric_header_type():
    from kpireport_ga4.reports import parse_time, parse_value

    assert parse_value("42", "TYPE_INTEGER") == 42.0
    assert parse_value("1500", "TYPE_MILLISECONDS") == 1.5
    assert parse_value("2", "TYPE_MINUTES") == 120.0
    assert parse_value("12.5", "TYPE_SECONDS") == 12.5
    assert parse_value("19.99", "TYPE_CURRENCY") == 19.99
    assert parse_value("", "TYPE_FLOAT") is None
    with pytest.raises(SourceError, match="'n/a' for a metric of type TYPE_FLOAT"):
        parse_value("n/a", "TYPE_FLOAT")
    assert parse_time("20261031", Granularity.DAY) == dt.date(2026, 10, 31)
    assert parse_time("202610", Granularity.MONTH) == dt.date(2026, 10, 1)
    with pytest.raises(SourceError, match="as a date"):
        parse_time("2026-10", Granularity.DAY)


def test_filters_become_a_ga4_filter_expression():
    from kpireport_ga4.reports import dimension_filter

    assert dimension_filter([
        Filter(dimension="country", operator=Operator.IN, values=("France", "Japan")),
        Filter(dimension="page", operator=Operator.REGEX, values=("^/blog/",),
               case_sensitive=True),
        Filter(dimension="source", operator=Operator.CONTAINS, values=("google",),
               negate=True),
    ]) == {"andGroup": {"expressions": [
        {"filter": {"fieldName": "country", "inListFilter": {
            "values": ["France", "Japan"], "caseSensitive": False}}},
        {"filter": {"fieldName": "pagePath", "stringFilter": {
            "matchType": "PARTIAL_REGEXP", "value": "^/blog/", "caseSensitive": True}}},
        {"notExpression": {"filter": {"fieldName": "sessionSourceMedium", "stringFilter": {
            "matchType": "CONTAINS", "value": "google", "caseSensitive": False}}}},
    ]}}


def test_filters_sent_to_ga4_keep_the_rows_kpireport_would(google):
    source = google.source()
    query = Query(metrics=("sessions",), range=OCT, dimensions=("page",), filters=(
        Filter(dimension="page", operator=Operator.REGEX, values=("^/blog/",)),
        Filter(dimension="country", operator=Operator.IN, values=("france", "japan"))))
    rows = table(source.fetch_many([query])[query]).rows
    expected: dict[str, float] = {}
    for r in google.rows(*OCTOBER):
        if r.page.startswith("/blog/") and r.country in ("France", "Japan"):
            expected[r.page] = expected.get(r.page, 0) + r.metrics["sessions"]
    assert {r["page"]: r["sessions"] for r in rows} == expected and expected


def test_the_agencys_own_google_account_and_its_revocation(google):
    from kpireport_google.accounts import ConnectedAccount, save_account

    info = google.oauth.authorized_user_info()
    context = make_context(google.tmp_path, plugin="ga4", today=TODAY)
    assert context.state_root is not None
    save_account(context.state_root, ConnectedAccount(
        name="agency", client_id=info["client_id"], client_secret=info["client_secret"],
        refresh_token=info["refresh_token"], token_uri=info["token_uri"],
        scopes=("https://www.googleapis.com/auth/analytics.readonly",),
        email="reports@agency.example"))
    source = google.source(context, auth={"account": "agency"})
    got = one(source)
    assert table(got).value("sessions") == total(google.rows(*OCTOBER), "sessions")
    # The agency's user revoked kpireport's access: the next run says how to renew it.
    google.oauth.revoke_refresh_token(info["refresh_token"])
    google.oauth.revoke_all()
    later = google.source(make_context(google.tmp_path, plugin="ga4", today=TODAY),
                          auth={"account": "agency"})
    error = one(later, Query(metrics=("users",), range=OCT))
    assert isinstance(error, AuthenticationError)
    assert "kpireport connect google CONFIG --name agency" in str(error)
    assert info["refresh_token"] not in str(error)


def test_a_360_propertys_quota_is_shown_against_its_own_limit(tmp_path):
    for google in google_fake(tmp_path, tokens_per_day=2_000_000, tokens_per_hour=400_000):
        source = google.source(analytics_360=True)
        one(source)
        used = google.ga4.quota.used
        assert str(source.context.usage["tokensPerDay"]) == f"{used}/2000000"
        assert str(source.context.usage["tokensPerHour"]) == f"{used}/400000"
