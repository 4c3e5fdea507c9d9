"""Secrets at rest: never in plain text anywhere on disk, and clear key errors."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from orch import Block, SecretStr
from orch.errors import BlockIntegrityError, SecretKeyError
from orch.store.crypto import encode_key, new_key
from orch.store.keyring import forget_ciphers

PLAIN = "correct-horse-battery-staple-42"


class ServiceLogin(Block):
    """A login.

    Example:
        ServiceLogin(user="u", password="p")
    """

    user: str
    password: SecretStr


def _files(home: Path) -> list[Path]:
    return [p for p in home.iterdir() if p.is_file()]


def test_plaintext_is_nowhere_in_the_database_files(orch_home: Path) -> None:
    for i in range(20):
        ServiceLogin(user=f"u{i}", password=PLAIN).save(f"login-{i}")
    for i in range(20):
        assert ServiceLogin.load(f"login-{i}").password.get_secret_value() == PLAIN
    names = {p.name for p in _files(orch_home)}
    assert {"orch.db", "orch.db-wal", "secret.key"} <= names
    for path in _files(orch_home):
        assert PLAIN.encode() not in path.read_bytes(), path.name


def test_key_file_is_private_and_not_in_the_database(orch_home: Path) -> None:
    ServiceLogin(user="u", password=PLAIN).save("a")
    key_file = orch_home / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_text = key_file.read_text().strip()
    for path in _files(orch_home):
        if path != key_file:
            assert key_text.encode() not in path.read_bytes()


def test_wrong_key_is_a_clear_error_naming_the_block(
    orch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ServiceLogin(user="u", password=PLAIN).save("prod")
    forget_ciphers()
    monkeypatch.setenv("ORCH_SECRET_KEY", encode_key(new_key()))
    with pytest.raises(SecretKeyError) as info:
        ServiceLogin.load("prod")
    message = str(info.value)
    assert "service-login/prod" in message and "password" in message
    assert "ORCH_SECRET_KEY" in message and "key id" in message
    assert PLAIN not in message


def test_missing_key_is_a_clear_error(orch_home: Path) -> None:
    ServiceLogin(user="u", password=PLAIN).save("prod")
    (orch_home / "secret.key").unlink()
    forget_ciphers()
    with pytest.raises(SecretKeyError, match="no secret key is configured"):
        ServiceLogin.load("prod")


def test_malformed_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_SECRET_KEY", "too-short")
    with pytest.raises(SecretKeyError, match="ORCH_SECRET_KEY is not a valid orch key"):
        ServiceLogin(user="u", password=PLAIN).save("prod")


def test_env_key_is_used_and_no_key_file_is_made(
    orch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCH_SECRET_KEY", encode_key(new_key()))
    ServiceLogin(user="u", password=PLAIN).save("prod")
    assert not (orch_home / "secret.key").exists()
    assert ServiceLogin.load("prod").password.get_secret_value() == PLAIN


def test_ciphertext_moved_to_another_block_does_not_decrypt(orch_home: Path) -> None:
    ServiceLogin(user="a", password=PLAIN).save("a")
    ServiceLogin(user="b", password="other-secret-value").save("b")
    with sqlite3.connect(orch_home / "orch.db") as conn:
        (doc_a,) = conn.execute("SELECT document FROM orch_blocks WHERE name='a'").fetchone()
        conn.execute("UPDATE orch_blocks SET document = ? WHERE name = 'b'", (doc_a,))
    # The row's integrity tag catches it first (tests/core/test_store_integrity.py checks
    # that a *signed* row holding another block's ciphertext still does not decrypt).
    with pytest.raises(BlockIntegrityError, match="service-login/b"):
        ServiceLogin.load("b")


def test_rotate_key_reencrypts_everything(orch_home: Path) -> None:
    from orch.cli.main import main

    for i in range(5):
        ServiceLogin(user="u", password=f"{PLAIN}-{i}").save(f"l{i}")
    old_key = (orch_home / "secret.key").read_text()
    with sqlite3.connect(orch_home / "orch.db") as conn:
        before = dict(conn.execute("SELECT name, document FROM orch_blocks").fetchall())
    with pytest.raises(SystemExit) as done:
        main(["store", "rotate-key"])
    assert done.value.code in (0, None)
    forget_ciphers()
    assert (orch_home / "secret.key").read_text() != old_key
    assert not (orch_home / "secret.key.new").exists()
    with sqlite3.connect(orch_home / "orch.db") as conn:
        after = dict(conn.execute("SELECT name, document FROM orch_blocks").fetchall())
    assert all(before[name] != after[name] for name in before)
    for i in range(5):
        assert ServiceLogin.load(f"l{i}").password.get_secret_value() == f"{PLAIN}-{i}"


def test_rotation_cut_off_before_key_swap_recovers(orch_home: Path) -> None:
    from orch.blocks.block_store import rotate_key
    from orch.store.crypto import write_key_file

    ServiceLogin(user="u", password=PLAIN).save("prod")
    key = new_key()
    write_key_file(orch_home / "secret.key.new", key)
    rotate_key(key)  # committed, but the process "died" before renaming the key file
    forget_ciphers()
    assert ServiceLogin.load("prod").password.get_secret_value() == PLAIN
    assert (orch_home / "secret.key").read_text().strip() == encode_key(key)


def test_concurrent_first_use_creates_one_key(orch_home: Path) -> None:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(4) as pool:
        list(pool.map(_save_one, [str(orch_home)] * 4, range(4)))
    for i in range(4):
        assert ServiceLogin.load(f"p{i}").password.get_secret_value() == PLAIN


def _save_one(home: str, i: int) -> None:
    os.environ["ORCH_HOME"] = home
    ServiceLogin(user="u", password=PLAIN).save(f"p{i}")
