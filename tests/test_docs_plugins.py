"""docs/plugins.md stays true: its commands, the names it imports and its examples."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import kpireport
from kpireport import KpiDefinition, KpiValue, Unit

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
FOUR = ("pip install -e ./kpireport           # a checkout of kpireport: it is not on PyPI\n"
        "kpireport new-plugin acme_crm --kind source\n"
        "pip install -e './kpireport-acme-crm[test]'\npytest kpireport-acme-crm\n")


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_the_four_commands_are_the_same_in_the_readme():
    assert FOUR in blocks(DOC, "sh")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    writing = readme.split("## Writing a plugin", 1)[1]
    assert FOUR in blocks(writing, "sh")
    assert "docs/plugins.md" in writing


def test_every_name_it_uses_is_public():
    imported = {name.strip() for block in blocks(DOC, "python")
                for names in re.findall(r"from kpireport import ([^\n]+)", block)
                for name in names.split(",")}
    dotted = set(re.findall(r"`kpireport\.([A-Za-z_]+)", DOC))
    public = set(kpireport.__all__) | {"testing"}
    assert imported and dotted
    assert (imported | dotted) - public == set()


def test_the_other_plugins_examples_work():
    namespace: dict = {}
    for block in blocks(DOC.split("## Writing other plugins", 1)[1], "python"):
        exec(compile(block, "docs/plugins.md", "exec"), namespace)  # each one runs
    kpis: list = []
    namespace["register_kpis"](kpis.append)
    assert kpis[0].compute({"new_customers": 3.0, "leads": 12.0}) == 0.25
    rules: list = []
    namespace["register_recommendation_rules"](rules.append)
    leads = KpiDefinition(id="leads", label={"en": "Leads"}, unit=Unit.COUNT,
                          metrics=("leads",))
    report = SimpleNamespace(kpis={"leads": KpiValue(key="leads", definition=leads,
                                                     label="Leads", value=40.0,
                                                     previous=100.0)})
    [finding] = rules[0].evaluate(report)
    assert finding.figures == {"change": -0.6}
    targets: list = []
    namespace["register_delivery_targets"](targets.append)
    assert targets[0].name == "drive"
    # contract 1.3: a target's own time bound, checked against the run's timeout
    assert targets[0](None, None).longest_delivery() is None
    assert namespace["TimedDriveTarget"](None, None).longest_delivery() == 300.0
