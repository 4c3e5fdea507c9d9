"""Fixtures of the orch-sqlalchemy tests: one connector per backend, each on a fresh
database (SQLite file, PostgreSQL and MariaDB from tests/backends/)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from orch import SecretStr
from orch_sqlalchemy import DatabaseCredentials, SqlAlchemyConnector

BACKENDS = ["sqlite", "postgres", "mariadb"]
_URL_FIXTURE = {
    "sqlite": "sqlite_database",
    "postgres": "pg_database",
    "mariadb": "mariadb_database",
}


def connector_for(url: str, **settings: object) -> SqlAlchemyConnector:
    # The fixtures' URLs carry no password; give the block the URL form as a secret.
    return SqlAlchemyConnector(
        credentials=DatabaseCredentials(url=SecretStr(url)),
        connect_retries=0,
        **settings,  # type: ignore[arg-type]
    )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    url = str(request.getfixturevalue(_URL_FIXTURE[backend]))
    # postgresql:// (what the fixture gives) means psycopg 3 here, by this package's rule.
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[SqlAlchemyConnector]:
    """An unsaved connector on a fresh database of the backend under test."""
    with connector_for(database_url) as connector:
        yield connector
