"""Issue #15, review 5: a year to date and October's own report give a level objective judged
on October the same need per remaining month, and say what is counted on which day; the
summary and How to read name OKRs only when OKRs are printed; a chart's caption says whose
target its dashed line draws. Read on the example's reports, as of 2026-12-01."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from shared import ROOT

from kpireport import render
from kpireport.chart_targets import target_lines
from kpireport.config import load_config
from kpireport.objectives import months_left
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
CLIENTS = ["maison-lumiere", "northwind-dental", "acme-robotics"]
PERIODS = ["2026-10", "2026-Q3", "year-to-date"]
OCTOBER = dt.date(2026, 10, 1)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Any]:
    """Each example report computed and rendered to HTML once: (report, html)."""
    tmp: Path = tmp_path_factory.mktemp("words")
    plugins = load_plugins()
    config = load_config(ROOT / "config.example.yaml")
    out = {}
    for client in CLIENTS:
        for period in PERIODS:
            report = compute_report(config, config.client(client), plugins,
                                    period_spec=period, now=NOW, state_root=tmp / "state")
            out[(client, period)] = (report, render.render_html(report, plugins)[0])
    return out


def _text(page: str) -> str:
    """What a reader sees: the body's text, without its script, entities decoded."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page[page.index("<body"):], flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))).replace("\xa0", " ")


@pytest.mark.parametrize("client", CLIENTS)
def test_a_level_judged_on_october_needs_the_same_each_month_in_both_reports(reports, client):
    monthly, _ = reports[(client, "2026-10")]
    ytd, _ = reports[(client, "year-to-date")]
    assert ytd.data_end < ytd.period.end  # the example's data stops before 30 November
    compared = 0
    for a in ytd.objectives:
        if a.kind != "level" or a.measured_in != OCTOBER or a.required_rate is None:
            continue
        [same] = [m for m in monthly.objectives if m.key == a.key]
        assert same.value == pytest.approx(a.value)  # October's value in both
        # Spread over November and December: two whole months, not 1.2 from 24 November.
        assert a.required_rate == pytest.approx(same.required_rate)
        assert a.required_rate == pytest.approx((a.target - a.value) / 2)
        assert months_left(dt.date(2026, 10, 31), a.deadline) == 2
        compared += 1
    assert compared  # each client has a level objective judged on October
    # A total still runs to the data's last day: its need is spread over what is left after it.
    for a in ytd.objectives:
        if a.kind == "cumulative" and a.required_rate is not None:
            assert a.required_rate == pytest.approx(
                (a.target - a.value) / months_left(ytd.period_of(a.kpi).end, a.deadline))


def test_northwind_year_to_date_needs_20_qualified_leads_a_month_as_october_does(reports):
    _, html = reports[("northwind-dental", "year-to-date")]
    _, monthly_html = reports[("northwind-dental", "2026-10")]
    text = _text(html)
    for page in (text, _text(monthly_html)):
        assert "Gain needed each remaining month 20 " in page
        assert "Decrease needed each remaining month 1.4 days" in page
    # The lead says what is counted on which day, as the rows do.
    assert ("Totals and days left are counted as of November 24, 2026, the last day with "
            "data. A monthly level is judged on October 2026, the last whole month, and its "
            "monthly need is spread over the months after it.") in text
    assert "Expected by the end of October 2026" in text
    assert "expected values and monthly needs are counted as of" not in text


def test_the_french_lead_names_the_month_a_level_is_judged_on(reports):
    _, html = reports[("maison-lumiere", "year-to-date")]
    text = _text(html)
    assert ("Totaux et jours restants comptés au 24 novembre 2026, dernier jour de données. "
            "Un niveau mensuel est jugé sur octobre 2026, dernier mois complet, et son besoin "
            "mensuel réparti sur les mois suivants.") in text
    assert "Progression nécessaire chaque mois restant 0,10 point de pourcentage" in text


@pytest.mark.parametrize("client", CLIENTS)
def test_a_report_without_okrs_does_not_mention_them(reports, client):
    report, html = reports[(client, "2026-Q3")]
    assert not report.okrs and report.objectives  # the OKRs start in October
    text = _text(html)
    assert "OKR" not in text
    assert "key result" not in text.lower() and "résultat clé" not in text.lower()
    heading = "Objectifs en un coup d’œil" if client == "maison-lumiere" else \
        "Objectives at a glance"
    assert f"<h3>{heading}</h3>" in html
    # October's report has both, and says both.
    report, html = reports[(client, "2026-10")]
    assert report.okrs
    both = "Objectifs et OKR en un coup d’œil" if client == "maison-lumiere" else \
        "Objectives and OKRs at a glance"
    assert f"<h3>{both}</h3>" in html
    assert ("A key result scores from 0 to 1" in html) != (client == "maison-lumiere")


def _caption(html: str, heading: str) -> str:
    start = html.index(f"<h3>{heading}</h3>")
    caption = html.index('class="kpi-description">', start) + len('class="kpi-description">')
    return unescape(html[caption:html.index("</p>", caption)])


def test_a_chart_names_whose_target_it_draws(reports):
    acme, html = reports[("acme-robotics", "2026-10")]
    line = target_lines(acme)["qualified_leads"]
    assert (line.value, line.source, line.other) == (80, "objective", 85)
    assert _caption(html, "Qualified leads").endswith(
        "Target line: the objective's 80 (the key result aims at 85).")
    # A key result's line, where no level objective holds the KPI.
    assert _caption(html, "New opportunities").endswith("Target line: the key result's 45.")
    _, html = reports[("northwind-dental", "2026-10")]
    assert _caption(html, "Qualified leads").endswith(
        "Target line: the objective's 550 (the key result aims at 560).")
    _, html = reports[("maison-lumiere", "2026-10")]
    assert _caption(html, "Taux de conversion").endswith(
        "Ligne de cible\u202f: l’objectif de 2,40\u202f% (le résultat clé vise 2,00\u202f%).")
    # Before the OKRs start, the objective's line alone.
    _, html = reports[("northwind-dental", "2026-Q3")]
    assert _caption(html, "Qualified leads").endswith("Target line: the objective's 550.")
    # A chart without a target line says nothing of one.
    assert "Target line" not in _caption(html, "Sessions")
