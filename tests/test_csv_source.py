"""The built-in ``csv`` source: tidy tables and Search Console web-UI exports.

Expected figures are computed here from the fixture files with the ``csv`` module, never with
the plugin's own code.
"""

import csv
import dataclasses
import datetime as dt
import shutil
import zipfile
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from kpireport.data import DateRange, Granularity, NoteKind, Order, Query
from kpireport.errors import DataFileError, SourceError
from kpireport.plugins import load_plugins
from kpireport.sources import SourceContext
from kpireport_csv import CsvSettings, CsvSource

DATA = Path(__file__).parent / "data" / "csv"
D = dt.date
APRIL = DateRange(start=D(2024, 4, 1), end=D(2024, 4, 30))
MAY = DateRange(start=D(2024, 5, 1), end=D(2024, 5, 31))
Q2 = DateRange(start=D(2024, 4, 1), end=D(2024, 6, 30))
DAY, MONTH = Granularity.DAY, Granularity.MONTH

WEB = {
    "tables": [
        {"path": "web/web_daily.csv", "dimensions": ["channel"]},
        {"path": "web/web_totals.csv", "columns": {"Newsletter signups": "newsletter_signups"}},
        {"path": "web/web_monthly.csv"},
        {"path": "web/leads_by_channel.csv", "dimensions": ["channel"]},
    ],
    "metrics": {
        "newsletter_signups": {"aggregation": "sum"},
        "basket_value": {"aggregation": "weighted_mean", "weight": "transactions"},
    },
}


def context(base: Path = DATA) -> SourceContext:
    return SourceContext(name="web", client_id="acme", timezone=ZoneInfo("Europe/Paris"),
                         base_dir=base, today=D(2024, 7, 3))


def source(settings: dict, base: Path = DATA) -> CsvSource:
    return CsvSource(CsvSettings.model_validate(settings), context(base))


def read(path: Path) -> list[dict[str, str]]:
    """Rows of a fixture, as the csv module reads them (BOM and '#' comment lines dropped)."""
    text = path.read_text(encoding="utf-8-sig")
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith("#")]
    return list(csv.DictReader(lines))


def daily_rows() -> list[dict[str, str]]:
    return [r for r in read(DATA / "web/web_daily.csv")]


def in_range(day: str, rng: DateRange) -> bool:
    return rng.start <= dt.date.fromisoformat(day) <= rng.end


def gsc_days(folder: str) -> dict[dt.date, tuple[float, float, float]]:
    """Day -> (clicks, impressions, position) from an export's Dates.csv."""
    return {dt.date.fromisoformat(r["Date"]): (float(r["Clicks"]), float(r["Impressions"]),
                                                float(r["Position"]))
            for r in read(DATA / folder / "Dates.csv")}


# --- Registration and settings -----------------------------------------------------------------


def test_registered_as_source_csv_by_plugin_csv():
    plugins = load_plugins()
    assert plugins.sources["csv"].plugin == "csv"
    assert plugins.source_class("csv") is CsvSource
    assert CsvSource.name == "csv" and CsvSource.Settings is CsvSettings


def test_settings_need_tables_or_search_console():
    with pytest.raises(ValidationError, match="tables"):
        CsvSettings.model_validate({})
    assert CsvSettings.model_validate({"search_console": "gsc/*"}).search_console_patterns == [
        "gsc/*"]


@pytest.mark.parametrize("settings", [
    {"tables": [{"path": "a.csv"}], "tabels": []},
    {"tables": [{"path": "a.csv", "dimension": ["channel"]}]},
    {"tables": [{"path": "a.csv"}], "metrics": {"x": {"aggregation": "sum", "wieght": "y"}}},
])
def test_settings_refuse_unknown_keys(settings):
    with pytest.raises(ValidationError, match="xtra"):
        CsvSettings.model_validate(settings)


@pytest.mark.parametrize(("metrics", "message"), [
    ({"users": {"aggregation": "sum"}}, "standard metric"),
    ({"basket_value": {"aggregation": "weighted_mean"}}, "needs 'weight'"),
    ({"basket_value": {"aggregation": "weighted_mean", "weight": "nope"}}, "neither"),
    ({"per_user": {"aggregation": "ratio", "numerator": "sessions", "denominator": "users"}},
     "not additive"),
])
def test_metric_declarations_are_checked(metrics, message):
    with pytest.raises(ValidationError, match=message):
        CsvSettings.model_validate({"tables": [{"path": "a.csv"}], "metrics": metrics})


def test_metrics_and_dimensions_offered():
    src = source(WEB)
    offered = src.metrics()
    # conversion_rate has no column: it is offered because its two terms are.
    assert {"sessions", "conversions", "conversion_rate", "avg_session_duration", "users",
            "newsletter_signups", "basket_value", "transactions", "leads"} == set(offered)
    assert offered["basket_value"].weight == "transactions"
    assert offered["users"].aggregation == "distinct"
    assert src.capabilities().dimensions == ("channel",)


# --- Tidy tables ------------------------------------------------------------------------------


def test_monthly_totals_by_channel_equal_the_sums_of_the_file():
    expected: dict[tuple[dt.date, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in daily_rows():
        key = (D(2024, int(r["date"][5:7]), 1), r["channel"])
        expected[key][0] += float(r["sessions"])
        expected[key][1] += float(r["conversions"])
    table = source(WEB).fetch(Query(metrics=("sessions", "conversions"), range=Q2,
                                    dimensions=("channel",), granularity=MONTH))
    got = {(r["month"], r["channel"]): [r["sessions"], r["conversions"]] for r in table.rows}
    assert got == dict(expected)
    assert len(got) == 9
    assert table.notes == []


def test_weighted_mean_and_ratio_of_sums():
    rows = [r for r in daily_rows() if in_range(r["date"], MAY)]
    # Empty cells are no value: a row without a duration adds nothing to the weights either.
    timed = [r for r in rows if r["avg_session_duration"]]
    assert len(timed) == len(rows) - 1
    duration = (sum(float(r["avg_session_duration"]) * float(r["sessions"]) for r in timed)
                / sum(float(r["sessions"]) for r in timed))
    rate = sum(float(r["conversions"]) for r in rows) / sum(float(r["sessions"]) for r in rows)
    mean_of_rates = sum(float(r["conversions"]) / float(r["sessions"]) for r in rows) / len(rows)
    assert abs(rate - mean_of_rates) > 0.002  # the data tells the two apart

    table = source(WEB).fetch(Query(metrics=("conversion_rate", "avg_session_duration"), range=MAY))
    assert table.value("conversion_rate") == pytest.approx(rate)
    assert table.value("avg_session_duration") == pytest.approx(duration)


def test_day_granularity_sums_the_channels_of_each_day():
    expected: dict[dt.date, float] = defaultdict(float)
    for r in daily_rows():
        if in_range(r["date"], MAY):
            expected[dt.date.fromisoformat(r["date"])] += float(r["sessions"])
    table = source(WEB).fetch(Query(metrics=("sessions",), range=MAY, granularity=DAY))
    assert [r["date"] for r in table.rows] == list(MAY.iter_days())
    assert {r["date"]: r["sessions"] for r in table.rows} == expected


def test_top_n_channels():
    totals: dict[str, float] = defaultdict(float)
    for r in daily_rows():
        if in_range(r["date"], MAY):
            totals[r["channel"]] += float(r["sessions"])
    best = sorted(totals.items(), key=lambda kv: -kv[1])[:2]
    table = source(WEB).fetch(Query(metrics=("sessions",), range=MAY, dimensions=("channel",),
                                    order=(Order(metric="sessions"),), limit=2))
    assert [(r["channel"], r["sessions"]) for r in table.rows] == best


def test_metrics_of_two_tables_are_joined_on_date():
    totals = {dt.datetime.strptime(r["date"], "%Y%m%d").date(): r
              for r in read(DATA / "web/web_totals.csv")}
    sessions: dict[dt.date, float] = defaultdict(float)
    for r in daily_rows():
        sessions[dt.date.fromisoformat(r["date"])] += float(r["sessions"])
    table = source(WEB).fetch(Query(metrics=("sessions", "newsletter_signups"), range=MAY,
                                    granularity=DAY))
    assert len(table.rows) == 31
    for row in table.rows:
        cell = totals[row["date"]]["Newsletter signups"]
        assert row["sessions"] == sessions[row["date"]]
        assert row["newsletter_signups"] == (float(cell) if cell else None)
    # The file leaves the 7th empty: no value, not zero, and the other metric is still there.
    may7 = next(r for r in table.rows if r["date"] == D(2024, 5, 7))
    assert may7["newsletter_signups"] is None and may7["sessions"] > 0


def test_declared_weighted_mean_over_a_month():
    rows = [r for d, r in ((dt.datetime.strptime(r["date"], "%Y%m%d").date(), r)
                           for r in read(DATA / "web/web_totals.csv")) if d in MAY]
    expected = (sum(float(r["basket_value"]) * float(r["transactions"]) for r in rows)
                / sum(float(r["transactions"]) for r in rows))
    table = source(WEB).fetch(Query(metrics=("basket_value", "sessions"), range=MAY))
    assert table.value("basket_value") == pytest.approx(expected)


def test_top_n_applies_after_the_join():
    # leads come from another table than sessions: the top channel by leads (Paid Social, 9)
    # is not the top channel by sessions.
    sessions = sum(float(r["sessions"]) for r in daily_rows()
                   if in_range(r["date"], MAY) and r["channel"] == "Paid Social")
    table = source(WEB).fetch(Query(metrics=("sessions", "leads"), range=MAY,
                                    dimensions=("channel",),
                                    order=(Order(metric="leads"),), limit=1))
    assert table.rows == [{"channel": "Paid Social", "sessions": sessions, "leads": 9.0}]


def test_the_table_with_the_fewest_extra_dimensions_answers(tmp_path):
    # The site total counts sessions no channel claims, so the two files disagree on purpose.
    (tmp_path / "by_channel.csv").write_text(
        "date,channel,sessions\n2024-05-01,Direct,4\n2024-05-01,Email,6\n")
    (tmp_path / "site.csv").write_text("date,sessions\n2024-05-01,12\n")
    src = source({"tables": [{"path": "by_channel.csv", "dimensions": ["channel"]},
                             {"path": "site.csv"}]}, tmp_path)
    day = DateRange(start=D(2024, 5, 1), end=D(2024, 5, 1))
    assert src.fetch(Query(metrics=("sessions",), range=day)).value("sessions") == 12
    assert src.fetch(Query(metrics=("sessions",), range=day, dimensions=("channel",))).rows == [
        {"channel": "Direct", "sessions": 4.0}, {"channel": "Email", "sessions": 6.0}]


def test_a_distinct_count_is_never_summed_over_a_dimension(tmp_path):
    (tmp_path / "users.csv").write_text(
        "date,channel,users\n2024-05-01,Direct,4\n2024-05-01,Email,6\n")
    src = source({"tables": [{"path": "users.csv", "dimensions": ["channel"]}]}, tmp_path)
    day = DateRange(start=D(2024, 5, 1), end=D(2024, 5, 1))
    assert src.fetch(Query(metrics=("users",), range=day, dimensions=("channel",),
                           granularity=DAY)).rows == [
        {"date": D(2024, 5, 1), "channel": "Direct", "users": 4.0},
        {"date": D(2024, 5, 1), "channel": "Email", "users": 6.0}]
    with pytest.raises(SourceError, match="distinct count cannot be summed over"):
        src.fetch(Query(metrics=("users",), range=day, granularity=DAY))


def test_a_metric_or_dimension_the_files_lack_is_a_source_error():
    src = source(WEB)
    with pytest.raises(SourceError, match="'revenue'") as err:
        src.fetch(Query(metrics=("revenue",), range=MAY))
    # Worded once: the engine, not the source, says which source it was (by its label).
    assert "web" not in str(err.value) and not err.value.fatal
    with pytest.raises(SourceError, match=r"newsletter_signups.*split by channel"):
        src.fetch(Query(metrics=("newsletter_signups",), range=MAY, dimensions=("channel",)))


# --- Distinct counts --------------------------------------------------------------------------


def test_users_for_a_whole_month_come_from_the_month_row_not_from_days():
    month_row = next(r for r in read(DATA / "web/web_monthly.csv") if r["month"] == "2024-05")
    sum_of_days = sum(float(r["users"]) for r in read(DATA / "web/web_totals.csv")
                      if r["date"].startswith("202405"))
    table = source(WEB).fetch(Query(metrics=("users",), range=MAY))
    assert table.value("users") == float(month_row["users"])
    assert table.value("users") != sum_of_days
    assert table.notes == []


def test_users_for_a_quarter_are_unavailable_never_summed():
    table = source(WEB).fetch(Query(metrics=("users", "sessions"), range=Q2))
    assert table.value("users") is None
    assert table.value("sessions") is not None
    [note] = table.notes
    assert note.kind is NoteKind.UNAVAILABLE and note.source == "web"
    assert "cannot be summed from days" in note.message
    assert "whole calendar month" in note.message


def test_users_by_month_only_for_months_wholly_inside_the_range():
    rng = DateRange(start=D(2024, 4, 15), end=D(2024, 6, 30))
    months = {r["month"]: float(r["users"]) for r in read(DATA / "web/web_monthly.csv")}
    table = source(WEB).fetch(Query(metrics=("users",), range=rng, granularity=MONTH))
    assert {r["month"]: r["users"] for r in table.rows} == {
        D(2024, 5, 1): months["2024-05"], D(2024, 6, 1): months["2024-06"]}
    [note] = table.notes
    assert note.kind is NoteKind.UNAVAILABLE and "2024-04" in note.message


def test_users_by_day_come_from_the_daily_table():
    expected = {dt.datetime.strptime(r["date"], "%Y%m%d").date(): float(r["users"])
                for r in read(DATA / "web/web_totals.csv")}
    table = source(WEB).fetch(Query(metrics=("users",), range=APRIL, granularity=DAY))
    assert {r["date"]: r["users"] for r in table.rows} == {
        d: v for d, v in expected.items() if d in APRIL}
    # A one-day range is a day: its total is that day's count.
    one_day = DateRange(start=D(2024, 4, 9), end=D(2024, 4, 9))
    assert source(WEB).fetch(Query(metrics=("users",),
                                   range=one_day)).value("users") == expected[D(2024, 4, 9)]


def test_without_a_month_table_monthly_users_are_unavailable():
    settings = {"tables": [WEB["tables"][1]], "metrics": WEB["metrics"]}
    table = source(settings).fetch(Query(metrics=("users",), range=MAY))
    assert table.value("users") is None
    assert [n.kind for n in table.notes] == [NoteKind.UNAVAILABLE]
    assert "month table" in table.notes[0].message


def test_users_cannot_be_split_by_a_dimension_no_table_has_them_by():
    with pytest.raises(SourceError, match="distinct count cannot be summed over"):
        source(WEB).fetch(Query(metrics=("users",), range=MAY, dimensions=("channel",)))


# --- Data quality -----------------------------------------------------------------------------


def test_days_beyond_the_data_are_noted():
    rng = DateRange(start=D(2024, 6, 25), end=D(2024, 7, 5))
    table = source(WEB).fetch(Query(metrics=("sessions",), range=rng, granularity=DAY))
    assert [r["date"] for r in table.rows] == [D(2024, 6, d) for d in range(25, 31)]
    [note] = table.notes
    assert note.kind is NoteKind.MISSING_DAYS and note.source == "web"
    assert note.dates == tuple(D(2024, 7, d) for d in range(1, 6))
    assert "web/web_daily.csv" in note.message


def test_blank_cells_are_noted_like_missing_days(tmp_path):
    (tmp_path / "daily.csv").write_text(
        "date,sessions,conversions,deals,cycle_days\n"
        "2024-05-01,100,5,1,30\n"
        "2024-05-02,120,,0,\n"       # conversions blank: a gap; cycle blank with no deal: not
        "2024-05-03,,4,2,\n"         # sessions blank; a cycle length missing for 2 deals
        "2024-05-04,90,3,0,\n", encoding="utf-8")
    src = source({"tables": [{"path": "daily.csv"}],
                  "metrics": {"deals": {"aggregation": "sum"},
                              "cycle_days": {"aggregation": "weighted_mean",
                                             "weight": "deals"}}}, tmp_path)
    rng = DateRange(start=D(2024, 5, 1), end=D(2024, 5, 4))
    table = src.fetch(Query(metrics=("sessions", "conversions"), range=rng))
    assert (table.value("sessions"), table.value("conversions")) == (310.0, 12.0)
    [note] = table.notes
    assert note.kind is NoteKind.MISSING_VALUES
    assert note.dates == (D(2024, 5, 2), D(2024, 5, 3))
    assert note.metrics == ("sessions", "conversions")  # the figures it concerns
    assert "blank cells (conversions, sessions)" in note.message and "daily.csv" in note.message
    [note] = src.fetch(Query(metrics=("cycle_days", "deals"), range=rng)).notes
    assert note.dates == (D(2024, 5, 3),) and note.metrics == ("cycle_days",)
    # Days with every cell the query reads filled in: nothing to say.
    assert src.fetch(Query(metrics=("deals",), range=rng)).notes == []
    day = DateRange(start=D(2024, 5, 4), end=D(2024, 5, 4))
    assert src.fetch(Query(metrics=("sessions",), range=day)).notes == []


def test_files_are_read_lazily_and_once(tmp_path):
    shutil.copy(DATA / "web/web_daily.csv", tmp_path / "daily.csv")
    src = source({"tables": [{"path": "daily.csv", "dimensions": ["channel"]},
                             {"path": "not-yet-there.csv"}]}, tmp_path)
    query = Query(metrics=("sessions",), range=MAY, dimensions=("channel",))
    with pytest.raises(DataFileError, match=r"not-yet-there\.csv"):
        src.fetch(query)  # planning reads every header
    src = source({"tables": [{"path": "daily.csv", "dimensions": ["channel"]}]}, tmp_path)
    first = src.fetch(query).rows
    (tmp_path / "daily.csv").write_text("garbage\n")
    assert src.fetch(query).rows == first


# --- Malformed files ----------------------------------------------------------------------------


@pytest.mark.parametrize(("cell", "value"), [
    ("12", 12.0), (" 7 ", 7.0), ("-3.5", -3.5), (".5", 0.5), ("5.", 5.0), ("+2e3", 2000.0),
    ("", None), ("   ", None),
])
def test_numbers_read_as_written(cell, value):
    from kpireport_csv.values import parse_number

    assert parse_number(cell) == value


@pytest.mark.parametrize("cell", ["1,234", "1 234", "1_000", "nan", "inf", "-Infinity",
                                  "1e999", "0x10", "12%", "€5"])
def test_what_python_or_a_spreadsheet_would_read_loosely_is_refused(cell):
    from kpireport_csv.values import parse_number

    with pytest.raises(ValueError, match="is not a number"):
        parse_number(cell)


@pytest.mark.parametrize(("name", "line", "column", "words"), [
    # The quoted two-line cell on lines 3-4 puts the bad number on line 5.
    ("bad_number.csv", 5, 3, ["sessions", "'1x2' is not a number"]),
    # A record spanning lines 3-4: the bad cell is on line 4.
    ("bad_number_in_quoted_row.csv", 4, 3, ["sessions", "'4x' is not a number"]),
    ("bad_date.csv", 3, 1, ["date", "'2024-02-30' is not a date"]),
    ("ragged.csv", 5, 4, ["4 cells", "header has 3"]),
    ("unknown_column.csv", 1, 3, ["Newsletter", "metrics: {Newsletter: {aggregation: sum}}",
                                  "dimensions: [Newsletter]"]),
])
def test_malformed_files_name_file_line_and_column(name, line, column, words):
    header = (DATA / "bad" / name).read_text().splitlines()[0]
    dimensions = ["channel"] if "channel" in header else []
    src = source({"tables": [{"path": f"bad/{name}", "dimensions": dimensions}]})
    with pytest.raises(DataFileError) as err:
        src.fetch(Query(metrics=("sessions",), range=MAY))
    exc = err.value
    assert (exc.line, exc.column) == (line, column)
    assert exc.file == str(DATA / "bad" / name)
    for word in words:
        assert word in str(exc)
    assert f"{name}, line {line}, column {column}" in str(exc)
    # check() reports the same without raising.
    assert src.check() == [str(exc)]


def test_check_lists_every_problem_without_raising():
    src = source({"tables": [{"path": "bad/missing_time.csv"}, {"path": "web/nope.csv"},
                             {"path": "web/web_monthly.csv"}],
                  "search_console": ["gsc_orphan/*", "gsc_nothing_here/*", "gsc_bad/*"]})
    problems = src.check()
    assert len(problems) == 5
    assert "missing_time.csv" in problems[0] and "no time column" in problems[0]
    assert "nope.csv" in problems[1] and "file not found" in problems[1]
    assert "gsc_nothing_here/*" in problems[2] and "matches no export" in problems[2]
    assert "gsc_bad/ctr/Dates.csv, line 3, column 4: CTR: 'ten%' is not a click-through rate" \
        in problems[3]
    assert "gsc_orphan/requetes-seules" in problems[4]
    assert "without the dates table (Chart.csv" in problems[4]


def test_a_mean_without_its_weight_in_the_same_file_is_refused(tmp_path):
    (tmp_path / "t.csv").write_text("date,avg_session_duration\n2024-05-01,60\n")
    [problem] = source({"tables": [{"path": "t.csv"}]}, tmp_path).check()
    assert "line 1, column 2" in problem and "weighted by sessions" in problem


def test_a_distinct_count_needs_one_row_per_key(tmp_path):
    (tmp_path / "t.csv").write_text("date,users\n2024-05-01,60\n2024-05-01,61\n")
    [problem] = source({"tables": [{"path": "t.csv"}]}, tmp_path).check()
    assert "line 3, column 1" in problem and "line 2" in problem


def test_a_file_that_is_not_utf8_is_named(tmp_path):
    (tmp_path / "t.csv").write_bytes("date,sessions\n2024-05-01,6\n# é\n".encode("latin-1"))
    [problem] = source({"tables": [{"path": "t.csv"}]}, tmp_path).check()
    assert "t.csv, line 3" in problem and "UTF-8" in problem


# --- Search Console exports -----------------------------------------------------------------------


def test_search_console_month_ctr_and_position_from_dates():
    days = gsc_days("gsc/2024-05")
    clicks = sum(c for c, _, _ in days.values())
    impressions = sum(i for _, i, _ in days.values())
    position = sum(p * i for _, i, p in days.values()) / impressions
    mean_ctr = sum(c / i for c, i, _ in days.values()) / len(days)
    assert abs(clicks / impressions - mean_ctr) > 0.001

    src = source({"search_console": "gsc/2024-05"})
    table = src.fetch(Query(metrics=("clicks", "impressions", "ctr", "position"), range=MAY))
    assert table.value("clicks") == clicks
    assert table.value("impressions") == impressions
    assert table.value("ctr") == pytest.approx(clicks / impressions)
    assert table.value("position") == pytest.approx(position)
    assert table.notes == []
    assert set(src.capabilities().dimensions) == {"query", "page", "country", "device",
                                                  "search_appearance"}


def test_search_console_days_come_out_oldest_first():
    days = gsc_days("gsc/2024-05")
    table = source({"search_console": "gsc/2024-05"}).fetch(
        Query(metrics=("clicks",), range=MAY, granularity=DAY))
    assert [r["date"] for r in table.rows] == sorted(days)
    assert [r["clicks"] for r in table.rows] == [days[d][0] for d in sorted(days)]


def test_search_console_top_queries_for_the_export_range():
    expected = read(DATA / "gsc/2024-05/Queries.csv")
    table = source({"search_console": "gsc/2024-05"}).fetch(
        Query(metrics=("clicks", "impressions", "ctr", "position"), range=MAY, dimensions=("query",
                                                                                           ),
              order=(Order(metric="clicks"),), limit=3))
    assert [r["query"] for r in table.rows] == [
        "kpi report", 'kpi report, "monthly"\nexample', "検索エンジン最適化"]
    for row, raw in zip(table.rows, expected, strict=False):
        assert row["query"] == raw["Top queries"]
        assert row["clicks"] == float(raw["Clicks"])
        assert row["position"] == float(raw["Position"])
        assert row["ctr"] == pytest.approx(float(raw["Clicks"]) / float(raw["Impressions"]))
    everything = source({"search_console": "gsc/2024-05"}).fetch(
        Query(metrics=("clicks",), range=MAY, dimensions=("query",)))
    assert {r["query"] for r in everything.rows} == {r["Top queries"] for r in expected}
    assert "تحسين محركات البحث" in {r["query"] for r in everything.rows}


def test_search_console_dimension_files():
    src = source({"search_console": "gsc/2024-05"})
    countries = src.fetch(Query(metrics=("clicks",), range=MAY, dimensions=("country",)))
    assert {r["country"]: r["clicks"] for r in countries.rows} == {
        r["Country"]: float(r["Clicks"]) for r in read(DATA / "gsc/2024-05/Countries.csv")}
    appearance = src.fetch(Query(metrics=("clicks",), range=MAY, dimensions=("search_appearance",)))
    assert {r["search_appearance"]: r["clicks"] for r in appearance.rows} == {
        "Review snippet": 52.0, "Videos": 9.0}
    pages = src.fetch(Query(metrics=("clicks",), range=MAY, dimensions=("page",),
                            order=(Order(metric="clicks"),), limit=2))
    assert [r["page"] for r in pages.rows] == [
        "https://www.example.com/", "https://www.example.com/search?q=a,b"]


def test_search_console_queries_for_another_range_name_the_export_ranges():
    # No export for April (missing, or of another range): an error, the run must fail.
    with pytest.raises(SourceError, match=r"2024-05-01\.\.2024-05-31") as err:
        source({"search_console": "gsc/2024-05"}).fetch(Query(metrics=("clicks",), range=APRIL,
                                                              dimensions=("query",)))
    assert "Export the Performance report for exactly 2024-04-01..2024-04-30" in str(err.value)
    # A quarter's queries from the monthly exports inside it: that table is unavailable.
    table = source({"search_console": "gsc/2024-05"}).fetch(Query(metrics=("clicks",), range=Q2,
                                                                  dimensions=("query",)))
    assert table.rows == []
    [note] = table.notes
    assert note.kind is NoteKind.UNAVAILABLE and note.metrics == ("clicks",)
    assert "Export the Performance report for exactly 2024-04-01..2024-06-30" in note.message
    # By day, what an export gives only as one total is unavailable, said so: the rest of the
    # report (branded clicks' value) stands.
    daily = source({"search_console": "gsc/2024-05"}).fetch(
        Query(metrics=("clicks",), range=MAY, dimensions=("query",), granularity=DAY))
    assert daily.rows == [] and "one total" in daily.notes[0].message
    assert daily.notes[0].kind is NoteKind.UNAVAILABLE


def test_overlapping_exports_the_latest_export_wins():
    may, june = gsc_days("gsc/2024-05"), gsc_days("gsc/2024-06")
    overlap = set(may) & set(june)
    assert min(overlap) == D(2024, 5, 25)
    assert all(may[d] != june[d] for d in overlap)  # the exports disagree on those days
    merged = {**may, **june}
    src = source({"search_console": "gsc/*"})
    table = src.fetch(Query(metrics=("clicks", "impressions"), range=MAY, granularity=DAY))
    assert {r["date"]: (r["clicks"], r["impressions"]) for r in table.rows} == {
        d: (merged[d][0], merged[d][1]) for d in MAY.iter_days()}
    total = src.fetch(Query(metrics=("clicks", "ctr"), range=MAY))
    clicks = sum(merged[d][0] for d in MAY.iter_days())
    assert total.value("clicks") == clicks
    assert total.value("ctr") == pytest.approx(clicks / sum(merged[d][1] for d in MAY.iter_days()))
    # Each export's queries answer its own range.
    june_range = DateRange(start=D(2024, 5, 25), end=D(2024, 6, 21))
    queries = src.fetch(Query(metrics=("clicks",), range=june_range, dimensions=("query",)))
    assert {r["query"]: r["clicks"] for r in queries.rows} == {
        "kpi report": 380.0, "seo agency paris": 30.0}


def test_search_console_range_beyond_the_exports_is_noted():
    rng = DateRange(start=D(2024, 6, 1), end=D(2024, 6, 30))
    table = source({"search_console": "gsc/*"}).fetch(Query(metrics=("clicks",), range=rng))
    [note] = table.notes
    assert note.kind is NoteKind.MISSING_DAYS
    assert note.dates == tuple(D(2024, 6, d) for d in range(22, 31))


def french_expected() -> tuple[float, float, float]:
    rows = read(DATA / "gsc_fr/juin/Dates.csv")
    clicks = sum(float(r["Clics"]) for r in rows)
    impressions = sum(float(r["Impressions"]) for r in rows)
    position = sum(float(r["Position"].replace(",", ".")) * float(r["Impressions"])
                   for r in rows) / impressions
    return clicks, impressions, position


def test_french_export():
    clicks, impressions, position = french_expected()
    week = DateRange(start=D(2024, 6, 1), end=D(2024, 6, 7))
    src = source({"search_console": "gsc_fr/*"})
    table = src.fetch(Query(metrics=("clicks", "ctr", "position"), range=week))
    assert table.value("clicks") == clicks
    assert table.value("ctr") == pytest.approx(clicks / impressions)
    assert table.value("position") == pytest.approx(position)
    queries = src.fetch(Query(metrics=("clicks", "position"), range=week, dimensions=("query",)))
    # In Search Console's rank: by clicks, then impressions.
    assert queries.rows == [{"query": "rapport kpi", "clicks": 61.0, "position": 4.1},
                            {"query": "agence seo, lyon", "clicks": 20.0, "position": 9.35}]
    countries = src.fetch(Query(metrics=("impressions",), range=week, dimensions=("country",)))
    assert {r["country"] for r in countries.rows} == {"France", "Belgique"}


def test_zipped_export_as_downloaded(tmp_path):
    with zipfile.ZipFile(tmp_path / "example.com-Performance-on-Search.zip", "w") as archive:
        for path in (DATA / "gsc_fr/juin").iterdir():
            archive.write(path, path.name)
    clicks, impressions, _ = french_expected()
    src = source({"search_console": "*.zip"}, tmp_path)
    assert src.check() == []
    table = src.fetch(Query(metrics=("clicks", "impressions"), range=DateRange(start=D(2024, 6, 1),
                                                                               end=D(2024, 6, 7))))
    assert (table.value("clicks"), table.value("impressions")) == (clicks, impressions)


def test_a_repeated_row_is_an_error_not_double_counted(tmp_path):
    (tmp_path / "daily.csv").write_text(
        "date,channel,sessions\n2024-05-01,Direct,10\n2024-05-02,Direct,20\n"
        "2024-05-02,Direct,20\n2024-05-02,Email,5\n", encoding="utf-8")
    src = source({"tables": [{"path": "daily.csv", "dimensions": ["channel"]}]}, tmp_path)
    with pytest.raises(DataFileError) as err:
        src.fetch(Query(metrics=("sessions",), range=MAY))
    assert (err.value.line, err.value.column) == (4, 1)
    assert "same date and dimensions as line 3" in str(err.value)


def test_two_tables_of_the_same_shape_for_a_metric_are_refused(tmp_path):
    # One file a year is natural, but a metric is read from one table: the other's rows
    # would be left out without a word.
    (tmp_path / "y2025.csv").write_text("date,sessions\n2025-10-01,5\n", encoding="utf-8")
    (tmp_path / "y2026.csv").write_text("date,sessions\n2026-10-01,7\n", encoding="utf-8")
    src = source({"tables": [{"path": "y2025.csv"}, {"path": "y2026.csv"}]}, tmp_path)
    [problem] = src.check()
    assert "y2025.csv and y2026.csv both hold sessions by day" in problem
    assert "put them in one file" in problem


def test_a_zip_of_several_exports_is_refused_not_read_in_part(tmp_path):
    with zipfile.ZipFile(tmp_path / "weeks.zip", "w") as archive:
        for week in ("week1", "week2"):
            for path in (DATA / "gsc_fr/juin").iterdir():
                archive.write(path, f"{week}/{path.name}")
    src = source({"search_console": "weeks.zip"}, tmp_path)
    [problem] = src.check()
    assert "holds more than one export (week1/" in problem and "week2/" in problem


def test_a_semicolon_file_read_with_commas_says_so(tmp_path):
    (tmp_path / "fr.csv").write_text("date;sessions\n2024-05-01;10\n", encoding="utf-8")
    src = source({"tables": [{"path": "fr.csv"}]}, tmp_path)
    [problem] = src.check()
    assert "separated by ';' (add delimiter: ';'" in problem


def test_a_file_copied_over_with_the_same_time_and_size_is_read_again(tmp_path):
    import os

    path = tmp_path / "daily.csv"
    path.write_text("date,sessions\n2024-05-01,11\n", encoding="utf-8")
    assert source({"tables": [{"path": "daily.csv"}]}, tmp_path).fetch(
        Query(metrics=("sessions",), range=MAY)).value("sessions") == 11
    stat = path.stat()
    replacement = tmp_path / "new.csv"
    replacement.write_text("date,sessions\n2024-05-01,99\n", encoding="utf-8")
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as cp -p would
    os.replace(replacement, path)
    assert source({"tables": [{"path": "daily.csv"}]}, tmp_path).fetch(
        Query(metrics=("sessions",), range=MAY)).value("sessions") == 99


def test_a_comment_line_after_the_header_is_a_comment(tmp_path):
    (tmp_path / "ga4.csv").write_text(
        "# Account: Example\ndate,sessions\n2024-05-01,10\n# ------\n2024-05-02,20\n",
        encoding="utf-8")
    src = source({"tables": [{"path": "ga4.csv"}]}, tmp_path)
    assert src.check() == []
    assert src.fetch(Query(metrics=("sessions",), range=MAY)).value("sessions") == 30


def test_search_consoles_last_days_are_said_to_be_not_final(tmp_path):
    shutil.copytree(DATA / "gsc_fr/juin", tmp_path / "juin")
    settings = CsvSettings.model_validate({"search_console": "juin"})
    week = DateRange(start=D(2024, 6, 1), end=D(2024, 6, 7))
    fresh = CsvSource(settings, dataclasses.replace(context(tmp_path), today=D(2024, 6, 8)))
    [note] = [n for n in fresh.fetch(Query(metrics=("clicks",), range=week)).notes
              if n.kind is NoteKind.INCOMPLETE]
    assert note.dates == (D(2024, 6, 5), D(2024, 6, 6), D(2024, 6, 7))
    later = CsvSource(settings, context(tmp_path))  # run on 3 July: June is final
    assert not [n for n in later.fetch(Query(metrics=("clicks",), range=week)).notes
                if n.kind is NoteKind.INCOMPLETE]


def test_a_monthly_history_table_answers_the_months_the_daily_table_lacks(tmp_path):
    days = "".join(f"2026-10-{d:02d},10\n" for d in range(1, 32))
    (tmp_path / "recent.csv").write_text("date,sessions\n" + days, encoding="utf-8")
    months = "".join(f"{m},200\n" for m in ("2025-10", "2025-11", "2025-12", "2026-01"))
    (tmp_path / "history.csv").write_text("month,sessions\n" + months, encoding="utf-8")
    src = source({"tables": [{"path": "recent.csv"}, {"path": "history.csv"}]}, tmp_path)
    october = DateRange(start=D(2026, 10, 1), end=D(2026, 10, 31))
    last_year = DateRange(start=D(2025, 10, 1), end=D(2025, 10, 31))
    assert src.fetch(Query(metrics=("sessions",), range=october)).value("sessions") == 310  # by day
    table = src.fetch(Query(metrics=("sessions",), range=last_year))
    assert table.value("sessions") == 200 and not table.notes  # from the history


def test_a_tables_missing_days_concern_the_metrics_it_gave(tmp_path):
    (tmp_path / "web.csv").write_text("date,sessions\n" + "".join(
        f"2024-05-0{d},10\n" for d in range(1, 5)))
    (tmp_path / "pages.csv").write_text("date,pageviews\n2024-05-01,3\n2024-05-02,3\n"
                                        "2024-05-04,3\n")
    src = source({"tables": [{"path": "web.csv"}, {"path": "pages.csv"}]}, tmp_path)
    table = src.fetch(Query(metrics=("sessions", "pageviews"), range=DateRange(start=D(2024, 5, 1),
                                                                               end=D(2024, 5, 4))))
    [note] = table.notes
    assert note.kind is NoteKind.MISSING_DAYS and note.dates == (D(2024, 5, 3),)
    assert note.metrics == ("pageviews",)  # sessions are complete: not theirs


@pytest.mark.parametrize("column", [
    ["1", "2.5", "-3", " 4 ", "1e3"],
    ["1", "", "3"],                      # an empty cell: no value
    ["1_000", "2"], ["nan", "1"], ["inf"], ["1e16"], ["-1e16"], ["1,5"], ["12", "abc"],
    [],
])
def test_a_column_of_figures_reads_as_each_of_its_cells(column):
    # The column-at-once reading of a tidy file is a shortcut: same figures, same refusals.
    from kpireport_csv.tidy import _numbers
    from kpireport_csv.values import parse_number

    try:
        expected = [parse_number(cell) for cell in column]
    except ValueError:
        with pytest.raises(ValueError):
            _numbers(column)
    else:
        assert _numbers(column) == expected
