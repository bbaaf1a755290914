"""kpireport.testing's fixtures and helpers, as a plugin's tests use them."""

import dataclasses
import datetime as dt
import socket
from pathlib import Path

import pytest
import requests

from kpireport import SourceContext
from kpireport.testing import FakeServer, make_context
from kpireport.testing.network import NetworkBlocked, network_guard

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent


def test_make_context_has_a_state_folder_in_tmp_path_and_no_backoff(tmp_path):
    context = make_context(tmp_path, name="web", plugin="acme", label="Acme",
                           today=dt.date(2026, 12, 3), timezone="America/New_York",
                           currency="USD")
    assert isinstance(context, SourceContext)
    assert (context.name, context.plugin, context.label, context.currency) == (
        "web", "acme", "Acme", "USD")
    assert context.today == dt.date(2026, 12, 3) and str(context.timezone) == "America/New_York"
    assert context.retry_backoff == 0
    assert context.state_dir == tmp_path / "state" / "plugins" / "acme"
    assert context.cache.cached({"q": 1}, lambda: {"rows": [1]}, final=True) == {"rows": [1]}
    assert context.resolve_path("data.csv") == tmp_path / "data.csv"


def test_the_source_context_fixture(source_context, tmp_path):
    assert source_context.base_dir == tmp_path
    assert source_context.today == dt.date(2026, 11, 25)
    assert (str(source_context.timezone), source_context.currency) == ("Europe/London", "EUR")
    assert dataclasses.replace(source_context, plugin="x").state_dir.is_relative_to(tmp_path)


def test_only_localhost_lets_a_fake_server_through(only_localhost):
    with FakeServer() as server:
        server.route("GET", "/ping", lambda call: {"ok": True})
        assert requests.get(f"{server.url}/ping", timeout=5).json() == {"ok": True}


def test_the_guard_refuses_another_host_with_a_clear_message():
    # The guard only_localhost puts on (which would also fail this test at teardown).
    with network_guard() as attempts:
        with pytest.raises(NetworkBlocked, match=r"api\.example\.com:443 was attempted: "
                                                 r"tests reach only 127\.0\.0\.1.*FakeServer"):
            requests.get("https://api.example.com/v1/report", timeout=5)
        with pytest.raises(NetworkBlocked, match=r"10\.1\.2\.3:80"):
            socket.create_connection(("10.1.2.3", 80), timeout=1)
        with socket.socket() as sock, pytest.raises(NetworkBlocked, match=r"192\.0\.2\.1:80"):
            sock.connect(("192.0.2.1", 80))
    assert len(attempts) == 3


def test_the_strict_guard_refuses_even_this_machine():
    with FakeServer() as server, network_guard(allow_localhost=False) as attempts:
        with pytest.raises(NetworkBlocked, match="must not call the API"):
            requests.get(server.url, timeout=5)
    assert len(attempts) == 1


def test_an_attempt_the_code_swallowed_still_fails_the_test(pytester):
    pytester.makepyfile(test_swallow='''
import requests

def test_swallows(only_localhost):
    try:
        requests.get("http://api.example.com/", timeout=1)
    except Exception:
        pass  # a source that turns every error into "no data"
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*api.example.com:80 was attempted: tests reach only*"])


def test_kpireport_plugins_are_the_built_ins_and_the_modules_named(kpireport_plugins,
                                                                   monkeypatch):
    monkeypatch.setenv("KPIREPORT_PLUGINS", "kpireport_test_commands")  # set by accident
    plugins = kpireport_plugins("kpireport_test_api")
    assert {"csv", "test_api"} <= set(plugins.sources)
    assert "kpireport_test_commands" not in plugins.infos
    assert all(info.distribution in (None, "kpireport") for info in plugins.infos.values())
    alone = kpireport_plugins("kpireport_test_api", builtins=False)
    assert list(alone.sources) == ["test_api"]


def test_kpireport_plugins_says_why_a_module_failed(kpireport_plugins):
    with pytest.raises(RuntimeError, match="kpireport_test_broken_import"):
        kpireport_plugins("kpireport_test_broken_import")


@pytest.mark.pdf
def test_render_report_gives_the_report_its_figures_and_the_pdf_text():
    from kpireport.testing import Rendered, render_report

    rendered = render_report(ROOT / "config.example.yaml", "northwind-dental", "2026-10")
    assert isinstance(rendered, Rendered)
    assert rendered.report.period.key == "2026-10"
    assert rendered.pdf.startswith(b"%PDF") and rendered.pages >= 6  # the sections flow (7 today)
    assert "Northwind Dental Group" in rendered.pdf_text and "2 / " in rendered.pdf_text
    assert set(rendered.report.kpis) <= set(rendered.figures)
    assert any(value for value in rendered.figures.values())


def test_pytest_loads_the_kit_from_its_entry_point(request):
    import importlib.metadata as md

    points = {ep.name: ep.value for ep in md.entry_points(group="pytest11")}
    assert points["kpireport"] == "kpireport.testing.pytest_plugin"
    assert request.config.pluginmanager.has_plugin("kpireport")


def test_the_kit_keeps_out_of_kpireport_s_public_names():
    import kpireport
    import kpireport.testing

    assert not {"SourceContract", "make_context", "render_report", "FakeServer"} & set(
        kpireport.__all__)
    assert sorted(kpireport.testing.__all__) == ["Call", "FakeServer", "Rendered", "Reply",
                                                 "SourceContract", "make_context",
                                                 "render_report"]
    for name in kpireport.testing.__all__:
        assert getattr(kpireport.testing, name) is not None


def test_a_plugin_s_suite_knows_the_pdf_mark(pytester):
    pytester.makepyfile(test_marked='''
import pytest

@pytest.mark.pdf
def test_renders():
    pass
''')
    pytester.runpytest("-p", "no:cacheprovider", "--strict-markers").assert_outcomes(passed=1)
