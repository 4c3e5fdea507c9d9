"""End to end: a database block whose password is a ``gcp-sm://`` reference is saved,
loaded in a new process (which knows only the name of the GcpCredentials block), and used
to connect to PostgreSQL with orch-sqlalchemy. The secret is served by the fake Secret
Manager through the real client."""

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
from orch_gcp import GcpCredentials, gcp_secret_write
from orch_sqlalchemy import DatabaseCredentials, SqlAlchemyConnector

from tests.backends.postgres import DRIVER_PASSWORD_PROBE

from .conftest import PROJECT, unique


def test_gcp_sm_password_resolved_in_a_new_process(
    sm_creds: GcpCredentials,
    gcp_secret_manager: Any,
    pg_server: str,
    pg_role: tuple[str, str],
    orch_home: Path,
) -> None:
    role, password = pg_role
    secret = unique("warehouse")
    gcp_secret_write.fn(sm_creds, secret, json.dumps({"username": role, "password": password}))
    sm_creds.save("gcp-prod")
    port = int(pg_server.rsplit(":", 1)[1])
    reference = f"gcp-sm://{PROJECT}/{secret}#password"
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

    # only the reference is stored
    with sqlite3.connect(orch_home / "orch.db") as conn:
        stored = " ".join(r[0] for r in conn.execute("SELECT document FROM orch_blocks"))
    assert password not in stored
    assert reference in stored

    before = gcp_secret_manager.count("GET", f"/secrets/{secret}/versions/")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "ORCH_GCP"))}
    env.update(ORCH_HOME=str(orch_home), ORCH_GCP_CREDENTIALS_BLOCK="gcp-prod")
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
    # the new process read the secret from Secret Manager (once)
    assert gcp_secret_manager.count("GET", f"/secrets/{secret}/versions/") - before == 1
