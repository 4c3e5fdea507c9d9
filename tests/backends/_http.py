"""A small threaded HTTP server that records each request, for the fakes of HTTP services
that cannot run here (Teams, PagerDuty, a webhook receiver). Not a fixture module itself
(its name starts with ``_``): each fake builds on :func:`serve`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .service import free_port


@dataclass
class Request:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.raw.decode()))


Answer = tuple[int, dict[str, str], Any]  # status, headers, body (bytes or JSON-able)


@dataclass
class Recorder:
    """A running fake: its base URL, the requests it got, and failures to inject."""

    port: int
    answer: Callable[[Request], Answer]
    requests: list[Request] = field(default_factory=list)
    _fail: list[Answer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, count: int, status: int = 429, retry_after: str | None = "1") -> None:
        """Answer the next ``count`` requests with ``status`` (and ``Retry-After``)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        with self._lock:
            self._fail.extend([(status, headers, {"error": "injected"})] * count)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._fail.clear()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def _handle(self, request: Request) -> Answer:
        with self._lock:
            self.requests.append(request)
            if self._fail:
                return self._fail.pop(0)
        return self.answer(request)


def serve(answer: Callable[[Request], Answer], name: str) -> Recorder:
    """Start a recorder on a free loopback port; ``stop()`` ends it."""
    recorder = Recorder(port=free_port(), answer=answer)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms stalls)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _any(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=parts.path,
                query=dict(parse_qsl(parts.query)),
                headers={k.lower(): v for k, v in self.headers.items()},
                raw=raw,
            )
            status, headers, body = recorder._handle(request)
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            if not isinstance(body, bytes):
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

    server = ThreadingHTTPServer(("127.0.0.1", recorder.port), Handler)
    server.daemon_threads = True
    recorder.server = server
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return recorder
