"""GA4's concurrent-requests quota, held across every worker process of a run.

A property answers at most ten requests in progress at once (standard properties; 50 for
GA4 360) and refuses the eleventh with a 429. A run forks one worker per CPU, each with its
own threads, so a per-process semaphore is not enough: each request holds one of ``size``
lock files of the property's folder in the state folder (``flock``, released by the kernel if
the process dies), whichever worker it is in.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POLL_S = 0.01


class PropertySlots:
    """At most ``size`` holders at once, across threads and processes sharing ``folder``."""

    def __init__(self, folder: Path, size: int) -> None:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.paths = [folder / f"slot-{i}.lock" for i in range(size)]

    @contextmanager
    def hold(self) -> Iterator[None]:
        from filelock import FileLock, Timeout  # when a report runs, not when plugins load

        while True:
            # A fresh lock object per attempt: its own file descriptor, so two threads of one
            # process exclude each other as two processes do.
            for path in random.sample(self.paths, len(self.paths)):
                lock = FileLock(str(path), thread_local=False)
                try:
                    lock.acquire(timeout=0)
                except Timeout:
                    continue
                try:
                    yield
                finally:
                    lock.release()
                return
            time.sleep(POLL_S)
