"""docs/store.md: orch creates its tables, not the PostgreSQL database; a URL naming a
database that does not exist fails with a StoreError naming the store (password masked)."""

from __future__ import annotations

import os

import pytest
from orch.errors import StoreError


def test_a_missing_database_is_a_store_error_that_says_so(
    pg_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orch.store import open_store

    monkeypatch.setenv("ORCH_STORE_RETRY_SECONDS", "1")
    name = f"orch_never_created_{os.getpid()}"
    base, _, hostpart = pg_server.partition("@")
    store = open_store(f"{base}:hunter2secret@{hostpart}/{name}")
    with pytest.raises(StoreError) as info, store.transaction() as tx:
        tx.execute("SELECT 1")
    message = str(info.value)
    assert f"/{name}" in message and "does not exist" in message, message
    assert "hunter2secret" not in message
