"""The contract suite catches wrong sources: it runs (with pytest's ``pytester``) on a correct
in-memory source and on three wrong ones, each failing the one test about what it does wrong,
with a message saying what to fix."""

import pytest

pytest_plugins = ["pytester"]

SOURCES = '''
import dataclasses
import datetime as dt
import random

import pytest
from pydantic import SecretStr

from kpireport import (
    STANDARD_METRICS,
    AuthenticationError,
    Capabilities,
    Granularity,
    MetricSpec,
    MissingDays,
    PermissionDenied,
    QuotaExhausted,
    Source,
    SourceError,
    SourceSettings,
    Table,
    TransientError,
    aggregate_rows,
)
from kpireport.testing import SourceContract

ERRORS = {401: AuthenticationError, 403: PermissionDenied, 429: QuotaExhausted,
          503: TransientError}
SPECS = {"sessions": STANDARD_METRICS["sessions"]}


def _data():
    rnd = random.Random(3)
    rows, visitors = [], {}
    day = dt.date(2026, 9, 1)
    while day <= dt.date(2026, 11, 24):
        for channel in ("Direct", "Email", "Organic Search"):
            rows.append({"date": day, "channel": channel, "sessions": rnd.randint(10, 90)})
        visitors[day] = set(rnd.sample(range(500), 60))  # who came that day
        day += dt.timedelta(days=1)
    return rows, visitors


ROWS, VISITORS = _data()


class Settings(SourceSettings):
    api_key: SecretStr = SecretStr("settings-key-0123456789")


class MemorySource(Source[Settings]):
    """A correct source: an API's answers are computed from the visits above."""

    name = "memory"
    Settings = Settings
    missing_days = MissingDays.ZERO

    def __init__(self, settings, context):
        super().__init__(settings, context)
        self.calls = 0
        self.fail_status = None
        self.answers = {}

    def metrics(self):
        return {"sessions": STANDARD_METRICS["sessions"], "users": STANDARD_METRICS["users"]}

    def capabilities(self):
        return Capabilities(dimensions=("channel",))

    def fetch(self, query):
        if query not in self.answers:
            self.answers[query] = self.ask(query)
        return self.answers[query]

    def ask(self, query):
        self.calls += 1
        if self.fail_status:
            token = "tok-run-time-ABCDEF123456"  # obtained from the API, say
            self.context.register_secret(token)
            raise ERRORS[self.fail_status](self.refusal(token))
        (metric,) = query.metrics
        if metric == "sessions":
            return Table(query=query, rows=aggregate_rows(ROWS, SPECS, query))
        if query.dimensions:
            raise SourceError("unique users cannot be split by channel")
        rows = [{**key, "users": float(self.unique(days))} for key, days in buckets(query)]
        return Table(query=query, rows=rows)

    def refusal(self, token):
        return f"the API answered HTTP {self.fail_status}"

    def unique(self, days):
        return len(set().union(*(VISITORS[d] for d in days)))


def buckets(query):
    days = [d for d in query.range.iter_days() if d in VISITORS]
    if query.granularity is Granularity.DAY:
        return [({"date": d}, [d]) for d in days]
    if query.granularity is Granularity.MONTH:
        months = {}
        for d in days:
            months.setdefault(d.replace(day=1), []).append(d)
        return [({"month": m}, ds) for m, ds in months.items()]
    return [({}, days)] if days else []


class SummingSource(MemorySource):
    """Wrong: adds up each day's unique users, so who comes back counts twice."""

    def unique(self, days):
        return sum(len(VISITORS[d]) for d in days)


class TwoRowsSource(MemorySource):
    """Wrong: a total comes back in two halves (the API's two pages, say)."""

    def ask(self, query):
        table = super().ask(query)
        if query.granularity is Granularity.TOTAL and not query.dimensions and table.rows:
            (metric,) = query.metrics
            half = {metric: table.rows[0][metric] / 2}
            table = dataclasses.replace(table, rows=[half, dict(half)])
        return table


class LeakySource(MemorySource):
    """Wrong: quotes its access token in its error messages."""

    def refusal(self, token):
        return f"the API refused the access token {token}"


class CallingSource(MemorySource):
    """Wrong: tries the token on the API in check(), which kpireport validate calls offline."""

    def check(self):
        import socket

        with socket.create_connection(("127.0.0.1", 9), timeout=1):
            pass
        return []


class SummedUsersSource(MemorySource):
    """Wrong: declares unique users additive."""

    def metrics(self):
        return {**super().metrics(), "users": MetricSpec(name="users")}


class UnorderedSource(MemorySource):
    """Wrong: ignores order and limit."""

    def ask(self, query):
        return super().ask(dataclasses.replace(query, order=(), limit=None))


class EmptyRangeSource(MemorySource):
    """Wrong (as a test): its fake serves nothing over the suite's range, so every check
    would pass or skip without judging anything."""

    def ask(self, query):
        return Table(query=query, rows=[])


class TestGood(SourceContract):
    source_class = MemorySource

    @pytest.fixture
    def contract_source(self, source_context):
        self.source = self.source_class(Settings(), source_context)
        return self.source

    def contract_fail(self, status):
        self.source.fail_status = status
        return True

    def contract_calls(self):
        return self.source.calls


class TestSumming(TestGood):
    source_class = SummingSource


class TestTwoRows(TestGood):
    source_class = TwoRowsSource


class TestLeaky(TestGood):
    source_class = LeakySource


class TestCalling(TestGood):
    source_class = CallingSource


class TestSummedUsers(TestGood):
    source_class = SummedUsersSource


class TestUnordered(TestGood):
    source_class = UnorderedSource


class TestEmptyRange(TestGood):
    source_class = EmptyRangeSource


class TestForgotten(SourceContract):
    """Wrong: does not say which source to test."""
'''




_RUN: dict[str, tuple] = {}


@pytest.fixture
def run(pytester):
    """The suite's outcomes on the sources above: (failed, passed) by test class, the test
    names and their messages. Run once for this module's tests."""
    if "run" not in _RUN:
        _RUN["run"] = _run(pytester)
    return _RUN["run"]


def _run(pytester):
    pytester.makepyfile(test_sources=SOURCES)
    reports = pytester.inline_run("-p", "no:cacheprovider").getreports(
        "pytest_runtest_logreport")
    failed: dict[str, dict[str, str]] = {}
    errors: dict[str, dict[str, str]] = {}
    passed: dict[str, set[str]] = {}
    for report in reports:
        cls, test = report.nodeid.split("::")[1:3]
        if report.failed:
            into = failed if report.when == "call" else errors
            into.setdefault(cls, {})[test] = str(report.longrepr)
        elif report.passed and report.when == "call":
            passed.setdefault(cls, set()).add(test)
    assert list(errors) == ["TestForgotten"]  # no other test fails in setup or teardown
    failed["TestForgotten"] = errors["TestForgotten"]
    return failed, passed


def test_a_correct_source_passes_every_test(run):
    failed, passed = run
    assert "TestGood" not in failed, failed.get("TestGood")
    assert len(passed["TestGood"]) == 14  # nothing skipped: the source offers it all


def test_a_distinct_count_summed_over_days_is_caught(run):
    failed, _ = run
    assert list(failed["TestSumming"]) == ["test_a_distinct_count_is_not_the_sum_of_its_days"]
    message = failed["TestSumming"]["test_a_distinct_count_is_not_the_sum_of_its_days"]
    assert "exactly the sum of its" in message
    assert "must be counted over the range as a whole, not summed from days" in message


def test_two_rows_for_a_total_are_caught(run):
    failed, _ = run
    assert list(failed["TestTwoRows"]) == ["test_a_total_without_dimensions_is_at_most_one_row"]
    message = failed["TestTwoRows"]["test_a_total_without_dimensions_is_at_most_one_row"]
    assert "sessions in total over 2026-10-01..2026-10-31" in message
    assert "returned 2 rows" in message and "a total without dimensions is one row" in message


def test_a_token_in_an_error_message_is_caught_without_printing_it(run):
    failed, _ = run
    assert sorted(failed["TestLeaky"]) == [
        f"test_api_errors_become_the_contract_errors_without_secrets[{status}]"
        for status in (401, 403, 429, 503)]
    for message in failed["TestLeaky"].values():
        assert "message shows a secret (tok…)" in message
        assert "without the token, key or password" in message
        assert "ABCDEF123456" not in message  # the report itself does not leak it


def test_a_suite_without_a_source_says_how_to_give_it(run):
    failed, passed = run
    assert "TestForgotten" not in passed
    assert len(failed["TestForgotten"]) == 14
    for message in failed["TestForgotten"].values():
        assert ("TestForgotten does not say which source to test: define a fixture method "
                "`contract_source(self, source_context)`") in message


def test_a_network_call_in_check_is_caught(run):
    failed, _ = run
    assert list(failed["TestCalling"]) == ["test_metrics_and_capabilities_make_no_network_call"]
    message = failed["TestCalling"]["test_metrics_and_capabilities_make_no_network_call"]
    assert "a connection to 127.0.0.1:9 was attempted" in message
    assert "metrics(), capabilities() and check() must not call the API" in message


def test_a_standard_metric_with_another_aggregation_is_caught(run):
    failed, _ = run
    name = "test_standard_metrics_keep_their_aggregation_and_unit"
    assert list(failed["TestSummedUsers"]) == [name]
    assert ("metric 'users' is declared with aggregation sum, but the standard metric 'users' "
            "(Unique visitors (distinct over the range)) is distinct") in failed[
        "TestSummedUsers"][name]


def test_a_top_n_that_ignores_the_order_is_caught(run):
    failed, _ = run
    name = "test_top_n_is_the_first_n_rows_in_the_order_asked"
    assert list(failed["TestUnordered"]) == [name]
    message = failed["TestUnordered"][name]
    assert "sessions in total over 2026-10-01..2026-10-31, split by channel, highest sessions " \
           "first, top 2" in message
    assert "keep at most query.limit rows" in message


def test_a_fake_with_no_data_over_the_range_fails_instead_of_passing_everything(run):
    failed, _ = run
    name = "test_the_contract_range_has_data"
    assert name in failed["TestEmptyRange"]
    message = failed["TestEmptyRange"][name]
    assert "gave no figure" in message and "set contract_range to a range your fake serves" \
        in message
