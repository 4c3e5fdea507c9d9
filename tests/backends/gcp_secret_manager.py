"""A fake of GCP Secret Manager's REST API (v1), plus the two token endpoints Google's
credentials call, for the orch-gcp tests.

No Secret Manager server can be installed here, so this serves the documented HTTP API
(https://cloud.google.com/secret-manager/docs/reference/rest) on loopback and the real
client talks to it: ``SecretManagerServiceClient(transport="rest",
client_options={"api_endpoint": URL})``. Served:

- ``POST /v1/projects/P/secrets?secretId=S`` (create), ``GET``/``DELETE
  /v1/projects/P/secrets/S``, ``POST /v1/projects/P/secrets/S:addVersion``,
  ``GET /v1/projects/P/secrets/S/versions/V:access`` (``V``: a number or ``latest``);
  errors as Google's JSON (``{"error": {"code", "message", "status"}}``): 404
  ``NOT_FOUND``, 409 ``ALREADY_EXISTS``, 400 ``INVALID_ARGUMENT``; a secret whose id
  starts with ``forbidden`` answers 403 ``PERMISSION_DENIED``;
- ``POST /token``: OAuth 2 token endpoint of a service-account key (the JWT-bearer grant);
- ``POST /v1/projects/-/serviceAccounts/SA:generateAccessToken``: IAM Credentials, for
  impersonation (``delegates`` and the caller's bearer token are recorded).

Every request is recorded in ``calls`` (method, path, bearer token, JSON body), so tests
can count API calls and check which token made them. One server per session; tests use
unique secret ids.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Call:
    method: str
    path: str
    token: str | None
    body: Any


@dataclass
class FakeSecretManager:
    """The fake's state: ``secrets[name] = [version payloads]`` (``None`` once destroyed)."""

    url: str = ""
    secrets: dict[str, list[bytes]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, method: str, contains: str) -> int:
        """How many recorded calls had ``method`` and a path containing ``contains``."""
        return sum(1 for c in self.calls if c.method == method and contains in c.path)


def _crc32c(data: bytes) -> str:
    import google_crc32c

    return str(int(google_crc32c.value(data)))


def _handler(state: FakeSecretManager) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, code: int, status: str, message: str) -> None:
            self._reply(code, {"error": {"code": code, "message": message, "status": status}})

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return None
            if "json" in (self.headers.get("Content-Type") or ""):
                return json.loads(raw)
            return dict(urllib.parse.parse_qsl(raw.decode()))

        def _handle(self, method: str) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            path, query = parsed.path, dict(urllib.parse.parse_qsl(parsed.query))
            auth = self.headers.get("Authorization") or ""
            token = auth[7:] if auth.startswith("Bearer ") else None
            body = self._body()
            with state.lock:
                state.calls.append(Call(method, path, token, body))
            if path == "/token" and method == "POST":
                # A service-account key signs a JWT and trades it for a token here.
                assertion = (body or {}).get("assertion", "")
                claims = json.loads(base64.urlsafe_b64decode(assertion.split(".")[1] + "=="))
                self._reply(
                    200,
                    {
                        "access_token": f"sa-token-for-{claims.get('iss')}",
                        "expires_in": 3600,
                        "token_type": "Bearer",
                    },
                )
                return
            if path.endswith(":generateAccessToken") and method == "POST":
                target = path.split("/serviceAccounts/")[1].split(":")[0]
                expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
                self._reply(200, {"accessToken": f"impersonated-{target}", "expireTime": expiry})
                return
            if not path.startswith("/v1/projects/"):
                self._error(404, "NOT_FOUND", f"no such method {path}")
                return
            self._secrets(method, path[len("/v1/") :], query, body)

        def _secrets(self, method: str, path: str, query: dict[str, str], body: Any) -> None:
            if path.endswith("/secrets") and method == "POST":
                secret_id = query.get("secretId", "")
                name = f"{path}/{secret_id}"
                if not secret_id:
                    self._error(400, "INVALID_ARGUMENT", "secretId is required")
                elif name in state.secrets:
                    self._error(409, "ALREADY_EXISTS", f"Secret [{name}] already exists.")
                else:
                    state.secrets[name] = []
                    self._reply(200, {"name": name, "replication": {"automatic": {}}})
                return
            name, _, verb = path.partition(":")
            secret = name.split("/versions/")[0]
            if secret.split("/secrets/")[-1].startswith("forbidden"):
                self._error(
                    403,
                    "PERMISSION_DENIED",
                    f"Permission 'secretmanager.versions.access' denied for resource '{secret}'",
                )
                return
            versions = state.secrets.get(secret)
            if versions is None:
                self._error(404, "NOT_FOUND", f"Secret [{secret}] not found or has no versions.")
                return
            if verb == "addVersion" and method == "POST":
                payload = (body or {}).get("payload", {})
                data = base64.b64decode(payload.get("data", ""))
                sent = payload.get("dataCrc32c")
                if sent is not None and str(sent) != _crc32c(data):
                    self._error(400, "INVALID_ARGUMENT", "Data integrity check failed.")
                    return
                versions.append(data)
                number = len(versions)
                self._reply(200, {"name": f"{secret}/versions/{number}", "state": "ENABLED"})
            elif verb == "access" and method == "GET":
                wanted = name.split("/versions/")[1]
                live = [i for i, v in enumerate(versions, 1) if v is not None]
                number = live[-1] if wanted == "latest" and live else int(wanted or 0)
                if not wanted.isdigit() and wanted != "latest":
                    self._error(400, "INVALID_ARGUMENT", f"bad version {wanted!r}")
                    return
                if number < 1 or number > len(versions) or versions[number - 1] is None:
                    self._error(
                        404, "NOT_FOUND", f"Secret Version [{secret}/versions/{wanted}] not found."
                    )
                    return
                data = versions[number - 1]
                self._reply(
                    200,
                    {
                        "name": f"{secret}/versions/{number}",
                        "payload": {
                            "data": base64.b64encode(data).decode(),
                            "dataCrc32c": _crc32c(data),
                        },
                    },
                )
            elif not verb and method == "GET" and "/versions/" not in name:
                self._reply(200, {"name": secret, "replication": {"automatic": {}}})
            elif not verb and method == "DELETE" and "/versions/" not in name:
                del state.secrets[secret]
                self._reply(200, {})
            else:
                self._error(404, "NOT_FOUND", f"no such method {method} {path}")

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

    return Handler


# No process is started (the fake is a thread of the test session): nothing to map here.
SERVICE_OF_FIXTURE: dict[str, str] = {}


@pytest.fixture(scope="session")
def gcp_secret_manager() -> Iterator[FakeSecretManager]:
    """A fake Secret Manager (and token endpoints) on a free loopback port."""
    state = FakeSecretManager()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fake-secret-manager", daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
