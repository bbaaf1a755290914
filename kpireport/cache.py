"""A source's cache of raw responses, on disk in its state folder, keyed by request.

A source asks :meth:`ResponseCache.cached` (or ``get``/``put``) with a description of its
request (URL, parameters, body: anything JSON can encode, without the token) and says whether
the answer is **final** — data that will not change any more, such as a month whose figures the
API has closed. Final answers are kept until the cache is pruned: a re-render, a ``preview``
refresh, a second run of the same report and next month's report (whose series overlaps this
one's) ask the API nothing for them. Answers that are not final yet live ``ttl`` seconds, so
that the several queries of one run and a preview refresh share them without hiding new data
for long.

Entries are JSON files written atomically with mode 0600 in a folder of mode 0700; a damaged
entry is a miss, never an error. Keys are SHA-256 digests of the request, so no part of a
request (an account id, a query) appears in a file name.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

T = TypeVar("T")

DEFAULT_TTL = 3600.0
"""How long an answer that is not final is reused, in seconds."""


def request_key(request: object) -> str:
    """A stable digest of a request description (dict keys in any order give the same key)."""
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str,
                      ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """Raw responses of one plugin, keyed by request.

    ``folder`` is created (mode 0700) on the first write. ``clock`` is for tests. With
    ``refresh`` nothing stored is read back (every request reaches the API, as ``kpireport
    check`` needs); what it answers is still stored.
    """

    def __init__(self, folder: Path, *, clock: Callable[[], float] = time.time,
                 refresh: bool = False) -> None:
        self.folder = folder
        self.clock = clock
        self.refresh = refresh
        self.hits = 0
        self.misses = 0

    def _path(self, request: object) -> Path:
        key = request_key(request)
        return self.folder / key[:2] / f"{key}.json"

    def get(self, request: object) -> Any | None:
        """The stored answer to ``request``, or None when there is none or it has expired."""
        path = self._path(request)
        if self.refresh:
            self.misses += 1
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            expires = entry["expires"]
            response = entry["response"]
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # a damaged entry is asked again, not trusted
            self.misses += 1
            return None
        if expires is not None and expires <= self.clock():
            path.unlink(missing_ok=True)
            self.misses += 1
            return None
        self.hits += 1
        return response

    def put(self, request: object, response: Any, *, final: bool,
            ttl: float = DEFAULT_TTL) -> None:
        """Store ``response`` (JSON-encodable): for good when ``final``, else ``ttl`` seconds."""
        path = self._path(request)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        entry = {"final": final, "expires": None if final else self.clock() + ttl,
                 "response": response}
        data = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # mkstemp: mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def cached(self, request: object, call: Callable[[], T], *,
               final: bool | Callable[[T], bool], ttl: float = DEFAULT_TTL) -> T:
        """The stored answer to ``request``, or ``call()``'s, stored for next time.

        ``final`` says whether the answer will change no more; it may be a function of the
        answer (a response whose metadata says its last days are incomplete is not final).
        """
        found = self.get(request)
        if found is not None:
            return cast(T, found)  # what call() gave before, read back as JSON
        response = call()
        is_final = final(response) if callable(final) else final
        self.put(request, response, final=is_final, ttl=ttl)
        return response

    def prune(self, *, older_than: float) -> int:
        """Delete entries not written for ``older_than`` seconds; returns how many."""
        if not self.folder.is_dir():
            return 0
        limit = self.clock() - older_than
        removed = 0
        for path in self.folder.glob("*/*.json"):
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
                    removed += 1
            except OSError:
                continue
        return removed
