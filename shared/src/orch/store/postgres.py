"""A team's shared store on PostgreSQL (``ORCH_STORE_URL=postgresql://…``), via psycopg 3.

A connection can drop under a long-lived process (a server restart, a failover, an
administrator's ``pg_terminate_backend``). A transaction therefore starts on a connection
that just answered ``BEGIN``: a dead one is replaced, with backoff, for up to
``ORCH_STORE_RETRY_SECONDS`` before a ``StoreError`` naming the store. A drop later in
the transaction raises ``ConnectionLost``, which
``retrying`` turns into a retry when that is safe.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from orch.errors import StoreError
from orch.store.base import Backoff, ConnectionLost, Store, Tx

_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@/]*@")


def masked_url(url: str) -> str:
    """The URL with any password replaced, for messages."""
    return _PASSWORD_IN_URL.sub(r"\1***@", url)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError(
            "ORCH_STORE_URL points at PostgreSQL but psycopg is not installed: "
            "pip install 'orch-core[postgres]'"
        ) from None
    return psycopg


class PostgresStore(Store):
    """``postgresql://user:password@host:5432/db``; psycopg is the ``orch-core[postgres]`` extra."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        # A store that answered once is there: a later failure to connect is an outage to
        # wait out. One that never answered is a wrong URL, reported at once.
        self._reached = False

    def _connect(self) -> Any:
        psycopg = _psycopg()
        url = re.sub(r"^postgresql\+\w+://", "postgresql://", self.url)
        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to {self._what()}: {_reason(exc)}") from None
        self._reached = True
        return conn

    def _usable(self, conn: Any) -> bool:
        # psycopg marks a connection whose session ended (or whose socket broke) closed.
        return not conn.closed

    def where(self) -> str:
        return masked_url(self.url)

    def _what(self) -> str:
        return f"the block store {self.where()}"

    def _begin(self, backoff: Backoff) -> Any:
        """This thread's connection, inside a new transaction (replaced while it is dead)."""
        psycopg = _psycopg()
        while True:
            try:
                conn = self._connection()
            except StoreError as exc:
                if not self._reached:
                    raise
                backoff.wait(str(exc).removeprefix(f"cannot connect to {self._what()}: "))
                continue
            try:
                conn.execute("BEGIN")
                return conn
            except psycopg.OperationalError as exc:
                # A session ended by the server is only found out when it is next used:
                # here, before anything ran in it, so trying again is always safe.
                if self._usable(conn):
                    raise
                self._discard(conn)
                backoff.wait(_reason(exc))

    def _transaction(self, write: bool, backoff: Backoff) -> AbstractContextManager[Tx]:
        return self._run(backoff)

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        with self._run(Backoff(self)) as tx:
            yield tx

    @contextmanager
    def _run(self, backoff: Backoff) -> Iterator[Tx]:
        psycopg = _psycopg()
        conn = self._begin(backoff)
        try:
            with conn.cursor() as cursor:
                yield Tx(cursor, convert=True)
        except BaseException as exc:
            if self._usable(conn):
                try:
                    conn.execute("ROLLBACK")
                except psycopg.Error:
                    self._discard(conn)  # the next transaction opens a new one
                raise
            self._discard(conn)
            if isinstance(exc, psycopg.OperationalError):
                raise ConnectionLost(
                    f"lost the connection to the block store {self.where()}: {_reason(exc)}",
                    in_doubt=False,
                ) from exc
            raise
        try:
            conn.execute("COMMIT")
        except psycopg.OperationalError as exc:
            if self._usable(conn):
                raise
            self._discard(conn)
            # The COMMIT may have reached the server before the session ended: whether
            # the transaction was applied is unknown, so it is not simply run again.
            raise ConnectionLost(
                f"lost the connection to the block store {self.where()} during COMMIT "
                f"(the transaction may or may not have been applied): {_reason(exc)}",
                in_doubt=True,
            ) from exc

    def _lock_schema(self, tx: Tx) -> None:
        # Concurrent CREATE TABLE IF NOT EXISTS can still collide in pg_type.
        tx.execute("SELECT pg_advisory_xact_lock(727274)")

    def describe(self) -> dict[str, Any]:
        return {"backend": "postgresql", "url": masked_url(self.url)}
