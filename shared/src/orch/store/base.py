"""The SQL store shared by the embedded SQLite file and a team's PostgreSQL server.

One connection per thread (and per process after a fork), explicit transactions, and a
small ``?``-placeholder dialect so that the SQL written by orch's modules is the same for
both databases. Modules register their own tables with :meth:`Store.ensure_schema`.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

Row = tuple[Any, ...]


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

    def _connection(self) -> Any:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid():
            conn = local.conn = self._connect()
            local.pid = os.getpid()
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None

    @contextmanager
    @abstractmethod
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        """One transaction: committed when the block exits, rolled back on error."""
        yield  # type: ignore[misc]

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
