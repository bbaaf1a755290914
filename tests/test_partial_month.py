"""A period report's partial month is drawn for every unit (issue #15): a year to date as of
1 December 2026 whose data stops on 24 November charts November's first 24 days of a rate,
an average and a count, each beside the same days of 2025, computed as the period's value
is; a figure a source gives for whole months only leaves its slot empty, and the key says
why. The expected figures are recomputed here from the example's CSV files."""

from __future__ import annotations

import csv
import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import pytest

from kpireport.config import load_config
from kpireport.data import NoteKind
from kpireport.kpis import SeriesPoint
from kpireport.periods import resolve
from kpireport.pipeline.plan import partial_month_ranges
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.render import render_html

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "data"
D = dt.date
FIRST_OF_DECEMBER = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
NOV_2026 = (D(2026, 11, 1), D(2026, 11, 24))
NOV_2025 = (D(2025, 11, 1), D(2025, 11, 24))


def csv_rows(client: str, name: str) -> list[dict[str, str]]:
    with open(DATA / client / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def days_of(rows: list[dict[str, str]], days: tuple[dt.date, dt.date]) -> list[dict[str, str]]:
    first, last = (d.isoformat() for d in days)
    return [r for r in rows if first <= r["date"] <= last]


def summed(rows: list[dict[str, str]], column: str) -> float:
    return sum(float(r[column]) for r in rows if r[column])


def weighted(rows: list[dict[str, str]], column: str, weight: str) -> float:
    kept = [r for r in rows if r[column]]
    return (sum(float(r[column]) * float(r[weight]) for r in kept)
            / sum(float(r[weight]) for r in kept))


@pytest.fixture(scope="module")
def example() -> tuple[Any, Any]:
    return load_config(ROOT / "config.example.yaml"), load_plugins()


@pytest.fixture(scope="module")
def ytd(example, tmp_path_factory) -> dict[str, Any]:
    """Each example client's year to date as of 1 December 2026, computed once, and its
    HTML."""
    config, plugins = example
    state = tmp_path_factory.mktemp("state")
    out = {}
    for client in ("acme-robotics", "northwind-dental", "maison-lumiere"):
        report = compute_report(config, config.client(client), plugins,
                                period_spec="year-to-date", now=FIRST_OF_DECEMBER,
                                state_root=state)
        out[client] = (report, render_html(report, plugins)[0])
    return out


def chart_of(html: str, label: str) -> str:
    """The HTML of one KPI's chart block, from its heading to the next KPI's."""
    section = html[html.index('id="family-'):]
    block = section[section.index(f"<h3>{label}</h3>"):]
    end = block.find('<div class="kpi">', 1)
    return block if end < 0 else block[:end]


def test_a_rates_partial_month_is_its_numerator_over_its_denominator_on_those_days(ytd):
    report, html = ytd["acme-robotics"]
    web = csv_rows("acme-robotics", "web_daily.csv")
    rate = report.kpis["conversion_rate"]
    assert rate.data_end == D(2026, 11, 24)
    assert rate.partial_month == SeriesPoint(start=D(2026, 11, 1), value=pytest.approx(
        summed(days_of(web, NOV_2026), "conversions") / summed(days_of(web, NOV_2026),
                                                               "sessions")))
    assert rate.partial_month_last_year == SeriesPoint(start=D(2025, 11, 1), value=pytest.approx(
        summed(days_of(web, NOV_2025), "conversions") / summed(days_of(web, NOV_2025),
                                                               "sessions")))
    # Not the mean of the days' rates (the channels' and days' sessions differ).
    daily = [p.value for p in rate.daily if p.start >= D(2026, 11, 1) and p.value is not None]
    assert rate.partial_month.value != pytest.approx(sum(daily) / len(daily), rel=1e-6)
    # Its chart draws the bar, striped and named by its last day.
    block = chart_of(html, rate.label)
    assert 'class="partial"' in block and ">to 24 Nov<" in block


def test_an_averages_partial_month_is_weighted_as_the_kpi_defines_it(ytd):
    report, _ = ytd["acme-robotics"]
    crm = csv_rows("acme-robotics", "crm_daily.csv")
    cycle = report.kpis["sales_cycle_length"]
    assert cycle.partial_month is not None and cycle.partial_month_last_year is not None
    assert cycle.partial_month.value == pytest.approx(
        weighted(days_of(crm, NOV_2026), "sales_cycle_days", "won_deals"))
    assert cycle.partial_month_last_year.value == pytest.approx(
        weighted(days_of(crm, NOV_2025), "sales_cycle_days", "won_deals"))
    report, html = ytd["northwind-dental"]
    web = csv_rows("northwind-dental", "web_daily.csv")
    duration = report.kpis["avg_session_duration"]
    assert duration.partial_month is not None and duration.partial_month_last_year is not None
    assert duration.partial_month.value == pytest.approx(
        weighted(days_of(web, NOV_2026), "avg_session_duration", "sessions"))
    assert duration.partial_month_last_year.value == pytest.approx(
        weighted(days_of(web, NOV_2025), "avg_session_duration", "sessions"))
    assert ">to Nov 24<" in chart_of(html, duration.label)  # en_US


def test_a_counts_partial_month_agrees_with_its_days(ytd):
    report, _ = ytd["acme-robotics"]
    web = csv_rows("acme-robotics", "web_daily.csv")
    sessions = report.kpis["sessions"]
    assert sessions.partial_month is not None and sessions.partial_month_last_year is not None
    assert sessions.partial_month.value == summed(days_of(web, NOV_2026), "sessions")
    assert sessions.partial_month.value == sum(
        p.value or 0 for p in sessions.daily if p.start >= D(2026, 11, 1))
    # Last year's same days: the period's last-year total less its whole months.
    whole = sum(p.value or 0 for p in sessions.monthly
                if D(2025, 1, 1) <= p.start <= D(2025, 10, 1))
    assert sessions.partial_month_last_year.value == pytest.approx(sessions.last_year - whole)
    assert sessions.partial_month_last_year.value == summed(days_of(web, NOV_2025), "sessions")


def test_a_figure_given_for_whole_months_only_leaves_the_slot_empty_and_the_key_says_why(ytd):
    report, html = ytd["acme-robotics"]
    users = report.kpis["users"]  # unique visitors: daily rows not to be summed, or months
    assert users.partial_month == SeriesPoint(start=D(2026, 11, 1), value=None)
    block = chart_of(html, users.label)
    assert ">to 24 Nov<" in block and 'class="partial"' not in block
    # Not a failure of its source: the optional query asked nothing of it.
    assert not [n for n in report.notes if n.kind is NoteKind.SOURCE_FAILED]
    # Review 4: one wording in every section's key, naming the day; the empty slot is
    # explained by its own chart's note, not by the key.
    def family_key(family: str) -> str:
        section = html[html.index(f'id="family-{family}"'):]
        key = section[section.index('<div class="chart-legend">'):]
        return key[:key.index("</div>")]

    said = "To 24\xa0Nov, against the same days last year"
    assert said in family_key("web") and said in family_key("commercial")
    assert "Month so far" not in html and "monthly-only" not in html
    assert "counts and amounts only" not in html


def test_the_key_is_in_french_for_a_french_client(ytd):
    report, html = ytd["maison-lumiere"]
    assert report.kpis["conversion_rate"].partial_month is not None
    assert report.kpis["conversion_rate"].partial_month.value is not None
    assert "Jusqu’au 24\xa0nov., face aux mêmes jours l’an dernier" in html
    assert "Mois entamé" not in html and "vide si" not in html
    assert "Month so far" not in html and "To 24" not in html


def test_a_whole_quarter_asks_and_draws_no_partial_month(example, tmp_path):
    config, plugins = example
    report = compute_report(config, config.client("acme-robotics"), plugins,
                            period_spec="2026-Q3", now=FIRST_OF_DECEMBER,
                            state_root=tmp_path)
    assert all(k.partial_month is None and k.partial_month_last_year is None
               for k in report.kpis.values())
    html = render_html(report, plugins)[0]
    assert 'class="partial"' not in html and "against the same days last year" not in html


def test_the_partial_months_days_and_last_years_same_days():
    today = D(2026, 12, 1)
    ytd = resolve("year-to-date", today)
    assert partial_month_ranges(ytd) is None  # ends with November
    cut = ytd.through(D(2026, 11, 24))
    days, last_year = partial_month_ranges(cut) or (None, None)
    assert (days.start, days.end) == NOV_2026 and (last_year.start, last_year.end) == NOV_2025
    assert partial_month_ranges(resolve("2026-Q3", today)) is None
    quarter = resolve("2026-Q4", today).through(D(2026, 11, 24))
    assert partial_month_ranges(quarter) is not None
    # A month's report charts thirteen months as lines: no partial month asked.
    assert partial_month_ranges(resolve("month-to-date", D(2026, 11, 25))) is None
    # A leap year's 1-28 February is part of its month; last year's same days, all of its.
    leap = resolve("year-to-date", D(2028, 3, 10))
    days, last_year = partial_month_ranges(leap.through(D(2028, 2, 28))) or (None, None)
    assert (days.start, days.end) == (D(2028, 2, 1), D(2028, 2, 28))
    assert (last_year.start, last_year.end) == (D(2027, 2, 1), D(2027, 2, 28))
    assert partial_month_ranges(leap.through(D(2028, 2, 29))) is None  # February whole


def test_a_monthly_export_leaves_a_rates_partial_month_empty_without_failing(tmp_path: Path):
    """A client whose only file gives months: the partial month is unknown, and its source
    is not reported as failed for it."""
    lines = ["month,sessions,conversions"]
    lines += [f"{y}-{m:02d},{1000 + m},{20 + m}" for y in (2025, 2026) for m in range(1, 13)]
    (tmp_path / "monthly.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config_file = tmp_path / "config.yaml"
    config_file.write_text(textwrap.dedent("""\
        agency: {name: Test Agency}
        clients:
          - id: shop
            name: Shop Ltd
            sources: {web: {plugin: csv, settings: {tables: [{path: monthly.csv}]}}}
            kpis: [conversion_rate, sessions]
        """), encoding="utf-8")
    config = load_config(config_file)
    report = compute_report(config, config.client("shop"), load_plugins(),
                            period_spec="year-to-date", now=dt.datetime(
                                2026, 11, 25, 8, 0, tzinfo=dt.UTC), state_root=tmp_path)
    rate = report.kpis["conversion_rate"]
    assert rate.partial_month == SeriesPoint(start=D(2026, 11, 1), value=None)
    assert not [n for n in report.notes if n.kind is NoteKind.SOURCE_FAILED]


def test_the_fields_are_a_keyword_addition_of_contract_1_4():
    import dataclasses

    import kpireport
    from kpireport import KpiDefinition, KpiValue, Unit

    fields = {f.name: f for f in dataclasses.fields(KpiValue)}
    for name in ("partial_month", "partial_month_last_year"):
        assert fields[name].kw_only and fields[name].default is None
    # A plugin written for 1.3 builds a KpiValue as before and gets neither.
    kpi = KpiValue(key="k", label="K", definition=KpiDefinition(
        id="k", label={"en": "K"}, unit=Unit.COUNT, metrics=("m",)))
    assert kpi.partial_month is None and kpi.partial_month_last_year is None
    assert kpireport.CONTRACT_VERSION == "1.4"
    contract = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    assert contract.startswith(f"# The plugin contract, version {kpireport.CONTRACT_VERSION}")
    section = contract[contract.index("- **1.4**"):]
    assert "`KpiValue.partial_month`" in section[:section.index("\n\n")]
