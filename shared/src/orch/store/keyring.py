"""Which key encrypts this store's secrets, checked against the key id the store records.

A fresh store adopts the configured key (creating the key file if there is none); after
that, a different or missing key is a clear error, never a decryption traceback.
"""

from __future__ import annotations

import os
import threading

from orch.errors import SecretKeyError
from orch.store.base import Store
from orch.store.crypto import Cipher, KeySource, create_key_file, decode_key, find_key, key_id
from orch.store.meta import get_meta, set_meta_if_absent

_ciphers: dict[tuple[str, str], Cipher] = {}
_lock = threading.Lock()


def _cache_key(store: Store) -> tuple[str, str]:
    from orch.store.crypto import key_file_path

    return (store.url, os.environ.get("ORCH_SECRET_KEY", "") + "|" + str(key_file_path()))


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


def _finish_rotation(source: KeySource, stored_id: str) -> KeySource | None:
    """After a rotation that committed but was cut off before the key file was swapped."""
    if source.path is None:
        return None
    pending = source.path.with_name(source.path.name + ".new")
    if not pending.exists():
        return None
    key = decode_key(pending.read_text(), f"key file {pending}")
    if key_id(key) != stored_id:
        return None
    os.replace(pending, source.path)
    return KeySource(key, source.description, source.path)


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
