"""The Jinja2 environment a report is written with: its template folders (the agency's,
the theme's, the default theme's), its catalogues, and its compiled templates kept on disk.

Templates are looked up in the agency's template folder first, then in the report's theme,
then in the default theme, so an agency overrides one block with a two-line template that
``{% extends "default/report.html.j2" %}`` (or the theme's own name) without copying it.
Autoescaping is on: everything that comes from data is text, never markup.
"""

from __future__ import annotations

import functools
import io
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import jinja2
import jinja2.bccache
from markupsafe import Markup

from kpireport.untrusted import clean_text

if TYPE_CHECKING:
    from gettext import NullTranslations

    from kpireport.themes import Theme


def css_string(value: object) -> Markup:
    """A CSS string literal: safe inside ``<style>`` whatever the config says."""
    text = str(value)
    out = ['"']
    for ch in text:
        if ch in '"\\<>&\n\r' or ord(ch) < 32:
            out.append(f"\\{ord(ch):x} ")
        else:
            out.append(ch)
    out.append('"')
    return Markup("".join(out))


def template_folders(env: jinja2.Environment) -> list[Path]:
    """The agency's and the themes' folders the environment loads templates from."""
    folders: list[Path] = []
    loaders = getattr(env.loader, "loaders", [env.loader])
    for loader in loaders:
        for path in getattr(loader, "searchpath", []):
            if Path(path) not in folders:
                folders.append(Path(path))
    return folders


@lru_cache(maxsize=32)
def translations(locale_dir: Path, language: str, domain: str = "kpireport") -> NullTranslations:
    """The theme's ``locale/<lang>/LC_MESSAGES/kpireport.po`` (or a plugin's own ``domain``),
    compiled in memory.

    Catalogues stay as ``.po`` text in the repository: a new language is one file, and no build
    step can forget to compile it.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import NullTranslations, Translations

    po = locale_dir / language / "LC_MESSAGES" / f"{domain}.po"
    if not po.is_file():
        return NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=domain)


# --- The Jinja2 environment -------------------------------------------------------------------


class _TemplateCodeCache(jinja2.BytecodeCache):
    """Compiled templates, kept for the process and on disk, checked against the source.

    Each report gets its own environment (its language, its plugins' filters), so Jinja2's own
    cache would compile the theme again for every report (about 40 ms), and every cron run
    would start cold. Jinja2's file cache (a private folder of the user's temporary
    directory) keeps them across runs; when it cannot be used, memory alone does.
    """

    GENERATION = "2"
    """Bumped when what the code holds changes for the same source: generation 1 could hold
    a locale-dependent filter's result folded in at compile time (see :func:`unfoldable`)."""

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}
        self._disk: jinja2.FileSystemBytecodeCache | bool | None = False  # False: not yet tried

    def _files(self) -> jinja2.FileSystemBytecodeCache | None:
        if self._disk is False:
            try:
                self._disk = jinja2.FileSystemBytecodeCache(pattern="kpireport-%s.cache")
            except (OSError, RuntimeError):
                self._disk = None
        return self._disk  # type: ignore[return-value]

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        return f"{super().get_cache_key(name, filename)}-{self.GENERATION}"

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key not in self._store and (files := self._files()) is not None:
            try:
                files.load_bytecode(bucket)
            except (OSError, ValueError, EOFError):
                bucket.reset()
            if bucket.code is not None:
                self._store[bucket.key] = bucket.bytecode_to_string()
                return
        if bucket.key in self._store:
            bucket.bytecode_from_string(self._store[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()
        if (files := self._files()) is not None:
            try:
                files.dump_bytecode(bucket)
            except OSError:
                self._disk = None


_BYTECODE = _TemplateCodeCache()


def theme_translations(theme: Theme, default: Theme | None, language: str) -> NullTranslations:
    """The theme's catalogue for ``language``, else the default theme's."""
    if default is not None and not (Path(theme.path) / "locale" / language).is_dir():
        return translations(Path(default.path) / "locale", language)
    return translations(Path(theme.path) / "locale", language)


def build_environment(theme: Theme, default: Theme | None, agency_dir: Path | None,
                      language: str) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if agency_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(agency_dir)))
    loaders.append(jinja2.FileSystemLoader(str(theme.path)))
    # Themes are also reachable by name, so an override can extend "default/report.html.j2".
    prefixed = {theme.name: jinja2.FileSystemLoader(str(theme.path))}
    if default is not None and default.name != theme.name:
        loaders.append(jinja2.FileSystemLoader(str(default.path)))
        prefixed[default.name] = jinja2.FileSystemLoader(str(default.path))
    loaders.append(jinja2.PrefixLoader(prefixed))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=_BYTECODE,
        finalize=_printable,
    )
    tr = theme_translations(theme, default, language)
    env.install_gettext_translations(tr, newstyle=True)  # type: ignore[attr-defined]
    env.globals["translations"] = tr
    return env


def unfoldable(functions: dict[str, Any]) -> None:
    """Make every filter or test not Jinja2's own run when the template is rendered, never
    when it is compiled.

    Jinja2 folds a filter of constants (``{{ 1 | number(2) }}``) into the compiled code by
    calling it then, unless it takes the render context; and the compiled code is shared by
    every report (:class:`_TemplateCodeCache`) whatever its locale: an English report printed
    "0.71 / 1,00" after a French one. The engine's and plugins' filters depend on the report
    (its locale, currency, catalogue), so none may be folded.
    """
    from jinja2.defaults import DEFAULT_FILTERS, DEFAULT_TESTS

    builtin = {**DEFAULT_FILTERS, **DEFAULT_TESTS}
    for name, func in list(functions.items()):
        passed = getattr(func, "jinja_pass_arg", None)
        if builtin.get(name) is func or getattr(passed, "name", None) == "context":
            continue
        functions[name] = _at_render_time(func, getattr(passed, "name", None))


def _at_render_time(func: Any, passed: str | None) -> Any:
    """``func`` taking the render context (so never folded), called as it expects."""
    @jinja2.pass_context
    @functools.wraps(func)
    def call(context: jinja2.runtime.Context, *args: Any, **kwargs: Any) -> Any:
        if passed == "eval_context":
            return func(context.eval_ctx, *args, **kwargs)
        if passed == "environment":
            return func(context.environment, *args, **kwargs)
        return func(*args, **kwargs)

    return call


def _printable(value: Any) -> Any:
    """Every ``{{ … }}`` a template prints: text without control characters or bidirectional
    overrides, whatever data it came from (markup the engine built is left as it is)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return clean_text(value)
    return value


def env_translations(env: jinja2.Environment) -> NullTranslations:
    """The translations :func:`build_environment` put in ``env.globals`` (typed object)."""
    return cast("NullTranslations", env.globals["translations"])
