"""The block store: SQLite under ``ORCH_HOME`` by default, PostgreSQL via ``ORCH_STORE_URL``."""

from __future__ import annotations

import threading
from pathlib import Path

from orch.errors import StoreError
from orch.settings import store_url
from orch.store.base import Store, Tx

_stores: dict[str, Store] = {}
_lock = threading.Lock()


def open_store(url: str) -> Store:
    """A store for ``url`` (not cached)."""
    if url.startswith("sqlite:///"):
        from orch.store.sqlite import SqliteStore

        return SqliteStore(url, Path(url.removeprefix("sqlite:///")).expanduser())
    if url.startswith(("postgresql://", "postgres://", "postgresql+")):
        from orch.store.postgres import PostgresStore

        return PostgresStore(url)
    from orch.store.postgres import masked_url

    raise StoreError(
        f"ORCH_STORE_URL {masked_url(url)!r} is not supported: use sqlite:///PATH or "
        "postgresql://USER@HOST/DB"
    )


def get_store() -> Store:
    """The store this process uses (per ``ORCH_STORE_URL``/``ORCH_HOME``), cached by URL."""
    url = store_url()
    store = _stores.get(url)
    if store is None:
        with _lock:
            store = _stores.get(url)
            if store is None:
                store = _stores[url] = open_store(url)
    return store


__all__ = ["Store", "Tx", "get_store", "open_store"]
