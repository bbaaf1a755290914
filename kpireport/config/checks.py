"""The config's second check, with the plugins loaded (``kpireport validate``, every run).

Each source's settings against its plugin's model, KPIs and objectives against what the
sources offer (by planning each client, see :mod:`kpireport.pipeline.plan`), brand files,
locales, themes and delivery targets, and deliveries that would overwrite each other.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kpireport.config.models import ClientConfig, Config
from kpireport.delivery import DeliveryContext, DeliveryTarget, report_names
from kpireport.errors import ConfigError, Problem
from kpireport.periods import Period, resolve, today_in
from kpireport.pipeline.plan import language_of, plan_client, settings_problems
from kpireport.plugins import PluginSet


def check_config(config: Config, plugins: PluginSet, *, today: dt.date | None = None,
                 client_ids: Iterable[str] | None = None,
                 timeout: float | None = None) -> list[Problem]:
    """Every problem the plugins can see in the config, before any data is fetched.

    With ``client_ids``, the sources of the other clients are not opened (the whole file has
    already been validated against the models when it was loaded). ``timeout``: the run's
    time per report when ``run --timeout`` overrides ``runs.timeout``.
    """
    only = set(client_ids) if client_ids else None
    problems: list[Problem] = []
    for name in config.plugins.disable:
        if name in plugins.infos:
            problems.append(config.problem(("plugins", "disable"),
                                           f"plugin {name!r} is loaded although disabled"))
    for path, value in _asset_paths(config):
        if not value:
            continue
        file = config.resolve_path(value)
        if not file.is_file():
            problems.append(config.problem(path, f"file not found: {file}"))
        elif problem := _asset_problem(file, font="fonts" in path):
            problems.append(config.problem(path, f"{file}: {problem}"))
    if config.agency.template_dir and not config.resolve_path(config.agency.template_dir).is_dir():
        problems.append(config.problem(("agency", "template_dir"),
                                       f"folder not found: "
                                       f"{config.resolve_path(config.agency.template_dir)}"))
    if problem := _locale_problem(config.agency.locale):
        problems.append(config.problem(("agency", "locale"), problem))
    problems.extend(_section_problems(config, plugins))
    deliveries: list[tuple[int, int, DeliveryTarget]] = []
    context = DeliveryContext(base_dir=config.base_dir,
                              output_dir=config.resolve_path(config.defaults.output))
    for i, client in enumerate(config.clients):
        if client.locale and (problem := _locale_problem(client.locale)):
            problems.append(config.problem(("clients", i, "locale"), problem))
        theme = config.theme_of(client)
        if theme not in plugins.themes:
            where = ("clients", i, "theme") if client.theme else ("defaults", "theme")
            problems.append(config.problem(where, f"unknown theme {theme!r} (installed: "
                                                  f"{', '.join(sorted(plugins.themes))})"))
        for j, ref in enumerate(client.delivery):
            path = ("clients", i, "delivery", j)
            if ref.target not in plugins.delivery_targets:
                problems.append(config.problem((*path, "target"),
                                               f"unknown delivery target {ref.target!r} "
                                               f"(installed: "
                                               f"{', '.join(sorted(plugins.delivery_targets))})"))
                continue
            cls = plugins.delivery_targets[ref.target].item
            try:
                settings = cls.Settings.model_validate(ref.settings)
            except ValidationError as exc:
                problems.extend(settings_problems(config, (*path, "settings"), ref.settings, exc))
                continue
            try:
                deliveries.append((i, j, cls(settings, context)))
            except Exception:  # the target's own problem, for its delivery to report
                pass
        if only is not None and client.id not in only:
            continue
        day = today or today_in(config.timezone_of(client))
        plan = plan_client(config, client, plugins, day)
        plan.close()
        problems.extend(plan.problems)
    problems.extend(_clashes(config, deliveries, today))
    problems.extend(_overtime(config, deliveries, timeout))
    return problems


# --- Deliveries that the run's timeout would cut (contract 1.3) ---------------------------------


def _overtime(config: Config, deliveries: list[tuple[int, int, DeliveryTarget]],
              timeout: float | None) -> list[Problem]:
    """Clients whose delivery targets' own time bounds (``longest_delivery``), added up as
    the worker delivers them one after the other, reach the run's timeout: the worker, which
    also computes and renders the report, could be stopped in the middle of a delivery."""
    limit = timeout if timeout is not None else config.runs.timeout
    where = "--timeout" if timeout is not None else "runs.timeout"
    bounded: dict[int, list[tuple[int, DeliveryTarget, float]]] = {}
    for i, j, target in deliveries:
        try:
            bound = target.longest_delivery()
        except Exception:  # the target's own problem, for its delivery to report
            continue
        if bound is not None:
            bounded.setdefault(i, []).append((j, target, float(bound)))
    problems = []
    for i, entries in bounded.items():
        total = sum(bound for _, _, bound in entries)
        if total < limit:
            continue
        client = config.clients[i]
        for j, target, bound in entries:
            others = total - bound
            with_others = (f" ({total:g} s with the client's other deliveries)"
                           if others else "")
            message = (f"client {client.id!r}: the {target.name} delivery may take up to "
                       f"{bound:g} s (the time bound its settings give){with_others}, which "
                       f"does not fit in the run's timeout of {limit:g} s ({where}), after "
                       f"which the report's worker is stopped, its rendering included: lower "
                       f"that bound in its settings below {max(limit - others, 0):g} s, or "
                       f"raise {where} above {total:g} s")
            path = (("clients", i, "delivery", j, "settings")
                    if "delivery" in client.model_fields_set else ("clients", i))
            problems.append(config.problem(path, message))
    return problems


def _clashes(config: Config, deliveries: list[tuple[int, int, DeliveryTarget]],
             today: dt.date | None) -> list[Problem]:
    """Deliveries of different clients that would put reports in the same place (a file),
    one replacing the other. Blamed on the entries whose place does not name their client
    (their pattern lacks ``{client}``); on all of them when none or each does."""
    period = resolve("last-month", today or dt.date.today())
    by_place: dict[str, list[tuple[int, int, DeliveryTarget, bool]]] = {}
    for i, j, target in deliveries:
        client = config.clients[i]
        try:
            where = target.destination(_names(config, client, period))
            if where is None:
                continue
            other = target.destination(_names(config, client, period, stranger=True))
        except Exception:  # the target's own problem, for its delivery to report
            continue
        by_place.setdefault(where, []).append((i, j, target, other != where))
    problems = []
    for where, entries in by_place.items():
        if len({i for i, _, _, _ in entries}) < 2:
            continue
        blamed = [e for e in entries if not e[3]] or entries
        for i, j, target, names_client in blamed:
            client = config.clients[i]
            others = sorted({config.clients[k].id for k, _, _, _ in entries if k != i})
            hint = ("its name gives the same file name as theirs" if names_client
                    else "put {client} in its file name")
            message = (f"{target.name} would put this client's reports in the same place as "
                       f"those of {_quoted(others)}, one replacing the other (the {period.key} "
                       f"report at {where}): {hint}")
            path = (("clients", i, "delivery", j, "settings")
                    if "delivery" in client.model_fields_set else ("clients", i))
            problems.append(config.problem(path, message))
    return problems


_BLOCK = re.compile(r"{%-?\s*block\s+([A-Za-z_][A-Za-z0-9_]*)")


def _blocks(folders: Iterable[Path]) -> set[str]:
    """The template blocks defined in the ``.j2`` files of ``folders``."""
    names: set[str] = set()
    for folder in folders:
        for file in folder.rglob("*.j2"):
            try:
                names.update(_BLOCK.findall(file.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError):
                continue
    return names


def _section_problems(config: Config, plugins: PluginSet) -> list[Problem]:
    """Sections that name no block of the report's templates (a typo prints nothing)."""
    from kpireport.config.models import SECTIONS

    agency_dir = (config.resolve_path(config.agency.template_dir)
                  if config.agency.template_dir else None)
    owners: list[tuple[tuple[Any, ...], Any, str]] = [
        (("agency",), config.agency, config.defaults.theme)]
    owners += [(("clients", i), c, config.theme_of(c)) for i, c in enumerate(config.clients)]
    problems = []
    for path, owner, theme in owners:
        if not owner.sections:
            continue
        folders = [Path(t.item.path) for name, t in plugins.themes.items()
                   if name in (theme, "default")]
        if agency_dir is not None and agency_dir.is_dir():
            folders.append(agency_dir)
        known = set(SECTIONS) | _blocks(folders)
        for name in owner.sections:
            if name not in known:
                problems.append(config.problem(
                    (*path, "sections"),
                    f"unknown section {name!r}: expected one of {', '.join(SECTIONS)}, or a "
                    "block of the theme's or the agency's templates"))
    return problems


def svg_problem(file: Path) -> str | None:
    """Why an SVG would not print as drawn: it refers to files or addresses outside itself
    (the PDF fetches nothing from the web, and the HTML must not either)."""
    import xml.etree.ElementTree as ET

    root = ET.parse(file).getroot()
    if root.tag.rsplit("}", 1)[-1] != "svg":
        return "not an SVG image"
    for element in root.iter():
        for attribute, value in element.attrib.items():
            if attribute.rsplit("}", 1)[-1] == "href" and not value.strip().startswith(
                    ("#", "data:")):
                return (f"an SVG with an external reference ({value[:80]}): embed it (a data: "
                        "URI) or draw it in the file")
            if attribute == "style" and _external_css(value):
                return "an SVG whose style refers to an external file or address"
        if element.tag.rsplit("}", 1)[-1] == "style" and _external_css(element.text or ""):
            return "an SVG whose style sheet refers to an external file or address"
    return None


def _external_css(css: str) -> bool:
    if "@import" in css:
        return True
    return any(not ref.strip("'\" ").startswith(("#", "data:"))
               for ref in re.findall(r"url\(([^)]*)\)", css))


def _names(config: Config, client: ClientConfig, period: Period,
           stranger: bool = False) -> dict[str, str]:
    """What a report of ``client`` for ``period`` is named by (Artifacts.names); with
    ``stranger``, another client's id and name, to see whether a place depends on them."""
    return report_names("another-client" if stranger else client.id,
                        "Another client" if stranger else client.name, period,
                        language_of(config.locale_of(client)))


def _quoted(ids: list[str]) -> str:
    return ("client " if len(ids) == 1 else "clients ") + ", ".join(repr(i) for i in ids)


def _locale_problem(locale: str) -> str | None:
    """Why Babel cannot format in ``locale`` (the config's pattern checks only its shape)."""
    from babel import localedata

    # Whether Babel has the locale's data file: loading it would cost each run ~10 ms.
    if localedata.exists(locale):
        return None
    return (f"unknown locale {locale!r}: Babel has no data for it (expected a locale such as "
            f"fr_FR, en_GB or de)")


_FONT_MAGIC = (b"\x00\x01\x00\x00", b"true", b"OTTO", b"wOFF", b"wOF2", b"ttcf")


def _asset_problem(file: Path, *, font: bool) -> str | None:
    """Why a brand file would not show in the PDF (WeasyPrint would leave it out quietly)."""
    try:
        if font:
            with file.open("rb") as f:
                head = f.read(4)
            return (None if head in _FONT_MAGIC
                    else "not a font file (expected TrueType, OpenType or WOFF)")
        if file.suffix.lower() == ".svg":
            return svg_problem(file)
        from PIL import Image

        with Image.open(file) as image:
            image.verify()
    except (OSError, SyntaxError, ValueError) as exc:
        return f"not an image that can be printed ({type(exc).__name__}: {exc})"
    return None


def _asset_paths(config: Config) -> Iterable[tuple[tuple[Any, ...], str | None]]:
    """Every brand file the config names: a missing one fails validation, never a PDF."""
    owners: list[tuple[tuple[Any, ...], Any]] = [(("agency",), config.agency)]
    owners += [(("clients", i), client) for i, client in enumerate(config.clients)]
    for base, owner in owners:
        yield (*base, "logo"), owner.logo
        yield (*base, "cover_image"), owner.cover_image
        for j, font in enumerate(owner.fonts or []):
            yield (*base, "fonts", j, "path"), font.path


def ensure_valid(config: Config, plugins: PluginSet, **kwargs: Any) -> None:
    problems = check_config(config, plugins, **kwargs)
    if problems:
        raise ConfigError(problems)


_CLIENT_FIELD = re.compile(r"clients\[(\d+)\]")


def problems_by_client(config: Config, problems: Iterable[Problem]
                       ) -> tuple[list[Problem], dict[str, list[Problem]]]:
    """Split problems into the agency's (no report can be right) and each client's.

    A client's own sources, data, objectives, theme, brand files or delivery targets concern
    its report alone: a run leaves that client out and renders the others.
    """
    general: list[Problem] = []
    clients: dict[str, list[Problem]] = {}
    for problem in problems:
        match = _CLIENT_FIELD.match(problem.field)
        if match and int(match.group(1)) < len(config.clients):
            clients.setdefault(config.clients[int(match.group(1))].id, []).append(problem)
        else:
            general.append(problem)
    return general, clients
