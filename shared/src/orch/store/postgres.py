"""A team's shared store on PostgreSQL (``ORCH_STORE_URL=postgresql://…``), via psycopg 3."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from orch.errors import StoreError
from orch.store.base import Store, Tx

_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@/]*@")


def masked_url(url: str) -> str:
    """The URL with any password replaced, for messages."""
    return _PASSWORD_IN_URL.sub(r"\1***@", url)


class PostgresStore(Store):
    """``postgresql://user:password@host:5432/db``; psycopg is the ``orch-core[postgres]`` extra."""

    dialect = "postgresql"

    def _connect(self) -> Any:
        try:
            import psycopg
        except ImportError:
            raise StoreError(
                "ORCH_STORE_URL points at PostgreSQL but psycopg is not installed: "
                "pip install 'orch-core[postgres]'"
            ) from None
        url = re.sub(r"^postgresql\+\w+://", "postgresql://", self.url)
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(
                f"cannot connect to the block store {masked_url(self.url)}: {reason}"
            ) from None

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        conn = self._connection()
        with conn.transaction(), conn.cursor() as cursor:
            yield Tx(cursor, convert=True)

    def _lock_schema(self, tx: Tx) -> None:
        # Concurrent CREATE TABLE IF NOT EXISTS can still collide in pg_type.
        tx.execute("SELECT pg_advisory_xact_lock(727274)")

    def describe(self) -> dict[str, Any]:
        return {"backend": "postgresql", "url": masked_url(self.url)}
