"""Ready-made Snowflake tasks. Each takes the connector first, then plain values, and
returns plain Python data (or pandas/Arrow with the ``pandas`` extra); ``task.fn`` is the
bare function, usable without the orch runtime.

Values always travel as bound parameters (``%s`` / ``%(name)s`` with the default
``pyformat``). Table and column names are quoted by :func:`quote_name`, never formatted
into SQL as given. A failed statement raises
:class:`~orch_snowflake.errors.SnowflakeQueryError` naming the task, the connector and
the statement's first line; a failed load leaves the target table as it was.
"""

from __future__ import annotations

import contextlib
import glob
import io
import logging
import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from orch import task

from orch_snowflake.connector import (
    DedicatedSession,
    Params,
    SnowflakeConnector,
    first_line,
    sdk_message,
)
from orch_snowflake.errors import (
    SnowflakeError,
    SnowflakeLoadError,
    SnowflakeQueryError,
    SnowflakeTimeoutError,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from snowflake.connector.cursor import SnowflakeCursor

logger = logging.getLogger("orch_snowflake")

Row = tuple[Any, ...]
DEFAULT_CHUNK_ROWS = 500_000

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_OPTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --- identifiers ------------------------------------------------------------------------------
def quote_name(name: str) -> str:
    """Quote one identifier so it means what a Snowflake user expects.

    A plain name (``orders``, ``Order_Id``) is upper-cased, as Snowflake does with unquoted
    names, then quoted; a name already in double quotes is kept as it is (case-sensitive);
    anything else (spaces, dashes, dots...) is quoted as given.

    Example:
        >>> quote_name("orders"), quote_name('"MixedCase"'), quote_name("my col")
        ('"ORDERS"', '"MixedCase"', '"my col"')
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"an identifier must be a non-empty string, got {name!r}")
    if len(name) >= 2 and name[0] == name[-1] == '"':
        inner = name[1:-1]
        if '"' in inner.replace('""', ""):
            raise ValueError(f"invalid quoted identifier {name!r}: double its inner quotes")
        return name
    if _PLAIN.match(name):
        return f'"{name.upper()}"'
    return '"' + name.replace('"', '""') + '"'


def table_name(table: str | Sequence[str]) -> str:
    """``table``, ``schema.table`` or ``db.schema.table`` (or a tuple of parts), quoted.

    Example:
        >>> table_name("analytics.orders")
        '"ANALYTICS"."ORDERS"'
    """
    parts = _split_name(table) if isinstance(table, str) else list(table)
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"a table is [database.][schema.]table, got {table!r}")
    return ".".join(quote_name(p) for p in parts)


def _split_name(name: str) -> list[str]:
    parts, current, quoted, i = [], "", False, 0
    while i < len(name):
        ch = name[i]
        if ch == '"':
            if quoted and name[i + 1 : i + 2] == '"':
                current += '""'
                i += 2
                continue
            quoted = not quoted
            current += ch
        elif ch == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
        i += 1
    if quoted:
        raise ValueError(f"unbalanced double quote in {name!r}")
    parts.append(current)
    return parts


def _literal(value: Any) -> str:
    """A SQL literal for a DDL option (file format options can't be bound)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ")"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _file_format(file_format: str | Mapping[str, Any]) -> str:
    if isinstance(file_format, Mapping):
        opts = []
        for key, value in file_format.items():
            if not _OPTION.match(key):
                raise ValueError(f"invalid file format option name {key!r}")
            # TYPE takes a keyword (CSV, PARQUET), the other options literals.
            lit = str(value).upper() if key.upper() == "TYPE" else _literal(value)
            if key.upper() == "TYPE" and not _OPTION.match(lit):
                raise ValueError(f"invalid file format TYPE {value!r}")
            opts.append(f"{key.upper()} = {lit}")
        return "(" + " ".join(opts) + ")"
    if file_format.upper() in {"CSV", "JSON", "PARQUET", "AVRO", "ORC", "XML"}:
        return f"(TYPE = {file_format.upper()})"
    # A named file format object.
    return f"(FORMAT_NAME = {_literal(table_name(file_format))})"


# --- queries ------------------------------------------------------------------------------------
def _columns(cur: SnowflakeCursor) -> list[str]:
    return [d.name for d in cur.description or ()]


@task
def snowflake_query(
    connector: SnowflakeConnector,
    query: str,
    params: Params = None,
    as_dicts: bool = False,
) -> list[Row] | list[dict[str, Any]]:
    """Run one statement and return all its rows (tuples, or dicts with ``as_dicts``).

    Example:
        from orch_snowflake import SnowflakeConnector, snowflake_query

        sf = SnowflakeConnector.load("analytics")
        rows = snowflake_query(sf, "SELECT id, name FROM customers WHERE country = %s", ["FR"])
        big = snowflake_query(sf, "SELECT * FROM t WHERE v > %(v)s", {"v": 10}, as_dicts=True)
    """
    with connector.execute(query, params, task="snowflake_query") as cur:
        rows = cur.fetchall()
        if as_dicts:
            names = _columns(cur)
            return [dict(zip(names, row, strict=True)) for row in rows]
        return [tuple(row) for row in rows]


@task
def snowflake_multiquery(
    connector: SnowflakeConnector,
    queries: Sequence[str] | str,
    as_transaction: bool = False,
) -> list[list[Row]]:
    """Run several statements in order; return each one's rows.

    ``queries`` is a list of statements, or one SQL script (split on ``;`` outside quotes
    and comments). With ``as_transaction=True`` they run in one transaction in a session of
    their own: all are committed, or, if one fails, none.

    Example:
        from orch_snowflake import SnowflakeConnector, snowflake_multiquery

        sf = SnowflakeConnector.load("analytics")
        snowflake_multiquery(sf, [
            "DELETE FROM daily WHERE day = CURRENT_DATE",
            "INSERT INTO daily SELECT CURRENT_DATE, COUNT(*) FROM events",
        ], as_transaction=True)
    """
    statements = _split_script(queries) if isinstance(queries, str) else list(queries)
    results: list[list[Row]] = []
    if as_transaction:
        with connector.transaction() as tx:
            for statement in statements:
                with tx.execute(statement, task="snowflake_multiquery") as cur:
                    results.append([tuple(r) for r in cur.fetchall()])
        return results
    for statement in statements:
        with connector.execute(statement, task="snowflake_multiquery") as cur:
            results.append([tuple(r) for r in cur.fetchall()])
    return results


def _split_script(script: str) -> list[str]:
    from snowflake.connector.util_text import split_statements

    return [stmt for stmt, _is_put_or_get in split_statements(io.StringIO(script)) if stmt.strip()]


@task
def snowflake_fetch_many(
    connector: SnowflakeConnector,
    query: str,
    params: Params = None,
    size: int | None = None,
    as_dicts: bool = False,
) -> Iterator[list[Row]] | Iterator[list[dict[str, Any]]]:
    """Stream a query's rows in batches of ``size`` (default: the connector's ``fetch_size``).

    The statement runs when the task runs (so its errors and retries belong to the task);
    the rows are then read as the batches are consumed, from the result chunks Snowflake
    serves, so memory stays about one batch plus the connector's chunk prefetch. Close the
    iterator (``it.close()``) to stop early.

    Example:
        from orch_snowflake import SnowflakeConnector, snowflake_fetch_many

        sf = SnowflakeConnector.load("analytics")
        for batch in snowflake_fetch_many(sf, "SELECT * FROM events", size=50_000):
            handle(batch)   # a list of up to 50,000 tuples
    """
    batch = size or connector.fetch_size
    if batch < 1:
        raise ValueError(f"snowflake_fetch_many: size must be at least 1, got {batch}")
    cur = connector.execute(query, params, task="snowflake_fetch_many")
    return _batches(connector, cur, query, batch, as_dicts)


def _batches(
    connector: SnowflakeConnector, cur: SnowflakeCursor, query: str, size: int, as_dicts: bool
) -> Iterator[Any]:
    from snowflake.connector.errors import Error

    names = _columns(cur)
    try:
        while True:
            try:
                rows = cur.fetchmany(size)
            except Error as exc:
                raise connector.query_error("snowflake_fetch_many", query, exc) from exc
            if not rows:
                return
            if as_dicts:
                yield [dict(zip(names, row, strict=True)) for row in rows]
            else:
                yield [tuple(row) for row in rows]
    finally:
        cur.close()


@task
def snowflake_query_pandas(
    connector: SnowflakeConnector, query: str, params: Params = None
) -> pd.DataFrame:
    """Run a query and return its rows as a pandas DataFrame (extra ``pandas``).

    Example:
        from orch_snowflake import SnowflakeConnector, snowflake_query_pandas

        df = snowflake_query_pandas(SnowflakeConnector.load("analytics"), "SELECT * FROM t")
    """
    _require("pandas", "pandas")
    _require("pyarrow", "pandas")
    with connector.execute(query, params, task="snowflake_query_pandas") as cur:
        try:
            return cur.fetch_pandas_all()
        except SnowflakeError:
            raise
        except Exception as exc:
            raise connector.query_error("snowflake_query_pandas", query, exc) from exc


@task
def snowflake_query_arrow(
    connector: SnowflakeConnector, query: str, params: Params = None
) -> pa.Table:
    """Run a query and return its rows as a pyarrow Table (extra ``arrow``).

    Example:
        from orch_snowflake import SnowflakeConnector, snowflake_query_arrow

        table = snowflake_query_arrow(SnowflakeConnector.load("analytics"), "SELECT * FROM t")
    """
    _require("pyarrow", "arrow")
    with connector.execute(query, params, task="snowflake_query_arrow") as cur:
        try:
            # An empty result is an empty table with the query's columns, not None.
            return cur.fetch_arrow_all(force_return_table=True)
        except SnowflakeError:
            raise
        except Exception as exc:
            raise connector.query_error("snowflake_query_arrow", query, exc) from exc


def _require(module: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise SnowflakeError(f"this task needs {module}: pip install 'orch-snowflake[{extra}]'")


# --- asynchronous queries ----------------------------------------------------------------------
@task
def snowflake_execute_async(
    connector: SnowflakeConnector, query: str, params: Params = None
) -> str:
    """Submit a statement without waiting; return its query id.

    Collect the result with :func:`snowflake_wait_for_query` (from this or any other
    process using the same user), e.g. to start several long statements at once.

    Example:
        from orch_snowflake import SnowflakeConnector, snowflake_execute_async
        from orch_snowflake import snowflake_wait_for_query

        sf = SnowflakeConnector.load("analytics")
        qid = snowflake_execute_async(sf, "CALL rebuild_marts()")
        rows = snowflake_wait_for_query(sf, qid, timeout_seconds=3600)
    """
    from snowflake.connector.errors import Error

    conn = connector.get_connection()
    with conn.cursor() as cur:
        try:
            cur.execute_async(query, params)
        except Error as exc:
            raise connector.query_error("snowflake_execute_async", query, exc) from exc
        query_id = cur.sfqid
    if not query_id:
        raise SnowflakeQueryError(
            f"snowflake_execute_async on {connector.display_name()}: Snowflake returned no "
            f"query id for {first_line(query)!r}"
        )
    return str(query_id)


@task
def snowflake_wait_for_query(
    connector: SnowflakeConnector,
    query_id: str,
    timeout_seconds: float | None = None,
    poll_interval: float = 1.0,
    cancel_on_timeout: bool = True,
) -> list[Row]:
    """Poll an asynchronous query until it ends; return its rows.

    After ``timeout_seconds`` the query is cancelled (``SYSTEM$CANCEL_QUERY``, unless
    ``cancel_on_timeout=False``) and :class:`~orch_snowflake.errors.SnowflakeTimeoutError`
    is raised. A failed query raises :class:`~orch_snowflake.errors.SnowflakeQueryError`.

    Example:
        rows = snowflake_wait_for_query(sf, qid, timeout_seconds=600, poll_interval=5)
    """
    from snowflake.connector.errors import Error

    conn = connector.get_connection()
    label = f"query {query_id}"
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    delay = min(0.05, poll_interval)
    while True:
        try:
            status = conn.get_query_status_throw_if_error(query_id)
        except Error as exc:
            raise connector.query_error("snowflake_wait_for_query", label, exc) from exc
        if not conn.is_still_running(status):
            break
        if deadline is not None and time.monotonic() >= deadline:
            if cancel_on_timeout:
                _cancel(connector, query_id)
            raise SnowflakeTimeoutError(
                f"snowflake_wait_for_query on {connector.display_name()}: {label} did not "
                f"finish within {timeout_seconds} s"
                + (" and was cancelled" if cancel_on_timeout else "")
            )
        # Start fast (short queries) and back off to poll_interval.
        time.sleep(delay if deadline is None else max(0.0, min(delay, deadline - time.monotonic())))
        delay = min(delay * 2, poll_interval)
    with conn.cursor() as cur:
        try:
            cur.get_results_from_sfqid(query_id)
            return [tuple(r) for r in cur.fetchall()]
        except Error as exc:
            raise connector.query_error("snowflake_wait_for_query", label, exc) from exc


def _cancel(connector: SnowflakeConnector, query_id: str) -> None:
    try:
        connector.execute(
            "SELECT SYSTEM$CANCEL_QUERY(%s)", [query_id], task="snowflake_wait_for_query"
        ).close()
    except SnowflakeQueryError as exc:
        logger.warning("could not cancel Snowflake query %s: %s", query_id, exc)


# --- loads ------------------------------------------------------------------------------------
_ARROW_TYPES = [
    ("is_boolean", "BOOLEAN"),
    ("is_integer", "NUMBER(38,0)"),
    ("is_floating", "FLOAT"),
    ("is_string", "VARCHAR"),
    ("is_large_string", "VARCHAR"),
    ("is_binary", "BINARY"),
    ("is_large_binary", "BINARY"),
    ("is_date", "DATE"),
    ("is_time", "TIME"),
]


def _snowflake_type(arrow_type: Any) -> str:
    import pyarrow.types as pat

    if pat.is_timestamp(arrow_type):
        return "TIMESTAMP_TZ" if arrow_type.tz else "TIMESTAMP_NTZ"
    if pat.is_decimal(arrow_type):
        return f"NUMBER({arrow_type.precision},{arrow_type.scale})"
    if pat.is_dictionary(arrow_type):
        return _snowflake_type(arrow_type.value_type)
    for check, name in _ARROW_TYPES:
        if getattr(pat, check)(arrow_type):
            return name
    return "VARIANT"


def _put_statement(local: str, stage_path: str) -> str:
    # The connector parses PUT itself: the file URL goes in single quotes.
    url = "file://" + local.replace("\\", "/").replace("'", "\\'")
    return f"PUT '{url}' {stage_path} PARALLEL = 4 AUTO_COMPRESS = FALSE OVERWRITE = TRUE"


@contextlib.contextmanager
def _temporary_stage(session: DedicatedSession, task_name: str) -> Iterator[str]:
    name = quote_name(f"ORCH_STAGE_{uuid.uuid4().hex[:16].upper()}")
    session.execute(f"CREATE TEMPORARY STAGE {name}", task=task_name).close()
    try:
        yield "@" + name
    finally:
        with contextlib.suppress(SnowflakeError):
            session.execute(f"DROP STAGE IF EXISTS {name}", task=task_name).close()


def _copy_rows(cur: SnowflakeCursor) -> int:
    """Rows loaded, from COPY INTO's result (one row per file)."""
    names = [n.lower() for n in _columns(cur)]
    index = names.index("rows_loaded") if "rows_loaded" in names else 3
    return sum(int(row[index] or 0) for row in cur.fetchall() if len(row) > index)


@task
def snowflake_load_dataframe(
    connector: SnowflakeConnector,
    df: pd.DataFrame | pa.Table,
    table: str | Sequence[str],
    mode: Literal["append", "replace", "create"] = "append",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> int:
    """Bulk-load a pandas DataFrame or a pyarrow Table; return the rows loaded.

    The frame is written to Parquet files of ``chunk_rows`` rows, ``PUT`` to a temporary
    stage, and copied in by one ``COPY INTO`` (columns matched by name), so the load is
    all-or-nothing: a failure leaves the target table as it was.

    - ``append``: into an existing table;
    - ``create``: create the table from the frame's columns (error if it exists);
    - ``replace``: load a new table from the frame's columns, then put it in place of the
      old one (created if missing) in one statement.

    Names are quoted by :func:`quote_name` (plain names upper-cased, as Snowflake does).

    Example:
        import pandas as pd
        from orch_snowflake import SnowflakeConnector, snowflake_load_dataframe

        sf = SnowflakeConnector.load("analytics")
        df = pd.DataFrame({"id": [1, 2], "name": ["a", "b"]})
        snowflake_load_dataframe(sf, df, "staging.customers", mode="replace")
    """
    _require("pyarrow", "arrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    if mode not in ("append", "replace", "create"):
        raise ValueError(
            f"snowflake_load_dataframe: mode must be 'append', 'replace' or 'create', got {mode!r}"
        )
    if chunk_rows < 1:
        raise ValueError(f"snowflake_load_dataframe: chunk_rows must be >= 1, got {chunk_rows}")
    task_name = "snowflake_load_dataframe"
    target = table_name(table)
    is_arrow = isinstance(df, pa.Table)
    total = df.num_rows if is_arrow else len(df)

    def chunk(start: int) -> pa.Table:
        if is_arrow:
            return df.slice(start, chunk_rows)
        try:
            return pa.Table.from_pandas(df.iloc[start : start + chunk_rows], preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SnowflakeLoadError(
                f"{task_name} on {connector.display_name()}: the frame for {target} can't be "
                f"written as Parquet (nothing was loaded): {exc}"
            ) from exc

    first = chunk(0)
    columns = [f"{quote_name(field.name)} {_snowflake_type(field.type)}" for field in first.schema]
    ddl_columns = ", ".join(columns)
    started = time.perf_counter()
    # A session of our own: the temporary stage and tables live in it, and the copy
    # commits alone (no other thread's statement can join the transaction).
    with (
        tempfile.TemporaryDirectory(prefix="orch-snowflake-") as tmp,
        connector.dedicated_session() as session,
        _temporary_stage(session, task_name) as stage,
    ):
        # Files are written and uploaded chunk by chunk: memory holds one chunk.
        part, start = 0, 0
        while start < total:
            data = first if start == 0 else chunk(start)
            path = os.path.join(tmp, f"part-{part:05d}.parquet")
            # Microsecond timestamps: what Snowflake's Parquet reader maps without loss.
            pq.write_table(data, path, coerce_timestamps="us", allow_truncated_timestamps=True)
            session.execute(_put_statement(path, f"{stage}/load"), task=task_name).close()
            os.remove(path)
            part, start = part + 1, start + chunk_rows
            logger.info("%s: staged %d/%d rows for %s", task_name, min(start, total), total, target)
        copy = (
            f"COPY INTO {{table}} FROM {stage}/load/ "
            "FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) "
            "MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE ON_ERROR = ABORT_STATEMENT PURGE = TRUE"
        )
        loaded = _load(session, task_name, target, mode, ddl_columns, copy, bool(total))
    logger.info(
        "%s: loaded %d rows into %s in %.1f s",
        task_name,
        loaded,
        target,
        time.perf_counter() - started,
    )
    if loaded != total:
        raise SnowflakeLoadError(
            f"{task_name} on {connector.display_name()}: {total} rows sent to {target} but "
            f"COPY INTO reported {loaded}"
        )
    return loaded


def _load(
    session: DedicatedSession,
    task_name: str,
    target: str,
    mode: str,
    ddl_columns: str,
    copy: str,
    has_rows: bool,
) -> int:
    def run(statement: str) -> SnowflakeCursor:
        try:
            return session.execute(statement, task=task_name)
        except SnowflakeQueryError as exc:
            raise SnowflakeLoadError(str(exc)) from exc.__cause__

    def copy_into(table: str) -> int:
        if not has_rows:
            return 0
        # COPY INTO is one statement (atomic on Snowflake); the explicit transaction
        # keeps it all-or-nothing on engines that copy file by file.
        with session.transaction(task_name), run(copy.format(table=table)) as cur:
            return _copy_rows(cur)

    if mode == "append":
        return copy_into(target)
    if mode == "create":
        run(f"CREATE TABLE {target} ({ddl_columns})").close()
        try:
            return copy_into(target)
        except BaseException:
            # The table is ours: created by this call, so a failed load removes it.
            with contextlib.suppress(SnowflakeError):
                session.execute(f"DROP TABLE IF EXISTS {target}", task=task_name).close()
            raise
    # replace: load a staging table beside the target, then put it in place with one
    # statement. (Not a TEMPORARY table: some engines can't COPY into one in a transaction.)
    staging = quote_name(f"ORCH_LOAD_{uuid.uuid4().hex[:16].upper()}")
    if "." in target:
        staging = target.rsplit(".", 1)[0] + "." + staging
    run(f"CREATE TRANSIENT TABLE {staging} ({ddl_columns})").close()
    try:
        loaded = copy_into(staging)
        run(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM {staging}").close()
        return loaded
    finally:
        with contextlib.suppress(SnowflakeError):
            session.execute(f"DROP TABLE IF EXISTS {staging}", task=task_name).close()


@task
def snowflake_put_and_copy(
    connector: SnowflakeConnector,
    path_or_glob: str | os.PathLike[str],
    table: str | Sequence[str],
    file_format: str | Mapping[str, Any] = "CSV",
    stage: str | None = None,
    purge: bool = True,
) -> list[dict[str, Any]]:
    """Upload local files (a path or a glob) to a stage and ``COPY INTO`` a table.

    ``file_format`` is a type (``"CSV"``, ``"PARQUET"``, ``"JSON"``...), a mapping of
    format options (``{"type": "csv", "skip_header": 1, "field_delimiter": ";"}``) or the
    name of a file format object. Files go to a temporary stage unless ``stage`` names
    one (``"my_stage"`` or ``"my_stage/some/path"``). The copy is one statement that aborts
    on the first error, so either every file is loaded or none. Parquet/ORC/Avro columns
    are matched by name. Returns COPY INTO's report, one dict per file.

    Example:
        from orch_snowflake import SnowflakeConnector, snowflake_put_and_copy

        sf = SnowflakeConnector.load("analytics")
        snowflake_put_and_copy(
            sf, "exports/orders-*.csv", "raw.orders",
            file_format={"type": "csv", "skip_header": 1},
        )
    """
    task_name = "snowflake_put_and_copy"
    pattern = os.fspath(path_or_glob)
    files = sorted(glob.glob(os.path.expanduser(pattern)))
    if not files:
        raise SnowflakeLoadError(
            f"{task_name} on {connector.display_name()}: no file matches {pattern!r}"
        )
    target = table_name(table)
    fmt = _file_format(file_format)
    by_name = any(k in fmt for k in ("PARQUET", "ORC", "AVRO"))
    prefix = f"orch-{uuid.uuid4().hex[:12]}"
    with contextlib.ExitStack() as stack:
        session = stack.enter_context(connector.dedicated_session())
        if stage is None:
            base = stack.enter_context(_temporary_stage(session, task_name))
        else:
            head, _, rest = stage.lstrip("@").partition("/")
            base = "@" + table_name(head) + (f"/{rest.strip('/')}" if rest else "")
        location = f"{base}/{prefix}"
        for local in files:
            absolute = str(Path(local).resolve())
            session.execute(_put_statement(absolute, location), task=task_name).close()
        statement = (
            f"COPY INTO {target} FROM {location}/ FILE_FORMAT = {fmt} "
            + ("MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE " if by_name else "")
            + f"ON_ERROR = ABORT_STATEMENT PURGE = {'TRUE' if purge else 'FALSE'}"
        )
        try:
            # One statement, and a transaction for engines that copy file by file.
            with session.transaction(task_name), session.execute(statement, task=task_name) as cur:
                names = [n.lower() for n in _columns(cur)]
                report = [dict(zip(names, row, strict=False)) for row in cur.fetchall()]
        except SnowflakeQueryError as exc:
            raise SnowflakeLoadError(str(exc)) from exc.__cause__
    logger.info("%s: copied %d file(s) into %s", task_name, len(report), target)
    return report


__all__ = [
    "quote_name",
    "sdk_message",
    "snowflake_execute_async",
    "snowflake_fetch_many",
    "snowflake_load_dataframe",
    "snowflake_multiquery",
    "snowflake_put_and_copy",
    "snowflake_query",
    "snowflake_query_arrow",
    "snowflake_query_pandas",
    "snowflake_wait_for_query",
    "table_name",
]
