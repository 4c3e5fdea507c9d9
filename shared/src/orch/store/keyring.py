"""Which key encrypts this store's secrets, checked against the key id the store records.

A fresh store adopts the configured key (creating the key file if there is none); after
that, a different or missing key is a clear error, never a decryption traceback.

The cipher is cached per process, so a key rotated by another process is noticed where it
matters: every read and write of a block compares the key id the store records *in that
statement or transaction* with the cached cipher's (``current_cipher``,
``cipher_for``), re-reads the configured key when they differ, and fails clearly if
that is still not the store's key. Nothing is ever written under a retired key.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import NoReturn

from orch.errors import SecretKeyError
from orch.store.base import Store, Tx
from orch.store.crypto import (
    Cipher,
    KeySource,
    create_key_file,
    decode_key,
    find_key,
    fsync_dir,
    key_id,
)
from orch.store.meta import get_meta, set_meta_if_absent

_ciphers: dict[tuple[str, str, str, str], Cipher] = {}
_lock = threading.Lock()


def _cache_key(store: Store) -> tuple[str, str, str, str]:
    # What decides which key is configured (the variable, or the key file under
    # ORCH_HOME, by default under HOME): read straight from the environment because this
    # runs on every load and save.
    env = os.environ
    key, home = env.get("ORCH_SECRET_KEY", ""), env.get("ORCH_HOME", "")
    return (store.url, key, home, env.get("HOME", ""))


def forget_ciphers() -> None:
    _ciphers.clear()


def store_cipher(store: Store, *, for_write: bool) -> Cipher:
    """The cipher for ``store``'s secrets (cached per process, store and key setting)."""
    cache_key = _cache_key(store)
    cipher = _ciphers.get(cache_key)
    if cipher is not None:
        return cipher
    with _lock:
        stored_id = get_meta(store, "key_id")
        source = find_key()
        if source is None:
            if stored_id is None and for_write:
                source = create_key_file()
            else:
                raise SecretKeyError(_missing_key_message(store, stored_id))
        if stored_id is None:
            stored_id = set_meta_if_absent(store, "key_id", key_id(source.key))
        if stored_id != key_id(source.key):
            source = _finish_rotation(source, stored_id) or _mismatch(store, source, stored_id)
        cipher = _ciphers[cache_key] = Cipher(source.key)
    return cipher


def current_cipher(store: Store, tx: Tx, held: Cipher, *, exclusive: bool = False) -> Cipher:
    """Inside a write transaction: the cipher of the key the store records now.

    ``held`` is returned when it is still the store's key. On PostgreSQL the key-id row
    is locked (shared, or ``exclusive`` for a rotation) until the caller commits, so a
    rotation cannot slip in between this check and the caller's write; SQLite's write
    transaction already excludes it.
    """
    lock = ""
    if store.dialect == "postgresql":
        lock = " FOR UPDATE" if exclusive else " FOR SHARE"
    row = tx.execute("SELECT value FROM orch_meta WHERE key = 'key_id'" + lock).fetchone()
    recorded = None if row is None else str(row[0])
    return held if recorded == held.key_id else cipher_for(store, recorded, held)


def cipher_for(store: Store, recorded: str | None, held: Cipher | None = None) -> Cipher:
    """The cipher for the key id ``recorded`` (as just read from the store), re-reading
    the configured key: another process may have rotated the key file in place.

    Touches no table, so it may run inside the caller's transaction. ``held`` is the
    cipher the caller had: if the configured key is still that one, the store's key was
    rotated under this process, and the message says so.
    """
    source = find_key()
    if source is None:
        raise SecretKeyError(_missing_key_message(store, recorded))
    if recorded is None:
        where = store.describe().get("path") or store.describe().get("url")
        raise SecretKeyError(
            f"the block store {where} records no key id (table orch_meta was changed "
            "outside orch): restore it, e.g. from a backup"
        )
    if key_id(source.key) != recorded:
        found = _finish_rotation(source, recorded)
        if found is None and held is not None and held.key_id == key_id(source.key):
            _rotated(store, source, recorded)
        source = found or _mismatch(store, source, recorded)
    cipher = Cipher(source.key)
    with _lock:
        _ciphers[_cache_key(store)] = cipher
    return cipher


def _rotated(store: Store, source: KeySource, recorded: str) -> NoReturn:
    where = store.describe().get("path") or store.describe().get("url")
    raise SecretKeyError(
        f"the key of the block store {where} was rotated (it is now key id {recorded}; "
        f"{source.description} still holds the retired key id {key_id(source.key)}): "
        "configure the new key (ORCH_SECRET_KEY or the key file) and start again"
    )


def _finish_rotation(source: KeySource, stored_id: str) -> KeySource | None:
    """After a rotation that committed but was cut off before the key file was swapped.

    Several processes (and the rotating one) may race to swap: whoever loses finds the
    key file already holding the new key.
    """
    if source.path is None:
        return None
    pending = source.path.with_name(source.path.name + ".new")
    try:
        key: bytes | None = decode_key(pending.read_text(), f"key file {pending}")
    except FileNotFoundError:
        key = None
    if key is not None and key_id(key) == stored_id:
        with contextlib.suppress(FileNotFoundError):
            os.replace(pending, source.path)
            fsync_dir(source.path.parent)
        return KeySource(key, source.description, source.path)
    again = find_key()
    if again is not None and again.path is not None and key_id(again.key) == stored_id:
        return again
    return None


def _mismatch(store: Store, source: KeySource, stored_id: str) -> KeySource:
    where = store.describe().get("path") or store.describe().get("url")
    raise SecretKeyError(
        f"the secret key from {source.description} (key id {key_id(source.key)}) is not the "
        f"key that encrypted the block store {where} (key id {stored_id}); set ORCH_SECRET_KEY "
        "to that key or restore its key file"
    )


def _missing_key_message(store: Store, stored_id: str | None) -> str:
    from orch.store.crypto import key_file_path

    where = store.describe().get("path") or store.describe().get("url")
    return (
        f"no secret key is configured for the block store {where}"
        + (f" (its secrets were encrypted with key id {stored_id})" if stored_id else "")
        + f": set ORCH_SECRET_KEY or restore the key file {key_file_path()}"
    )
