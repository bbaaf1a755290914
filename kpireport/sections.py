"""How the report's sections are titled when their content brings its own title."""

from __future__ import annotations

import re

from markupsafe import Markup

_LEADING_HEADING = re.compile(r"\A\s*<h([1-3])>(.*?)</h\1>\s*", re.DOTALL)


def leading_heading(html: Markup | None) -> tuple[Markup | None, Markup | None]:
    """The analyst's commentary split into its opening heading (``## From your account
    manager``), which then titles the section instead of a second, generic "Commentary", and
    the rest. Without an opening heading: no title, and the commentary as it is."""
    if not html:
        return None, html
    match = _LEADING_HEADING.match(str(html))
    if match is None:
        return None, html
    # Both halves come from markup the Markdown renderer escaped: still markup.
    return Markup(match.group(2).strip()), Markup(str(html)[match.end():])
