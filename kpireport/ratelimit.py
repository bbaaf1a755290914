"""A rate limit shared by every process that uses one credential.

``kpireport run`` renders reports in several worker processes. When their sources share one
credential (an agency's Meta system-user token, a HubSpot private app), the API counts their
calls together: a limiter per process would let N workers send N times the allowed rate and
meet throttling errors. :class:`SharedRateLimiter` keeps the times of the last calls in a small
file under a file lock, so all processes on the machine draw from one window.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from filelock import FileLock


class SharedRateLimiter:
    """At most ``calls`` calls in any ``period`` seconds, across processes sharing ``path``.

    ``acquire()`` (or ``with limiter:``) blocks until a call may be made and returns how long
    it waited. The file holds only call times; name it after a digest of the credential, never
    the credential itself (:meth:`kpireport.sources.SourceContext.rate_limiter` does).
    """

    def __init__(self, path: Path, *, calls: int, period: float,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if calls < 1 or period <= 0:
            raise ValueError("a rate limit needs calls >= 1 and period > 0")
        self.path = path
        self.calls = calls
        self.period = period
        self.clock = clock
        self.sleep = sleep
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = FileLock(str(path) + ".lock")

    def _read(self) -> list[float]:
        try:
            times = json.loads(self.path.read_text(encoding="utf-8"))
            return [float(t) for t in times]
        except (OSError, ValueError, TypeError):
            return []  # no file yet, or one cut short by a killed process: start afresh

    def _write(self, times: list[float]) -> None:
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(times), encoding="utf-8")
        os.replace(tmp, self.path)

    def acquire(self) -> float:
        """Wait until a call fits in the window, record it, and return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                times = [t for t in self._read() if t > now - self.period]
                if len(times) < self.calls:
                    times.append(now)
                    self._write(times)
                    return waited
                pause = min(times) + self.period - now
            # Sleep outside the lock, so the other processes can read the window meanwhile.
            pause = max(pause, 0.001)
            self.sleep(pause)
            waited += pause

    def __enter__(self) -> float:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None
