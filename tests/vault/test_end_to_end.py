"""End to end: a database block whose password is a ``vault://`` reference is saved,
loaded in a new process (which knows only the name of the VaultCredentials block, whose
secret id comes from the environment), and used to connect to PostgreSQL with
orch-sqlalchemy."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from orch import SecretRef
from orch_sqlalchemy import DatabaseCredentials, SqlAlchemyConnector
from orch_vault import VaultCredentials, vault_write

from tests.backends.postgres import DRIVER_PASSWORD_PROBE
from tests.backends.vault import VaultServer


def test_vault_password_resolved_in_a_new_process(
    vault_server: VaultServer,
    approle: dict[str, Any],
    pg_server: str,
    pg_role: tuple[str, str],
    orch_home: Path,
    path: str,
) -> None:
    role, password = pg_role
    creds = VaultCredentials(
        url=vault_server.url,
        auth_method="approle",
        role_id=approle["role_id"],
        secret_id=SecretRef("env://ORCH_TEST_VAULT_SECRET_ID"),
    )
    creds.save("vault-prod")
    # written with the root token: the child logs in with the AppRole
    vault_write.fn(
        VaultCredentials(url=vault_server.url, token=vault_server.root_token),
        path,
        {"username": role, "password": password},
    )
    port = int(pg_server.rsplit(":", 1)[1])
    SqlAlchemyConnector(
        credentials=DatabaseCredentials(
            driver="postgresql+psycopg",
            host="127.0.0.1",
            port=port,
            database="postgres",
            username=role,
            password=SecretRef(f"vault://secret/{path}#password"),
        ),
        pool_size=1,
    ).save("warehouse")

    # only the references are stored
    with sqlite3.connect(orch_home / "orch.db") as conn:
        stored = " ".join(r[0] for r in conn.execute("SELECT document FROM orch_blocks"))
    assert password not in stored
    assert approle["secret_id"] not in stored
    assert f"vault://secret/{path}#password" in stored

    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env.update(
        ORCH_HOME=str(orch_home),
        ORCH_VAULT_CREDENTIALS_BLOCK="vault-prod",
        ORCH_TEST_VAULT_SECRET_ID=approle["secret_id"],
    )
    out = subprocess.run(
        [sys.executable, "-c", DRIVER_PASSWORD_PROBE],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert password not in out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {
        "user": role,
        "password_sha256": hashlib.sha256(password.encode()).hexdigest(),
    }
