import datetime as dt

import pytest

from kpireport.data import (
    Aggregation,
    DateRange,
    Granularity,
    MetricSpec,
    Query,
    TopN,
    aggregate_rows,
    merge_queries,
)
from kpireport.metrics import STANDARD_METRICS as S

D = dt.date
OCT = DateRange(D(2026, 10, 1), D(2026, 10, 31))

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
    q = Query(("sessions", "conversion_rate", "avg_session_duration", "ctr", "position"), OCT)
    [row] = aggregate_rows(ROWS, S, q)
    assert row["sessions"] == 410
    # Ratio of sums: 18/410, not the mean of 10 %, 50 % and 1 %.
    assert row["conversion_rate"] == pytest.approx(18 / 410)
    # Weighted by sessions: (60·100 + 300·10 + 120·300) / 410.
    assert row["avg_session_duration"] == pytest.approx((6000 + 3000 + 36000) / 410)
    assert row["ctr"] == pytest.approx(40 / 2000)
    assert row["position"] == pytest.approx((2 * 100 + 20 * 900 + 4 * 1000) / 2000)


def test_day_and_dimension_buckets_and_top():
    q = Query(("sessions",), OCT, ("channel",), Granularity.DAY)
    rows = aggregate_rows(ROWS, S, q)
    assert [(r["date"].day, r["channel"], r["sessions"]) for r in rows] == [
        (1, "Direct", 100), (1, "Email", 10), (2, "Direct", 300)]
    top = aggregate_rows(ROWS, S, Query(("sessions",), OCT, ("channel",), top=TopN("sessions", 1)))
    assert top == [{"channel": "Direct", "sessions": 400}]


def test_month_buckets():
    rng = DateRange(D(2026, 9, 1), D(2026, 10, 31))
    rows = aggregate_rows(ROWS, S, Query(("sessions",), rng, granularity=Granularity.MONTH))
    assert rows == [{"month": D(2026, 9, 1), "sessions": 999},
                    {"month": D(2026, 10, 1), "sessions": 410}]


def test_distinct_counts_are_never_summed_from_days():
    rows = [{"date": D(2026, 10, d), "users": 100} for d in (1, 2)]
    with pytest.raises(ValueError, match="distinct"):
        aggregate_rows(rows, S, Query(("users",), OCT))
    daily = aggregate_rows(rows, S, Query(("users",), OCT, granularity=Granularity.DAY))
    assert [r["users"] for r in daily] == [100, 100]


def test_missing_values_stay_missing():
    rows = [{"date": D(2026, 10, 1), "sessions": None, "won_deals": 0, "sales_cycle_days": None}]
    [row] = aggregate_rows(rows, S, Query(("sessions", "sales_cycle_days"), OCT))
    assert row == {"sessions": None, "sales_cycle_days": None}


def test_metric_spec_checks_its_parts():
    with pytest.raises(ValueError, match="weight"):
        MetricSpec("x", Aggregation.WEIGHTED_MEAN)
    with pytest.raises(ValueError, match="numerator"):
        MetricSpec("x", Aggregation.RATIO, numerator="a")


def test_merge_queries_unites_metrics_of_the_same_shape():
    q1 = Query(("sessions",), OCT)
    q2 = Query(("clicks", "sessions"), OCT)
    q3 = Query(("sessions",), OCT, granularity=Granularity.DAY)
    merged = merge_queries([q1, q2, q3])
    assert [m.metrics for m in merged] == [("sessions", "clicks"), ("sessions",)]


def test_a_notes_metrics_are_a_tuple_and_given_by_name():
    from kpireport.data import DataNote, NoteKind

    note = DataNote(NoteKind.MISSING_VALUES, "blank", "web", metrics="sessions")
    assert note.metrics == ("sessions",)
    # Positional fields stay as they were before metrics existed.
    with pytest.raises(TypeError):
        DataNote(NoteKind.OTHER, "m", "web", (), (), ("sessions",))
