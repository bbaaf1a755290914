"""The sources' response cache: final answers kept, others for a while, nothing trusted blindly."""

import json
import stat

from kpireport.cache import ResponseCache, request_key


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_final_answer_is_served_again_without_calling(tmp_path):
    cache = ResponseCache(tmp_path / "cache")
    calls = []

    def call():
        calls.append(1)
        return {"rows": [{"clicks": 3}]}

    request = {"url": "https://api.example/q", "body": {"startDate": "2026-10-01"}}
    first = cache.cached(request, call, final=True)
    second = cache.cached(dict(reversed(request.items())), call, final=True)
    assert first == second == {"rows": [{"clicks": 3}]}
    assert len(calls) == 1
    assert (cache.hits, cache.misses) == (1, 1)


def test_an_answer_not_final_expires(tmp_path):
    clock = Clock()
    cache = ResponseCache(tmp_path / "cache", clock=clock)
    cache.put("q", [1], final=False, ttl=60)
    assert cache.get("q") == [1]
    clock.now += 61
    assert cache.get("q") is None
    cache.put("q", [2], final=True)
    clock.now += 10**9
    assert cache.get("q") == [2]


def test_finality_can_depend_on_the_answer(tmp_path):
    clock = Clock()
    cache = ResponseCache(tmp_path / "cache", clock=clock)
    cache.cached("a", lambda: {"incomplete": True}, final=lambda r: not r["incomplete"], ttl=5)
    cache.cached("b", lambda: {"incomplete": False}, final=lambda r: not r["incomplete"], ttl=5)
    clock.now += 6
    assert cache.get("a") is None
    assert cache.get("b") == {"incomplete": False}


def test_entries_are_private_and_named_by_digest(tmp_path):
    folder = tmp_path / "cache"
    cache = ResponseCache(folder)
    cache.put({"account": "act_12345"}, {"spend": "1.0"}, final=True)
    files = list(folder.glob("*/*.json"))
    assert len(files) == 1
    assert "12345" not in str(files[0])
    assert files[0].stem == request_key({"account": "act_12345"})
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert json.loads(files[0].read_text())["response"] == {"spend": "1.0"}


def test_a_damaged_entry_is_a_miss(tmp_path):
    cache = ResponseCache(tmp_path / "cache")
    cache.put("q", [1], final=True)
    path = next((tmp_path / "cache").glob("*/*.json"))
    path.write_text("{not json")
    assert cache.get("q") is None
    assert not path.exists()
    assert cache.cached("q", lambda: [2], final=True) == [2]


def test_prune_removes_old_entries(tmp_path):
    import os

    cache = ResponseCache(tmp_path / "cache")
    cache.put("old", 1, final=True)
    cache.put("new", 2, final=True)
    old = next(p for p in (tmp_path / "cache").glob("*/*.json")
               if p.stem == request_key("old"))
    os.utime(old, (0, 0))
    assert cache.prune(older_than=3600) == 1
    assert cache.get("old") is None and cache.get("new") == 2
