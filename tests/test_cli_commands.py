"""The ``kpireport`` command line: the core commands' contract (options, exit codes, errors),
and plugins' own subcommands (the ``register_commands`` hook) beside them."""

import subprocess
import sys
from pathlib import Path

import pytest

from kpireport.cli import main

COMMANDS = "kpireport_test_commands"
CLASH = "kpireport_test_command_clash"
RAISING = "kpireport_test_raising"


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == "kpireport 0.1.0\n"
    assert main(["-h"]) == 0
    out = capsys.readouterr().out
    assert "Objectives → KPIs → branded PDF reports." in out
    assert "-p, --plugin MODULE  load an extra plugin module (repeatable)" in out
    assert "preview     serve a client's report on localhost, re-rendered when templates" in out
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--client ID", "--all", "--period", "--output DIR", "--as-of DATE",
                   "--workers N", "--timeout SECONDS", "--force", "--dry-run"):
        assert option in out


@pytest.mark.parametrize(("argv", "message"), [
    ([], "Missing command"),
    (["nope"], "No such command 'nope'"),
    (["run", "c.yaml", "--all", "--client", "a"], "--all: not allowed with argument --client"),
    (["validate", "c.yaml", "--as-of", "2026-13-01"], "invalid date: '2026-13-01'"),
    (["run", "c.yaml", "--workers", "many"], "'many' is not a valid integer"),
    (["rerender", "c.yaml", "--period", "2026-10"], "Missing option '--client'"),
    (["history"], "Missing argument 'CONFIG'"),
    (["run", "c.yaml", "-p", "x"], "No such option"),  # -p is global: before the command
])
def test_usage_errors_exit_2_and_say_why(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: kpireport") and message in err


def test_a_user_error_is_one_clean_line_with_its_exit_code(tmp_path, capsys):
    missing = tmp_path / "missing.yaml"
    assert main(["validate", str(missing)]) == 2
    assert capsys.readouterr().err == (f"error: 1 problem in the configuration:\n"
                                       f"  {missing}: file not found\n")
    assert main(["--traceback", "validate", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "ConfigError" in err


def test_long_options_may_be_abbreviated_as_argparse_allowed(tmp_path, capsys):
    # Crontabs written for the argparse CLI keep working: a unique prefix is the option.
    missing = tmp_path / "missing.yaml"
    assert main(["--trace", "validate", str(missing), "--no-d", "--as", "2026-10-01"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and err.endswith(f"  {missing}: file not found\n")
    assert main(["--plug=kpireport_test_commands", "--verb", "hello"]) == 0
    assert capsys.readouterr().out == "hello, world!\n"
    # An ambiguous prefix is an error, as it was.
    assert main(["run", str(missing), "--a"]) == 2
    assert "--all" in capsys.readouterr().err
    # A plugin's own options are click's: no prefixes.
    assert main(["-p", COMMANDS, "hello", "--na", "x"]) == 2


def test_a_plugin_command_runs_with_its_options(capsys):
    assert main(["-p", COMMANDS, "hello", "--name", "x"]) == 0
    assert capsys.readouterr().out == "hello, x!\n"
    assert main(["-p", COMMANDS, "hello", "--shout"]) == 0
    assert capsys.readouterr().out == "HELLO, WORLD!\n"


def test_a_plugin_group_dispatches_to_its_subcommands(capsys):
    assert main(["-p", COMMANDS, "link", "acme", "acme"]) == 0
    assert capsys.readouterr().out == "linked acme account acme\n"
    assert main(["-p", COMMANDS, "link", "acme", "partial"]) == 3  # its own exit code


def test_a_plugin_commands_user_error_is_one_clean_line(capsys):
    assert main(["-p", COMMANDS, "link", "acme", "refused"]) == 1
    err = capsys.readouterr().err
    assert err == "error: acme refused access to 'refused'\n"
    assert main(["-p", COMMANDS, "--traceback", "link", "acme", "refused"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "KpiReportError" in err
    assert err.endswith("error: acme refused access to 'refused'\n")


def test_a_plugin_commands_usage_error_exits_2(capsys):
    assert main(["-p", COMMANDS, "hello", "--nme", "x"]) == 2
    err = capsys.readouterr().err
    assert "Usage: kpireport hello" in err and "No such option" in err and "--nme" in err


def test_plugin_commands_load_from_the_environment_too(capsys, monkeypatch):
    monkeypatch.setenv("KPIREPORT_PLUGINS", COMMANDS)
    assert main(["hello"]) == 0
    assert capsys.readouterr().out == "hello, world!\n"


def test_without_the_plugin_its_command_does_not_exist(capsys):
    assert main(["hello"]) == 2
    assert "No such command 'hello'" in capsys.readouterr().err


def test_help_lists_core_commands_first_then_the_plugins(capsys):
    assert main(["-p", COMMANDS, "--help"]) == 0
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.split("Commands:")[1].splitlines()
              if line.startswith("  ") and not line.startswith("    ")]
    assert listed == ["run", "history", "confirm", "rerender", "validate", "check", "fetch",
                      "preview", "site", "plugins", "new-plugin", "connect", "hello", "link"]
    assert "say hello" in out
    assert main(["--help", "-p", COMMANDS]) == 0  # click reads an eager --help before -p
    assert "say hello" in capsys.readouterr().out
    assert main(["-p", COMMANDS, "hello", "--help"]) == 0
    assert "--name TEXT  who to greet" in capsys.readouterr().out


def test_a_core_command_cannot_be_replaced_and_the_plugin_is_named(capsys):
    assert main(["-p", CLASH, "run", "--help"]) == 0
    out, err = capsys.readouterr()
    assert "render and deliver reports" in out and "the plugin's run" not in out
    assert (f"warning: plugin '{CLASH}': command 'run' is refused: a core command has that "
            "name, and is kept") in err
    # Its other commands are not refused with it.
    assert main(["-p", CLASH, "tidy"]) == 0
    assert capsys.readouterr().out == "tidied\n"


def test_the_first_plugin_keeps_a_command_name_two_plugins_register(capsys):
    assert main(["-p", COMMANDS, "-p", CLASH, "hello"]) == 0
    out, err = capsys.readouterr()
    assert out == "hello, world!\n"
    assert f"plugin '{CLASH}': command 'hello' is refused: plugin '{COMMANDS}'" in err


def test_a_plugin_raising_in_the_hook_is_named_and_the_cli_still_works(capsys):
    assert main(["-p", RAISING, "-p", COMMANDS, "hello", "--name", "x"]) == 0
    out, err = capsys.readouterr()
    assert out == "hello, x!\n"
    assert f"warning: plugin '{RAISING}': register_commands: RuntimeError('command hook " \
           "exploded')" in err
    # What it had added before raising is taken back.
    assert main(["-p", RAISING, "half-made"]) == 2
    assert "No such command 'half-made'" in capsys.readouterr().err


def test_strict_mode_makes_a_refused_command_an_error(capsys, monkeypatch):
    monkeypatch.setenv("KPIREPORT_STRICT_PLUGINS", "1")
    assert main(["-p", CLASH, "tidy"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: plugin 'kpireport_test_command_clash': command 'run'")


def test_the_plugins_command_shows_the_hook_and_the_commands(capsys):
    assert main(["-p", COMMANDS, "-p", CLASH, "plugins", "--hook", "register_commands"]) == 1
    out = capsys.readouterr().out
    assert f"{COMMANDS}  module {COMMANDS}\n  hooks: register_commands\n" \
           "  commands: hello, link\n" in out
    assert f"{CLASH}  module {CLASH}\n  hooks: register_commands\n  commands: tidy\n" in out
    assert "web_kpis" not in out  # --hook still filters
    assert f"FAILED plugin '{CLASH}': command 'run' is refused" in out


@pytest.mark.workers  # kpireport in a fresh interpreter
@pytest.mark.parametrize("argv", [["--version"], ["-p", COMMANDS, "hello"]])
def test_python_dash_m_kpireport(argv, tmp_path):
    # The module entry point, in a fresh process: exit code and output as a user sees them.
    env = {"PYTHONPATH": str(Path(__file__).parent / "plugins"),
           "KPIREPORT_PLUGIN_DISTRIBUTIONS": "kpireport", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "kpireport", *argv], capture_output=True,
                          text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout in ("kpireport 0.1.0\n", "hello, world!\n")


@pytest.mark.workers  # a fresh interpreter, to see what importing the CLI loads
def test_importing_the_cli_stays_light():
    # ``kpireport --help`` must not pay for the renderer, the HTTP client or the models.
    code = ("import sys, kpireport.cli; heavy = {'weasyprint', 'jinja2', 'requests', "
            "'pydantic', 'yaml', 'kpireport.pipeline', 'kpireport.config'}; "
            "print(sorted(heavy & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout == "[]\n"
