"""The quick start and the dynamic credentials example of docs/integrations/vault.md run as
written, in a fresh process (in the workspace, and in a fresh venv where only the wheels
were installed), pointed at the OpenBao server by VAULT_ADDR and VAULT_TOKEN (and, for the
second, at the PostgreSQL its database engine manages by PGHOST and PGPORT)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.backends.vault import CREATION_STATEMENTS, VaultDatabase, VaultServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "vault.md"


@pytest.mark.parametrize("where", ["workspace", "fresh-wheel-venv"])
def test_quick_start_runs(
    where: str, wheel_python: Callable[..., Path], vault_server: VaultServer, tmp_path: Path
) -> None:
    # "fresh-wheel-venv": only `pip install --find-links dist orch-vault` was run there.
    python = sys.executable if where == "workspace" else str(wheel_python("orch-vault"))
    section = DOC.read_text().split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "ORCH_"))}
    env.update(
        ORCH_HOME=str(tmp_path / "home"),
        VAULT_ADDR=vault_server.url,
        VAULT_TOKEN=vault_server.root_token,
    )
    out = subprocess.run(
        [python, "-c", code.group(1)], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines() == ["['db']", "s3cr3t", "ok"]


@pytest.mark.parametrize("where", ["workspace", "fresh-wheel-venv"])
def test_dynamic_credentials_example_runs(
    where: str,
    wheel_python: Callable[..., Path],
    vault_server: VaultServer,
    vault_database: VaultDatabase,
    tmp_path: Path,
) -> None:
    import hvac
    import psycopg

    python = (
        sys.executable
        if where == "workspace"
        else str(wheel_python("orch-vault", "orch-sqlalchemy[postgres]"))
    )
    hvac.Client(url=vault_server.url, token=vault_server.root_token).secrets.database.create_role(
        name="readonly",
        db_name=vault_database.connection,
        creation_statements=CREATION_STATEMENTS,
        default_ttl="30s",
        max_ttl="120s",
        mount_point=vault_database.mount,
    )
    section = DOC.read_text().split("## Dynamic credentials", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    pg = urlsplit(vault_database.pg_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "ORCH_", "PG"))}
    env.update(
        ORCH_HOME=str(tmp_path / "home"),
        VAULT_ADDR=vault_server.url,
        VAULT_TOKEN=vault_server.root_token,
        PGHOST=str(pg.hostname),
        PGPORT=str(pg.port),
    )
    out = subprocess.run(
        [python, "-c", code.group(1)], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    user = out.stdout.strip().splitlines()[-1]
    assert user.startswith("v-token-readonly-")
    with psycopg.connect(vault_database.pg_url) as conn:
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone() is None
