"""``kpireport new-plugin``: the package it writes, for each kind, passes its own tests.

The generated tests run in a subprocess with the package on ``PYTHONPATH`` and named in
``KPIREPORT_PLUGINS`` (nothing is installed into this environment); one test installs a
generated source for real, in a throwaway venv, and finds it through its entry point.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from kpireport.cli import main
from kpireport.newplugin import KINDS, PluginNames

EXPECTED = {
    "source": {"kpireport_acme_x/source.py", "tests/fake_api.py", "tests/conftest.py",
               "tests/test_source.py", "tests/test_contract.py"},
    "kpi": {"tests/test_kpis.py"},
    "rules": {"tests/test_rules.py"},
    "delivery": {"tests/test_delivery.py"},
    "theme": {"kpireport_acme_x/theme/report.html.j2", "kpireport_acme_x/theme/style.css",
              "tests/test_theme.py"},
}
COMMON = {"pyproject.toml", "README.md", ".gitignore", "kpireport_acme_x/__init__.py",
          "tests/test_plugin_loads.py"}


def generate(tmp_path: Path, kind: str, name: str = "acme_x") -> Path:
    assert main(["new-plugin", name, "--kind", kind, "--directory", str(tmp_path)]) == 0
    return tmp_path / PluginNames.of(name).distribution


def files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_writes_a_package_with_its_entry_point(tmp_path, capsys, kind):
    folder = generate(tmp_path, kind)
    assert folder == tmp_path / "kpireport-acme-x"
    assert files(folder) == COMMON | EXPECTED[kind]
    assert str(folder / "pyproject.toml") in capsys.readouterr().out
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    assert project["name"] == "kpireport-acme-x"
    assert project["entry-points"]["kpireport"] == {"acme_x": "kpireport_acme_x"}
    assert any(d.startswith("kpireport>=") for d in project["dependencies"])
    init = (folder / "kpireport_acme_x" / "__init__.py").read_text()
    assert 'KPIREPORT_CONTRACT = "1"' in init
    for path in folder.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")  # valid Python, placeholders filled


def test_a_source_skeleton_says_what_to_fill_in(tmp_path):
    code = (generate(tmp_path, "source") / "kpireport_acme_x" / "source.py").read_text()
    for needed in ("class AcmeXSettings(SourceSettings)", "token: SecretStr", "def metrics(",
                   "def capabilities(", "def fetch(", "self.context.http_session(",
                   "self.context.cache", "split_by_month(", "AuthenticationError",
                   "QuotaExhausted", 'name = "acme_x"', "TODO"):
        assert needed in code, needed
    assert "from kpireport." not in code  # the public import place only


@pytest.mark.parametrize("name,package,distribution", [
    ("acme_crm", "kpireport_acme_crm", "kpireport-acme-crm"),
    ("Acme-CRM", "kpireport_acme_crm", "kpireport-acme-crm"),
    ("kpireport_shopify2", "kpireport_shopify2", "kpireport-shopify2"),
])
def test_names(name, package, distribution):
    names = PluginNames.of(name)
    assert (names.package, names.distribution) == (package, distribution)


@pytest.mark.parametrize("name", ["2fast", "acme crm", "acme__crm", "acme_", "café", "a.b", ""])
def test_a_bad_name_is_refused(tmp_path, capsys, name):
    assert main(["new-plugin", name, "--kind", "kpi", "--directory", str(tmp_path)]) == 2
    assert "invalid plugin name" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_not_overwritten(tmp_path, capsys):
    folder = tmp_path / "kpireport-acme-x"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert main(["new-plugin", "acme_x", "--kind", "source", "--directory",
                 str(tmp_path)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert files(folder) == {"notes.txt"}
    (folder / "notes.txt").unlink()  # an empty folder is used
    assert generate(tmp_path, "kpi") == folder


def test_an_unknown_kind_is_a_usage_error(tmp_path, capsys):
    assert main(["new-plugin", "acme_x", "--kind", "exporter", "--directory",
                 str(tmp_path)]) == 2
    assert "exporter" in capsys.readouterr().err


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("KPIREPORT_") and k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    return {**env, **extra}


def _pytest(python: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "pytest", str(folder / "tests"), "-q",
                           "-p", "no:cacheprovider"], env=env, capture_output=True, text=True,
                          cwd=folder, timeout=120, check=False)


@pytest.mark.workers
@pytest.mark.parametrize("kind", KINDS)
def test_the_generated_tests_pass(tmp_path, kind):
    folder = generate(tmp_path, kind)
    run = _pytest(sys.executable, folder,
                  _env(PYTHONPATH=str(folder), KPIREPORT_PLUGINS="kpireport_acme_x"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert " passed" in run.stdout and "failed" not in run.stdout


@pytest.mark.workers
def test_an_installed_source_is_found_through_its_entry_point(tmp_path):
    import importlib.metadata as md
    import importlib.util

    setuptools = tuple(int(p) for p in md.version("setuptools").split(".")[:2])
    if setuptools < (70, 1) and importlib.util.find_spec("wheel") is None:
        pytest.skip("this setuptools cannot build an editable wheel without 'wheel': "
                    "pip install -e '.[test]' again")
    folder = generate(tmp_path, "source")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True, timeout=60)
    python = str(venv / "bin" / "python")
    # This environment's packages (kpireport, its dependencies, pip, setuptools) are seen
    # through a .pth file: a venv's --system-site-packages is the base interpreter's, and an
    # editable kpireport needs its own .pth files processed (addsitedir does).
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path("
                              "'purelib'))"], capture_output=True, text=True, check=True,
                             timeout=30).stdout.strip()
    ours = sysconfig.get_path("purelib")
    (Path(purelib) / "zz_kpireport_test.pth").write_text(
        f"import site; site.addsitedir({ours!r})\n")
    install = subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps",
                              "--no-build-isolation", "--no-index", "-e", str(folder)],
                             env=_env(), capture_output=True, text=True, timeout=120,
                             check=False)
    assert install.returncode == 0, install.stdout + install.stderr
    listing = subprocess.run([python, "-m", "kpireport", "plugins"], env=_env(),
                             capture_output=True, text=True, timeout=60, check=False)
    assert "acme_x (kpireport-acme-x 0.1.0)  module kpireport_acme_x" in listing.stdout, (
        listing.stdout + listing.stderr)
    assert "sources: acme_x" in listing.stdout
    assert "FAILED" not in listing.stdout
    run = _pytest(python, folder, _env())
    assert run.returncode == 0, run.stdout + run.stderr
