"""A small fake of the Slack Web API and of incoming webhooks (no Slack server can run here).

It serves, on a free loopback port, what orch-slack calls, as Slack documents it
(https://docs.slack.dev/reference/methods): ``auth.test``, ``chat.postMessage``,
``chat.update``, ``conversations.list`` (cursor pagination), ``files.getUploadURLExternal``,
the upload URL it hands out, ``files.completeUploadExternal``; and incoming webhooks at
``/services/T…/B…/SECRET``. Arguments are read from the query string, a form body or a
JSON body, as the Web API accepts them; the token from ``Authorization: Bearer``.
Errors are Slack's: HTTP 200 with ``{"ok": false, "error": "channel_not_found"}``, and
rate limits as HTTP 429 with ``Retry-After`` (``fake.rate_limit(n)`` makes the next n
calls answer that). The real SDK drives it: ``WebClient(token, base_url=fake.api_url)``,
``WebhookClient(fake.webhook_url)``. One server per test session; ``fake.reset()`` clears.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from .service import free_port

TOKEN = "xoxb-fake-Bot-Token-1234567890"
WEBHOOK_PATH = "/services/T000FAKE/B000FAKE/FakeWebhookSecret123456"
CHANNELS = {"C0GENERAL": "general", "C0ALERTS": "alerts", "C0RANDOM": "random"} | {
    f"C0MORE{i:03d}": f"more-{i}" for i in range(250)
}


@dataclass
class FakeSlack:
    """The running fake: its URLs, and what it received."""

    port: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    webhook_messages: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    retry_after: int = 1
    _rate_limited: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: set[str] = field(default_factory=lambda: {TOKEN})

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def rate_limit(self, count: int, retry_after: int = 1) -> None:
        """Answer the next ``count`` calls with 429 and ``Retry-After: retry_after``."""
        with self._lock:
            self._rate_limited = count
            self.retry_after = retry_after

    def take_rate_limit(self) -> bool:
        with self._lock:
            if self._rate_limited > 0:
                self._rate_limited -= 1
                return True
            return False

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.webhook_messages.clear()
            self.files.clear()
            self.calls.clear()
            self._rate_limited = 0


def _channel_id(name_or_id: str) -> str | None:
    if name_or_id in CHANNELS:
        return name_or_id
    name = name_or_id.lstrip("#")
    for cid, cname in CHANNELS.items():
        if cname == name:
            return cid
    return None


def _handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms stalls)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            ctype = "text/plain" if isinstance(body, bytes) else "application/json"
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _args(self, raw: bytes) -> dict[str, Any]:
            args: dict[str, Any] = dict(parse_qsl(urlsplit(self.path).query))
            ctype = self.headers.get("Content-Type", "")
            if raw and ctype.startswith("application/json"):
                args.update(json.loads(raw))
            elif raw and ctype.startswith("application/x-www-form-urlencoded"):
                args.update(dict(parse_qsl(raw.decode())))
            return args

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urlsplit(self.path).path
            fake.calls.append(path)
            if fake.take_rate_limit():
                body: Any = (
                    b"rate limited"
                    if path.startswith("/services/")
                    else {"ok": False, "error": "ratelimited"}
                )
                self._reply(429, body, {"Retry-After": str(fake.retry_after)})
                return
            if path.startswith("/services/"):
                self._webhook(path, raw)
            elif path.startswith("/upload/"):
                file_id = path.rsplit("/", 1)[1]
                if file_id not in fake.files:
                    self._reply(404, b"no such upload")
                    return
                fake.files[file_id]["content"] = raw
                self._reply(200, b"OK - " + str(len(raw)).encode())
            elif path.startswith("/api/"):
                self._api(path[len("/api/") :], self._args(raw))
            else:
                self._reply(404, b"not found")

        do_GET = do_POST

        def _webhook(self, path: str, raw: bytes) -> None:
            if path != WEBHOOK_PATH:
                self._reply(403, b"invalid_token")
                return
            try:
                payload = json.loads(raw)
            except ValueError:
                self._reply(400, b"invalid_payload")
                return
            if not payload.get("text") and not payload.get("blocks"):
                self._reply(400, b"no_text")
                return
            fake.webhook_messages.append(payload)
            self._reply(200, b"ok")

        def _api(self, method: str, args: dict[str, Any]) -> None:
            auth = self.headers.get("Authorization", "")
            token = (
                auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.get("token")
            )
            if not token:
                self._reply(200, {"ok": False, "error": "not_authed"})
                return
            if token not in fake.tokens:
                self._reply(200, {"ok": False, "error": "invalid_auth"})
                return
            handler = getattr(self, "m_" + method.replace(".", "_"), None)
            if handler is None:
                self._reply(200, {"ok": False, "error": "unknown_method"})
                return
            self._reply(200, handler(args))

        def m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
            return {"ok": True, "team": "fake", "user": "orch-bot", "team_id": "T000FAKE"}

        def m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
            cid = _channel_id(str(args.get("channel", "")))
            if cid is None:
                return {"ok": False, "error": "channel_not_found"}
            if not args.get("text") and not args.get("blocks"):
                return {"ok": False, "error": "no_text"}
            ts = f"{time.time():.6f}"
            blocks = args.get("blocks")
            message = {
                "channel": cid,
                "ts": ts,
                "text": args.get("text", ""),
                "blocks": json.loads(blocks) if isinstance(blocks, str) else blocks,
                "thread_ts": args.get("thread_ts"),
                "reply_broadcast": args.get("reply_broadcast") in (True, "true", "1"),
            }
            fake.messages.append(message)
            return {"ok": True, "channel": cid, "ts": ts, "message": {"text": message["text"]}}

        def m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
            cid = str(args.get("channel", ""))
            if cid not in CHANNELS:  # chat.update takes a channel id only
                return {"ok": False, "error": "channel_not_found"}
            for message in fake.messages:
                if message["channel"] == cid and message["ts"] == args.get("ts"):
                    message["text"] = args.get("text", message["text"])
                    return {
                        "ok": True,
                        "channel": cid,
                        "ts": message["ts"],
                        "text": message["text"],
                    }
            return {"ok": False, "error": "message_not_found"}

        def m_conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
            ids = sorted(CHANNELS)
            start = int(args.get("cursor") or 0)
            limit = int(args.get("limit") or 100)
            page = ids[start : start + limit]
            nxt = str(start + limit) if start + limit < len(ids) else ""
            return {
                "ok": True,
                "channels": [{"id": i, "name": CHANNELS[i]} for i in page],
                "response_metadata": {"next_cursor": nxt},
            }

        def m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
            if not args.get("filename") or not args.get("length"):
                return {"ok": False, "error": "invalid_arguments"}
            file_id = "F" + uuid.uuid4().hex[:10].upper()
            fake.files[file_id] = {"filename": args["filename"], "length": int(args["length"])}
            return {
                "ok": True,
                "file_id": file_id,
                "upload_url": f"http://127.0.0.1:{fake.port}/upload/{file_id}",
            }

        def m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
            files = args.get("files")
            files = json.loads(files) if isinstance(files, str) else files
            cid = args.get("channel_id")
            if cid is not None and cid not in CHANNELS:
                return {"ok": False, "error": "channel_not_found"}
            done = []
            for item in files or []:
                record = fake.files.get(item["id"])
                if record is None or "content" not in record:
                    return {"ok": False, "error": "file_not_found"}
                record.update(
                    channel=cid,
                    title=item.get("title"),
                    initial_comment=args.get("initial_comment"),
                    thread_ts=args.get("thread_ts"),
                )
                done.append(
                    {"id": item["id"], "name": record["filename"], "title": item.get("title")}
                )
            return {"ok": True, "files": done}

    return Handler


@pytest.fixture(scope="session")
def slack_fake() -> Iterator[FakeSlack]:
    """The fake Slack (Web API + incoming webhook) for the whole session."""
    fake, server = serve_slack()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def slack(slack_fake: FakeSlack) -> FakeSlack:
    """The session's fake Slack, cleared for this test."""
    slack_fake.reset()
    return slack_fake


def serve_slack() -> tuple[FakeSlack, ThreadingHTTPServer]:
    """Start a fake outside pytest (benchmarks, docs examples); the caller shuts it down."""
    fake = FakeSlack(port=free_port())
    server = ThreadingHTTPServer(("127.0.0.1", fake.port), _handler(fake))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="fake-slack", daemon=True).start()
    return fake, server
