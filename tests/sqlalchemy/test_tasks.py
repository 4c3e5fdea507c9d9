"""Every task against SQLite, PostgreSQL and MariaDB (fresh database per test)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
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


def test_fetch_many_error_names_task(db: SqlAlchemyConnector) -> None:
    with pytest.raises(
        SqlStatementError, match=r"^sql_fetch_many failed .*'SELECT \* FROM missing'"
    ):
        list(sql_fetch_many(db, "SELECT * FROM missing"))


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


def test_a_load_that_fails_midway_leaves_no_rows(db: SqlAlchemyConnector) -> None:
    make_table(db)
    sql_load_rows(db, "events", [(0, "existing", None)])
    # Row 3000 repeats a key: the 2,999 rows before it (several chunks) must vanish too.
    rows = [(i, "new", None) for i in range(1, 3000)] + [(1, "duplicate", None)]
    with pytest.raises(SqlLoadError) as info:
        sql_load_rows(db, "events", rows, chunk_size=500)
    assert str(info.value).startswith("sql_load_rows failed on sqlalchemy-connector for ")
    assert info.value.__cause__ is not None
    assert count(db) == 1


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
