"""Fixtures of the orch-vault tests: credentials for the session's OpenBao dev server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import hvac
import pytest
from orch_vault import VaultCredentials

from tests.backends.vault import CREATION_STATEMENTS, VaultDatabase, VaultServer

RW_POLICY = """
path "secret/*" { capabilities = ["create", "read", "update", "patch", "delete", "list"] }
path "transit/*" { capabilities = ["create", "read", "update", "list"] }
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(autouse=True)
def _no_host_vault_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets reaches the resolver: never this machine's VAULT_* settings."""
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "ORCH_VAULT_CREDENTIALS_BLOCK"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def root(vault_server: VaultServer) -> hvac.Client:
    """A raw hvac client with the root token, to set the server up."""
    return hvac.Client(url=vault_server.url, token=vault_server.root_token)


@pytest.fixture
def creds(vault_server: VaultServer) -> VaultCredentials:
    """Token credentials with the root token."""
    return VaultCredentials(url=vault_server.url, token=vault_server.root_token)


@pytest.fixture(scope="session")
def rw_policy(vault_server: VaultServer) -> str:
    name = "orch-rw"
    hvac.Client(url=vault_server.url, token=vault_server.root_token).sys.create_or_update_policy(
        name=name, policy=RW_POLICY
    )
    return name


@pytest.fixture
def approle(root: hvac.Client, rw_policy: str) -> dict[str, Any]:
    """A fresh AppRole with the rw policy: its role_id and a secret_id."""
    name = unique("etl")
    root.auth.approle.create_or_update_approle(role_name=name, token_policies=[rw_policy])
    role_id = root.auth.approle.read_role_id(role_name=name)["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id(role_name=name)["data"]["secret_id"]
    return {"name": name, "role_id": role_id, "secret_id": secret_id}


@pytest.fixture
def approle_creds(vault_server: VaultServer, approle: dict[str, Any]) -> VaultCredentials:
    return VaultCredentials(
        url=vault_server.url,
        auth_method="approle",
        role_id=approle["role_id"],
        secret_id=approle["secret_id"],
    )


@pytest.fixture
def userpass(root: hvac.Client, rw_policy: str) -> tuple[str, str]:
    """A fresh userpass user with the rw policy: (name, password)."""
    name, password = unique("alice"), f"pw-{uuid.uuid4().hex}"
    root.auth.userpass.create_or_update_user(username=name, password=password, policies=[rw_policy])
    return name, password


@pytest.fixture
def path() -> str:
    """A fresh KV path for one test."""
    return unique("orch/test")


DYNAMIC_POLICY = """
path "database/creds/*" { capabilities = ["read"] }
path "sys/leases/revoke" { capabilities = ["update"] }
"""


@pytest.fixture
def db_role(root: hvac.Client, vault_database: VaultDatabase) -> Iterator[str]:
    """A fresh role of the database engine (3 s leases, 60 s at most): its name."""
    name = unique("ro")
    root.secrets.database.create_role(
        name=name,
        db_name=vault_database.connection,
        creation_statements=CREATION_STATEMENTS,
        default_ttl="3s",
        max_ttl="60s",
        mount_point=vault_database.mount,
    )
    yield name
    # whatever a test left behind (a failed test, a lease it chose not to revoke)
    root.sys.revoke_prefix(prefix=f"{vault_database.mount}/creds/{name}")


def approle_with_policy(
    vault_server: VaultServer, root: hvac.Client, name: str, policy: str
) -> dict[str, Any]:
    """An AppRole whose tokens have only ``policy`` (HCL): role_id, secret_id, creds."""
    root.sys.create_or_update_policy(name=name, policy=policy)
    root.auth.approle.create_or_update_approle(role_name=name, token_policies=[name])
    role_id = root.auth.approle.read_role_id(role_name=name)["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id(role_name=name)["data"]["secret_id"]
    creds = VaultCredentials(
        url=vault_server.url, auth_method="approle", role_id=role_id, secret_id=secret_id
    )
    return {"role_id": role_id, "secret_id": secret_id, "creds": creds}


@pytest.fixture
def dynamic_approle(vault_server: VaultServer, root: hvac.Client) -> dict[str, Any]:
    """An AppRole allowed to read database credentials and revoke leases."""
    return approle_with_policy(vault_server, root, unique("dyn"), DYNAMIC_POLICY)
