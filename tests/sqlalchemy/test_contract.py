"""The kit's contract (orch.testing) on every block of orch-sqlalchemy, against the real
PostgreSQL of tests/backends/."""

from __future__ import annotations

from typing import Any

import pytest
from orch import SecretStr
from orch.testing import BlockContract, ConnectorContract
from orch_sqlalchemy import DatabaseCredentials, SqlAlchemyConnector


class TestDatabaseCredentials(BlockContract):
    block_type = DatabaseCredentials

    @pytest.fixture
    def block(self) -> DatabaseCredentials:
        return DatabaseCredentials(
            driver="postgresql",
            host="db.internal",
            port=5432,
            database="analytics",
            username="etl",
            password=SecretStr("contract-Db-Password-1"),
        )


class TestDatabaseCredentialsUrl(BlockContract):
    """The other form: one whole URL, a secret as a whole."""

    block_type = DatabaseCredentials

    @pytest.fixture
    def block(self) -> DatabaseCredentials:
        return DatabaseCredentials(
            url=SecretStr("postgresql://etl:contract-Url-Password-2@db.internal/analytics")
        )


class TestSqlAlchemyConnector(ConnectorContract):
    block_type = SqlAlchemyConnector

    @pytest.fixture
    def block(self, pg_database: str) -> SqlAlchemyConnector:
        # The fixture's URL has no password: the whole URL is the secret the checks look for.
        return SqlAlchemyConnector(
            credentials=DatabaseCredentials(url=SecretStr(pg_database)), connect_retries=0
        )

    def probe(self, client: Any) -> None:
        with client.connect() as conn:
            assert conn.exec_driver_sql("SELECT 41 + 1").scalar() == 42


class TestSqliteConnector(ConnectorContract):
    """The same contract on SQLite (a file), where the pool is SQLAlchemy's default one."""

    block_type = SqlAlchemyConnector

    @pytest.fixture
    def block(self, sqlite_database: str) -> SqlAlchemyConnector:
        return SqlAlchemyConnector(credentials=DatabaseCredentials(url=SecretStr(sqlite_database)))

    def probe(self, client: Any) -> None:
        with client.connect() as conn:
            assert conn.exec_driver_sql("SELECT 41 + 1").scalar() == 42
