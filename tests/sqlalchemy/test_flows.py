"""The tasks inside flows: .submit()/.map() on the thread pool share one connector (one
engine); on a process pool the connector travels by its saved name."""

from __future__ import annotations

from pathlib import Path

import pytest
from orch import flow, unmapped
from orch.engine.task_runners import ProcessPoolTaskRunner
from orch_sqlalchemy import (
    DatabaseCredentials,
    SqlAlchemyConnector,
    SqlStatementError,
    sql_execute,
    sql_fetch_all,
    sql_fetch_many,
    sql_fetch_one,
    sql_load_rows,
    sql_script,
    sql_upsert,
)


def test_submit_and_map_share_one_connector(db: SqlAlchemyConnector) -> None:
    @flow
    def etl(db: SqlAlchemyConnector) -> list[object]:
        sql_script(db, "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(20))")
        loads = [sql_load_rows.submit(db, "items", [(i, f"item-{i}")]) for i in range(0, 10)]
        assert [f.result() for f in loads] == [1] * 10
        sql_upsert.submit(db, "items", [(0, "zero")], key_columns=["id"]).result()
        counts = sql_fetch_one.map(
            unmapped(db),
            unmapped("SELECT count(*) FROM items WHERE id < :n"),
            [{"n": n} for n in (1, 5, 10)],
        )
        return [f.result() for f in counts]

    assert etl(db) == [(1,), (5,), (10,)]
    assert sql_fetch_one(db, "SELECT name FROM items WHERE id = 0") == ("zero",)
    # Every task on every thread used the same engine.
    engine = db.get_engine()
    assert sum(1 for e in SqlAlchemyConnector._clients.values() if e.url == engine.url) == 1
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_fetch_many_streams_in_a_flow_and_its_errors_fail_its_task_run(
    db: SqlAlchemyConnector,
) -> None:
    sql_script(db, "CREATE TABLE items (id INTEGER PRIMARY KEY)")
    sql_load_rows(db, "items", [(i,) for i in range(5)])

    @flow
    def stream(db: SqlAlchemyConnector) -> tuple[list[list[int]], str, str]:
        sizes = [
            [r[0] for r in b]
            for b in sql_fetch_many(db, "SELECT id FROM items ORDER BY id", size=2)
        ]
        bad = sql_fetch_many.submit(db, "SELECT * FROM missing")
        bad.wait()
        with pytest.raises(SqlStatementError) as info:
            bad.result()
        return sizes, bad.state.name, str(info.value)

    batches, state, message = stream(db)
    assert batches == [[0, 1], [2, 3], [4]]
    # The statement ran inside the task: the task run failed, naming the statement.
    assert state == "Failed"
    assert "sql_fetch_many failed" in message and "'SELECT * FROM missing'" in message
    assert db.get_engine().pool.checkedout() == 0  # type: ignore[attr-defined]


def test_failed_task_fails_the_flow_with_a_clear_error(tmp_path: Path) -> None:
    @flow
    def broken(db: SqlAlchemyConnector) -> int:
        return sql_execute(db, "UPDATE nowhere SET x = 1")

    creds = DatabaseCredentials(driver="sqlite", database=str(tmp_path / "f.db"))
    with SqlAlchemyConnector(credentials=creds) as db, pytest.raises(SqlStatementError) as info:
        broken(db)
    assert str(info.value).startswith(
        f"sql_execute failed on an unsaved SqlAlchemyConnector (sqlite:///{tmp_path}/f.db): "
    )
    assert "'UPDATE nowhere SET x = 1': no such table: nowhere" in str(info.value)


def test_process_pool_uses_the_connector_by_saved_name(pg_database: str, orch_home: Path) -> None:
    from .conftest import connector_for

    db = connector_for(pg_database)
    sql_script(db, "CREATE TABLE t (id INTEGER PRIMARY KEY)")
    sql_load_rows(db, "t", [(i,) for i in range(6)])
    db.save("pg-shared")
    shared = SqlAlchemyConnector.load("pg-shared")

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def spread(db: SqlAlchemyConnector) -> list[object]:
        futures = sql_fetch_all.map(
            unmapped(db),
            unmapped("SELECT id FROM t WHERE id % 2 = :r ORDER BY id"),
            [{"r": 0}, {"r": 1}],
        )
        return [f.result() for f in futures]

    assert spread(shared) == [[(0,), (2,), (4,)], [(1,), (3,), (5,)]]
    db.dispose()
