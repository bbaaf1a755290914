"""The bundled example: every KPI equals an independent computation from the same CSV files."""

import csv
import datetime as dt
from collections import defaultdict
from pathlib import Path

import pytest

from kpireport.config import load_config
from kpireport.config.checks import check_config
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.report import Status

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "data"
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def example():
    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    return config, plugins


@pytest.fixture(scope="module")
def reports(example):
    config, plugins = example
    return {c.id: compute_report(config, c, plugins, now=NOW) for c in config.clients}


def rows(client: str, name: str) -> list[dict[str, str]]:
    with open(DATA / client / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def in_month(row: dict[str, str], month: str) -> bool:
    return row["date"].startswith(month)


def total(client: str, name: str, column: str, month: str) -> float:
    return sum(float(r[column]) for r in rows(client, name) if in_month(r, month) and r[column])


def weighted(client: str, name: str, column: str, weight: str, month: str) -> float:
    num = den = 0.0
    for r in rows(client, name):
        if in_month(r, month) and r[column]:
            num += float(r[column]) * float(r[weight])
            den += float(r[weight])
    return num / den


def gsc(client: str, month: str, name: str = "Dates.csv") -> list[dict[str, str]]:
    return rows(client, f"search-console/{month}/{name}")


def test_example_config_is_valid(example):
    config, plugins = example
    assert check_config(config, plugins, today=NOW.date()) == []
    assert len(config.clients) == 3
    assert {c.locale for c in config.clients} >= {"fr_FR", "en_US"}


def test_sample_data_covers_more_than_fourteen_months():
    for client in ("maison-lumiere", "northwind-dental", "acme-robotics"):
        dates = [r["date"] for r in rows(client, "web_daily.csv")]
        assert min(dates) <= "2024-09-01" and max(dates) >= "2026-10-31"


@pytest.mark.parametrize("month,attr", [("2026-10", "value"), ("2026-09", "previous"),
                                        ("2025-10", "last_year")])
def test_additive_and_ratio_kpis_equal_sums_of_the_files(reports, month, attr):
    lumiere = reports["maison-lumiere"].kpis
    assert getattr(lumiere["sessions"], attr) == total("maison-lumiere", "web_daily.csv",
                                                       "sessions", month)
    assert getattr(lumiere["revenue"], attr) == pytest.approx(
        total("maison-lumiere", "web_daily.csv", "revenue", month))
    conversions = total("maison-lumiere", "web_daily.csv", "conversions", month)
    sessions = total("maison-lumiere", "web_daily.csv", "sessions", month)
    # A ratio of sums, never a mean of daily ratios.
    assert getattr(lumiere["conversion_rate"], attr) == pytest.approx(conversions / sessions)
    assert getattr(lumiere["avg_session_duration"], attr) == pytest.approx(
        weighted("maison-lumiere", "web_daily.csv", "avg_session_duration", "sessions", month))

    northwind = reports["northwind-dental"].kpis
    assert getattr(northwind["leads"], attr) == total("northwind-dental", "crm_daily.csv",
                                                      "leads", month)
    assert getattr(northwind["qualified_leads"], attr) == total(
        "northwind-dental", "crm_daily.csv", "qualified_leads", month)
    assert getattr(northwind["sales_cycle_length"], attr) == pytest.approx(
        weighted("northwind-dental", "crm_daily.csv", "sales_cycle_days", "won_deals", month))


def test_unique_visitors_come_from_the_month_not_from_summed_days(reports):
    users = reports["northwind-dental"].kpis["users"]
    month = {r["month"]: float(r["users"]) for r in rows("northwind-dental", "users_monthly.csv")}
    daily_sum = total("northwind-dental", "users_daily.csv", "users", "2026-10")
    assert users.value == month["2026-10"] and users.last_year == month["2025-10"]
    assert users.value < daily_sum


def test_search_console_exports_give_clicks_ctr_and_weighted_position(reports):
    for client in ("maison-lumiere", "acme-robotics"):
        kpis = reports[client].kpis
        for month, attr in (("2026-10", "value"), ("2025-10", "last_year")):
            days = gsc(client, month)
            clicks = sum(int(r["Clicks"]) for r in days)
            impressions = sum(int(r["Impressions"]) for r in days)
            position = sum(float(r["Position"]) * int(r["Impressions"]) for r in days)
            assert getattr(kpis["organic_clicks"], attr) == clicks
            assert getattr(kpis["ctr"], attr) == pytest.approx(clicks / impressions)
            assert getattr(kpis["avg_position"], attr) == pytest.approx(position / impressions)


def test_top_queries_are_the_exports_rows_by_clicks(reports):
    queries = reports["acme-robotics"].kpis["top_queries"]
    export = gsc("acme-robotics", "2026-10", "Queries.csv")
    expected = sorted(export, key=lambda r: -int(r["Clicks"]))[:8]
    assert [r["query"] for r in queries.rows] == [r["Top queries"] for r in expected]
    assert [r["clicks"] for r in queries.rows] == [int(r["Clicks"]) for r in expected]


def test_top_pages_and_traffic_sources_are_grouped_sums(reports):
    pages = reports["acme-robotics"].kpis["top_pages"]
    views: dict[tuple[str, str], float] = defaultdict(float)
    for r in rows("acme-robotics", "pages_daily.csv"):
        if in_month(r, "2026-10"):
            views[(r["page"], r["page_title"])] += float(r["pageviews"])
    best = sorted(views.items(), key=lambda kv: -kv[1])[:8]
    assert [((r["page"], r["page_title"]), r["pageviews"]) for r in pages.rows] == best

    channels = reports["northwind-dental"].kpis["traffic_sources"]
    sessions: dict[str, float] = defaultdict(float)
    for r in rows("northwind-dental", "web_daily.csv"):
        if in_month(r, "2026-10"):
            sessions[r["channel"]] += float(r["sessions"])
    assert {r["channel"]: r["sessions"] for r in channels.rows} == sessions


def test_objectives_of_the_example(reports):
    lumiere = {a.key: a for a in reports["maison-lumiere"].objectives}
    revenue = lumiere["revenue-2026"]
    year = sum(total("maison-lumiere", "web_daily.csv", "revenue", f"2026-{m:02d}")
               for m in range(1, 11))
    assert revenue.value == pytest.approx(year)
    assert revenue.forecast == pytest.approx(year / 304 * 365)
    assert revenue.days_left == 61
    acme = {a.key: a for a in reports["acme-robotics"].objectives}
    # The Q3 deadline has passed and September's clicks fell short of 4,600.
    assert acme["organic-clicks-q3"].status is Status.MISSED
    statuses = {a.status for r in reports.values() for a in r.objectives}
    assert len(statuses) >= 3 and Status.NO_DATA not in statuses
    for report in reports.values():
        assert report.okrs and all(0 <= o.score <= 1 for o in report.okrs)
