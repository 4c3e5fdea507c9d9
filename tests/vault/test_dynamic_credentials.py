"""``vault_dynamic_credentials`` against OpenBao's database engine and the session's
PostgreSQL: a login made for the flow run, renewed while it runs, revoked when it ends
(PostgreSQL then shows the role gone), whatever way it ends."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import psycopg
import pytest
from orch import flow, get_run_context, get_run_logger, history
from orch_sqlalchemy import DatabaseCredentials, SqlAlchemyConnector
from orch_vault import (
    DynamicCredentials,
    VaultAuthError,
    VaultCredentials,
    VaultNotFoundError,
    vault_dynamic_credentials,
)
from sqlalchemy import text

from tests.backends.vault import CREATION_STATEMENTS, VaultDatabase, VaultServer
from tests.vault.conftest import approle_with_policy, unique


def role_exists(db: VaultDatabase, name: str | None) -> bool:
    with psycopg.connect(db.pg_url) as conn:
        row = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    return row is not None


def lease_gone(root: hvac.Client, lease_id: str) -> bool:
    try:
        root.sys.read_lease(lease_id)
    except hvac.exceptions.InvalidRequest:
        return True
    return False


def connector_for(db: VaultDatabase, login: DynamicCredentials) -> SqlAlchemyConnector:
    """The whole login of the database block comes from Vault."""
    port = int(db.pg_url.rsplit(":", 1)[1].split("/")[0])
    return SqlAlchemyConnector(
        credentials=DatabaseCredentials(
            driver="postgresql+psycopg",
            host="127.0.0.1",
            port=port,
            database="postgres",
            username=login.username,
            password=login.password,
        ),
        pool_size=1,
    )


def current_user(db: VaultDatabase, login: DynamicCredentials) -> tuple[str, str]:
    """``current_user`` and the password the driver was really given (trust auth on
    127.0.0.1 would let any password in)."""
    with connector_for(db, login) as connector, connector.connect() as conn:
        user = conn.execute(text("select current_user")).scalar_one()
        return user, conn.connection.dbapi_connection.info.password


def test_a_database_login_from_vault_connects_in_the_flow_and_is_dropped_after_it(
    vault_database: VaultDatabase,
    dynamic_approle: dict[str, Any],
    db_role: str,
    root: hvac.Client,
    orch_home: Path,
) -> None:
    creds: VaultCredentials = dynamic_approle["creds"]
    creds.save("vault-dyn")
    seen: dict[str, Any] = {}

    @flow
    def report() -> DynamicCredentials:
        login = vault_dynamic_credentials(VaultCredentials.load("vault-dyn"), db_role)
        seen["user"], seen["password"] = current_user(vault_database, login)
        seen["exists"] = role_exists(vault_database, login.username)
        seen["run"] = get_run_context().flow_run.id
        # an accident: the password written to the run's log and printed
        get_run_logger().info("password is %s", login.password.get_secret_value())  # type: ignore[union-attr]
        get_run_logger().info("login %r", login)
        return login

    login = report()
    assert login.username is not None and login.username.startswith("v-")
    assert login.lease_id.startswith(f"database/creds/{db_role}/")
    assert login.lease_duration == 3 and login.renewable
    password = login.password.get_secret_value()  # type: ignore[union-attr]
    assert seen["user"] == login.username and seen["password"] == password
    assert seen["exists"] is True
    # revoked at the end of the flow run: the engine dropped the role
    assert not role_exists(vault_database, login.username)
    assert lease_gone(root, login.lease_id)

    messages = [r["message"] for r in history.get_logs(seen["run"])]
    assert any(f"revoked lease {login.lease_id}" in m for m in messages), messages
    assert "password is **********" in messages
    history.flush()
    stored = (orch_home / "orch.db").read_bytes()
    assert password.encode() not in stored
    assert dynamic_approle["secret_id"].encode() not in stored
    with sqlite3.connect(orch_home / "orch.db") as conn:
        assert conn.execute("SELECT count(*) FROM orch_run_logs").fetchone()[0] > 0
    assert password not in repr(login)


def test_the_lease_is_renewed_while_the_flow_outlives_its_ttl(
    vault_database: VaultDatabase, creds: VaultCredentials, db_role: str, root: hvac.Client
) -> None:
    @flow
    def long_job() -> tuple[DynamicCredentials, str, dict[str, Any]]:
        login = vault_dynamic_credentials(creds, db_role)
        time.sleep(5)  # longer than the 3 s lease
        user, _ = current_user(vault_database, login)  # a new connection still logs in
        return login, user, root.sys.read_lease(login.lease_id)["data"]

    login, user, lease = long_job()
    assert user == login.username
    assert lease["last_renewal"] is not None
    assert lease["ttl"] > 0
    assert not role_exists(vault_database, login.username)


def test_without_renewal_the_same_lease_would_have_ended(
    vault_database: VaultDatabase, creds: VaultCredentials, db_role: str, root: hvac.Client
) -> None:
    # The counter-test of the one above: outside a flow nothing renews the lease, and after
    # its TTL the engine drops the login by itself.
    login = vault_dynamic_credentials(creds, db_role)
    assert role_exists(vault_database, login.username)
    deadline = time.monotonic() + 15
    while role_exists(vault_database, login.username) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not role_exists(vault_database, login.username)


def test_the_lease_is_revoked_when_the_flow_fails(
    vault_database: VaultDatabase, creds: VaultCredentials, db_role: str
) -> None:
    logins: list[DynamicCredentials] = []

    @flow
    def failing() -> None:
        logins.append(vault_dynamic_credentials(creds, db_role, revoke=True))
        assert role_exists(vault_database, logins[0].username)
        raise RuntimeError("the load failed")

    state = failing(return_state=True)
    assert state.name == "Failed"
    assert not role_exists(vault_database, logins[0].username)


def test_a_subflow_revokes_its_login_when_it_ends(
    vault_database: VaultDatabase, creds: VaultCredentials, db_role: str
) -> None:
    @flow
    def child() -> DynamicCredentials:
        return vault_dynamic_credentials(creds, db_role)

    @flow
    def parent() -> tuple[str | None, bool]:
        login = child()
        return login.username, role_exists(vault_database, login.username)

    username, exists_after_child = parent()
    assert exists_after_child is False
    assert not role_exists(vault_database, username)


CRASHING_FLOW = """
import sys, time
from orch import flow
from orch_vault import VaultCredentials, vault_dynamic_credentials

@flow
def stuck() -> None:
    login = vault_dynamic_credentials(VaultCredentials(url=sys.argv[1], token=sys.argv[2]),
                                      sys.argv[3])
    print(login.username, flush=True)
    time.sleep(120)

stuck()
"""


def test_the_lease_is_revoked_when_the_process_gets_sigterm(
    vault_server: VaultServer, vault_database: VaultDatabase, db_role: str, orch_home: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env["ORCH_HOME"] = str(orch_home)
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING_FLOW, vault_server.url, vault_server.root_token, db_role],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        username = proc.stdout.readline().strip()
        assert username.startswith("v-"), proc.stderr.read() if proc.stderr else ""
        assert role_exists(vault_database, username)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGTERM
    assert not role_exists(vault_database, username)


def test_an_unknown_role_names_the_block_and_the_role(
    vault_database: VaultDatabase, dynamic_approle: dict[str, Any], orch_home: Path
) -> None:
    creds: VaultCredentials = dynamic_approle["creds"]
    creds.save("vault-dyn")
    with pytest.raises(VaultNotFoundError) as err:
        vault_dynamic_credentials.fn(VaultCredentials.load("vault-dyn"), "no-such-role")
    message = str(err.value)
    assert message == (
        "vault_dynamic_credentials: the database secrets engine at database/ has no role "
        "'no-such-role' (vault-credentials/vault-dyn at database/creds/no-such-role)"
    )
    assert dynamic_approle["secret_id"] not in message


def test_an_engine_not_enabled_at_the_mount_is_a_clear_error(
    vault_server: VaultServer, creds: VaultCredentials
) -> None:
    with pytest.raises(
        VaultNotFoundError, match=r"is the AWS secrets engine enabled at aws/, with a role 'deploy'"
    ):
        vault_dynamic_credentials.fn(creds, "deploy", engine="aws")
    with pytest.raises(ValueError, match="engine must be 'database' or 'aws', not 'ldap'"):
        vault_dynamic_credentials.fn(creds, "x", engine="ldap")  # type: ignore[arg-type]


def test_permission_denied_names_the_block_and_the_role_never_the_secret_id(
    vault_server: VaultServer,
    vault_database: VaultDatabase,
    root: hvac.Client,
    db_role: str,
    orch_home: Path,
) -> None:
    other = approle_with_policy(
        vault_server, root, unique("kv-only"), 'path "secret/*" { capabilities = ["read"] }'
    )
    other["creds"].save("vault-kv-only")
    with pytest.raises(VaultAuthError) as err:
        vault_dynamic_credentials.fn(VaultCredentials.load("vault-kv-only"), db_role)
    message = str(err.value)
    assert message == (
        "vault_dynamic_credentials: permission denied (vault-credentials/vault-kv-only at "
        f"database/creds/{db_role}); the token's policies do not allow it"
    )
    assert other["secret_id"] not in message


def test_a_revocation_the_policy_denies_is_a_warning_naming_what_to_allow(
    vault_server: VaultServer,
    vault_database: VaultDatabase,
    root: hvac.Client,
    db_role: str,
    orch_home: Path,
) -> None:
    no_revoke = approle_with_policy(
        vault_server,
        root,
        unique("no-revoke"),
        'path "database/creds/*" { capabilities = ["read"] }',
    )

    @flow
    def job() -> tuple[DynamicCredentials, str]:
        return vault_dynamic_credentials(no_revoke["creds"], db_role), get_run_context().flow_run.id

    login, run_id = job()
    warnings = [r for r in history.get_logs(run_id) if r["level"] == "WARNING"]
    assert len(warnings) == 1
    message = warnings[0]["message"]
    assert f"could not revoke lease {login.lease_id} of role {db_role!r}" in message
    assert 'path "sys/leases/revoke" { capabilities = ["update"] }' in message
    assert no_revoke["secret_id"] not in message
    # still valid until its TTL (the db_role fixture revokes it)
    assert role_exists(vault_database, login.username)


def test_outside_a_flow_the_lease_is_left_to_its_ttl_and_that_is_said(
    vault_database: VaultDatabase,
    creds: VaultCredentials,
    db_role: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("WARNING", logger="orch_vault")
    login = vault_dynamic_credentials.fn(creds, db_role)
    assert role_exists(vault_database, login.username)
    assert [r.getMessage() for r in caplog.records] == [
        f"vault_dynamic_credentials: not in a flow run, so lease {login.lease_id} of role "
        f"{db_role!r} ({login.username}) is neither renewed nor revoked: the login ends with "
        "its TTL (3 s)"
    ]


def test_a_lease_at_its_maximum_ttl_is_said_to_end(
    vault_database: VaultDatabase, creds: VaultCredentials, root: hvac.Client, orch_home: Path
) -> None:
    name = unique("short")
    root.secrets.database.create_role(
        name=name,
        db_name=vault_database.connection,
        creation_statements=CREATION_STATEMENTS,
        default_ttl="2s",
        max_ttl="3s",
        mount_point=vault_database.mount,
    )

    @flow
    def job() -> tuple[DynamicCredentials, str]:
        login = vault_dynamic_credentials(creds, name)
        time.sleep(2.9)  # renewals at 2/3 of the lease soon reach the 3 s cap
        return login, get_run_context().flow_run.id

    login, run_id = job()
    warnings = [r["message"] for r in history.get_logs(run_id) if r["level"] == "WARNING"]
    assert len(warnings) == 1, history.get_logs(run_id)
    assert f"lease {login.lease_id} of role {name!r}" in warnings[0]
    assert "reached its maximum TTL: the login ends in " in warnings[0]
    assert not role_exists(vault_database, login.username)


def test_a_lease_revoked_behind_the_flows_back_is_a_warning_not_a_failure(
    vault_database: VaultDatabase,
    creds: VaultCredentials,
    db_role: str,
    root: hvac.Client,
    orch_home: Path,
) -> None:
    @flow
    def job() -> tuple[DynamicCredentials, str]:
        login = vault_dynamic_credentials(creds, db_role)
        root.sys.revoke_lease(login.lease_id)  # an operator revokes it
        time.sleep(4.5)  # the renewal at 2 s fails, and no other is tried
        return login, get_run_context().flow_run.id

    state = job(return_state=True)
    assert state.name == "Completed"
    login, run_id = state.result()
    warnings = [r["message"] for r in history.get_logs(run_id) if r["level"] == "WARNING"]
    assert len(warnings) == 1, warnings  # reported once: a revoked lease does not come back
    assert f"could not renew lease {login.lease_id} of role {db_role!r}" in warnings[0]
    assert warnings[0].endswith("it is revoked or has ended: no more renewals")
    assert root.adapter.token not in " ".join(warnings)


def test_the_aws_engines_answer_becomes_masked_keys() -> None:
    # The shape of Vault's GET aws/creds/:name answer (its API docs). OpenBao 2.7 ships no
    # AWS secrets engine, so this engine is not exercised against a server here.
    login = DynamicCredentials.from_response(
        {
            "lease_id": "aws/creds/deploy/abcd",
            "lease_duration": 3600,
            "renewable": True,
            "data": {
                "access_key": "AKIAIOSFODNN7EXAMPLE",
                "secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "security_token": None,
            },
        }
    )
    assert login.access_key == "AKIAIOSFODNN7EXAMPLE"
    assert login.secret_key is not None
    assert login.secret_key.get_secret_value() == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert login.security_token is None and login.username is None and login.password is None
    assert "wJalrXUtnFEMI" not in repr(login)
    assert login.secret_values() == ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]
