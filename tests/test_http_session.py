"""``SourceContext.http_session``: the retries and limits remote sources build on, exercised
against a server on 127.0.0.1 with real requests."""

import dataclasses
import datetime as dt
import http.server
import threading
import time
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest
import requests

from kpireport.sources import SourceContext


class Script(http.server.BaseHTTPRequestHandler):
    """Answers from a list of (status, headers, delay) given by the test, one per request."""

    answers: ClassVar[list] = []
    hits: ClassVar[list] = []

    def _answer(self) -> None:
        status, headers, delay = self.answers.pop(0) if self.answers else (200, {}, 0)
        self.hits.append((self.command, time.monotonic()))
        time.sleep(delay)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def server():
    Script.answers, Script.hits = [], []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Script)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def context() -> SourceContext:
    return SourceContext(name="api", client_id="acme", timezone=ZoneInfo("UTC"),
                         base_dir=Path("."), today=dt.date(2026, 11, 25))


def test_retry_after_is_honoured_on_a_server_error_too(server):
    Script.answers = [(500, {"Retry-After": "1"}, 0), (200, {}, 0)]
    session = context().http_session(backoff=0)
    assert session.get(server).status_code == 200
    (_, first), (_, second) = Script.hits
    assert second - first >= 0.9


def test_a_retry_after_of_hours_waits_at_most_max_wait(server):
    Script.answers = [(429, {"Retry-After": "21600"}, 0), (200, {}, 0)]
    started = time.monotonic()
    response = context().http_session(backoff=0, max_wait=0.3).post(server, json={})
    assert response.status_code == 200 and len(Script.hits) == 2  # POST reads are retried
    assert time.monotonic() - started < 5


def test_a_context_without_backoff_retries_at_once(server):
    # What kpireport.testing.make_context gives: retries exercised, no wait at all.
    Script.answers = [(503, {"Retry-After": "2"}, 0), (503, {}, 0), (200, {}, 0)]
    quick = dataclasses.replace(context(), retry_backoff=0.0)
    started = time.monotonic()
    assert quick.http_session(backoff=5).get(server).status_code == 200
    assert len(Script.hits) == 3 and time.monotonic() - started < 1.5


def test_a_hung_server_times_out(server):
    Script.answers = [(200, {}, 3)]
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectionError):
        context().http_session(retries=0, timeout=0.5).get(server)
    assert time.monotonic() - started < 2.5


def test_a_status_left_out_is_not_retried_even_with_retry_after(server):
    # A source that handles 429 itself (Google's daily quotas do not come back in seconds)
    # gets it at once: urllib3 alone would retry a 429 carrying Retry-After.
    Script.answers = [(429, {"Retry-After": "0"}, 0), (200, {}, 0)]
    quick = dataclasses.replace(context(), retry_backoff=0.0)
    response = quick.http_session(statuses=(500, 503)).post(server, json={})
    assert response.status_code == 429 and len(Script.hits) == 1
    Script.answers, Script.hits[:] = [(503, {"Retry-After": "0"}, 0), (200, {}, 0)], []
    assert quick.http_session(statuses=(500, 503)).get(server).status_code == 200
    assert len(Script.hits) == 2
