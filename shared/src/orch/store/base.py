"""The SQL store shared by the embedded SQLite file and a team's PostgreSQL server.

One connection per thread (and per process after a fork), explicit transactions, and a
small ``?``-placeholder dialect so that the SQL written by orch's modules is the same for
both databases. Modules register their own tables with ``Store.ensure_schema``.
"""

from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any, TypeVar

from orch.errors import StoreError

Row = tuple[Any, ...]
T = TypeVar("T")


class ConnectionLost(StoreError):
    """The store's connection dropped during a transaction (the server restarted, or an
    administrator or a failover ended the session).

    ``in_doubt`` is False when it dropped before COMMIT was sent: nothing was applied and
    the transaction can run again on a new connection. It is True when it dropped on
    COMMIT itself: the server may have applied the transaction or not.
    """

    def __init__(self, message: str, *, in_doubt: bool) -> None:
        super().__init__(message)
        self.in_doubt = in_doubt


class Backoff:
    """Waits between attempts to get a lost store back, up to ``ORCH_STORE_RETRY_SECONDS``
    after the first failure; then raises a ``StoreError`` naming the store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._deadline: float | None = None
        self._limit = 0.0
        self._delay = 0.0  # the first retry is at once: a dropped idle session is common

    def wait(self, reason: str) -> None:
        """Sleep before the next attempt, or raise when the retry time is spent."""
        now = time.monotonic()
        if self._deadline is None:
            from orch.settings import store_retry_seconds

            self._limit = store_retry_seconds()
            self._deadline = now + self._limit
        if now >= self._deadline:
            raise StoreError(
                f"lost the connection to the block store {self._store.where()} and could "
                f"not get it back within {self._limit:g} s (ORCH_STORE_RETRY_SECONDS): {reason}"
            )
        time.sleep(min(self._delay, self._deadline - now))
        self._delay = min(max(self._delay * 2, 0.05), 2.0)


class Tx:
    """A cursor inside one transaction; SQL uses ``?`` placeholders on every dialect."""

    def __init__(self, cursor: Any, convert: bool) -> None:
        self._cursor = cursor
        self._convert = convert

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Tx:
        self._cursor.execute(_to_format(sql) if self._convert else sql, params)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Tx:
        self._cursor.executemany(_to_format(sql) if self._convert else sql, rows)
        return self

    def fetchone(self) -> Row | None:
        row = self._cursor.fetchone()
        return None if row is None else tuple(row)

    def fetchall(self) -> list[Row]:
        return [tuple(r) for r in self._cursor.fetchall()]

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)


_converted: dict[str, str] = {}


def _to_format(sql: str) -> str:
    """``?`` placeholders → ``%s`` (psycopg), with literal ``%`` escaped; cached."""
    done = _converted.get(sql)
    if done is None:
        done = _converted[sql] = sql.replace("%", "%%").replace("?", "%s")
    return done


class Store(ABC):
    """A connection factory plus transactions; see the module docstring."""

    dialect: str
    _placeholder_convert = False

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        self._schemas_done: set[str] = set()
        self._schema_lock = threading.Lock()

    # --- connections -----------------------------------------------------------------
    @abstractmethod
    def _connect(self) -> Any: ...

    def _usable(self, conn: Any) -> bool:
        """False for a connection known to be dead (it is then replaced)."""
        return True

    def _connection(self) -> Any:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid() or not self._usable(conn):
            if conn is not None and local.pid == os.getpid():
                self._discard(conn)
            conn = local.conn = self._connect()
            local.pid = os.getpid()
        return conn

    def _discard(self, conn: Any) -> None:
        """Forget this thread's (dead) connection; the next transaction opens a new one."""
        # It is dead already: closing only frees the socket, and may fail.
        with suppress(Exception):
            conn.close()
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None

    def where(self) -> str:
        """The store, for messages (never a password)."""
        return self.url

    @contextmanager
    @abstractmethod
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        """One transaction: committed when the block exits, rolled back on error."""
        yield  # type: ignore[misc]

    def _transaction(self, write: bool, backoff: Backoff) -> AbstractContextManager[Tx]:
        """``transaction``, sharing the retry time of ``retrying``."""
        return self.transaction(write)

    def retrying(
        self, work: Callable[[Tx], T], *, write: bool = True, idempotent: bool = False
    ) -> T:
        """``work(tx)`` in one transaction, run again on a new connection when the
        connection drops before COMMIT (up to ``ORCH_STORE_RETRY_SECONDS``).

        A drop on COMMIT itself leaves the outcome unknown: ``work`` runs again only for a
        read or when ``idempotent`` (running it twice is the same as once); otherwise the
        ``ConnectionLost`` (``in_doubt``) is raised for the caller to decide.

        Example:
            >>> from orch.store import get_store
            >>> get_store().retrying(lambda tx: tx.execute("SELECT 1").fetchone(), write=False)
            (1,)
        """
        backoff = Backoff(self)
        while True:
            try:
                with self._transaction(write, backoff) as tx:
                    return work(tx)
            except ConnectionLost as exc:
                if exc.in_doubt and write and not idempotent:
                    raise
                backoff.wait(str(exc))

    # --- schema ----------------------------------------------------------------------
    def ensure_schema(self, name: str, statements: Sequence[str]) -> None:
        """Run a module's ``CREATE … IF NOT EXISTS`` statements once per process."""
        if name in self._schemas_done:
            return
        with self._schema_lock:
            if name in self._schemas_done:
                return
            with self.transaction() as tx:
                self._lock_schema(tx)
                for statement in statements:
                    tx.execute(statement)
            self._schemas_done.add(name)

    def _lock_schema(self, tx: Tx) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Serialise concurrent DDL (SQLite's write lock already does)."""

    # --- description -----------------------------------------------------------------
    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What the store is, for ``orch store info`` (never a password)."""
