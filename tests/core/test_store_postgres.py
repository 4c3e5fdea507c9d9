"""A team store on PostgreSQL: two machines (two ORCH_HOMEs) share blocks and one key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from orch.store.crypto import encode_key, new_key

PLAIN = "team-secret-value-77"
SAVE = (
    "from orch.system_blocks import Secret; import sys;"
    "Secret(value=sys.argv[1]).save('shared-token')"
)
LOAD = (
    "from orch.system_blocks import Secret;"
    "print(Secret.load('shared-token').value.get_secret_value())"
)


def _machine(
    home: Path, url: str, key: str | None, code: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORCH_HOME": str(home), "ORCH_STORE_URL": url}
    env.pop("ORCH_SECRET_KEY", None)
    if key:
        env["ORCH_SECRET_KEY"] = key
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False
    )


def test_two_machines_share_blocks_with_the_team_key(pg_database: str, tmp_path: Path) -> None:
    key = encode_key(new_key())
    first = _machine(tmp_path / "a", pg_database, key, SAVE, PLAIN)
    assert first.returncode == 0, first.stderr
    second = _machine(tmp_path / "b", pg_database, key, LOAD)
    assert second.stdout.strip() == PLAIN, second.stderr


def test_machine_without_the_key_gets_a_clear_error(pg_database: str, tmp_path: Path) -> None:
    assert _machine(tmp_path / "a", pg_database, None, SAVE, PLAIN).returncode == 0
    # machine b has no ORCH_SECRET_KEY; it must not silently make a key of its own
    other = _machine(tmp_path / "b", pg_database, None, LOAD)
    assert other.returncode != 0
    assert "no secret key is configured" in other.stderr
    assert "shared-token" in other.stderr
    assert not (tmp_path / "b" / "secret.key").exists()
    wrong = _machine(tmp_path / "c", pg_database, encode_key(new_key()), LOAD)
    assert "is not the key that encrypted" in wrong.stderr
    assert PLAIN not in other.stderr + wrong.stderr


def test_plaintext_is_not_in_the_postgres_tables(pg_database: str) -> None:
    import psycopg

    os.environ["ORCH_STORE_URL"] = pg_database
    try:
        from orch.system_blocks import Secret

        Secret(value=PLAIN).save("t")
        with psycopg.connect(pg_database) as conn:
            dump = str(conn.execute("SELECT * FROM orch_blocks").fetchall())
            dump += str(conn.execute("SELECT * FROM orch_meta").fetchall())
        assert "t" in dump and PLAIN not in dump
    finally:
        del os.environ["ORCH_STORE_URL"]


def test_bad_store_url_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from orch.errors import StoreError
    from orch.system_blocks import Secret

    monkeypatch.setenv("ORCH_STORE_URL", "postgresql://nobody:hunter2pw@127.0.0.1:1/none")
    with pytest.raises(StoreError) as info:
        Secret.load("x")
    assert "cannot connect to the block store" in str(info.value)
    assert "hunter2pw" not in str(info.value)
    monkeypatch.setenv("ORCH_STORE_URL", "mysql://x@y/z")
    with pytest.raises(StoreError, match="not supported"):
        Secret.load("x")
