"""A section's chart key says "Target" exactly when a chart of that section draws a target
line (issue #15, fourth review: keys listed "Target" over charts with none, while the key
results they were read against, "Close deals in under 80 days", drew no line). Read on the
HTML of every example report: monthly, a quarter and a year to date, as of 2026-12-01."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from shared import ROOT

from kpireport import render
from kpireport.chart_targets import chart_targets
from kpireport.config import load_config
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
CLIENTS = ["maison-lumiere", "northwind-dental", "acme-robotics"]
PERIODS = [None, "2026-Q3", "year-to-date"]
CASES = [(c, p) for c in CLIENTS for p in PERIODS]
TARGET_WORD = {"maison-lumiere": "Cible"}
SECTION = re.compile(r'<section class="family family-[^"]*" id="(family-[^"]*)">(.*?)</section>',
                     re.S)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str | None], Any]:
    """Each example report computed and rendered to HTML once: (report, html)."""
    tmp: Path = tmp_path_factory.mktemp("keys")
    plugins = load_plugins()
    config = load_config(ROOT / "config.example.yaml")
    out = {}
    for client, period in CASES:
        report = compute_report(config, config.client(client), plugins, period_spec=period,
                                now=NOW, state_root=tmp / "state")
        out[(client, period)] = (report, render.render_html(report, plugins)[0])
    return out


def _sections(html: str) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """Each KPI section: its key's text and its KPIs' (heading, chart markup)."""
    out = {}
    for section_id, body in SECTION.findall(html):
        head = re.search(r"<thead>(.*?)</thead>", body, re.S)
        key = re.sub(r"<[^>]+>", " ", head.group(1)) if head else ""
        kpis = [(re.sub(r"<[^>]+>", "", k.split("</h3>")[0]).strip(), k)
                for k in body.split('<div class="kpi">')[1:]]
        out[section_id] = (key, kpis)
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1] or 'monthly'}")
def test_a_key_says_target_exactly_when_a_chart_of_its_section_draws_one(reports, case):
    report, html = reports[case]
    word = TARGET_WORD.get(case[0], "Target")
    sections = _sections(html)
    assert sections
    for section_id, (key, kpis) in sections.items():
        drawn = [title for title, chart in kpis if 'class="target"' in chart]
        assert (word in key.split()) == bool(drawn), (section_id, key, drawn)
    # And the line is the one the objectives and key results ask for, on its KPI's chart.
    titles = {k.key: str(k.label) for k in report.kpis.values()}
    charted = {title: chart for _, kpis in sections.values() for title, chart in kpis}
    for kpi, _target in chart_targets(report).items():
        if kpi in titles and titles[kpi] in charted and "<svg" in charted[titles[kpi]]:
            assert 'class="target"' in charted[titles[kpi]], (kpi, case)


def test_a_key_result_s_monthly_target_is_drawn_where_no_level_objective_is(reports):
    acme, _ = reports[("acme-robotics", None)]
    maison, _ = reports[("maison-lumiere", None)]
    # "Close deals in under 80 days", "Chiffre d'affaires mensuel" 240,000, "Position
    # moyenne sous 10" 9.5: monthly levels, read against each month's point.
    assert chart_targets(acme)["sales_cycle_length"] == 80
    assert chart_targets(maison)["revenue"] == 240000
    assert chart_targets(maison)["avg_position"] == 9.5
    # A level objective's target comes first: Acme's 80 qualified leads, not the KR's 85.
    assert chart_targets(acme)["qualified_leads"] == 80
    # A cumulative objective's total draws no line over monthly figures.
    northwind, _ = reports[("northwind-dental", None)]
    assert "new_customers" in chart_targets(northwind)  # the KR's 360 a month
    assert chart_targets(northwind)["new_customers"] == 360
    assert "won_revenue" not in chart_targets(acme)
    # Acme's "4,600 organic clicks by the end of Q3" was over before October: no line.
    assert "organic_clicks" not in chart_targets(acme)
    # The Q4 OKR had not started in Q3: its quarter's charts draw none of its targets.
    maison_q3, _ = reports[("maison-lumiere", "2026-Q3")]
    assert not maison_q3.okrs
    assert not {"revenue", "avg_position"} & set(chart_targets(maison_q3))
    # The year to date's November is in the Q4 OKR: its key results' lines are drawn.
    acme_ytd, _ = reports[("acme-robotics", "year-to-date")]
    assert acme_ytd.okrs and chart_targets(acme_ytd)["sales_cycle_length"] == 80
