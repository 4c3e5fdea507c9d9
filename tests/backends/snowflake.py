"""fakesnow in server mode: a local Snowflake (DuckDB underneath) on loopback.

The real snowflake-connector-python talks to it over HTTP (``host=127.0.0.1, port=PORT,
protocol="http"``, any account/user/password). One server per test session, in memory;
tests isolate themselves with a database of their own (``snowflake_database``).

fakesnow accepts any credentials; ``snowflake_login_refused`` serves Snowflake's documented
answer to a wrong password, key or token, so the connector's refused-login path is real.
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .service import STARTED, Service, free_port, port_open, require_executable


def _fakesnow_executable() -> str:
    # The tests may run as .venv/bin/pytest without the venv on PATH.
    local = Path(sys.executable).parent / "fakesnow"
    if local.exists():
        return str(local)
    return require_executable("fakesnow", "add `fakesnow[server]` to the dev dependency group")


# session fixture → the service it starts (its log is shown when a test using it fails)
SERVICE_OF_FIXTURE = {"snowflake_server": "fakesnow"}


@pytest.fixture(scope="session")
def snowflake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """Where the session's fakesnow server listens: ``{"host", "port", "protocol"}``."""
    port = free_port()
    service = Service(
        name="fakesnow",
        command=[_fakesnow_executable(), "-s", "--host", "127.0.0.1", "-p", str(port)],
        # uvicorn accepts connections only once the app has started.
        ready=lambda: port_open(port),
        log_path=tmp_path_factory.mktemp("fakesnow") / "fakesnow.log",
    ).start()
    STARTED.append(service)
    yield {"host": "127.0.0.1", "port": port, "protocol": "http"}
    service.stop()


@pytest.fixture
def snowflake_database(snowflake_server: dict[str, object]) -> str:
    """A fresh database (with schema PUBLIC) on the fakesnow server.

    fakesnow can't DROP DATABASE; the databases live in memory until the session ends.
    """
    import snowflake.connector

    name = f"ORCH_TEST_{uuid.uuid4().hex[:10].upper()}"
    conn = snowflake.connector.connect(
        account="test", user="test", password="test", **snowflake_server
    )
    try:
        conn.cursor().execute(f'CREATE DATABASE "{name}"')
        conn.cursor().execute(f'CREATE SCHEMA "{name}"."PUBLIC"')
    finally:
        conn.close()
    return name


# Snowflake's answers to a refused login (error code and message by authenticator), as the
# real service sends them: HTTP 200 with success=false. fakesnow accepts any credentials,
# so this small server stands in for that one documented response.
_REFUSALS = {
    "SNOWFLAKE": ("390100", "Incorrect username or password was specified."),
    "SNOWFLAKE_JWT": ("390144", "JWT token is invalid. [3b2f…]"),
    "OAUTH": ("390303", "Invalid OAuth access token. [c19a…]"),
}


class _RefuseLogins(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        data = json.loads(body or b"{}").get("data", {})
        authenticator = str(data.get("AUTHENTICATOR") or "SNOWFLAKE").upper()
        code, message = _REFUSALS.get(authenticator, _REFUSALS["SNOWFLAKE"])
        payload = json.dumps(
            {
                "data": {"nextAction": "RETRY_LOGIN"},
                "code": code,
                "message": message,
                "success": False,
                "headers": None,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean


@pytest.fixture(scope="session")
def snowflake_login_refused() -> Iterator[dict[str, object]]:
    """A server on loopback that refuses every Snowflake login, as Snowflake does when the
    password, key or token is wrong: ``{"host", "port", "protocol"}`` like ``snowflake_server``.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RefuseLogins)
    thread = threading.Thread(target=server.serve_forever, name="snowflake-refuse", daemon=True)
    thread.start()
    yield {"host": "127.0.0.1", "port": server.server_address[1], "protocol": "http"}
    server.shutdown()
    server.server_close()
