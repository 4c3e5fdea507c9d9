"""orch.testing's contract on every block of orch-snowflake: described fields, typed and
masked secrets, pickling by name, and (against the fakesnow server) the connector's client
life cycle: cached, shared by equal blocks, closed by its last holder, fork-safe."""

from __future__ import annotations

from typing import Any

import pytest
from orch.testing import BlockContract, ConnectorContract
from orch_snowflake import SnowflakeConnector, SnowflakeCredentials
from orch_snowflake.connector import SnowflakeSessions

from .conftest import credentials_for


class TestSnowflakeCredentials(BlockContract):
    block_type = SnowflakeCredentials

    @pytest.fixture
    def block(self) -> SnowflakeCredentials:
        return SnowflakeCredentials(account="orchtest", user="ORCH_TESTER", password="pw-Test-123")


class TestSnowflakeConnector(ConnectorContract):
    block_type = SnowflakeConnector

    @pytest.fixture
    def block(
        self, snowflake_server: dict[str, Any], snowflake_database: str
    ) -> SnowflakeConnector:
        return SnowflakeConnector(
            credentials=credentials_for(snowflake_server),
            database=snowflake_database,
            schema="PUBLIC",
            login_timeout=10,
        )

    def probe(self, client: SnowflakeSessions) -> None:
        assert client.conn is not None
        with client.conn.cursor() as cur:
            assert cur.execute("SELECT 40 + 2").fetchone() == (42,)
