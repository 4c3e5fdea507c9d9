"""Concurrency limits shared by every process that uses the same store.

``with concurrency("warehouse", limit=4):`` holds one of 4 slots named ``warehouse``;
``@task(concurrency_limit=N)`` does the same around each run of the task (slot name
``task:<task name>``). A slot is a lease row in the store: the holder renews it in the
background every third of ``ORCH_LEASE_SECONDS`` (default 30); a lease whose holder died
expires (at once when the holder was on this host and its pid is gone).

Example:
    >>> import orch
    >>> with orch.concurrency("warehouse", limit=4):
    ...     pass  # at most 4 of these blocks run at once, across processes
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from orch.engine.context import new_id
from orch.errors import ConcurrencyError
from orch.history.liveness import HOST, gone_here

if TYPE_CHECKING:
    from orch.store.base import Store, Tx

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS orch_concurrency_limits (name TEXT PRIMARY KEY, "
    "slots INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS orch_concurrency_leases (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        acquired DOUBLE PRECISION NOT NULL,
        expires DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS orch_concurrency_leases_name ON orch_concurrency_leases (name)",
]

_held: dict[str, Lease] = {}
_held_lock = threading.Lock()
_renewer: threading.Thread | None = None
_gates: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_gates_lock = threading.Lock()


def lease_seconds() -> float:
    """How long a lease lives without renewal (``ORCH_LEASE_SECONDS``, default 30)."""
    return float(os.environ.get("ORCH_LEASE_SECONDS", "30"))


def _store() -> Store:
    from orch.store import get_store

    store = get_store()
    store.ensure_schema("concurrency", SCHEMA)
    return store


class Lease:
    """One held slot of a named limit; ``release`` gives it back.

    Example:
        ``lease = acquire("warehouse", 4); try: ... finally: lease.release()``
    """

    def __init__(self, lease_id: str, name: str, gate: threading.BoundedSemaphore) -> None:
        self.id = lease_id
        self.name = name
        self._gate = gate
        self._released = False

    def release(self) -> None:
        """Give the slot back (idempotent)."""
        if self._released:
            return
        self._released = True
        with _held_lock:
            _held.pop(self.id, None)
        try:
            store = _store()
            with store.transaction() as tx:
                tx.execute("DELETE FROM orch_concurrency_leases WHERE id = ?", (self.id,))
        finally:
            self._gate.release()


def _gate(name: str, limit: int) -> threading.BoundedSemaphore:
    # Threads of one process queue here first, so only up to `limit` of them poll the store.
    key = (name, limit)
    gate = _gates.get(key)
    if gate is None:
        with _gates_lock:
            gate = _gates.setdefault(key, threading.BoundedSemaphore(limit))
    return gate


def _try_take(store: Store, name: str, limit: int, lease_id: str) -> bool:
    now = time.time()
    with store.transaction() as tx:
        _lock_limit(store, tx, name, limit)
        tx.execute(
            "DELETE FROM orch_concurrency_leases WHERE name = ? AND expires < ?", (name, now)
        )
        rows = tx.execute(
            "SELECT id, pid, host FROM orch_concurrency_leases WHERE name = ?", (name,)
        ).fetchall()
        live = 0
        for row_id, pid, host in rows:
            if gone_here(host, pid):
                tx.execute("DELETE FROM orch_concurrency_leases WHERE id = ?", (row_id,))
            else:
                live += 1
        if live >= limit:
            return False
        tx.execute(
            "INSERT INTO orch_concurrency_leases (id, name, pid, host, acquired, expires) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (lease_id, name, os.getpid(), HOST, now, now + lease_seconds()),
        )
    return True


def _lock_limit(store: Store, tx: Tx, name: str, limit: int) -> None:
    # The upsert takes the limit row's lock on PostgreSQL, serialising takers of one name;
    # SQLite's BEGIN IMMEDIATE already serialises every writer.
    tx.execute(
        "INSERT INTO orch_concurrency_limits (name, slots) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET slots = excluded.slots",
        (name, limit),
    )


def acquire(name: str, limit: int, timeout_seconds: float | None = None) -> Lease:
    """Take one of ``limit`` slots named ``name``, waiting as long as needed (or until
    ``timeout_seconds``, then ``ConcurrencyError``).

    Example:
        ``lease = acquire("warehouse", 4)``
    """
    if limit < 1:
        raise ConcurrencyError(f"concurrency limit {name!r}: limit must be >= 1, got {limit}")
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    gate = _gate(name, limit)
    if not gate.acquire(timeout=timeout_seconds):
        raise ConcurrencyError(
            f"concurrency limit {name!r}: no slot free within {timeout_seconds} s"
        )
    try:
        store = _store()
        lease_id = new_id()
        delay = 0.005
        while not _try_take(store, name, limit, lease_id):
            if deadline is not None and time.monotonic() >= deadline:
                raise ConcurrencyError(
                    f"concurrency limit {name!r}: no slot free within {timeout_seconds} s "
                    f"(limit {limit})"
                )
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 1.5, 0.2)
    except BaseException:
        gate.release()
        raise
    lease = Lease(lease_id, name, gate)
    with _held_lock:
        _held[lease_id] = lease
    _start_renewer()
    return lease


@contextmanager
def concurrency(
    name: str, limit: int | None = None, timeout_seconds: float | None = None
) -> Iterator[None]:
    """Hold one slot of the named limit for the ``with`` block, across processes.

    ``limit`` sets the number of slots (kept in the store); without it the stored limit
    of that name is used.

    Example:
        >>> import orch
        >>> with orch.concurrency("warehouse", limit=4):
        ...     pass
    """
    if limit is None:
        store = _store()
        with store.transaction(write=False) as tx:
            row = tx.execute(
                "SELECT slots FROM orch_concurrency_limits WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            raise ConcurrencyError(
                f"concurrency limit {name!r} is not defined: pass limit=N the first time"
            )
        limit = int(row[0])
    lease = acquire(name, limit, timeout_seconds)
    try:
        yield
    finally:
        lease.release()


def _start_renewer() -> None:
    global _renewer
    if _renewer is not None and _renewer.is_alive():
        return
    with _held_lock:
        if _renewer is None or not _renewer.is_alive():
            _renewer = threading.Thread(target=_renew_loop, name="orch-leases", daemon=True)
            _renewer.start()


def _renew_loop() -> None:
    while True:
        time.sleep(lease_seconds() / 3)
        with _held_lock:
            ids = list(_held)
        if not ids:
            continue
        expires = time.time() + lease_seconds()
        try:
            store = _store()
            with store.transaction() as tx:
                tx.executemany(
                    "UPDATE orch_concurrency_leases SET expires = ? WHERE id = ?",
                    [(expires, i) for i in ids],
                )
        except Exception:  # noqa: S112 - retried at the next tick; the lease may lapse
            continue


def _after_fork() -> None:
    global _renewer, _held_lock, _gates_lock
    _renewer = None
    _held.clear()
    _gates.clear()
    _held_lock = threading.Lock()
    _gates_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)
