"""The report's language's typography on free text: what the config, the plugins and the
analyst write is printed as the engine's own French strings are.

French (Imprimerie nationale's rules, with the narrow no-break space U+202F that the
engine's catalogue and Babel's number groups use): a narrow no-break space before ``; ! ? :``
and ``%``, inside « guillemets » (for straight double quotes), and in a number's groups
(``45 000``, as written: no digit is moved or added); a no-break space before ``€``; the
apostrophe ``’`` between two letters (``l’an``). Web and mail addresses are left as they
are, and so is the data a sentence quotes (``verbatim``: a search query ``peau "glow"``, a
page, a campaign's name is printed as its users wrote it). Other languages' text is
returned unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

NNBSP, NBSP = "\u202f", "\xa0"

_ADDRESS = re.compile(r"(?:[a-z][a-z0-9+.-]*://|www\.|mailto:)\S+|\S+@\S+\.\S+", re.I)
"""What typography never touches: ``https://…?a=b``, ``www.…``, an e-mail address."""

_SPACES = f"[ {NBSP}{NNBSP}]"
_BEFORE_HIGH = re.compile(f"(?<![;!?]){_SPACES}*([;!?])(?=[\\s\"»)\\];!?]|$)"
                          f"|{_SPACES}+(:)(?=\\s|$)")
"""``; ! ?`` ending a word (``Vraiment?``, not ``/page?a=b``), and a spaced ``:`` (``10:30``
keeps its colon tight)."""
_PERCENT = re.compile(f"(\\d){_SPACES}?%")
_EURO = re.compile(f"(\\d){_SPACES}?([kM]?€)")
_GROUPS = re.compile(f"(?<![\\d.,])(\\d{{1,3}})((?:{_SPACES}\\d{{3}})+)(?![\\d])")
_QUOTE = '"'


def french(text: str, *, quote_open: bool = False, verbatim: Iterable[str] = ()) -> str:
    """``text`` with French typography (see the module). ``quote_open``: a straight quote
    opened in the text before this piece (Markdown splits a paragraph at its emphasis).
    ``verbatim``: data strings the text quotes, each left as it is wherever it occurs."""
    return french_piece(text, quote_open, verbatim=verbatim)[0]


def french_piece(text: str, quote_open: bool = False, *,
                 verbatim: Iterable[str] = ()) -> tuple[str, bool]:
    """:func:`french` of one piece of a longer text, and whether a quote is left open."""
    out: list[str] = []
    last = 0
    for address in _untouched(verbatim).finditer(text):
        piece, quote_open = _prose(text[last:address.start()], quote_open)
        out += [piece, address.group()]
        last = address.end()
    piece, quote_open = _prose(text[last:], quote_open)
    out.append(piece)
    return "".join(out), quote_open


def _prose(text: str, quote_open: bool) -> tuple[str, bool]:
    if not text:
        return text, quote_open
    text = _BEFORE_HIGH.sub(lambda m: f"{NNBSP}{m.group(1) or m.group(2)}", text)
    text = _PERCENT.sub(f"\\1{NNBSP}%", text)
    text = _EURO.sub(f"\\1{NBSP}\\2", text)
    text = _GROUPS.sub(lambda m: m.group(1) + re.sub(_SPACES, NNBSP, m.group(2)), text)
    text = apostrophes(text)
    if _QUOTE in text:
        parts = text.split(_QUOTE)
        out = [parts[0]]
        for part in parts[1:]:
            if quote_open:
                out[-1] = out[-1].rstrip(f" {NBSP}{NNBSP}")
                out.append(f"{NNBSP}»{part}")
            else:
                out.append(f"«{NNBSP}{part.lstrip(f' {NBSP}{NNBSP}')}")
            quote_open = not quote_open
        text = "".join(out)
    return text, quote_open


_APOSTROPHE = re.compile(r"(?<=[^\W\d_])'(?=[^\W\d_])")
"""A straight apostrophe between two letters (``l'an``, ``aujourd'hui``): not a quote
opening or closing a word, nor one beside a digit or a sign."""


def apostrophes(text: str) -> str:
    """French prose's apostrophe, the typographic ``’`` (U+2019), for the straight one
    between two letters: « l’an dernier », « Chiffre d’affaires ». Only for free text that
    :func:`french` sets: a search query or an address keeps the apostrophe it was given."""
    return _APOSTROPHE.sub("\u2019", text) if "'" in text else text


def apostrophes_for(text: str, language: str) -> str:
    """``text`` with :func:`apostrophes` in French, unchanged otherwise: for a plugin's or
    the config's label, printed without the rest of French typography."""
    return apostrophes(text) if language.split("_")[0].lower() == "fr" else text


def _untouched(verbatim: Iterable[str]) -> re.Pattern[str]:
    """What typography skips: addresses, and the ``verbatim`` strings (the longest first, so
    that a query containing another is kept whole)."""
    quoted = sorted({v for v in verbatim if v}, key=len, reverse=True)
    if not quoted:
        return _ADDRESS
    return re.compile("|".join(map(re.escape, quoted)) + f"|{_ADDRESS.pattern}", re.I)


_BEFORE_YEAR = re.compile(r"(?<=\S) (?=(?:19|20)\d\d\b)")
"""The plain space between a word and the year after it (``T2 2025``, ``octobre 2025``)."""


def hold_years(text: str, *, verbatim: Iterable[str] = ()) -> str:
    """``text`` with a no-break space before each year, so that a period's name ("T2 2025",
    "24 Nov 2025") never leaves its year at the start of the next line; addresses and the
    ``verbatim`` data strings are left as they are. For the generated sentences of the
    recommendations, which name periods in every language."""
    if " 19" not in text and " 20" not in text:
        return text
    out: list[str] = []
    last = 0
    for kept in _untouched(verbatim).finditer(text):
        out += [_BEFORE_YEAR.sub("\xa0", text[last:kept.start()]), kept.group()]
        last = kept.end()
    out.append(_BEFORE_YEAR.sub("\xa0", text[last:]))
    return "".join(out)


def for_language(text: str, language: str, *, verbatim: Iterable[str] = ()) -> str:
    """``text`` as ``language`` (``fr``, ``fr_FR``, ``en``…) sets it: French typography for
    French, unchanged otherwise. ``verbatim``: data strings it quotes, left as they are."""
    if language.split("_")[0].lower() == "fr":
        return french(text, verbatim=verbatim)
    return text
