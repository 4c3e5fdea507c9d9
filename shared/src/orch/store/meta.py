"""Small store-wide facts (the encryption key's id), in table ``orch_meta``."""

from __future__ import annotations

from orch.store.base import Store, Tx

SCHEMA = ["CREATE TABLE IF NOT EXISTS orch_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"]


def get_meta(store: Store, key: str) -> str | None:
    store.ensure_schema("meta", SCHEMA)
    with store.transaction(write=False) as tx:
        row = tx.execute("SELECT value FROM orch_meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta_if_absent(store: Store, key: str, value: str) -> str:
    """Set ``key`` unless it is set; returns the value in force (first writer wins)."""
    store.ensure_schema("meta", SCHEMA)
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO orch_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
            (key, value),
        )
        row = tx.execute("SELECT value FROM orch_meta WHERE key = ?", (key,)).fetchone()
    assert row is not None
    return str(row[0])


def set_meta(tx: Tx, key: str, value: str) -> None:
    tx.execute(
        "INSERT INTO orch_meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
