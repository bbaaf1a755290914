"""Numbers, amounts, percentages, durations and dates in the report's locale, through Babel.

Every figure a report prints goes through here (templates get these as Jinja2 filters), so a
French report writes ``1 234,5 €`` and ``3,4 %`` and an American one ``$1,234.50`` and
``3.4%``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from babel import Locale, dates, numbers

from kpireport.data import RELATIVE_UNITS, Unit

if TYPE_CHECKING:
    from kpireport.data import DateRange
    from kpireport.kpis import KpiValue
    from kpireport.periods import Period

MISSING = "—"

NBSP = "\xa0"
"""Between a number and its unit word ("2.9\xa0places", "12\xa0days"): a line never ends
between them. French keeps CLDR's own spaces in its units ("3\u202fs", "3\xa0min")."""

_PLAIN_SPACE_AFTER_DIGIT = re.compile(r"(?<=\d) (?=\S)")


def unit_bound(template: str, *names: str) -> str:
    """``template`` (a catalogue string) with a no-break space after each of the placeholders
    ``names`` followed by a word: ``"up %(places)s places"`` keeps the figure with its unit
    whatever the language's word order, the sentence breaking anywhere else."""
    for name in names:
        for kind in "sd":
            template = template.replace(f"%({name}){kind} ", f"%({name}){kind}{NBSP}")
    return template


@lru_cache(maxsize=32)
def _locale(name: str) -> Locale:
    return Locale.parse(name)


def _minus(text: str) -> str:
    """The minus sign, not a hyphen: ``−17 %`` as in the report's changes."""
    return text.replace("-", "\u2212", 1)


PRINTABLE = 1e21
"""Beyond it Babel's decimal arithmetic fails (28 digits): such a figure (a ratio over a
near-zero base, a sum of huge cells) is printed in scientific notation instead."""


def _unprintable(value: float) -> str | None:
    if value - value == 0 and abs(value) < PRINTABLE:  # finite and within Babel's reach
        return None
    return _minus(f"{value:.3g}")


def format_number(value: float | None, locale: str, decimals: int = 0) -> str:
    if value is None:
        return MISSING
    if (text := _unprintable(value)) is not None:
        return text
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return _minus(numbers.format_decimal(value, format=pattern, locale=_locale(locale)))


def format_rate(value: float, locale: str) -> str:
    """An exchange rate: as many decimals as it has, up to four (``0,92``, ``1,0834``)."""
    if (text := _unprintable(value)) is not None:
        return text
    return _minus(numbers.format_decimal(value, format="#,##0.####", locale=_locale(locale)))


def format_count(value: float | None, locale: str) -> str:
    """Whole numbers grouped (``12 345``); a fractional count keeps one decimal."""
    if value is None:
        return MISSING
    return format_number(value, locale, 0 if float(value).is_integer() else 1)


def format_currency(value: float | None, locale: str, currency: str) -> str:
    """Amounts above 1 000 (and whole amounts) without cents: ``12 345 €`` reads better."""
    if value is None:
        return MISSING
    if (text := _unprintable(value)) is not None:
        return f"{text} {currency}"
    if abs(value) >= 1000 or float(value).is_integer():
        return _minus(numbers.format_currency(value, currency, locale=_locale(locale),
                                              format=_pattern(locale, "currency", 0),
                                              currency_digits=False))
    return _minus(numbers.format_currency(value, currency, locale=_locale(locale)))


@lru_cache(maxsize=64)
def _pattern(locale: str, kind: str, decimals: int) -> str:
    """The locale's own pattern (spacing, symbol side) with the decimals we want."""
    loc = _locale(locale)
    pattern = (loc.currency_formats["standard"] if kind == "currency"
               else loc.percent_formats[None]).pattern.split(";")[0]
    pattern = pattern.replace(".00", "")
    if decimals:
        i = pattern.rfind("0")
        pattern = pattern[:i + 1] + "." + "0" * decimals + pattern[i + 1:]
    return pattern


def format_percent(value: float | None, locale: str, decimals: int = 1) -> str:
    """A fraction (0.034) as a percentage (3.4 %)."""
    if value is None:
        return MISSING
    if (text := _unprintable(value * 100)) is not None:
        return text + " %"
    text = _minus(numbers.format_percent(value, format=_pattern(locale, "percent", decimals),
                                         locale=_locale(locale)))
    if locale.split("_")[0].lower() == "fr":
        # French sets "%" after a narrow no-break space (CLDR's is a full one), as its
        # number groups and the catalogue's ": ; ! ?".
        text = text.replace("\xa0%", "\u202f%")
    return text


def format_duration(seconds: float | None, locale: str, unit: str = "seconds", *,
                    axis: bool = False) -> str:
    """Seconds as ``2 min 35 s``; with ``unit="days"`` a number of days (``34.5 days``)."""
    if seconds is None:
        return MISSING
    if unit == "days":
        # One decimal always ("86.0 days" beside "95.1 days"), but a chart's axis steps in
        # whole days ("90 days", not "90.0 days").
        return _units(seconds, "duration-day", locale, decimals=None if axis else 1)
    total = round(abs(seconds))
    sign = "\u2212" if seconds < 0 and total else ""
    minutes, secs = divmod(total, 60)
    if minutes == 0:
        return sign + _units(secs, "duration-second", locale, "short")
    if axis and secs == 0:
        # A chart's axis steps in whole minutes: "2 min", not "2 min 0 sec".
        return sign + _units(minutes, "duration-minute", locale, "short")
    # "2 min 10 sec" read as one figure: never parted at a line's end.
    return (f"{sign}{_units(minutes, 'duration-minute', locale, 'short')}{NBSP}"
            f"{_units(secs, 'duration-second', locale, 'short')}")


def _units(value: float, unit: str, locale: str,
           length: Literal["short", "long", "narrow"] = "long",
           decimals: int | None = None) -> str:
    from babel.units import format_unit

    if decimals is None:
        decimals = 0 if float(value).is_integer() else 1
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    # English's short units are CLDR's root English ones ("47 sec", "2 min") in every English
    # locale: en_001's, which en_GB inherits, pluralise the abbreviations ("47 secs"), which
    # British style guides do not. Every English locale groups and points figures alike.
    words = "en" if length == "short" and _language(locale) == "en" else locale
    text = format_unit(round(value, decimals), unit, length=length, format=pattern,
                       locale=_locale(words))
    # CLDR's English units take a plain space ("29 secs"): a line could end before the unit.
    return _minus(_PLAIN_SPACE_AFTER_DIGIT.sub(NBSP, text))


def _language(locale: str) -> str:
    return locale.split("_")[0].lower()


def unbreakable(text: str) -> str:
    """``text`` with its plain spaces made no-break ones: a date ("24\xa0Nov\xa02025"), a
    month and its year, a short range or a "period: value" pair is never parted at a line's
    end (the spaces CLDR already sets, narrow or no-break, are kept)."""
    return text.replace(" ", NBSP)


def needed(value: float, unit: Unit | str, duration_unit: str = "seconds") -> float:
    """An amount still needed, rounded up to the precision it is printed at: "250 a month"
    for 250.5, or "lose 1.3 days" for 1.35, would each end short of the target."""
    unit = Unit(unit)
    if unit is Unit.COUNT or (unit is Unit.CURRENCY and value >= 1000):
        decimals = 0
    elif unit is Unit.DURATION:
        decimals = 1 if duration_unit == "days" else 0
    elif unit is Unit.PERCENT:
        decimals = 4 if value < 0.1 else 3  # a fraction printed as 2.34 % or 12.3 %
    elif unit is Unit.POSITION:
        decimals = 1
    elif unit is Unit.NUMBER and value >= 10:
        decimals = 0
    else:
        decimals = 2
    return ceil_to(value, decimals)


def ceil_to(value: float, decimals: int) -> float:
    """``value`` rounded up at ``decimals`` (a hair of float error is not a step up)."""
    scale = 10 ** decimals
    return math.ceil(round(value * scale, 6)) / scale


def points_needed(change: float) -> float:
    """A rate's monthly change in percentage points, rounded up at the two decimals printed
    ("0.09 %" would read as a relative change; two months of 0.09 would fall short of 0.0916)."""
    return ceil_to(abs(change) * 100, 2)


def plural_count(value: float, language: str) -> int:
    """A whole number for ``ngettext`` that picks ``value``'s plural form as CLDR does:
    gettext's rules take whole numbers, CLDR's know decimals ("0,10 point", "0.10 points")."""
    return 1 if _locale(language).plural_form(value) == "one" else 2


LANGUAGE_LOCALES = {"en": "en_GB", "fr": "fr_FR"}
"""The locale a text in a language other than the report's formats its figures and dates in
(English's is the config's default locale's); a language missing here uses its own bare
locale (``de``)."""


def language_locale(language: str, locale: str) -> str:
    """The locale a text in ``language`` prints its figures and dates in, in a report in
    ``locale``: the report's own when it is of that language (``en_US`` for an American
    report's English), else the language's default (its French in ``fr_FR``, never
    American dates in a French sentence)."""
    language = language.split("_")[0].lower()
    if locale.split("_")[0].lower() == language:
        return locale
    return LANGUAGE_LOCALES.get(language, language)


def format_value(value: float | None, unit: Unit | str, locale: str, currency: str = "EUR",
                 duration_unit: str = "seconds") -> str:
    """A KPI's value formatted for its unit."""
    if value is None:
        return MISSING
    if (text := _unprintable(value)) is not None:
        return text
    unit = Unit(unit)
    if unit is Unit.CURRENCY:
        return format_currency(value, locale, currency)
    if unit is Unit.PERCENT:
        return format_percent(value, locale, 2 if abs(value) < 0.1 else 1)
    if unit is Unit.DURATION:
        return format_duration(value, locale, duration_unit)
    if unit is Unit.POSITION:
        return format_number(value, locale, 1)
    if unit is Unit.RATIO:
        return format_number(value, locale, 2) + "×"
    if unit is Unit.NUMBER:
        return format_number(value, locale, 2 if abs(value) < 10 else 0)
    return format_count(value, locale)


def format_change(change: float | None, locale: str) -> str:
    """A relative change with its sign: ``+12.3 %`` / ``−4.0 %``."""
    if change is None or change != change:  # NaN: no change to speak of
        return MISSING
    text = format_percent(abs(change), locale, 1)
    if _unprintable(change * 100) is not None:
        return ("+" if change > 0 else "−") + text
    if round(abs(change) * 1000) == 0:
        return "±" + text  # a change that rounds to 0.0 % has no direction to show
    return ("+" if change > 0 else "−") + text


PLACES_DECIMALS = 1
"""A change of position is printed in tenths of a place, as the position itself is."""


def format_places(difference: float | None, locale: str, words: Any) -> str:
    """A change of average position in places, not a percentage: the position number falling
    from 8.4 to 6.1 is "up 2.3 places" (a better rank). ``words`` gives ``ngettext`` and
    ``gettext`` (the report's catalogue)."""
    if difference is None:
        return MISSING
    places = round(abs(difference), PLACES_DECIMALS)
    if places == 0:
        return str(words.gettext("same position"))
    # The plural of the number as printed: "1.0 places" in English, "1,0 place" in French.
    count = 1 if _locale(locale).plural_form(Decimal(f"{places:.{PLACES_DECIMALS}f}")) == \
        "one" else 2
    number = format_number(places, locale, PLACES_DECIMALS)
    if difference < 0:
        text = words.ngettext("up %(places)s place", "up %(places)s places", count)
    else:
        text = words.ngettext("down %(places)s place", "down %(places)s places", count)
    return unit_bound(str(text), "places") % {"places": number}


def changes_relatively(unit: Unit | str) -> bool:
    """Whether a change of a figure in ``unit`` is told as a percentage (+12 %)."""
    return Unit(unit) in RELATIVE_UNITS


def _signed(difference: float, text: str, zero: bool) -> str:
    return ("±" if zero else "+" if difference > 0 else "\u2212") + text


def format_points(difference: float | None, locale: str, words: Any) -> str:
    """A rate's change in percentage points, from fractions (0.021 − 0.018 is "+0.30 pts"):
    two decimals under a point, one above, as the rates themselves are printed."""
    if difference is None or difference != difference:
        return MISSING
    points = abs(difference) * 100
    decimals = 2 if points < 1 else 1
    shown = round(points, decimals)
    number = format_number(shown, locale, decimals)
    count = 1 if _locale(locale).plural_form(Decimal(f"{shown:.{decimals}f}")) == "one" else 2
    text = unit_bound(str(words.ngettext("%(points)s pt", "%(points)s pts", count)),
                      "points") % {"points": number}
    return _signed(difference, text, shown == 0)


def format_difference(difference: float | None, unit: Unit | str, locale: str, words: Any,
                      currency: str = "EUR", duration_unit: str = "seconds") -> str:
    """A change told in the unit that fits the figure (see :data:`RELATIVE_UNITS`), from the
    difference of its values: points for a rate, places for a position, seconds or minutes
    for a duration (``+12 s``, ``−1 min 5 s``, ``+2.5 days``), the figure's own unit for a
    ratio or a number. ``words`` gives ``gettext`` and ``ngettext`` (the report's catalogue).
    Counts and amounts are told by :func:`format_change` instead."""
    if difference is None or difference != difference:
        return MISSING
    unit = Unit(unit)
    if unit is Unit.PERCENT:
        return format_points(difference, locale, words)
    if unit is Unit.POSITION:
        return format_places(difference, locale, words)
    if (text := _unprintable(difference)) is not None:
        return text if difference < 0 else "+" + text
    if unit is Unit.DURATION:
        if duration_unit == "days":
            shown = round(abs(difference), 1)
            return _signed(difference, format_duration(shown, locale, "days"), shown == 0)
        seconds = round(abs(difference))
        return _signed(difference, format_duration(seconds, locale), seconds == 0)
    text = format_value(abs(difference), unit, locale, currency, duration_unit)
    zero = not any(ch in "123456789" for ch in text)
    return _signed(difference, text, zero)


def as_printed(value: float, unit: Unit | str, duration_unit: str = "seconds", *,
               decimals: int | None = None) -> float:
    """``value`` rounded as :func:`format_value` prints it (a rate to the hundredth of a
    point under 10 %, a position to the tenth, a duration to the second or tenth of a day),
    so that a difference taken from it agrees with the two figures printed. Counts and
    amounts are returned as they are: their changes are relative, on the raw values.
    ``decimals`` (of the value itself, a rate's fraction) where the caller prints it at
    another precision than :func:`format_value` (a table's column of rates, all at one)."""
    unit = Unit(unit)
    if unit in RELATIVE_UNITS:
        return value
    if decimals is None:
        decimals = _printed_decimals(value, unit, duration_unit)
    if _unprintable(value) is not None:
        return value
    # Babel rounds the decimal text of the float half to even: the same here, so that the
    # two agree even on a value ending in 5.
    return float(Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals),
                                              rounding=ROUND_HALF_EVEN))


def _printed_decimals(value: float, unit: Unit, duration_unit: str) -> int:
    """The decimals of ``value`` (not a count's nor an amount's) :func:`format_value` prints."""
    if unit is Unit.PERCENT:
        return 4 if abs(value) < 0.1 else 3
    if unit is Unit.POSITION:
        return PLACES_DECIMALS
    if unit is Unit.DURATION:
        return 1 if duration_unit == "days" else 0
    if unit is Unit.NUMBER:
        return 2 if abs(value) < 10 else 0
    return 2  # a ratio


def printed_difference(current: float | None, reference: float | None, unit: Unit | str,
                       duration_unit: str = "seconds") -> float | None:
    """``current − reference`` as the reader works it out from the two printed figures:
    1.88 % against 1.85 % is 0.03 points, whatever the hidden decimals say."""
    if current is None or reference is None:
        return None
    return as_printed(current, unit, duration_unit) - as_printed(reference, unit, duration_unit)


def _compared_with(kpi: KpiValue, difference: float) -> float:
    """The figure a difference of ``kpi`` was taken from: its previous or last year's value
    itself when it is one of them (no float error to round the wrong way), else worked back."""
    value = kpi.value or 0.0
    for reference in (kpi.previous, kpi.last_year):
        if reference is not None and value - reference == difference:
            return reference
    return value - difference


def kpi_change(kpi: KpiValue, change: float | None, difference: float | None, locale: str,
               words: Any, currency: str = "EUR") -> tuple[str, bool | None]:
    """A KPI's change as the report prints it, in the unit that fits it (a percentage for a
    count or an amount, points for a rate…), and whether it is good news (None when there is
    none, or when it prints as no change at all). A difference (``kpi.value`` minus the
    figure compared with) is told as between the two figures printed (see
    :func:`printed_difference`)."""
    if kpi.relative:
        text = format_change(change, locale)
        moved = change
    else:
        if difference is not None and kpi.value is not None:
            difference = printed_difference(kpi.value, _compared_with(kpi, difference),
                                            kpi.definition.unit, kpi.definition.duration_unit)
        text = format_difference(difference, kpi.definition.unit, locale, words,
                                 kpi.currency or currency, kpi.definition.duration_unit)
        moved = difference
    if moved is None or text == MISSING or text.startswith("±") or (
            kpi.in_places and round(abs(moved), PLACES_DECIMALS) == 0):
        return text, None
    return text, kpi.is_better(moved)


def format_date(day: dt.date | None, locale: str, form: str = "long") -> str:
    if day is None:
        return MISSING
    text = dates.format_date(day, format=form, locale=_locale(locale))
    if day.day == 1 and locale.split("_")[0] == "fr":
        # Le 1er janvier: French writes the first day as an ordinal ("jeudi 1er janvier").
        text = re.sub(r"(?<![\d/.])1(?= )", "1er", text, count=1)
    return text


def format_skeleton(skeleton: str, day: dt.date, locale: str) -> str:
    """A day by a CLDR skeleton (``MMMMd``: ``24 November`` / ``24 novembre``; ``MMMd``:
    ``24 Nov``), French writing the first day as an ordinal as :func:`format_date` does."""
    text = dates.format_skeleton(skeleton, day, locale=_locale(locale))
    if day.day == 1 and locale.split("_")[0] == "fr":
        text = re.sub(r"(?<![\d/.])1(?= )", "1er", text, count=1)
    return text


def format_month(day: dt.date, locale: str, form: str = "long") -> str:
    """``October 2026`` / ``octobre 2026``; ``form="short"`` gives ``Oct`` / ``oct.``."""
    if form == "short":
        return dates.format_date(day, format="MMM", locale=_locale(locale))
    return dates.format_skeleton("yMMMM", day, locale=_locale(locale))


def _month_end(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def whole_month(start: dt.date, end: dt.date) -> bool:
    """Whether the days from ``start`` to ``end`` are one calendar month."""
    return start.day == 1 and end == _month_end(start)


def whole_quarter(start: dt.date, end: dt.date) -> bool:
    """Whether the days from ``start`` to ``end`` are one calendar quarter."""
    return (start.day == 1 and start.month % 3 == 1 and end == _month_end(end)
            and (end.year, end.month) == (start.year, start.month + 2))


def format_period(period: Period | DateRange, locale: str) -> str:
    """A period (or a range of days) in words: a month's name, a calendar quarter's
    (``Q2 2026``, ``T2 2026``), or its first and last day."""
    start, end = period.start, period.end
    if whole_month(start, end):
        return format_month(start, locale)
    if whole_quarter(start, end):
        return format_quarter(start, locale)
    return _interval(start, end, locale)


def format_quarter(day: dt.date, locale: str) -> str:
    """The calendar quarter of ``day`` as clients name it: ``Q2 2026``, ``T2 2026``."""
    return dates.format_skeleton("yQQQ", day, locale=_locale(locale))


def _interval(first: dt.date, last: dt.date, locale: str) -> str:
    """Babel's range of days ("1 Apr – 30 Jun 2026"), its thin spaces around the dash made
    narrow no-break ones (U+202F, as wide): WeasyPrint's line breaking, given a break
    opportunity at a thin space in a list item's first line, put the item's bullet alone
    on a line of its own. French writes a first day as an ordinal (``1er janv. – 13 nov.
    2026``), as :func:`format_date` does."""
    text = dates.format_interval(first, last, skeleton="yMMMd", locale=_locale(locale))
    text = text.replace("\u2009", "\u202f")
    # texts3: and a word joiner after the dash: a line may break after a dash even before a
    # no-break space (UAX #14, LB12a), which parted "1 Jan –⏎24 Nov 2025".
    text = text.replace("–\u202f", "–\u2060\u202f")
    if first.day == 1 and locale.split("_")[0] == "fr":
        text = re.sub(r"^1(?=\D)", "1er", text)
    return text


def interval_ends(first: dt.date, last: dt.date, locale: str) -> tuple[str, str]:
    """The two sides of the locale's own range of days (:func:`_interval`), each unbreakable:
    ``("Jan\xa01", "Nov\xa024, 2025")`` in en_US, ``("1\xa0Jan", "24\xa0Nov\xa02025")`` in
    en_GB, ``("1er", "24\xa0nov.\xa02025")`` in French (a month said once when both days
    share it), for a sentence that joins them in its own words ("du … au …")."""
    text = _interval(first, last, locale)
    start, _, end = text.partition("–")
    if not end:  # one day: no range to part
        return unbreakable(text), ""
    return (unbreakable(start.strip(" \u202f\u2009\u2060")),
            unbreakable(end.strip(" \u202f\u2009\u2060")))


def format_days(first: dt.date, last: dt.date, locale: str) -> str:
    """The span from one day to another, saying their month and year once when they share
    them: ``24–30 Nov 2026``, ``24 Oct – 30 Nov 2026``, ``1er–30 nov. 2026``."""
    if first == last:
        return format_date(first, locale)
    return _interval(first, last, locale)


_UNIVERSAL = {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "GMT", "Etc/GMT", "Zulu", "Etc/Zulu"}


def timezone_name(zone: str, locale: str) -> str:
    """A time zone as the report's language names it, from CLDR (``Pacific Time``, ``heure du
    Pacifique nord-américain``), not its IANA id (``America/Los_Angeles``); ``UTC`` for
    universal time, the id itself for one CLDR does not know."""
    if zone in _UNIVERSAL:
        return "UTC"
    try:
        tz = dates.get_timezone(zone)
        name = dates.get_timezone_name(tz, "long", locale=_locale(locale))
    except (LookupError, ValueError):
        return zone
    if name.startswith("heure : "):
        # CLDR's French for a zone named by its country ("heure : Inde") reads as a label.
        name = f"heure ({name[len('heure : '):]})"
    return name


def punctuation(mark: str, locale: str) -> str:
    """``mark`` (":" or ";") with the spaces ``locale`` sets around it, for text built outside
    the catalogue (a chart point's "octobre 2026 : 1 234"): French puts a narrow no-break space
    before the high marks, as the catalogue's French strings do; other languages none."""
    before = "\u202f" if locale.split("_")[0].lower() == "fr" and mark in ":;!?" else ""
    return f"{before}{mark} "
