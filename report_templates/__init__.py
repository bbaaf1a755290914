"""The built-in report themes, registered through the ``kpireport`` entry-point group like
any third-party theme."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kpireport import hookimpl
from kpireport.themes import Theme

HERE = Path(__file__).resolve().parent


@hookimpl
def register_themes(register: Callable[[Theme], None]) -> None:
    register(Theme(name="default", path=HERE / "default",
                   description="Clean A4 report: cover page, contents, summary, objectives, "
                               "KPI sections"))
    register(Theme(name="compact", path=HERE / "compact",
                   description="The same report, denser: cover band, sections flowing on, "
                               "KPIs two a row"))
