"""The embedded store: one SQLite file in WAL mode, safe for many threads and processes."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orch.errors import StoreError
from orch.store.base import Store, Tx


def _enable_wal(conn: sqlite3.Connection, patience: float = 60.0) -> None:
    """Switch a (possibly new) database to WAL mode.

    The switch needs the file to itself, and SQLite answers "database is locked" at once,
    without its busy handler, when several processes open a brand-new store together: so
    wait and retry here.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class SqliteStore(Store):
    """``sqlite:///path/to/orch.db``."""

    dialect = "sqlite"

    def __init__(self, url: str, path: Path) -> None:
        super().__init__(url)
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        try:
            if not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
            if not self.path.exists():
                # Owner-only from the start: the file holds no plaintext secret, but names.
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            conn = sqlite3.connect(
                self.path, timeout=60, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout=60000")
            _enable_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the block store {self.path}: {exc}") from exc
        return conn

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        conn = self._connection()
        # IMMEDIATE takes the write lock up front: a deferred transaction that upgrades
        # later can fail with SQLITE_BUSY without waiting on busy_timeout.
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield Tx(conn.cursor(), convert=False)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def describe(self) -> dict[str, Any]:
        size = self.path.stat().st_size if self.path.exists() else 0
        return {"backend": "sqlite", "path": str(self.path), "size_bytes": size}
