"""Importing WeasyPrint through kpireport.weasy: same libraries, no library-search subprocesses."""

import subprocess
import sys

import pytest

from kpireport import weasy

LISTING = """\
1234 libs found in cache `/etc/ld.so.cache'
\tlibpangoft2-1.0.so.0 (libc6,x86-64) => /lib/x86_64-linux-gnu/libpangoft2-1.0.so.0
\tlibgobject-2.0.so.0 (libc6,x86-64) => /lib/x86_64-linux-gnu/libgobject-2.0.so.0
\tlibgobject-2.0.so.0 (libc6) => /lib/i386-linux-gnu/libgobject-2.0.so.0
\tlibfontconfig.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libfontconfig.so.1
\tlibfontconfig.so (libc6,x86-64) => /lib/x86_64-linux-gnu/libfontconfig.so
\tlibharfbuzz.so.0 (libc6) => /lib/i386-linux-gnu/libharfbuzz.so.0
"""


def test_the_linker_cache_maps_library_names_to_this_abis_sonames(monkeypatch):
    def fake_run(args, **kwargs):
        assert args[1:] == ["-p"] and kwargs["env"]["LC_ALL"] == "C"
        return subprocess.CompletedProcess(args, 0, stdout=LISTING, stderr="")

    monkeypatch.setattr(weasy.subprocess, "run", fake_run)
    monkeypatch.setattr(weasy, "_abi", lambda: "libc6,x86-64")
    monkeypatch.setattr(weasy.os.path, "exists", lambda path: path == "/sbin/ldconfig")
    sonames = weasy._linker_cache()
    assert sonames == {"pangoft2-1.0": "libpangoft2-1.0.so.0",
                       "gobject-2.0": "libgobject-2.0.so.0",
                       "fontconfig": "libfontconfig.so.1"}  # the first entry, as ctypes picks
    assert "harfbuzz" not in sonames  # another ABI's copy is not this process's


def test_without_a_linker_cache_the_standard_search_is_used(monkeypatch):
    monkeypatch.setattr(weasy.os.path, "exists", lambda path: False)
    assert weasy._linker_cache() is None


@pytest.mark.pdf
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fast path is Linux's")
def test_load_imports_weasyprint_and_puts_the_standard_search_back():
    # A fresh interpreter: in this one WeasyPrint is imported already.
    code = (
        "import ctypes.util, subprocess\n"
        "standard = ctypes.util.find_library\n"
        "calls = []\n"
        "original_popen = subprocess.Popen.__init__\n"
        "def spy(self, args, *a, **k):\n"
        "    calls.append(args)\n"
        "    return original_popen(self, args, *a, **k)\n"
        "subprocess.Popen.__init__ = spy\n"
        "from kpireport import weasy\n"
        "module = weasy.load()\n"
        "assert ctypes.util.find_library is standard\n"
        "from weasyprint.text.ffi import harfbuzz_subset, pango\n"
        "assert pango is not None\n"
        "print(len(calls), module.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[1] == "weasyprint"
    assert int(out[0]) <= 1  # one ldconfig, instead of ldconfig, gcc and ld per name tried
