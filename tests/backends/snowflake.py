"""fakesnow in server mode: a local Snowflake (DuckDB underneath) on loopback.

The real snowflake-connector-python talks to it over HTTP (``host=127.0.0.1, port=PORT,
protocol="http"``, any account/user/password). One server per test session, in memory;
tests isolate themselves with a database of their own (``snowflake_database``).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .service import STARTED, Service, free_port, port_open, require_executable


def _fakesnow_executable() -> str:
    # The tests may run as .venv/bin/pytest without the venv on PATH.
    local = Path(sys.executable).parent / "fakesnow"
    if local.exists():
        return str(local)
    return require_executable("fakesnow", "add `fakesnow[server]` to the dev dependency group")


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
