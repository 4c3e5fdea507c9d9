"""Persistent task results for ``cache_key_fn``: in the store, large values in a folder.

A cached value is pickled. Up to ``ORCH_RESULTS_INLINE_BYTES`` (default 64 KiB) it is
kept in the store's ``orch_task_cache`` table; larger values go to
``$ORCH_HOME/results/<sha256 of the key>.pickle`` and the table keeps the path. Any process
using the same store (and, for large values, the same ``ORCH_HOME``) hits the cache.

Example:
    >>> from datetime import timedelta
    >>> from orch import task
    >>> from orch.tasks import task_input_hash
    >>> @task(cache_key_fn=task_input_hash, cache_expiration=timedelta(hours=1))
    ... def expensive(x: int) -> int:
    ...     return x * x
"""

from __future__ import annotations

import hashlib
import os
import pickle
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch.errors import SerializationError

if TYPE_CHECKING:
    from orch.store.base import Store
    from orch.tasks import Task


def _schema(store: Store) -> None:
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

    store = get_store()
    _schema(store)
    return store


def inline_limit() -> int:
    """Largest pickled value (bytes) kept in the store itself."""
    return int(os.environ.get("ORCH_RESULTS_INLINE_BYTES", str(64 * 1024)))


def results_dir() -> Path:
    """Where large cached values are written: ``$ORCH_HOME/results``."""
    from orch.settings import orch_home

    return orch_home() / "results"


def lookup(key: str) -> tuple[bool, Any]:
    """``(True, value)`` for a live cache entry, else ``(False, None)``.

    Example:
        >>> lookup("no-such-key")
        (False, None)
    """
    store = _store()
    with store.transaction(write=False) as tx:
        row = tx.execute(
            "SELECT expires, payload, path FROM orch_task_cache WHERE key = ?", (key,)
        ).fetchone()
    if row is None:
        return False, None
    expires, payload, path = row
    if expires is not None and float(expires) <= time.time():
        return False, None
    try:
        data = Path(path).read_bytes() if path else bytes(payload)
        return True, pickle.loads(data)  # noqa: S301 - written by orch itself, in the store
    except Exception:
        # A removed results file or a class that no longer unpickles: recompute.
        return False, None


def save(task: Task[Any, Any], key: str, value: Any, expiration: timedelta | None) -> None:
    """Persist ``value`` under ``key``; raises :class:`SerializationError` naming the task.

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
    now = time.time()
    expires = None if expiration is None else now + expiration.total_seconds()
    payload: bytes | None = data
    path: str | None = None
    if len(data) > inline_limit():
        folder = results_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = folder / f"{hashlib.sha256(key.encode()).hexdigest()}.pickle"
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)  # atomic: a reader never sees half a file
        payload, path = None, str(target)
    store = _store()
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO orch_task_cache (key, task_key, created, expires, size, payload, path)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
            "task_key = excluded.task_key, created = excluded.created, "
            "expires = excluded.expires, size = excluded.size, payload = excluded.payload, "
            "path = excluded.path",
            (key, task.task_key, now, expires, len(data), payload, path),
        )


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
        tx.execute(
            "DELETE FROM orch_task_cache WHERE expires IS NOT NULL AND expires <= ?", (now,)
        )
    for _key, path in rows:
        if path:
            Path(path).unlink(missing_ok=True)
    return len(rows)
