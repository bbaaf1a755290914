"""A fake HTTP API on 127.0.0.1 for testing source plugins against their real client code.

A test declares routes (method, path pattern, handler), points the plugin's base URL at
:attr:`FakeServer.url` and lets the plugin make its real ``requests`` calls. Every call is
logged with its headers and body (:attr:`FakeServer.calls`), so a test asserts what the plugin
sent; failures can be scripted (a status, a body, headers, latency, a hang) for the next calls
of a route, which is how retries, throttling and errors are exercised::

    with FakeServer() as api:
        api.route("POST", r"/v1/report", lambda call: {"rows": []})
        api.fail("POST", r"/v1/report", Reply(status=503), times=2)
        ...  # the source retries twice, then gets its rows
        assert len(api.calls_to("/v1/report")) == 3
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True, kw_only=True)
class Call:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    started: float
    """``time.monotonic()`` when it arrived; ``finished`` when its reply was sent."""
    finished: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8")).items()}


@dataclass(kw_only=True)
class Reply:
    """What to answer: a JSON-encodable ``body`` (or bytes), a status and headers.

    ``delay`` seconds pass before the reply; ``hang`` never replies (until the server stops),
    to test a client's timeout.
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False


Handler = Callable[[Call], "Reply | dict[str, Any] | list[Any]"]


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) answering declared routes."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        """Seconds added before every reply."""
        self.calls: list[Call] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._failures: list[tuple[str, re.Pattern[str], Reply]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- Declaring what it answers --------------------------------------------------------

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Answer ``method`` requests whose path matches the regular expression ``path`` (in
        full) with ``handler(call)``: a :class:`Reply`, or a dict/list sent as JSON with 200."""
        self._routes.append((method.upper(), re.compile(path), handler))

    def fail(self, method: str, path: str, reply: Reply, *, times: int = 1) -> None:
        """Answer the next ``times`` matching calls with ``reply`` instead of the route."""
        with self._lock:
            self._failures.extend([(method.upper(), re.compile(path), reply)] * times)

    def calls_to(self, path: str, method: str | None = None) -> list[Call]:
        """The calls whose path matches ``path`` (a regular expression, in full)."""
        pattern = re.compile(path)
        with self._lock:
            return [c for c in self.calls if pattern.fullmatch(c.path)
                    and (method is None or c.method == method.upper())]

    def max_concurrency(self, path: str = ".*") -> int:
        """How many matching calls were in progress at once, at the most."""
        events = []
        for call in self.calls_to(path):
            events += [(call.started, 1), (call.finished, -1)]
        most = current = 0
        for _, step in sorted(events, key=lambda e: (e[0], e[1])):
            current += step
            most = max(most, current)
        return most

    # --- Running ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeServer:
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll interval: stopping the server (each test's teardown) waits for it.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- Answering --------------------------------------------------------------------------

    def _answer(self, call: Call) -> Reply:
        with self._lock:
            for i, (method, pattern, reply) in enumerate(self._failures):
                if method == call.method and pattern.fullmatch(call.path):
                    del self._failures[i]
                    return reply
        for method, pattern, handler in self._routes:
            if method == call.method and pattern.fullmatch(call.path):
                result = handler(call)
                return result if isinstance(result, Reply) else Reply(body=result)
        return Reply(status=404, body={"error": f"no route for {call.method} {call.path}"})


class _Server(http.server.ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: a client opening more connections at once
    # (a source's concurrent requests) had some dropped and retried by TCP a second later.
    request_queue_size = 128


def _handler_for(server: FakeServer) -> type[http.server.BaseHTTPRequestHandler]:
    class _Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: with Nagle's algorithm on, a kept-alive
        # connection waits for the client's delayed ACK, some 40 ms a call.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            call = Call(method=self.command, path=parts.path, query=parse_qs(parts.query),
                        headers={k: v for k, v in self.headers.items()}, body=body,
                        started=time.monotonic())
            try:
                reply = server._answer(call)
            except Exception as exc:  # a broken handler is the test's bug: say so loudly
                reply = Reply(status=599, body={"fake_server_handler_error": repr(exc)})
            wait = server.latency + reply.delay
            if reply.hang:
                server._stopping.wait(3600)
                return
            if wait:
                time.sleep(wait)
            data = (reply.body if isinstance(reply.body, bytes)
                    else b"" if reply.body is None and reply.status == 204
                    else json.dumps(reply.body).encode("utf-8"))
            # Logged before the reply goes out: a client that has its answer finds the call in
            # the log (logged after, a test reading it at once could miss the last call).
            with server._lock:
                server.calls.append(Call(**{**call.__dict__, "finished": time.monotonic()}))
            self.send_response(reply.status)
            headers = {"Content-Type": "application/json", **reply.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    return _Handler
