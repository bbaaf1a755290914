"""Search Analytics requests and replies: the contract's queries in Search Console's words.

Search Console compares filters without regard to case (its documentation: "values and
dimension names are not case-sensitive"), as the contract's filters do by default; a regular
expression gets RE2's ``(?i)`` so that it does too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from kpireport import Filter, Operator, SourceError

DIMENSIONS = ("query", "page", "country", "device")
"""The standard dimensions Search Console offers, under the same names."""
UNKNOWN_REGION = "zzz"
"""Google's code for searches it cannot place ("Unknown Region" in the Countries table)."""


@lru_cache(maxsize=1)
def countries() -> dict[str, str]:
    """Search Console's country codes (ISO 3166-1 alpha-3, lower case) and the English names
    its Countries table shows, from the CLDR data Babel ships."""
    from babel import Locale
    from babel.core import get_global

    names = Locale("en").territories
    out = {code.lower(): names[targets[0]]
           for code, targets in get_global("territory_aliases").items()
           if len(code) == 3 and code.isalpha() and len(targets) == 1 and targets[0] in names}
    out[UNKNOWN_REGION] = "Unknown Region"
    return out


def query_url(base_url: str, site: str) -> str:
    """``searchAnalytics.query`` for ``site``, URL-encoded as Google wants it
    (``https%3A%2F%2Fwww.example.com%2F``, ``sc-domain%3Aexample.com``)."""
    return f"{base_url}/webmasters/v3/sites/{quote(site, safe='')}/searchAnalytics/query"


def api_filter(f: Filter) -> dict[str, str]:
    """One ``dimensionFilterGroups`` filter for a contract :class:`Filter`."""
    if f.case_sensitive:
        raise SourceError(f"filter {f}: Search Console compares without regard to case; "
                          "remove case_sensitive from this filter")
    value = f.values[0]
    if f.dimension == "country":
        # Google compares its codes (usa); the report shows names (United States): the codes
        # whose name or code the filter keeps, as one anchored alternation.
        plain = replace(f, negate=False)
        codes = sorted(c for c, name in countries().items()
                       if plain.matches(name) or plain.matches(c))
        operator = "excludingRegex" if f.negate else "includingRegex"
        # No country matches: a pattern no code matches (Google's codes are never empty).
        expression = f"(?i)^(?:{'|'.join(codes)})$" if codes else "^$"
        return {"dimension": "country", "operator": operator, "expression": expression}
    if f.operator is Operator.EQUALS:
        operator, expression = ("notEquals" if f.negate else "equals"), value
    elif f.operator is Operator.CONTAINS:
        operator, expression = ("notContains" if f.negate else "contains"), value
    elif f.operator is Operator.IN:
        # One value among several: an anchored alternation (RE2 accepts Python's escapes).
        alternatives = "|".join(re.escape(v) for v in f.values)
        operator = "excludingRegex" if f.negate else "includingRegex"
        expression = f"(?i)^(?:{alternatives})$"
    else:  # regex, found anywhere in the value, as Filter.matches does
        operator = "excludingRegex" if f.negate else "includingRegex"
        expression = value if value.startswith("(?i)") else f"(?i){value}"
    return {"dimension": f.dimension, "operator": operator, "expression": expression}


def request_body(*, start: dt.date, end: dt.date, dimensions: Sequence[str],
                 filters: Iterable[Filter], search_type: str, data_state: str,
                 ) -> dict[str, Any]:
    """A request without its paging (``rowLimit``/``startRow``): what the cache is keyed by."""
    body: dict[str, Any] = {"startDate": start.isoformat(), "endDate": end.isoformat(),
                            "dimensions": list(dimensions), "type": search_type,
                            "dataState": data_state}
    api_filters = [api_filter(f) for f in filters]
    if api_filters:
        body["dimensionFilterGroups"] = [{"groupType": "and", "filters": api_filters}]
    return body


def first_incomplete_date(reply: Mapping[str, Any]) -> dt.date | None:
    """``metadata.first_incomplete_date``: the discovery document spells it
    ``firstIncompleteDate``, the client libraries ``first_incomplete_date``; both are read."""
    metadata = reply.get("metadata")
    if not isinstance(metadata, Mapping):
        return None
    value = metadata.get("firstIncompleteDate") or metadata.get("first_incomplete_date")
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise SourceError(f"Search Console gave an unreadable first incomplete date "
                          f"{value!r}") from None


def key_value(dimension: str, key: Any) -> Any:
    """A row key as the report shows it: devices and countries as the Performance report
    writes them (Desktop, Mobile, Tablet; United States, Germany), days as dates; queries and
    pages as Google gives them."""
    text = "" if key is None else str(key)
    if dimension == "date":
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise SourceError(f"Search Console gave an unreadable date {text!r}") from None
    if dimension == "device":
        return text.capitalize()
    if dimension == "country":
        return countries().get(text.lower(), text.upper())
    return text


def parse_rows(reply: Mapping[str, Any], dimensions: Sequence[str]) -> list[dict[str, Any]]:
    """The reply's rows as dicts: one key per dimension, then the four metrics as floats."""
    out = []
    for row in reply.get("rows") or []:
        keys = row.get("keys") or []
        if len(keys) != len(dimensions):
            raise SourceError(f"Search Console answered {len(keys)} keys for the "
                              f"{len(dimensions)} dimensions asked ({', '.join(dimensions)})")
        parsed: dict[str, Any] = {d: key_value(d, k) for d, k in zip(dimensions, keys,
                                                                        strict=True)}
        for metric in ("clicks", "impressions", "ctr", "position"):
            value = row.get(metric)
            parsed[metric] = None if value is None else float(value)
        out.append(parsed)
    return out
