"""BigQuery tasks and the BigQueryWarehouse SQL database against bqemulator."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from orch.integration import NotFoundError, QueryError
from orch_gcp import (
    BigQueryQueryError,
    BigQueryWarehouse,
    GcpCredentials,
    GcpError,
    GcpNotFoundError,
    bigquery_create_dataset,
    bigquery_create_table,
    bigquery_execute,
    bigquery_fetch_many,
    bigquery_insert_rows,
    bigquery_load_file,
    bigquery_load_frame,
    bigquery_query,
)

from tests.backends.bigquery import PROJECT

from .conftest import unique


@pytest.fixture
def warehouse(bigquery_server: str) -> BigQueryWarehouse:
    """A warehouse whose default dataset is fresh for each test."""
    creds = GcpCredentials(anonymous=True, project=PROJECT, endpoints={"bigquery": bigquery_server})
    dataset = unique("ds").replace("-", "_")
    block = BigQueryWarehouse(credentials=creds, default_dataset=dataset, labels={"team": "data"})
    assert bigquery_create_dataset.fn(block) == f"{PROJECT}.{dataset}"
    return block


@pytest.fixture
def people(warehouse: BigQueryWarehouse) -> str:
    bigquery_create_table.fn(warehouse, "people", {"id": "INT64", "name": "STRING"})
    assert (
        bigquery_insert_rows.fn(
            warehouse, "people", [{"id": i, "name": f"n{i}"} for i in range(1, 6)]
        )
        == []
    )
    return "people"


def test_query_with_named_and_positional_parameters(
    warehouse: BigQueryWarehouse, people: str
) -> None:
    rows = bigquery_query.fn(
        warehouse, "SELECT id, name FROM people WHERE id >= @low ORDER BY id", {"low": 4}
    )
    assert rows == [{"id": 4, "name": "n4"}, {"id": 5, "name": "n5"}]
    rows = bigquery_query.fn(
        warehouse, "SELECT ? AS n, ? AS s, ? AS d", [1, "x", dt.date(2024, 6, 1)]
    )
    assert rows == [{"n": 1, "s": "x", "d": dt.date(2024, 6, 1)}]
    rows = bigquery_query.fn(
        warehouse, "SELECT COUNT(*) AS c FROM people WHERE id IN UNNEST(@ids)", {"ids": [1, 2, 9]}
    )
    assert rows == [{"c": 2}]


def test_query_as_a_frame(warehouse: BigQueryWarehouse, people: str) -> None:
    frame = bigquery_query.fn(warehouse, "SELECT id FROM people ORDER BY id", as_frame=True)
    assert list(frame["id"]) == [1, 2, 3, 4, 5]


def test_dry_run_returns_bytes_processed(warehouse: BigQueryWarehouse, people: str) -> None:
    processed = bigquery_query.fn(warehouse, "SELECT * FROM people", dry_run=True)
    assert isinstance(processed, int)
    assert processed >= 0
    # nothing ran: no row changed by a dry-run DML
    bigquery_query.fn(warehouse, "DELETE FROM people WHERE TRUE", dry_run=True)
    assert bigquery_query.fn(warehouse, "SELECT COUNT(*) AS c FROM people") == [{"c": 5}]


def test_fetch_many_streams_pages(warehouse: BigQueryWarehouse, people: str) -> None:
    pages = bigquery_fetch_many.fn(warehouse, "SELECT id FROM people ORDER BY id", page_size=2)
    assert [[r["id"] for r in page] for page in pages] == [[1, 2], [3, 4], [5]]


def test_execute_returns_rows_affected(warehouse: BigQueryWarehouse, people: str) -> None:
    assert (
        bigquery_execute.fn(warehouse, "UPDATE people SET name = 'z' WHERE id <= @n", {"n": 2}) == 2
    )
    assert bigquery_execute.fn(warehouse, "CREATE TABLE other (x INT64)") is None
    assert bigquery_execute.fn(warehouse, "INSERT INTO other (x) VALUES (1), (2), (3)") == 3


def test_load_csv_ndjson_and_parquet_files(warehouse: BigQueryWarehouse, tmp_path: Path) -> None:
    # One table per format: bqemulator reports the table's row count as a load's output
    # rows, so each load goes into an empty table.
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv = tmp_path / "orders.csv"
    csv.write_text("id,amount\n1,9.5\n2,3.25\n")
    ndjson = tmp_path / "orders.ndjson"
    ndjson.write_text("\n".join(json.dumps({"id": i, "amount": i / 2}) for i in (3, 4)) + "\n")
    parquet = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"id": [5, 6], "amount": [1.0, 2.0]}), parquet)
    for file, first in ((csv, 1), (ndjson, 3), (parquet, 5)):
        table = f"orders_{file.suffix[1:]}"
        bigquery_create_table.fn(warehouse, table, {"id": "INT64", "amount": "FLOAT64"})
        assert bigquery_load_file.fn(warehouse, file, table) == 2  # a CSV's header is no row
        rows = bigquery_query.fn(warehouse, f"SELECT id, amount FROM {table} ORDER BY id")
        assert [r["id"] for r in rows] == [first, first + 1], file
    assert bigquery_query.fn(warehouse, "SELECT amount FROM orders_csv WHERE id = 1") == [
        {"amount": 9.5}
    ]
    with pytest.raises(ValueError, match="give source_format"):
        bigquery_load_file.fn(warehouse, tmp_path / "orders.txt", "orders_csv")


def test_load_frames(warehouse: BigQueryWarehouse) -> None:
    import pandas as pd
    import pyarrow as pa

    bigquery_create_table.fn(warehouse, "frames", {"id": "INT64", "name": "STRING"})
    assert (
        bigquery_load_frame.fn(
            warehouse, pd.DataFrame({"id": [1, 2], "name": ["a", "b"]}), "frames"
        )
        == 2
    )
    assert warehouse.fetch_all("SELECT id, name FROM frames ORDER BY id") == [(1, "a"), (2, "b")]
    bigquery_create_table.fn(warehouse, "arrow", {"id": "INT64", "name": "STRING"})
    assert bigquery_load_frame.fn(warehouse, pa.table({"id": [3], "name": ["c"]}), "arrow") == 1
    assert warehouse.fetch_all("SELECT id, name FROM arrow") == [(3, "c")]


def test_the_sql_database_role(warehouse: BigQueryWarehouse) -> None:
    warehouse.execute("CREATE TABLE t (id INT64, name STRING)")
    assert (
        warehouse.execute_many(
            "INSERT INTO t (id, name) VALUES (@id, @name)",
            [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
        )
        == 2
    )
    assert warehouse.fetch_one("SELECT COUNT(*) FROM t") == (2,)
    assert warehouse.fetch_many("SELECT id FROM t ORDER BY id", size=1) == [(1,)]
    assert warehouse.fetch_all("SELECT id, name FROM t ORDER BY id") == [(1, "a"), (2, "b")]


def test_a_syntax_error_gives_line_and_column(warehouse: BigQueryWarehouse) -> None:
    warehouse.save("bq")
    loaded = BigQueryWarehouse.load("bq")
    with pytest.raises(QueryError) as info:
        bigquery_query.fn(loaded, "SELECT 1\nFROM people WHERE")
    message = str(info.value)
    assert isinstance(info.value, BigQueryQueryError)
    assert "line 2, column" in message
    assert "bq" in message and "SELECT 1" in message


def test_missing_table_and_dataset_are_named(warehouse: BigQueryWarehouse) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        bigquery_query.fn(warehouse, "SELECT * FROM nope")
    with pytest.raises(GcpNotFoundError, match=r"no_such_dataset"):
        bigquery_query.fn(warehouse, "SELECT * FROM no_such_dataset.t")


def test_a_failing_insert_is_bounded_by_its_timeout(
    warehouse: BigQueryWarehouse, people: str
) -> None:
    # bqemulator answers 500 to a row of the wrong type (BigQuery gives per-row errors):
    # the retries stop at the deadline with the server's reason.
    with pytest.raises(GcpError, match="retried until the deadline"):
        bigquery_insert_rows.fn(warehouse, "people", [{"id": "not a number"}], timeout=2)


def test_creating_a_table_in_a_missing_dataset_ends(warehouse: BigQueryWarehouse) -> None:
    # BigQuery answers 404; bqemulator answers 500, which the SDK retries for 10 minutes:
    # the task's timeout ends that with the server's reason and the table's name.
    elsewhere = warehouse.model_copy(update={"default_dataset": "no_such_dataset"})
    with pytest.raises(GcpError, match=r"no_such_dataset\.t.*retried until the deadline"):
        bigquery_create_table.fn(elsewhere, "t", {"id": "INT64"}, timeout=2)


def test_no_dataset_is_a_clear_error(bigquery_server: str) -> None:
    creds = GcpCredentials(anonymous=True, project=PROJECT, endpoints={"bigquery": bigquery_server})
    with pytest.raises(ValueError, match="no dataset"):
        bigquery_create_table.fn(BigQueryWarehouse(credentials=creds), "t", {"id": "INT64"})


def test_load_gcs_wants_gs_uris(warehouse: BigQueryWarehouse) -> None:
    from orch_gcp import bigquery_load_gcs

    with pytest.raises(ValueError, match="gs://BUCKET/PATH"):
        bigquery_load_gcs.fn(warehouse, ["s3://elsewhere/x.parquet"], "t")


def test_a_missing_extra_names_what_to_install() -> None:
    from orch.integration import MissingDependencyError
    from orch_gcp._deps import need

    with pytest.raises(MissingDependencyError, match=r"pip install 'orch-gcp\[pandas\]'"):
        need("no_such_module_here", "pandas")
