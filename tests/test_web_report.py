"""The HTML report as a web page, without a browser: the screen layout's structure (landmarks,
contents links, the screen stylesheet kept out of print), chart points that carry their month
and value, and nothing loaded from outside the page. tests/test_web_browser.py opens the same
pages in Chromium."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from itertools import pairwise
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


def points_of(html: str) -> list[list]:
    """A chart's points as its SVG lists them for the page's script: [x, y, text] a month."""
    import html as markup
    import json

    return json.loads(markup.unescape(re.search(r'data-points="([^"]*)"', html).group(1)))


def test_each_month_of_a_chart_is_a_point_saying_its_month_and_value():
    points = [SeriesPoint(start=month(8), value=1200.0), SeriesPoint(start=month(9), value=None),
              SeriesPoint(start=month(10), value=1534.0)]
    last_year = [SeriesPoint(start=month(8), value=990.0),
                 SeriesPoint(start=month(9), value=1000.0),
                 SeriesPoint(start=month(10), value=None)]
    html = charts.line_chart(points, locale="en_US", unit="count", last_year=last_year,
                             title="Sessions", last_year_word="Last year")
    said = points_of(html)
    # September has no value: no point, and the line breaks there. The points are built by
    # the page's script (web.js) from this list: the PDF carries none.
    assert [label for _, _, label in said] == ["August 2026: 1,200 (Last year: 990)",
                                               "October 2026: 1,534"]
    assert said[0][0] < said[1][0] and "chart-point" not in html
    # The chart's text alternative, and its tooltip without a script: its title, then every
    # month's figure.
    alternative = "Sessions: August 2026: 1,200 (Last year: 990); October 2026: 1,534"
    assert f'role="group" aria-label="{alternative}"' in html
    assert f"<title>{alternative}</title>" in html
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
    labels = [label for _, _, label in points_of(html)]
    assert labels == ["septembre 2026\u202f: 1\u202f200\u00a0€ (L'an dernier\u202f: "
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
    # The screen's rules sit in a <style media="screen">, which WeasyPrint (print media)
    # skips without parsing it, and in @media screen inside it.
    screen = " ".join(re.findall(r'<style media="screen">(.*?)</style>', html, re.S))
    assert "@media screen {" in screen and ".page-footer { display: none; }" in screen
    # The print style's only @page after its own is the browser's print footer, in a block
    # WeasyPrint skips (it has running elements; and it ignores @supports).
    pages = re.findall(r"@supports not \(position: running\(footer\)\) \{ @page \{ "
                       r"@bottom-left \{ content: ([^;]*);", style)
    assert pages == ['"Northstar Digital · Growth marketing for ambitious brands"']
    # Printed from a browser: the brand's colours, no tooltip or skip link (browser-print.css).
    browser_print = style[style.index("@supports not (position: running(footer)) {\n"):]
    assert "print-color-adjust: exact" in browser_print
    assert ".skip-link, .chart-tip { display: none !important; }" in browser_print
    # One inline script, no file or address asked of the network.
    assert html.count("<script>") == 1 and "<script src" not in html and "<link" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert not re.search(r"url\(['\"]?(https?:)?//", html)
    assert 'addEventListener("keydown"' in html


class _Headings(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.levels: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if re.fullmatch(r"h[1-6]", tag):
            self.levels.append(int(tag[1]))


def heading_levels(html: str) -> list[int]:
    parser = _Headings()
    parser.feed(html)
    return parser.levels


def test_heading_levels_never_skip_one():
    assert heading_levels("<h1>a</h1><h2>b</h2><h3>c</h3><h2>d</h2>") == [1, 2, 3, 2]
    levels = heading_levels("<h1>a</h1><h2>b</h2><h4>c</h4>")
    assert any(b > a + 1 for a, b in pairwise(levels))


@pytest.mark.parametrize("theme", ["default", "compact"])
def test_every_example_reports_headings_go_down_one_level_at_a_time(theme):
    """One h1 (the client, on the cover), then each heading at most one level below the one
    before it (the summary's "Improved" is an h3 under its h2): what axe's heading-order
    checks, for every example client, in the browser test."""
    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    for client in config.clients:
        report = compute_report(config, client, plugins, now=NOW)
        report.theme = theme
        html, _, _ = render_html(report, plugins, template_dir_of(config))
        levels = heading_levels(html)
        assert levels[0] == 1 and levels.count(1) == 1, (client.id, levels)
        skips = [(a, b) for a, b in pairwise(levels) if b > a + 1]
        assert skips == [], (client.id, theme, levels)
        # The summary's parts are h3s (they were h4s, straight under the h2).
        assert "<h4" not in html, client.id
        assert re.search(r'<div class="narrative movers( single)?">\s*<div class="mover"><h3>',
                         html), \
            client.id
