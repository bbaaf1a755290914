"""A comparison's period in a sentence, with the preposition its kind of name takes in the
report's language: "par rapport à septembre 2026", "par rapport au T2 2026", "par rapport à
la période du 1er avr. au 13 nov. 2026" (a bare "par rapport à 1er avr. – 30 juin 2026", or
"in 1 Apr – 30 Jun 2026", is not a sentence a native speaker writes)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from kpireport import formatting


class Span(Protocol):
    @property
    def start(self) -> dt.date: ...

    @property
    def end(self) -> dt.date: ...


def compared_with(span: Span, locale: str, gettext: Any) -> str:
    """"vs September 2026" / "par rapport à septembre 2026" for a whole month, "vs Q2 2026" /
    "par rapport au T2 2026" for a whole quarter, the first and last days otherwise."""
    start, end = span.start, span.end
    if formatting.whole_month(start, end):
        return str(gettext("vs %(month)s")) % {
            "month": formatting.unbreakable(formatting.format_month(start, locale))}
    if formatting.whole_quarter(start, end):
        return str(gettext("vs %(quarter)s")) % {
            "quarter": formatting.unbreakable(formatting.format_quarter(start, locale))}
    # The locale's own range of days ("Jan 1 – Nov 24, 2025" in en_US, "1 Jan – 24 Nov
    # 2025" in en_GB, "du 1er janv. au 24 nov. 2025"), never one side in another locale's
    # order; the dash between narrow no-break spaces, as the range alone sets it.
    first, last = formatting.interval_ends(start, end, locale)
    if not last:  # one day, as the range of it was printed before
        first = formatting.unbreakable(formatting.format_skeleton("MMMd", start, locale))
        last = formatting.unbreakable(formatting.format_date(end, locale, "medium"))
    return (str(gettext("vs %(first)s – %(last)s")) % {"first": first, "last": last}
            ).replace(" – ", "\u202f–\u2060\u202f")  # no break after the dash (UAX #14 LB12a)
