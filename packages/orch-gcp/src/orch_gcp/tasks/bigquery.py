"""BigQuery tasks (extra ``orch-gcp[bigquery]``): query, fetch in pages, execute, load
(file, frame, GCS), streaming insert, create dataset and table.

Each task takes a :class:`~orch_gcp.BigQueryWarehouse` first. A job this package starts
never outlives a failed task: when waiting for it times out, fails, or is interrupted,
the job is cancelled before the error is raised, so a retry does not leave a billed job
running. Loads go through resumable uploads. Parameters are bound by BigQuery:
``@name`` with a mapping, ``?`` with a sequence.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import decimal
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from orch import task
from orch.integration import Progress

from orch_gcp._deps import need
from orch_gcp.connector import BigQueryWarehouse
from orch_gcp.errors import GcpTimeoutError, gcp_error, gcp_errors

__all__ = [
    "bigquery_create_dataset",
    "bigquery_create_table",
    "bigquery_execute",
    "bigquery_fetch_many",
    "bigquery_insert_rows",
    "bigquery_load_file",
    "bigquery_load_frame",
    "bigquery_load_gcs",
    "bigquery_query",
]

DEFAULT_PAGE_SIZE = 10_000
_FORMATS = {
    ".csv": "CSV",
    ".json": "NEWLINE_DELIMITED_JSON",
    ".jsonl": "NEWLINE_DELIMITED_JSON",
    ".ndjson": "NEWLINE_DELIMITED_JSON",
    ".parquet": "PARQUET",
}


def _bq() -> Any:
    return need("google.cloud.bigquery", "bigquery")


def _retry(deadline: float) -> Any:
    """BigQuery's default retry, ending after ``deadline`` seconds (its own: 600 s)."""
    return _bq().DEFAULT_RETRY.with_deadline(deadline)


def _client(warehouse: BigQueryWarehouse, action: str) -> Any:
    try:
        return warehouse.get_client()
    except gcp_errors(FileNotFoundError) as exc:
        raise gcp_error(exc, action=action, block=warehouse) from exc


# --- parameters -------------------------------------------------------------------------------


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, decimal.Decimal):
        return "NUMERIC"
    if isinstance(value, bytes):
        return "BYTES"
    if isinstance(value, dt.datetime):
        return "TIMESTAMP" if value.tzinfo is not None else "DATETIME"
    if isinstance(value, dt.date):
        return "DATE"
    if isinstance(value, dt.time):
        return "TIME"
    return "STRING"


def _parameter(bq: Any, name: str | None, value: Any) -> Any:
    if isinstance(value, list | tuple):
        kind = _type_of(value[0]) if value else "STRING"
        return bq.ArrayQueryParameter(name, kind, list(value))
    if isinstance(value, bq.ScalarQueryParameter | bq.ArrayQueryParameter):
        return value
    return bq.ScalarQueryParameter(name, _type_of(value), value)


def query_parameters(parameters: Mapping[str, Any] | Sequence[Any] | None) -> list[Any]:
    """BigQuery's parameters for ``parameters``: a mapping binds ``@name``, a sequence ``?``.

    Example:
        query_parameters({"day": datetime.date(2024, 6, 1), "ids": [1, 2]})
    """
    if parameters is None:
        return []
    bq = _bq()
    if isinstance(parameters, Mapping):
        return [_parameter(bq, str(k), v) for k, v in parameters.items()]
    if isinstance(parameters, str | bytes):
        raise TypeError("parameters must be a mapping (@name) or a sequence (?), not a string")
    return [_parameter(bq, None, v) for v in parameters]


def _job_config(
    warehouse: BigQueryWarehouse,
    parameters: Mapping[str, Any] | Sequence[Any] | None,
    *,
    dry_run: bool = False,
    maximum_bytes_billed: int | None = None,
    labels: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Any:
    bq = _bq()
    config = bq.QueryJobConfig(
        query_parameters=query_parameters(parameters),
        labels={**warehouse.labels, **(labels or {})},
        dry_run=dry_run,
    )
    if dry_run:
        config.use_query_cache = False
    cap = maximum_bytes_billed or warehouse.maximum_bytes_billed
    if cap:
        config.maximum_bytes_billed = cap
    if warehouse.default_dataset:
        config.default_dataset = warehouse.dataset_ref()
    if timeout:
        config.job_timeout_ms = int(timeout * 1000)
    return config


# --- jobs: started, waited for, and cancelled when the wait does not end well ---------------


def _wait(
    job: Any,
    warehouse: BigQueryWarehouse,
    action: str,
    timeout: float | None,
    what: str | None = None,
    statement: str | None = None,
    **result_kwargs: Any,
) -> Any:
    """``job.result(...)``; on a timeout, an error or an interrupt, the job is cancelled
    first (never left running, billed, after the task failed)."""
    try:
        return job.result(timeout=timeout, **result_kwargs)
    except BaseException as exc:
        _cancel(job)
        if isinstance(exc, concurrent.futures.TimeoutError):
            raise GcpTimeoutError(
                f"{action}: job {job.job_id} did not finish in {timeout} s and was cancelled "
                f"({what or warehouse.block_document_name or 'BigQueryWarehouse'})"
            ) from exc
        if isinstance(exc, gcp_errors()):
            raise gcp_error(
                exc, action=action, block=warehouse, what=what, statement=statement
            ) from exc
        raise


def _cancel(job: Any) -> None:
    try:
        if not job.done(reload=True):
            job.cancel()
    except Exception:  # noqa: S110 - cancelling is best effort; the first error is raised
        pass


def _start_query(
    warehouse: BigQueryWarehouse,
    action: str,
    query: str,
    parameters: Mapping[str, Any] | Sequence[Any] | None,
    **options: Any,
) -> Any:
    client = _client(warehouse, action)
    config = _job_config(warehouse, parameters, **options)
    try:
        return client.query(query, job_config=config, location=warehouse.location)
    except gcp_errors() as exc:
        raise gcp_error(exc, action=action, block=warehouse, statement=query) from exc


def iter_rows(
    warehouse: BigQueryWarehouse,
    query: str,
    parameters: Mapping[str, Any] | Sequence[Any] | None = None,
    *,
    timeout: float | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    action: str = "bigquery_query",
    **options: Any,
) -> Iterator[dict[str, Any]]:
    """The rows of ``query`` as dicts, fetched page by page (bounded memory)."""
    job = _start_query(warehouse, action, query, parameters, timeout=timeout, **options)
    rows = _wait(job, warehouse, action, timeout, statement=query, page_size=page_size)
    return _dicts(rows, warehouse, action, query)


def _dicts(
    rows: Any, warehouse: BigQueryWarehouse, action: str, query: str
) -> Iterator[dict[str, Any]]:
    names: list[str] | None = None
    try:
        for row in rows:
            if names is None:
                names = list(row.keys())
            yield dict(zip(names, row.values(), strict=True))
    except gcp_errors() as exc:
        raise gcp_error(exc, action=action, block=warehouse, statement=query) from exc


def run_statement(
    warehouse: BigQueryWarehouse,
    statement: str,
    parameters: Mapping[str, Any] | Sequence[Any] | None = None,
    *,
    timeout: float | None = None,
    action: str = "bigquery_execute",
    **options: Any,
) -> int | None:
    """Run a DML/DDL statement; the rows it changed (``None`` for DDL)."""
    job = _start_query(warehouse, action, statement, parameters, timeout=timeout, **options)
    _wait(job, warehouse, action, timeout, statement=statement)
    affected = job.num_dml_affected_rows
    return None if affected is None else int(affected)


# --- the tasks ----------------------------------------------------------------------------


@task
def bigquery_query(
    warehouse: BigQueryWarehouse,
    query: str,
    parameters: Mapping[str, Any] | Sequence[Any] | None = None,
    *,
    dry_run: bool = False,
    maximum_bytes_billed: int | None = None,
    labels: Mapping[str, str] | None = None,
    timeout: float | None = None,
    as_frame: bool = False,
) -> Any:
    """Run ``query`` and return its rows as dicts (or a pandas DataFrame with
    ``as_frame``, extra ``orch-gcp[pandas]``).

    ``dry_run`` runs nothing and returns the bytes the query would process.
    ``maximum_bytes_billed`` and ``labels`` add to the block's. ``timeout`` (seconds)
    bounds the job: past it, the job is cancelled and :class:`GcpTimeoutError` raised.

    Example:
        from orch_gcp import BigQueryWarehouse, bigquery_query

        rows = bigquery_query(
            BigQueryWarehouse.load("bq"),
            "SELECT name FROM users WHERE signup >= @day",
            {"day": "2024-06-01"},
        )
    """
    if dry_run:
        job = _start_query(
            warehouse,
            "bigquery_query",
            query,
            parameters,
            dry_run=True,
            maximum_bytes_billed=maximum_bytes_billed,
            labels=labels,
        )
        return int(job.total_bytes_processed or 0)
    job = _start_query(
        warehouse,
        "bigquery_query",
        query,
        parameters,
        maximum_bytes_billed=maximum_bytes_billed,
        labels=labels,
        timeout=timeout,
    )
    rows = _wait(job, warehouse, "bigquery_query", timeout, statement=query)
    if as_frame:
        need("pandas", "pandas")
        try:
            return rows.to_dataframe()
        except gcp_errors() as exc:
            raise gcp_error(exc, action="bigquery_query", block=warehouse, statement=query) from exc
    return list(_dicts(rows, warehouse, "bigquery_query", query))


@task
def bigquery_fetch_many(
    warehouse: BigQueryWarehouse,
    query: str,
    parameters: Mapping[str, Any] | Sequence[Any] | None = None,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    timeout: float | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Run ``query`` and return an iterator of pages (lists of at most ``page_size``
    dicts), fetched as they are consumed: memory stays bounded by one page.

    The query runs inside the task, so a refused query fails the task (retried, recorded).

    Example:
        from orch_gcp import BigQueryWarehouse, bigquery_fetch_many

        for page in bigquery_fetch_many(BigQueryWarehouse.load("bq"), "SELECT * FROM events"):
            handle(page)
    """
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, got {page_size}")
    rows = iter_rows(
        warehouse,
        query,
        parameters,
        timeout=timeout,
        page_size=page_size,
        action="bigquery_fetch_many",
    )
    return _pages(rows, page_size)


def _pages(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    page: list[dict[str, Any]] = []
    for row in rows:
        page.append(row)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page


@task
def bigquery_execute(
    warehouse: BigQueryWarehouse,
    statement: str,
    parameters: Mapping[str, Any] | Sequence[Any] | None = None,
    *,
    timeout: float | None = None,
    labels: Mapping[str, str] | None = None,
) -> int | None:
    """Run a DML or DDL statement; returns the rows it changed (``None`` for DDL).

    Example:
        from orch_gcp import BigQueryWarehouse, bigquery_execute

        bigquery_execute(BigQueryWarehouse.load("bq"), "DELETE FROM t WHERE id = @id", {"id": 3})
    """
    return run_statement(warehouse, statement, parameters, timeout=timeout, labels=labels)


def _load_config(
    source_format: str,
    *,
    write_disposition: str,
    schema: Sequence[Any] | Mapping[str, str] | None,
    autodetect: bool | None,
    skip_leading_rows: int | None,
    labels: Mapping[str, str],
) -> Any:
    bq = _bq()
    config = bq.LoadJobConfig(
        source_format=source_format, write_disposition=write_disposition, labels=dict(labels)
    )
    if schema is not None:
        config.schema = table_schema(schema)
    elif autodetect is not False and source_format != "PARQUET":
        config.autodetect = True
    if source_format == "CSV":
        config.skip_leading_rows = 1 if skip_leading_rows is None else skip_leading_rows
    return config


def table_schema(schema: Sequence[Any] | Mapping[str, str]) -> list[Any]:
    """BigQuery ``SchemaField``s of ``{"name": "TYPE"}`` or ``[("name", "TYPE"), ...]``
    (``SchemaField``s pass through).

    Example:
        table_schema({"id": "INT64", "name": "STRING"})
    """
    bq = _bq()
    items = schema.items() if isinstance(schema, Mapping) else schema
    fields = []
    for item in items:
        if isinstance(item, bq.SchemaField):
            fields.append(item)
        else:
            name, kind = item
            fields.append(bq.SchemaField(str(name), str(kind)))
    return fields


def _run_load(
    warehouse: BigQueryWarehouse, job: Any, table: str, timeout: float | None, action: str
) -> int:
    _wait(job, warehouse, action, timeout, what=table)
    return int(job.output_rows or 0)


@task
def bigquery_load_file(
    warehouse: BigQueryWarehouse,
    source: str | os.PathLike[str] | IO[bytes],
    table: str,
    *,
    source_format: str | None = None,
    write_disposition: str = "WRITE_APPEND",
    schema: Sequence[Any] | Mapping[str, str] | None = None,
    autodetect: bool | None = None,
    skip_leading_rows: int | None = None,
    timeout: float | None = None,
    progress: bool | None = None,
) -> int:
    """Load a CSV, newline-delimited JSON or Parquet file into ``table`` through a
    resumable upload; returns the rows loaded.

    ``source_format`` defaults from the file's suffix (``.csv``, ``.json``/``.ndjson``,
    ``.parquet``). A CSV's first row is its header (``skip_leading_rows=1``).
    ``schema`` (``{"id": "INT64"}``) or else ``autodetect``.

    Example:
        from orch_gcp import BigQueryWarehouse, bigquery_load_file

        bigquery_load_file(BigQueryWarehouse.load("bq"), "orders.csv", "raw.orders")
    """
    path = None if hasattr(source, "read") else Path(source)
    if source_format is None:
        if path is None or path.suffix.lower() not in _FORMATS:
            raise ValueError(
                "bigquery_load_file: give source_format (CSV, NEWLINE_DELIMITED_JSON, "
                f"PARQUET): it cannot be told from {str(path or source)!r}"
            )
        source_format = _FORMATS[path.suffix.lower()]
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"bigquery_load_file: no such file {str(path)!r}")
    client = _client(warehouse, "bigquery_load_file")
    ref = warehouse.table_ref(table)
    config = _load_config(
        source_format.upper(),
        write_disposition=write_disposition,
        schema=schema,
        autodetect=autodetect,
        skip_leading_rows=skip_leading_rows,
        labels=warehouse.labels,
    )
    size = path.stat().st_size if path is not None else 0
    with Progress(
        f"bigquery_load_file into {ref}",
        total=size or None,
        enabled=progress is not False,
        min_seconds=1.0 if progress is None else 0.0,
        logger="orch_gcp",
    ) as bar:
        handle: IO[bytes] = path.open("rb") if path is not None else source  # type: ignore[assignment]
        try:
            # No size: the client uploads it resumably (in chunks), whatever its size.
            job = client.load_table_from_file(
                handle, ref, job_config=config, location=warehouse.location, rewind=False
            )
        except gcp_errors() as exc:
            raise gcp_error(exc, action="bigquery_load_file", block=warehouse, what=ref) from exc
        finally:
            if path is not None:
                handle.close()
        rows = _run_load(warehouse, job, ref, timeout, "bigquery_load_file")
        bar.advance(size)
    return rows


@task
def bigquery_load_frame(
    warehouse: BigQueryWarehouse,
    frame: Any,
    table: str,
    *,
    write_disposition: str = "WRITE_APPEND",
    timeout: float | None = None,
) -> int:
    """Load a pandas DataFrame or an Arrow table into ``table`` (as Parquet, through a
    resumable upload); returns the rows loaded. Needs ``orch-gcp[pandas]``.

    Example:
        from orch_gcp import BigQueryWarehouse, bigquery_load_frame

        bigquery_load_frame(BigQueryWarehouse.load("bq"), df, "raw.orders")
    """
    pa = need("pyarrow", "pandas")
    pq = need("pyarrow.parquet", "pandas")
    arrow = (
        frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    )
    buffer = io.BytesIO()
    pq.write_table(arrow, buffer)
    buffer.seek(0)
    return bigquery_load_file.fn(
        warehouse,
        buffer,
        table,
        source_format="PARQUET",
        write_disposition=write_disposition,
        timeout=timeout,
    )


@task
def bigquery_load_gcs(
    warehouse: BigQueryWarehouse,
    uris: str | Sequence[str],
    table: str,
    *,
    source_format: str = "PARQUET",
    write_disposition: str = "WRITE_APPEND",
    schema: Sequence[Any] | Mapping[str, str] | None = None,
    autodetect: bool | None = None,
    skip_leading_rows: int | None = None,
    timeout: float | None = None,
) -> int:
    """Load ``gs://`` objects (wildcards allowed) into ``table``; returns the rows loaded.

    Example:
        from orch_gcp import BigQueryWarehouse, bigquery_load_gcs

        bigquery_load_gcs(BigQueryWarehouse.load("bq"), "gs://lake/2024/*.parquet", "raw.events")
    """
    listed = [uris] if isinstance(uris, str) else list(uris)
    bad = [u for u in listed if not u.startswith("gs://")]
    if bad or not listed:
        raise ValueError(f"bigquery_load_gcs: uris must be gs://BUCKET/PATH, got {bad or listed}")
    client = _client(warehouse, "bigquery_load_gcs")
    ref = warehouse.table_ref(table)
    config = _load_config(
        source_format.upper(),
        write_disposition=write_disposition,
        schema=schema,
        autodetect=autodetect,
        skip_leading_rows=skip_leading_rows,
        labels=warehouse.labels,
    )
    try:
        job = client.load_table_from_uri(
            listed, ref, job_config=config, location=warehouse.location
        )
    except gcp_errors() as exc:
        raise gcp_error(exc, action="bigquery_load_gcs", block=warehouse, what=ref) from exc
    return _run_load(warehouse, job, ref, timeout, "bigquery_load_gcs")


@task
def bigquery_insert_rows(
    warehouse: BigQueryWarehouse,
    table: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    timeout: float = 60.0,
) -> list[dict[str, Any]]:
    """Stream ``rows`` into ``table``; returns the rows BigQuery refused, one dict each
    (``index`` of the row, ``errors``): an empty list when every row went in. Retries of
    a failing request stop after ``timeout`` seconds.

    Example:
        from orch_gcp import BigQueryWarehouse, bigquery_insert_rows

        failed = bigquery_insert_rows(BigQueryWarehouse.load("bq"), "events", [{"id": 1}])
    """
    client = _client(warehouse, "bigquery_insert_rows")
    ref = warehouse.table_ref(table)
    try:
        errors = client.insert_rows_json(ref, [dict(r) for r in rows], retry=_retry(timeout))
    except gcp_errors() as exc:
        raise gcp_error(exc, action="bigquery_insert_rows", block=warehouse, what=ref) from exc
    return [{"index": e.get("index"), "errors": e.get("errors", [])} for e in errors]


@task
def bigquery_create_dataset(
    warehouse: BigQueryWarehouse,
    dataset: str | None = None,
    *,
    location: str | None = None,
    exists_ok: bool = True,
    labels: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> str:
    """Create ``dataset`` (default: the block's ``default_dataset``); returns
    ``PROJECT.DATASET``. An existing one is fine unless ``exists_ok=False``. Retries of a
    failing request stop after ``timeout`` seconds.

    Example:
        from orch_gcp import BigQueryWarehouse, bigquery_create_dataset

        bigquery_create_dataset(BigQueryWarehouse.load("bq"), "staging")
    """
    bq = _bq()
    client = _client(warehouse, "bigquery_create_dataset")
    ref = warehouse.dataset_ref(dataset)
    spec = bq.Dataset(ref)
    if location or warehouse.location:
        spec.location = location or warehouse.location
    if labels:
        spec.labels = dict(labels)
    try:
        client.create_dataset(spec, exists_ok=exists_ok, retry=_retry(timeout))
    except gcp_errors() as exc:
        raise gcp_error(exc, action="bigquery_create_dataset", block=warehouse, what=ref) from exc
    return str(ref)


@task
def bigquery_create_table(
    warehouse: BigQueryWarehouse,
    table: str,
    schema: Sequence[Any] | Mapping[str, str],
    *,
    exists_ok: bool = True,
    partition_by: str | None = None,
    clustering: Sequence[str] | None = None,
    timeout: float = 60.0,
) -> str:
    """Create ``table`` with ``schema`` (``{"id": "INT64", "name": "STRING"}``); returns
    ``PROJECT.DATASET.TABLE``. ``partition_by`` a DATE/TIMESTAMP column (by day). Retries
    of a failing request stop after ``timeout`` seconds.

    Example:
        from orch_gcp import BigQueryWarehouse, bigquery_create_table

        bigquery_create_table(BigQueryWarehouse.load("bq"), "events", {"id": "INT64"})
    """
    bq = _bq()
    client = _client(warehouse, "bigquery_create_table")
    ref = warehouse.table_ref(table)
    spec = bq.Table(ref, schema=table_schema(schema))
    if partition_by:
        spec.time_partitioning = bq.TimePartitioning(field=partition_by)
    if clustering:
        spec.clustering_fields = list(clustering)
    try:
        client.create_table(spec, exists_ok=exists_ok, retry=_retry(timeout))
    except gcp_errors() as exc:
        raise gcp_error(exc, action="bigquery_create_table", block=warehouse, what=ref) from exc
    return str(ref)
