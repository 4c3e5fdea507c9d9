"""Persistent task results for ``cache_key_fn``: in the store, large values in a folder.

A cached value is pickled, then sealed (AES-256-GCM under a subkey of the store key, with
the cache key as associated data), so what is on disk is never plain text — not even a
secret inside a cached value — and nothing is unpickled unless orch sealed it for that very
key: a pickle planted in the table or the results folder, or a payload moved to another
key, fails to authenticate and is a cache miss (and a warning on logger ``orch.cache``).
Up to ``ORCH_RESULTS_INLINE_BYTES`` (default 64 KiB) it is kept in the store's
``orch_task_cache`` table; larger values go to ``$ORCH_HOME/results/<sha256 of the
key>.pickle`` and the table keeps the path (only a file inside that folder is read). Any
process using the same store and key (and, for large values, the same ``ORCH_HOME``) hits
the cache. Rotating the store key drops the cache.

Example:
    >>> from datetime import timedelta
    >>> from orch import task
    >>> from orch.tasks import task_input_hash
    >>> @task(cache_key_fn=task_input_hash, cache_expiration=timedelta(hours=1))
    ... def expensive(x: int) -> int:
    ...     return x * x
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch.errors import SecretKeyError, SerializationError

if TYPE_CHECKING:
    from orch.store.base import Store, Tx
    from orch.store.crypto import Cipher
    from orch.tasks import Task

_log = logging.getLogger("orch.cache")


def ensure_schema(store: Store) -> None:
    """Create the cache table in ``store`` if it is missing."""
    blob = "BYTEA" if store.dialect == "postgresql" else "BLOB"
    store.ensure_schema(
        "task_cache",
        [
            f"""CREATE TABLE IF NOT EXISTS orch_task_cache (
                key TEXT PRIMARY KEY,
                task_key TEXT NOT NULL,
                created DOUBLE PRECISION NOT NULL,
                expires DOUBLE PRECISION,
                size INTEGER NOT NULL,
                payload {blob},
                path TEXT
            )"""
        ],
    )


def _store() -> Store:
    from orch.store import get_store
    from orch.store.meta import SCHEMA as META_SCHEMA

    store = get_store()
    store.ensure_schema("meta", META_SCHEMA)
    ensure_schema(store)
    return store


def inline_limit() -> int:
    """Largest pickled value (bytes) kept in the store itself."""
    return int(os.environ.get("ORCH_RESULTS_INLINE_BYTES", str(64 * 1024)))


def results_dir() -> Path:
    """Where large cached values are written: ``$ORCH_HOME/results``."""
    from orch.settings import orch_home

    return orch_home() / "results"


def _context(key: str) -> bytes:
    """What a sealed payload is bound to: this cache key, for this purpose."""
    return b"orch-task-cache-v1\0" + key.encode()


def _cipher(store: Store, recorded: Any) -> Cipher:
    """The cipher of the key id the store recorded (just read): after another process
    rotated the key, never the retired one this process may still hold."""
    from orch.store.keyring import cipher_for, store_cipher

    held = store_cipher(store, for_write=False)
    return held if recorded in (None, held.key_id) else cipher_for(store, str(recorded), held)


def _inside_results(path: str) -> Path | None:
    """``path`` resolved, if it lies inside ``results_dir`` (else ``None``)."""
    resolved = Path(path).resolve()
    return resolved if resolved.is_relative_to(results_dir().resolve()) else None


def _refuse(key: str, why: str) -> tuple[bool, Any]:
    from orch.secrets.redaction import redact

    _log.warning(redact(f"cached result for key {key!r} ignored (recomputed): {why}"))
    return False, None


def lookup(key: str) -> tuple[bool, Any]:
    """``(True, value)`` for a live cache entry, else ``(False, None)``.

    Only a payload that orch sealed for ``key`` with the store's key is unpickled.

    Example:
        >>> lookup("no-such-key")
        (False, None)
    """
    from orch.store.crypto import InvalidTag

    store = _store()
    with store.transaction(write=False) as tx:
        row = tx.execute(
            "SELECT expires, payload, path, (SELECT value FROM orch_meta WHERE key = 'key_id')"
            " FROM orch_task_cache WHERE key = ?",
            (key,),
        ).fetchone()
    if row is None:
        return False, None
    expires, payload, path, recorded = row
    if expires is not None and float(expires) <= time.time():
        return False, None
    if path:
        inside = _inside_results(str(path))
        if inside is None:
            return _refuse(key, f"its file {path} is not in the results folder {results_dir()}")
        try:
            sealed = inside.read_bytes()
        except OSError:
            return False, None  # a removed results file: recompute
    elif payload is None:
        return _refuse(key, "it holds neither a value nor a file")
    else:
        sealed = bytes(payload)
    try:
        data = _cipher(store, recorded).unseal(sealed, _context(key))
    except SecretKeyError as exc:
        return _refuse(key, f"it cannot be checked: {exc}")
    except InvalidTag:
        return _refuse(
            key,
            "it fails authentication (changed outside orch, sealed for another key, or "
            "sealed with a retired store key)",
        )
    try:
        return True, pickle.loads(data)  # noqa: S301 - authenticated above: sealed by orch
    except Exception:
        # A class that no longer unpickles: recompute.
        return False, None


def save(task: Task[Any, Any], key: str, value: Any, expiration: timedelta | None) -> None:
    """Persist ``value`` under ``key``; raises ``SerializationError`` naming the task.

    Without the store's key nothing is cached (a warning says why): never a payload that
    could not be authenticated when read back.

    Example:
        ``save(my_task, "k", {"rows": 3}, timedelta(hours=1))``
    """
    try:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise SerializationError(
            f"task {task.name!r} returned a {type(value).__name__} that cannot be cached "
            f"({type(exc).__name__}: {exc}); return picklable data (rows, dicts, frames, "
            "bytes) or remove cache_key_fn"
        ) from None
    from orch.store.keyring import current_cipher, store_cipher

    store = _store()
    try:
        cipher = store_cipher(store, for_write=True)
        now = time.time()
        expires = None if expiration is None else now + expiration.total_seconds()
        payload, path = _place(key, cipher.seal(data, _context(key)))
        with store.transaction() as tx:
            # Sealed with the key the store records now, never a retired one this process
            # still holds: if another process rotated the key meanwhile, seal again.
            current = current_cipher(store, tx, cipher)
            if current is not cipher:
                payload, path = _place(key, current.seal(data, _context(key)))
            tx.execute(
                "INSERT INTO orch_task_cache (key, task_key, created, expires, size, payload,"
                " path) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                "task_key = excluded.task_key, created = excluded.created, "
                "expires = excluded.expires, size = excluded.size, payload = excluded.payload, "
                "path = excluded.path",
                (key, task.task_key, now, expires, len(data), payload, path),
            )
    except SecretKeyError as exc:
        _log.warning("result of task %r not cached: %s", task.name, exc)
        return
    _prune_now_and_then()


# Expired entries are pruned by the process that writes the cache, at most this often, so
# the table and the results folder stay bounded without a service to run.
PRUNE_EVERY_SECONDS = 3600.0
_last_prune: dict[str, float] = {}


def _prune_now_and_then() -> None:
    from orch.store import get_store

    url, now = get_store().url, time.monotonic()
    last = _last_prune.get(url)
    if last is not None and now - last < PRUNE_EVERY_SECONDS:
        return
    _last_prune[url] = now
    try:
        clear_expired()
    except Exception as exc:  # pruning is housekeeping: never fail the task for it
        _log.warning("expired cached results not pruned: %s", exc)


def _place(key: str, sealed: bytes) -> tuple[bytes | None, str | None]:
    """``(payload, path)`` for the table: small values inline, big ones in a file."""
    if len(sealed) <= inline_limit():
        return sealed, None
    return None, _write_file(key, sealed)


def _write_file(key: str, sealed: bytes) -> str:
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / f"{hashlib.sha256(key.encode()).hexdigest()}.pickle"
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(sealed)
    os.replace(tmp, target)  # atomic: a reader never sees half a file
    return str(target)


def drop_all(tx: Tx) -> tuple[int, list[str]]:
    """Delete every entry in the caller's transaction; returns how many and their files
    (remove those with ``remove_files`` once the transaction commits)."""
    rows = tx.execute("SELECT path FROM orch_task_cache").fetchall()
    tx.execute("DELETE FROM orch_task_cache")
    return len(rows), [str(path) for (path,) in rows if path]


def remove_files(paths: list[str]) -> None:
    """Delete result files, only those inside the results folder (the table may have
    been edited to name any file)."""
    for path in paths:
        inside = _inside_results(path)
        if inside is not None:
            with contextlib.suppress(OSError):  # a file left behind is only a cache miss
                inside.unlink(missing_ok=True)


def clear_expired() -> int:
    """Delete expired entries (and their files); returns how many.

    Example:
        >>> clear_expired() >= 0
        True
    """
    store = _store()
    now = time.time()
    with store.transaction() as tx:
        rows = tx.execute(
            "SELECT key, path FROM orch_task_cache WHERE expires IS NOT NULL AND expires <= ?",
            (now,),
        ).fetchall()
        tx.execute("DELETE FROM orch_task_cache WHERE expires IS NOT NULL AND expires <= ?", (now,))
    remove_files([str(path) for _key, path in rows if path])
    return len(rows)
