"""Contract 1.0 seen from a source: a remote API source written against ``kpireport`` alone."""

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from api_fake import SECRET, FakeApi
from kpireport_test_api import ApiSettings, ApiSource

from kpireport import (
    AuthenticationError,
    DateRange,
    Filter,
    Granularity,
    Operator,
    PermissionDenied,
    Query,
    QuotaExhausted,
    SourceContext,
    TransientError,
)
from kpireport.secrets import redact
from kpireport.testing import FakeServer, Reply, SourceContract

TODAY = dt.date(2026, 11, 25)
OCT = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
NOV = DateRange(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 24))


@pytest.fixture
def api():
    with FakeServer() as server:
        yield FakeApi(server, currency="USD", timezone="America/Los_Angeles")


def source_for(api, tmp_path, **settings):
    context = SourceContext(name="web", client_id="client-a", timezone=ZoneInfo("Europe/London"),
                            base_dir=tmp_path, today=TODAY,
                            plugin="test_api", state_root=tmp_path / "state")
    values = {"base_url": api.server.url, "account": "123", "client_secret": SECRET,
              **settings}
    return ApiSource(ApiSettings.model_validate(values), context)


def expected(api, rng, channel=None):
    return sum(r["sessions"] for r in api.rows if rng.start <= r["date"] <= rng.end
               and (channel is None or r["channel"] == channel))


def test_a_total_comes_from_the_api_with_its_currency_and_time_zone(api, tmp_path):
    table = source_for(api, tmp_path).fetch(Query(metrics=("sessions",), range=OCT))
    assert table.rows == [{"sessions": expected(api, OCT)}]
    assert (table.currency, table.timezone) == ("USD", "America/Los_Angeles")
    calls = api.server.calls_to(r"/v1/accounts/123:report")
    assert calls[0].json()["start"] == "2026-10-01"
    assert calls[0].headers["Authorization"] == f"Bearer {api.tokens[0]}"


def test_filters_reach_the_api(api, tmp_path):
    organic = Filter(dimension="channel", operator=Operator.EQUALS, values="organic search")
    table = source_for(api, tmp_path).fetch(Query(metrics=("sessions",), range=OCT,
                                                  filters=(organic,)))
    assert table.rows == [{"sessions": expected(api, OCT, "Organic Search")}]
    sent = api.server.calls_to(r"/v1/.*")[0].json()["filters"]
    assert sent == [{"dimension": "channel", "operator": "equals", "values": ["organic search"],
                     "negate": False}]


def test_a_final_answer_is_not_asked_again_but_a_recent_one_is(api, tmp_path):
    source = source_for(api, tmp_path)
    for _ in range(2):
        source.fetch(Query(metrics=("sessions",), range=OCT))
    assert len(api.server.calls_to(r"/v1/.*")) == 1
    # Another source object (next run), same state folder: still served from the cache.
    source_for(api, tmp_path).fetch(Query(metrics=("sessions",), range=OCT))
    assert len(api.server.calls_to(r"/v1/.*")) == 1
    # November's last days are not final: the cache keeps it for an hour, in this run.
    source.fetch(Query(metrics=("sessions",), range=NOV, granularity=Granularity.DAY))
    source.fetch(Query(metrics=("sessions",), range=NOV, granularity=Granularity.DAY))
    assert len(api.server.calls_to(r"/v1/.*")) == 2


def test_the_run_time_token_is_a_secret(api, tmp_path, caplog):
    source = source_for(api, tmp_path)
    source.fetch(Query(metrics=("sessions",), range=OCT))
    token = api.tokens[0]
    assert redact(f"Bearer {token}") == "Bearer ***"


def test_usage_is_recorded(api, tmp_path):
    source = source_for(api, tmp_path)
    source.fetch(Query(metrics=("sessions",), range=OCT))
    usage = source.context.usage["requests_per_day"]
    assert (usage.used, usage.limit) == (1, 10_000)
    assert str(usage) == "1/10000"


@pytest.mark.parametrize("status,error", [(401, AuthenticationError), (403, PermissionDenied),
                                          (429, QuotaExhausted), (503, TransientError)])
def test_api_errors_become_the_contract_errors(api, tmp_path, status, error):
    api.server.fail("POST", r"/v1/.*", Reply(status=status, body={"error": "no"},
                                             headers={"Retry-After": "0"}), times=3)
    with pytest.raises(error) as raised:
        source_for(api, tmp_path).fetch(Query(metrics=("sessions",), range=OCT))
    assert raised.value.fatal == (status != 503)


def test_fetch_many_stops_asking_after_a_fatal_error(api, tmp_path):
    api.server.fail("POST", r"/v1/.*", Reply(status=403, body={}), times=10)
    queries = [Query(metrics=("sessions",), range=OCT), Query(metrics=("sessions",), range=NOV),
               Query(metrics=("revenue",), range=OCT)]
    answers = source_for(api, tmp_path).fetch_many(queries)
    assert list(answers) == queries
    assert all(isinstance(a, PermissionDenied) for a in answers.values())
    assert len(api.server.calls_to(r"/v1/.*")) == 1


def test_the_state_folder_is_private(api, tmp_path):
    source = source_for(api, tmp_path)
    folder = source.context.state_dir
    assert folder == tmp_path / "state" / "plugins" / "test_api"
    assert folder.stat().st_mode & 0o777 == 0o700


def test_next_months_series_asks_only_for_what_is_new(api, tmp_path):
    months = Query(metrics=("sessions",), granularity=Granularity.MONTH,
                   range=DateRange(start=dt.date(2024, 10, 1), end=dt.date(2026, 10, 31)))
    october = source_for(api, tmp_path).fetch(months)
    assert len(october.rows) == 25
    assert october.rows[-1]["sessions"] == expected(api, OCT)
    asked = len(api.server.calls_to(r"/v1/.*"))
    assert asked == 25  # one request a month, each cached on its own once final
    # Next month's report, next month: its series starts and ends a month later.
    context = source_for(api, tmp_path).context
    next_month = ApiSource(source_for(api, tmp_path).settings,
                           dataclasses.replace(context, today=dt.date(2026, 12, 3)))
    later = next_month.fetch(Query(metrics=("sessions",), granularity=Granularity.MONTH,
                                   range=DateRange(start=dt.date(2024, 11, 1),
                                                   end=dt.date(2026, 11, 30))))
    new = [c.json() for c in api.server.calls_to(r"/v1/.*")[asked:]]
    assert [(c["start"], c["end"]) for c in new] == [("2026-11-01", "2026-11-30")]
    assert later.rows[-2] == october.rows[-1]


def test_split_by_month_cuts_the_range_at_month_ends():
    from kpireport import split_by_month

    q = Query(metrics=("sessions",), granularity=Granularity.DAY,
              range=DateRange(start=dt.date(2026, 1, 15), end=dt.date(2026, 3, 2)))
    parts = split_by_month(q)
    assert [(p.range.start, p.range.end) for p in parts] == [
        (dt.date(2026, 1, 15), dt.date(2026, 1, 31)), (dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
        (dt.date(2026, 3, 1), dt.date(2026, 3, 2))]
    assert all(p.granularity is Granularity.DAY and p.metrics == q.metrics for p in parts)
    total = Query(metrics=("sessions",), range=q.range)
    assert split_by_month(total) == [total]


# --- The contract suite, on this source -------------------------------------------------------


class TestApiSourceContract(SourceContract):
    """kpireport.testing's contract suite, as a third party's API source runs it."""

    @pytest.fixture
    def contract_source(self, source_context):
        with FakeServer() as server:
            self.api = FakeApi(server, currency="USD", timezone="America/Los_Angeles")
            context = dataclasses.replace(source_context, plugin="test_api")
            source = ApiSource(ApiSettings(base_url=server.url, account="123",
                                           client_secret=SECRET), context)
            yield source
            source.close()

    def contract_fail(self, status):
        self.api.server.fail("POST", r"/v1/.*", Reply(status=status, body={"error": "no"}),
                             times=10)
        return True

    def contract_calls(self):
        return len(self.api.server.calls_to(r"/v1/.*"))
