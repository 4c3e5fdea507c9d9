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
from orch.redaction import redact

from orch_sqlalchemy._progress import RowProgress
from orch_sqlalchemy._rows import check_columns, reflect_table, rows_and_columns
from orch_sqlalchemy.connector import SqlAlchemyConnector, _driver_message
from orch_sqlalchemy.errors import SqlError, SqlLoadError, SqlStatementError

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection
    from sqlalchemy.sql import Executable

Row = tuple[Any, ...]
Parameters = Mapping[str, Any]

DEFAULT_CHUNK_SIZE = 10_000


# --- helpers ------------------------------------------------------------------------------
def _first_line(statement: Any) -> str:
    text = str(statement)
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("--"):
            return line if len(line) <= 120 else line[:117] + "..."
    return "(empty statement)"


def _statement_error(
    task_name: str,
    connector: SqlAlchemyConnector,
    statement: Any,
    exc: BaseException,
    error: type[SqlStatementError] = SqlStatementError,
) -> SqlStatementError:
    return error(
        redact(
            f"{task_name} failed on {connector.display_name()}: {_first_line(statement)!r}: "
            f"{_driver_message(exc)}"
        )
    )


@contextlib.contextmanager
def _wrapped(
    task_name: str,
    connector: SqlAlchemyConnector,
    statement: Any,
    error: type[SqlStatementError] = SqlStatementError,
) -> Iterator[None]:
    """Turn a driver or SQLAlchemy error into one naming the task and the statement.

    Our own errors (connection, validation) pass through unchanged.
    """
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SqlError:
        raise
    except SQLAlchemyError as exc:
        raise _statement_error(task_name, connector, statement, exc, error) from exc
    except Exception as exc:
        # Raw driver errors (psycopg's COPY) are not wrapped by SQLAlchemy.
        if _is_driver_error(exc):
            raise _statement_error(task_name, connector, statement, exc, error) from exc
        raise


def _is_driver_error(exc: BaseException) -> bool:
    module = type(exc).__module__.split(".")[0]
    return module in {"psycopg", "pymysql", "sqlite3", "psycopg2", "MySQLdb"}


def _executable(statement: str | Executable) -> Executable:
    from sqlalchemy import text

    return text(statement) if isinstance(statement, str) else statement


def _params(task_name: str, parameters: Parameters | None) -> dict[str, Any]:
    """The bound values of a statement as a dict; anything else is a clear error (a list
    would otherwise fail deep in the driver with a message about sequences)."""
    if parameters is None:
        return {}
    if isinstance(parameters, Mapping):
        return dict(parameters)
    hint = (
        "; to run the statement once per parameter set, use sql_execute_many"
        if isinstance(parameters, list | tuple) and task_name != "sql_execute_many"
        else ""
    )
    raise TypeError(
        f"{task_name}: parameters must be a mapping of the statement's :name placeholders "
        f"to values, like {{'id': 1}}, got a {type(parameters).__name__}{hint}"
    )


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
    values = _params("sql_execute", parameters)
    with _wrapped("sql_execute", connector, statement), connector.begin() as conn:
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
    logs its progress every 10 s (to the run log inside a run).

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
    progress = RowProgress(name, "of parameters sent")
    with _wrapped(name, connector, statement), connector.begin() as conn:
        it = iter(seq_of_parameters)
        while chunk := [_params(name, p) for p in islice(it, chunk_size)]:
            count = conn.execute(executable, chunk).rowcount
            if count is None or count < 0:
                known = False
            else:
                total += count
            sent += len(chunk)
            progress.update(sent)
    progress.done(sent)
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
            with _wrapped("sql_script", connector, statement):
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
    values = _params("sql_fetch_one", parameters)
    with _wrapped("sql_fetch_one", connector, statement), connector.begin() as conn:
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
    values = _params("sql_fetch_all", parameters)
    with _wrapped("sql_fetch_all", connector, statement), connector.begin() as conn:
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
    values = _params("sql_fetch_many", parameters)
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
    with _wrapped("sql_fetch_many", connector, statement), connector.connect() as conn:
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
        raise SqlError(
            "sql_query_to_dataframe needs pandas: pip install 'orch-sqlalchemy[pandas]'"
        ) from None
    values = _params("sql_query_to_dataframe", parameters)
    with _wrapped("sql_query_to_dataframe", connector, statement), connector.begin() as conn:
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
    with connector.begin() as conn:
        tbl = reflect_table(conn, table, schema, name, connector)
        cols = cols if cols is not None else [c.name for c in tbl.columns]
        check_columns(tbl, cols, name)
        progress = RowProgress(name, f"into {tbl.name}")
        if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
            copy_sql = _copy_statement(conn, tbl, cols)
            with _wrapped(name, connector, copy_sql, SqlLoadError):
                count = _copy(conn, copy_sql, data, chunk_size, progress)
        else:
            with _wrapped(name, connector, f"INSERT INTO {tbl.name}", SqlLoadError):
                count = _insert_chunks(conn, tbl.insert(), cols, data, chunk_size, progress)
    # After the commit: a closing line says the rows are in.
    progress.done(count)
    return count


def _copy_statement(conn: Connection, tbl: Table, cols: Sequence[str]) -> str:
    quote = conn.dialect.identifier_preparer
    return f"COPY {quote.format_table(tbl)} ({', '.join(quote.quote(c) for c in cols)}) FROM STDIN"


def _copy(
    conn: Connection, statement: str, data: Iterator[Row], chunk_size: int, progress: RowProgress
) -> int:
    count = 0
    driver_conn: Any = conn.connection.driver_connection
    with driver_conn.cursor() as cursor, cursor.copy(statement) as copy:
        write = copy.write_row
        # One COPY for everything; ``chunk_size`` only spaces the progress checks, so the
        # per-row loop stays as tight as the raw driver's.
        while True:
            n = 0
            for n, row in enumerate(islice(data, chunk_size), 1):  # noqa: B007 - n: the count
                write(row)
            count += n
            if n < chunk_size:
                return count
            progress.update(count)


def _insert_chunks(
    conn: Connection,
    statement: Any,
    cols: Sequence[str],
    data: Iterator[Row],
    chunk_size: int,
    progress: RowProgress,
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
    with connector.begin() as conn:
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
        progress = RowProgress(name, f"upserted into {tbl.name}")
        with _wrapped(name, connector, f"INSERT INTO {tbl.name} … (upsert)", SqlLoadError):
            while chunk := list(islice(data, chunk_size)):
                # One multi-row statement may not touch a key twice (PostgreSQL refuses):
                # keep the last row per key.
                latest = {key_of(row): row for row in chunk}
                conn.execute(statement, [dict(zip(cols, r, strict=True)) for r in latest.values()])
                count += len(chunk)
                progress.update(count)
    progress.done(count)
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
