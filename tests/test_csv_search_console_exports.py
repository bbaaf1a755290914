"""Search Console exports as Google's Performance report gives them today: ``Chart.csv`` for the
dates, ``Filters.csv``, ties in the queries listed alphabetically, blank cells, an empty query.

The fixtures under tests/data/csv/gsc_2026 and gsc_rolling are laid out as the web interface's
"Export > Download CSV" zip is (Chart.csv, Queries.csv, Pages.csv, Countries.csv, Devices.csv,
Search appearance.csv, Filters.csv). Expected figures are computed here from the files with the
``csv`` module, never with the plugin's code.
"""

import csv
import dataclasses
import datetime as dt
import shutil
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kpireport.data import DateRange, Filter, Granularity, NoteKind, Operator, Order, Query
from kpireport.sources import SourceContext
from kpireport.testing import SourceContract
from kpireport_csv import CsvSettings, CsvSource

DATA = Path(__file__).parent / "data" / "csv"
OCT = DateRange(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
SEP = DateRange(start=dt.date(2026, 9, 1), end=dt.date(2026, 9, 30))
OCT_2025 = DateRange(start=dt.date(2025, 10, 1), end=dt.date(2025, 10, 31))
BRAND = Filter(dimension="query", operator=Operator.REGEX, values=("birdwatch[ -]?notes",))
NOT_BRAND = Filter(dimension="query", operator=Operator.REGEX, values=("birdwatch[ -]?notes",),
                   negate=True)


def source(pattern: str | list[str], base: Path = DATA) -> CsvSource:
    context = SourceContext(name="search", client_id="birds", timezone=ZoneInfo("Europe/London"),
                            base_dir=base, today=dt.date(2026, 11, 5))
    return CsvSource(CsvSettings.model_validate({"search_console": pattern}), context)


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def sums(rows: list[dict[str, str]]) -> tuple[int, int, float]:
    """Clicks, impressions and the impression-weighted position of some export rows."""
    clicks = sum(int(r["Clicks"]) for r in rows)
    impressions = sum(int(r["Impressions"]) for r in rows)
    position = sum(float(r["Position"]) * int(r["Impressions"]) for r in rows) / impressions
    return clicks, impressions, position


def test_an_export_with_chart_csv_gives_the_figures_google_shows():
    src = source("gsc_2026/*")
    assert src.check() == []
    days = read(DATA / "gsc_2026/2026-10/Chart.csv")
    clicks, impressions, position = sums(days)
    table = src.fetch(Query(metrics=("clicks", "impressions", "ctr", "position"), range=OCT))
    assert table.value("clicks") == clicks
    assert table.value("impressions") == impressions
    assert table.value("ctr") == pytest.approx(clicks / impressions)
    assert table.value("position") == pytest.approx(position)
    daily = src.fetch(Query(metrics=("clicks",), range=OCT, granularity=Granularity.DAY))
    assert {r["date"].isoformat(): r["clicks"] for r in daily.rows} == {
        r["Date"]: int(r["Clicks"]) for r in days}
    assert not [n for n in table.notes if n.kind is not NoteKind.INCOMPLETE]


def test_the_export_zip_as_downloaded_is_read(tmp_path):
    archive = tmp_path / "birdwatch-notes.example-Performance-on-Search-2026-11-02.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for file in (DATA / "gsc_2026/2026-10").iterdir():
            z.write(file, file.name)
    src = source(str(archive), base=tmp_path)
    assert src.check() == []
    clicks, _, _ = sums(read(DATA / "gsc_2026/2026-10/Chart.csv"))
    assert src.fetch(Query(metrics=("clicks",), range=OCT)).value("clicks") == clicks


def test_top_queries_are_ranked_by_clicks_then_impressions_not_alphabetically():
    export = read(DATA / "gsc_2026/2026-10/Queries.csv")
    # The file lists ties alphabetically: a one-click operator query comes before a one-click
    # query with a thousand impressions.
    names = [r["Top queries"] for r in export]
    assert names.index('"site:birdwatch-notes.example"') < names.index(
        "best bird seed for winter")
    expected = sorted(export, key=lambda r: (-int(r["Clicks"]), -int(r["Impressions"])))
    table = source("gsc_2026/2026-10").fetch(Query(
        metrics=("clicks", "impressions"), range=OCT, dimensions=("query",),
        order=(Order(metric="clicks"),), limit=12))
    assert [(r["clicks"], r["impressions"]) for r in table.rows] == [
        (int(r["Clicks"]), int(r["Impressions"])) for r in expected[:12]]
    assert [r["query"] for r in table.rows][8:12] == [
        "best bird seed for winter", "wren call recording", "1 robin meaning", "(empty query)"]


def test_an_empty_query_cell_is_labelled():
    export = read(DATA / "gsc_2026/2026-10/Queries.csv")
    [blank] = [r for r in export if not r["Top queries"]]
    table = source("gsc_2026/2026-10").fetch(Query(metrics=("clicks", "impressions"), range=OCT,
                                                   dimensions=("query",)))
    [row] = [r for r in table.rows if r["query"] == "(empty query)"]
    assert (row["clicks"], row["impressions"]) == (int(blank["Clicks"]),
                                                   int(blank["Impressions"]))
    assert all(r["query"] for r in table.rows)


def test_a_blank_cell_in_the_dates_table_is_noted_not_dropped_in_silence(tmp_path):
    folder = tmp_path / "2026-10"
    shutil.copytree(DATA / "gsc_2026/2026-10", folder)
    chart = folder / "Chart.csv"
    lines = chart.read_text(encoding="utf-8").splitlines()
    day, clicks, impressions, ctr, position = lines[5].split(",")  # 2026-10-27
    lines[5] = ",".join([day, "", impressions, ctr, position])
    chart.write_text("\n".join(lines) + "\n", encoding="utf-8")
    src = source("2026-10", base=tmp_path)
    assert src.check() == []
    table = src.fetch(Query(metrics=("clicks", "position"), range=OCT))
    days = read(DATA / "gsc_2026/2026-10/Chart.csv")
    assert table.value("clicks") == sum(int(r["Clicks"]) for r in days) - int(clicks)
    [note] = [n for n in table.notes if n.kind is NoteKind.MISSING_VALUES]
    assert note.dates == (dt.date.fromisoformat(day),) and note.metrics == ("clicks",)
    assert f"blank cells (clicks) for {day}" in note.message
    # The position of that day is there: its figure has no note.
    positions = src.fetch(Query(metrics=("position",), range=OCT))
    assert not [n for n in positions.notes if n.kind is NoteKind.MISSING_VALUES]


def test_an_export_filtered_to_part_of_the_site_is_refused(tmp_path):
    folder = tmp_path / "2026-10"
    shutil.copytree(DATA / "gsc_2026/2026-10", folder)
    (folder / "Filters.csv").write_text(
        'Filter,Value\nSearch type,Web\nDate,"Oct 1, 2026 - Oct 31, 2026"\n'
        "Page,+/species/\n", encoding="utf-8")
    [problem] = source("2026-10", base=tmp_path).check()
    assert "2026-10: the export is filtered (Page +/species/" in problem
    assert "not the site's" in problem


def test_an_old_export_with_dates_csv_still_reads():
    src = source("gsc/2024-05")
    assert src.check() == []
    clicks, _, _ = sums(read(DATA / "gsc/2024-05/Dates.csv"))
    may = DateRange(start=dt.date(2024, 5, 1), end=dt.date(2024, 5, 31))
    assert src.fetch(Query(metrics=("clicks",), range=may)).value("clicks") == clicks


def test_an_export_without_its_dates_table_says_how_to_get_it(tmp_path):
    folder = tmp_path / "2026-10"
    shutil.copytree(DATA / "gsc_2026/2026-10", folder)
    (folder / "Chart.csv").unlink()
    [problem] = source("2026-10", base=tmp_path).check()
    assert "without the dates table (Chart.csv (Dates.csv in older exports)" in problem
    assert "Download CSV" in problem


def test_monthly_totals_by_query_from_a_multi_month_export_are_refused_before_the_run():
    rolling = source("gsc_rolling/*")
    assert rolling.check() == []
    caps = rolling.capabilities()
    reason = caps.refusal(Query(metrics=("clicks",), range=OCT, dimensions=("query",)))
    assert reason is not None and "no export covers a single calendar month" in reason
    # Which months the export covers, in words: a rolling "Last 3 months".
    assert ("gsc_rolling/last-3-months: 2026-08..2026-11 (4 months, from 2026-08-29, to "
            "2026-11-28)") in reason
    # A filter on the queries table (branded clicks) needs the same.
    assert caps.refusal(Query(metrics=("clicks",), range=OCT, filters=(BRAND,))) == reason
    # Its dates table gives any month's totals.
    assert caps.refusal(Query(metrics=("clicks",), range=OCT)) is None
    # Monthly exports: accepted.
    monthly = source("gsc_2026/*").capabilities()
    assert monthly.refusal(Query(metrics=("clicks",), range=OCT, dimensions=("query",))) is None


def test_branded_and_non_branded_clicks_sum_the_visible_queries():
    src = source("gsc_2026/*")
    for rng, folder in ((OCT, "2026-10"), (SEP, "2026-09")):
        export = read(DATA / "gsc_2026" / folder / "Queries.csv")
        branded = [r for r in export if "birdwatch notes" in r["Top queries"]
                   or "birdwatch-notes" in r["Top queries"]]
        others = [r for r in export if r not in branded]
        assert branded and others
        table = src.fetch(Query(metrics=("clicks", "impressions"), range=rng, filters=(BRAND,)))
        assert table.value("clicks") == sum(int(r["Clicks"]) for r in branded)
        assert table.value("impressions") == sum(int(r["Impressions"]) for r in branded)
        table = src.fetch(Query(metrics=("clicks",), range=rng, filters=(NOT_BRAND,)))
        assert table.value("clicks") == sum(int(r["Clicks"]) for r in others)


def test_branded_clicks_without_an_export_for_the_range_are_unavailable_not_a_failure():
    src = source("gsc_2026/*")
    # Last year's comparison: no export that far back.
    table = src.fetch(Query(metrics=("clicks",), range=OCT_2025, filters=(BRAND,)))
    assert table.rows == []
    [note] = table.notes
    assert note.kind is NoteKind.UNAVAILABLE and "Export the Performance report" in note.message
    # A daily series cannot come from a total per export: noted.
    daily = src.fetch(Query(metrics=("clicks",), range=OCT, filters=(BRAND,),
                            granularity=Granularity.DAY))
    assert daily.rows == [] and daily.notes[0].kind is NoteKind.UNAVAILABLE


def test_a_folder_with_both_an_old_and_a_new_dates_table_is_refused(tmp_path):
    folder = tmp_path / "2026-10"
    shutil.copytree(DATA / "gsc_2026/2026-10", folder)
    shutil.copy(folder / "Chart.csv", folder / "Dates.csv")
    [problem] = source("2026-10", base=tmp_path).check()
    assert "holds two dates tables (Chart.csv, Dates.csv)" in problem


def test_queries_hidden_by_google_are_noted_where_the_queries_fall_short_of_the_total():
    listed = sum(int(r["Clicks"]) for r in read(DATA / "gsc_2026/2026-10/Queries.csv"))
    total = sum(int(r["Clicks"]) for r in read(DATA / "gsc_2026/2026-10/Chart.csv"))
    assert listed < total
    src = source("gsc_2026/*")
    for query in (Query(metrics=("clicks",), range=OCT, filters=(BRAND,)),
                  Query(metrics=("clicks", "impressions"), range=OCT, dimensions=("query",),
                        order=(Order(metric="clicks"),), limit=10)):
        [note] = [n for n in src.fetch(query).notes if n.kind is NoteKind.THRESHOLDED]
        assert note.message == (f"gsc_2026/2026-10: the queries listed give {listed} of the "
                                f"{total} clicks of {OCT}; Google hides the others' queries "
                                f"for privacy")
        assert note.metrics == query.metrics
    # Pages and the total: nothing hidden to say.
    for query in (Query(metrics=("clicks",), range=OCT),
                  Query(metrics=("clicks",), range=OCT, dimensions=("page",))):
        assert not [n for n in src.fetch(query).notes if n.kind is NoteKind.THRESHOLDED]


class TestSearchConsoleExportsContract(SourceContract):
    """The contract suite on today's exports alone (no tidy table)."""

    @pytest.fixture
    def contract_source(self, source_context, tmp_path):
        shutil.copytree(DATA / "gsc_2026", tmp_path / "exports")
        settings = CsvSettings.model_validate({"search_console": "exports/*"})
        return CsvSource(settings, dataclasses.replace(source_context, base_dir=tmp_path))
