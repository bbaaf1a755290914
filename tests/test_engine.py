import datetime as dt
import textwrap

import pytest

from kpireport.config import load_config
from kpireport.errors import SourceError
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.report import Status

CONFIG = """\
agency:
  name: Test Agency
defaults:
  period: 2026-10
clients:
  - id: steady
    name: Steady Co
    timezone: Europe/Paris
    sources:
      a: {plugin: constant, settings: {per_day: 3}}
    kpis: [signups]
    objectives:
      - id: level
        kpi: signups
        target: 120
        start: 2026-01-01
        deadline: 2026-12-31
      - id: total
        kpi: signups
        kind: cumulative
        target: 1000
        start: 2026-01-01
        deadline: 2026-12-31
    okrs:
      - objective: Grow signups
        start: 2026-10-01
        deadline: 2026-12-31
        key_results:
          - {kpi: signups, start: 60, target: 120, weight: 1}
          - {kpi: signups, start: 50, target: 80, direction: stay_above, weight: 3}
  - id: broken
    name: Broken Co
    on_source_error: partial
    sources:
      a: {plugin: constant, settings: {per_day: 5, fail: true}}
    kpis: [signups]
"""


@pytest.fixture()
def setup(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(CONFIG))
    return load_config(path), load_plugins(["kpireport_test_extras"])


NOW = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)


def test_values_comparisons_and_series(setup):
    config, plugins = setup
    report = compute_report(config, config.client("steady"), plugins, now=NOW)
    kpi = report.kpis["signups"]
    assert report.period.key == "2026-10"
    assert (kpi.value, kpi.previous, kpi.last_year) == (93, 90, 93)  # 31, 30 and 31 days × 3
    assert kpi.change_previous == pytest.approx(3 / 90)
    assert len(kpi.daily) == 31 and {p.value for p in kpi.daily} == {3}
    # The monthly series reaches back to the history needed by the objectives (24 months
    # before their start) and ends with the period's month.
    assert kpi.monthly[-1].start == dt.date(2026, 10, 1) and kpi.monthly[-1].value == 93
    assert kpi.monthly[0].start == dt.date(2024, 1, 1)
    assert report.language == "en" and report.timezone == "Europe/Paris"


def test_objectives_are_assessed_from_the_data(setup):
    config, plugins = setup
    report = compute_report(config, config.client("steady"), plugins, now=NOW)
    level, total = report.objectives
    # Level: baseline defaults to December 2025 (93); October is still 93: no progress.
    assert (level.baseline, level.value, level.progress) == (93, 93, 0)
    assert level.status is Status.OFF_TRACK
    # Cumulative: 1 January to 31 October = 304 days × 3 = 912 towards 1000.
    assert total.value == 912
    assert total.forecast == pytest.approx(912 / 304 * 365)
    assert total.status is Status.ON_TRACK
    [okr] = report.okrs
    first, second = okr.key_results
    assert first.score == pytest.approx((93 - 60) / (120 - 60))
    assert second.score == 1.0  # October's 93 stays above 80
    assert okr.score == pytest.approx((first.score * 1 + 1.0 * 3) / 4)


def test_a_quarter_judges_level_objectives_and_key_results_on_its_last_month(setup):
    config, plugins = setup
    report = compute_report(config, config.client("steady"), plugins, now=NOW,
                            period_spec="2026-Q3")
    level, total = report.objectives
    # The quarter's 276 signups are not a monthly level: September's 90 is.
    assert report.kpis["signups"].value == 276
    assert (level.value, level.measured_in, level.status) == (90, dt.date(2026, 9, 1),
                                                             Status.OFF_TRACK)
    assert level.days_left == (dt.date(2026, 12, 31) - dt.date(2026, 9, 30)).days
    assert total.value == 273 * 3 and total.measured_in is None  # 1 Jan to 30 Sep
    assert report.okrs == []  # its OKR starts in October: no part of the third quarter
    text = config.path.read_text()
    config.path.write_text(text.replace("start: 2026-10-01", "start: 2026-07-01"))
    config = load_config(config.path)
    report = compute_report(config, config.client("steady"), plugins, now=NOW,
                            period_spec="2026-Q3")
    [okr] = report.okrs
    assert okr.key_results[0].value == 90
    assert okr.key_results[0].score == pytest.approx((90 - 60) / (120 - 60))


def test_a_passed_deadline_judges_a_level_objective_on_the_deadlines_month(setup):
    config, plugins = setup
    text = config.path.read_text().replace("target: 120\n        start: 2026-01-01\n"
                                           "        deadline: 2026-12-31",
                                           "target: 90\n        start: 2026-01-01\n"
                                           "        deadline: 2026-09-30")
    config.path.write_text(text)
    config = load_config(config.path)
    [level, _] = compute_report(config, config.client("steady"), plugins, now=NOW).objectives
    # October has 93 (met), but September, the deadline's month, had 90: met too, and final.
    assert (level.value, level.measured_in, level.status) == (90, dt.date(2026, 9, 1),
                                                             Status.ACHIEVED)
    config.path.write_text(text.replace("target: 90\n", "target: 91\n"))
    config = load_config(config.path)
    [level, _] = compute_report(config, config.client("steady"), plugins, now=NOW).objectives
    assert level.status is Status.MISSED  # 93 in October comes too late


def test_rules_from_plugins_add_findings(setup):
    config, plugins = setup
    report = compute_report(config, config.client("steady"), plugins, now=NOW)
    rules = {f.rule for f in report.findings}
    assert "objective-pace" in rules  # the off-track level objective
    assert "many-signups" not in rules  # 93 is not above 100
    pace = next(f for f in report.findings if f.rule == "objective-pace")
    assert pace.figures["days_left"] == 61 and pace.figures["target"] == 120


def test_a_failing_source_fails_the_client_by_default(setup):
    config, plugins = setup
    client = config.client("broken").model_copy(update={"on_source_error": "fail"})
    with pytest.raises(SourceError, match="HTTP 503"):
        compute_report(config, client, plugins, now=NOW)


def test_partial_policy_states_the_gap(setup):
    config, plugins = setup
    report = compute_report(config, config.client("broken"), plugins, now=NOW)
    kpi = report.kpis["signups"]
    assert kpi.value is None and "HTTP 503" in kpi.error
    assert any("HTTP 503" in n.message for n in report.notes)


@pytest.mark.pdf
@pytest.mark.workers
def test_a_failing_source_fails_the_client_and_plugins_hear_of_it(setup, tmp_path, monkeypatch):
    config, plugins = setup
    from kpireport.batch import run_batch

    events = tmp_path / "events.log"
    monkeypatch.setenv("KPIREPORT_TEST_EVENTS", str(events))
    index = [c.id for c in config.clients].index("broken")
    config.clients[index] = config.client("broken").model_copy(
        update={"on_source_error": "fail"})
    [result], _ = run_batch(config, plugins, ["broken"], output_dir=tmp_path / "out", now=NOW,
                            workers=1)
    assert result.status == "failed" and "HTTP 503" in result.error
    # (Heard in the worker, which writes what it hears to the file.)
    assert events.read_text().splitlines() == ["started broken", "failed broken"]
    assert not list((tmp_path / "out").rglob("*.pdf"))


def test_a_blank_cell_is_noted_on_the_figures_it_concerns_only(tmp_path):
    days = [f"2026-10-{d:02d}" for d in range(1, 32)]
    rows = [f"{day},100,{'' if day == '2026-10-07' else 4}" for day in days]
    (tmp_path / "web.csv").write_text("date,sessions,leads\n" + "\n".join(rows) + "\n")
    (tmp_path / "config.yaml").write_text(textwrap.dedent("""\
        agency: {name: Test Agency, locale: fr_FR}
        defaults: {period: 2026-10}
        clients:
          - id: shop
            name: Shop
            sources: {web: {plugin: csv, label: Analytics, settings: {tables: [{path: web.csv}]}}}
            kpis: [sessions, leads]
        """))
    config = load_config(tmp_path / "config.yaml")
    plugins = load_plugins()
    report = compute_report(config, config.client("shop"), plugins, now=NOW)
    assert report.kpis["sessions"].notes == []
    [note] = report.kpis["leads"].notes
    assert note.dates == (dt.date(2026, 10, 7),) and report.kpis["leads"].value == 120
    from kpireport.render import render_html

    html, _, _ = render_html(report, plugins)
    assert "Analytics\u202f: certains chiffres manquent pour 7 oct. 2026." in html
    assert "aucune donnée" not in html


def test_okrs_are_judged_within_their_own_window(setup):
    config, plugins = setup
    # 1-19 October: key results are judged on September, before this OKR started.
    report = compute_report(config, config.client("steady"), plugins, period_spec="month-to-date",
                            now=dt.datetime(2026, 10, 20, 9, 0, tzinfo=dt.UTC))
    assert report.okrs == []
    # An OKR over by the report's month is judged on its deadline's month, and says so.
    text = config.path.read_text().replace("start: 2026-10-01\n        deadline: 2026-12-31",
                                           "start: 2026-04-01\n        deadline: 2026-06-30")
    assert "deadline: 2026-06-30" in text
    config.path.write_text(text)
    config = load_config(config.path)
    report = compute_report(config, config.client("steady"), plugins, now=NOW)
    [okr] = report.okrs
    assert okr.measured_in == dt.date(2026, 6, 1)
    assert okr.key_results[0].value == 90  # June's 30 days × 3, not October's 93
