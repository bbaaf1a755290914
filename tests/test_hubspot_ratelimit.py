"""Two workers on one HubSpot token stay under the portal's search limit, counted by the fake.

Each worker is a source with its own context and its own limiter (as in two worker processes),
on one state folder: the limiter's window is the file they share. The control, with a state
folder each, shows the fake does throttle when the windows are not shared.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from kpireport import DateRange, Granularity, Query, SourceError
from kpireport.testing import FakeServer, make_context
from kpireport.testing.fakes.hubspot import HubSpotFake
from kpireport_hubspot.settings import HubSpotSettings
from kpireport_hubspot.source import HubSpotSource

pytestmark = [pytest.mark.usefixtures("only_localhost"), pytest.mark.workers]

SEARCH = r"/crm/v3/objects/\w+/search"
# Four months by day a worker, other months for each (the state folder they share holds the
# cache too): four searches each, every month's records in one page.
QUERIES = [Query(metrics=("won_deals",), granularity=Granularity.DAY,
                 range=DateRange(start=dt.date(2026, first, 1),
                                 end=dt.date(2026, first + 4, 1) - dt.timedelta(days=1)))
           for first in (2, 6)]


def busiest_second(server: FakeServer) -> int:
    """The most searches that reached the fake within any one second."""
    times = sorted(c.started for c in server.calls_to(SEARCH))
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


def run_two_workers(server: FakeServer, portal: HubSpotFake, states: tuple[Path, Path],
                    rate: int = 4) -> list[object]:
    results: list[object] = [None, None]

    def work(i: int) -> None:
        context = make_context(states[i], plugin="hubspot", client_id=f"client-{i}")
        source = HubSpotSource(HubSpotSettings(token=portal.token, base_url=server.url,
                                               searches_per_second=rate), context)
        try:
            results[i] = source.fetch(QUERIES[i])
        except SourceError as exc:
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_workers_on_one_token_stay_under_the_limit(tmp_path: Path) -> None:
    with FakeServer() as server:
        portal = HubSpotFake(server, seed=2, busy_month_contacts=0)  # 5 searches a second
        # Three a second between them, two under the portal's five: on a loaded machine a
        # request's way to the fake varies by tens of milliseconds, which bunches arrivals.
        results = run_two_workers(server, portal, (tmp_path, tmp_path), rate=3)
    assert portal.rate_limited == 0
    assert len(server.calls_to(SEARCH)) == 8
    assert busiest_second(server) <= 5
    assert all(not isinstance(r, SourceError) and r is not None for r in results)


def test_without_a_shared_window_the_fake_throttles(tmp_path: Path) -> None:
    with FakeServer() as server:
        portal = HubSpotFake(server, seed=2, busy_month_contacts=0)
        run_two_workers(server, portal, (tmp_path / "a", tmp_path / "b"))
    assert portal.rate_limited > 0 or busiest_second(server) > 5
