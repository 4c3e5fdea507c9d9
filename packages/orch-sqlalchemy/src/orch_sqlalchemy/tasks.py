"""Ready-made SQL tasks. Each takes the connector first, then plain values, and returns
plain Python data; ``task.fn`` is the bare function, usable without the orch runtime.

Values always travel as bound parameters (``:name`` placeholders). Table and column names
are quoted by SQLAlchemy's dialect, never formatted into SQL as given. A failed statement
raises :class:`~orch_sqlalchemy.errors.SqlStatementError` naming the task, the connector
and the statement's first line; loads and upserts run in one transaction, so a failure
leaves none of their rows behind.
"""

from __future__ import annotations

import contextlib
import importlib
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from orch import task
from orch.integration import Progress

from orch_sqlalchemy._rows import check_columns, reflect_table, rows_and_columns
from orch_sqlalchemy.connector import SqlAlchemyConnector, bound_parameters
from orch_sqlalchemy.errors import (
    SqlDriverMissingError,
    SqlError,
    SqlLoadError,
    statement_errors,
)

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection
    from sqlalchemy.sql import Executable

Row = tuple[Any, ...]
Parameters = Mapping[str, Any]

DEFAULT_CHUNK_SIZE = 10_000
# Long transfers report at most this often (seconds), and only they get a summary line:
# the log of a flow of many small loads stays short.
PROGRESS_INTERVAL = 10.0


def _progress(description: str) -> Progress:
    return Progress(
        description,
        unit="rows",
        interval=PROGRESS_INTERVAL,
        min_seconds=PROGRESS_INTERVAL,
        logger="orch_sqlalchemy",
    )


# --- helpers ------------------------------------------------------------------------------
def _executable(statement: str | Executable) -> Executable:
    from sqlalchemy import text

    return text(statement) if isinstance(statement, str) else statement


def _tuples(rows: Iterable[Any]) -> list[Row]:
    return [tuple(r) for r in rows]


def _dicts(rows: Iterable[Any]) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in rows]


# --- statements -----------------------------------------------------------------------------
@task
def sql_execute(
    connector: SqlAlchemyConnector,
    statement: str | Executable,
    parameters: Parameters | None = None,
) -> int:
    """Run one statement in a transaction; returns the number of rows it affected.

    Example:
        from orch_sqlalchemy import SqlAlchemyConnector, sql_execute

        db = SqlAlchemyConnector.load("analytics")
        n = sql_execute(db, "DELETE FROM events WHERE day < :day", {"day": "2024-01-01"})
    """
    values = bound_parameters("sql_execute", parameters)
    with statement_errors("sql_execute", connector, statement), connector.begin() as conn:
        result = conn.execute(_executable(statement), values)
        return int(result.rowcount)


@task
def sql_execute_many(
    connector: SqlAlchemyConnector,
    statement: str | Executable,
    seq_of_parameters: Iterable[Parameters],
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> int:
    """Run one statement once per parameter set (driver-batched), all in one transaction.

    Returns the total number of rows affected, where the driver reports it (else -1).
    Each parameter set is a mapping of the statement's ``:name`` placeholders; a long run
    reports its progress (``PROGRESS_INTERVAL``, 10 s; to the run log inside a run).

    Example:
        from orch_sqlalchemy import SqlAlchemyConnector, sql_execute_many

        db = SqlAlchemyConnector.load("analytics")
        sql_execute_many(
            db,
            "UPDATE users SET plan = :plan WHERE id = :id",
            [{"id": 1, "plan": "pro"}, {"id": 2, "plan": "free"}],
        )
    """
    name = "sql_execute_many"
    if chunk_size < 1:
        raise ValueError(f"{name}: chunk_size must be at least 1, got {chunk_size}")
    executable = _executable(statement)
    total, known, sent = 0, True, 0
    # Progress outermost: its summary line comes after the commit.
    with (
        _progress(f"{name} parameter sets") as progress,
        statement_errors(name, connector, statement),
        connector.begin() as conn,
    ):
        it = iter(seq_of_parameters)
        while chunk := [bound_parameters(name, p) for p in islice(it, chunk_size)]:
            count = conn.execute(executable, chunk).rowcount
            if count is None or count < 0:
                known = False
            else:
                total += count
            sent += len(chunk)
            progress.update(sent)
    return total if known else -1


@task
def sql_script(connector: SqlAlchemyConnector, sql_text: str) -> int:
    """Run several ``;``-separated statements in one transaction; returns how many ran.

    Statements are split by ``sqlparse`` (quotes, comments and dollar quotes respected)
    and sent without parameters, so ``%`` and ``:`` need no escaping. MySQL/MariaDB commit
    DDL statements (CREATE, ALTER, DROP) implicitly: there, only the DML is atomic.

    Example:
        from orch_sqlalchemy import SqlAlchemyConnector, sql_script

        sql_script(SqlAlchemyConnector.load("analytics"), '''
            CREATE TABLE IF NOT EXISTS daily (day DATE PRIMARY KEY, total INTEGER);
            DELETE FROM daily WHERE day < CURRENT_DATE - 30;
        ''')
    """
    import sqlparse

    statements = [
        s
        for s in (part.strip() for part in sqlparse.split(sql_text))
        if sqlparse.format(s, strip_comments=True).strip().strip(";").strip()
    ]
    with connector.begin() as conn:
        raw = conn.execution_options(no_parameters=True)
        for statement in statements:
            with statement_errors("sql_script", connector, statement):
                raw.exec_driver_sql(statement)
    return len(statements)


# --- fetching -------------------------------------------------------------------------------
@task
def sql_fetch_one(
    connector: SqlAlchemyConnector,
    statement: str | Executable,
    parameters: Parameters | None = None,
    as_dict: bool = False,
) -> Row | dict[str, Any] | None:
    """The first row of a query (a tuple, or a dict with ``as_dict``), or ``None``.

    Example:
        from orch_sqlalchemy import SqlAlchemyConnector, sql_fetch_one

        db = SqlAlchemyConnector.load("analytics")
        (count,) = sql_fetch_one(db, "SELECT count(*) FROM orders WHERE day = :d", {"d": day})
    """
    values = bound_parameters("sql_fetch_one", parameters)
    with statement_errors("sql_fetch_one", connector, statement), connector.begin() as conn:
        row = conn.execute(_executable(statement), values).first()
    if row is None:
        return None
    return dict(row._mapping) if as_dict else tuple(row)


@task
def sql_fetch_all(
    connector: SqlAlchemyConnector,
    statement: str | Executable,
    parameters: Parameters | None = None,
    as_dict: bool = False,
) -> list[Row] | list[dict[str, Any]]:
    """Every row of a query, as tuples (or dicts with ``as_dict``). For large results use
    ``sql_fetch_many``, which streams.

    Example:
        from orch_sqlalchemy import SqlAlchemyConnector, sql_fetch_all

        db = SqlAlchemyConnector.load("analytics")
        rows = sql_fetch_all(db, "SELECT id, name FROM users WHERE plan = :p", {"p": "pro"})
    """
    values = bound_parameters("sql_fetch_all", parameters)
    with statement_errors("sql_fetch_all", connector, statement), connector.begin() as conn:
        result = conn.execute(_executable(statement), values)
        return _dicts(result) if as_dict else _tuples(result)


@task
def sql_fetch_many(
    connector: SqlAlchemyConnector,
    statement: str | Executable,
    parameters: Parameters | None = None,
    size: int | None = None,
    as_dict: bool = False,
) -> Iterator[list[Row]] | Iterator[list[dict[str, Any]]]:
    """Stream a query's rows in batches of ``size`` (default: the connector's
    ``fetch_size``), holding about one batch in memory.

    PostgreSQL (psycopg) and MySQL/MariaDB (PyMySQL) use a server-side cursor; SQLite
    reads its file as the batches are consumed. The statement runs when the task is
    called, so its errors are the task's (retried, recorded in the run history); the
    connection is then held until the iterator is exhausted or closed, so consume it, or
    close it with ``it.close()``.

    Example:
        from orch_sqlalchemy import SqlAlchemyConnector, sql_fetch_many

        db = SqlAlchemyConnector.load("analytics")
        for batch in sql_fetch_many(db, "SELECT * FROM events", size=10_000):
            handle(batch)   # a list of up to 10,000 tuples
    """
    batch = size if size is not None else connector.fetch_size
    if batch < 1:
        raise ValueError(f"sql_fetch_many: size must be at least 1, got {batch}")
    values = bound_parameters("sql_fetch_many", parameters)
    stream = _stream(connector, statement, values, batch, as_dict)
    # Run the statement now, inside the task: a missing table or a refused connection is
    # this task's error, not one raised later wherever the batches are consumed.
    next(stream)
    return stream


def _stream(
    connector: SqlAlchemyConnector,
    statement: str | Executable,
    parameters: dict[str, Any],
    size: int,
    as_dict: bool,
) -> Iterator[Any]:
    """Yields ``None`` once the statement has run (``sql_fetch_many`` consumes it), then
    the batches."""
    convert: Callable[[Iterable[Any]], list[Any]] = _dicts if as_dict else _tuples
    with statement_errors("sql_fetch_many", connector, statement), connector.connect() as conn:
        if isinstance(statement, str) and conn.dialect.driver == "psycopg":
            yield from _stream_psycopg(conn, statement, parameters, size, as_dict)
            return
        streaming = conn.execution_options(stream_results=True, max_row_buffer=size)
        with streaming.begin():
            result = streaming.execute(_executable(statement), parameters)
            try:
                yield None
                for part in result.partitions(size):
                    yield convert(part)
            finally:
                # Stopped early: close the cursor before the connection goes back to the
                # pool (MySQL must drain an unbuffered result before the next statement).
                result.close()


def _stream_psycopg(
    conn: Connection, statement: str, parameters: dict[str, Any], size: int, as_dict: bool
) -> Iterator[Any]:
    """Stream from a psycopg server-side cursor directly: SQLAlchemy's result layer would
    halve the throughput, and SQL text has no column types for it to apply anyway.

    The text is still compiled by SQLAlchemy, so ``:name`` parameters are bound values.
    """
    from sqlalchemy import text

    compiled = text(statement).compile(dialect=conn.dialect)
    params = compiled.construct_params(parameters)
    driver_conn: Any = conn.connection.driver_connection
    with conn.begin(), driver_conn.cursor(name=f"orch_fetch_{uuid.uuid4().hex}") as cursor:
        cursor.itersize = size
        cursor.execute(str(compiled), params)
        yield None
        names: list[str] | None = None
        while batch := cursor.fetchmany(size):
            if as_dict:
                names = names or [d.name for d in cursor.description]
                yield [dict(zip(names, row, strict=True)) for row in batch]
            else:
                yield batch


@task
def sql_query_to_dataframe(
    connector: SqlAlchemyConnector,
    statement: str | Executable,
    parameters: Parameters | None = None,
) -> Any:
    """A query's result as a pandas ``DataFrame`` (needs the ``pandas`` extra).

    Example:
        from orch_sqlalchemy import SqlAlchemyConnector, sql_query_to_dataframe

        db = SqlAlchemyConnector.load("analytics")
        df = sql_query_to_dataframe(db, "SELECT day, total FROM daily WHERE total > :t", {"t": 0})
    """
    try:
        pd = importlib.import_module("pandas")
    except ImportError:
        raise SqlDriverMissingError(
            "sql_query_to_dataframe needs pandas: pip install 'orch-sqlalchemy[pandas]'"
        ) from None
    values = bound_parameters("sql_query_to_dataframe", parameters)
    name = "sql_query_to_dataframe"
    with statement_errors(name, connector, statement), connector.begin() as conn:
        return pd.read_sql_query(_executable(statement), conn, params=values)


# --- loading --------------------------------------------------------------------------------
@task
def sql_load_rows(
    connector: SqlAlchemyConnector,
    table: str,
    rows: Iterable[Sequence[Any]] | Iterable[Mapping[str, Any]] | Any,
    columns: Sequence[str] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    schema: str | None = None,
) -> int:
    """Bulk-load rows into an existing table, all or nothing; returns the rows loaded.

    ``rows`` is any iterable of tuples (in ``columns`` order, default: the table's
    columns), of mappings (keyed by column), or a pandas DataFrame; it is streamed, not
    held in memory. PostgreSQL (psycopg) loads with ``COPY … FROM STDIN``; other
    databases with batched inserts of ``chunk_size`` rows (the driver's executemany).
    Everything runs in one transaction: if any row fails, no row is kept. A long load
    logs its progress every 10 s (to the run log inside a run).

    Example:
        from datetime import datetime
        from orch_sqlalchemy import SqlAlchemyConnector, sql_load_rows

        db = SqlAlchemyConnector.load("analytics")
        sql_load_rows(db, "events", [(1, "signup", datetime.now())], columns=["id", "kind", "at"])
        sql_load_rows(db, "events", [{"id": 2, "kind": "login", "at": datetime.now()}])
    """
    name = "sql_load_rows"
    if chunk_size < 1:
        raise ValueError(f"{name}: chunk_size must be at least 1, got {chunk_size}")
    data, cols = rows_and_columns(rows, columns, name)
    # The progress context is entered once the table is checked (a wrong column is not a
    # transfer that stopped) and left after the commit: the summary says the rows are in.
    with contextlib.ExitStack() as after_commit, connector.begin() as conn:
        tbl = reflect_table(conn, table, schema, name, connector)
        cols = cols if cols is not None else [c.name for c in tbl.columns]
        check_columns(tbl, cols, name)
        progress = after_commit.enter_context(_progress(f"{name} into {tbl.name}"))
        if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
            copy_sql = _copy_statement(conn, tbl, cols)
            with statement_errors(name, connector, copy_sql, SqlLoadError):
                # A list's length is its row count (a list of mappings yields one row
                # per item, or raises): the COPY loop then needs no counting at all.
                total = len(rows) if isinstance(rows, list | tuple) else None
                count = _copy(conn, copy_sql, data, chunk_size, progress, total)
        else:
            with statement_errors(name, connector, f"INSERT INTO {tbl.name}", SqlLoadError):
                count = _insert_chunks(conn, tbl.insert(), cols, data, chunk_size, progress)
        progress.update(count)
    return count


def _copy_statement(conn: Connection, tbl: Table, cols: Sequence[str]) -> str:
    quote = conn.dialect.identifier_preparer
    return f"COPY {quote.format_table(tbl)} ({', '.join(quote.quote(c) for c in cols)}) FROM STDIN"


def _copy(
    conn: Connection,
    statement: str,
    data: Iterator[Row],
    chunk_size: int,
    progress: Progress,
    total: int | None = None,
) -> int:
    """COPY every row of ``data``; ``total``: how many there are, if known (a list).

    One COPY for everything; ``chunk_size`` only spaces the progress counts. The per-row
    loop is the raw driver's own (``write_row`` for each row): nothing is counted per
    row. Rows of a list are not even copied into chunks (``total`` is its length);
    other iterables are read a chunk at a time, counted by ``len``. The last rows are
    counted once the COPY has ended well, so a failed load says how far it surely got.
    """
    driver_conn: Any = conn.connection.driver_connection
    with driver_conn.cursor() as cursor, cursor.copy(statement) as copy:
        write = copy.write_row
        if total is not None:
            for done in range(chunk_size, total + chunk_size, chunk_size):
                for row in islice(data, chunk_size):
                    write(row)
                if done < total:
                    progress.update(done)
            return total
        count = 0
        while chunk := list(islice(data, chunk_size)):
            for row in chunk:
                write(row)
            count += len(chunk)
            if len(chunk) < chunk_size:
                break
            progress.update(count)
    return count


def _insert_chunks(
    conn: Connection,
    statement: Any,
    cols: Sequence[str],
    data: Iterator[Row],
    chunk_size: int,
    progress: Progress,
) -> int:
    count = 0
    while chunk := [dict(zip(cols, row, strict=True)) for row in islice(data, chunk_size)]:
        conn.execute(statement, chunk)
        count += len(chunk)
        progress.update(count)
    return count


@task
def sql_upsert(
    connector: SqlAlchemyConnector,
    table: str,
    rows: Iterable[Sequence[Any]] | Iterable[Mapping[str, Any]] | Any,
    key_columns: Sequence[str],
    columns: Sequence[str] | None = None,
    update_columns: Sequence[str] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    schema: str | None = None,
) -> int:
    """Insert rows, updating those whose key already exists; all or nothing.

    PostgreSQL and SQLite use ``INSERT … ON CONFLICT (key) DO UPDATE``, MySQL/MariaDB
    ``ON DUPLICATE KEY UPDATE``; ``key_columns`` must be the table's primary key or a
    unique key. ``update_columns`` (default: every non-key column given) are the ones
    overwritten; ``[]`` only inserts new keys. Within one call, a later row with the same
    key wins. Returns the number of rows given. A long upsert logs its progress every
    10 s (to the run log inside a run).

    Example:
        from orch_sqlalchemy import SqlAlchemyConnector, sql_upsert

        db = SqlAlchemyConnector.load("analytics")
        sql_upsert(db, "users", [{"id": 1, "plan": "pro"}], key_columns=["id"])
    """
    name = "sql_upsert"
    if not key_columns:
        raise ValueError(f"{name}: give key_columns (the primary or a unique key)")
    if chunk_size < 1:
        raise ValueError(f"{name}: chunk_size must be at least 1, got {chunk_size}")
    data, cols = rows_and_columns(rows, columns, name)
    # As in sql_load_rows: progress starts once the table is checked, ends after the commit.
    with contextlib.ExitStack() as after_commit, connector.begin() as conn:
        tbl = reflect_table(conn, table, schema, name, connector)
        cols = cols if cols is not None else [c.name for c in tbl.columns]
        check_columns(tbl, [*cols, *key_columns, *(update_columns or [])], name)
        missing = [k for k in key_columns if k not in cols]
        if missing:
            raise SqlLoadError(f"{name}: the rows carry no value for key column(s) {missing}")
        updates = (
            list(update_columns)
            if update_columns is not None
            else [c for c in cols if c not in key_columns]
        )
        statement = _upsert_statement(conn, tbl, key_columns, updates, name)
        key_of = itemgetter(*[cols.index(k) for k in key_columns])
        count = 0
        progress = after_commit.enter_context(_progress(f"{name} into {tbl.name}"))
        with statement_errors(name, connector, f"INSERT INTO {tbl.name} … (upsert)", SqlLoadError):
            while chunk := list(islice(data, chunk_size)):
                # One multi-row statement may not touch a key twice (PostgreSQL refuses):
                # keep the last row per key.
                latest = {key_of(row): row for row in chunk}
                conn.execute(statement, [dict(zip(cols, r, strict=True)) for r in latest.values()])
                count += len(chunk)
                progress.update(count)
    return count


def _upsert_statement(
    conn: Connection, tbl: Table, keys: Sequence[str], updates: Sequence[str], task_name: str
) -> Any:
    dialect = conn.dialect.name
    if dialect in ("postgresql", "sqlite"):
        module = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
        stmt = module.insert(tbl)
        if not updates:
            return stmt.on_conflict_do_nothing(index_elements=list(keys))
        return stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in updates}
        )
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert

        stmt = insert(tbl)
        # With nothing to update, "update" a key to itself: the row is left as it was.
        values = {c: stmt.inserted[c] for c in updates} or {keys[0]: tbl.c[keys[0]]}
        return stmt.on_duplicate_key_update(values)
    raise SqlError(f"{task_name} supports PostgreSQL, SQLite and MySQL/MariaDB, not {dialect!r}")
