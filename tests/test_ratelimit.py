"""A rate limit shared by worker processes: the window holds, across processes."""

import json
import multiprocessing

import pytest

from kpireport.ratelimit import SharedRateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_calls_beyond_the_window_wait_for_the_oldest_to_leave_it(tmp_path):
    t = FakeTime()
    limiter = SharedRateLimiter(tmp_path / "rl", calls=3, period=10, clock=t.clock,
                                sleep=t.sleep)
    waits = []
    for _ in range(5):
        waits.append(limiter.acquire())
        t.now += 1
    assert waits[:3] == [0, 0, 0]
    # The 4th call at t=103 waits until the first (t=100) leaves the window at t=110.
    assert waits[3] == pytest.approx(7)
    assert waits[4] == pytest.approx(0.0)  # t=111: the 2nd call (t=101) has just left


def test_two_limiters_on_one_file_share_the_window(tmp_path):
    t = FakeTime()
    a = SharedRateLimiter(tmp_path / "rl", calls=2, period=10, clock=t.clock, sleep=t.sleep)
    b = SharedRateLimiter(tmp_path / "rl", calls=2, period=10, clock=t.clock, sleep=t.sleep)
    assert a.acquire() == 0 and b.acquire() == 0
    assert a.acquire() == pytest.approx(10)


def test_a_damaged_file_starts_a_new_window(tmp_path):
    (tmp_path / "rl").write_text("not json")
    limiter = SharedRateLimiter(tmp_path / "rl", calls=1, period=10)
    assert limiter.acquire() == 0
    assert len(json.loads((tmp_path / "rl").read_text())) == 1


class _Recording(SharedRateLimiter):
    """Keeps the time each call was granted, as the limiter wrote it under its lock (a time
    taken after acquire() returns could be late by however long the process waited)."""

    granted: list[float]

    def _write(self, times: list[float]) -> None:
        super()._write(times)
        self.granted.append(times[-1])


def _hammer(path: str, out: str, n: int) -> None:
    limiter = _Recording(__import__("pathlib").Path(path), calls=5, period=0.5)
    limiter.granted = []
    for _ in range(n):
        limiter.acquire()
    with open(out, "a") as f:
        f.write("".join(f"{s}\n" for s in limiter.granted))


@pytest.mark.workers
def test_processes_sharing_a_credential_stay_under_the_limit(tmp_path):
    out = tmp_path / "stamps"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_hammer, args=(str(tmp_path / "rl"), str(out), 6))
             for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    stamps = sorted(float(line) for line in out.read_text().split())
    assert len(stamps) == 18
    # No window of 0.5 s holds more than 5 calls, whichever process made them.
    for i in range(len(stamps) - 5):
        assert stamps[i + 5] - stamps[i] >= 0.5
