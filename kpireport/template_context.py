"""What the report's template gets: the report's figures as the template prints them.

:func:`template_context` builds the variables and filters of ``report.html.j2`` (and of an
agency's or a theme's own template): values in the report's locale and units, the charts,
the tables' columns and changes, the notes on the data, the analyst's notes where they go.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from kpireport import charts, formatting, typography
from kpireport.chart_targets import target_lines
from kpireport.commentary import commentary_html
from kpireport.data import DataNote, NoteKind, Unit
from kpireport.kpis import Family, KpiValue, SeriesPoint
from kpireport.objectives import level_period
from kpireport.periods import add_months
from kpireport.report import Assessment, Report, Status
from kpireport.secrets import redact
from kpireport.templating import env_translations, template_folders
from kpireport.untrusted import cell_text

if TYPE_CHECKING:
    from kpireport.analyst_notes import AnalystNotes

log = logging.getLogger("kpireport.render")


def N_(message: str) -> str:
    """Babel's marker for a message translated where it is printed."""
    return message


# White text on each reaches WCAG AA's 4.5:1 (the badges are small bold text).
STATUS_COLOURS = {
    Status.ACHIEVED: "#1b7a3d", Status.ON_TRACK: "#23744a", Status.AT_RISK: "#a35f00",
    Status.OFF_TRACK: "#b3261e", Status.MISSED: "#7a1410", Status.NO_DATA: "#5f6873",
}
STATUS_LABELS = {
    Status.ACHIEVED: N_("Achieved"), Status.ON_TRACK: N_("On track"),
    Status.AT_RISK: N_("At risk"), Status.OFF_TRACK: N_("Off track"),
    Status.MISSED: N_("Missed"), Status.NO_DATA: N_("No data"),
}
"""A status in words (through the catalogue): the default theme's badges and the archive."""
STATUS_ICONS = {
    Status.ACHIEVED.value: "✓", Status.ON_TRACK.value: "✓", Status.AT_RISK.value: "!",
    Status.OFF_TRACK.value: "✕", Status.MISSED.value: "✕", Status.NO_DATA.value: "–",
}
"""A status's glyph beside its word on a badge (all in DejaVu Sans, the fallback font): the
badge reads without its colour."""
BETTER, WORSE = "#1b7a3d", "#b3261e"
SECTION_DEFAULTS = ("cover", "contents", "summary", "objectives", "okrs", "kpis", "tables",
                    "recommendations", "actions", "commentary", "data_notes", "appendix")


def value_filters(report: Report) -> dict[str, Any]:
    locale, currency = report.locale, report.currency

    def value(v: float | None, kpi: KpiValue | None = None, unit: str | None = None) -> str:
        if kpi is not None:
            return formatting.format_value(v, kpi.definition.unit, locale,
                                           kpi.currency or currency, kpi.definition.duration_unit)
        return formatting.format_value(v, unit or Unit.COUNT, locale, currency)

    return {
        "value": value,
        "change": lambda c: formatting.format_change(c, locale),
        "percent": lambda v, d=0: formatting.format_percent(v, locale, d),
        "number": lambda v, d=0: formatting.format_number(v, locale, d),
        "date": lambda d, form="long": formatting.format_date(d, locale, form),
        "month": lambda d, form="long": formatting.format_month(d, locale, form),
        "period": lambda p: formatting.format_period(p, locale),
        # Jinja's capitalize lowers the rest ("1 jul – 30 sept"): only the first letter here.
        "upper_first": lambda text: str(text)[:1].upper() + str(text)[1:],
        # Free text (the config's titles, a plugin's sentences) set as the language sets it.
        "prose": lambda text: typography.for_language(str(text), report.language),
    }


# --- What the templates get -----------------------------------------------------------------


def template_context(report: Report, env: jinja2.Environment) -> dict[str, Any]:
    gettext = env_translations(env).gettext
    all_kpis: dict[str, KpiValue] = report.every_kpi()
    # The target line each KPI's chart draws: a level objective's or a key result's.
    lines = target_lines(report)
    targets = {key: line.value for key, line in lines.items()}
    colours = report.colours
    style = charts.ChartStyle(line=colours.primary, accent=colours.accent)
    legend = {"title": str(gettext("Month by month")), "value": str(gettext("This year")),
              "last_year": str(gettext("Last year")), "target": str(gettext("Target"))}
    kpi_charts = {}
    sparklines: dict[str, Markup] = {}
    with_last_year = set()
    # A chart of whole months, ending with the last one the period covers in full (a
    # quarter's third, not its first; not a month-to-date report's half month).
    last_month = level_period(report.period).start
    for key, kpi in report.kpis.items():
        if kpi.definition.breakdown is not None or not kpi.monthly:
            continue
        current, previous = _last_13_months(kpi.monthly, last_month)
        if charts.draws_line(previous):
            with_last_year.add(key)
        chart = charts.line_chart(current, locale=report.locale, unit=kpi.definition.unit,
                                  currency=kpi.currency or report.currency,
                                  duration_unit=kpi.definition.duration_unit,
                                  target=targets.get(key), last_year=previous, style=style,
                                  title=str(kpi.label),
                                  last_year_word=str(gettext("Last year")))
        kpi_charts[key] = Markup(chart)
        sparklines[key] = Markup(charts.sparkline(
            current, colour=colours.primary, inverted=kpi.definition.unit == Unit.POSITION))
    families, family_titles = _families(report)
    sections = [(f, [k for k in report.kpis.values() if k.definition.family == f
                     and k.definition.breakdown is None]) for f in families]
    # One key per family, above its charts, naming only the lines they draw.
    legends = {f: Markup(charts.legend(style, legend,
                                       last_year=any(k.key in with_last_year for k in ks),
                                       # keys2: only a chart drawn draws its target
                                       target=any(k.key in targets and kpi_charts.get(k.key)
                                                  for k in ks)))
               for f, ks in sections if any(k.key in kpi_charts for k in ks)}
    # --- charts (issue #15, item 5): a quarter's or a year to date's months as bars, the
    # channel mix, the cumulative objectives' burn-up (kpireport.report_charts).
    from kpireport import period_charts, report_charts

    if report_charts.charts_period(report):
        # The third set, partial months a source leaves empty, is drawn by the chart itself.
        bar_charts, partial, _ = report_charts.period_bar_charts(report, style, targets,
                                                                        gettext)
        kpi_charts = {k: Markup(c) for k, c in bar_charts.items()}
        # The striped slot's key names its last day, in one wording in every section ("To 24
        # Nov, against the same days last year"); a slot a source leaves empty (figures for
        # whole months only) is explained under its own chart, not in the key.
        partial_ends = {report.kpi_periods.get(k, report.period).end for k in partial}
        bar_words = legend | {"title": str(gettext("Month by month")),
                              "last_year": str(gettext("Same months last year")),
                              "partial": partial_key(partial_ends, report.locale, gettext)}
        legends = {f: Markup(period_charts.bars_legend(
                       style, bar_words, partial=any(k.key in partial for k in ks),
                       target=any(k.key in targets and kpi_charts.get(k.key) for k in ks),
                       # keys: a position is charted as dots, the rest as bars.
                       bars=any(k.key in kpi_charts and k.definition.unit != Unit.POSITION
                                for k in ks),
                       dots=any(k.key in kpi_charts and k.definition.unit == Unit.POSITION
                                for k in ks)))
                   for f, ks in sections if any(k.key in kpi_charts for k in ks)}
    table_charts = {k: Markup(c) for k, c in report_charts.share_charts(
        report, style, lambda kpi, name, v: column_text(report, kpi, name, v, gettext)
    ).items()}
    burnups = {k: Markup(c) for k, c in report_charts.burnup_charts(report, style,
                                                                    gettext).items()}
    # --- end of charts
    # fix-periods: a table the period's data cannot give (top queries of monthly exports in
    # a quarter) is no section of its own, nor in the contents or the glossary: "About the
    # data" explains it once, in the client's words (``unavailable_tables``).
    tables = [k for k in report.kpis.values()
              if k.definition.breakdown is not None and not uncomputable(k)]
    unavailable_tables = [k for k in report.kpis.values()
                          if k.definition.breakdown is not None and uncomputable(k)]
    bars = {a.key: Markup(charts.progress_bar(a.progress, a.expected_progress,
                                              colour=STATUS_COLOURS[a.status]))
            for a in report.objectives}
    okr_bars = {o.key: Markup(charts.progress_bar(o.score, None, colour=colours.accent))
                for o in report.okrs}
    from kpireport.narrative import summarise

    labels = report.source_labels or {name: ref.label for name, ref
                                      in report.client.sources.items() if ref.label}
    kinds = {"month": gettext("Monthly performance report"),
             "quarter": gettext("Quarterly performance report"),
             "month-to-date": gettext("Month-to-date performance report"),
             "year-to-date": gettext("Year-to-date performance report")}

    brand = report.brand
    printed = list(brand.get("sections") or SECTION_DEFAULTS)
    folders = template_folders(env)
    notes = analyst_notes(report, families, printed)
    # --- The one-page summary and the commentary's own title (issue #15, items 3 and 4).
    from kpireport import objective_words, summary
    from kpireport import sections as section_titles
    from kpireport.attribution import attribution_note
    from kpireport.objectives import reference_day

    def commentary_of(text: str | None, folders: Iterable[Path]) -> Markup | None:
        return commentary_html(text, folders, language=report.language)

    def prose(text: str) -> str:
        return typography.for_language(text, report.language)

    commentary_title, commentary = section_titles.leading_heading(
        commentary_of(notes.commentary, folders))
    headline = [k for k in summary.headline_order(report, families) if not uncomputable(k)]
    # texts3: a year to date has one comparison, last year's same days: its notes name it.
    one_year = (report.period.last_year.start.year
                if report.period.previous == report.period.last_year else None)
    report_notes = {note_text(n, report.locale, gettext, labels, one_year=one_year)
                    for n in report.notes}
    # ---
    return {
        "brand": brand,
        "sections": printed,
        "narrative": _typeset(summarise(report, gettext, env_translations(env).ngettext), prose,
                              lambda text: _finding_prose(report, text)),
        # The commentary without its opening heading, which titles its section instead.
        "commentary": commentary,
        "commentary_title": commentary_title,
        # An objective's forecast, printed where its status needs it to be understood.
        "shows_forecast": summary.shows_forecast,
        "status_disagrees": summary.disagrees,
        # A missed objective's recommendation, named beside it in the summary.
        "covering_title": lambda a: (f.in_language(report.language)[0]
                                     if (f := summary.covering_finding(report, a)) else None),
        # The day the objectives' days left and monthly needs are counted from: the data's
        # last day when it stops before the period's end (fix-periods).
        "as_of": (as_of := reference_day(report.period.end, [
            (report.period_of(a.kpi).end, a.deadline, a.kind == "cumulative")
            for a in report.objectives])),
        "as_of_data_end": as_of < report.period.end,
        # --- objs3: what is counted on which day or month, the glance's heading, whose
        # target a chart draws (kpireport.objective_words; issue #15, review 5) ---
        "objectives_lead": objective_words.objectives_lead(report, as_of, gettext),
        "glance_heading": objective_words.glance_heading(report, gettext),
        "target_line": lambda kpi: (objective_words.target_line_text(
            line, lambda v: value_filters(report)["value"](v, kpi), gettext)
            if (line := lines.get(kpi.key)) is not None and kpi.key in kpi_charts
            and kpi_charts[kpi.key] else None),
        # --- end objs3 ---
        # The KPIs whose description the appendix gives: those without a chart (a chart's
        # caption says it already).
        "glossary": [k for k in report.kpis.values() if k.key not in kpi_charts
                     and k not in unavailable_tables],
        "unavailable_tables": list(dict.fromkeys(
            note_text(n, report.locale, gettext, labels, one_year=one_year)
            for k in unavailable_tables
            for n in k.notes if n.kind is NoteKind.UNAVAILABLE)),
        # --- the analyst's notes (issue #15 item 8): kpireport.analyst_notes ---
        "kpi_note": lambda kpi: commentary_of(notes.for_key(kpi.key), folders),
        "section_note": lambda name: commentary_of(notes.for_key(name), folders),
        "actions": {"done": commentary_of(notes.done, folders),
                    "planned": commentary_of(notes.planned, folders)}
        if notes.done or notes.planned else None,
        "report": report,
        "agency": report.agency,
        "client": report.client,
        "period": report.period,
        "report_kind": kinds.get(report.period.kind) or gettext("Performance report"),
        # A tile's changes, as short as the tile needs and in the language's idiom.
        "tile_since": {"previous": {"month": gettext("vs last month"),
                                    "month-to-date": gettext("vs last month"),
                                    "quarter": gettext("vs last quarter")}.get(
                           report.period.kind) or gettext("vs previous period"),
                       "last_year": gettext("vs last year")},
        # Year to date compares with last year's same days only: one comparison to print.
        "one_comparison": report.period.previous == report.period.last_year,
        "colours": colours,
        "lang": report.language,
        "kpis": report.kpis,
        # The summary's tiles: the single figures the period has. One that cannot be computed
        # for it (a distinct count from daily files) is left out, explained under its chart.
        "headline_kpis": headline,
        "headline_tiles": headline[:summary.TILES],
        # The periods the summary's figures are compared with: the same days as the data's,
        # when all of them stop on one day before the period's end.
        "lead_period": _lead_period(report),
        # --- fix-periods: the days the figures cover, said where they are read.
        # Figures stopping before the period's end: the summary's first sentence says so.
        "tiles_caption": summary.tiles_caption(report, gettext),
        # The cover's days under the period's name: to the data's last day, never more.
        "cover_range": (formatting.format_days(report.period.start, summary.covered_end(report),
                                               report.locale)
                        if report.period.kind != "month"
                        or summary.covered_end(report) < report.period.end else None),
        "whole_period": summary.covers_whole_period(report),
        # A table's change column: a year to date compares with last year's same days.
        # texts2: a short header (a long one stacked on five lines in French), the same
        # days said once under each table instead (``change_note``).
        "change_column": (env_translations(env).pgettext("table column", "vs last year")
                          if report.period.previous == report.period.last_year
                          else gettext("vs previous period")),
        "change_note": (gettext("Changes against the same days of %(year)s.") % {
            "year": report.period.last_year.start.year}
            if report.period.previous == report.period.last_year else None),
        # texts2: "October 2025: £139,200" kept on one line (a compare line may break
        # between comparisons, never inside a period's name or before its value).
        "period_value": lambda span, value: formatting.unbreakable(
            gettext("%(period)s: %(value)s") % {
                "period": formatting.format_period(span, report.locale), "value": value}),
        # texts3: a compare line's change kept whole ("up\xa02.9\xa0places").
        "unbreakable": formatting.unbreakable,
        # ---
        # A KPI whose data stops early is compared over the same days: those are named.
        "period_of": lambda kpi: report.period_of(kpi.key),
        "all_kpis": all_kpis,
        "families": [(f, ks) for f, ks in sections if ks],
        "family_titles": family_titles,
        "tables": tables,
        "charts": kpi_charts,
        "table_charts": table_charts,  # a breakdown's bars (KpiDefinition.chart), by KPI key
        "burnups": burnups,  # a cumulative objective's burn-up chart, by objective key
        # The period as clients name it ("Q3 2026", "Year to date 2026"): cover and title.
        "period_name": report_charts.period_name(report.period, report.locale, gettext),
        "status_icon": STATUS_ICONS,
        "sparklines": sparklines,
        # A headline tile's target status: its KPI's first objective (in the config's order).
        "tile_status": {a.kpi: a for a in reversed(report.objectives)},
        "legends": legends,
        "bars": bars,
        "okr_bars": okr_bars,
        "status_colour": {s.value: c for s, c in STATUS_COLOURS.items()},
        "status_label": {s.value: gettext(label) for s, label in STATUS_LABELS.items()},
        "better": BETTER,
        "worse": WORSE,
        "column_label": lambda kpi, name: kpi.definition.text(
            kpi.definition.breakdown.column_labels.get(name, {"en": name}), report.language),
        # A cell's text is data (a query, a page, a campaign): printed as it is, never
        # set in the language's typography as free text is.
        "column_value": lambda kpi, name, v: _wrappable(
            column_text(report, kpi, name, v, gettext)) if isinstance(v, str) else
        column_text(report, kpi, name, v, gettext),
        # keys: a figure column's unit ("duration"…), for its cells' class (unit-duration).
        "column_unit": lambda kpi, name: str(Unit(kpi.definition.breakdown.column_units.get(
            name, Unit.COUNT))),
        "row_change": lambda kpi, i: row_change(report, kpi, i, env_translations(env)),
        # How a table's optional columns are credited to its rows, said once under it.
        "attribution_note": lambda kpi: attribution_note(kpi, report.locale, gettext),
        "row_changes": lambda kpi: any(p is not None for p in kpi.previous_rows),
        # A table's figure columns: its own, then the optional ones its source gave.
        "table_columns": table_columns,
        "kpi_text": lambda kpi, labels: kpi.definition.text(labels, report.language),
        # The client's words for the KPI, else its definition's (a KpiValue a plugin built).
        "describe": lambda kpi: prose(kpi.description or (kpi.definition.text(
            kpi.definition.description, report.language) if kpi.definition.description else "")),
        "objective_value": lambda a, v: objective_text(report, all_kpis, a, v),
        "objective_gain": lambda a, v: objective_gain_text(report, all_kpis, a, v,
                                                       env_translations(env)),
        # Its prose in the language's typography, the data it quotes as it is.
        # A finding's sentences name periods ("Q2 2025"): their years never start a line.
        "finding_prose": lambda text: _finding_prose(report, text),
        "finding_text": lambda f: tuple(typography.hold_years(
            typography.for_language(t, report.language, verbatim=f.verbatim),
            verbatim=f.verbatim) for t in f.in_language(report.language)),
        "note_text": lambda note: note_text(note, report.locale, gettext, labels,
                                            one_year=one_year),
        "source_label": lambda name: labels.get(name) or name,
        # Each sentence once: notes about several metrics can read the same to the client.
        "note_texts": lambda notes: list(dict.fromkeys(
            note_text(note, report.locale, gettext, labels, one_year=one_year)
            for note in notes)),
        # A source's time zone (Search Console's Pacific days) is said once, under "About the
        # data", not beside each of its figures.
        # texts3: so is a note that reads word for word as one of the report's own (Search
        # Console's "small numbers withheld" was printed under each table and again there).
        "kpi_notes": lambda kpi: ([n for n in kpi.notes if n.kind is not NoteKind.TIMEZONE
                                   and note_text(n, report.locale, gettext, labels,
                                                 one_year=one_year) not in report_notes]
                                  if "data_notes" in printed and report.notes else kpi.notes),
        "generated": formatting.format_date(report.generated_at.date(), report.locale),
    }


def _finding_prose(report: Report, text: str) -> str:
    """A finding's words as the report prints them: the language's typography and years
    held to their periods, the data the findings quote left as it is."""
    quoted = [v for f in report.findings for v in f.verbatim]
    return typography.hold_years(typography.for_language(text, report.language,
                                                         verbatim=quoted), verbatim=quoted)


def _typeset(narrative: Any, prose: Any, findings_prose: Any) -> Any:
    """The summary's sentences, which quote the config's titles, in the language's
    typography; the findings' titles with the data they quote as it is
    (``findings_prose``)."""
    for name in ("improved", "worsened", "attention"):
        setattr(narrative, name, [prose(line) for line in getattr(narrative, name)])
    narrative.recommended = [findings_prose(line) for line in narrative.recommended]
    narrative.headline = prose(narrative.headline)
    return narrative


def note_keys(kpis: Iterable[str], families: Iterable[str]) -> list[str]:
    """What a note in the commentary may name: a KPI, a KPI family, a section."""
    from kpireport.analyst_notes import SECTION_KEYS

    return list(dict.fromkeys((*kpis, *families, *SECTION_KEYS)))


def analyst_notes(report: Report, families: Iterable[str], sections: list[str]) -> AnalystNotes:
    """The commentary file's notes and lists, less (with a warning) the notes naming nothing
    of this report: a typo in a note never stops a report. Sections chosen before the
    "actions" block existed leave its lists in the commentary, where they were printed."""
    from kpireport.analyst_notes import parse

    notes = parse(report.brand.get("commentary"), lists="actions" in sections)
    keys = note_keys(report.kpis, families)
    unknown = notes.unknown(set(keys))
    for note in unknown:
        log.warning("%s, line %d: %r names no KPI or section of %s's report (expected one "
                    "of %s): left out", report.brand.get("commentary_file") or "commentary",
                    note.line, note.heading, report.client.id, ", ".join(keys))
    if unknown:
        notes = dataclasses.replace(notes, notes=[n for n in notes.notes if n not in unknown])
    return notes


def _lead_period(report: Report) -> Any:
    """The report's period, or the one its single figures are all cut to (their data all
    stopping on the same day before the period's end): :meth:`Report.period_of`."""
    return report.period_of()


def uncomputable(kpi: KpiValue) -> bool:
    """A figure the period's data cannot give (not a source that failed): a distinct count
    asked of daily files, top queries of monthly exports for a quarter."""
    return kpi.value is None and kpi.error is None and any(
        n.kind is NoteKind.UNAVAILABLE for n in kpi.notes)


def note_text(note: DataNote, locale: str, gettext: Any,
              labels: Mapping[str, str] | None = None, *, one_year: int | None = None) -> str:
    """A data note in the report's language: the standard kinds through the theme's catalogue,
    others through the note's own translations (its message as written otherwise). The source
    is named by its ``label`` in the config (``labels``), else by its id. ``one_year``: the
    year whose same days are the report's only comparison (a year to date's)."""
    days = sorted(note.dates)
    # A note about a KPI of several sources names them all ("web,crm").
    source = " · ".join((labels or {}).get(name) or name for name in note.source.split(",")
                        if name) or gettext("the source")
    params = dict(note.params)
    if note.kind is NoteKind.MISSING_VALUES:
        # Which file and column: for the agency's log, not the client's report.
        log.info("%s", redact(note.message))
    if days and note.kind in (NoteKind.MISSING_DAYS, NoteKind.MISSING_VALUES,
                              NoteKind.INCOMPLETE, NoteKind.TRACKING_GAP):
        if len(days) <= 4:
            when = ", ".join(formatting.format_date(d, locale, "medium") for d in days)
        else:
            when = formatting.unit_bound(
                gettext("%(count)d days from %(first)s to %(last)s"), "count") % {
                "count": len(days), "first": formatting.format_date(days[0], locale, "medium"),
                "last": formatting.format_date(days[-1], locale, "medium")}
        template = {
            NoteKind.MISSING_DAYS: gettext("%(source)s: no data for %(when)s."),
            NoteKind.MISSING_VALUES: gettext("%(source)s: some figures missing for %(when)s."),
            NoteKind.INCOMPLETE: gettext("%(source)s: data not final yet for %(when)s."),
            NoteKind.TRACKING_GAP: gettext("%(source)s: the tracking recorded no event on "
                                           "%(when)s while the ads were running: conversions "
                                           "are likely missing."),
        }[note.kind]
        return template % {"source": source, "when": when}
    if note.kind is NoteKind.SAMPLED:
        return gettext("%(source)s: figures estimated from a sample of the data.") % {
            "source": source}
    if note.kind is NoteKind.THRESHOLDED:
        return gettext("%(source)s: small numbers withheld by the source to protect "
                       "privacy.") % {"source": source}
    if note.kind is NoteKind.NO_DATA:
        return gettext("%(source)s: no data for this period.") % {"source": source}
    if note.kind is NoteKind.DATA_END and "end" in params:
        day = formatting.format_date(dt.date.fromisoformat(params["end"]), locale)
        if one_year is not None:  # texts3: one comparison, named
            # The year kept with the word before it: a line opening on "2025." reads badly.
            return gettext("%(source)s: figures up to %(day)s, the last day of data, compared "
                           "with the same days of %(year)s.").replace(" %(year)s",
                                                                     "\xa0%(year)s") % {
                "source": source, "day": day, "year": one_year}
        return gettext("%(source)s: figures up to %(day)s, the last day of data, compared "
                       "with the same days of the periods before.") % {"source": source,
                                                                         "day": day}
    if note.kind is NoteKind.SOURCE_FAILED and params.get("missing"):
        # Part of the source was read: the figures printed are whole, these are not there.
        return gettext("%(source)s could only be partly read for this report: %(figures)s "
                       "could not be read; its other figures are complete.") % {
            "source": source, "figures": params["missing"]}
    if note.kind is NoteKind.SOURCE_FAILED:
        # The error itself (an HTTP status, a file's line) is for the agency: it is in the
        # run's ledger and summary, not in the client's report.
        return gettext("%(source)s could not be read for this report: the figures that "
                       "depend on it are missing.") % {"source": source}
    if note.kind is NoteKind.TIMEZONE and "timezone" in params:
        return gettext("%(source)s counts its days in %(timezone)s.") % {
            "source": source,
            "timezone": formatting.timezone_name(params["timezone"], locale)}
    if note.kind is NoteKind.CURRENCY and "currency" in params:
        if "rate" in params:
            rate = formatting.format_rate(float(params["rate"]), locale)
            return gettext("%(source)s gives its amounts in %(currency)s: converted at "
                           "%(rate)s.") % {"source": source, "currency": params["currency"],
                                           "rate": rate}
        return gettext("%(source)s gives its amounts in %(currency)s: they are shown in "
                       "%(currency)s.") % {"source": source, "currency": params["currency"]}
    if note.kind is NoteKind.UNAVAILABLE:
        # The source's own explanation names its files and settings: for the agency's log.
        log.info("%s", redact(note.message))
        if params.get("why") == "distinct":
            return gettext("%(figure)s cannot be given for this period: %(source)s gives it "
                           "day by day, and adding days up would count someone who came on "
                           "several days several times.") % {"figure": params["figure"],
                                                             "source": source}
        if params.get("why") == "months":
            # The chart beside it shows each month's own figure: the source's, not days added.
            return gettext("%(figure)s cannot be given for this period: %(source)s gives it per "
                           "calendar month only, and months cannot be added up (someone who "
                           "came in several months would be counted in each).") % {
                "figure": params["figure"], "source": source}
        if params.get("why") == "range":
            # texts3: a table is a ranking, not a figure; said as a client would.
            return gettext("%(figure)s cannot be shown for this period: %(source)s gives this "
                           "ranking for other periods only (month by month, for example), and "
                           "rankings cannot be combined into one for this period.") % {
                "figure": params["figure"], "source": source}
        return gettext("%(source)s: this figure cannot be computed for this period from the "
                       "data at hand.") % {"source": source}
    return redact(note.text_for(locale.split("_")[0]))


def _last_13_months(monthly: list[SeriesPoint],
                    period_start: dt.date) -> tuple[list[SeriesPoint], list[SeriesPoint]]:
    last = period_start.replace(day=1)
    first = add_months(last, -12)
    by_month = {p.start: p.value for p in monthly}
    current = [SeriesPoint(start=add_months(first, i), value=by_month.get(add_months(first, i)))
               for i in range(13)]
    previous = [SeriesPoint(start=add_months(first, i), value=by_month.get(add_months(first,
                                                                                      i - 12)))
                for i in range(13)]
    if all(p.value is None for p in previous):
        previous = []
    return current, previous


def _family_id(family: str | Family) -> str:
    """A KPI's family id: ``KpiDefinition`` turns a :class:`Family` into its id on creation."""
    return family.id if isinstance(family, Family) else family


def _families(report: Report) -> tuple[list[str], dict[str, str]]:
    """The report's KPI families in the order their KPI plugins rank them (those that say
    nothing after, by name), and each one's heading in the report's language."""
    sections: dict[str, Family] = {}
    for kpi in (*report.kpis.values(), *report.every_kpi().values()):
        if kpi.definition.section is not None:
            sections.setdefault(_family_id(kpi.definition.family), kpi.definition.section)
    unranked = Family(id="", label={"en": ""}).rank
    families = sorted({_family_id(k.definition.family) for k in report.kpis.values()},
                      key=lambda f: (sections[f].rank if f in sections else unranked, f))
    titles: dict[str, str] = {}
    for f in families:
        labels = sections[f].label if f in sections else {"en": f.capitalize()}
        titles[f] = (labels.get(report.language) or labels.get(report.language.split("_")[0])
                     or labels["en"])
    return families, titles


def column_text(report: Report, kpi: KpiValue, name: str, value: Any,
                  gettext: Any = None) -> str:
    """A breakdown table's cell, printed as its KPI plugin says (a count when it says
    nothing); dimension values it lists as translatable in the report's language."""
    if value is None:
        return formatting.MISSING
    breakdown = kpi.definition.breakdown
    if isinstance(value, str):
        if (gettext is not None and breakdown is not None
                and value in breakdown.translated_values.get(name, ())):
            return str(gettext(value))
        return cell_text(value)
    if isinstance(value, dt.date):
        return formatting.format_date(value, report.locale, "medium")
    unit = breakdown.column_units.get(name, Unit.COUNT) if breakdown is not None else Unit.COUNT
    if Unit(unit) is Unit.PERCENT:
        return formatting.format_percent(value, report.locale, _percent_decimals(kpi, name))
    return formatting.format_value(value, unit, report.locale, kpi.currency or report.currency)


def _percent_decimals(kpi: KpiValue, name: str) -> int:
    """A table's rate column's decimals of a percent: one precision a column ("41,00 %"
    above "4,12 %", never "41,0 %"), two when a rate under 10 % is anywhere in it."""
    small = any(isinstance(v, (int, float)) and abs(v) < 0.1
                for row in kpi.rows if (v := row.get(name)) is not None)
    return 2 if small else 1


def table_columns(kpi: KpiValue) -> list[str]:
    """A table KPI's figure columns, in order: the breakdown's ``columns`` (its ranking metric
    alone when it names none), then each of its ``optional_columns`` that a printed row holds
    (one its source could not give is left out, never printed as a column of dashes)."""
    breakdown = kpi.definition.breakdown
    if breakdown is None:
        return []
    return [*(breakdown.columns or (breakdown.metric,)),
            *(c for c in breakdown.optional_columns if any(c in row for row in kpi.rows))]


_SLASH = re.compile(r"/(?=[^/])")
_SEGMENT = re.compile(r"[^/]+")
LONG_SEGMENT = 26
"""Characters of an address's part (between slashes) beyond which it may also break before
its hyphens, as the last resort: a page column's width at its 7pt (style.css, texts3). A
line takes every break that fits, so a shorter limit broke a slug that fits a line of its
own ("/produit/serum-eclat⏎-vitamine-c" rather than after "/produit/")."""


def _segment(match: re.Match[str]) -> str:
    part = match.group(0)
    # After a hyphen, never (a word joiner): a line ending "soins-" reads as a word's
    # hyphenation. Before one, in a long part only (a zero-width space): "-vitamine-c"
    # opening a line reads as the address going on.
    joined = part.replace("-", "-\u2060")
    return joined.replace("-", "\u200b-") if len(part) > LONG_SEGMENT else joined


def _wrappable(text: str) -> str:
    """A page's address that may wrap after each slash (a zero-width space there), not in
    the middle of a word: ``/blog/guides/`` breaks as ``/blog/`` ``guides/``; nor after a
    hyphen (``/soins-`` ``visage`` read as hyphenation): a long part breaks before one."""
    if "/" not in text:
        return text
    return _SLASH.sub("/\u200b", _SEGMENT.sub(_segment, text))


def partial_key(ends: set[dt.date], locale: str, gettext: Any) -> str:
    """The charts' key to a month's striped slot: "To 24 Nov, against the same days last
    year" (the day unbreakable), the day left out when the section's charts stop on
    different days (each slot's own label names its day)."""
    if len(ends) != 1:
        return str(gettext("Month so far, against the same days last year"))
    day = formatting.unbreakable(formatting.format_skeleton("MMMd", next(iter(ends)), locale))
    return str(gettext("To %(day)s, against the same days last year")) % {"day": day}


def row_change(report: Report, kpi: KpiValue, index: int,
               words: Any) -> tuple[str, bool | None]:
    """A table row's change on the previous period, in the unit of the metric the table
    ranks by (a percentage for a count, from the raw figures; points, places or seconds
    between the figures as printed), and whether it is good news (None when it prints as
    no change); "new" for a row the previous period did not have, "—" where its previous
    figure is unknown."""
    breakdown = kpi.definition.breakdown
    if breakdown is None or index >= len(kpi.previous_rows) or index >= len(kpi.rows):
        return formatting.MISSING, None
    previous, current = kpi.previous_rows[index], kpi.rows[index].get(breakdown.metric)
    if previous is None or current is None:
        return formatting.MISSING, None
    unit = Unit(breakdown.column_units.get(breakdown.metric, Unit.COUNT))
    relative = formatting.changes_relatively(unit)
    if relative and previous == 0:
        return (str(words.gettext("new")), None) if current > 0 else (formatting.MISSING, None)
    if relative:
        moved = KpiValue.change(current, previous)
        text = formatting.format_change(moved, report.locale)
    else:
        # Points, places, seconds: between the two figures as the column prints them (its
        # one precision for a rate), as a KPI's tile tells its difference.
        decimals = (_percent_decimals(kpi, breakdown.metric) + 2 if unit is Unit.PERCENT
                    else None)
        moved = (formatting.as_printed(current, unit, decimals=decimals)
                 - formatting.as_printed(previous, unit, decimals=decimals))
        text = formatting.format_difference(moved, unit, report.locale, words,
                                            kpi.currency or report.currency)
    if moved is None or text.startswith("±") or (
            unit is Unit.POSITION and round(abs(moved), formatting.PLACES_DECIMALS) == 0):
        return text, None
    return text, kpi.is_better(moved)


def objective_text(report: Report, kpis: dict[str, KpiValue], a: Assessment,
                     value: float | None) -> str:
    kpi = kpis.get(a.kpi)
    if kpi is None:
        return formatting.format_number(value, report.locale, 1)
    if value is not None and kpi.definition.unit is Unit.COUNT:
        value = round(value)  # "expected by now: 43 578.5 clicks" is false precision
    return formatting.format_value(value, kpi.definition.unit, report.locale,
                                   kpi.currency or report.currency, kpi.definition.duration_unit)


def objective_gain_text(report: Report, kpis: dict[str, KpiValue], a: Assessment,
                    value: float, words: Any) -> str:
    """A monthly gain needed: in percentage points for a rate, where "0.09 %" would read as a
    relative change; otherwise as the objective's values are written."""
    kpi = kpis.get(a.kpi)
    if kpi is None or kpi.definition.unit is not Unit.PERCENT or a.kind == "cumulative":
        if kpi is not None:
            value = formatting.needed(value, kpi.definition.unit, kpi.definition.duration_unit)
        return objective_text(report, kpis, a, value)
    from babel import Locale

    points = formatting.ceil_to(value * 100, 2)
    # Gettext's plural rules take whole numbers: ask CLDR's ("0,09 point" but "0.09 points").
    count = 1 if Locale.parse(report.locale).plural_form(points) == "one" else 2
    return formatting.unit_bound(
        words.ngettext("%(points)s percentage point", "%(points)s percentage points", count),
        "points") % {"points": formatting.format_number(points, report.locale, 2)}
