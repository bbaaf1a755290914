import datetime as dt

import pytest

from kpireport.data import (
    Aggregation,
    Capabilities,
    DateRange,
    Filter,
    Granularity,
    MetricSpec,
    Operator,
    Order,
    Query,
    aggregate_rows,
    filter_rows,
    merge_queries,
    order_rows,
)
from kpireport.metrics import STANDARD_METRICS as S

D = dt.date
OCT = DateRange(start=D(2026, 10, 1), end=D(2026, 10, 31))

ROWS = [
    # Two days, two channels: the ratio and the weighted mean differ from naive means.
    {"date": D(2026, 9, 30), "channel": "Direct", "sessions": 999, "conversions": 999,
     "avg_session_duration": 999.0, "clicks": 1, "impressions": 1, "position": 1},
    {"date": D(2026, 10, 1), "channel": "Direct", "sessions": 100, "conversions": 10,
     "avg_session_duration": 60.0, "clicks": 10, "impressions": 100, "position": 2.0},
    {"date": D(2026, 10, 1), "channel": "Email", "sessions": 10, "conversions": 5,
     "avg_session_duration": 300.0, "clicks": 0, "impressions": 900, "position": 20.0},
    {"date": D(2026, 10, 2), "channel": "Direct", "sessions": 300, "conversions": 3,
     "avg_session_duration": 120.0, "clicks": 30, "impressions": 1000, "position": 4.0},
]


def test_total_uses_each_metrics_aggregation():
    q = Query(metrics=("sessions", "conversion_rate", "avg_session_duration", "ctr", "position"),
              range=OCT)
    [row] = aggregate_rows(ROWS, S, q)
    assert row["sessions"] == 410
    # Ratio of sums: 18/410, not the mean of 10 %, 50 % and 1 %.
    assert row["conversion_rate"] == pytest.approx(18 / 410)
    # Weighted by sessions: (60·100 + 300·10 + 120·300) / 410.
    assert row["avg_session_duration"] == pytest.approx((6000 + 3000 + 36000) / 410)
    assert row["ctr"] == pytest.approx(40 / 2000)
    assert row["position"] == pytest.approx((2 * 100 + 20 * 900 + 4 * 1000) / 2000)


def test_day_and_dimension_buckets_and_top():
    q = Query(metrics=("sessions",), range=OCT, dimensions=("channel",),
              granularity=Granularity.DAY)
    rows = aggregate_rows(ROWS, S, q)
    assert [(r["date"].day, r["channel"], r["sessions"]) for r in rows] == [
        (1, "Direct", 100), (1, "Email", 10), (2, "Direct", 300)]
    top = aggregate_rows(ROWS, S, Query(metrics=("sessions",), range=OCT, dimensions=("channel",),
                                        order=(Order(metric="sessions"),), limit=1))
    assert top == [{"channel": "Direct", "sessions": 400}]


def test_month_buckets():
    rng = DateRange(start=D(2026, 9, 1), end=D(2026, 10, 31))
    rows = aggregate_rows(ROWS, S, Query(metrics=("sessions",), range=rng,
                                         granularity=Granularity.MONTH))
    assert rows == [{"month": D(2026, 9, 1), "sessions": 999},
                    {"month": D(2026, 10, 1), "sessions": 410}]


def test_distinct_counts_are_never_summed_from_days():
    rows = [{"date": D(2026, 10, d), "users": 100} for d in (1, 2)]
    with pytest.raises(ValueError, match="distinct"):
        aggregate_rows(rows, S, Query(metrics=("users",), range=OCT))
    daily = aggregate_rows(rows, S, Query(metrics=("users",), range=OCT,
                                          granularity=Granularity.DAY))
    assert [r["users"] for r in daily] == [100, 100]


def test_missing_values_stay_missing():
    rows = [{"date": D(2026, 10, 1), "sessions": None, "won_deals": 0, "sales_cycle_days": None}]
    [row] = aggregate_rows(rows, S, Query(metrics=("sessions", "sales_cycle_days"), range=OCT))
    assert row == {"sessions": None, "sales_cycle_days": None}


def test_metric_spec_checks_its_parts():
    with pytest.raises(ValueError, match="weight"):
        MetricSpec(name="x", aggregation=Aggregation.WEIGHTED_MEAN)
    with pytest.raises(ValueError, match="numerator"):
        MetricSpec(name="x", aggregation=Aggregation.RATIO, numerator="a")


def test_merge_queries_unites_metrics_of_the_same_shape():
    q1 = Query(metrics=("sessions",), range=OCT)
    q2 = Query(metrics=("clicks", "sessions"), range=OCT)
    q3 = Query(metrics=("sessions",), range=OCT, granularity=Granularity.DAY)
    merged = merge_queries([q1, q2, q3])
    assert [m.metrics for m in merged] == [("sessions", "clicks"), ("sessions",)]


def test_a_notes_metrics_are_a_tuple_and_given_by_name():
    from kpireport.data import DataNote, NoteKind

    note = DataNote(kind=NoteKind.MISSING_VALUES, message="blank", source="web", metrics="sessions")
    assert note.metrics == ("sessions",)
    # Every field is keyword-only (contract 1.0): a new field can never shift an argument.
    with pytest.raises(TypeError):
        DataNote(NoteKind.OTHER, "m")  # type: ignore[misc]


# --- Filters, order and capabilities (contract 1.0) -------------------------------------------


@pytest.mark.parametrize("operator,values,negate,kept", [
    ("equals", ("organic search",), False, ["Organic Search"]),
    ("in", ("Direct", "Email"), False, ["Direct", "Email"]),
    ("contains", ("search",), False, ["Organic Search", "Paid Search"]),
    ("contains", ("search",), True, ["Direct", "Email", None]),
    ("regex", ("^(paid|email)",), False, ["Paid Search", "Email"]),
    ("regex", ("^(paid|email)",), True, ["Organic Search", "Direct", None]),
])
def test_filters_keep_the_rows_they_name(operator, values, negate, kept):
    rows = [{"channel": c} for c in ("Organic Search", "Paid Search", "Direct", "Email", None)]
    f = Filter(dimension="channel", operator=Operator(operator), values=values, negate=negate)
    assert sorted(map(str, [r["channel"] for r in filter_rows(rows, [f])])) == sorted(
        map(str, kept))


def test_a_filter_can_be_case_sensitive_and_refuses_bad_input():
    f = Filter(dimension="q", operator=Operator.CONTAINS, values="Lumière", case_sensitive=True)
    assert f.matches("maison Lumière") and not f.matches("maison lumière")
    with pytest.raises(ValueError, match="invalid regular expression"):
        Filter(dimension="q", operator=Operator.REGEX, values="(")
    with pytest.raises(ValueError, match="takes one value"):
        Filter(dimension="q", operator=Operator.EQUALS, values=("a", "b"))


def test_aggregate_rows_applies_the_query_filters():
    specs = {"clicks": MetricSpec(name="clicks")}
    rows = [{"date": dt.date(2026, 10, d), "query": q, "clicks": c}
            for d, q, c in [(1, "maison lumière", 10), (1, "savon bio", 4), (2, "crème", 3)]]
    brand = Filter(dimension="query", operator=Operator.REGEX, values="lumi[eè]re", negate=True)
    query = Query(metrics=("clicks",), range=DateRange(start=dt.date(2026, 10, 1),
                                                       end=dt.date(2026, 10, 31)),
                  filters=(brand,))
    assert aggregate_rows(rows, specs, query) == [{"clicks": 7.0}]


def test_order_rows_by_several_metrics_with_missing_values_last():
    rows = [{"q": "a", "clicks": 1, "impressions": 9}, {"q": "b", "clicks": 5, "impressions": 1},
            {"q": "c", "clicks": 1, "impressions": 20}, {"q": "d", "clicks": None}]
    out = order_rows(rows, [Order(metric="clicks"), Order(metric="impressions")], limit=3)
    assert [r["q"] for r in out] == ["b", "c", "a"]
    asc = order_rows(rows, [Order(metric="clicks", descending=False)])
    assert [r["q"] for r in asc] == ["a", "c", "b", "d"]


def test_capabilities_say_why_a_query_is_refused():
    caps = Capabilities(dimensions=("channel",), granularities=(Granularity.TOTAL,),
                        filters=(Operator.EQUALS,))
    rng = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
    assert caps.refusal(Query(metrics=("sessions",), range=rng, dimensions=("channel",))) is None
    assert "cannot split sessions by page" in caps.refusal(Query(metrics=("sessions",), range=rng,
                                                        dimensions=("page",)))
    assert "by day" in caps.refusal(Query(metrics=("sessions",), range=rng,
                                          granularity=Granularity.DAY))
    regex = Filter(dimension="channel", operator=Operator.REGEX, values="x")
    assert "cannot filter with regex" in caps.refusal(Query(metrics=("sessions",), range=rng,
                                                            filters=(regex,)))


def test_capabilities_per_metric_narrow_the_dimensions():
    caps = Capabilities(dimensions=("stage", "pipeline"),
                        metric_dimensions={"leads": ("stage",)})
    rng = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
    deals = Query(metrics=("won_deals",), range=rng, dimensions=("pipeline",))
    assert caps.refusal(deals) is None
    both = Query(metrics=("won_deals", "leads"), range=rng, dimensions=("pipeline",))
    assert caps.refusal(both) == ("cannot split or filter leads by pipeline (leads offers: "
                                  "stage)")
    # A filter counts as a split: the rows must carry the dimension to be filtered.
    only = Filter(dimension="pipeline", operator=Operator.EQUALS, values=("default",))
    assert "leads by pipeline" in caps.refusal(Query(metrics=("leads",), range=rng,
                                                     filters=(only,)))
    assert caps.refusal(Query(metrics=("leads",), range=rng, dimensions=("stage",))) is None
