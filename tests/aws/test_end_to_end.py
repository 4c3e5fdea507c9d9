"""End to end: a database block whose password is an ``aws-sm://`` reference is saved,
loaded in a new process (which knows only the moto endpoint and the name of the
AwsCredentials block), and used to connect to PostgreSQL with orch-sqlalchemy."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from orch import SecretRef
from orch_aws import AwsCredentials
from orch_aws.tasks import create_secret
from orch_sqlalchemy import DatabaseCredentials, SqlAlchemyConnector

from tests.backends.postgres import DRIVER_PASSWORD_PROBE

from .conftest import unique


def test_aws_sm_password_resolved_in_a_new_process(
    creds: AwsCredentials, pg_server: str, pg_role: tuple[str, str], orch_home: Path
) -> None:
    role, password = pg_role
    secret = unique("prod/warehouse")
    create_secret(creds, secret, {"username": role, "password": password})
    creds.save("aws-prod")
    port = int(pg_server.rsplit(":", 1)[1])
    SqlAlchemyConnector(
        credentials=DatabaseCredentials(
            driver="postgresql+psycopg",
            host="127.0.0.1",
            port=port,
            database="postgres",
            username=role,
            password=SecretRef(f"aws-sm://{secret}#password"),
        ),
        pool_size=1,
    ).save("warehouse")

    # only the reference is stored
    with sqlite3.connect(orch_home / "orch.db") as conn:
        stored = " ".join(r[0] for r in conn.execute("SELECT document FROM orch_blocks"))
    assert password not in stored
    assert f"aws-sm://{secret}#password" in stored

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        ORCH_HOME=str(orch_home),
        ORCH_AWS_CREDENTIALS_BLOCK="aws-prod",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_EC2_METADATA_DISABLED="true",
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
