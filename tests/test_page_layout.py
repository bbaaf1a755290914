"""Pages worth printing and a one-page summary (issue #15, items 3 and 4), read on WeasyPrint's
layout of every example report: monthly (French and English), a quarter, a year to date, and
the compact theme."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from page_fill import PageLayout, lay_out
from shared import ROOT, example_copy

from kpireport.config import load_config
from kpireport.errors import ConfigError
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.report import Assessment, Status
from kpireport.summary import disagrees, headline_order, shows_forecast

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
MONTHLY = [("maison-lumiere", None), ("northwind-dental", None), ("acme-robotics", None)]
CASES = [*MONTHLY, ("acme-robotics", "2026-Q3"), ("acme-robotics", "year-to-date"),
         ("maison-lumiere", "2026-Q3"), ("northwind-dental", "compact")]
MIN_FILL = 0.45
MAX_MONTHLY_PAGES = 9


@pytest.fixture(scope="module")
def laid_out(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str | None], Any]:
    """Each case computed and laid out once for the module: (report, html, pages)."""
    tmp = tmp_path_factory.mktemp("layout")
    plugins = load_plugins()
    default = load_config(ROOT / "config.example.yaml")

    def compact(data: dict[str, Any]) -> None:
        for client in data["clients"]:
            client["theme"] = "compact"

    themed = load_config(example_copy(tmp, compact))
    out = {}
    for client, spec in CASES:
        config = themed if spec == "compact" else default
        period = None if spec == "compact" else spec
        report = compute_report(config, config.client(client), plugins, period_spec=period,
                                now=NOW, state_root=tmp / "state")
        html, pages = lay_out(report, plugins)
        out[(client, spec)] = (report, html, pages)
    return out


def _ids(case: tuple[str, str | None]) -> str:
    return f"{case[0]}-{case[1] or 'monthly'}"


@pytest.mark.pdf
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_no_page_but_the_last_is_under_half_full_nor_ends_with_a_heading(laid_out, case):
    _, _, pages = laid_out[case]
    for page in pages[:-1]:
        assert page.fill >= MIN_FILL, (page.number, round(page.fill, 2), page.ids)
        assert not page.ends_with_heading, (page.number, page.last)
    assert not pages[-1].ends_with_heading


@pytest.mark.pdf
@pytest.mark.parametrize("case", MONTHLY, ids=_ids)
def test_the_monthly_reports_fit_in_nine_pages(laid_out, case):
    _, _, pages = laid_out[case]
    assert len(pages) <= MAX_MONTHLY_PAGES


# Review 4's page counts: the end of a report is rebalanced, never lengthened.
PAGES = {("maison-lumiere", None): 9, ("northwind-dental", None): 8, ("acme-robotics", None): 9,
         ("acme-robotics", "2026-Q3"): 8, ("acme-robotics", "year-to-date"): 8,
         ("maison-lumiere", "2026-Q3"): 8}


@pytest.mark.pdf
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_the_report_ends_on_whole_sections_and_no_page_more(laid_out, case):
    """Review 4: Northwind's last page held four lines of "How to read this report", Acme's
    quarter the tail of it. The appendix is on one page, the last, and "About the data"
    (just before it) on that page too."""
    _, html, pages = laid_out[case]
    assert len(pages) <= PAGES.get(case, MAX_MONTHLY_PAGES)
    on = [p.number for p in pages if "appendix" in p.ids]
    assert on == [len(pages)], (on, len(pages))
    if 'id="data-notes"' in html:
        assert [p.number for p in pages if "data-notes" in p.ids] == [len(pages)]
    # No stub of a few lines: a whole appendix fills a quarter of a page at least.
    assert pages[-1].fill >= 0.25, round(pages[-1].fill, 2)


@pytest.mark.pdf
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_a_page_s_key_names_the_target_only_over_a_chart_that_draws_one(laid_out, case):
    """Review 4: Acme's sales cycle, carried over to a page of its own, under a key naming
    a target it did not draw (the qualified leads' line, on the page before)."""
    _, _, pages = laid_out[case]
    word = "Cible" if case[0] == "maison-lumiere" else "Target"
    for page in pages:
        for section, text in page.keys:
            assert (word in text.split()) == (section in page.targets), (page.number, section,
                                                                       text, page.targets)
    if case == ("maison-lumiere", None):
        # The web section's key names the revenue's 240,000 € line on its first page, not on
        # the next one, which carries over its charts without a target.
        keyed = [(p.number, text) for p in pages for s, text in p.keys if s == "family-web"]
        assert len(keyed) == 2 and word in keyed[0][1] and word not in keyed[1][1], keyed


def _sections_on(page: PageLayout) -> list[str]:
    return [i for i in page.ids if i not in ("main", "contents-title")]


@pytest.mark.pdf
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_a_section_carried_over_to_a_page_starts_it_with_its_own_key(laid_out, case):
    """Each page a KPI section carries over to opens with that section's key (its table's
    header, repeated), naming only the lines and marks its own charts draw; no key in the
    top margin, none stacked on another, and no chart above its key."""
    report, html, pages = laid_out[case]
    this_year = "Cette année" if report.language == "fr" else "This year"
    target = "Cible" if report.language == "fr" else "Target"
    carried = 0
    own: dict[str, str] = {}
    targeted: set[str] = set()
    for page in pages:
        assert page.margin_text == "", (page.number, page.margin_text)
        assert not page.stacked_keys, (page.number, page.keys)
        assert page.charts_before_key == 0, (page.number, page.keys)
        for family, key in page.keys:
            assert this_year in key
            # The same key on every page of its section, the section's own, but for its
            # target, named on the pages whose charts draw one (the next test).
            words = " ".join(w for w in key.split() if w != target)
            assert own.setdefault(family, words) == words, (page.number, family, key)
            if target in key.split():
                targeted.add(family)
        if page.keys and page.keys[0][0] not in page.opened:
            carried += 1
            # A carried section: the page opens with its key.
            assert page.text.startswith(page.keys[0][1]), (page.number, page.text[:80])
    for family, key in own.items():
        section = html.split(f'id="{family}"')[1].split("</section>")[0]
        # "Target" only where one of the section's charts draws a target line.
        assert (family in targeted) == ('class="target"' in section), (family, key)
    if case in (("acme-robotics", None), ("maison-lumiere", None)):
        # Their web and SEO sections go over a page (not a test that cannot fail).
        assert carried


@pytest.mark.pdf
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_the_summary_is_one_page_and_the_next_starts_another_section(laid_out, case):
    report, _, pages = laid_out[case]
    holding = [p for p in pages if "summary" in p.ids]
    assert len(holding) == 1
    page = holding[0]
    assert _sections_on(page)[-1] == "summary"  # nothing starts after it on its page
    following = pages[page.number]  # the next page (numbers count from 1)
    assert "summary" not in following.ids
    assert _sections_on(following)[0] in ("objectives", "okrs") or \
        _sections_on(following)[0].startswith("family-")
    # Its content: tiles, what moved, the objectives and OKRs, the recommendations.
    # (OKRs named only when it lists some: Acme's Q3 is before they start, review 5.)
    glance = "Objectives and OKRs at a glance" if report.okrs else "Objectives at a glance"
    for words in ("Improved", glance, "Top recommendations"):
        if "maison" not in case[0]:
            assert words in page.text


@pytest.mark.pdf
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_every_section_follows_on_rather_than_starting_a_page(laid_out, case):
    """Sections flow: after the summary's own page, a section opens a new page only when the
    page before is full enough that it (its heading and first block) could not fit there."""
    from itertools import pairwise

    _, _, pages = laid_out[case]
    opened = 0
    for before, page in pairwise(pages[2:]):
        first = _sections_on(page)[:1]
        if first and first[0] not in before.ids:
            opened += 1
            assert before.fill >= 0.6, (case, page.number, first[0], before.fill)
    # And sections share pages: at most half of them open a page.
    assert opened <= len({i for p in pages[2:] for i in _sections_on(p)}) // 2


@pytest.mark.pdf
def test_the_commentary_has_one_title_its_own(laid_out):
    _, html, pages = laid_out[("acme-robotics", None)]
    assert '<h2>From your account manager</h2>' in html
    assert "<h2>Commentary</h2>" not in html
    text = " ".join(p.text for p in pages)
    assert "Commentary From your account manager" not in text
    assert text.count("From your account manager") == 2  # the contents and the section
    assert '<a href="#commentary">From your account manager</a>' in html
    # French: the consultant's heading too.
    _, html, _ = laid_out[("maison-lumiere", None)]
    assert "<h2>Le mot de votre consultante</h2>" in html
    assert "<h2>Commentaire</h2>" not in html


def _appendix(html: str) -> str:
    return html[html.index('<section class="appendix"'):]


@pytest.mark.pdf
@pytest.mark.parametrize("case", MONTHLY, ids=_ids)
def test_the_glossary_does_not_repeat_the_charts_captions(laid_out, case):
    report, html, _ = laid_out[case]
    appendix = _appendix(html)
    captions = re.findall(r'<p class="kpi-description">(.*?)</p>', html)
    assert len(captions) >= 6
    for caption in captions:
        assert caption not in appendix
        assert html.count(caption) == 1
    # The KPIs without a chart (the tables) are described there.
    tables = [k for k in report.kpis.values() if k.definition.breakdown is not None]
    assert tables
    for kpi in tables:
        assert f"<dt>{kpi.label}</dt>" in appendix


@pytest.mark.pdf
def test_the_summary_ranks_the_clients_outcomes_first_and_caps_its_lists(laid_out):
    report, html, _ = laid_out[("northwind-dental", None)]
    summary = html[html.index('<section class="summary"'):html.index('<section class="objectives"')]
    tiles = re.findall(r'<div class="tile-label">(.*?)</div>', summary)
    assert tiles[:4] == ["New patients", "Treatment plans accepted", "Qualified leads", "Leads"]
    assert len(tiles) == 8
    # Review 5: one list (improvements only) takes the full width.
    movers = summary[summary.index('class="narrative movers single"'):]
    assert "Worsened" not in movers[:movers.index("</ul>")]
    improved = movers[movers.index("Improved"):]
    improved = improved[:improved.index("</ul>")]
    assert 1 <= improved.count("<li>") <= 3
    # The objectives and the OKR at a glance, counted as of the period's end.
    for a in report.objectives:
        assert a.title in summary
    assert "OKR: Fill the chairs for the winter season" in summary
    assert "Counted as of October 31, 2026." in summary
    assert summary.count('<ol class="top-recommendations">') == 1
    assert summary.count("<li>", summary.index("top-recommendations")) == 3


@pytest.mark.pdf
def test_a_missed_objective_shows_no_forecast_and_names_its_recommendation(laid_out):
    report, html, _ = laid_out[("acme-robotics", None)]
    missed = next(a for a in report.objectives if a.key == "organic-clicks-q3")
    assert missed.status is Status.MISSED and missed.forecast is not None
    summary = html[html.index('<section class="summary"'):html.index('<section class="objectives"')]
    row = summary[summary.index(missed.title):]
    row = row[:row.index("</tr>")]
    assert "at the deadline" not in row
    assert "See the recommendation: “4,600 organic clicks a month by the end of Q3” was missed" \
        in row
    objectives = html[html.index('<section class="objectives"'):]
    block = objectives[objectives.index(missed.title):]
    block = block[:block.index('<div class="objective">') if '<div class="objective">' in block
                  else len(block)]
    assert "Forecast at the deadline" not in block
    # A running objective keeps its forecast, in the summary and in its section.
    running = next(a for a in report.objectives if a.key == "revenue-2026")
    assert running.status is Status.OFF_TRACK
    row = summary[summary.index(running.title):]
    assert "forecast £3,899,617 at the deadline" in row[:row.index("</tr>")]
    assert "as of 31 October 2026" in objectives


@pytest.mark.pdf
def test_a_status_reading_against_its_bar_says_why(laid_out):
    report, html, _ = laid_out[("acme-robotics", None)]
    leads = next(a for a in report.objectives if a.key == "qualified-leads")
    # 91 % of the way with 87 % expected, yet at risk: the trend does not reach 80 a month.
    assert leads.progress > leads.expected_progress and leads.status is Status.AT_RISK
    objectives = html[html.index('<section class="objectives"'):]
    bar = objectives[objectives.index(leads.title):]
    bar = bar[:bar.index("</div>", bar.index('class="objective-bar"'))]
    assert "<strong>forecast 79 at the deadline</strong>" in bar


def _assessment(status: Status, progress: float, expected: float) -> Assessment:
    return Assessment(key="a", title="A", kpi="leads", kind="level", direction="increase",
                      baseline=0, target=100, start=dt.date(2026, 1, 1),
                      deadline=dt.date(2026, 12, 31), value=progress * 100, status=status,
                      progress=progress, expected_progress=expected, forecast=80.0)


def test_which_statuses_disagree_with_their_bar():
    assert disagrees(_assessment(Status.OFF_TRACK, 0.9, 0.8))
    assert disagrees(_assessment(Status.AT_RISK, 0.9, 0.9))
    assert disagrees(_assessment(Status.ON_TRACK, 0.5, 0.8))
    assert not disagrees(_assessment(Status.OFF_TRACK, 0.5, 0.8))
    assert not disagrees(_assessment(Status.ON_TRACK, 0.9, 0.8))
    # A missed one is judged on where it ended: no forecast at all.
    assert not shows_forecast(_assessment(Status.MISSED, 0.9, 1.0))
    assert not disagrees(_assessment(Status.MISSED, 0.9, 1.0))


def test_the_headline_follows_the_clients_ranking_then_the_families(tmp_path: Path):
    config = load_config(example_copy(tmp_path, lambda d: d["clients"][2].update(
        headline=["organic_clicks", "won_deals"])))
    report = compute_report(config, config.client("acme-robotics"), load_plugins(),
                            now=NOW, state_root=tmp_path / "state")
    order = [k.key for k in headline_order(report, ["commercial", "web", "seo"])]
    assert order[:2] == ["organic_clicks", "won_deals"]
    # Then by family, in the config's order within each (leads, a web KPI, after the
    # commercial ones though listed before the sales cycle); never a table.
    assert order[2:8] == ["won_revenue", "opportunities", "qualified_leads",
                          "sales_cycle_length", "leads", "sessions"]
    assert order.index("conversion_rate") < order.index("ctr")
    assert "top_queries" not in order and len(order) == 12


@pytest.mark.parametrize("headline, expected", [
    (["won_revenue", "revenue"], "'revenue' is not one of its KPIs"),
    (["won_revenue", "won_revenue"], "a KPI is listed twice"),
])
def test_a_bad_headline_is_refused_naming_the_file_the_client_and_the_key(tmp_path, headline,
                                                                          expected):
    path = example_copy(tmp_path, lambda d: d["clients"][2].update(headline=headline))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert str(path) in text
    assert "clients[2].headline" in text
    assert "client 'acme-robotics'" in text and expected in text


@pytest.mark.pdf
def test_a_rates_part_of_a_month_is_drawn_and_the_key_says_why_one_is_empty(laid_out):
    """A year to date ending on 24 November: a count's, a rate's (conversion rate) and an
    average's (sales cycle) part of November are striped bars named "to 24 Nov"; unique
    visitors, which the files give by whole months only, get an empty slot, which the key
    of their charts explains; a quarter, all whole months, says nothing of it."""
    from kpireport.charts import ChartStyle
    from kpireport.report_charts import period_bar_charts

    def partial_and_unfilled(report: Any) -> tuple[set[str], set[str]]:
        _, partial, unfilled = period_bar_charts(report, ChartStyle(), {}, str)
        return partial, unfilled

    report, html, pages = laid_out[("acme-robotics", "year-to-date")]
    partial, unfilled = partial_and_unfilled(report)
    assert {"conversion_rate", "sales_cycle_length", "leads"} <= partial
    assert unfilled == {"users"}
    text = " ".join(p.text for p in pages)
    assert "to 24 Nov" in text
    # One wording in every section's key (review 4), naming the partial month's last day.
    assert text.count("To 24\xa0Nov, against the same days last year") >= 2 or \
        len(re.findall(r"To 24\s+Nov, against the same days last year", text)) >= 2
    assert "Month so far" not in text and "monthly-only" not in text
    assert "counts and amounts only" not in html
    quarter, quarter_html, quarter_pages = laid_out[("acme-robotics", "2026-Q3")]
    assert partial_and_unfilled(quarter) == (set(), set())
    assert 'class="partial"' not in quarter_html
    assert "against the same days last year" not in " ".join(p.text for p in quarter_pages)


@pytest.mark.pdf
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_a_tables_figures_never_wrap_and_its_titles_have_room(laid_out, case):
    """Review: Acme's top pages printed "2 mins 10⏎secs" and titles on three lines, Maison's
    (five figure columns) titles on four."""
    _, _, pages = laid_out[case]
    cells = [c for p in pages for c in p.cells]
    durations = [c for c in cells if "unit-duration" in c[0]]
    if case[0] == "acme-robotics":
        assert any("min" in text for _, text, _ in durations)  # "2 min 10 sec"
    for classes, text, lines in cells:
        # A breakdown table's figures (an objective's cell may hold a date on a line of its own).
        if ("change" in classes or "unit-" in classes) and text:
            assert lines == 1, (case, classes, text, lines)
    if case[0] == "acme-robotics":
        titles = [c for c in cells if "Acme Robotics" in c[1] and "text" in c[0].split()]
        assert titles and max(lines for _, _, lines in titles) <= 2, titles
    if case[0] == "maison-lumiere":
        # Review 4: beside five figure columns, titles took four lines ("Crème de nuit
        # régénérante à l'huile de rose musquée | Maison Lumière").
        titles = [c for c in cells if "| Maison Lumière" in c[1] and "text" in c[0].split()]
        assert len(titles) >= 5 and max(lines for _, _, lines in titles) <= 3, titles
        assert any("rose musquée" in text for _, text, _ in titles)


def _section_pages(pages: list[PageLayout], section: str) -> list[PageLayout]:
    return [p for p in pages if section in p.ids]


@pytest.mark.pdf
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_a_table_opens_on_its_headings_page_and_its_chart_is_never_alone(laid_out, case):
    """Review: "The heading and bar chart end one page; the channel table starts the next
    page without a heading". The heading opens on the table's first rows, and the mix's
    chart follows the table's last rows."""
    report, html, pages = laid_out[case]
    shares = 0
    for kpi in report.kpis.values():
        section = f"table-{kpi.key}"
        if f'id="{section}"' not in html or "<tbody>" not in html.split(f'id="{section}"')[1] \
                .split("</section>")[0]:
            continue
        body = html.split(f'id="{section}"')[1].split("</section>")[0]
        first_row = re.search(r'<td class="text">(.*?)</td>', body)
        if first_row is None:
            continue
        held = _section_pages(pages, section)
        first_value = first_row.group(1).replace("/\u200b", "/")
        opening = held[0].text.replace("\u200b", "")
        assert str(kpi.label) in opening and first_value in opening, (case, section)
        if 'class="chart chart-share"' in body:
            shares += 1
            # The chart's page also holds some of the table's rows.
            last = held[-1]
            assert any(text.isdigit() for classes, text, _ in last.cells
                       if classes == "rank"), (case, section, last.number)
    if case[1] is None:
        assert shares  # every example charts its traffic sources' mix


@pytest.mark.pdf
def test_the_month_s_planned_work_is_not_split_from_its_heading(laid_out):
    """Review: Maison's "Prévu le mois prochain" split 2 + 2 over pages 8 and 9."""
    _, html, pages = laid_out[("maison-lumiere", None)]
    body = html.split('id="actions"')[1].split("</section>")[0]
    checked = 0
    for heading, items in re.findall(r"<h3>(.*?)</h3><div class=\"actions-list[^\"]*\">(.*?)</div>",
                                     body, re.S):
        texts = [" ".join(re.sub(r"<[^>]+>", "", li).split())
                 for li in re.findall(r"<li>(.*?)</li>", items, re.S)]
        assert 2 <= len(texts) <= 6
        page = next(p for p in pages if heading in p.text)
        # A short list, whole on its heading's page.
        assert all(t in page.text for t in texts), (heading, page.number)
        checked += 1
    assert checked == 2


@pytest.mark.pdf
def test_a_chart_with_two_targets_names_the_one_it_draws_on_its_page(laid_out):
    """Review 5: Acme's qualified leads have an objective of 80 and a key result of 85; the
    page carrying the chart says, under it, which of the two the dashed line is."""
    _, _, pages = laid_out[("acme-robotics", None)]
    text = " ".join(" ".join(p.text.split()) for p in pages)
    assert "Target line: the objective's 80 (the key result aims at 85)." in text
    [page] = [p for p in pages if "Target line: the objective's 80" in " ".join(p.text.split())]
    assert "Qualified leads" in page.text
