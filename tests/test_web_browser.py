"""The example's HTML reports in a real browser: Debian's headless Chromium, driven by Selenium.

Each report (and one in the compact theme) is opened from a file, at a phone's width (390 px)
and a desktop's (1440 px): no horizontal scroll, the contents' links move to their sections,
a chart point answers the pointer and the keyboard with its month and value, no request
leaves the page's own file, and axe-core (from the axe-selenium-python package, run inside
the page) reports no serious or critical violation, nor headings out of order. On a phone no
element of the report is wider than its box (tables reflow into cards). Printed from the
browser (Chromium's printToPDF), the report reads like the PDF. The site's two index pages
(``kpireport site``) fit a phone and pass axe too. Screenshots of both widths go to
``$KPIREPORT_SCREENSHOTS`` (default ``tests/screenshots/``, ignored by git) for a person to
look at.

Skipped, saying why, when no Chromium or chromedriver is installed; ``.ci/run`` installs both.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import unicodedata
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


# Elements of the page's content that scroll inside their own box. Left out by design: a
# chart's axis labels (blocks of no width laid over the chart, their text overflowing them:
# kpireport.charts) and a table header hidden for sight but kept for a screen reader (1 px).
WIDER = """
return Array.from(document.querySelectorAll('main *, header *')).filter(e =>
    e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).display !== 'inline'
    && !e.closest('.chart-labels')
    && !(e.closest('thead') && e.closest('thead').getBoundingClientRect().width <= 1)
  ).map(e => (e.closest('[id]') || {id: '?'}).id + ' ' + e.tagName + '.' + e.className
             + ' ' + e.scrollWidth + ' > ' + e.clientWidth);
"""


def _wider_than_their_box(browser) -> list[str]:
    return browser.execute_script(WIDER)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("client", ["northwind-dental", "maison-lumiere", "acme-robotics",
                                    "acme-robotics-compact"])
def test_the_page_fits_the_window_and_is_photographed(browser, pages, client, width):
    path, _ = pages[client]
    _open(browser, path, width)
    scroll = browser.execute_script("return document.documentElement.scrollWidth")
    assert scroll <= _viewport(browser), f"{client} scrolls sideways at {width} px"
    # Nor does anything scroll inside its own box: not a card, not a table (the wide data
    # tables, top pages and queries, included).
    assert _wider_than_their_box(browser) == [], f"{client} at {width} px"
    if client != "northwind-dental":
        tables = browser.execute_script(
            "return Array.from(document.querySelectorAll('#table-top_pages table, "
            "#table-top_queries table')).map(t => t.getBoundingClientRect().width)")
        assert len(tables) == 2 and all(0 < w <= width for w in tables), tables
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
        # At the top of the window, or (the last, short sections) the page scrolled to its end
        # with the section in view: a browser cannot scroll past the end.
        at_end = browser.execute_script(
            "return window.scrollY + window.innerHeight >= "
            "document.documentElement.scrollHeight - 2")
        height = browser.execute_script("return window.innerHeight")
        assert -2 <= top <= 40 or (at_end and 0 <= top < height), \
            f"#{target} is at {top} px from the top after its link"


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
    serious = [v for v in results["violations"] if v["impact"] in ("serious", "critical")
               or v["id"] == "heading-order"]
    assert serious == [], axe.report(serious)


def test_without_scripts_every_chart_is_still_there(browser, pages):
    """The charts are SVG in the page: a browser with scripts off shows them all, and each
    line chart's <title> (its tooltip) says every month's value; the per-month points are
    the script's."""
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
    assert not browser.find_elements("css selector", ".chart-point")
    lines = browser.find_elements("css selector", ".chart-plot > svg[data-points]")
    assert lines
    for svg in lines:
        title = svg.find_element("css selector", ":scope > title").get_attribute("textContent")
        months = len(json.loads(svg.get_attribute("data-points")))
        assert title.count(": ") >= months, title  # its name, then each month's figure


@pytest.mark.pdf
def test_printed_from_the_browser_it_reads_like_the_pdf(browser, pages):
    """Chromium's printToPDF of the page, against WeasyPrint's PDF of the same report."""
    import base64
    import io

    from pypdf import PdfReader

    from kpireport.render import render_report

    path, report = pages["northwind-dental"]
    _open(browser, path, 1440)
    # A tooltip open when the reader prints: it is not on paper.
    point = browser.find_elements("css selector", "#family-web .chart-point")[-1]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'}); "
                           "arguments[0].focus()", point)
    tip = browser.find_element("css selector", ".chart-tip")
    assert tip.is_displayed() and tip.text
    # In print media: the brand's colours kept, the screen-only parts gone.
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        printed = browser.execute_script("""
            const style = (s) => getComputedStyle(document.querySelector(s));
            return [style('html').printColorAdjust, style('.cover-band').backgroundColor,
                    style('.skip-link').display, style('.chart-tip').display,
                    getComputedStyle(document.querySelector('.contents a'), '::after').content];
        """)
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert printed[0] == "exact" and printed[2:] == ["none", "none", "none"], printed
    assert printed[1] not in ("rgba(0, 0, 0, 0)", "transparent"), printed

    pdf = PdfReader(io.BytesIO(base64.b64decode(browser.print_page())))
    # NFKC: Chromium's PDF has ligatures ("Traﬃc").
    texts = [unicodedata.normalize("NFKC", page.extract_text()) for page in pdf.pages]
    whole = "\n".join(texts)
    weasy_pages = render_report(report, load_plugins(), template_dir_of(
        load_config(ROOT / "config.example.yaml"))).pages
    # The PDF's page breaks: about as many pages, none of them empty.
    assert abs(len(pdf.pages) - weasy_pages) <= 2, (len(pdf.pages), weasy_pages)
    assert all(text.strip() for text in texts)
    # The cover first, without the footer; no skip link, no tooltip.
    footer = report.brand.get("footer")
    assert footer and footer not in texts[0]
    assert report.client.name in texts[0] and "October 2026" in texts[0]
    assert "Skip to the report" not in whole and tip.text not in whole
    # Every section the contents list is printed, its title at the head of a page or below.
    titles = [a.text for a in browser.find_elements("css selector", "nav.contents a")]
    assert len(titles) >= 8
    for title in titles:
        assert title in whole, title
    # The contents as a plain list: no page number after an entry (no target-counter here).
    contents = next(t for t in texts if "Contents" in t)
    for title in titles:
        line = next(x for x in contents.splitlines() if x.strip().startswith(title))
        assert not line.rstrip()[-1].isdigit(), line
    # Each later page has the footer's words and its number in the page's margin boxes.
    assert footer in texts[1] and f"2 / {len(pdf.pages)}" in texts[1], texts[1][-200:]


@pytest.fixture(scope="module")
def site(pages, tmp_path_factory) -> Path:
    """kpireport site's pages from two months of the example's reports (the real HTML, a
    stand-in PDF), recorded in a ledger as delivered."""
    from kpireport.batch import state_paths
    from kpireport.ledger import Ledger
    from kpireport.site import build_site

    config = load_config(ROOT / "config.example.yaml")
    runs = tmp_path_factory.mktemp("runs")
    paths = state_paths(config, runs)
    with Ledger(paths.ledger) as ledger:
        for client in config.clients:
            html = pages[client.id][0].read_text(encoding="utf-8")
            objectives = [{"title": a.title, "status": str(a.status)}
                          for a in pages[client.id][1].objectives]
            for period in ("2026-09", "2026-10"):
                attempt = ledger.record(run_id="r", client=client.id, period=period,
                                        status="delivered")
                ledger.record_delivery(client=client.id, period=period, target="folder",
                                       status="delivered", attempt_id=attempt)
                for suffix, text in ((".html", html), (".pdf", "%PDF-1.7")):
                    target = paths.spool(client.id, period, suffix)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(text, encoding="utf-8")
                paths.spool(client.id, period, ".json").write_text(
                    json.dumps({"objectives": objectives}), encoding="utf-8")
    folder = tmp_path_factory.mktemp("site") / "site"
    build_site(config, folder, theme_path=ROOT / "report_templates" / "default",
               output_dir=runs)
    return folder


@pytest.mark.parametrize("width", WIDTHS)
def test_the_sites_index_pages_fit_and_pass_axe(browser, site, width):
    from axe_selenium_python import Axe

    for page in (site / "index.html", site / "maison-lumiere" / "index.html",
                 site / "acme-robotics" / "index.html"):
        _open(browser, page, width)
        assert browser.execute_script("return document.documentElement.scrollWidth") \
            <= _viewport(browser), f"{page} scrolls sideways at {width} px"
        assert browser.execute_script(WIDER.replace("main *, header *", "main *")) == [], page
        links = browser.find_elements("css selector", "main a")
        assert links and all(link.is_displayed() for link in links)
        # The reports' typeface, read from the folder's _fonts/ (not embedded in the page).
        faces = browser.execute_async_script(
            "const done = arguments[0]; document.fonts.ready.then(() => done([...document.fonts]"
            ".filter(f => f.status === 'loaded').map(f => f.family + ' ' + f.weight)))")
        assert sorted(faces) == ["Inter 400", "Inter 700"], page
        assert browser.execute_script(
            "return document.fonts.check('700 16px Inter')"), page
        axe = Axe(browser)
        axe.inject()
        violations = [v for v in axe.run()["violations"]
                      if v["impact"] in ("serious", "critical") or v["id"] == "heading-order"]
        assert violations == [], axe.report(violations)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = "site" if page.parent == site else f"site-{page.parent.name}"
        assert browser.save_screenshot(str(SCREENSHOTS / f"{name}-{width}.png"))
