"""SQLite: nothing to start; a fresh database file per test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def sqlite_database(tmp_path: Path) -> str:
    """SQLAlchemy URL of a new, empty SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'test.sqlite'}"
