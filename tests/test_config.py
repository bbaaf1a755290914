import textwrap

import pytest

from kpireport.cli import main
from kpireport.config import load_config
from kpireport.config.checks import check_config
from kpireport.errors import ConfigError
from kpireport.plugins import load_plugins
from kpireport.secrets import redact

GOOD = """\
agency:
  name: Test Agency
  colours: {primary: "#112233", accent: "#ff8800"}
defaults:
  period: 2026-10
clients:
  - id: shop
    name: The Shop
    timezone: Europe/Paris
    locale: fr_FR
    sources:
      signups:
        plugin: constant
        settings: {per_day: 3}
    kpis:
      - signups
    objectives:
      - kpi: signups
        target: 120
        start: 2026-01-01
        deadline: 2026-12-31
"""


def write(tmp_path, text, name="config.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path, *, plugins=None):
    try:
        config = load_config(path)
    except ConfigError as exc:
        return exc.problems
    return check_config(config, plugins or load_plugins(["kpireport_test_extras"]))


def test_a_good_config_loads(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    [client] = config.clients
    assert client.kpis[0].kpi == "signups"  # the "- signups" shorthand
    assert config.locale_of(client) == "fr_FR"
    assert config.colours_of(client).primary == "#112233"
    assert problems_of(write(tmp_path, GOOD)) == []


def test_wrong_types_and_missing_fields_name_file_line_and_field(tmp_path):
    text = GOOD.replace("per_day: 3", "per_day: lots").replace("  name: Test Agency\n", "")
    text = text.replace("target: 120", "target: [1, 2]")
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    got = {(p.line, p.field): p.message for p in err.value.problems}
    assert (1, "agency.name") in got and got[(1, "agency.name")] == "required field is missing"
    # The line of "target:" (the agency's name line was removed above).
    assert any(f == "clients[0].objectives[0].target" and line == 18 for line, f in got)
    assert err.value.exit_code == 2
    assert str(path) in str(err.value)


def test_several_problems_are_reported_at_once(tmp_path):
    text = GOOD.replace("Europe/Paris", "Europe/Atlantis").replace("fr_FR", "french")
    text = text.replace('"#112233"', "blue").replace("start: 2026-01-01", "start: 2026-02-30")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    fields = {p.field: (p.line, p.message) for p in err.value.problems}
    assert fields["agency.colours.primary"][0] == 3
    assert "#1f3a5f" in fields["agency.colours.primary"][1]
    assert fields["clients[0].timezone"] == (
        9, "unknown time zone 'Europe/Atlantis' (expected an IANA name such as Europe/Paris)")
    assert fields["clients[0].locale"][0] == 10
    assert "fr_FR" in fields["clients[0].locale"][1]
    assert fields["clients[0].objectives[0].start"][0] == 20  # a bad date, on its line
    assert "date" in fields["clients[0].objectives[0].start"][1]


def test_bad_period_and_deadline_before_start(tmp_path):
    text = GOOD.replace("period: 2026-10", "period: last-fortnight")
    text = text.replace("deadline: 2026-12-31", "deadline: 2025-12-31")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    fields = {p.field: (p.line, p.message) for p in err.value.problems}
    assert fields["defaults.period"][0] == 5 and "last-month" in fields["defaults.period"][1]
    assert "must come after start" in fields["clients[0].objectives[0]"][1]


def test_unknown_field_is_a_typo(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, GOOD.replace("    locale: fr_FR", "    locael: fr_FR")))
    [problem] = err.value.problems
    assert (problem.line, problem.field) == (10, "clients[0].locael")
    assert "unknown field" in problem.message


def test_yaml_syntax_error_has_line_and_column(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, GOOD.replace("{per_day: 3}", "{per_day: 3")))
    [problem] = err.value.problems
    assert problem.line in (14, 15) and problem.column is not None
    assert "YAML syntax error" in problem.message


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")


def test_unknown_plugin_kpi_and_settings_are_caught_with_plugins(tmp_path):
    text = GOOD.replace("plugin: constant", "plugin: constnat")
    [problem] = problems_of(write(tmp_path, text))
    assert (problem.line, problem.field) == (13, "clients[0].sources.signups.plugin")
    assert "unknown source plugin 'constnat'" in problem.message and "csv" in problem.message

    text = GOOD.replace("per_day: 3", "per_dya: 3")
    [problem] = problems_of(write(tmp_path, text))
    assert (problem.line, problem.field) == (14, "clients[0].sources.signups.settings.per_dya")

    text = GOOD.replace("      - signups\n    objectives", "      - signups\n      - sesions\n"
                                                             "    objectives")
    [problem] = problems_of(write(tmp_path, text))
    assert problem.field == "clients[0].kpis[1]" and "unknown KPI 'sesions'" in problem.message


def test_a_kpi_no_source_offers_and_an_unmeasurable_objective(tmp_path):
    text = GOOD.replace("      - signups\n    objectives", "      - signups\n      - sessions\n"
                                                             "    objectives")
    text = text.replace("      - kpi: signups\n        target", "      - kpi: revenue\n"
                                                               "        target")
    found = {p.field: p.message for p in problems_of(write(tmp_path, text))}
    assert "needs metric 'sessions', which no source of this client offers" in \
        found["clients[0].kpis[1]"]
    assert found["clients[0].objectives[0].kpi"].startswith("not measurable")


def test_cumulative_goal_on_a_rate_is_refused(tmp_path):
    cumulative = "      - kpi: signups\n        kind: cumulative\n"
    text = GOOD.replace("      - kpi: signups\n", cumulative)
    assert problems_of(write(tmp_path, text)) == []  # signups add up: a total makes sense
    (tmp_path / "web.csv").write_text("date,sessions,conversions\n2026-01-01,10,1\n")
    text = GOOD.replace("plugin: constant", "plugin: csv").replace(
        "settings: {per_day: 3}", "settings: {tables: [{path: web.csv}]}")
    text = text.replace("      - signups\n    objectives",
                        "      - conversion_rate\n    objectives")
    text = text.replace("      - kpi: signups\n", "      - kpi: conversion_rate\n"
                                                   "        kind: cumulative\n")
    [problem] = problems_of(write(tmp_path, text))
    assert problem.field == "clients[0].objectives[0].kind" and problem.line == 19
    assert "additive" in problem.message and "conversion_rate" in problem.message


def test_missing_brand_asset(tmp_path):
    text = GOOD.replace("  name: Test Agency\n", "  name: Test Agency\n  logo: missing.svg\n")
    [problem] = problems_of(write(tmp_path, text))
    assert (problem.line, problem.field) == (3, "agency.logo")
    assert "missing.svg" in problem.message


def test_environment_interpolation_and_redaction(tmp_path):
    text = GOOD.replace("name: The Shop", "name: ${SHOP_NAME}").replace(
        "per_day: 3", "per_day: \"${PER_DAY:-4}\"")
    config = load_config(write(tmp_path, text), environ={"SHOP_NAME": "Boutique-Secrète"})
    assert config.clients[0].name == "Boutique-Secrète"
    assert config.clients[0].sources["signups"].settings["per_day"] == "4"
    assert redact("token Boutique-Secrète leaked") == "token *** leaked"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), environ={})
    [problem] = err.value.problems
    assert (problem.line, problem.field) == (8, "clients[0].name")
    assert problem.message == "environment variable SHOP_NAME is not set"


def test_cli_validate_and_run_exit_2_and_write_nothing(tmp_path, capsys):
    path = write(tmp_path, GOOD.replace("plugin: constant", "plugin: nope"))
    out = tmp_path / "out"
    assert main(["-p", "kpireport_test_extras", "validate", str(path), "--no-data"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:13: clients[0].sources.signups.plugin: unknown source plugin 'nope'" in err
    assert main(["-p", "kpireport_test_extras", "run", str(path), "--output", str(out)]) == 2
    assert not out.exists()
    bad_yaml = write(tmp_path, "agency: [\n", "broken.yaml")
    assert main(["run", str(bad_yaml), "--output", str(out)]) == 2
    assert "YAML syntax error" in capsys.readouterr().err
    assert not out.exists()


def test_a_logged_traceback_is_redacted_too():
    import io
    import logging

    from kpireport.secrets import RedactingFilter, register_secret

    register_secret("hunter2-password")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("kpireport.test-redaction")
    logger.addHandler(handler)
    try:
        raise RuntimeError("login refused for hunter2-password")
    except RuntimeError:
        logger.exception("source failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "source failed" in text and "RuntimeError: login refused for ***" in text
    assert "hunter2-password" not in text


def test_a_key_set_twice_is_an_error_not_the_last_one_wins(tmp_path):
    text = GOOD.replace("    kpis:", "    kpis: [signups]\n    kpis:", 1)
    [problem] = problems_of(write(tmp_path, text))
    first = text.splitlines().index("    kpis: [signups]") + 1
    assert (problem.line, problem.field) == (first + 1, "clients[0].kpis")
    assert f"already set on line {first}" in problem.message


def test_an_empty_variable_takes_its_default_as_in_the_shell(tmp_path):
    text = GOOD.replace("per_day: 3", "per_day: \"${PER_DAY:-4}\"")
    config = load_config(write(tmp_path, text), environ={"PER_DAY": ""})
    assert config.clients[0].sources["signups"].settings["per_day"] == "4"


def test_a_misspelt_metric_in_a_kpis_source_map_is_named(tmp_path):
    text = GOOD.replace("    kpis:\n      - signups\n",
                        "    kpis:\n      - {kpi: signups, source: {sigups: signups}}\n")
    [problem] = problems_of(write(tmp_path, text))
    assert "'source:' names 'sigups', which this KPI does not use" in problem.message
    assert "its metrics: signups" in problem.message


def test_a_value_yaml_reads_as_something_else_gets_advice_to_quote_it(tmp_path):
    text = GOOD.replace('colours: {primary: "#112233", accent: "#ff8800"}',
                        "colours:\n    primary: #112233").replace("locale: fr_FR", "locale: no")
    problems = {p.field: p.message for p in problems_of(write(tmp_path, text))}
    assert "got None: put the value in quotes" in problems["agency.colours.primary"]
    assert "got False: put the value in quotes" in problems["clients[0].locale"]


def test_a_client_id_used_twice_is_named_at_its_line(tmp_path):
    text = GOOD + GOOD.split("clients:\n", 1)[1]  # the same client listed twice
    first, second = [n for n, line in enumerate(text.splitlines(), 1)
                     if line.strip() == "- id: shop"]
    [problem] = problems_of(write(tmp_path, text))
    assert (problem.field, problem.line) == ("clients[1].id", second)
    assert f"client id 'shop' is already the id of clients[0] (line {first})" in problem.message


def test_a_file_location_from_the_environment_is_not_masked_as_a_secret(tmp_path):
    brand = tmp_path / "brand-dir-7f3a"
    text = GOOD.replace("  name: Test Agency\n",
                        "  name: Test Agency\n  logo: \"${BRAND_DIR}/logo.svg\"\n").replace(
        "name: The Shop", "name: ${SHOP_SECRET_NAME}")
    load_config(write(tmp_path, text), environ={"BRAND_DIR": str(brand),
                                                "SHOP_SECRET_NAME": "Hidden-Shop-4821"})
    # An error about the logo names its folder; the other value stays masked.
    assert redact(f"{brand}/logo.svg: not found") == f"{brand}/logo.svg: not found"
    assert redact("client Hidden-Shop-4821") == "client ***"


def test_the_smart_review_survives_a_source_that_explodes_and_hides_its_secret(
        tmp_path, capsys, monkeypatch):
    text = GOOD.replace("settings: {per_day: 3}",
                        "settings: {per_day: 3, explode_with: \"${API_TOKEN}\"}")
    text += GOOD.split("clients:\n", 1)[1].replace("id: shop", "id: other")
    monkeypatch.setenv("API_TOKEN", "tok-99-very-secret")
    main(["-p", "kpireport_test_extras", "validate", str(write(tmp_path, text)),
          "--as-of", "2026-11-03"])
    out = capsys.readouterr()
    assert "tok-99-very-secret" not in out.out + out.err
    assert "history could not be read" in out.out and "key=***" in out.out


FILTERED = """\
agency: {name: Test Agency}
defaults: {period: 2024-05, timezone: Europe/Paris}
clients:
  - id: web
    name: Web
    sources:
      ga:
        plugin: csv
        label: Google Analytics
        settings:
          tables: [{path: DATA/web_daily.csv, dimensions: [channel]}]
    kpis:
      - kpi: sessions
        id: organic_sessions
        label: Organic sessions
        filters: [{dimension: channel, equals: organic search}]
      - kpi: sessions
        id: landing_sessions
        filters:
          - {dimension: page, contains: /landing}
"""


def test_a_filter_on_a_dimension_the_source_lacks_fails_validation(tmp_path):
    from pathlib import Path

    data = Path(__file__).parent / "data" / "csv" / "web"
    path = write(tmp_path, FILTERED.replace("DATA", str(data)))
    [problem] = problems_of(path)
    # Named at the KPI's filters, with the source by its label and what it can give.
    assert problem.line == 19 and problem.field == "clients[0].kpis[1].filters"
    assert "KPI 'landing_sessions': Google Analytics (ga) cannot filter sessions on page" in \
        problem.message
    assert "channel" in problem.message


def test_a_filter_from_the_config_reaches_the_figures(tmp_path):
    import csv
    import datetime as dt
    from pathlib import Path

    from kpireport.pipeline.report import compute_report

    data = Path(__file__).parent / "data" / "csv" / "web"
    text = FILTERED.replace("DATA", str(data))
    text = text.split("      - kpi: sessions\n        id: landing")[0]  # the valid KPI only
    path = write(tmp_path, text)
    config = load_config(path)
    report = compute_report(config, config.clients[0], load_plugins(["kpireport_test_extras"]),
                            now=dt.datetime(2024, 6, 10, tzinfo=dt.UTC))
    with open(data / "web_daily.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    organic = sum(float(r["sessions"]) for r in rows
                  if r["date"].startswith("2024-05") and r["channel"] == "Organic Search")
    assert report.kpis["organic_sessions"].value == organic
    assert report.kpis["organic_sessions"].label == "Organic sessions"


@pytest.mark.parametrize("spec,message", [
    ({"equals": "a", "contains": "b"}, "a filter takes one comparison"),
    ({"regex": "("}, "invalid regular expression"),
    ({"in": []}, "at least 1 item"),
])
def test_a_malformed_filter_is_a_config_error_at_its_line(tmp_path, spec, message):
    import json

    text = FILTERED.replace("{dimension: channel, equals: organic search}",
                            json.dumps({"dimension": "channel", **spec}))
    path = write(tmp_path, text.replace("DATA", "."))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value) and "clients[0].kpis[0].filters[0]" in str(err.value)
