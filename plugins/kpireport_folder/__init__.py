"""Built-in delivery to a folder: the default target.

The PDF (and the same report as HTML beside it) goes to ``<output>/<path pattern>``, written
atomically so a killed run never leaves half a PDF in place of a good one.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import field_validator

from kpireport import hookimpl
from kpireport.delivery import Artifacts, DeliverySettings, DeliveryTarget, atomic_write

FIELDS = {"client", "client_name", "period", "start", "end", "language"}


class FolderSettings(DeliverySettings):
    path: str = "{client}/{client}-{period}.pdf"
    """File name pattern under the output folder; fields: client, client_name, period, start,
    end, language."""
    html: bool = True
    """Also write the HTML report beside the PDF."""

    @field_validator("path")
    @classmethod
    def _pattern(cls, value: str) -> str:
        names = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
        if unknown := names - FIELDS:
            raise ValueError(f"unknown field(s) {sorted(unknown)} in path; "
                             f"expected some of {sorted(FIELDS)}")
        if not value.endswith(".pdf"):
            raise ValueError("path must end with .pdf")
        if Path(value).is_absolute() or ".." in Path(value).parts:
            raise ValueError("path must stay inside the output folder")
        return value


class FolderTarget(DeliveryTarget):
    name = "folder"
    Settings = FolderSettings
    repeatable = True  # the same file written again, atomically

    def deliver(self, artifacts: Artifacts) -> str:
        target = Path(self.destination(artifacts.names))
        # The PDF first: if it cannot be written, the folder keeps the old PDF and its HTML.
        atomic_write(target, artifacts.pdf)
        if self.settings.html:
            atomic_write(target.with_suffix(".html"), artifacts.html)
        return str(target)

    def destination(self, names: Mapping[str, str]) -> str:
        safe = {k: _safe(v) for k, v in names.items()}
        return str(self.context.output_dir / self.settings.path.format(**safe))


def _safe(value: str) -> str:
    # Names come from config, but keep them from escaping the folder or making odd files.
    return "".join(c if c.isalnum() or c in "-_. " else "-" for c in value).strip(". ") or "_"


@hookimpl
def register_delivery_targets(register: Callable[[type[DeliveryTarget]], None]) -> None:
    register(FolderTarget)
