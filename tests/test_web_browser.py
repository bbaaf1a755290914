"""The example's HTML reports in a real browser: Debian's headless Chromium, driven by Selenium.

Each report (and one in the compact theme) is opened from a file, at a phone's width (390 px)
and a desktop's (1440 px): no horizontal scroll, the contents' links move to their sections,
a chart point answers the pointer and the keyboard with its month and value, no request
leaves the page's own file, and axe-core (from the axe-selenium-python package, run inside
the page) reports no serious or critical violation. Screenshots of both widths go to
``$KPIREPORT_SCREENSHOTS`` (default ``tests/screenshots/``, ignored by git) for a person to
look at.

Skipped, saying why, when no Chromium or chromedriver is installed; ``.ci/run`` installs both.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest

from kpireport.config import load_config
from kpireport.formatting import format_month, format_value
from kpireport.pipeline.deliver import template_dir_of
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.render import render_html

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
WIDTHS = (390, 1440)
SCREENSHOTS = Path(os.environ.get("KPIREPORT_SCREENSHOTS") or ROOT / "tests" / "screenshots")


def _chromium() -> tuple[str, str] | None:
    browser = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                                "/usr/bin/chromium") if p and os.path.exists(p)), None)
    driver = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver")
                   if p and os.path.exists(p)), None)
    return (browser, driver) if browser and driver else None


FOUND = _chromium()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(FOUND is None, reason="no Chromium and chromedriver found: install "
                       "Debian's 'chromium chromium-driver' (.ci/run does) to run the browser "
                       "tests"),
]


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, tuple[Path, object]]:
    """Each example client's report as an HTML file, with the report it was rendered from."""
    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    folder = tmp_path_factory.mktemp("web")
    out = {}
    for client in config.clients:
        report = compute_report(config, client, plugins, now=NOW)
        html, _, _ = render_html(report, plugins, template_dir_of(config))
        path = folder / f"{client.id}.html"
        path.write_text(html, encoding="utf-8")
        out[client.id] = (path, report)
    # The compact theme, which extends the default: the same screen layout must hold.
    report = compute_report(config, config.client("acme-robotics"), plugins, now=NOW)
    report.theme = "compact"
    html, _, _ = render_html(report, plugins, template_dir_of(config))
    path = folder / "acme-robotics-compact.html"
    path.write_text(html, encoding="utf-8")
    out["acme-robotics-compact"] = (path, report)
    return out


def _start(phone: bool = False):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    assert FOUND is not None
    binary, driver_path = FOUND
    options = Options()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--disable-dev-shm-usage", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    if phone:  # a phone's browser: it honours the page's viewport meta tag, or lacks one
        options.add_experimental_option("mobileEmulation", {
            "deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2, "touch": True}})
    # Every request the page makes, from the DevTools protocol's log.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_script_timeout(30)
    return driver


@pytest.fixture(scope="module")
def browser():
    driver = _start()
    yield driver
    driver.quit()


def test_on_a_phone_the_page_is_laid_out_at_the_phones_width(pages):
    driver = _start(phone=True)
    try:
        driver.get(pages["northwind-dental"][0].as_uri())
        widths = driver.execute_script(
            "return [window.innerWidth, document.documentElement.scrollWidth]")
        assert widths == [390, 390]
        # Tiles two to a row, not four squeezed.
        tops = driver.execute_script("return Array.from(document.querySelectorAll('.tile'))"
                                     ".slice(0, 3).map(t => t.getBoundingClientRect().top)")
        assert tops[0] == tops[1] < tops[2]
    finally:
        driver.quit()


def _open(browser, path: Path, width: int) -> None:
    browser.set_window_size(width, 900)
    browser.get(path.as_uri())
    browser.get_log("performance")  # start each page's log afresh


def _viewport(browser) -> int:
    return browser.execute_script("return document.documentElement.clientWidth")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("client", ["northwind-dental", "maison-lumiere", "acme-robotics",
                                    "acme-robotics-compact"])
def test_the_page_fits_the_window_and_is_photographed(browser, pages, client, width):
    path, _ = pages[client]
    _open(browser, path, width)
    scroll = browser.execute_script("return document.documentElement.scrollWidth")
    assert scroll <= _viewport(browser), f"{client} scrolls sideways at {width} px"
    # Print-only parts are hidden on screen: the running footer, the contents' page numbers.
    assert not browser.find_element("css selector", ".page-footer").is_displayed()
    # Whole-page screenshot: the window as tall as the page.
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(width, min(height, 16000))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{client}-{width}.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


@pytest.mark.parametrize("width", WIDTHS)
def test_contents_links_move_to_their_sections(browser, pages, width):
    path, _ = pages["northwind-dental"]
    _open(browser, path, width)
    links = browser.find_elements("css selector", "nav.contents a")
    assert len(links) >= 5
    for link in links[-3:]:  # the last sections: far down, a real move
        target = link.get_attribute("href").split("#", 1)[1]
        browser.execute_script("window.scrollTo(0, 0)")
        link.click()
        top = browser.execute_script(
            "return document.getElementById(arguments[0]).getBoundingClientRect().top", target)
        assert browser.execute_script("return location.hash") == f"#{target}"
        assert browser.execute_script("return window.scrollY") > 0
        assert -2 <= top <= 40, f"#{target} is at {top} px from the top after its link"


@pytest.mark.parametrize("width", WIDTHS)
def test_a_chart_point_shows_its_month_and_value(browser, pages, width):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    path, report = pages["northwind-dental"]
    _open(browser, path, width)
    kpi = report.kpis["sessions"]
    # The report's month, formatted here from the KPI's own series.
    [october] = [p for p in kpi.monthly if p.start == dt.date(2026, 10, 1)]
    expected = f"October 2026: {format_value(october.value, 'count', 'en_US')}"
    charts = browser.find_elements("css selector", "#family-web .chart")
    assert charts
    chart = next(c for c in charts
                 if "Sessions" in c.find_element("css selector", "svg").get_attribute(
                     "aria-label"))
    points = chart.find_elements("css selector", ".chart-point")
    assert len(points) == 13
    last = points[-1]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", chart)
    ActionChains(browser).move_to_element(last).perform()
    tip = chart.find_element("css selector", ".chart-tip")
    assert tip.is_displayed()
    assert tip.text.startswith(expected), tip.text
    assert "Last year" in tip.text
    # The keyboard: the last point is the chart's one tab stop; the left arrow goes back.
    browser.execute_script("arguments[0].focus()", last)
    browser.switch_to.active_element.send_keys(Keys.ARROW_LEFT)
    focused = browser.switch_to.active_element
    assert focused.get_attribute("tabindex") == "0"
    assert last.get_attribute("tabindex") == "-1"
    assert tip.text.startswith(f"{format_month(dt.date(2026, 9, 1), 'en_US')}: ")
    # The tip never widens the page.
    assert browser.execute_script("return document.documentElement.scrollWidth") \
        <= _viewport(browser)


def test_no_request_leaves_the_pages_own_file(browser, pages):
    for client, (path, _) in pages.items():
        browser.set_window_size(1440, 900)
        browser.get("about:blank")
        browser.get_log("performance")
        browser.get(path.as_uri())
        browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        urls = [json.loads(entry["message"])["message"]["params"]["request"]["url"]
                for entry in browser.get_log("performance")
                if '"Network.requestWillBeSent"' in entry["message"]]
        assert path.as_uri() in urls
        assert [u for u in urls if not u.startswith(("data:", path.as_uri()))] == [], client


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("client", ["northwind-dental", "maison-lumiere", "acme-robotics",
                                    "acme-robotics-compact"])
def test_axe_finds_no_serious_violation(browser, pages, client, width):
    from axe_selenium_python import Axe

    path, _ = pages[client]
    _open(browser, path, width)
    axe = Axe(browser)
    axe.inject()
    results = axe.run()
    serious = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], axe.report(serious)


def test_without_scripts_every_chart_is_still_there(browser, pages):
    """The charts are SVG in the page: a browser with scripts off shows them all, and each
    point keeps its month and value in its <title>."""
    path, report = pages["northwind-dental"]
    html = path.read_text(encoding="utf-8")
    without = path.with_name("no-script.html")
    # The page as a browser with scripts off has it: the inline script never runs.
    start, end = html.index("<script>"), html.index("</script>") + len("</script>")
    without.write_text(html[:start] + html[end:], encoding="utf-8")
    _open(browser, without, 1440)
    charted = [k for k in report.kpis.values()
               if k.definition.breakdown is None and k.monthly]
    # Besides each KPI's: the channel mix's bars and each cumulative objective's burn-up.
    charted += [k for k in report.kpis.values() if k.definition.chart == "bars" and k.rows]
    charted += [a for a in report.objectives if a.kind == "cumulative" and a.deadline
                and a.value is not None]
    charts = browser.find_elements("css selector", ".chart-plot > svg")
    assert len(charts) == len(charted)
    assert all(c.is_displayed() and c.size["height"] > 40 for c in charts)
    titles = browser.find_elements("css selector", ".chart-point title")
    assert titles and all(": " in t.get_attribute("textContent") for t in titles)


def test_printed_from_the_browser_the_footer_is_not_the_first_line(browser, pages):
    import base64
    import io

    from pypdf import PdfReader

    path, report = pages["northwind-dental"]
    _open(browser, path, 1440)
    pdf = PdfReader(io.BytesIO(base64.b64decode(browser.print_page())))
    first = pdf.pages[0].extract_text()
    footer = report.brand.get("footer")
    assert footer and footer not in first
    assert report.client.name in first and "October 2026" in first  # the cover
    assert "Skip to the report" not in first
