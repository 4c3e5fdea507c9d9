"""The connector's engine life cycle, and the connection errors."""

from __future__ import annotations

import copy
import multiprocessing
import os
import pickle
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pymysql
import pytest
import sqlalchemy as sa
from orch import SecretStr
from orch_sqlalchemy import (
    DatabaseCredentials,
    SqlAlchemyConnector,
    SqlAuthenticationError,
    SqlConnectionError,
    sql_execute,
    sql_fetch_one,
)

from tests.backends.mariadb import connect as mariadb_connect
from tests.backends.service import free_port

from .conftest import connector_for


def test_engine_is_created_lazily_and_shared(sqlite_database: str) -> None:
    db = connector_for(sqlite_database)
    assert db._slot.value is None
    engine = db.get_engine()
    assert db.get_engine() is engine
    # An equal connector (another load, a copy) shares the engine and its pool.
    assert connector_for(sqlite_database).get_engine() is engine
    assert copy.deepcopy(db).get_engine() is engine
    # Different settings are another engine.
    other = connector_for(sqlite_database, pool_size=2)
    assert other.get_engine() is not engine
    db.pool_size = 3  # changing a field after use switches engines too
    assert db.get_engine() is not engine
    for c in (db, other):
        c.dispose()
    connector_for(sqlite_database).dispose()


def test_one_engine_for_many_threads(pg_database: str) -> None:
    db = connector_for(pg_database, pool_size=4)
    fresh = [connector_for(pg_database, pool_size=4) for _ in range(16)]
    with ThreadPoolExecutor(8) as pool:
        engines = set(pool.map(lambda c: id(c.get_engine()), fresh))
        values = list(pool.map(lambda i: sql_fetch_one(db, "SELECT :i", {"i": i}), range(40)))
    assert len(engines) == 1
    assert values == [(i,) for i in range(40)]
    assert db.get_engine().pool.checkedout() == 0  # type: ignore[attr-defined]
    db.dispose()


def test_context_manager_disposes_the_engine(sqlite_database: str) -> None:
    with connector_for(sqlite_database) as db:
        engine = db.get_engine()
        sql_execute(db, "CREATE TABLE t (x INTEGER)")
        assert engine in SqlAlchemyConnector._clients.values()
    assert engine not in SqlAlchemyConnector._clients.values()
    assert db._slot.value is None
    # Still usable afterwards: a new engine is made on demand.
    assert sql_fetch_one(db, "SELECT count(*) FROM t") == (0,)
    db.dispose()


def test_pickles_by_saved_name_without_secrets(pg_database: str) -> None:
    password = "pickle-Secret-99"
    db = connector_for(pg_database)
    db.credentials = DatabaseCredentials(
        url=SecretStr(pg_database.replace("postgres@", f"postgres:{password}@"))
    )
    db.get_engine()
    db.save("picklable")
    data = pickle.dumps(db)
    assert password.encode() not in data
    assert b"sqlalchemy-connector/picklable" in data
    back = pickle.loads(data)
    assert back == db and back.block_name == "picklable"
    assert back.get_engine() is db.get_engine()
    # An unsaved one pickles by value, without its engine.
    unsaved = connector_for(pg_database)
    unsaved.get_engine()
    assert pickle.loads(pickle.dumps(unsaved)) == unsaved
    db.dispose()
    unsaved.dispose()


def _count_in_child(connector: SqlAlchemyConnector) -> tuple[int, int]:
    row = sql_fetch_one(connector, "SELECT count(*) FROM t")
    assert row is not None
    return os.getpid(), int(row[0])


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_usable_from_a_process_pool_by_saved_name(
    sqlite_database: str, orch_home: Path, method: str
) -> None:
    db = connector_for(sqlite_database)
    sql_execute(db, "CREATE TABLE t (x INTEGER)")
    sql_execute(db, "INSERT INTO t VALUES (1), (2)")
    db.save("shared")
    loaded = SqlAlchemyConnector.load("shared")
    ctx = multiprocessing.get_context(method)
    # ORCH_HOME (set by the fixture) is inherited: the child loads the block from the store.
    with ProcessPoolExecutor(2, mp_context=ctx) as pool:
        results = list(pool.map(_count_in_child, [loaded] * 4))
    assert {n for _, n in results} == {2}
    assert all(pid != os.getpid() for pid, _ in results)
    db.dispose()


def test_refused_connection_is_retried_then_fails_clearly() -> None:
    port = free_port()  # nothing listens there
    db = SqlAlchemyConnector(
        credentials=DatabaseCredentials(
            driver="postgresql", host="127.0.0.1", port=port, username="u", password="pw-Refused-1"
        ),
        connect_retries=2,
        connect_retry_delay=0.1,
    )
    start = time.monotonic()
    with pytest.raises(SqlConnectionError) as info:
        sql_fetch_one(db, "SELECT 1")
    elapsed = time.monotonic() - start
    message = str(info.value)
    assert f"cannot connect to postgresql+psycopg://u@127.0.0.1:{port}" in message
    assert "connection refused after 3 attempt(s)" in message
    assert "pw-Refused-1" not in message
    assert isinstance(info.value.__cause__, sa.exc.OperationalError)
    assert elapsed >= 0.3  # waited 0.1 + 0.2 between the attempts
    db.dispose()


def test_wrong_mariadb_password_says_so_without_the_secret(
    mariadb_server: str, mariadb_database: str
) -> None:
    user = f"orch_u{os.getpid()}"
    conn = mariadb_connect(mariadb_server)
    with conn.cursor() as cur:
        cur.execute(f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY 'the-right-one'")
    try:
        host_port = mariadb_server.split("@", 1)[1]
        host, _, port = host_port.partition(":")
        wrong = "wrong-Password-77"
        db = SqlAlchemyConnector(
            credentials=DatabaseCredentials(
                driver="mysql", host=host, port=int(port), username=user, password=wrong
            ),
            connect_retries=3,
            connect_retry_delay=5,  # must not be used: a refused login is not retried
        )
        start = time.monotonic()
        with pytest.raises(SqlAuthenticationError) as info:
            sql_fetch_one(db, "SELECT 1")
        assert time.monotonic() - start < 4
        assert f"refused the login of user {user!r}" in str(info.value)
        assert "check the username and password" in str(info.value)
        assert wrong not in str(info.value)
        assert isinstance(info.value.__cause__.orig, pymysql.err.OperationalError)  # type: ignore[union-attr]
        db.dispose()
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        conn.close()


def test_unknown_postgres_role_is_an_authentication_error(pg_server: str) -> None:
    host_port = pg_server.split("@", 1)[1]
    host, _, port = host_port.partition(":")
    db = SqlAlchemyConnector(
        credentials=DatabaseCredentials(
            driver="postgresql",
            host=host,
            port=int(port),
            database="postgres",
            username="no_such_role_x",
            password="pw-Unknown-5",
        ),
    )
    with pytest.raises(
        SqlAuthenticationError, match="refused the login of user 'no_such_role_x'"
    ) as info:
        sql_fetch_one(db, "SELECT 1")
    assert "pw-Unknown-5" not in str(info.value)
    db.dispose()


def test_statement_errors_never_show_the_password(pg_database: str) -> None:
    password = "stmt-Secret-31"
    db = SqlAlchemyConnector(
        credentials=DatabaseCredentials(
            url=SecretStr(pg_database.replace("postgres@", f"postgres:{password}@"))
        )
    )
    with pytest.raises(Exception) as info:
        sql_execute(db, f"SELECT '{password}' FROM missing_table")
    assert password not in str(info.value)
    assert (
        "sql_execute failed on an unsaved SqlAlchemyConnector (postgresql+psycopg://postgres@"
        in str(info.value)
    )
    db.dispose()


@pytest.mark.parametrize("form", ["password", "url"])
def test_new_connections_follow_a_rotated_password(
    form: str, mariadb_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MariaDB checks passwords over TCP (the local PostgreSQL trusts 127.0.0.1), so the
    # rotation is real: after it, only the new password logs in.
    from orch import SecretRef
    from orch.secrets import references

    user = f"orch_rot_{form}{os.getpid()}"
    host, _, port = mariadb_server.split("@", 1)[1].partition(":")
    admin = mariadb_connect(mariadb_server)
    with admin.cursor() as cur:
        cur.execute(f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY 'first-Pass-1'")
    try:
        if form == "password":
            monkeypatch.setenv("ORCH_TEST_ROTATING", "first-Pass-1")
            creds = DatabaseCredentials(
                driver="mysql",
                host=host,
                port=int(port),
                username=user,
                password=SecretRef("env://ORCH_TEST_ROTATING"),
            )
        else:
            monkeypatch.setenv("ORCH_TEST_ROTATING", f"mysql://{user}:first-Pass-1@{host}:{port}")
            creds = DatabaseCredentials(url=SecretRef("env://ORCH_TEST_ROTATING"))
        db = SqlAlchemyConnector(credentials=creds)
        assert sql_fetch_one(db, "SELECT 1") == (1,)
        engine = db.get_engine()

        with admin.cursor() as cur:
            cur.execute(f"ALTER USER '{user}'@'%' IDENTIFIED BY 'second-Pass-2'")
        rotated = os.environ["ORCH_TEST_ROTATING"].replace("first-Pass-1", "second-Pass-2")
        monkeypatch.setenv("ORCH_TEST_ROTATING", rotated)
        references.clear_cache()  # as when the TTL of the resolved value runs out
        engine.dispose()  # the pooled connection goes: the next use must log in again

        assert sql_fetch_one(db, "SELECT 1") == (1,)
        assert db.get_engine() is engine  # same engine and pool settings, new password
        db.dispose()
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        admin.close()
