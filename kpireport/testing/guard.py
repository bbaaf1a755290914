"""The network guard as a fixture body, shared by ``only_localhost`` and the contract suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kpireport.testing.network import network_guard

CALL_REPORT = pytest.StashKey[pytest.TestReport]()
"""The call phase's report of a test, kept by the pytest plugin (see ``pytest_plugin``)."""


def guarded(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Refuse connections beyond this machine during the test. An attempt fails the test where
    it happens; if the code under test swallowed the error and the test passed anyway, it
    fails at teardown."""
    with network_guard() as attempts:
        yield attempts
    report = request.node.stash.get(CALL_REPORT, None)
    if attempts and (report is None or report.passed):
        pytest.fail(attempts[0], pytrace=False)
