"""Importing WeasyPrint without its library search's start-up cost.

On import, WeasyPrint opens Pango, HarfBuzz, Fontconfig and GObject through cffi, trying
Windows and macOS names before the Linux ones. cffi hands each name it cannot open to
``ctypes.util.find_library``, which on Linux runs ``ldconfig``, ``gcc`` and ``ld`` as
subprocesses for every miss: about 0.2 s of a report's 1.5 s budget in a fresh process.
While WeasyPrint is imported, :func:`load` answers those lookups from one reading of the
dynamic linker's cache instead. Elsewhere, or when that cache cannot be read, the standard
search runs unchanged.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from types import ModuleType

_ENTRY = re.compile(r"^\s+(lib(\S+?)\.so(?:\.\S*)?)\s+\(([^)]*)\)")


def load() -> ModuleType:
    """Import and return :mod:`weasyprint` (a no-op once imported)."""
    if "weasyprint" in sys.modules:
        return sys.modules["weasyprint"]
    sonames = _linker_cache() if sys.platform.startswith("linux") else None
    if sonames is None:
        import weasyprint

        return weasyprint
    import ctypes.util

    standard = ctypes.util.find_library

    def find_library(name: str) -> str | None:
        # What the standard search would answer: the soname, which dlopen then resolves.
        return sonames.get(name)

    ctypes.util.find_library = find_library
    try:
        import weasyprint
    finally:
        ctypes.util.find_library = standard
    return weasyprint


def _linker_cache() -> dict[str, str] | None:
    """``name -> soname`` (``gobject-2.0 -> libgobject-2.0.so.0``) for this machine's ABI."""
    for ldconfig in ("/sbin/ldconfig", "/usr/sbin/ldconfig"):
        if os.path.exists(ldconfig):
            break
    else:
        return None
    try:
        listing = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=5,
                                 env={**os.environ, "LC_ALL": "C", "LANG": "C"}, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    abi = _abi()
    sonames: dict[str, str] = {}
    for line in listing.stdout.splitlines():
        match = _ENTRY.match(line)
        if match and match.group(3).startswith(abi):
            sonames.setdefault(match.group(2), match.group(1))  # the first, as ctypes does
    return sonames or None


def _abi() -> str:
    """The ABI tag ``ldconfig -p`` prints for this interpreter's libraries (as ctypes.util)."""
    machine = os.uname().machine + ("-64" if sys.maxsize > 2**32 else "-32")
    return {"x86_64-64": "libc6,x86-64", "ppc64-64": "libc6,64bit",
            "sparc64-64": "libc6,64bit", "s390x-64": "libc6,64bit",
            "ia64-64": "libc6,IA-64"}.get(machine, "libc6")
