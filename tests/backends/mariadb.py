"""MariaDB: the server running on this machine (127.0.0.1:3306, root with an empty
password), or a throwaway server (``mariadb-install-db`` + ``mariadbd``) on a free port
when none answers there. Set ``ORCH_TEST_MARIADB_THROWAWAY=1`` to force the latter."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from .service import STARTED, Service, free_port, port_open

USER = "root"
# On a throwaway server root logs in only through the socket: tests use this user.
THROWAWAY_USER = "orch"


def _can_connect(port: int, user: str = USER) -> bool:
    try:
        pymysql.connect(
            host="127.0.0.1", port=port, user=user, password="", connect_timeout=2
        ).close()
        return True
    except pymysql.Error:
        return False


def _find(*names: str) -> str | None:
    for name in names:
        for folder in (None, "/usr/sbin", "/usr/bin"):
            path = shutil.which(name, path=folder) if folder else shutil.which(name)
            if path:
                return path
    return None


def _throwaway_server(base: Path) -> tuple[int, Service]:
    install = _find("mariadb-install-db", "mysql_install_db")
    server = _find("mariadbd", "mysqld")
    if not install or not server:
        pytest.fail(
            "No MariaDB answers on 127.0.0.1:3306 and no mariadb-install-db/mariadbd "
            "binaries were found: install Debian's `mariadb-server` package.",
            pytrace=False,
        )
    data, sock = base / "data", base / "mysqld.sock"
    as_root = os.geteuid() == 0
    if as_root:
        # mariadbd refuses to run as root unless told which user to become.
        shutil.chown(base, "mysql", "mysql")
    setup = subprocess.run(
        [
            install,
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *(["--user=mysql"] if as_root else []),
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    if setup.returncode != 0:
        pytest.fail(f"{install} failed:\n{setup.stdout[-2000:]}\n{setup.stderr[-2000:]}")
    port = free_port()
    service = Service(
        name="MariaDB",
        command=[
            server,
            "--no-defaults",
            f"--datadir={data}",
            f"--socket={sock}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            "--innodb-flush-log-at-trx-commit=0",
            f"--pid-file={base / 'mysqld.pid'}",
            *(["--user=mysql"] if as_root else []),
        ],
        ready=lambda: sock.exists() and _socket_login(sock),
        log_path=base / "mariadb.log",
    ).start()
    STARTED.append(service)
    conn = pymysql.connect(unix_socket=str(sock), user="root", password="", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"CREATE USER IF NOT EXISTS '{THROWAWAY_USER}'@'%' IDENTIFIED BY ''")
        cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{THROWAWAY_USER}'@'%' WITH GRANT OPTION")
    conn.close()
    return port, service


def _socket_login(sock: Path) -> bool:
    try:
        pymysql.connect(unix_socket=str(sock), user="root", password="", connect_timeout=2).close()
        return True
    except pymysql.Error:
        return False


# session fixture → the service it starts (its log is shown when a test using it fails)
SERVICE_OF_FIXTURE = {"mariadb_server": "MariaDB"}


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base SQLAlchemy URL (no database) of a MariaDB server for this test session:
    ``mysql+pymysql://USER@127.0.0.1:PORT``; the user may create databases and users."""
    port, user, service = 3306, USER, None
    forced = os.environ.get("ORCH_TEST_MARIADB_THROWAWAY") == "1"
    if forced or not (port_open(port) and _can_connect(port)):
        # Not under pytest's tmp dir: that one is private to us, and mariadbd runs as
        # the `mysql` user when we are root.
        base = Path(tempfile.mkdtemp(prefix="orch-mariadb-"))
        port, service = _throwaway_server(base)
        user = THROWAWAY_USER
    yield f"mysql+pymysql://{user}@127.0.0.1:{port}"
    if service is not None:
        service.stop()
        shutil.rmtree(base, ignore_errors=True)


def connect(base_url: str, database: str | None = None) -> pymysql.Connection:  # type: ignore[type-arg]
    """A PyMySQL connection (autocommit) from a fixture's base URL."""
    rest = base_url.split("://", 1)[1]
    user, _, hostport = rest.partition("@")
    host, _, port = hostport.partition(":")
    return pymysql.connect(
        host=host, port=int(port), user=user, password="", database=database, autocommit=True
    )


@pytest.fixture
def mariadb_database(mariadb_server: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards: its SQLAlchemy URL."""
    name = f"orch_test_{uuid.uuid4().hex[:12]}"
    conn = connect(mariadb_server)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    conn.close()
    yield f"{mariadb_server}/{name}"
    conn = connect(mariadb_server)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()
