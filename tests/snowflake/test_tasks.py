"""The Snowflake tasks against the fakesnow server: bound parameters, quoted names,
streamed fetches, all-or-nothing loads and copies, asynchronous queries, and flows."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from orch import flow, get_run_context, history
from orch_snowflake import (
    SnowflakeConnector,
    SnowflakeLoadError,
    SnowflakeQueryError,
    quote_name,
    snowflake_execute_async,
    snowflake_fetch_many,
    snowflake_load_dataframe,
    snowflake_multiquery,
    snowflake_put_and_copy,
    snowflake_query,
    snowflake_query_arrow,
    snowflake_query_pandas,
    snowflake_wait_for_query,
    table_name,
)
from orch_snowflake._sql import file_format_clause


@pytest.fixture
def numbers(sf: SnowflakeConnector) -> SnowflakeConnector:
    snowflake_query.fn(sf, "CREATE TABLE numbers (n INT, name VARCHAR)")
    snowflake_query.fn(sf, "INSERT INTO numbers SELECT range, 'n' || range FROM range(1, 26)")
    return sf


def count(sf: SnowflakeConnector, table: str) -> int:
    return int(snowflake_query.fn(sf, f"SELECT COUNT(*) FROM {table_name(table)}")[0][0])


def test_names_are_quoted_as_snowflake_users_expect() -> None:
    assert quote_name("orders") == '"ORDERS"'
    assert quote_name('"Mixed"') == '"Mixed"'
    assert quote_name('we"ird name') == '"we""ird name"'
    assert table_name("db.sch.orders") == '"DB"."SCH"."ORDERS"'
    assert table_name('sch."a.b"') == '"SCH"."a.b"'
    assert table_name(("sch", "my table")) == '"SCH"."my table"'
    with pytest.raises(ValueError, match="invalid quoted identifier"):
        quote_name('"a"b"')
    with pytest.raises(ValueError, match="table is"):
        table_name("a.b.c.d")
    # The whole name must be plain to go unquoted: a trailing newline is quoted, not upper-cased.
    assert quote_name("orders\n") == '"orders\n"'
    with pytest.raises(ValueError, match="invalid file format option name"):
        file_format_clause({"type": "csv", "skip_header\n": 1})
    with pytest.raises(ValueError, match="invalid file format TYPE"):
        file_format_clause({"type": "csv\n"})


def test_query_binds_parameters_and_returns_tuples_or_dicts(numbers: SnowflakeConnector) -> None:
    rows = snowflake_query.fn(numbers, "SELECT n, name FROM numbers WHERE n <= %s ORDER BY n", [2])
    assert rows == [(1, "n1"), (2, "n2")]
    hostile = "x'); DROP TABLE numbers; --"
    assert snowflake_query.fn(numbers, "SELECT %(v)s", {"v": hostile}) == [(hostile,)]
    assert count(numbers, "numbers") == 25
    dicts = snowflake_query.fn(numbers, "SELECT n, name FROM numbers WHERE n = %s", [3], True)
    assert dicts == [{"N": 3, "NAME": "n3"}]


def test_multiquery_runs_in_order_and_as_a_transaction(sf: SnowflakeConnector) -> None:
    out = snowflake_multiquery.fn(
        sf,
        "CREATE TABLE t (x INT); INSERT INTO t VALUES (1), (2);\n"
        "-- a comment; with a semicolon\nSELECT SUM(x) FROM t",
    )
    assert out[-1] == [(3,)] and len(out) == 3
    with pytest.raises(SnowflakeQueryError, match="INSERT INTO nope"):
        snowflake_multiquery.fn(
            sf, ["INSERT INTO t VALUES (10)", "INSERT INTO nope VALUES (1)"], as_transaction=True
        )
    assert count(sf, "t") == 2  # the first insert was rolled back with the failed one
    snowflake_multiquery.fn(sf, ["INSERT INTO t VALUES (4)", "DELETE FROM t WHERE x = 1"], True)
    assert sorted(snowflake_query.fn(sf, "SELECT x FROM t")) == [(2,), (4,)]


def test_fetch_many_streams_batches(numbers: SnowflakeConnector) -> None:
    batches = list(snowflake_fetch_many.fn(numbers, "SELECT n FROM numbers ORDER BY n", size=10))
    assert [len(b) for b in batches] == [10, 10, 5]
    assert [r[0] for b in batches for r in b] == list(range(1, 26))
    numbers.fetch_size = 20  # the connector's default batch
    dicts = snowflake_fetch_many.fn(numbers, "SELECT n FROM numbers WHERE n > %s", [20], None, True)
    assert sorted(r["N"] for b in dicts for r in b) == [21, 22, 23, 24, 25]
    stream = snowflake_fetch_many.fn(numbers, "SELECT n FROM numbers", size=5)
    assert len(next(stream)) == 5
    stream.close()  # stopping early closes the cursor
    # The statement runs when the task runs: its error is the task's, not the iterator's.
    with pytest.raises(SnowflakeQueryError, match="snowflake_fetch_many"):
        snowflake_fetch_many.fn(numbers, "SELECT * FROM no_such_table")
    with pytest.raises(ValueError, match="size"):
        snowflake_fetch_many.fn(numbers, "SELECT 1", size=0)  # not "the default"


def test_rows_are_tuples_whatever_the_path(numbers: SnowflakeConnector) -> None:
    # The connector's rows are passed through without a per-row copy; they are tuples.
    q = "SELECT n, n * 2 FROM numbers ORDER BY n"
    batches = list(snowflake_fetch_many.fn(numbers, q, size=10))
    results = [
        [r for b in batches for r in b],
        snowflake_query.fn(numbers, q),
        numbers.fetch_all(q),
        numbers.fetch_many(q, size=25),
        snowflake_multiquery.fn(numbers, [q])[0],
    ]
    for rows in results:
        assert type(rows) is list
        assert all(type(r) is tuple for r in rows)
        assert rows == [(n, n * 2) for n in range(1, 26)]
    assert all(type(b) is list for b in batches)


def test_pandas_and_arrow_results(numbers: SnowflakeConnector) -> None:
    df = snowflake_query_pandas.fn(numbers, "SELECT n, name FROM numbers WHERE n < %s", [4])
    assert list(df.columns) == ["N", "NAME"] and sorted(df["N"]) == [1, 2, 3]
    table = snowflake_query_arrow.fn(numbers, "SELECT n FROM numbers WHERE n > 23")
    assert sorted(table.column("N").to_pylist()) == [24, 25]
    empty = snowflake_query_arrow.fn(numbers, "SELECT n FROM numbers WHERE n > 100")
    assert isinstance(empty, pa.Table) and empty.num_rows == 0


def _frame(n: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": range(start, start + n),
            "name": [f"row {i}" for i in range(start, start + n)],
            "score": [i / 2 for i in range(start, start + n)],
            "ok": [i % 2 == 0 for i in range(start, start + n)],
            "day": [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(n)],
            "ts": [dt.datetime(2024, 1, 1, 12) + dt.timedelta(hours=i) for i in range(n)],
        }
    )


def test_load_dataframe_create_append_replace(sf: SnowflakeConnector) -> None:
    assert snowflake_load_dataframe.fn(sf, _frame(10), "scores", mode="create", chunk_rows=3) == 10
    back = snowflake_query.fn(sf, "SELECT id, name, score, ok, day, ts FROM scores WHERE id = 3")
    assert back == [(3, "row 3", 1.5, False, dt.date(2024, 1, 4), dt.datetime(2024, 1, 1, 15))]
    assert snowflake_load_dataframe.fn(sf, _frame(5, start=10), "scores") == 5
    assert count(sf, "scores") == 15
    arrow = pa.table({"id": [1, 2], "note": ["x", "y"]})
    assert snowflake_load_dataframe.fn(sf, arrow, "scores", mode="replace") == 2
    assert snowflake_query.fn(sf, "SELECT * FROM scores ORDER BY id") == [(1, "x"), (2, "y")]
    # replace creates a missing table; names with spaces are quoted as given
    spaced = pd.DataFrame({"my col": [1]})
    snowflake_load_dataframe.fn(sf, spaced, "new table", mode="replace")
    assert snowflake_query.fn(sf, 'SELECT "my col" FROM "new table"') == [(1,)]
    assert snowflake_load_dataframe.fn(sf, _frame(0), "scores") == 0


def test_a_failed_load_leaves_the_table_as_it_was(sf: SnowflakeConnector) -> None:
    snowflake_load_dataframe.fn(sf, _frame(4), "kept", mode="create")
    # Good rows first, one bad value last, in several files: none may stay.
    bad = pd.DataFrame({"id": ["7", "8", "9", "not a number"], "name": ["z"] * 4})
    with pytest.raises(SnowflakeLoadError, match="snowflake_load_dataframe") as err:
        snowflake_load_dataframe.fn(sf, bad, "kept", chunk_rows=2)
    assert err.value.__cause__ is not None
    assert count(sf, "kept") == 4
    mixed = pd.DataFrame({"id": [1, "x"]})  # not even Parquet: refused before any change
    with pytest.raises(SnowflakeLoadError, match="can't be written as Parquet"):
        snowflake_load_dataframe.fn(sf, mixed, "kept")
    assert count(sf, "kept") == 4
    with pytest.raises(SnowflakeLoadError):
        snowflake_load_dataframe.fn(sf, _frame(2), "kept", mode="create")  # exists already
    assert count(sf, "kept") == 4
    with pytest.raises(ValueError, match="mode"):
        snowflake_load_dataframe.fn(sf, bad, "kept", mode="upsert")  # type: ignore[arg-type]


def test_put_and_copy_csv_and_parquet(sf: SnowflakeConnector, tmp_path: Path) -> None:
    snowflake_query.fn(sf, "CREATE TABLE events (id INT, kind VARCHAR)")
    for i in range(3):
        (tmp_path / f"events-{i}.csv").write_text(f"id,kind\n{i},a\n{i + 10},b\n")
    report = snowflake_put_and_copy.fn(
        sf, tmp_path / "events-*.csv", "events", file_format={"type": "csv", "skip_header": 1}
    )
    assert len(report) == 3 and all(r["status"] == "LOADED" for r in report)
    assert count(sf, "events") == 6
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"KIND": ["p"], "ID": [99]}), tmp_path / "more.parquet")
    snowflake_put_and_copy.fn(sf, str(tmp_path / "more.parquet"), "events", "PARQUET")
    assert snowflake_query.fn(sf, "SELECT kind FROM events WHERE id = 99") == [("p",)]
    # an existing named stage works too
    snowflake_query.fn(sf, "CREATE STAGE landing")
    snowflake_put_and_copy.fn(
        sf, tmp_path / "events-0.csv", "events", {"type": "csv", "skip_header": 1}, "landing/x"
    )
    assert count(sf, "events") == 9


def test_put_and_copy_is_all_or_nothing(sf: SnowflakeConnector, tmp_path: Path) -> None:
    snowflake_query.fn(sf, "CREATE TABLE events (id INT, kind VARCHAR)")
    (tmp_path / "a-good.csv").write_text("1,a\n2,b\n")
    (tmp_path / "b-bad.csv").write_text("3,c\nnot-a-number,d\n")
    with pytest.raises(SnowflakeLoadError, match="snowflake_put_and_copy") as err:
        snowflake_put_and_copy.fn(sf, tmp_path / "*.csv", "events")
    assert err.value.__cause__ is not None
    assert count(sf, "events") == 0
    with pytest.raises(SnowflakeLoadError, match="no file matches"):
        snowflake_put_and_copy.fn(sf, tmp_path / "*.nothing", "events")


def test_execute_async_and_wait(numbers: SnowflakeConnector) -> None:
    qid = snowflake_execute_async.fn(numbers, "SELECT COUNT(*) FROM numbers WHERE n > %s", [5])
    assert len(qid) >= 32
    assert snowflake_wait_for_query.fn(numbers, qid, timeout_seconds=30, poll_interval=0.1) == [
        (20,)
    ]
    # fakesnow runs "async" statements at once, so the error comes from the submit here;
    # on Snowflake it comes from the wait. Either way it names the task and the cause.
    with pytest.raises(SnowflakeQueryError, match="NO_SUCH"):
        _submit_and_wait(numbers, "SELECT * FROM no_such")


def _submit_and_wait(sf: SnowflakeConnector, query: str) -> list[tuple[object, ...]]:
    qid = snowflake_execute_async.fn(sf, query)
    return snowflake_wait_for_query.fn(sf, qid, timeout_seconds=30)


def test_tasks_in_a_flow(numbers: SnowflakeConnector) -> None:
    @flow
    def report(sf: SnowflakeConnector) -> list[int]:
        counts = []
        for k in (1, 5, 10):
            # One at a time: fakesnow runs one statement per session at once (Snowflake
            # runs them concurrently; test_connector covers threads sharing the session).
            future = snowflake_query.submit(sf, "SELECT COUNT(*) FROM numbers WHERE n <= %s", [k])
            counts.append(future.result()[0][0])
        snowflake_load_dataframe(sf, pd.DataFrame({"n": [100]}), "numbers")
        return [*counts, snowflake_query(sf, "SELECT COUNT(*) FROM numbers")[0][0]]

    assert report(numbers) == [1, 5, 10, 26]


def test_long_transfers_log_progress_through_the_run_logger(
    numbers: SnowflakeConnector, tmp_path: Path
) -> None:
    for i in range(4):
        (tmp_path / f"n-{i}.csv").write_text(f"{100 + i},csv\n")

    @flow
    def transfers(sf: SnowflakeConnector) -> str:
        rows = [
            r
            for b in snowflake_fetch_many(sf, "SELECT n FROM numbers", size=5, progress=True)
            for r in b
        ]
        assert len(rows) == 25
        # Small transfers stay quiet unless asked (progress=None).
        list(snowflake_fetch_many(sf, "SELECT n FROM numbers", size=5))
        snowflake_load_dataframe(
            sf, _frame(8), "loaded", mode="create", chunk_rows=2, progress=True
        )
        snowflake_put_and_copy(sf, tmp_path / "n-*.csv", "numbers", progress=True)
        stream = snowflake_fetch_many(sf, "SELECT n FROM numbers", size=4, progress=True)
        next(stream)
        stream.close()
        return get_run_context().flow_run.id

    run_id = transfers(numbers)
    # What `orch runs logs` shows: the kit's lines (no terminal here, so no bar).
    lines = [r["message"] for r in history.get_logs(run_id) if "snowflake_" in r["message"]]
    on = "on an unsaved SnowflakeConnector (account 'orchtest' as user 'ORCH_TESTER')"
    fetch = [m for m in lines if m.startswith("snowflake_fetch_many")]
    assert len(fetch) == 2  # the quiet fetch (progress=None, a small result) wrote nothing
    assert re.fullmatch(
        rf"snowflake_fetch_many {re.escape(on)}: 'SELECT n FROM numbers': "
        r"fetched 25 rows in \d+\.\d s \([\d,]+ rows/s\)",
        fetch[0],
    )
    # Closed early: how far it got.
    assert re.search(
        r": stopped \(closed by the reader\) after 4 rows of 29 rows in [\d.]+ s$", fetch[1]
    )
    load = [m.split(f"{on}: ", 1)[1] for m in lines if m.startswith("snowflake_load_dataframe")]
    assert load[:2] == [
        "staging Parquet files of up to 2 rows (8 rows)",
        "COPY INTO from 4 staged file(s)",
    ]
    assert re.fullmatch(r"loaded 8 rows in \d+\.\d s \([\d,]+ rows/s\)", load[2])
    copy = [m.split(f"{on}: ", 1)[1] for m in lines if m.startswith("snowflake_put_and_copy")]
    assert copy[:2] == ["uploading (4 files)", "COPY INTO from 4 staged file(s)"]
    assert copy[2].startswith("copied 4 files in ")
    # And `orch runs logs` prints them (a subprocess: no terminal, no bar).
    shown = subprocess.run(
        [sys.executable, "-m", "orch.cli.main", "runs", "logs", run_id],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "400"},
        check=True,
        timeout=60,
    ).stdout
    assert "'SELECT n FROM numbers': fetched 25 rows in " in shown
    assert "stopped (closed by the reader) after 4 rows of 29 rows" in shown
    assert "loaded 8 rows in " in shown and "copied 4 files in " in shown


def test_progress_outside_a_run_goes_to_the_package_logger(
    numbers: SnowflakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    bad = pd.DataFrame({"n": ["1", "x"]})
    with caplog.at_level(logging.INFO, logger="orch_snowflake"), pytest.raises(SnowflakeLoadError):
        snowflake_load_dataframe.fn(numbers, bad, "numbers", chunk_rows=1, progress=True)
    messages = [r.getMessage() for r in caplog.records if r.name == "orch_snowflake"]
    assert re.search(
        r': stopped \(failed; "NUMBERS" is as it was\) after 2 rows of 2 rows in [\d.]+ s$',
        messages[-1],
    )
    assert count(numbers, "numbers") == 25


def test_fetch_many_errors_fail_its_task_run_in_the_history(numbers: SnowflakeConnector) -> None:
    @flow
    def stream(sf: SnowflakeConnector) -> tuple[list[int], str, str]:
        good = [
            r[0] for b in snowflake_fetch_many(sf, "SELECT n FROM numbers ORDER BY n") for r in b
        ]
        bad = snowflake_fetch_many.submit(sf, "SELECT * FROM no_such_table")
        bad.wait()
        with pytest.raises(SnowflakeQueryError, match="NO_SUCH_TABLE"):
            bad.result()
        return good, bad.state.name, bad.task_run_id

    good, state, task_run_id = stream(numbers)
    assert good == list(range(1, 26))
    # The statement ran inside the task call: the task run failed, and the history says so.
    assert state == "Failed"
    recorded = history.get_task_run(task_run_id)
    assert recorded is not None and recorded["state"] == "Failed"
    assert "snowflake_fetch_many failed" in recorded["error"]


def test_a_stream_closed_unread_closes_its_cursor(numbers: SnowflakeConnector) -> None:
    from snowflake.connector.cursor import SnowflakeCursor

    opened: list[SnowflakeCursor] = []
    real_cursor = numbers.get_connection().cursor

    def cursor(*args: object, **kwargs: object) -> SnowflakeCursor:
        opened.append(real_cursor(*args, **kwargs))  # type: ignore[arg-type]
        return opened[-1]

    numbers.get_connection().cursor = cursor  # type: ignore[method-assign]
    stream = snowflake_fetch_many.fn(numbers, "SELECT n FROM numbers", size=5)
    assert len(opened) == 1 and not opened[0].is_closed()
    stream.close()  # never read: the cursor (and its result) is released all the same
    assert opened[0].is_closed()
