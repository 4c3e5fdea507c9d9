"""Fixtures of the orch-snowflake tests: connectors on the session's fakesnow server, each
test in a database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from orch_snowflake import SnowflakeConnector, SnowflakeCredentials

from tests.backends.snowflake import snowflake_login_refused

__all__ = ["snowflake_login_refused"]  # a fixture of tests/backends/, used only here

PASSWORD = "fake-snow-pw-7f3a9c"  # fakesnow takes any password; this one must never leak


def credentials_for(server: dict[str, Any], **auth: Any) -> SnowflakeCredentials:
    auth = auth or {"password": PASSWORD}
    return SnowflakeCredentials(account="orchtest", user="ORCH_TESTER", **server, **auth)


@pytest.fixture
def sf(snowflake_server: dict[str, Any], snowflake_database: str) -> Iterator[SnowflakeConnector]:
    """An unsaved connector on a fresh database (schema PUBLIC) of the fakesnow server."""
    with SnowflakeConnector(
        credentials=credentials_for(snowflake_server),
        database=snowflake_database,
        schema="PUBLIC",
        warehouse="TEST_WH",
        query_tag="orch-tests",
        login_timeout=10,
    ) as connector:
        yield connector
