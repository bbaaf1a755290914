"""The plugin contract's one import place: every public name is there, and only those."""

import dataclasses
import subprocess
import sys

import pytest

import kpireport


def test_every_name_in_all_is_importable_from_kpireport():
    for name in kpireport.__all__:
        assert getattr(kpireport, name) is not None, name
    namespace: dict = {}
    exec(f"from kpireport import {', '.join(kpireport.__all__)}", namespace)
    assert set(kpireport.__all__) <= set(namespace)


def test_all_lists_exactly_the_exports():
    assert sorted(kpireport.__all__) == sorted(["CONTRACT_VERSION", *kpireport._EXPORTS])
    assert len(set(kpireport.__all__)) == len(kpireport.__all__)


def test_an_unknown_name_is_an_attribute_error():
    try:
        kpireport.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


@pytest.mark.workers  # a fresh interpreter: this one has imported everything already
def test_importing_kpireport_loads_nothing_heavy():
    code = ("import sys, kpireport; "
            "print(sorted(m for m in ('pydantic', 'jinja2', 'weasyprint', 'requests', "
            "'kpireport.data') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.workers
def test_loading_the_api_sources_loads_none_of_their_libraries():
    # `kpireport --help` loads every plugin: the API sources' own libraries (and what only a
    # run needs) wait until a report asks a source.
    code = ("import sys, contextlib, io\n"
            "from kpireport.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['--help'])\n"
            "import kpireport.plugins as p\n"
            "names = sorted(p.load_plugins([]).sources)\n"
            "heavy = ('google.auth', 'google_auth_oauthlib', 'jwt', 'cryptography', 'filelock',"
            " 'weasyprint', 'requests')\n"
            "print(names, sorted(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == ("['csv', 'ga4', 'hubspot', 'meta', 'salesforce', 'search_console'] "
                           "[]")


def test_contract_version_is_major_minor():
    major, minor = kpireport.CONTRACT_VERSION.split(".")
    assert major.isdigit() and minor.isdigit()


def test_every_public_dataclass_is_keyword_only():
    # Adding a field to a keyword-only dataclass never breaks a plugin that builds one.
    public = [getattr(kpireport, name) for name in kpireport.__all__]
    classes = [c for c in public if isinstance(c, type) and dataclasses.is_dataclass(c)]
    assert len(classes) >= 20
    positional = [c.__name__ for c in classes
                  if any(f.init and not f.kw_only for f in dataclasses.fields(c))]
    assert positional == []


def test_the_package_says_it_is_typed():
    # PEP 561: without the marker, a plugin author's mypy treats every kpireport name as Any.
    import importlib.resources
    import tomllib
    from pathlib import Path

    assert importlib.resources.files("kpireport").joinpath("py.typed").is_file()
    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["kpireport"]
