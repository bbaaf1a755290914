"""The built-in ``csv`` source runs the contract suite plugin authors run
(:class:`kpireport.testing.SourceContract`), on files written for it: daily figures by
channel, unique users by day and by month (a distinct count that is less than the sum of its
days, as real ones are)."""

import csv
import datetime as dt
import random

import pytest

from kpireport.testing import SourceContract
from kpireport_csv import CsvSettings, CsvSource

CHANNELS = ("Organic Search", "Direct", "Paid Social", "Email")
FIRST, LAST = dt.date(2026, 8, 1), dt.date(2026, 11, 24)


def write(path, header, rows):
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def write_files(folder):
    rnd = random.Random(7)
    daily, users, months = [], [], {}
    day = FIRST
    while day <= LAST:
        for channel in CHANNELS:
            sessions = rnd.randint(20, 200)
            daily.append([day.isoformat(), channel, sessions, rnd.randint(0, 9),
                          round(sessions * rnd.uniform(0.5, 3.0), 2)])
        visitors = rnd.randint(100, 400)
        users.append([day.isoformat(), visitors])
        # Some come back on other days: the month's unique users are fewer than the sum.
        key = f"{day:%Y-%m}"
        months[key] = months.get(key, 0) + round(visitors * 0.7)
        day += dt.timedelta(days=1)
    write(folder / "daily.csv", ["date", "channel", "sessions", "conversions", "revenue"], daily)
    write(folder / "users_daily.csv", ["date", "users"], users)
    write(folder / "users_monthly.csv", ["month", "users"], sorted(months.items()))


def csv_source(context, folder):
    write_files(folder)
    settings = CsvSettings.model_validate({"tables": [
        {"path": "daily.csv", "dimensions": ["channel"]},
        {"path": "users_daily.csv"},
        {"path": "users_monthly.csv"},
    ]})
    return CsvSource(settings, context)


class TestCsvContract(SourceContract):
    @pytest.fixture
    def contract_source(self, source_context, tmp_path):
        return csv_source(source_context, tmp_path)


def test_the_files_offer_what_the_suite_checks(source_context, tmp_path):
    # The suite skips what a source does not offer: these files must offer it all.
    source = csv_source(source_context, tmp_path)
    assert source.check() == []
    assert {"sessions", "users", "revenue"} <= set(source.metrics())
    assert source.capabilities().dimensions == ("channel",)
