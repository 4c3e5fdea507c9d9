"""Integrity of what the store reads back: signed block rows, sealed cache entries, keyed
digests, and key rotations that never lose a secret."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import pickle
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from orch import Block, SecretStr, task
from orch.errors import BlockCorruptError, BlockIntegrityError, SecretKeyError
from orch.store.crypto import Cipher, encode_key, new_key
from orch.store.keyring import forget_ciphers, store_cipher

from tests.core.runtime_support import flush_history

pytestmark = pytest.mark.usefixtures("flush_history")
__all__ = ["flush_history"]

PLAIN = "hunter2-integrity-secret-981"
LOAD_SECRET = (
    "from orch.system_blocks import Secret; import sys;"
    "print(Secret.load(sys.argv[1]).value.get_secret_value())"
)


class IntegrityLogin(Block):
    """A login to a database server.

    Example:
        IntegrityLogin(host="db", port=5432, password="p")
    """

    host: str
    port: int
    password: SecretStr
    extra: Any = None


def orch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orch.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def python(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _db(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(home / "orch.db", isolation_level=None)


def _save_secret(name: str, value: str = PLAIN) -> None:
    from orch.system_blocks import Secret

    Secret(value=value).save(name, overwrite=True)


# --- 1. key rotation never loses data -----------------------------------------------------


def test_rotation_refuses_an_existing_new_key_file(tmp_path: Path) -> None:
    key = encode_key(new_key())
    env = {"ORCH_SECRET_KEY": key}
    assert (
        orch("block", "create", "secret", "t", "--set", f"value={PLAIN}", env=env).returncode == 0
    )
    existing = tmp_path / "taken.key"
    existing.write_text("something precious\n")
    done = orch("store", "rotate-key", "--new-key-file", str(existing), env=env)
    assert done.returncode != 0
    assert "exists" in done.stderr and str(existing) in done.stderr
    assert existing.read_text() == "something precious\n"
    assert python(LOAD_SECRET, "t", env=env) == PLAIN  # nothing was re-encrypted


def test_rotation_refuses_to_start_with_a_key_that_is_not_the_stores(tmp_path: Path) -> None:
    env = {"ORCH_SECRET_KEY": encode_key(new_key())}
    assert (
        orch("block", "create", "secret", "t", "--set", f"value={PLAIN}", env=env).returncode == 0
    )
    wrong = {"ORCH_SECRET_KEY": encode_key(new_key())}
    target = tmp_path / "new.key"
    done = orch("store", "rotate-key", "--new-key-file", str(target), env=wrong)
    assert done.returncode != 0 and "key id" in done.stderr
    assert not target.exists()
    assert python(LOAD_SECRET, "t", env=env) == PLAIN


def test_rotation_keeps_a_pending_key_file_it_did_not_write(orch_home: Path) -> None:
    """``secret.key.new`` may be another rotation's key, in flight: never delete it."""
    _save_secret("s")
    pending = orch_home / "secret.key.new"
    pending.write_text(encode_key(new_key()) + "\n")
    done = orch("store", "rotate-key")
    assert done.returncode != 0 and "secret.key.new exists" in done.stderr
    assert pending.exists()
    assert python(LOAD_SECRET, "s") == PLAIN


def test_a_process_with_the_old_key_file_saves_under_the_rotated_key(orch_home: Path) -> None:
    from orch.system_blocks import Secret

    _save_secret("before")  # this process now holds a cipher for the first key
    rotated = orch("store", "rotate-key")
    assert rotated.returncode == 0, rotated.stderr
    Secret(value=PLAIN + "-after").save("after")  # key file rewritten: re-read, not reused
    Secret.load("before")  # and a load picks the new key up too
    assert python(LOAD_SECRET, "after") == PLAIN + "-after"
    assert python(LOAD_SECRET, "before") == PLAIN


def test_a_process_with_a_retired_env_key_cannot_save(
    any_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orch.system_blocks import Secret

    old = encode_key(new_key())
    monkeypatch.setenv("ORCH_SECRET_KEY", old)
    _save_secret("before")
    new_file = tmp_path / "new.key"
    rotated = orch("store", "rotate-key", "--new-key-file", str(new_file))
    assert rotated.returncode == 0, rotated.stderr
    with pytest.raises(SecretKeyError) as info:
        Secret(value=PLAIN).save("after")
    message = str(info.value)
    assert "secret/after" in message and "rotated" in message and PLAIN not in message
    env = {"ORCH_SECRET_KEY": new_file.read_text().strip()}
    assert python(LOAD_SECRET, "before", env=env) == PLAIN
    with _store().transaction() as tx:
        assert tx.execute("SELECT count(*) FROM orch_blocks WHERE name='after'").fetchone() == (0,)


SAVER = """
import sys
from orch.system_blocks import Secret
worker, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    Secret(value=f"value-{worker}-{i}").save(f"w{worker}-{i}")
"""
CHECKER = """
import sys
from orch.system_blocks import Secret
workers, count = int(sys.argv[1]), int(sys.argv[2])
for w in range(workers):
    for i in range(count):
        assert Secret.load(f"w{w}-{i}").value.get_secret_value() == f"value-{w}-{i}", (w, i)
print("ok")
"""


def test_saves_racing_rotations_are_all_readable_afterwards(any_store: str) -> None:
    """Processes that keep saving while the key is rotated (three times) never write a
    block under a retired key: a fresh process reads every one of them."""
    _save_secret("first")
    workers, count = 2, 150
    env = {**os.environ}
    savers = [
        subprocess.Popen(
            [sys.executable, "-c", SAVER, str(w), str(count)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    for _ in range(3):
        done = orch("store", "rotate-key")
        assert done.returncode == 0, done.stderr
    for saver in savers:
        _, err = saver.communicate(timeout=120)
        assert saver.returncode == 0, err
    assert python(CHECKER, str(workers), str(count)) == "ok"


def test_a_process_with_the_old_key_caches_under_the_rotated_key(orch_home: Path) -> None:
    @task(cache_key_fn=lambda ctx, params: "after-rotation")
    def value() -> str:
        return "fresh"

    _save_secret("s")  # this process now holds a cipher for the first key
    assert orch("store", "rotate-key").returncode == 0
    assert value() == "fresh"
    hit = "from orch.engine import cache; print(cache.lookup('after-rotation'))"
    assert python(hit) == "(True, 'fresh')"


@pytest.mark.parametrize("breakage", ["foreign-secret", "bad-json", "edited"])
@pytest.mark.parametrize("key_from", ["file", "env"])
def test_a_failed_rotation_rolls_back_whole_and_leaves_no_key_file(
    orch_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key_from: str, breakage: str
) -> None:
    if key_from == "env":
        monkeypatch.setenv("ORCH_SECRET_KEY", encode_key(new_key()))
    for name in ("a", "b", "c"):
        _save_secret(name, f"{PLAIN}-{name}")
    with _db(orch_home) as conn:
        before = dict(conn.execute("SELECT name, document FROM orch_blocks").fetchall())
    if breakage == "foreign-secret":  # b's secret was sealed for block a: it cannot decrypt
        _resign(orch_home, "b", before["a"])
    elif breakage == "bad-json":  # signed by someone with the key, but not a document
        _resign(orch_home, "b", "{not json")
    else:  # changed in the database, without the key
        with _db(orch_home) as conn:
            conn.execute("UPDATE orch_blocks SET revision = 9 WHERE name = 'b'")
    with _db(orch_home) as conn:
        before = dict(conn.execute("SELECT name, document FROM orch_blocks").fetchall())
    key_file = orch_home / "secret.key"
    key_before = key_file.read_text() if key_file.exists() else None
    new_file = tmp_path / "new.key"
    args = ["--new-key-file", str(new_file)] if key_from == "env" else []
    done = orch("store", "rotate-key", *args)
    assert done.returncode != 0
    assert "secret/b" in done.stderr and PLAIN not in done.stderr
    assert not new_file.exists() and not (orch_home / "secret.key.new").exists()
    assert (key_file.read_text() if key_file.exists() else None) == key_before
    with _db(orch_home) as conn:
        after = dict(conn.execute("SELECT name, document FROM orch_blocks").fetchall())
    assert after == before
    forget_ciphers()
    from orch.system_blocks import Secret

    assert Secret.load("c").value.get_secret_value() == f"{PLAIN}-c"


def test_rotation_drops_the_task_cache(orch_home: Path) -> None:
    @task(cache_key_fn=lambda ctx, params: f"rot-{params['n']}")
    def cached(n: int) -> bytes:
        return os.urandom(n)

    cached(10)
    cached(200_000)  # large: a file in the results folder
    _save_secret("s")
    done = orch("store", "rotate-key")
    assert done.returncode == 0, done.stderr
    assert "2 cached task result" in done.stdout
    with _db(orch_home) as conn:
        assert conn.execute("SELECT count(*) FROM orch_task_cache").fetchone() == (0,)
    assert list((orch_home / "results").iterdir()) == []


# --- 2. every row is authenticated ---------------------------------------------------------


def _resign(home: Path, name: str, document: str) -> None:
    """Replace a row's document and sign it: what someone holding the key could write."""
    from orch.blocks.block_store import row_mac

    with _db(home) as conn:
        row = conn.execute(
            "SELECT slug, name, schema_version, revision, origin_module, origin_distribution"
            " FROM orch_blocks WHERE name = ?",
            (name,),
        ).fetchone()
        cipher = store_cipher(_store(), for_write=False)
        mac = row_mac(cipher, *row, document)
        conn.execute(
            "UPDATE orch_blocks SET document = ?, mac = ? WHERE name = ?", (document, mac, name)
        )


def _store() -> Any:
    from orch.blocks.block_store import open_block_store

    return open_block_store()


EDITS = {
    "document": "UPDATE orch_blocks SET document = replace(document, '\"db.internal\"',"
    " '\"evil.example\"')",
    "revision": "UPDATE orch_blocks SET revision = revision + 5",
    "schema_version": "UPDATE orch_blocks SET schema_version = 0",
    "origin_module": "UPDATE orch_blocks SET origin_module = 'os:path'",
    "origin_distribution": "UPDATE orch_blocks SET origin_distribution = 'evil-dist'",
}


@pytest.mark.parametrize("column", sorted(EDITS))
def test_an_edited_row_fails_to_load_naming_the_block(orch_home: Path, column: str) -> None:
    IntegrityLogin(host="db.internal", port=5432, password=PLAIN).save("prod")
    with _db(orch_home) as conn:
        conn.execute(EDITS[column])
        assert conn.total_changes == 1
    with pytest.raises(BlockIntegrityError) as info:
        IntegrityLogin.load("prod")
    assert "integrity-login/prod" in str(info.value) and PLAIN not in str(info.value)


def test_rows_cannot_be_swapped_between_names(any_store: str) -> None:
    IntegrityLogin(host="db.internal", port=5432, password=PLAIN).save("prod")
    IntegrityLogin(host="evil.example", port=5432, password="x").save("dev")
    store = _store()
    with store.transaction() as tx:
        document, mac = tx.execute(
            "SELECT document, mac FROM orch_blocks WHERE name = 'dev'"
        ).fetchone() or ("", "")
        tx.execute(
            "UPDATE orch_blocks SET document = ?, mac = ? WHERE name = 'prod'", (document, mac)
        )
    with pytest.raises(BlockIntegrityError, match="integrity-login/prod"):
        IntegrityLogin.load("prod")
    assert IntegrityLogin.load("dev").host == "evil.example"


def test_a_row_signed_with_another_key_is_refused(any_store: str) -> None:
    from orch.blocks.block_store import row_mac

    IntegrityLogin(host="db.internal", port=5432, password=PLAIN).save("prod")
    store = _store()
    with store.transaction() as tx:
        row = tx.execute(
            "SELECT slug, name, schema_version, revision, origin_module, origin_distribution,"
            " document FROM orch_blocks WHERE name = 'prod'"
        ).fetchone()
        assert row is not None
        forged = row_mac(Cipher(new_key()), *row)
        tx.execute("UPDATE orch_blocks SET mac = ? WHERE name = 'prod'", (forged,))
    with pytest.raises(BlockIntegrityError, match="integrity-login/prod"):
        IntegrityLogin.load("prod")


def test_a_signed_row_holding_another_blocks_ciphertext_does_not_decrypt(orch_home: Path) -> None:
    IntegrityLogin(host="a", port=1, password=PLAIN).save("a")
    IntegrityLogin(host="b", port=1, password="other").save("b")
    with _db(orch_home) as conn:
        (doc_a,) = conn.execute("SELECT document FROM orch_blocks WHERE name='a'").fetchone()
    _resign(orch_home, "b", doc_a)
    with pytest.raises(SecretKeyError, match="tampered") as info:
        IntegrityLogin.load("b")
    assert "integrity-login/b" in str(info.value) and PLAIN not in str(info.value)


def test_an_unsigned_row_is_refused_until_orch_store_upgrade(any_store: str) -> None:
    from orch.system_blocks import Secret

    _save_secret("old-1")
    _save_secret("old-2", PLAIN + "2")
    store = _store()
    with store.transaction() as tx:
        tx.execute("UPDATE orch_blocks SET mac = NULL")
    with pytest.raises(BlockIntegrityError) as info:
        Secret.load("old-1")
    assert "secret/old-1" in str(info.value) and "orch store upgrade" in str(info.value)
    assert json.loads(orch("store", "info", "--json").stdout)["unsigned_blocks"] == 2
    done = orch("store", "upgrade")
    assert done.returncode == 0, done.stderr
    assert "signed 2 block(s)" in done.stdout
    assert Secret.load("old-2").value.get_secret_value() == PLAIN + "2"
    again = orch("store", "upgrade")
    assert again.returncode == 0 and "signed 0 block(s)" in again.stdout


def test_upgrade_refuses_a_row_whose_secret_is_not_for_it(orch_home: Path) -> None:
    _save_secret("a")
    _save_secret("b", "other")
    with _db(orch_home) as conn:
        (doc_a,) = conn.execute("SELECT document FROM orch_blocks WHERE name='a'").fetchone()
        conn.execute("UPDATE orch_blocks SET mac = NULL")
        conn.execute("UPDATE orch_blocks SET document = ? WHERE name = 'b'", (doc_a,))
    done = orch("store", "upgrade")
    assert done.returncode != 0 and "secret/b" in done.stderr
    with _db(orch_home) as conn:  # rolled back whole: a is still unsigned
        assert conn.execute("SELECT count(*) FROM orch_blocks WHERE mac IS NULL").fetchone() == (2,)


def test_a_store_written_by_the_previous_version_is_migrated(orch_home: Path) -> None:
    """The table without a ``mac`` column gets one; its rows load after ``orch store upgrade``."""
    from orch.system_blocks import Secret

    orch_home.mkdir(parents=True)
    key = new_key()
    (orch_home / "secret.key").write_text(encode_key(key) + "\n")
    os.chmod(orch_home / "secret.key", 0o600)
    token = Cipher(key).encrypt(json.dumps(PLAIN).encode(), "secret/legacy")
    document = json.dumps({"value": {"$secret": "str", "$enc": token}})
    with _db(orch_home) as conn:
        conn.execute(
            "CREATE TABLE orch_blocks (slug TEXT NOT NULL, name TEXT NOT NULL,"
            " schema_version INTEGER NOT NULL, revision INTEGER NOT NULL,"
            " origin_module TEXT NOT NULL, origin_distribution TEXT, document TEXT NOT NULL,"
            " created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,"
            " PRIMARY KEY (slug, name))"
        )
        conn.execute("CREATE TABLE orch_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO orch_meta VALUES ('key_id', ?)", (Cipher(key).key_id,))
        conn.execute(
            "INSERT INTO orch_blocks VALUES ('secret', 'legacy', 1, 1,"
            " 'orch.system_blocks:Secret', 'orch-core', ?, 0, 0)",
            (document,),
        )
    with pytest.raises(BlockIntegrityError, match="orch store upgrade"):
        Secret.load("legacy")
    assert orch("store", "upgrade").returncode == 0
    assert Secret.load("legacy").value.get_secret_value() == PLAIN


def test_the_mac_column_is_added_to_an_old_postgres_table(pg_database: str) -> None:
    from orch.store import open_store

    old = open_store(pg_database)
    with old.transaction() as tx:
        tx.execute(
            "CREATE TABLE orch_blocks (slug TEXT NOT NULL, name TEXT NOT NULL,"
            " schema_version INTEGER NOT NULL, revision INTEGER NOT NULL,"
            " origin_module TEXT NOT NULL, origin_distribution TEXT, document TEXT NOT NULL,"
            " created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,"
            " PRIMARY KEY (slug, name))"
        )
    old.close()
    env = {"ORCH_STORE_URL": pg_database, "ORCH_SECRET_KEY": encode_key(new_key())}
    save = "from orch.system_blocks import Secret; Secret(value='v').save('x')"
    assert python(save, env=env) == ""
    assert python(LOAD_SECRET, "x", env=env) == "v"


# --- 3. the task cache never unpickles what it did not seal --------------------------------


class _Boom:
    """Unpickling this creates ``path``: proof that a pickle was run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def _cached_task(calls: list[int]) -> Any:
    @task(cache_key_fn=lambda ctx, params: "evil-key", cache_expiration=timedelta(hours=1))
    def cached() -> int:
        calls.append(1)
        return 42

    return cached


@pytest.mark.parametrize("where", ["payload", "path-outside", "path-inside"])
def test_a_planted_pickle_is_never_run(
    orch_home: Path, tmp_path: Path, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []
    cached = _cached_task(calls)
    assert cached() == 42
    marker = tmp_path / "pwned"
    evil = pickle.dumps(_Boom(marker))
    with _db(orch_home) as conn:
        if where == "payload":
            conn.execute("UPDATE orch_task_cache SET payload = ?, path = NULL", (evil,))
        else:
            folder = orch_home / "results" if where == "path-inside" else tmp_path
            folder.mkdir(exist_ok=True)
            planted = folder / "planted.pickle"
            planted.write_bytes(evil)
            conn.execute("UPDATE orch_task_cache SET payload = NULL, path = ?", (str(planted),))
    with caplog.at_level(logging.WARNING, logger="orch.cache"):
        assert cached() == 42
    assert not marker.exists()
    assert calls == [1, 1]  # a miss: recomputed
    assert any("evil-key" in r.getMessage() for r in caplog.records)


def test_a_sealed_payload_moved_to_another_key_is_a_miss(orch_home: Path) -> None:
    @task(cache_key_fn=lambda ctx, params: f"k-{params['n']}")
    def ident(n: int) -> int:
        return n

    assert ident(1) == 1 and ident(2) == 2
    with _db(orch_home) as conn:
        (payload,) = conn.execute("SELECT payload FROM orch_task_cache WHERE key='k-1'").fetchone()
        conn.execute("UPDATE orch_task_cache SET payload = ? WHERE key = 'k-2'", (payload,))
    assert ident(2) == 2 and ident(1) == 1


def test_cached_secrets_are_never_on_disk_in_plain_text(orch_home: Path) -> None:
    @task(cache_key_fn=lambda ctx, params: f"s-{params['size']}")
    def leak(size: int) -> dict[str, Any]:
        return {
            "secret": SecretStr(PLAIN),
            "block": IntegrityLogin(host="h", port=1, password=PLAIN),
            "padding": b"x" * size,
        }

    small, large = leak(0), leak(200_000)
    again = leak(0)
    assert again["secret"].get_secret_value() == PLAIN
    assert again["block"].password.get_secret_value() == PLAIN
    assert leak(200_000)["block"] == large["block"] and small["padding"] == b""
    files = [p for p in orch_home.rglob("*") if p.is_file()]
    assert any(p.parent.name == "results" for p in files)
    assert any(p.name == "orch.db-wal" for p in files)
    for path in files:
        data = path.read_bytes()
        assert PLAIN.encode() not in data, path
        assert base64.b64encode(PLAIN.encode()) not in data, path


# --- 4. parameter digests are keyed --------------------------------------------------------


def test_parameters_digest_is_keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    from orch.history import parameters_digest

    pin = 493817
    digests = []
    for _ in range(2):
        monkeypatch.setenv("ORCH_SECRET_KEY", encode_key(new_key()))
        forget_ciphers()
        from orch import store as store_module

        store_module._stores.clear()
        monkeypatch.setenv(
            "ORCH_STORE_URL", f"sqlite:///{os.environ['ORCH_HOME']}/{len(digests)}.db"
        )
        digest = parameters_digest((pin,), {})
        assert digest is not None and digest == parameters_digest((pin,), {})
        assert parameters_digest((pin + 1,), {}) != digest
        digests.append(digest)
    unkeyed = hashlib.blake2b(repr(pin).encode(), digest_size=8).hexdigest()
    assert digests[0] != digests[1] and unkeyed not in digests


def test_no_key_means_no_digest(orch_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orch.history import parameters_digest

    _save_secret("s")
    (orch_home / "secret.key").unlink()  # the store has a key id but no key is configured
    forget_ciphers()
    assert parameters_digest((123456,), {}) is None


# --- 5. corrupt documents name the block ---------------------------------------------------


def _token(payload: bytes, context: str = "integrity-login/prod") -> str:
    return store_cipher(_store(), for_write=False).encrypt(payload, context)


CORRUPT: dict[str, Any] = {
    "list": lambda: [1, 2],
    "enc-not-str": lambda: {"password": {"$secret": "str", "$enc": 5}},
    "enc-bad-base64": lambda: {"password": {"$secret": "str", "$enc": "v1:@@@not-base64"}},
    "enc-short": lambda: {"password": {"$secret": "str", "$enc": "v1:AAAA"}},
    "secret-not-json": lambda: {"password": {"$secret": "str", "$enc": _token(b"{nope")}},
    "secret-wrong-type": lambda: {"password": {"$secret": "str", "$enc": _token(b"[1]")}},
    "secret-bytes-bad": lambda: {"password": {"$secret": "bytes", "$enc": _token(b'"@@"')}},
    "secret-dict-bad": lambda: {"password": {"$secret": "dict", "$enc": _token(b'"x"')}},
    "dict-not-dict": lambda: {"extra": {"$dict": [1]}},
    "version-not-int": lambda: {"extra": {"$type": "secret", "$version": "x", "$data": {}}},
    "type-not-str": lambda: {"extra": {"$type": 5, "$data": {}}},
    "data-not-dict": lambda: {"extra": {"$type": "secret", "$data": [1]}},
    "block-not-str": lambda: {"extra": {"$block": 5}},
    "block-no-slash": lambda: {"extra": {"$block": "nothing"}},
    "ref-not-str": lambda: {"extra": {"$ref": 5}},
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_a_signed_but_malformed_document_names_the_block(orch_home: Path, case: str) -> None:
    IntegrityLogin(host="db.internal", port=5432, password=PLAIN).save("prod")
    data = CORRUPT[case]()
    if isinstance(data, dict):
        data = {"host": "db.internal", "port": 5432, "password": "x", **data}
        if "$secret" not in json.dumps(data["password"]):
            data["password"] = {"$secret": "str", "$enc": _token(b'"p"')}
    _resign(orch_home, "prod", json.dumps(data))
    with pytest.raises(BlockCorruptError) as info:
        IntegrityLogin.load("prod")
    assert not isinstance(info.value, BlockIntegrityError)
    assert "integrity-login/prod" in str(info.value)


def test_running_a_flow_creates_no_key(orch_home: Path) -> None:
    # A digest needs the key, but running a flow must not make this machine's key the
    # key of a fresh (possibly shared) store: only saving a secret does that.
    from orch import flow, history, task

    @task
    def double(pin: int) -> int:
        return pin * 2

    @flow
    def pins() -> int:
        return double(493817)

    assert pins() == 987634
    history.flush()
    assert not (orch_home / "secret.key").exists()
    [run] = history.list_flow_runs(limit=1)
    assert run["state"] == "Completed"


def test_inspect_shows_unsigned_and_tampered_rows_masked_with_the_verdict(
    orch_home: Path,
) -> None:
    # The upgrade docs say: look at unsigned blocks before signing them; and a tampered
    # row is worth examining. Both are shown masked; only the tampered one exits non-zero.
    IntegrityLogin(host="db", port=5432, password=PLAIN).save("old")
    IntegrityLogin(host="db", port=5432, password=PLAIN).save("hacked")
    with _db(orch_home) as conn:
        conn.execute("UPDATE orch_blocks SET mac = NULL WHERE name = 'old'")
        conn.execute(
            "UPDATE orch_blocks SET document = replace(document, '5432', '6543')"
            " WHERE name = 'hacked'"
        )
    old = orch("block", "inspect", "integrity-login/old", "--json")
    assert old.returncode == 0, old.stderr
    shown = json.loads(old.stdout)
    assert shown["integrity"].startswith("not verified (unsigned")
    assert shown["fields"]["port"] == 5432 and shown["fields"]["password"] == "**********"
    hacked = orch("block", "inspect", "integrity-login/hacked")
    assert hacked.returncode == 1
    assert "integrity: FAILED" in hacked.stdout and "6543" in hacked.stdout
    for done in (old, hacked):
        assert PLAIN not in done.stdout + done.stderr
