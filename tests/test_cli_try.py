"""Trying a source from the command line: ``plugins --source`` (what it takes), ``check`` (one
live call per source) and ``fetch`` (what it answers to one query)."""

import csv
import datetime as dt
import io
import json
import socket
import textwrap

import pytest
from api_fake import SECRET, FakeApi
from shared import ROOT, example_copy

from kpireport import (
    Aggregation,
    Capabilities,
    MetricSpec,
    PermissionDenied,
    Source,
    SourceContext,
    SourceSettings,
    Table,
)
from kpireport.cli import main
from kpireport.sourcetools import describe_source
from kpireport.testing import FakeServer, Reply

API = "kpireport_test_api"
WEB = ROOT / "examples" / "data" / "maison-lumiere" / "web_daily.csv"


# --- plugins --source --------------------------------------------------------------------------


def test_plugins_source_csv_lists_its_settings(capsys):
    assert main(["plugins", "--source", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("csv: CSV files and Search Console exports  (plugin csv)\n")
    assert "  missing days: gap" in out
    assert "    tables: list[TableSettings], default: []\n" in out
    assert "      path: str, required\n" in out  # a nested model's fields, indented
    assert "      delimiter: str, default: \",\"\n" in out
    assert "    search_console: str | list[str] | None, default: None\n" in out
    assert "secret" not in out
    assert "metrics: depend on its settings: run `kpireport fetch`" in out


def test_plugins_source_test_api_marks_its_secrets(capsys):
    assert main(["-p", API, "plugins", "--source", "test_api"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("test_api: Test API  (plugin kpireport_test_api)\n")
    assert "  missing days: zero" in out
    assert "    base_url: str, required\n" in out
    assert "    client_secret: SecretStr, required, secret\n" in out
    assert "    spare_keys: list[SecretStr], default: [], secret\n" in out  # inside a list
    assert "    final_after_days: int, default: 3\n" in out


def test_plugins_source_unknown_exits_2_with_the_installed_names(capsys):
    assert main(["-p", API, "plugins", "--source", "nope"]) == 2
    err = capsys.readouterr().err
    head = "error: unknown source plugin 'nope' (installed: "
    assert err.startswith(head) and err.endswith(")\n")
    # The built-in API sources grow with the branches that add them: the list is sorted.
    installed = err[len(head):-2].split(", ")
    assert installed == sorted(installed)
    assert {"csv", "ga4", "hubspot", "meta", "salesforce", "search_console",
            "test_api"} <= set(installed)


def test_a_class_that_exposes_its_metrics_and_env_vars_shows_them():
    from pydantic import Field, SecretStr

    class AcmeSettings(SourceSettings):
        token_env: str = "ACME_TOKEN"
        key: SecretStr = Field(json_schema_extra={"env": "ACME_KEY"})

    class Acme(Source[AcmeSettings]):
        name, label = "acme", "Acme"
        Settings = AcmeSettings

        @staticmethod
        def metrics():
            return {"sessions": MetricSpec(name="sessions"),
                    "users": MetricSpec(name="users", aggregation=Aggregation.DISTINCT)}

        capabilities = Capabilities(dimensions=("channel",))  # type: ignore[assignment]

    lines = describe_source(Acme, "acme_plugin")
    assert '    token_env: str, default: "ACME_TOKEN", env ACME_TOKEN' in lines
    assert "    key: SecretStr, required, secret, env ACME_KEY" in lines
    assert "    sessions: sum, count" in lines and "    users: distinct, count" in lines
    assert any(line.startswith("  capabilities: dimensions channel;") for line in lines)


# --- check -------------------------------------------------------------------------------------

CONFIG = """\
agency: {{name: Test Agency}}
defaults: {{period: 2026-10, output: out, timezone: Europe/London}}
clients:
  - id: shop
    name: The Shop
    sources:
      web:
        plugin: test_api
        label: Shop Analytics
        settings: {{base_url: "{url}", account: "77", client_secret: "{secret}"}}
    kpis: [sessions]
"""


@pytest.fixture
def api():
    with FakeServer() as server:
        yield FakeApi(server)


def api_config(tmp_path, url, secret=SECRET):
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(CONFIG.format(url=url, secret=secret)))
    return path


def check(path, capsys):
    code = main(["-p", API, "check", str(path), "--as-of", "2026-11-25"])
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    return code, out


def test_check_ok_asks_yesterdays_total_of_the_first_metric(api, tmp_path, capsys):
    code, out = check(api_config(tmp_path, api.server.url), capsys)
    assert (code, out) == (0, "shop web (Shop Analytics): ok\n")
    [call] = api.server.calls_to(r"/v1/.*")
    assert (call.json()["metrics"], call.json()["start"], call.json()["end"]) == (
        ["sessions"], "2026-11-24", "2026-11-24")


@pytest.mark.parametrize(("status", "reason", "todo"), [
    (401, "authentication failed", "renew the credentials"),
    (403, "no permission", "ask the account's owner to grant"),
    (429, "quota exhausted", "wait for the quota to come back"),
])
def test_check_names_each_failure_and_what_to_do(api, tmp_path, capsys, status, reason, todo):
    # The API's reply quotes the secret: it must not reach the output.
    api.server.fail("POST", r"/v1/.*", Reply(status=status, body={"error": f"bad {SECRET}"},
                                             headers={"Retry-After": "0"}), times=5)
    code, out = check(api_config(tmp_path, api.server.url), capsys)
    assert code == 1
    assert out.startswith(f"shop web (Shop Analytics): {reason}: ")
    assert f"What to do: {todo}" in out and out.count("\n") == 1


def test_the_sources_of_a_client_are_probed_concurrently(tmp_path, capsys):
    two = CONFIG.replace("    kpis: [sessions]\n", """\
      crm:
        plugin: test_api
        settings: {{base_url: "{url}", account: "78", client_secret: "{secret}"}}
    kpis: [{{kpi: sessions, source: web}}]
""")
    with FakeServer(latency=0.3) as server:
        FakeApi(server)
        path = tmp_path / "config.yaml"
        path.write_text(textwrap.dedent(two.format(url=server.url, secret=SECRET)))
        code, out = check(path, capsys)
        assert (code, out) == (0, "shop web (Shop Analytics): ok\nshop crm (Test API): ok\n")
        assert server.max_concurrency(r"/v1/.*") == 2


def test_check_asks_the_api_each_time_never_the_cache(api, tmp_path, capsys):
    path = api_config(tmp_path, api.server.url)
    assert check(path, capsys)[0] == 0
    # A report's cache would answer yesterday's total again for an hour: check asks anyway.
    api.server.fail("POST", r"/v1/.*", Reply(status=403, body={}), times=5)
    code, out = check(path, capsys)
    assert code == 1 and "no permission" in out
    assert len(api.server.calls_to(r"/v1/.*")) == 2


def test_check_a_refused_secret_is_an_authentication_failure(api, tmp_path, capsys):
    code, out = check(api_config(tmp_path, api.server.url, secret="wrong-secret-0000"), capsys)
    assert code == 1 and "shop web (Shop Analytics): authentication failed: the client " \
                          "secret was refused" in out
    assert "wrong-secret-0000" not in out


def test_check_a_closed_port_is_unreachable(tmp_path, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out = check(api_config(tmp_path, f"http://127.0.0.1:{port}"), capsys)
    assert code == 1
    assert out.startswith("shop web (Shop Analytics): unreachable: ")
    assert "What to do: check the address and the network" in out


def test_check_probes_every_source_of_a_client_and_a_config_error_exits_2(tmp_path, capsys):
    path = example_copy(tmp_path)
    assert main(["check", str(path), "--client", "maison-lumiere", "--as-of",
                 "2026-11-25"]) == 0
    assert capsys.readouterr().out == ("maison-lumiere web (Google Analytics): ok\n"
                                       "maison-lumiere search (Google Search Console): ok\n")
    assert main(["check", str(path), "--client", "nobody"]) == 2
    assert "nobody" in capsys.readouterr().err


def test_the_default_probe_raises_the_error_fetch_many_answered(tmp_path):
    class Denied(Source[SourceSettings]):
        name = "denied"

        def metrics(self):
            return {"sessions": MetricSpec(name="sessions")}

        def fetch(self, query) -> Table:
            raise PermissionDenied("no access to property 9")

    context = SourceContext(name="web", client_id="c", timezone=dt.UTC, base_dir=tmp_path,
                            today=dt.date(2026, 11, 25))
    with pytest.raises(PermissionDenied, match="property 9"):
        Denied(SourceSettings(), context).probe()


# --- fetch -------------------------------------------------------------------------------------


def october_sessions(channel=None):
    with WEB.open(encoding="utf-8") as f:
        return sum(int(r["sessions"]) for r in csv.DictReader(f)
                   if r["date"].startswith("2026-10") and channel in (None, r["channel"]))


@pytest.fixture
def example(tmp_path):
    return example_copy(tmp_path)


def fetch(example, *args):
    return main(["fetch", str(example), "--client", "maison-lumiere", "--source", "web",
                 "--period", "2026-10", *args])


def test_fetch_a_total_as_a_table(example, capsys):
    assert fetch(example, "--metrics", "sessions", "--granularity", "total") == 0
    out, err = capsys.readouterr()
    assert out.split() == ["sessions", str(october_sessions())]
    assert "2026-10-01..2026-10-31 (Europe/Paris days)" in err
    # Without --period, as for run: the config's default period (the example pins 2026-10).
    assert main(["fetch", str(example), "--client", "maison-lumiere", "--source", "web",
                 "--metrics", "sessions"]) == 0
    assert capsys.readouterr().out.split() == ["sessions", str(october_sessions())]


def test_fetch_as_csv_and_json(example, capsys):
    assert fetch(example, "--metrics", "sessions", "--dimensions", "channel",
                 "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["channel"]: int(r["sessions"]) for r in rows} == {
        r["channel"]: october_sessions(r["channel"]) for r in rows}
    assert sum(int(r["sessions"]) for r in rows) == october_sessions()
    assert fetch(example, "--metrics", "sessions", "--granularity", "day",
                 "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["notes"] == []
    assert data["rows"][0] == {"date": "2026-10-01", "sessions": data["rows"][0]["sessions"]}
    assert len(data["rows"]) == 31
    assert sum(r["sessions"] for r in data["rows"]) == october_sessions()


def test_fetch_with_a_filter_and_the_top_rows(example, capsys):
    assert fetch(example, "--metrics", "sessions", "--filter", "channel=organic search",
                 "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["rows"] == [
        {"sessions": october_sessions("Organic Search")}]
    assert fetch(example, "--metrics", "sessions", "--dimensions", "channel", "--top", "1",
                 "--order", "sessions") == 0
    lines = capsys.readouterr().out.splitlines()
    with WEB.open(encoding="utf-8") as f:
        channels = {r["channel"] for r in csv.DictReader(f)}
    assert len(lines) == 2 and lines[1].split()[-1] == str(max(map(october_sessions, channels)))


def test_fetch_prints_the_notes_after_the_rows(example, capsys):
    assert fetch(example, "--metrics", "sessions", "--granularity", "day", "--period",
                 "2026-11-20..2026-11-30") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("note: missing_days (sessions): ") and "2026-11-25" in lines[-1]


def test_fetch_a_metric_the_source_lacks_is_a_clean_error(example, capsys):
    assert fetch(example, "--metrics", "sessions,nope") == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: web (Google Analytics) does not offer nope (it offers: ")
    assert fetch(example, "--metrics", "sessions", "--dimensions", "country") == 1
    assert "cannot split sessions by country" in capsys.readouterr().err
    assert fetch(example, "--metrics", "sessions", "--filter", "channel") == 2
    assert "--filter 'channel': expected dim=value" in capsys.readouterr().err
    assert main(["fetch", str(example), "--client", "maison-lumiere", "--source", "crm",
                 "--metrics", "sessions"]) == 2
    assert capsys.readouterr().err == ("error: maison-lumiere has no source named 'crm' (its "
                                       "sources: web, search)\n")
    assert main(["fetch", str(example), "--client", "nobody", "--source", "web",
                 "--metrics", "sessions"]) == 2


def test_fetch_a_source_error_is_one_clean_line(api, tmp_path, capsys):
    api.server.fail("POST", r"/v1/.*", Reply(status=403, body={}), times=5)
    code = main(["-p", API, "fetch", str(api_config(tmp_path, api.server.url)), "--client",
                 "shop", "--source", "web", "--metrics", "sessions", "--period", "2026-10"])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == ("error: web (Shop Analytics): no access to account 77: ask "
                                    "its owner to add the API client")


def test_fetch_says_when_the_source_counts_another_time_zones_days(tmp_path, capsys):
    with FakeServer() as server:
        FakeApi(server, timezone="America/Los_Angeles")
        code = main(["-p", API, "fetch", str(api_config(tmp_path, server.url)), "--client",
                     "shop", "--source", "web", "--metrics", "sessions", "--period", "2026-10",
                     "--format", "json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["notes"] == [
        "timezone: Shop Analytics counts days in America/Los_Angeles time, the report in "
        "Europe/London time"]
