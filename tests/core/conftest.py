"""Core fixtures: run store-facing tests on SQLite and on the PostgreSQL server."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The same test against the embedded SQLite store and a PostgreSQL store."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_database")
        monkeypatch.setenv("ORCH_STORE_URL", url)
        return url
    return "sqlite"
