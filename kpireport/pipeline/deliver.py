"""Stages 5 and 6, render and deliver: a computed report to PDF and HTML, then to each of the
client's delivery targets. The batch worker, ``kpireport preview`` and the tests all go
through these functions."""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass
from pathlib import Path

from kpireport.config.models import ClientConfig, Config
from kpireport.delivery import Artifacts, DeliveryContext, report_names
from kpireport.errors import KpiReportError, disk_full
from kpireport.plugins import PluginSet
from kpireport.report import Report
from kpireport.secrets import redact


def template_dir_of(config: Config) -> Path | None:
    """The agency's own template folder, if it has one."""
    return (config.resolve_path(config.agency.template_dir)
            if config.agency.template_dir else None)


def render(config: Config, report: Report, plugins: PluginSet, *,
           notify: bool = True) -> Artifacts:
    """The report's PDF and HTML, named for delivery. With ``notify``, plugins hear of it
    (``report_rendered``)."""
    from kpireport.render import render_report

    rendered = render_report(report, plugins, agency_template_dir=template_dir_of(config))
    client = report.client
    artifacts = Artifacts(pdf=rendered.pdf, html=rendered.html, pages=rendered.pages,
                          names=report_names(client.id, client.name, report.period,
                                             report.language))
    if notify:
        plugins.call_each("report_rendered", report=report, artifacts=artifacts)
    return artifacts


def target_keys(client: ClientConfig) -> list[str]:
    """One key per delivery entry: ``folder``; ``email:ceo`` for an entry with an ``id``;
    ``email#2`` for the second unnamed entry of a target."""
    keys: list[str] = []
    seen: dict[str, int] = {}
    for ref in client.delivery:
        # Named entries count too: naming one must not move the others' keys.
        seen[ref.target] = n = seen.get(ref.target, 0) + 1
        keys.append(f"{ref.target}:{ref.id}" if ref.id
                    else ref.target if n == 1 else f"{ref.target}#{n}")
    return keys


@dataclass(frozen=True)
class Outcome:
    """One delivery entry's outcome: where the report went, or why it did not."""

    key: str
    """The entry's key (:func:`target_keys`)."""
    target: str
    location: str | None = None
    error: str | None = None


def deliver(config: Config, client: ClientConfig, plugins: PluginSet, artifacts: Artifacts, *,
            output_dir: Path, skip: Container[str] = (),
            each: Callable[[Outcome], None] | None = None,
            before: Callable[[str], None] | None = None) -> list[Outcome]:
    """Hand the artifacts to each of the client's delivery targets but those in ``skip``
    (by key). One target's failure leaves the others'; ``each`` hears of every outcome the
    moment it is known (so it can be recorded before the next target is tried); ``before``
    hears of each target that is not :attr:`~DeliveryTarget.repeatable` just before it is
    tried (an exception from it stops the deliveries: nothing is sent unrecorded)."""
    context = DeliveryContext(base_dir=config.base_dir, output_dir=output_dir)
    outcomes = []
    for key, ref in zip(target_keys(client), client.delivery, strict=True):
        if key in skip:
            continue
        cls = plugins.delivery_targets[ref.target].item
        if before is not None and not cls.repeatable:
            before(key)
        try:
            target = cls(cls.Settings.model_validate(ref.settings), context)
            outcome = Outcome(key, ref.target, location=target.deliver(artifacts))
        except Exception as exc:
            outcome = Outcome(key, ref.target, error=redact(
                str(exc) if isinstance(exc, KpiReportError) else disk_full(exc) or repr(exc)))
        outcomes.append(outcome)
        if each is not None:
            each(outcome)
    return outcomes
