"""The report's language: figures in each report's own locale whatever was rendered before,
French typography on the free text a French report prints, generated sentences that read
as a native speaker writes them."""

import datetime as dt
import re
from pathlib import Path

import pytest

from kpireport import render
from kpireport.config import load_config
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.render import render_html

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
NNBSP, NBSP = "\u202f", "\xa0"


@pytest.fixture(scope="module")
def example():
    """Maison Lumière (fr_FR) and Acme Robotics (en_GB), computed once."""
    config = load_config(ROOT / "config.example.yaml")
    plugins = load_plugins()
    return {c: compute_report(config, config.client(c), plugins, now=NOW)
            for c in ("maison-lumiere", "acme-robotics")}, plugins


@pytest.fixture(scope="module")
def html(example):
    reports, plugins = example
    return {c: render_html(r, plugins)[0] for c, r in reports.items()}


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.parametrize("order", [("maison-lumiere", "acme-robotics"),
                                   ("acme-robotics", "maison-lumiere")])
def test_a_report_prints_its_own_locale_whatever_was_rendered_before(example, monkeypatch,
                                                                     order):
    # The compiled template is shared by the process's reports (and kept on disk): a filter
    # of constants folded at compile time would print the first report's locale in the next.
    cache = render._TemplateCodeCache()
    cache._disk = None  # this process's compilations only: the order is the test's
    monkeypatch.setattr(render, "_BYTECODE", cache)
    reports, plugins = example
    scores = {c: re.findall(r"Score ([^<]*) / ([^<]*)<", render_html(reports[c], plugins)[0])
              for c in order}
    assert scores["acme-robotics"] and all(
        re.fullmatch(r"\d\.\d\d", score) and whole == "1.00"
        for score, whole in scores["acme-robotics"])
    assert scores["maison-lumiere"] and all(
        re.fullmatch(r"\d,\d\d", score) and whole == "1,00"
        for score, whole in scores["maison-lumiere"])


def test_a_plugins_filter_is_never_folded_into_the_shared_code(example, monkeypatch):
    # A plugin's filter depends on the report as much as the engine's do.
    cache = render._TemplateCodeCache()
    cache._disk = None
    monkeypatch.setattr(render, "_BYTECODE", cache)
    env = render.build_environment(*_themes(example), None, "en")
    calls = []
    env.filters["shout"] = lambda v: calls.append(v) or str(v).upper()
    render._unfoldable(env.filters)
    template = env.from_string("{{ 'constant' | shout }} {{ 3 | round }}")
    assert calls == []  # nothing ran when compiling
    assert template.render() == "CONSTANT 3" and calls == ["constant"]


def _themes(example):
    _, plugins = example
    default = plugins.themes["default"].item
    return default, default
