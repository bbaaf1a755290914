"""``kpireport site``: the archive of delivered reports as a static site.

Written from the run ledger (which reports reached a client) and the spool (the PDF and HTML
each run rendered, and the objectives' statuses it recorded beside them)::

    DIR/index.html                      the agency's index of clients
    DIR/<client id>/index.html          the client's reports, newest first
    DIR/<client id>/<period>.html|.pdf  each report, as delivered
    DIR/<client id>/.kpireport-site     the marker: a folder prune() may remove
    DIR/_fonts/, DIR/<client id>/_fonts/  the reports' typeface for the index pages
                                        (kpireport.site_fonts)

A client no longer in the config loses its folder (prune): nothing stays published for it.

A client's folder holds that client's files only and links nowhere outside itself, so it can
be copied to a static host, or shared, on its own. Every page works from a file, offline
(inline styles, the reports' images as data URIs); an index page's faces are files of its
folder's ``_fonts/``, so that each page does not carry them.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpireport import site_fonts
from kpireport.config.models import ClientConfig, Config
from kpireport.errors import KpiReportError

log = logging.getLogger("kpireport.site")

MARKER = ".kpireport-site"
"""Left at the root of a site: a folder holding it may be written over, another may not."""

TEMPLATES = Path(__file__).parent / "templates" / "site"


class SiteError(KpiReportError):
    exit_code = 2


@dataclass(frozen=True)
class SiteReport:
    period: str
    """The period's key (``2026-10``), also the files' name."""
    html: Path
    pdf: Path
    objectives: list[dict[str, str]] | None
    """``title`` and ``status`` of each objective; None when the spool did not record them."""


@dataclass(frozen=True)
class ClientSite:
    client: ClientConfig
    reports: list[SiteReport]
    missing: list[str]
    """Periods the ledger has as delivered whose files are no longer in the spool."""


def collect(config: Config, client: ClientConfig, *, output_dir: Path | None = None
            ) -> ClientSite:
    """The client's delivered reports that the spool still holds, newest first."""
    import json

    from kpireport.batch import state_paths
    from kpireport.ledger import Ledger
    from kpireport.periods import from_key

    paths = state_paths(config, output_dir)
    if not paths.ledger.is_file():
        return ClientSite(client, [], [])
    with Ledger(paths.ledger) as ledger:
        periods = ledger.delivered_periods(client.id)
    reports, missing = [], []
    for key in periods:
        html, pdf = (paths.spool(client.id, key, ".html"), paths.spool(client.id, key, ".pdf"))
        if not (html.is_file() and pdf.is_file()):
            missing.append(key)
            continue
        meta_path = paths.spool(client.id, key, ".json")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        objectives = meta.get("objectives")
        reports.append(SiteReport(key, html, pdf,
                                  objectives if isinstance(objectives, list) else None))
    reports.sort(key=lambda r: (from_key(r.period).start, r.period), reverse=True)
    return ClientSite(client, reports, missing)


def build_site(config: Config, target: Path, *, theme_path: Path | None,
               clients: Iterable[ClientConfig] | None = None,
               output_dir: Path | None = None) -> list[ClientSite]:
    """Write the site into ``target`` (the clients given, default all) and the agency's index
    of every client whose folder is there. Each client's folder is written anew: a report no
    longer delivered, or a client's stray file, does not linger in it. ``theme_path``: the
    default theme, whose catalogues give the pages' words in each client's language."""
    target = target.resolve()
    if target.exists() and any(target.iterdir()) and not (target / MARKER).is_file():
        raise SiteError(f"{target} is not empty and holds no kpireport site: choose an empty "
                        "folder (kpireport site writes over its own folders only)")
    target.mkdir(parents=True, exist_ok=True)
    (target / MARKER).write_text("written by kpireport site\n", encoding="utf-8")
    chosen = list(clients) if clients is not None else list(config.clients)
    sites = []
    for client in chosen:
        site = collect(config, client, output_dir=output_dir)
        _write_client(config, site, target / client.id, theme_path)
        sites.append(site)
    prune(config, target)
    _write_agency_index(config, target, theme_path)
    return sites


def prune(config: Config, target: Path) -> list[str]:
    """Remove from the site ``target`` the folders it wrote for clients no longer in the
    config, and return their names: a published folder of a client the agency dropped must
    not stay online. A folder the site did not write (no marker: an agency's own files) is
    left alone, with a warning. Each removal is logged as a warning (stderr from the CLI)."""
    configured = {c.id for c in config.clients}
    removed = []
    for folder in sorted(p for p in target.iterdir() if p.is_dir()):
        if folder.name in configured or folder.name.startswith(".") \
                or folder.name == site_fonts.FOLDER:  # the site's own faces
            continue
        if _written_by_site(folder):
            shutil.rmtree(folder)
            removed.append(folder.name)
            log.warning("removed %s from the site: client %r is no longer in the config",
                        folder, folder.name)
        else:
            log.warning("left %s in the site: not a client's folder written by kpireport "
                        "site", folder)
    return removed


def _written_by_site(folder: Path) -> bool:
    """A client folder this command wrote: its marker, or (written before folders had one)
    an index page that kpireport generated."""
    if (folder / MARKER).is_file():
        return True
    try:
        head = (folder / "index.html").read_text(encoding="utf-8")[:2000]
    except (OSError, UnicodeDecodeError):
        return False
    return '<meta name="generator" content="kpireport">' in head


def _write_client(config: Config, site: ClientSite, folder: Path,
                  theme_path: Path | None) -> None:
    from kpireport.delivery import atomic_write
    from kpireport.periods import from_key
    from kpireport.report import Status
    from kpireport.template_context import STATUS_COLOURS, STATUS_LABELS

    locale = config.locale_of(site.client)
    env, gettext = _environment(theme_path, locale)
    if folder.exists():
        shutil.rmtree(folder)
    if not site.reports:  # nothing delivered yet: no folder, no line in the agency's index
        return
    folder.mkdir(parents=True)
    # The folder's own marker: when the client leaves the config, prune() knows it may go.
    (folder / MARKER).write_text("written by kpireport site\n", encoding="utf-8")
    rows = []
    for r in site.reports:
        shutil.copyfile(r.html, folder / f"{r.period}.html")
        shutil.copyfile(r.pdf, folder / f"{r.period}.pdf")
        period = from_key(r.period)
        objectives = [{"title": o.get("title", ""),
                       "label": gettext(STATUS_LABELS[Status(o["status"])]),
                       "colour": STATUS_COLOURS[Status(o["status"])]}
                      for o in r.objectives or [] if o.get("status") in set(Status)]
        rows.append({"period": _period_words(period, locale), "kind": gettext(
            _KINDS.get(period.kind, "Performance report")), "objectives": objectives,
            "html": f"{r.period}.html", "pdf": f"{r.period}.pdf"})
    page = env.get_template("page.html.j2").render(
        lang=locale.split("_")[0], title=site.client.name, agency=config.agency.name,
        primary=_primary(config), reports=rows,
        font_faces=site_fonts.publish(folder, theme_path), font_stack=site_fonts.STACK)
    atomic_write(folder / "index.html", page)


def _write_agency_index(config: Config, target: Path, theme_path: Path | None) -> None:
    from kpireport.delivery import atomic_write

    locale = config.agency.locale
    env, gettext = _environment(theme_path, locale)
    rows = []
    for client in config.clients:
        index = target / client.id / "index.html"
        if not index.is_file():
            continue
        periods = sorted((p for p in (target / client.id).glob("*.pdf")),
                         key=lambda p: p.stem)
        latest = _latest_words(periods, locale)
        rows.append({"folder": client.id, "name": client.name, "count": len(periods),
                     "latest": latest})
    page = env.get_template("page.html.j2").render(
        lang=locale.split("_")[0], title=gettext("Clients"), agency=config.agency.name,
        primary=_primary(config), clients=rows,
        font_faces=site_fonts.publish(target, theme_path), font_stack=site_fonts.STACK)
    atomic_write(target / "index.html", page)


_KINDS = {"month": "Monthly performance report", "quarter": "Quarterly performance report",
          "month-to-date": "Month-to-date performance report",
          "year-to-date": "Year-to-date performance report"}


def _latest_words(pdfs: list[Path], locale: str) -> str | None:
    from kpireport.periods import from_key

    if not pdfs:
        return None
    latest = max((from_key(p.stem) for p in pdfs), key=lambda p: p.start)
    return _period_words(latest, locale)


def _period_words(period: Any, locale: str) -> str:
    from kpireport.formatting import format_period

    words = format_period(period, locale)
    return words[:1].upper() + words[1:]


def _primary(config: Config) -> str:
    """The agency's primary colour when it is dark enough for white text, else a dark blue."""
    colour = getattr(getattr(config.agency, "colours", None), "primary", None)
    if isinstance(colour, str) and _contrast_with_white(colour) >= 4.5:
        return colour
    return "#1f3a5f"


def _contrast_with_white(colour: str) -> float:
    """WCAG's contrast ratio of white text on ``#rrggbb`` (0 for anything else)."""
    text = colour.strip().lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    try:
        channels = [int(text[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    except ValueError:
        return 0.0
    if len(text) != 6:
        return 0.0
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return 1.05 / (luminance + 0.05)


def _environment(theme_path: Path | None, locale: str) -> tuple[Any, Any]:
    import jinja2

    from kpireport.templating import translations

    language = locale.split("_")[0]
    words = (translations(theme_path / "locale", language) if theme_path is not None
             else None)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             extensions=["jinja2.ext.i18n"], trim_blocks=True,
                             lstrip_blocks=True)
    if words is None:
        env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
        return env, lambda message: message
    env.install_gettext_translations(words, newstyle=True)  # type: ignore[attr-defined]
    return env, words.gettext
