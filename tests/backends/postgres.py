"""PostgreSQL: the server running on this machine (127.0.0.1:5432, trust auth), or a
throwaway cluster made with ``initdb`` on a free port when none answers there. Set
``ORCH_TEST_PG_THROWAWAY=1`` to force the latter."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from .service import STARTED, Service, free_port, port_open

PG_BIN = Path("/usr/lib/postgresql/15/bin")
USER = "postgres"


def _can_connect(port: int) -> bool:
    try:
        with psycopg.connect(
            host="127.0.0.1", port=port, user=USER, dbname="postgres", connect_timeout=2
        ):
            return True
    except psycopg.Error:
        return False


def _throwaway_cluster(base: Path) -> tuple[int, Service]:
    initdb = PG_BIN / "initdb" if (PG_BIN / "initdb").exists() else shutil.which("initdb")
    postgres = PG_BIN / "postgres" if (PG_BIN / "postgres").exists() else shutil.which("postgres")
    if not initdb or not postgres:
        pytest.fail(
            "No PostgreSQL answers on 127.0.0.1:5432 and no initdb/postgres binaries were "
            "found: install Debian's `postgresql` package.",
            pytrace=False,
        )
    data = base / "pgdata"
    data.mkdir(parents=True)
    # PostgreSQL refuses to run as root: run it as the `postgres` system user when we are.
    prefix: list[str] = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        os.chown(data, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    setup = subprocess.run(
        [*prefix, str(initdb), "-A", "trust", "-U", USER, "-D", str(data)],
        check=False,
        capture_output=True,
        text=True,
    )
    if setup.returncode != 0:
        pytest.fail(
            f"{initdb} failed (exit {setup.returncode}):\n{setup.stdout[-2000:]}\n"
            f"{setup.stderr[-2000:]}",
            pytrace=False,
        )
    port = free_port()
    service = Service(
        name="PostgreSQL",
        command=[
            *prefix,
            str(postgres),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(base),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ],
        ready=lambda: _can_connect(port),
        log_path=base / "postgres.log",
    ).start()
    STARTED.append(service)
    return port, service


# session fixture → the service it starts (its log is shown when a test using it fails)
SERVICE_OF_FIXTURE = {"pg_server": "PostgreSQL"}


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """Base URL (no database) of a PostgreSQL server for this test session."""
    port, service, base = 5432, None, None
    forced = os.environ.get("ORCH_TEST_PG_THROWAWAY") == "1"
    if forced or not (port_open(port) and _can_connect(port)):
        # Not under pytest's tmp dir: that one is private to us (0700), and the server
        # runs as the `postgres` user when we are root.
        base = Path(tempfile.mkdtemp(prefix="orch-postgres-"))
        port, service = _throwaway_cluster(base)
    yield f"postgresql://{USER}@127.0.0.1:{port}"
    # Stop the service this fixture started (not STARTED[-1]: other services may have
    # been started after it).
    if service is not None:
        service.stop()
    if base is not None:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_database(pg_server: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards: its URL."""
    name = f"orch_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{pg_server}/{name}"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_role(pg_server: str) -> Iterator[tuple[str, str]]:
    """A login role with a password on the test server, dropped afterwards: (name, password).

    For end-to-end tests of a password held as a secret reference (see
    :data:`DRIVER_PASSWORD_PROBE`).
    """
    name = f"orch_role_{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    yield name, password
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {name}")


# Run in a new process (python -c): loads the saved sqlalchemy-connector "warehouse",
# connects, and prints the login user and a digest of the password the driver was really
# given. The server trusts 127.0.0.1, so a successful login alone would not prove that a
# password reference was resolved.
DRIVER_PASSWORD_PROBE = """
import hashlib, json
from orch_sqlalchemy import SqlAlchemyConnector
from sqlalchemy import text

db = SqlAlchemyConnector.load("warehouse")
with db.connect() as conn:
    user = conn.execute(text("select current_user")).scalar_one()
    used = conn.connection.dbapi_connection.info.password
print(json.dumps({"user": user, "password_sha256": hashlib.sha256(used.encode()).hexdigest()}))
"""
