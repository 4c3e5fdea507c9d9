"""``SqlAlchemyConnector`` as the kit's ``SqlDatabase`` role, with the method and argument
names of Prefect's ``SqlAlchemyConnector``, on SQLite, PostgreSQL and MariaDB; and its
errors as the kit's classes."""

from __future__ import annotations

import copy
import os

import pytest
import sqlalchemy as sa
from orch import SecretStr
from orch.integration import (
    AuthError,
    ConnectError,
    MissingDependencyError,
    QueryError,
    SqlDatabase,
    TransferError,
)
from orch_sqlalchemy import (
    DatabaseCredentials,
    SqlAlchemyConnector,
    SqlAuthenticationError,
    SqlConnectionError,
    SqlDriverMissingError,
    SqlLoadError,
    SqlStatementError,
    sql_load_rows,
)

from tests.backends.service import free_port

ROWS = [{"name": "Ford", "address": "Highway 42"}, {"name": "Me", "address": "Myway 88"}]


def make_customers(db: SqlAlchemyConnector) -> None:
    db.execute(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(20), address VARCHAR(40))"
    )
    db.execute_many(
        "INSERT INTO customers (id, name, address) VALUES (:id, :name, :address)",
        seq_of_parameters=[{"id": i, **row} for i, row in enumerate(ROWS * 3, start=1)],
    )


def checked_out(db: SqlAlchemyConnector) -> int:
    return int(db.get_engine().pool.checkedout())  # type: ignore[attr-defined]


def test_is_the_kits_sql_database_role(db: SqlAlchemyConnector) -> None:
    assert isinstance(db, SqlDatabase)


def test_execute_and_execute_many_commit(db: SqlAlchemyConnector) -> None:
    make_customers(db)
    result = db.execute(
        "UPDATE customers SET name = :n WHERE id = :id", parameters={"n": "X", "id": 1}
    )
    assert result.rowcount == 1
    # Committed: a fresh connector (another engine) sees the rows.
    other = db.model_copy(update={"pool_size": 2})
    assert other.fetch_all("SELECT id, name FROM customers WHERE id <= 2 ORDER BY id") == [
        (1, "X"),
        (2, "Me"),
    ]
    other.close()
    assert checked_out(db) == 0


def test_fetch_methods_continue_the_same_result_until_reset(db: SqlAlchemyConnector) -> None:
    make_customers(db)
    query = "SELECT id FROM customers WHERE id > :after ORDER BY id"
    # Prefect's behaviour: the same call again returns the next rows of the same result.
    assert db.fetch_many(query, {"after": 0}, size=4) == [(1,), (2,), (3,), (4,)]
    assert db.fetch_one(query, {"after": 0}) == (5,)
    assert db.fetch_many(query, {"after": 0}, size=4) == [(6,)]
    assert db.fetch_many(query, {"after": 0}, size=4) == []
    assert db.fetch_one(query, {"after": 0}) is None
    # Other parameters are another result; fetch_all returns what is left of one.
    assert db.fetch_one(query, {"after": 3}) == (4,)
    assert db.fetch_all(query, {"after": 3}) == [(5,), (6,)]
    assert db.fetch_all(query, {"after": 3}) == []
    # An exhausted result has already given its connection back to the pool.
    assert checked_out(db) == 0
    db.reset_connections()
    assert db.fetch_all(query, {"after": 3}) == [(4,), (5,), (6,)]


def test_fetch_many_defaults_to_the_blocks_fetch_size(database_url: str) -> None:
    with SqlAlchemyConnector(
        credentials=DatabaseCredentials(url=SecretStr(database_url)), fetch_size=4
    ) as db:
        make_customers(db)
        assert len(db.fetch_many("SELECT id FROM customers")) == 4
        assert len(db.fetch_many("SELECT id FROM customers", size=0)) == 2  # 0: fetch_size too


def test_reset_and_close_give_back_open_results(db: SqlAlchemyConnector) -> None:
    make_customers(db)
    db.fetch_many("SELECT id FROM customers ORDER BY id", size=2)
    db.fetch_one("SELECT name FROM customers ORDER BY id")
    assert checked_out(db) == 2  # two results being read, one connection each
    db.reset_connections()
    assert checked_out(db) == 0
    assert db.fetch_one("SELECT name FROM customers ORDER BY id") == ("Ford",)
    engine = db.get_engine()
    db.close()
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_copy_does_not_share_open_results(db: SqlAlchemyConnector) -> None:
    make_customers(db)
    assert db.fetch_one("SELECT id FROM customers ORDER BY id") == (1,)
    for twin in (db.model_copy(deep=True), db.model_copy(), copy.copy(db)):
        assert twin.fetch_one("SELECT id FROM customers ORDER BY id") == (1,)
        twin.close()  # closes the twin's results only
    assert db.fetch_one("SELECT id FROM customers ORDER BY id") == (2,)


def test_role_errors_name_the_method_and_statement(db: SqlAlchemyConnector) -> None:
    with pytest.raises(SqlStatementError) as info:
        db.fetch_many("SELECT * FROM missing_table", size=2)
    assert isinstance(info.value, QueryError)
    assert str(info.value).startswith("fetch_many failed on an unsaved SqlAlchemyConnector (")
    assert "'SELECT * FROM missing_table'" in str(info.value)
    assert isinstance(info.value.__cause__, sa.exc.DBAPIError)
    with pytest.raises(
        TypeError, match=r"execute: parameters must be a mapping .* use execute_many"
    ):
        db.execute("SELECT :a", [{"a": 1}])  # type: ignore[arg-type]
    assert checked_out(db) == 0


def test_errors_are_the_kits_classes(db: SqlAlchemyConnector, pg_server: str) -> None:
    # A refused connection: SqlConnectionError is the kit's ConnectError.
    refused = SqlAlchemyConnector(
        credentials=DatabaseCredentials(
            driver="postgresql", host="127.0.0.1", port=free_port(), username="u"
        ),
        connect_retries=0,
    )
    with pytest.raises(ConnectError) as connect:
        refused.fetch_one("SELECT 1")
    assert isinstance(connect.value, SqlConnectionError)
    # A refused login: SqlAuthenticationError is an AuthError and a PermissionError.
    host, port = pg_server.rsplit("@", 1)[1].split("/")[0].split(":")
    wrong = SqlAlchemyConnector(
        credentials=DatabaseCredentials(
            driver="postgresql",
            host=host,
            port=int(port),
            username="nobody_here",
            database="postgres",
            password=SecretStr("pw-Wrong-77"),
        ),
        connect_retries=0,
    )
    with pytest.raises(AuthError) as auth:
        wrong.fetch_one("SELECT 1")
    assert isinstance(auth.value, SqlAuthenticationError)
    assert isinstance(auth.value, PermissionError)
    assert "pw-Wrong-77" not in str(auth.value)
    # A missing driver: the kit's MissingDependencyError (an ImportError).
    missing = SqlAlchemyConnector(credentials=DatabaseCredentials(driver="postgresql+psycopg2"))
    with pytest.raises(MissingDependencyError) as driver:
        missing.fetch_one("SELECT 1")
    assert isinstance(driver.value, SqlDriverMissingError | ImportError)
    # A failed load: SqlLoadError is a QueryError and a TransferError.
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    with pytest.raises(TransferError) as load:
        sql_load_rows(db, "t", [(1,), (1,)])
    assert isinstance(load.value, SqlLoadError) and isinstance(load.value, QueryError)
    for c in (refused, wrong, missing):
        c.close()


def test_a_forked_child_runs_its_own_query_not_the_parents_cursor(
    db: SqlAlchemyConnector,
) -> None:
    make_customers(db)
    query = "SELECT id FROM customers ORDER BY id"
    assert db.fetch_one(query) == (1,)
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code
        code = 1
        try:
            code = 0 if db.fetch_many(query, size=2) == [(1,), (2,)] else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's result is untouched: it goes on where it was.
    assert db.fetch_one(query) == (2,)
