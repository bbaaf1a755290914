"""The HTML report as a web page, without a browser: the screen layout's structure (landmarks,
contents links, the screen stylesheet kept out of print), chart points that carry their month
and value, and nothing loaded from outside the page. tests/test_web_browser.py opens the same
pages in Chromium."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from kpireport import charts
from kpireport.config import load_config
from kpireport.kpis import SeriesPoint
from kpireport.pipeline.deliver import template_dir_of
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.render import render_html

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def month(m: int, year: int = 2026) -> dt.date:
    return dt.date(year, m, 1)


def test_each_month_of_a_chart_is_a_point_saying_its_month_and_value():
    points = [SeriesPoint(start=month(8), value=1200.0), SeriesPoint(start=month(9), value=None),
              SeriesPoint(start=month(10), value=1534.0)]
    last_year = [SeriesPoint(start=month(8), value=990.0),
                 SeriesPoint(start=month(9), value=1000.0),
                 SeriesPoint(start=month(10), value=None)]
    html = charts.line_chart(points, locale="en_US", unit="count", last_year=last_year,
                             title="Sessions", last_year_word="Last year")
    said = re.findall(r'<circle class="chart-point"[^>]*tabindex="(-?\d)"[^>]*'
                      r'aria-label="([^"]*)"><title>([^<]*)</title>', html)
    # September has no value: no point, and the line breaks there.
    assert [(tab, label) for tab, label, _ in said] == [
        ("-1", "August 2026: 1,200 (Last year: 990)"), ("0", "October 2026: 1,534")]
    assert all(label == title for _, label, title in said)
    # The chart's text alternative: its title, then every month's figure.
    assert ('role="group" aria-label="Sessions: August 2026: 1,200 (Last year: 990); '
            'October 2026: 1,534"') in html
    assert 'aria-hidden="true"' not in html.split("<svg", 2)[1].split(">", 1)[0]


def test_points_speak_the_clients_locale():
    """French sets a narrow no-break space before ':' and ';' (as the catalogue's French
    strings do); English none. web.js shows the point's aria-label as it is."""
    points = [SeriesPoint(start=month(9), value=1200.0), SeriesPoint(start=month(10),
                                                                      value=1534.0)]
    last_year = [SeriesPoint(start=month(9), value=990.0)]
    html = charts.line_chart(points, locale="fr_FR", unit="currency", currency="EUR",
                             title="Chiffre d'affaires", last_year=last_year,
                             last_year_word="L'an dernier")
    labels = re.findall(r'class="chart-point"[^>]*aria-label="([^"]*)"', html)
    assert labels == ["septembre 2026\u202f: 1\u202f200\u00a0€ (L&#x27;an dernier\u202f: "
                      "990\u00a0€)", "octobre 2026\u202f: 1\u202f534\u00a0€"]
    assert ('aria-label="Chiffre d&#x27;affaires\u202f: septembre 2026\u202f: 1\u202f200'
            '\u00a0€ (L&#x27;an dernier\u202f: 990\u00a0€)\u202f; octobre 2026') in html
    english = charts.line_chart(points, locale="en_GB", unit="count", title="Sessions")
    assert 'aria-label="Sessions: September 2026: 1,200; October 2026: 1,534"' in english


@pytest.fixture(scope="module")
def northwind() -> str:
    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    client = config.client("northwind-dental")
    report = compute_report(config, client, plugins, now=NOW)
    html, _, _ = render_html(report, plugins, template_dir_of(config))
    return html


def test_the_page_has_landmarks_and_contents_that_link_to_their_sections(northwind):
    html = northwind
    assert '<a class="skip-link" href="#main">' in html
    # A phone lays the page out at its own width, not a desktop's shrunk.
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert html.index('<header class="report-header">') < html.index('<nav class="contents"') \
        < html.index('<main id="main"') < html.index("</main>")
    assert html.count("<main") == 1 and html.count('class="cover"') == 1
    targets = re.findall(r'<li><a href="#([^"]+)">', html)
    assert len(targets) >= 8
    for target in targets:
        assert html.count(f'id="{target}"') == 1, target
        assert html.index(f'id="{target}"') > html.index('<main id="main"')


def test_the_screen_layout_is_kept_from_print_and_nothing_comes_from_outside(northwind):
    html = northwind
    style = html[html.index("<style>"):html.index("</style>")]
    screen = style[style.index("@media screen {"):]
    # The screen rules sit in @media screen, which WeasyPrint's print media never applies.
    assert ".page-footer { display: none; }" in screen
    assert style.index("@page") < style.index("@media screen {")
    assert "@page" not in screen
    # One inline script, no file or address asked of the network.
    assert html.count("<script>") == 1 and "<script src" not in html and "<link" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert not re.search(r"url\(['\"]?(https?:)?//", html)
    assert 'addEventListener("keydown"' in html
