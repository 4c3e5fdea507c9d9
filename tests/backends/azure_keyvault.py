"""A fake Azure Key Vault (secrets) and Microsoft Entra token endpoint, over HTTPS.

No Key Vault server can run here, so this serves the documented REST API that the real
``azure.keyvault.secrets.SecretClient`` speaks (``PUT/GET/DELETE /secrets/{name}[/{version}]``,
``GET/DELETE /deletedsecrets/{name}``, the ``{"error": {"code", "message"}}`` error body,
and the ``401`` + ``WWW-Authenticate: Bearer authorization=…, resource=…`` challenge), and the
OAuth 2.0 client-credentials flow azure-identity's credentials use (the tenant's
``/v2.0/.well-known/openid-configuration`` and ``/oauth2/v2.0/token``, with a client secret
or a certificate's signed client assertion). azure-core sends bearer tokens over https
only, so both are served over TLS with a throwaway CA made by ``trustme``; clients trust it
through ``REQUESTS_CA_BUNDLE``.

One server per test session, in a thread of the test process; ``calls`` counts requests
by (method, route) so tests can assert how many reached the vault.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "0a1b2c3d-0000-4000-8000-00000000c11e"
CLIENT_SECRET = "fake-client-secret-Zk9~q"
RESOURCE = "https://vault.azure.net"


@dataclass
class FakeKeyVault:
    """State and address of the fake: ``url`` is the vault's URL, ``authority`` the token
    endpoint's host, ``ca_path`` the PEM file of the CA that signed both."""

    url: str = ""
    authority: str = ""
    ca_path: str = ""
    secrets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deleted: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    client_secrets: dict[str, str] = field(default_factory=lambda: {CLIENT_ID: CLIENT_SECRET})
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 0.0  # seconds each GET of a secret takes (to make bursts overlap)

    def reset_calls(self) -> None:
        with self.lock:
            self.calls.clear()


def _b64json(part: str) -> dict[str, Any]:
    padded = part + "=" * (-len(part) % 4)
    return dict(json.loads(base64.urlsafe_b64decode(padded)))


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # --- plumbing --------------------------------------------------------------------------
    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str) -> None:
        self._send(status, {"error": {"code": code, "message": message}})

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _route(self) -> tuple[list[str], dict[str, list[str]]]:
        parts = urlsplit(self.path)
        return [p for p in parts.path.split("/") if p], parse_qs(parts.query)

    def _count(self, route: str) -> None:
        with self.server.state.lock:
            self.server.state.calls[(self.command, route)] += 1

    # --- the token endpoint (Microsoft Entra) ------------------------------------------------
    def _openid(self, tenant: str) -> None:
        base = f"{self.server.state.authority}/{tenant}"
        self._send(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": f"{base}/v2.0",
                "tenant_region_scope": "EU",
            },
        )

    def _token(self, tenant: str) -> None:
        state = self.server.state
        form = {k: v[0] for k, v in parse_qs(self._body().decode()).items()}
        client = form.get("client_id", "")
        if tenant != TENANT:
            self._send(400, {"error": "invalid_tenant", "error_description": "AADSTS90002"})
            return
        if form.get("grant_type") != "client_credentials":
            self._send(400, {"error": "unsupported_grant_type"})
            return
        if "client_assertion" in form:
            # A certificate's assertion: a JWT for this endpoint, issued by the client, with
            # the certificate's thumbprint in its header (its signature is not checked here).
            header_b64, payload_b64, signature = form["client_assertion"].split(".")
            header, payload = _b64json(header_b64), _b64json(payload_b64)
            ok = (
                ("x5t" in header or "x5t#S256" in header)
                and payload.get("iss") == client
                and payload.get("aud", "").endswith("/oauth2/v2.0/token")
                and bool(signature)
                and client in state.client_secrets
            )
        else:
            ok = state.client_secrets.get(client) == form.get("client_secret")
        if not ok:
            self._send(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                    "error_codes": [7000215],
                },
            )
            return
        token = f"fake-token-{uuid.uuid4().hex}"
        with state.lock:
            state.tokens.add(token)
        self._send(
            200,
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": token,
            },
        )

    # --- Key Vault ---------------------------------------------------------------------------
    def _authorised(self) -> bool:
        auth = self.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        if auth.startswith("Bearer ") and token in self.server.state.tokens:
            return True
        challenge = (
            f'Bearer authorization="{self.server.state.authority}/{TENANT}", resource="{RESOURCE}"'
        )
        self._body()  # drain it
        self._send(
            401,
            {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer"}},
            {"WWW-Authenticate": challenge},
        )
        return False

    def _bundle(self, name: str, entry: dict[str, Any], with_value: bool = True) -> dict[str, Any]:
        out = {
            "id": f"{self.server.state.url}/secrets/{name}/{entry['version']}",
            "attributes": {
                "enabled": True,
                "created": entry["created"],
                "updated": entry["created"],
                "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": 90,
            },
            "tags": entry.get("tags") or {},
        }
        if entry.get("contentType") is not None:
            out["contentType"] = entry["contentType"]
        if with_value:
            out["value"] = entry["value"]
        return out

    def _not_found(self, name: str) -> None:
        self._error(
            404,
            "SecretNotFound",
            f"A secret with (name/id) {name} was not found in this key vault. If you recently "
            "deleted this secret you may be able to recover it using the correct recovery "
            "command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
        )

    def _vault(self, parts: list[str]) -> None:
        state = self.server.state
        if not self._authorised():
            return
        kind = parts[0]
        name = parts[1] if len(parts) > 1 else ""
        if kind == "secrets" and self.command == "PUT" and len(parts) == 2:
            self._count("set_secret")
            body = json.loads(self._body() or b"{}")
            with state.lock:
                if name in state.deleted:
                    self._error(
                        409,
                        "Conflict",
                        f"Secret {name} is currently in a deleted but recoverable state, and "
                        "its name cannot be reused; in this state, the secret can only be "
                        "recovered or purged.",
                    )
                    return
                entry = {
                    "version": uuid.uuid4().hex,
                    "value": body.get("value", ""),
                    "contentType": body.get("contentType"),
                    "tags": body.get("tags"),
                    "created": int(time.time()),
                }
                state.secrets.setdefault(name, []).append(entry)
            self._send(200, self._bundle(name, entry))
        elif kind == "secrets" and self.command == "GET" and len(parts) in (2, 3):
            self._count("get_secret")
            if state.delay:
                time.sleep(state.delay)
            versions = state.secrets.get(name) or []
            version = parts[2] if len(parts) == 3 and parts[2] else None
            found = [v for v in versions if version is None or v["version"] == version]
            if not found:
                self._not_found(name if version is None else f"{name}/{version}")
                return
            self._send(200, self._bundle(name, found[-1]))
        elif kind == "secrets" and self.command == "DELETE" and len(parts) == 2:
            self._count("delete_secret")
            with state.lock:
                versions = state.secrets.pop(name, None)
                if versions:
                    state.deleted[name] = versions
            if not versions:
                self._not_found(name)
                return
            self._send(200, self._deleted(name, versions[-1]))
        elif kind == "deletedsecrets" and self.command == "GET" and len(parts) == 2:
            self._count("get_deleted_secret")
            versions = state.deleted.get(name)
            if not versions:
                self._error(404, "SecretNotFound", f"Deleted Secret not found: {name}")
                return
            self._send(200, self._deleted(name, versions[-1]))
        elif kind == "deletedsecrets" and self.command == "DELETE" and len(parts) == 2:
            self._count("purge_deleted_secret")
            with state.lock:
                gone = state.deleted.pop(name, None)
            if gone is None:
                self._error(404, "SecretNotFound", f"Deleted Secret not found: {name}")
                return
            self._send(204)
        else:
            self._error(400, "BadParameter", f"the fake does not serve {self.command} {self.path}")

    def _deleted(self, name: str, entry: dict[str, Any]) -> dict[str, Any]:
        now = int(time.time())
        return {
            **self._bundle(name, entry, with_value=False),
            "recoveryId": f"{self.server.state.url}/deletedsecrets/{name}",
            "deletedDate": now,
            "scheduledPurgeDate": now + 90 * 86400,
        }

    # --- dispatch ----------------------------------------------------------------------------
    def _dispatch(self) -> None:
        parts, _ = self._route()
        if len(parts) >= 2 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            self._openid(parts[0])
        elif len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            self._token(parts[0])
        elif parts and parts[0] in ("secrets", "deletedsecrets"):
            self._vault(parts)
        else:
            self._error(404, "NotFound", f"no route {self.path}")

    do_GET = do_PUT = do_POST = do_DELETE = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: FakeKeyVault


SERVICE_OF_FIXTURE: dict[str, str] = {}  # in-process: no log of its own


@pytest.fixture(scope="session")
def azure_keyvault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeKeyVault]:
    """The session's fake Key Vault + token endpoint (HTTPS, throwaway CA)."""
    import trustme

    base = tmp_path_factory.mktemp("azure-keyvault")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_path = base / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    state = FakeKeyVault(
        url=f"https://127.0.0.1:{port}",
        authority=f"https://127.0.0.1:{port}",
        ca_path=str(ca_path),
    )
    server.state = state
    thread = threading.Thread(target=server.serve_forever, name="fake-keyvault", daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    Path(ca_path).unlink(missing_ok=True)
