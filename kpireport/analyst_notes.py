"""The analyst's notes inside the commentary file: a note per KPI or section, and the
month's work done and planned.

The commentary stays one Markdown file per client and period. A heading of a few fixed forms
(any level, in English or French) takes what follows it, up to the next heading of the same
or a higher level, out of the general commentary:

``Note: KEY``
    a note printed under that KPI's chart (``KEY`` a KPI's key, a table's included) or at
    the top of that section (a KPI family's id such as ``web``, or ``objectives``, ``okrs``,
    ``recommendations``); ``Note : KEY`` with French spacing too.
``Done this month`` / ``Fait ce mois-ci``, ``Planned next month`` / ``Prévu le mois prochain``
    the lists of the "actions" block.

A file without such headings is the commentary it always was. The notes are Markdown with the
commentary's rules (no raw HTML, safe links, images of the template folders only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kpireport.config.models import Config
    from kpireport.errors import Problem
    from kpireport.plugins import PluginSet

SECTION_KEYS = ("objectives", "okrs", "recommendations")
"""Sections, besides the KPI families, that a note may open."""

_NOTE = re.compile(r"^note\s*:\s*`?([^`\s]+)`?\s*$", re.IGNORECASE)
_DONE = {"done this month", "fait ce mois-ci", "fait ce mois ci"}
_PLANNED = {"planned next month", "prévu le mois prochain", "prevu le mois prochain"}


@dataclass(frozen=True)
class Note:
    key: str
    """As written (matched against keys without regard to case)."""
    heading: str
    line: int
    """The heading's line in the file, from 1."""
    text: str


@dataclass(frozen=True)
class AnalystNotes:
    commentary: str | None
    """The general commentary: the file less its notes and lists (None when nothing is left)."""
    notes: list[Note] = field(default_factory=list)
    done: str | None = None
    planned: str | None = None

    def unknown(self, keys: set[str]) -> list[Note]:
        """The notes whose key is none of ``keys``."""
        known = {k.lower() for k in keys}
        return [n for n in self.notes if n.key.lower() not in known]

    def for_key(self, key: str) -> str | None:
        """The notes about ``key``, one after the other."""
        texts = [n.text for n in self.notes if n.key.lower() == key.lower()]
        return "\n\n".join(texts) if texts else None


def _kind(title: str, lists: bool = True) -> tuple[str, str] | None:
    """What a heading opens: ("note", key), ("done", "") or ("planned", ""), or None (the
    lists' headings too without ``lists``)."""
    title = " ".join(title.replace("\u00a0", " ").replace("\u202f", " ").split())
    if match := _NOTE.match(title):
        return "note", match.group(1)
    plain = title.rstrip(" :").lower()
    if not lists:
        return None
    if plain in _DONE:
        return "done", ""
    if plain in _PLANNED:
        return "planned", ""
    return None


def parse(text: str | None, *, lists: bool = True) -> AnalystNotes:
    """Split the commentary file into its general text, its notes and its two lists. Without
    ``lists`` (a report whose sections leave "actions" out), the lists stay in the text."""
    if not text:
        return AnalystNotes(commentary=None)
    from kpireport.commentary import commentary_markdown

    # Lines as the Markdown parser counts them (str.splitlines would also split at U+2028).
    source = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = source.split("\n")
    tokens = commentary_markdown().parse(source)
    # Top-level headings only (not one quoted or in a list): first line, the line after it
    # (a setext heading's underline is the heading's), level, title.
    headings: list[tuple[int, int, int, str]] = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.level == 0 and token.map:
            headings.append((token.map[0], token.map[1], int(token.tag[1]),
                             tokens[i + 1].content))
    if not any(_kind(title, lists) for _, _, _, title in headings):
        return AnalystNotes(commentary=text)
    taken = [False] * len(lines)
    notes: list[Note] = []
    work: dict[str, list[str]] = {"done": [], "planned": []}
    for n, (start, body_start, level, title) in enumerate(headings):
        kind = _kind(title, lists)
        if kind is None:
            continue
        end = next((s for s, _, lv, _ in headings[n + 1:] if lv <= level), len(lines))
        for i in range(start, end):
            taken[i] = True
        body = "\n".join(lines[body_start:end]).strip()
        if kind[0] == "note":
            if body:
                notes.append(Note(key=kind[1], heading=title.strip(), line=start + 1,
                                  text=body))
        elif body:
            work[kind[0]].append(body)
    rest = "\n".join(line for line, gone in zip(lines, taken, strict=True) if not gone).strip()
    return AnalystNotes(commentary=rest or None, notes=notes,
                        done="\n\n".join(work["done"]) or None,
                        planned="\n\n".join(work["planned"]) or None)


def commentary_problems(config: Config, plugins: PluginSet) -> list[Problem]:
    """``kpireport validate``: every commentary file of every client (all periods) whose
    notes name no KPI or section of that client, with the keys that exist."""
    import glob

    from kpireport.errors import Problem

    problems: list[Problem] = []
    for client in config.clients:
        refs = [ref for ref in client.kpis if ref.kpi in plugins.kpis]
        families = [str(plugins.kpi(ref.kpi).family) for ref in refs]
        keys = list(dict.fromkeys((*(ref.key for ref in refs), *families, *SECTION_KEYS)))
        # Any period: the file's name pattern with its period as a wildcard (the rest
        # escaped, so a bracket in a folder's name is not a pattern).
        marker = "\x00period\x00"
        pattern = str(config.resolve_path(config.defaults.commentary.format(
            client=client.id, period=marker)))
        wildcard = glob.escape(pattern).replace(glob.escape(marker), "*")
        for name in sorted(glob.glob(wildcard)):
            try:
                text = Path(name).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(Problem(name, None, "", f"cannot be read: {exc}"))
                continue
            for note in parse(text).unknown(set(keys)):
                problems.append(Problem(
                    name, note.line, note.heading,
                    f"{note.key!r} is no KPI or section of client {client.id!r} (expected "
                    f"one of {', '.join(keys)}): the note would be left out of its report"))
    return problems
