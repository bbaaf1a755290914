"""The source contract suite: what every source owes the engine, as tests a plugin inherits.

A plugin's test module subclasses :class:`SourceContract` in a class whose name starts with
``Test``, and pytest collects the suite's tests for it::

    from kpireport.testing import SourceContract

    class TestAcmeContract(SourceContract):
        @pytest.fixture
        def contract_source(self, source_context):
            self.api = FakeApi(...)                      # whatever contract_fail needs
            return AcmeSource(AcmeSettings(base_url=self.api.url, ...), source_context)

        def contract_fail(self, status):                 # optional
            self.api.server.fail("POST", r"/v1/.*", Reply(status=status), times=10)
            return True

        def contract_calls(self):                        # optional
            return len(self.api.server.calls)

Each failure says what to change in the source. A test that does not apply to the source (no
distinct metric, no dimension, a file source's HTTP errors) is skipped, saying why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, NoReturn

import pytest
from pydantic import BaseModel, SecretStr

from kpireport.data import (
    Aggregation,
    DateRange,
    Granularity,
    MetricSpec,
    Order,
    Query,
    Table,
    order_rows,
)
from kpireport.errors import (
    AuthenticationError,
    PermissionDenied,
    QuotaExhausted,
    SourceError,
    TransientError,
)
from kpireport.metrics import STANDARD_METRICS
from kpireport.sources import Source, SourceContext
from kpireport.testing.guard import guarded
from kpireport.testing.network import NetworkBlocked, network_guard

OCTOBER_2026 = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))

ERRORS: dict[int, tuple[type[SourceError], str]] = {
    401: (AuthenticationError, "credentials refused or expired"),
    403: (PermissionDenied, "no access to the account or property"),
    429: (QuotaExhausted, "the quota is spent"),
    503: (TransientError, "the service is failing, after your retries"),
}


def fail(message: str) -> NoReturn:
    """Fail the test with ``message`` alone: it says what to fix, a traceback would not."""
    pytest.fail(message, pytrace=False)


def describe(query: Query) -> str:
    """A query in words: "sessions by day over 2026-10-01..2026-10-31, split by channel"."""
    words = f"{', '.join(query.metrics)}"
    words += {Granularity.DAY: " by day", Granularity.MONTH: " by month",
              Granularity.TOTAL: " in total"}[query.granularity]
    words += f" over {query.range}"
    if query.dimensions:
        words += f", split by {', '.join(query.dimensions)}"
    if query.order:
        first = query.order[0]
        words += f", {'highest' if first.descending else 'lowest'} {first.metric} first"
    if query.limit is not None:
        words += f", top {query.limit}"
    return words


def secrets_of(value: Any) -> list[str]:
    """The values of every ``SecretStr`` in a settings model, also inside lists and dicts."""
    found: list[str] = []
    if isinstance(value, SecretStr):
        found.append(value.get_secret_value())
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            found.extend(secrets_of(getattr(value, name)))
    elif isinstance(value, Mapping):
        for item in value.values():
            found.extend(secrets_of(item))
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            found.extend(secrets_of(item))
    return found


def _hint(secret: str) -> str:
    return f"{secret[:3]}…" if len(secret) > 6 else "…"


class SourceContract:
    """The contract suite. Subclass it (``class TestMySource(SourceContract)``) and override:

    - ``contract_source`` (required): a fixture method ``contract_source(self,
      source_context)`` returning the source under test, built on ``source_context`` (or a
      ``dataclasses.replace`` of it). Keep on ``self`` what the other overrides need;
    - ``contract_range``: a :class:`~kpireport.DateRange` the source has data for (default
      October 2026, final on the context's today, 2026-11-25);
    - ``contract_fail(self, status) -> bool``: make the source's next API calls answer HTTP
      ``status`` (401, 403, 429, 503); return False when that does not apply (a file
      source): the error tests are then skipped;
    - ``contract_calls(self) -> int | None``: how many calls the API has received so far (a
      FakeServer's ``len(server.calls)``); None (the default) skips the cache test.

    Every test runs with the network guard on: a connection beyond 127.0.0.1 fails it.
    """

    contract_range: ClassVar[DateRange] = OCTOBER_2026

    # --- What a plugin overrides --------------------------------------------------------------

    @pytest.fixture
    def contract_source(self, source_context: SourceContext) -> Source[Any]:
        fail(f"{type(self).__name__} does not say which source to test: define a fixture "
             f"method `contract_source(self, source_context)` returning your source, built "
             f"with source_context, and decorate it with @pytest.fixture")

    def contract_fail(self, status: int) -> bool:
        """Make the next API calls answer HTTP ``status``; False: not applicable."""
        return False

    def contract_calls(self) -> int | None:
        """How many API calls were made so far; None: not applicable (no cache test)."""
        return None

    # --- The suite's own fixtures -------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _contract_network(self, request: pytest.FixtureRequest) -> Iterator[None]:
        for _ in guarded(request):
            yield

    @pytest.fixture(autouse=True)
    def _contract_secrets(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """The values the source registers with ``context.register_secret`` in this test."""
        import kpireport.secrets

        registered: list[str] = []
        real = kpireport.secrets.register_secret

        def spy(value: str | None) -> None:
            if value:
                registered.append(value)
            real(value)

        monkeypatch.setattr(kpireport.secrets, "register_secret", spy)
        self._registered_secrets = registered
        return registered

    # --- Helpers ------------------------------------------------------------------------------

    def _metrics(self, source: Source[Any]) -> dict[str, MetricSpec]:
        metrics = dict(source.metrics())
        if not metrics:
            fail("metrics() offers no metric: return a MetricSpec for each metric the source "
                 "can give, by standard name (kpireport.STANDARD_METRICS), for these settings")
        return metrics

    def _fetch(self, source: Source[Any], query: Query) -> Table:
        try:
            table = source.fetch(query)
        except SourceError as exc:
            fail(f"asked for {describe(query)}, the source raised {type(exc).__name__}: {exc}. "
                 f"It declares what it can answer in capabilities(); answer every query that "
                 f"fits them (a metric with no data for the range is a row of None, or a "
                 f"DataNote), or declare less")
        if not isinstance(table, Table):
            fail(f"asked for {describe(query)}, fetch() returned {type(table).__name__}: "
                 f"return a kpireport.Table(query=query, rows=[...])")
        return table

    def _ordered_metrics(self, metrics: Mapping[str, MetricSpec]) -> list[str]:
        """Additive metrics first: they answer any bucket and any split."""
        return sorted(metrics, key=lambda m: metrics[m].aggregation is not Aggregation.SUM)

    # --- The tests ----------------------------------------------------------------------------

    def test_metrics_and_capabilities_make_no_network_call(
            self, contract_source: Source[Any]) -> None:
        before = self.contract_calls()
        with network_guard(allow_localhost=False) as attempts:
            try:
                metrics = contract_source.metrics()
                contract_source.capabilities()
                contract_source.check()
            except NetworkBlocked as exc:
                fail(str(exc))
        if attempts:
            fail(attempts[0])
        after = self.contract_calls()
        if before is not None and after != before:
            fail(f"metrics(), capabilities() or check() called the API ({after} calls "
                 f"instead of {before}): kpireport validate calls them offline; declare "
                 f"them from the settings, without asking the API")
        for key, spec in metrics.items():
            if not isinstance(spec, MetricSpec) or spec.name != key:
                fail(f"metrics() maps {key!r} to {spec!r}: map each metric's name to its "
                     f"MetricSpec(name={key!r}, ...)")

    def test_standard_metrics_keep_their_aggregation_and_unit(
            self, contract_source: Source[Any]) -> None:
        for name, spec in self._metrics(contract_source).items():
            standard = STANDARD_METRICS.get(name)
            if standard is None:
                continue
            ours = (spec.aggregation, spec.weight, spec.numerator, spec.denominator)
            theirs = (standard.aggregation, standard.weight, standard.numerator,
                      standard.denominator)
            if ours != theirs:
                fail(f"metric {name!r} is declared with aggregation {spec.aggregation.value}"
                     f"{_parts(spec)}, but the standard metric {name!r} ({standard.description})"
                     f" is {standard.aggregation.value}{_parts(standard)}: use "
                     f"kpireport.STANDARD_METRICS[{name!r}], or give the metric another name "
                     f"if it means something else")
            if spec.unit is not standard.unit:
                fail(f"metric {name!r} is declared with unit {spec.unit.value}, but the "
                     f"standard metric {name!r} is in {standard.unit.value}"
                     + (": a table in another currency than the client's would not be "
                        "converted, nor noted" if "currency" in (spec.unit, standard.unit)
                        else "")
                     + f"; use kpireport.STANDARD_METRICS[{name!r}] (or MetricSpec(..., "
                       f"unit=Unit.{standard.unit.name}))")

    def test_the_contract_range_has_data(self, contract_source: Source[Any]) -> None:
        # Without data every check below passes or skips: an empty fake would prove nothing.
        metrics = self._metrics(contract_source)
        rng = self.contract_range
        granularity = (Granularity.TOTAL if Granularity.TOTAL
                       in contract_source.capabilities().granularities
                       else contract_source.capabilities().granularities[0])
        found = False
        for metric in metrics:
            try:  # a query the source refuses is another test's business
                table = contract_source.fetch(Query(metrics=(metric,), range=rng,
                                                    granularity=granularity))
            except SourceError:
                continue
            found = found or any(row.get(metric) is not None for row in table.rows)
        if not found:
            fail(f"the source gave no figure for {', '.join(metrics)} over {rng}: the suite's "
                 f"checks need data to judge; set contract_range to a range your fake serves, "
                 f"or make the fake serve {rng} (the kit's context says today is "
                 f"2026-11-25)")

    def test_every_declared_granularity_is_answered(self, contract_source: Source[Any]) -> None:
        metrics = self._metrics(contract_source)
        rng = self.contract_range
        for granularity in contract_source.capabilities().granularities:
            for metric in metrics:
                query = Query(metrics=(metric,), range=rng, granularity=granularity)
                table = self._fetch(contract_source, query)
                for row in table.rows:
                    _check_row(row, query)

    def test_a_total_without_dimensions_is_at_most_one_row(
            self, contract_source: Source[Any]) -> None:
        if Granularity.TOTAL not in contract_source.capabilities().granularities:
            pytest.skip("the source does not answer totals")
        for metric in self._metrics(contract_source):
            query = Query(metrics=(metric,), range=self.contract_range)
            rows = self._fetch(contract_source, query).rows
            if len(rows) > 1:
                fail(f"asked for {describe(query)}, without dimensions, the source returned "
                     f"{len(rows)} rows ({rows[:3]}): a total without dimensions is one row "
                     f"(or none); add up the parts (kpireport.aggregate_rows does) — the "
                     f"engine refuses the table")

    def test_a_distinct_count_is_not_the_sum_of_its_days(
            self, contract_source: Source[Any]) -> None:
        metrics = self._metrics(contract_source)
        distinct = [m for m, s in metrics.items() if s.aggregation is Aggregation.DISTINCT]
        if not distinct:
            pytest.skip("the source offers no distinct count")
        granularities = contract_source.capabilities().granularities
        if not {Granularity.DAY, Granularity.TOTAL} <= set(granularities):
            pytest.skip("the source does not answer both by day and in total")
        rng = self.contract_range
        checked = 0
        for metric in distinct:
            total_query = Query(metrics=(metric,), range=rng)
            rows = self._fetch(contract_source, total_query).rows
            total = rows[0].get(metric) if len(rows) == 1 else None
            days = self._fetch(contract_source, Query(metrics=(metric,), range=rng,
                                                      granularity=Granularity.DAY)).rows
            values = [float(r[metric]) for r in days if r.get(metric) is not None]
            if total is None or sum(1 for v in values if v) < 2:
                continue
            checked += 1
            summed = sum(values)
            if abs(float(total) - summed) <= 1e-9 * max(1.0, abs(summed)):
                fail(f"{metric}{describe(total_query)[len(metric):]} is {total:g}, exactly the "
                     f"sum of its {len(values)} days: {metric} is a distinct count (someone "
                     f"who comes back on two days counts once), so it must be counted over the "
                     f"range as a whole, not summed from days; ask the API for the whole range "
                     f"(or read it from a monthly figure)")
            if float(total) > summed * (1 + 1e-9):
                fail(f"{metric}{describe(total_query)[len(metric):]} is {total:g}, more than "
                     f"the sum of its days ({summed:g}): a distinct count over a range is at "
                     f"most that sum; check which range the API was asked for")
        if not checked:
            pytest.skip(f"no data by day and in total over {rng} for {', '.join(distinct)}")

    def test_top_n_is_the_first_n_rows_in_the_order_asked(
            self, contract_source: Source[Any]) -> None:
        capabilities = contract_source.capabilities()
        if not capabilities.order:
            pytest.skip("the source declares that it does not order rows (order=False)")
        if not capabilities.dimensions:
            pytest.skip("the source declares no dimension")
        if Granularity.TOTAL not in capabilities.granularities:
            pytest.skip("the source does not answer totals")
        metrics = self._metrics(contract_source)
        found = self._split_with_values(contract_source, capabilities.dimensions, metrics)
        if found is None:
            pytest.skip(f"no metric has two different values split by "
                        f"{', '.join(capabilities.dimensions)} over {self.contract_range}")
        metric, dimension, everything = found
        limit = max(1, len(everything) - 1)
        for descending in (True, False):
            order = (Order(metric=metric, descending=descending),)
            query = Query(metrics=(metric,), range=self.contract_range,
                          dimensions=(dimension,), order=order, limit=limit)
            rows = self._fetch(contract_source, query).rows
            if len(rows) > limit:
                fail(f"asked for {describe(query)}, the source returned {len(rows)} rows: "
                     f"keep at most query.limit rows, the first in query.order "
                     f"(kpireport.order_rows(rows, query.order, query.limit) does both)")
            got = [r.get(metric) for r in rows]
            wanted = [r.get(metric) for r in order_rows([dict(r) for r in everything], order,
                                                        limit)]
            if not _same_values(got, wanted):
                fail(f"asked for {describe(query)}, the source returned {metric} {got}; the "
                     f"first {limit} of all {len(everything)} rows in that order are "
                     f"{wanted}: sort by query.order (descending=False: lowest first, "
                     f"missing values last) before cutting to query.limit "
                     f"(kpireport.order_rows does both)")

    def _split_with_values(self, source: Source[Any], dimensions: Sequence[str],
                           metrics: Mapping[str, MetricSpec],
                           ) -> tuple[str, str, list[dict[str, Any]]] | None:
        """A metric and a dimension whose rows over the range hold two different values."""
        for dimension in dimensions:
            for metric in self._ordered_metrics(metrics):
                query = Query(metrics=(metric,), range=self.contract_range,
                              dimensions=(dimension,))
                try:
                    rows = source.fetch(query).rows
                except SourceError:
                    continue  # that metric may not be split by that dimension
                values = {r.get(metric) for r in rows if r.get(metric) is not None}
                if len(values) >= 2:
                    return metric, dimension, rows
        return None

    def test_notes_name_only_the_metrics_asked(self, contract_source: Source[Any]) -> None:
        metrics = self._metrics(contract_source)
        granularities = contract_source.capabilities().granularities
        # From a month before the range: missing days are a likely note.
        start = (self.contract_range.start - dt.timedelta(days=1)).replace(day=1)
        rng = DateRange(start=start, end=self.contract_range.end)
        for granularity in (Granularity.TOTAL, Granularity.DAY):
            if granularity not in granularities:
                continue
            for metric in metrics:
                query = Query(metrics=(metric,), range=rng, granularity=granularity)
                for note in self._fetch(contract_source, query).notes:
                    others = [m for m in note.metrics if m not in query.metrics]
                    if others:
                        fail(f"asked for {describe(query)}, the source's note "
                             f"({note.kind.value}: {note.message}) names "
                             f"{', '.join(others)}, which the query did not ask: set "
                             f"DataNote(metrics=...) to the metrics of the query it concerns "
                             f"(or none for all of them)")

    @pytest.mark.parametrize("status", sorted(ERRORS))
    def test_api_errors_become_the_contract_errors_without_secrets(
            self, contract_source: Source[Any], status: int) -> None:
        if not self.contract_fail(status):
            pytest.skip(f"contract_fail({status}) returned False: no HTTP error to test")
        expected, meaning = ERRORS[status]
        metric = self._ordered_metrics(self._metrics(contract_source))[0]
        query = Query(metrics=(metric,), range=self.contract_range)
        try:
            contract_source.fetch(query)
        except SourceError as exc:
            error: SourceError = exc
        except NetworkBlocked:
            raise
        except Exception as exc:
            fail(f"after HTTP {status}, fetch() raised {type(exc).__name__}: {exc}; raise "
                 f"kpireport.{expected.__name__} ({meaning}): any other exception is counted "
                 f"as a bug in the plugin")
        else:
            fail(f"after HTTP {status}, fetch() returned a table: raise "
                 f"kpireport.{expected.__name__} ({meaning})")
        if not isinstance(error, expected):
            consequence = ("it fails only the queries concerned" if expected is TransientError
                           else "the engine then asks this source nothing more for the report")
            fail(f"after HTTP {status}, fetch() raised {type(error).__name__}: {error}; raise "
                 f"kpireport.{expected.__name__} ({meaning}): {consequence}")
        secrets = [*secrets_of(contract_source.settings), *self._registered_secrets]
        message = str(error)
        for secret in secrets:
            if len(secret) >= 4 and secret in message:
                fail(f"the {type(error).__name__} message shows a secret ({_hint(secret)}): "
                     f"{message.replace(secret, '***')!r}. Say what went wrong in your own "
                     f"words, without the token, key or password, nor the API's reply when it "
                     f"echoes them")

    def test_a_second_identical_fetch_comes_from_the_cache(
            self, contract_source: Source[Any]) -> None:
        if self.contract_calls() is None:
            pytest.skip("contract_calls() returned None: API calls are not counted")
        metric = self._ordered_metrics(self._metrics(contract_source))[0]
        query = Query(metrics=(metric,), range=self.contract_range)
        first = self._fetch(contract_source, query)
        calls = self.contract_calls()
        second = self._fetch(contract_source, query)
        again = self.contract_calls()
        if calls is not None and again is not None and again > calls:
            fail(f"a second fetch of {describe(query)} called the API again ({again - calls} "
                 f"more calls): keep answers in self.context.cache "
                 f"(context.cache.cached(request, call, final=...)); {self.contract_range} is "
                 f"final on {contract_source.context.today}, so it is never asked again")
        if first.rows != second.rows:
            fail(f"a second fetch of {describe(query)} gave other rows ({second.rows}) than "
                 f"the first ({first.rows}): the cache must give back what the API answered")

    def test_fetch_many_answers_every_query(self, contract_source: Source[Any]) -> None:
        metrics = self._metrics(contract_source)
        queries = [Query(metrics=(m,), range=self.contract_range) for m in metrics]
        answers = contract_source.fetch_many(queries)
        missing = [describe(q) for q in queries if q not in answers]
        if missing:
            fail(f"fetch_many() left out {'; '.join(missing)}: answer every query it is given, "
                 f"with its Table or the SourceError that stopped it")
        for query in queries:
            answer = answers[query]
            if not isinstance(answer, Table | SourceError):
                fail(f"fetch_many() answered {describe(query)} with {type(answer).__name__}: "
                     f"answer with a Table, or the SourceError that stopped it")


def _parts(spec: MetricSpec) -> str:
    if spec.aggregation is Aggregation.WEIGHTED_MEAN:
        return f" by {spec.weight}"
    if spec.aggregation is Aggregation.RATIO:
        return f" of {spec.numerator} to {spec.denominator}"
    return ""


def _same_values(got: list[Any], wanted: list[Any]) -> bool:
    if len(got) != len(wanted):
        return False
    for a, b in zip(got, wanted, strict=True):
        if (a is None) != (b is None):
            return False
        if a is not None and abs(float(a) - float(b)) > 1e-9 * max(1.0, abs(float(b))):
            return False
    return True


def _check_row(row: Mapping[str, Any], query: Query) -> None:
    metric = query.metrics[0]
    if metric not in row:
        fail(f"asked for {describe(query)}, a row has no {metric!r} key ({dict(row)}): give "
             f"each metric asked in every row (None when there is no value)")
    value = row[metric]
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        fail(f"asked for {describe(query)}, a row holds {metric}={value!r}: metric values are "
             f"numbers (float) or None")
    rng = query.range
    if query.granularity is Granularity.DAY:
        day = row.get("date")
        if not isinstance(day, dt.date) or isinstance(day, dt.datetime) or day not in rng:
            fail(f"asked for {describe(query)}, a row's date is {day!r}: a day row has a "
                 f"'date' key holding a datetime.date inside the range asked")
    elif query.granularity is Granularity.MONTH:
        month = row.get("month")
        if (not isinstance(month, dt.date) or isinstance(month, dt.datetime)
                or month.day != 1 or not rng.start.replace(day=1) <= month <= rng.end):
            fail(f"asked for {describe(query)}, a row's month is {month!r}: a month row has a "
                 f"'month' key holding the datetime.date of the month's 1st, for the months "
                 f"the range touches")
    elif "date" in row or "month" in row:
        fail(f"asked for {describe(query)}, a row has a time column ({dict(row)}): a total "
             f"has no 'date' or 'month' key")
