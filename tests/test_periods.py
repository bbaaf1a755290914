import datetime as dt

import pytest

from kpireport.data import DateRange
from kpireport.periods import (
    PeriodError,
    add_months,
    from_key,
    months_between,
    resolve,
    today_in,
)

D = dt.date


def test_last_month_is_the_default_with_previous_month_and_last_year():
    p = resolve("", D(2026, 11, 3))
    assert (p.kind, p.key) == ("month", "2026-10")
    assert p.range == DateRange(start=D(2026, 10, 1), end=D(2026, 10, 31))
    assert p.previous == DateRange(start=D(2026, 9, 1), end=D(2026, 9, 30))
    assert p.last_year == DateRange(start=D(2025, 10, 1), end=D(2025, 10, 31))


def test_last_month_in_january_goes_back_a_year():
    p = resolve("last-month", D(2026, 1, 15))
    assert p.range == DateRange(start=D(2025, 12, 1), end=D(2025, 12, 31))
    assert p.previous == DateRange(start=D(2025, 11, 1), end=D(2025, 11, 30))


def test_month_to_date_stops_yesterday_and_compares_same_days():
    p = resolve("month-to-date", D(2026, 11, 25))
    assert p.range == DateRange(start=D(2026, 11, 1), end=D(2026, 11, 24))
    assert p.previous == DateRange(start=D(2026, 10, 1), end=D(2026, 10, 24))
    assert p.last_year == DateRange(start=D(2025, 11, 1), end=D(2025, 11, 24))


def test_month_to_date_on_the_first_reports_the_whole_previous_month():
    assert resolve("month-to-date", D(2026, 11, 1)).key == "2026-10"


def test_month_to_date_previous_is_clamped_to_a_shorter_month():
    p = resolve("month-to-date", D(2026, 3, 31))  # 1..30 March vs February (28 days)
    assert p.previous == DateRange(start=D(2026, 2, 1), end=D(2026, 2, 28))


def test_last_quarter():
    p = resolve("last-quarter", D(2026, 11, 25))
    assert p.key == "2026-Q3"
    assert p.range == DateRange(start=D(2026, 7, 1), end=D(2026, 9, 30))
    assert p.previous == DateRange(start=D(2026, 4, 1), end=D(2026, 6, 30))
    assert p.last_year == DateRange(start=D(2025, 7, 1), end=D(2025, 9, 30))
    assert resolve("last-quarter", D(2026, 2, 10)).key == "2025-Q4"


def test_year_to_date():
    p = resolve("year-to-date", D(2026, 11, 25))
    assert p.range == DateRange(start=D(2026, 1, 1), end=D(2026, 11, 24))
    assert p.last_year == DateRange(start=D(2025, 1, 1), end=D(2025, 11, 24))
    # Compared with last year's same days, not with the 328 days before 1 January.
    assert p.previous == p.last_year


def test_explicit_month_and_range():
    assert resolve("2024-02", D(2026, 1, 1)).range == DateRange(start=D(2024, 2, 1), end=D(2024, 2,
                                                                                           29))
    p = resolve("2026-10-05..2026-10-18", D(2026, 11, 1))
    assert p.kind == "range" and p.range.days == 14
    assert p.previous == DateRange(start=D(2026, 9, 21), end=D(2026, 10, 4))
    # A range that is a whole month is that month, with month comparisons.
    assert resolve("2026-10-01..2026-10-31", D(2026, 11, 1)).key == "2026-10"


def test_leap_day_last_year():
    p = resolve("2024-02-29..2024-02-29", D(2024, 3, 1))
    assert p.last_year == DateRange(start=D(2023, 2, 28), end=D(2023, 2, 28))


@pytest.mark.parametrize("spec", ["2026-13", "last-week", "2026-10-31..2026-10-01",
                                  "2026-02-30..2026-03-01", "octobre"])
def test_bad_specs_say_what_is_expected(spec):
    with pytest.raises(PeriodError) as err:
        resolve(spec, D(2026, 11, 1))
    assert spec in str(err.value)


def test_today_in_the_clients_time_zone():
    # 23:30 UTC on 31 October is already 1 November in Paris: last month is October there.
    now = dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.UTC)
    assert today_in("Europe/Paris", now) == D(2026, 11, 1)
    assert today_in("America/New_York", now) == D(2026, 10, 31)
    assert resolve("last-month", today_in("Europe/Paris", now)).key == "2026-10"
    assert resolve("last-month", today_in("America/New_York", now)).key == "2026-09"


def test_add_months_clamps_and_months_between_clips():
    assert add_months(D(2026, 1, 31), 1) == D(2026, 2, 28)
    assert add_months(D(2026, 1, 15), -13) == D(2024, 12, 15)
    parts = months_between(D(2026, 1, 15), D(2026, 3, 10))
    assert [(r.start, r.end) for r in parts] == [
        (D(2026, 1, 15), D(2026, 1, 31)), (D(2026, 2, 1), D(2026, 2, 28)),
        (D(2026, 3, 1), D(2026, 3, 10))]


def test_an_explicit_quarter_is_a_spec_too():
    q3 = resolve("2026-Q3", dt.date(2026, 1, 5))
    assert q3 == resolve("last-quarter", dt.date(2026, 11, 15))
    assert q3.range == DateRange(start=dt.date(2026, 7, 1), end=dt.date(2026, 9, 30))
    with pytest.raises(PeriodError, match="a quarter such as 2026-Q3"):
        resolve("2026-Q5", dt.date(2026, 1, 5))


@pytest.mark.parametrize("spec", ["last-month", "last-quarter", "month-to-date",
                                  "year-to-date", "2026-02", "2026-10-03..2026-10-17"])
def test_every_key_names_its_period_again(spec):
    period = resolve(spec, dt.date(2026, 11, 15))
    assert from_key(period.key) == period


def test_to_date_keys_say_where_they_end():
    # A weekly month-to-date report is a new report each week, not one already delivered.
    weeks = [resolve("month-to-date", dt.date(2026, 10, d)).key for d in (8, 15, 22)]
    assert weeks == ["2026-10-mtd-07", "2026-10-mtd-14", "2026-10-mtd-21"]
    assert resolve("year-to-date", dt.date(2026, 11, 15)).key == "2026-ytd-11-14"


@pytest.mark.parametrize("key", ["last-month", "../../etc", "2026-13", "2026-02-mtd-30",
                                 "2026-Q5", ""])
def test_what_is_no_periods_key_is_refused(key):
    with pytest.raises(PeriodError):
        from_key(key)


# --- A period judged on the days its data covers -------------------------------------------


def test_a_month_whose_data_stops_early_is_compared_with_the_same_days():
    p = resolve("2026-11", D(2026, 12, 1)).through(D(2026, 11, 24))
    assert p.partial and p.full_end == D(2026, 11, 30) and p.key == "2026-11"
    assert p.range == DateRange(start=D(2026, 11, 1), end=D(2026, 11, 24))
    assert p.previous == DateRange(start=D(2026, 10, 1), end=D(2026, 10, 24))
    assert p.last_year == DateRange(start=D(2025, 11, 1), end=D(2025, 11, 24))


def test_a_year_to_date_and_a_quarter_cut_short_keep_their_calendar_matches():
    ytd = resolve("year-to-date", D(2026, 12, 1)).through(D(2026, 11, 24))
    assert ytd.range == DateRange(start=D(2026, 1, 1), end=D(2026, 11, 24))
    assert ytd.previous == ytd.last_year == DateRange(start=D(2025, 1, 1), end=D(2025, 11, 24))
    q4 = resolve("2026-Q4", D(2027, 1, 5)).through(D(2026, 11, 24))
    assert q4.previous == DateRange(start=D(2026, 7, 1), end=D(2026, 8, 24))
    assert q4.last_year == DateRange(start=D(2025, 10, 1), end=D(2025, 11, 24))
    # A range compares the same count of days; a leap day's match is the 28th.
    r = resolve("2028-02-01..2028-03-31", D(2028, 4, 2)).through(D(2028, 2, 29))
    assert r.last_year == DateRange(start=D(2027, 2, 1), end=D(2027, 2, 28))
    assert r.previous.end - r.previous.start == D(2028, 2, 29) - D(2028, 2, 1)


def test_data_reaching_the_end_or_before_the_start_leaves_the_period_whole():
    p = resolve("2026-11", D(2026, 12, 1))
    assert p.through(D(2026, 11, 30)) is p and p.through(D(2026, 10, 31)) is p
    assert not p.partial


def test_a_month_cut_short_is_judged_on_the_month_before_as_a_level():
    from kpireport.objectives import level_period

    whole = resolve("2026-11", D(2026, 12, 1))
    assert level_period(whole) is whole
    assert level_period(whole.through(D(2026, 11, 24))).key == "2026-10"
    ytd = resolve("year-to-date", D(2026, 12, 1))
    assert level_period(ytd).key == "2026-11"
    assert level_period(ytd.through(D(2026, 11, 24))).key == "2026-10"
