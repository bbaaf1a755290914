"""Text from data (a search query typed by anyone, a page title, a campaign name) made safe to
print: in the report, where it could reverse the report's own text or take a render hostage,
and in the archival CSV, where a spreadsheet would run it as a formula."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

CELL_LIMIT = 400
"""The longest a cell of data is printed, in characters (an ellipsis ends a longer one): a
table cell of 13,000 unbroken characters takes WeasyPrint seconds and pages to lay out; a
long page address (a few hundred characters) still prints whole, wrapped."""

# Embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): "\u202e" in a query
# would print the rest of the report's line backwards. Plain marks (U+200E/U+200F) only
# nudge neutral characters and are kept.
_BIDI_CONTROLS = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A)], None)
_LINE_BREAKS = dict.fromkeys(map(ord, "\t\n\r\v\f\x85\u2028\u2029"), " ")


def clean_text(text: str) -> str:
    """``text`` without control characters (NUL, escape…) or bidirectional overrides; tabs and
    line breaks become spaces."""
    text = text.translate(_LINE_BREAKS).translate(_BIDI_CONTROLS)
    if text.isprintable():
        return text
    return "".join(c for c in text if c.isprintable() or unicodedata.category(c) != "Cc")


def cell_text(text: str, limit: int = CELL_LIMIT) -> str:
    """A cell of data as printed: clean, and at most ``limit`` characters."""
    text = clean_text(text)
    if len(text) > limit:
        text = text[:limit - 1].rstrip() + "…"
    return text


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Digits, separators, an exponent, a percent sign: nothing a spreadsheet could call.
_NUMBER = re.compile(r"[+-]?[\d\s.,'\u00a0\u202f]*(?:[eE][+-]?\d+)?\s?%?")


def csv_cell(value: Any) -> Any:
    """A value for a CSV a spreadsheet will open: text that a spreadsheet would take for a
    formula (``=HYPERLINK(…)``, ``+``, ``-``, ``@``, a tab or carriage return first) gets a
    leading apostrophe, as OWASP and the spreadsheets themselves expect; numbers, and text
    that is only a number (``-12.5``, ``+3 %``), stay as they are."""
    if not isinstance(value, str):
        return value
    text = clean_text(value)
    if (value.startswith(_FORMULA_START) or text.lstrip().startswith(_FORMULA_START)) \
            and not _NUMBER.fullmatch(text):
        return "'" + text
    return text
