"""``kpireport preview``: one client's report on localhost, re-rendered when its inputs change.

A watcher polls the modification times of the config file, the theme and agency template
folders and the local files the client's sources read (``Source.watched_paths``); on a
change it reloads the config and renders the HTML again. The page polls ``/version`` and
reloads itself. A broken template or config keeps the last good page on screen with the
error above it. Only three routes are served, from memory:
nothing on disk is reachable through the server.
"""

from __future__ import annotations

import datetime as dt
import html
import http.server
import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpireport.secrets import redact

if TYPE_CHECKING:
    from kpireport.config import ClientConfig, Config
    from kpireport.plugins import PluginSet

log = logging.getLogger("kpireport.preview")

RELOADER = """<script>
(function () {
  var seen = null;
  setInterval(function () {
    fetch("/version", {cache: "no-store"}).then(function (r) { return r.text(); })
      .then(function (v) {
        if (seen === null) { seen = v; } else if (v !== seen) { location.reload(); }
      })
      .catch(function () {});
  }, 1000);
})();
</script>"""


def watched_paths(config: Config, client: ClientConfig, plugins: PluginSet,
                  today: dt.date) -> list[Path]:
    """The local files the client's sources say they read (``Source.watched_paths``)."""
    from kpireport.pipeline.plan import build_sources, close_sources

    index = next(i for i, c in enumerate(config.clients) if c.id == client.id)
    sources, _, _ = build_sources(config, client, index, plugins, today)
    try:
        return [Path(p) for source in sources.values() for p in source.watched_paths()]
    finally:
        close_sources(sources)


class Preview:
    """The rendering side: what to watch, and the last good HTML (or the last error)."""

    def __init__(self, config_path: Path, client_id: str, *, period: str | None = None,
                 extra_plugins: Iterable[str] = (), now: dt.datetime | None = None) -> None:
        self.config_path = Path(config_path)
        self.client_id = client_id
        self.period = period
        self.extra_plugins = list(extra_plugins)
        self.now = now
        self.version = 0
        self.html = ""
        self.error: str | None = None
        self.watched: list[Path] = [self.config_path]
        self._lock = threading.Lock()
        self._stamps: dict[Path, float] = {}

    def _compute(self) -> tuple[Any, Any, Any, Path | None]:
        from kpireport.config import load_config
        from kpireport.config.checks import ensure_valid
        from kpireport.pipeline.deliver import template_dir_of
        from kpireport.pipeline.report import compute_report
        from kpireport.plugins import load_plugins

        config = load_config(self.config_path)
        plugins = load_plugins(self.extra_plugins, disable=config.plugins.disable)
        ensure_valid(config, plugins)
        client = config.client(self.client_id)
        report = compute_report(config, client, plugins, period_spec=self.period, now=self.now)
        template_dir = template_dir_of(config)
        watched = [self.config_path]
        for theme in plugins.themes.values():
            watched.append(Path(theme.item.path))
        if template_dir:
            watched.append(template_dir)
        watched.extend(watched_paths(config, client, plugins, report.generated_at.date()))
        self.watched = watched
        return config, plugins, report, template_dir

    def refresh(self) -> None:
        """Render again; on failure keep the last good page and remember the error."""
        from kpireport.render import render_html

        try:
            _, plugins, report, template_dir = self._compute()
            page, _, _ = render_html(report, plugins, agency_template_dir=template_dir)
        except Exception as exc:  # shown on the page: the preview must survive typos
            with self._lock:
                self.error = redact(f"{type(exc).__name__}: {exc}")
                self.version += 1
            log.warning("preview: %s", self.error)
            return
        with self._lock:
            self.html, self.error = page, None
            self.version += 1

    def page(self) -> str:
        with self._lock:
            body, error = self.html, self.error
        banner = ""
        if error:
            banner = ('<div style="position:sticky;top:0;z-index:9;background:#b3261e;'
                      'color:white;padding:8px 12px;font:13px monospace;white-space:pre-wrap">'
                      f"{html.escape(error)}</div>")
        if not body:
            body = "<html><body></body></html>"
        return body.replace("<body>", "<body>" + banner + RELOADER, 1)

    def pdf(self) -> bytes:
        from kpireport.pipeline.deliver import render

        config, plugins, report, _ = self._compute()
        return render(config, report, plugins, notify=False).pdf

    def _scan(self) -> dict[Path, float]:
        stamps: dict[Path, float] = {}
        for root in self.watched:
            paths = [root] if root.is_file() else (p for p in root.rglob("*") if p.is_file())
            for path in paths:
                try:
                    stamps[path] = path.stat().st_mtime_ns
                except OSError:
                    continue
        return stamps

    def changed(self) -> bool:
        stamps = self._scan()
        changed = bool(self._stamps) and stamps != self._stamps
        self._stamps = stamps
        return changed

    def adopt_new(self) -> None:
        """Watch the files a render added, keeping the stamps of those already watched: a
        file saved while the report was rendering still counts as changed at the next look."""
        for path, stamp in self._scan().items():
            self._stamps.setdefault(path, stamp)


class PreviewServer:
    """``start()`` in the background (tests) or ``serve_forever()`` (the command)."""

    def __init__(self, preview: Preview, host: str = "127.0.0.1", port: int = 8000,
                 poll_interval: float = 0.5) -> None:
        self.preview = preview
        self.poll_interval = poll_interval
        self._stop = threading.Event()
        self.httpd = http.server.ThreadingHTTPServer((host, port), _handler(preview, self))
        bound, self.port = self.httpd.server_address[:2]
        # An AF_INET server's address is text; only AF_UNIX ones may be bytes.
        self.host = bound.decode() if isinstance(bound, bytes | bytearray) else bound

    def answers_to(self, host_header: str | None) -> bool:
        """Whether a request's Host names this server. A page on another site whose name
        was made to resolve to 127.0.0.1 (DNS rebinding) sends its own name: refused."""
        if not host_header:
            return False
        name, _, port = host_header.strip().rpartition(":")
        if not name or not port.isdigit() or int(port) != self.port:
            return False
        name = name.strip("[]").lower()
        if name == self.host.lower():
            return True
        import ipaddress

        try:
            address = ipaddress.ip_address(name)
        except ValueError:  # a name: only "localhost", and only for a loopback server
            return name == "localhost" and _loopback(self.host)
        # Listening on every address: any of them, typed as an address (no name to rebind).
        return self.host in ("0.0.0.0", "::") or (address.is_loopback and _loopback(self.host))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_interval):
            if self.preview.changed():
                self.preview.refresh()
                self.preview.adopt_new()  # the render may have widened what is watched

    def start(self) -> PreviewServer:
        self.preview.refresh()
        self.preview.changed()  # the first stamps, before anyone can edit a file
        threading.Thread(target=self._watch, daemon=True).start()
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def serve_forever(self) -> None:
        self.preview.refresh()
        self.preview.changed()
        threading.Thread(target=self._watch, daemon=True).start()
        try:
            self.httpd.serve_forever()
        finally:
            self.stop()

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _handler(preview: Preview,
             server: PreviewServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if not server.answers_to(self.headers.get("Host")):
                self._send(403, "text/plain", b"this preview answers only to its own address")
                return
            path = self.path.split("?", 1)[0]
            if path == "/":
                self._send(200, "text/html; charset=utf-8", preview.page().encode("utf-8"))
            elif path == "/version":
                self._send(200, "text/plain", str(preview.version).encode())
            elif path == "/report.pdf":
                try:
                    self._send(200, "application/pdf", preview.pdf())
                except Exception as exc:
                    self._send(500, "text/plain; charset=utf-8",
                               redact(f"{type(exc).__name__}: {exc}").encode())
            else:
                self._send(404, "text/plain", b"not found")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            if content_type.startswith("text/"):
                # A NUL from data is never served: browsers and proxies disagree about it.
                body = body.replace(b"\0", "\ufffd".encode())
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            log.debug("preview: " + args[0], *args[1:])

    return Handler


def serve(config_path: Path, client_id: str, *, period: str | None = None,
          host: str = "127.0.0.1", port: int = 8000, extra_plugins: Iterable[str] = (),
          now: dt.datetime | None = None, poll_interval: float = 0.5) -> PreviewServer:
    """A preview server for one client (not started)."""
    preview = Preview(config_path, client_id, period=period, extra_plugins=extra_plugins,
                      now=now)
    return PreviewServer(preview, host, port, poll_interval)
