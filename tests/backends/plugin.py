"""pytest plugin that exposes the real-service fixtures of tests/backends/ to every test.

One short module per service; this file only gathers their fixtures and prints the logs
of the services this session started when a test fails.
"""

from __future__ import annotations

import pytest

from .mariadb import mariadb_database, mariadb_server
from .moto import moto_iam_server, moto_server
from .postgres import pg_database, pg_server
from .service import STARTED
from .snowflake import snowflake_database, snowflake_server
from .sqlite import sqlite_database

__all__ = [
    "mariadb_database",
    "mariadb_server",
    "moto_iam_server",
    "moto_server",
    "pg_database",
    "pg_server",
    "snowflake_database",
    "snowflake_server",
    "sqlite_database",
]


# session fixture → the name of the service it starts (fixtures built on them, such as
# pg_database, reach these through item.fixturenames)
_SERVICE_OF_FIXTURE = {
    "pg_server": "PostgreSQL",
    "mariadb_server": "MariaDB",
    "moto_server": "moto",
    "moto_iam_server": "moto-iam",
    "snowflake_server": "fakesnow",
}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.failed and STARTED:
        # Only the logs of the services this test used: the others say nothing about it.
        fixtures = getattr(item, "fixturenames", ())
        used = {_SERVICE_OF_FIXTURE[f] for f in fixtures if f in _SERVICE_OF_FIXTURE}
        for service in STARTED:
            if service.name in used:
                report.sections.append((f"{service.name} log", service.log_tail()))
