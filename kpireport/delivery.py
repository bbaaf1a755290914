"""What a delivery plugin registers, what it receives, and atomic file writing."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from kpireport.periods import Period


class DeliverySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, kw_only=True)
class Artifacts:
    """A rendered report: the PDF and HTML bytes, and what names it.

    ``names`` holds the values a delivery may use in file names and messages:
    ``client`` (id), ``client_name``, ``period`` (key such as ``2026-10``), ``start``, ``end``,
    ``language``.
    """

    pdf: bytes
    html: str
    names: dict[str, str]
    pages: int


def report_names(client_id: str, client_name: str, period: Period,
                 language: str) -> dict[str, str]:
    """The ``names`` of a report's :class:`Artifacts`."""
    return {"client": client_id, "client_name": client_name, "period": period.key,
            "start": period.start.isoformat(), "end": period.end.isoformat(),
            "language": language}


@dataclass(frozen=True, kw_only=True)
class Delivery:
    target: str
    location: str


@dataclass(kw_only=True)
class DeliveryContext:
    base_dir: Path
    output_dir: Path
    """The run's output folder (``--output`` or ``defaults.output``)."""


class DeliveryTarget:
    """Base class of delivery targets. Register subclasses with ``register_delivery_targets``.

    ``name`` is the ``target:`` value in a client's ``delivery`` list; ``Settings`` validates
    its settings. :meth:`deliver` must not leave partial output behind: write with
    :func:`atomic_write`, so a killed run never replaces a good report with half a file.
    """

    name: ClassVar[str] = ""
    Settings: ClassVar[type[DeliverySettings]] = DeliverySettings
    repeatable: ClassVar[bool] = False
    """Whether delivering the same report twice is harmless (a file written again). When it is
    not (an email, an upload), a run records that it is about to deliver before it starts: if
    it cannot record the outcome (killed, disk full), the next run does not deliver again but
    says that the report may already be there, until ``kpireport run --force``."""

    def __init__(self, settings: Any, context: DeliveryContext) -> None:
        self.settings = settings
        self.context = context

    def deliver(self, artifacts: Artifacts) -> str:
        """Deliver the report; return where it went (a path, an address)."""
        raise NotImplementedError

    def destination(self, names: Mapping[str, str]) -> str | None:
        """Where :meth:`deliver` would put a report named by ``names`` (see :class:`Artifacts`),
        if two reports can land in the same place there, one replacing the other (a file).

        ``kpireport validate`` and ``run`` refuse a client whose report would land where another
        client's does. ``None`` (the default): reports never replace each other there (an email).
        """
        return None

    def longest_delivery(self) -> float | None:
        """The most seconds :meth:`deliver` may take, when the target bounds itself (an SMTP
        exchange's deadline). Added in contract 1.3.

        A report is computed, rendered and delivered in one worker, stopped after the run's
        timeout (``runs.timeout``, or ``run --timeout``): ``kpireport validate`` and ``run``
        refuse a client whose targets' bounds, added up (they deliver one after the other),
        reach it, since the worker could be stopped in the middle of a delivery. ``None``
        (the default): the target does not say, and nothing is checked.
        """
        return None


def atomic_write(path: Path, data: bytes | str, *, mode: int = 0o644) -> None:
    """Write a file so that readers see the old content or the new, never a mix.

    ``mode`` is the file's permissions; a secret (a token a source keeps in its state folder)
    takes ``0o600``: the file is created readable by its owner only and never widened."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
