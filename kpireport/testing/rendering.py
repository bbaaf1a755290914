"""A client's report computed and rendered in one call, for tests that read the PDF."""

from __future__ import annotations

import datetime as dt
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kpireport.config.models import Config
    from kpireport.plugins import PluginSet
    from kpireport.report import Report

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
"""When a test's report is made unless it says otherwise: the day make_context's today is."""


@dataclass(frozen=True, kw_only=True)
class Rendered:
    """A report as a test sees it."""

    report: Report
    """The computed report (KPIs, objectives, notes…)."""
    figures: dict[str, float | None] = field(default_factory=dict)
    """Each KPI's value for the period, by its key in the client's report (those the
    objectives need included)."""
    pdf_text: str = ""
    """The PDF's text, pages joined, runs of white space made one space (read with pypdf)."""
    pdf: bytes = b""
    pages: int = 0
    html: str = ""


def render_report(config: Config | str | os.PathLike[str], client_id: str,
                  period: str = "2026-10", *, now: dt.datetime | None = None,
                  plugins: PluginSet | None = None) -> Rendered:
    """Compute and render ``client_id``'s report for ``period`` as ``kpireport run`` would
    (plugins hear of it), without delivering it.

    ``config`` is a loaded config or the path of a YAML file. ``now`` defaults to
    2026-11-25 09:00 UTC, so the output does not depend on the day the test runs. ``plugins``
    defaults to the built-ins only (see the ``kpireport_plugins`` fixture to add yours). The
    sources' state folder is a temporary one, removed after. This renders with WeasyPrint:
    mark the test ``pdf`` in a suite that separates slow tests.
    """
    from pypdf import PdfReader

    from kpireport.config import load_config
    from kpireport.pipeline.deliver import render
    from kpireport.pipeline.report import compute_report
    from kpireport.testing.plugins import plugin_set

    loaded = config if not isinstance(config, str | os.PathLike) else load_config(Path(config))
    plugins = plugins if plugins is not None else plugin_set()
    now = now or NOW
    client = loaded.client(client_id)
    with tempfile.TemporaryDirectory(prefix="kpireport-test-state-") as state:
        report = compute_report(loaded, client, plugins, period_spec=period, now=now,
                                state_root=Path(state))
    artifacts = render(loaded, report, plugins)
    reader = PdfReader(io.BytesIO(artifacts.pdf))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    return Rendered(report=report, figures={k: v.value for k, v in report.every_kpi().items()},
                    pdf_text=text, pdf=artifacts.pdf, pages=artifacts.pages,
                    html=artifacts.html)
