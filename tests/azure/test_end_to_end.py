"""End to end: a database block whose password is an ``azure-kv://`` reference is saved,
loaded in a new process (which knows only the name of the AzureCredentials block and the
fake vault's CA), and used to connect to PostgreSQL with orch-sqlalchemy."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from orch import SecretRef
from orch_azure import keyvault_write
from orch_sqlalchemy import DatabaseCredentials, SqlAlchemyConnector

from tests.backends.azure_keyvault import FakeKeyVault
from tests.backends.postgres import DRIVER_PASSWORD_PROBE

from .conftest import unique
from .test_keyvault import sp_credentials, vault_of


def test_azure_kv_password_resolved_in_a_new_process(
    azure_keyvault: FakeKeyVault,
    pg_server: str,
    pg_role: tuple[str, str],
    orch_home: Path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", azure_keyvault.ca_path)
    role, password = pg_role
    creds = sp_credentials(azure_keyvault)
    secret = unique("warehouse")
    keyvault_write(vault_of(azure_keyvault, creds), secret, json.dumps({"password": password}))
    creds.save("azure-prod")
    reference = f"azure-kv://{azure_keyvault.url}/{secret}?verify_challenge_resource=false#password"
    port = int(pg_server.rsplit(":", 1)[1])
    SqlAlchemyConnector(
        credentials=DatabaseCredentials(
            driver="postgresql+psycopg",
            host="127.0.0.1",
            port=port,
            database="postgres",
            username=role,
            password=SecretRef(reference),
        ),
        pool_size=1,
    ).save("warehouse")

    with sqlite3.connect(orch_home / "orch.db") as conn:
        stored = " ".join(r[0] for r in conn.execute("SELECT document FROM orch_blocks"))
    assert password not in stored
    assert reference in stored

    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    env.update(
        ORCH_HOME=str(orch_home),
        ORCH_AZURE_CREDENTIALS_BLOCK="azure-prod",
        REQUESTS_CA_BUNDLE=azure_keyvault.ca_path,
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
