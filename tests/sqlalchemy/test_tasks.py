"""Every task against SQLite, PostgreSQL and MariaDB (fresh database per test)."""

from __future__ import annotations

import json
import logging
import re
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import orch_sqlalchemy.tasks
import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa
from orch import flow
from orch_sqlalchemy import (
    SqlAlchemyConnector,
    SqlLoadError,
    SqlStatementError,
    sql_execute,
    sql_execute_many,
    sql_fetch_all,
    sql_fetch_many,
    sql_fetch_one,
    sql_load_rows,
    sql_query_to_dataframe,
    sql_script,
    sql_upsert,
)

from tests.core.runtime_support import flush_history, orch_cli

from .conftest import connector_for

__all__ = ["flush_history"]  # a fixture (imported for pytest)

T0 = datetime(2024, 5, 1, 12, 0, 0)


def make_table(db: SqlAlchemyConnector, name: str = "events") -> sa.Table:
    meta = sa.MetaData()
    table = sa.Table(
        name,
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(100)),
        sa.Column("at", sa.DateTime),
    )
    meta.create_all(db.get_engine())
    return table


def rows_of(db: SqlAlchemyConnector, table: sa.Table) -> list[tuple[object, ...]]:
    # A SQLAlchemy select: typed results (SQLite returns datetimes too).
    key = next(iter(table.primary_key.columns))
    return list(sql_fetch_all(db, sa.select(table).order_by(key)))  # type: ignore[arg-type]


def count(db: SqlAlchemyConnector, table: str = "events") -> int:
    row = sql_fetch_one(db, f"SELECT count(*) FROM {table}")
    assert isinstance(row, tuple)
    return int(row[0])


# --- statements -------------------------------------------------------------------------
def test_execute_binds_values_and_returns_rowcount(db: SqlAlchemyConnector) -> None:
    make_table(db)
    hostile = "x'); DROP TABLE events; --"
    assert (
        sql_execute(db, "INSERT INTO events (id, kind) VALUES (:id, :k)", {"id": 1, "k": hostile})
        == 1
    )
    sql_execute(db, "INSERT INTO events (id, kind) VALUES (2, 'b')")
    assert sql_execute(db, "UPDATE events SET kind = :k", {"k": "z"}) == 2
    assert sql_fetch_one(db, "SELECT kind FROM events WHERE id = :id", {"id": 1}) == ("z",)
    sql_execute(db, "UPDATE events SET kind = :k WHERE id = 1", {"k": hostile})
    assert sql_fetch_one(db, "SELECT kind FROM events WHERE id = 1") == (hostile,)


def test_execute_many_runs_each_parameter_set_in_one_transaction(
    db: SqlAlchemyConnector,
) -> None:
    make_table(db)
    params = ({"id": i, "k": f"k{i}"} for i in range(250))
    sql_execute_many(db, "INSERT INTO events (id, kind) VALUES (:id, :k)", params, chunk_size=100)
    assert count(db) == 250
    updated = sql_execute_many(
        db, "UPDATE events SET kind = :k WHERE id = :id", [{"id": 1, "k": "a"}, {"id": 2, "k": "b"}]
    )
    assert updated in (2, -1)  # -1 where the driver does not report executemany counts
    assert sql_fetch_all(db, "SELECT kind FROM events WHERE id < 3 ORDER BY id") == [
        ("k0",),
        ("a",),
        ("b",),
    ]
    # A failure in the middle keeps none of the batch.
    with pytest.raises(SqlStatementError, match=r"sql_execute_many failed .*'INSERT INTO events"):
        sql_execute_many(
            db,
            "INSERT INTO events (id, kind) VALUES (:id, :k)",
            [{"id": 1000, "k": "new"}, {"id": 1, "k": "duplicate"}],
        )
    assert count(db) == 250


def test_script_runs_statements_in_one_transaction(db: SqlAlchemyConnector) -> None:
    make_table(db)
    n = sql_script(
        db,
        """
        -- a comment with a ; in it
        INSERT INTO events (id, kind) VALUES (1, 'semi;colon');
        INSERT INTO events (id, kind) VALUES (2, '100% : sure');

        UPDATE events SET kind = 'two' WHERE id = 2;
        """,
    )
    assert n == 3
    assert sql_fetch_all(db, "SELECT id, kind FROM events ORDER BY id") == [
        (1, "semi;colon"),
        (2, "two"),
    ]
    with pytest.raises(SqlStatementError) as info:
        sql_script(db, "INSERT INTO events (id) VALUES (3);\nINSERT INTO nowhere VALUES (1);")
    assert "sql_script" in str(info.value)
    assert "INSERT INTO nowhere VALUES (1);" in str(info.value)
    assert isinstance(info.value.__cause__, sa.exc.DBAPIError)
    assert count(db) == 2  # the first insert was rolled back with the second


# --- fetching -----------------------------------------------------------------------------
def test_fetch_one_and_all(db: SqlAlchemyConnector) -> None:
    make_table(db)
    sql_load_rows(db, "events", [(1, "a", T0), (2, "b", None)])
    assert sql_fetch_one(db, "SELECT id, kind FROM events WHERE id = :i", {"i": 2}) == (2, "b")
    assert sql_fetch_one(db, "SELECT id, kind FROM events WHERE id = 1", as_dict=True) == {
        "id": 1,
        "kind": "a",
    }
    assert sql_fetch_one(db, "SELECT id FROM events WHERE id = 99") is None
    assert sql_fetch_all(db, "SELECT id, kind FROM events ORDER BY id") == [(1, "a"), (2, "b")]
    assert sql_fetch_all(db, "SELECT id FROM events WHERE id > :i", {"i": 1}, as_dict=True) == [
        {"id": 2}
    ]
    assert sql_fetch_all(db, "SELECT id FROM events WHERE id > 5") == []


def test_fetch_many_streams_in_batches(db: SqlAlchemyConnector) -> None:
    make_table(db)
    sql_load_rows(db, "events", ((i, f"k{i}", None) for i in range(2500)), columns=None)
    batches = list(sql_fetch_many(db, "SELECT id FROM events ORDER BY id", size=1000))
    assert [len(b) for b in batches] == [1000, 1000, 500]
    assert [r[0] for b in batches for r in b] == list(range(2500))
    dicts = sql_fetch_many(
        db, "SELECT id FROM events WHERE id < :n ORDER BY id", {"n": 3}, as_dict=True
    )
    assert list(dicts) == [[{"id": 0}, {"id": 1}, {"id": 2}]]
    # Stopping early gives the connection back to the pool.
    engine = db.get_engine()
    it = sql_fetch_many(db, "SELECT id FROM events ORDER BY id", size=10)
    assert len(next(it)) == 10
    it.close()  # type: ignore[attr-defined]
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_fetch_many_uses_the_connectors_fetch_size(db: SqlAlchemyConnector) -> None:
    make_table(db)
    sql_load_rows(db, "events", [(i, "k", None) for i in range(7)])
    db.fetch_size = 3
    assert [len(b) for b in sql_fetch_many(db, "SELECT id FROM events")] == [3, 3, 1]


def test_fetch_many_error_names_task_and_is_raised_by_the_call(db: SqlAlchemyConnector) -> None:
    # Raised by the call itself (inside the task run), not later by the iteration.
    with pytest.raises(
        SqlStatementError, match=r"^sql_fetch_many failed .*'SELECT \* FROM missing'"
    ):
        sql_fetch_many(db, "SELECT * FROM missing")
    with pytest.raises(ValueError, match="size must be at least 1, got 0"):
        sql_fetch_many(db, "SELECT 1", size=0)
    assert db.get_engine().pool.checkedout() == 0  # type: ignore[attr-defined]


def test_fetch_many_holds_one_batch_not_the_result(
    db: SqlAlchemyConnector, backend: str, database_url: str
) -> None:
    meta = sa.MetaData()
    sa.Table(
        "blobs",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("body", sa.Text),
    )
    meta.create_all(db.get_engine())
    body = "x" * 300
    sql_load_rows(db, "blobs", ((i, body) for i in range(50_000)))  # ~15 MB of text
    if backend == "postgres":
        # psycopg keeps a client-side result in libpq's memory, out of tracemalloc's
        # sight: look at the server instead, which must be serving a cursor by FETCHes.
        it = sql_fetch_many(db, "SELECT id, body FROM blobs ORDER BY id", size=500)
        assert len(next(it)) == 500
        name = database_url.rsplit("/", 1)[1]
        with psycopg.connect(database_url) as watcher:
            queries = [
                r[0]
                for r in watcher.execute(
                    "SELECT query FROM pg_stat_activity WHERE datname = %s AND pid <> "
                    "pg_backend_pid()",
                    (name,),
                )
            ]
        it.close()  # type: ignore[attr-defined]
        assert any(q.startswith("FETCH FORWARD 500 FROM") for q in queries), queries
        return
    # SQLite and PyMySQL build rows in Python: a buffered result would be traced whole.
    tracemalloc.start()
    try:
        it = sql_fetch_many(db, "SELECT id, body FROM blobs ORDER BY id", size=500)
        batches = [next(it), next(it)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    it.close()  # type: ignore[attr-defined]
    assert [b[0][0] for b in batches] == [0, 500]
    assert peak < 3 * 2**20, f"peak {peak / 2**20:.1f} MiB for two batches of 500 rows"
    assert db.get_engine().pool.checkedout() == 0  # type: ignore[attr-defined]


def test_parameters_must_be_a_mapping(db: SqlAlchemyConnector) -> None:
    make_table(db)
    with pytest.raises(
        TypeError,
        match=r"sql_execute: parameters must be a mapping .* "
        r"got a list; to run the statement once per parameter set, use "
        r"sql_execute_many",
    ):
        sql_execute(db, "INSERT INTO events (id) VALUES (:id)", [{"id": 1}])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sql_fetch_all: parameters must be a mapping"):
        sql_fetch_all(db, "SELECT id FROM events WHERE id = :id", (1,))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"sql_execute_many: .* got a tuple$"):
        sql_execute_many(db, "INSERT INTO events (id) VALUES (:id)", [(1,)])  # type: ignore[list-item]
    assert count(db) == 0


def test_query_to_dataframe(db: SqlAlchemyConnector) -> None:
    make_table(db)
    sql_load_rows(db, "events", [(1, "a", T0), (2, "b", T0)])
    df = sql_query_to_dataframe(
        db, "SELECT id, kind FROM events WHERE id >= :i ORDER BY id", {"i": 1}
    )
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["id", "kind"]
    assert df["kind"].tolist() == ["a", "b"]


# --- loading --------------------------------------------------------------------------------
def test_load_rows_from_tuples_dicts_and_frames(db: SqlAlchemyConnector) -> None:
    table = make_table(db)
    assert sql_load_rows(db, "events", [(1, "a", T0)]) == 1
    assert (
        sql_load_rows(
            db, "events", [{"id": 2, "kind": "b", "at": T0}, {"id": 3, "kind": "c", "at": None}]
        )
        == 2
    )
    assert sql_load_rows(db, "events", [(4, "d")], columns=["id", "kind"]) == 1
    frame = pd.DataFrame(
        {"id": [5, 6], "kind": ["e", None], "at": [T0 + timedelta(days=1), pd.NaT]}
    )
    assert sql_load_rows(db, "events", frame) == 2
    assert sql_load_rows(db, "events", []) == 0
    assert rows_of(db, table) == [
        (1, "a", T0),
        (2, "b", T0),
        (3, "c", None),
        (4, "d", None),
        (5, "e", T0 + timedelta(days=1)),
        (6, None, None),
    ]


def test_load_rows_streams_a_generator_in_chunks(db: SqlAlchemyConnector) -> None:
    make_table(db)
    produced = 0

    def rows() -> Iterator[tuple[int, str, datetime]]:
        nonlocal produced
        for i in range(12_345):
            produced += 1
            yield (i, f"kind-{i % 7}", T0 + timedelta(seconds=i))

    assert sql_load_rows(db, "events", rows(), chunk_size=1000) == 12_345
    assert produced == 12_345
    assert count(db) == 12_345
    assert sql_fetch_one(db, "SELECT max(id) FROM events") == (12_344,)


@pytest.mark.parametrize("given", ["list", "generator", "mappings"])
@pytest.mark.parametrize("n", [0, 999, 1000, 3000, 3001])
def test_a_load_counts_every_row_and_reports_each_full_chunk(
    db: SqlAlchemyConnector,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    n: int,
    given: str,
) -> None:
    # Rows are counted per chunk, or by a list's length (never per row): exact multiples
    # of chunk_size and a partial last chunk both come out right, and each full chunk is
    # a progress line.
    make_table(db)
    monkeypatch.setattr(orch_sqlalchemy.tasks, "PROGRESS_INTERVAL", 0.0)
    rows: Any = [(i, "k", None) for i in range(n)]
    if given == "generator":
        rows = iter(rows)
    elif given == "mappings":
        rows = [{"id": i, "kind": k, "at": at} for i, k, at in rows]
    with caplog.at_level(logging.INFO, logger="orch_sqlalchemy"):
        loaded = sql_load_rows.fn(db, "events", rows, chunk_size=1000)
    assert loaded == n
    assert count(db) == n
    so_far = [r.getMessage() for r in caplog.records if " so far, " in r.getMessage()]
    counts = sorted({int(m.split(": ")[1].split(" rows")[0].replace(",", "")) for m in so_far})
    assert counts == sorted({*range(1000, n + 1, 1000), n})
    assert f"sql_load_rows into events: {n:,} rows in " in caplog.text


def test_a_load_that_fails_midway_leaves_no_rows(db: SqlAlchemyConnector) -> None:
    make_table(db)
    sql_load_rows(db, "events", [(0, "existing", None)])
    # Row 3000 repeats a key: the 2,999 rows before it (several chunks) must vanish too.
    rows = [(i, "new", None) for i in range(1, 3000)] + [(1, "duplicate", None)]
    with pytest.raises(SqlLoadError) as info:
        sql_load_rows(db, "events", rows, chunk_size=500)
    assert str(info.value).startswith("sql_load_rows failed on an unsaved SqlAlchemyConnector (")
    assert info.value.__cause__ is not None
    assert count(db) == 1


@pytest.mark.parametrize("failure", ["bad row", "source error"])
@pytest.mark.parametrize("task", ["sql_load_rows", "sql_upsert"])
def test_a_load_failing_in_its_last_chunk_keeps_nothing(
    db: SqlAlchemyConnector, failure: str, task: str
) -> None:
    table = make_table(db)
    sql_load_rows(db, "events", [(0, "existing", T0)])

    def rows() -> Iterator[dict[str, object]]:
        # Two full chunks (sent to the database already), then a failure in the third.
        yield {"id": 0, "kind": "changed", "at": None}
        for i in range(1, 2500):
            yield {"id": i, "kind": "new", "at": None}
        if failure == "bad row":
            yield {"id": 9999}  # no kind
        else:
            raise RuntimeError("the source broke")

    expected = (
        pytest.raises(SqlLoadError, match=r"row 250[01] has no value for column 'kind'")
        if failure == "bad row"
        else pytest.raises(RuntimeError, match="the source broke")
    )
    with expected:
        if task == "sql_load_rows":
            sql_load_rows(db, "events", (r for r in rows() if r["id"] != 0), chunk_size=1000)
        else:
            sql_upsert(db, "events", rows(), key_columns=["id"], chunk_size=1000)
    assert rows_of(db, table) == [(0, "existing", T0)]
    assert db.get_engine().pool.checkedout() == 0  # type: ignore[attr-defined]


def test_long_transfers_log_progress_to_the_run_log(
    db: SqlAlchemyConnector, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_table(db)

    @flow
    def load(n: int) -> int:
        return sql_load_rows(db, "events", ((i, "k", None) for i in range(n)), chunk_size=1000)

    load(2500)  # quick: no progress lines at the default interval
    assert "sql_load_rows into events" not in capsys.readouterr().err
    sql_execute(db, "DELETE FROM events")

    # The kit's Progress lines (orch.integration.Progress), at every chunk with interval 0.
    monkeypatch.setattr(orch_sqlalchemy.tasks, "PROGRESS_INTERVAL", 0.0)
    load(2500)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "sql_load_rows into events: " in line]
    assert all("Task run 'sql_load_rows" in line for line in lines), lines
    so_far = [line for line in lines if " so far, " in line]
    assert "sql_load_rows into events: 1,000 rows so far, " in so_far[0], err
    assert "sql_load_rows into events: 2,000 rows so far, " in so_far[1], err
    # The summary comes last, after the commit.
    assert re.search(r"sql_load_rows into events: 2,500 rows in [\d.]+ s \(", lines[-1]), err

    @flow
    def upsert() -> None:
        sql_upsert(db, "events", [(i, "u", None) for i in range(1500)], ["id"], chunk_size=1000)
        sql_execute_many(
            db,
            "UPDATE events SET kind = :k WHERE id = :id",
            ({"id": i, "k": "v"} for i in range(1200)),
            chunk_size=1000,
        )

    upsert()
    err = capsys.readouterr().err
    assert "sql_upsert into events: 1,000 rows so far, " in err
    assert "sql_upsert into events: 1,500 rows in " in err
    assert "sql_execute_many parameter sets: 1,200 rows in " in err


def test_a_failed_load_says_how_far_it_got(
    db: SqlAlchemyConnector, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    make_table(db)
    monkeypatch.setattr(orch_sqlalchemy.tasks, "PROGRESS_INTERVAL", 0.0)
    rows = [(i, "k", None) for i in range(1500)] + [("not a number", "k", None)]
    with (
        caplog.at_level(logging.INFO, logger="orch_sqlalchemy"),
        pytest.raises(SqlLoadError),
    ):
        sql_load_rows.fn(db, "events", rows, chunk_size=1000)
    last = caplog.records[-1]
    assert last.levelno == logging.WARNING
    assert last.getMessage().startswith("sql_load_rows into events: stopped (")
    assert " after 1,000 rows " in last.getMessage() or " after 1,500 rows " in last.getMessage()


def test_progress_outside_a_run_goes_to_the_package_logger(
    db: SqlAlchemyConnector, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    make_table(db)
    monkeypatch.setattr(orch_sqlalchemy.tasks, "PROGRESS_INTERVAL", 0.0)
    with caplog.at_level(logging.INFO, logger="orch_sqlalchemy"):
        sql_load_rows.fn(db, "events", [(i, "k", None) for i in range(1500)], chunk_size=1000)
    assert caplog.records[0].name == "orch_sqlalchemy"
    assert (
        caplog.records[0].getMessage().startswith("sql_load_rows into events: 1,000 rows so far, ")
    )
    assert "sql_load_rows into events: 1,500 rows in" in caplog.text


def test_load_rows_names_a_missing_table_column_or_key(db: SqlAlchemyConnector) -> None:
    make_table(db)
    with pytest.raises(SqlLoadError, match="table 'nowhere' does not exist"):
        sql_load_rows(db, "nowhere", [(1,)])
    with pytest.raises(SqlLoadError, match=r"table 'events' has no column\(s\) 'colour'"):
        sql_load_rows(db, "events", [{"id": 1, "colour": "red"}])
    with pytest.raises(SqlLoadError, match="row 2 has no value for column 'kind'"):
        sql_load_rows(db, "events", [{"id": 1, "kind": "a"}, {"id": 2}])
    with pytest.raises(SqlLoadError, match="rows must be tuples, lists or mappings"):
        sql_load_rows(db, "events", ["abc"])
    assert count(db) == 0


def test_identifiers_are_quoted_not_formatted(db: SqlAlchemyConnector) -> None:
    meta = sa.MetaData()
    odd = sa.Table(
        "Order Items",
        meta,
        sa.Column("select", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("from", sa.String(50)),
    )
    meta.create_all(db.get_engine())
    sql_load_rows(db, "Order Items", [(1, "a"), (2, "b")])
    sql_load_rows(db, "Order Items", [{"select": 3, "from": "c"}])
    sql_upsert(db, "Order Items", [{"select": 1, "from": "A"}], key_columns=["select"])
    assert rows_of(db, odd) == [(1, "A"), (2, "b"), (3, "c")]


# --- upsert -----------------------------------------------------------------------------------
def test_upsert_inserts_and_updates(db: SqlAlchemyConnector) -> None:
    table = make_table(db)
    sql_load_rows(db, "events", [(1, "old", T0), (2, "old", T0)])
    n = sql_upsert(
        db,
        "events",
        [
            {"id": 2, "kind": "new", "at": T0},
            {"id": 3, "kind": "fresh", "at": None},
            {"id": 3, "kind": "fresher", "at": None},  # the later row with a key wins
        ],
        key_columns=["id"],
    )
    assert n == 3
    assert rows_of(db, table) == [(1, "old", T0), (2, "new", T0), (3, "fresher", None)]
    # update_columns=[]: new keys only, existing rows untouched.
    sql_upsert(
        db, "events", [(1, "ignored", None), (4, "d", None)], key_columns=["id"], update_columns=[]
    )
    assert rows_of(db, table)[0] == (1, "old", T0)
    assert rows_of(db, table)[-1] == (4, "d", None)
    # Only the named columns are updated.
    sql_upsert(db, "events", [(2, "kind-only", None)], key_columns=["id"], update_columns=["kind"])
    assert rows_of(db, table)[1] == (2, "kind-only", T0)


def test_upsert_of_many_rows_in_chunks(db: SqlAlchemyConnector) -> None:
    make_table(db)
    sql_upsert(
        db, "events", ((i, "a", None) for i in range(3000)), key_columns=["id"], chunk_size=700
    )
    sql_upsert(
        db,
        "events",
        ((i, "b", None) for i in range(1500, 4500)),
        key_columns=["id"],
        chunk_size=700,
    )
    assert count(db) == 4500
    assert sql_fetch_all(db, "SELECT kind, count(*) FROM events GROUP BY kind ORDER BY kind") == [
        ("a", 1500),
        ("b", 3000),
    ]


def test_upsert_errors(db: SqlAlchemyConnector) -> None:
    make_table(db)
    with pytest.raises(ValueError, match="give key_columns"):
        sql_upsert(db, "events", [(1, "a", None)], key_columns=[])
    with pytest.raises(SqlLoadError, match=r"no value for key column\(s\) \['id'\]"):
        sql_upsert(db, "events", [{"kind": "a"}], key_columns=["id"])


@flow(name="sql-progress")
def _progress_flow(db: SqlAlchemyConnector) -> int:
    return sql_load_rows(db, "events", ((i, "k", None) for i in range(2500)), chunk_size=1000)


@pytest.mark.usefixtures("flush_history")
def test_progress_reaches_orch_runs_logs_off_a_terminal(
    sqlite_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orch import history

    monkeypatch.setattr(orch_sqlalchemy.tasks, "PROGRESS_INTERVAL", 0.0)
    with connector_for(sqlite_database) as db:
        make_table(db)
        assert _progress_flow(db) == 2500
    history.flush()
    runs = json.loads(orch_cli("runs", "ls", "--flow", "sql-progress", "--json").stdout)
    logs = orch_cli("runs", "logs", runs[0]["id"], "--json")
    assert logs.returncode == 0, logs.stderr
    messages = [r["message"] for r in json.loads(logs.stdout)]
    lines = [m for m in messages if m.startswith("sql_load_rows into events: ")]
    assert lines[0].startswith("sql_load_rows into events: 1,000 rows so far, "), messages
    assert re.match(r"sql_load_rows into events: 2,500 rows in [\d.]+ s \(", lines[-1]), lines
