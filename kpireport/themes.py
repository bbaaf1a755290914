"""Report themes: a named folder of templates, styles and message catalogues."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class Theme:
    name: str
    path: Path
    description: str = ""

    def __post_init__(self) -> None:
        if not (Path(self.path) / "report.html.j2").is_file():
            raise ValueError(f"theme {self.name!r}: {self.path} has no report.html.j2")
