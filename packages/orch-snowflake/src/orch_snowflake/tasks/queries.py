"""Query tasks: one statement, several, streamed batches, pandas/Arrow results, and
asynchronous queries polled by id.

Values travel as bound parameters (``%s`` / ``%(name)s`` with the default ``pyformat``),
never formatted into the SQL. A failed statement raises
:class:`~orch_snowflake.errors.SnowflakeQueryError` naming the task, the connector and the
statement's first line, with the connector's exception as ``__cause__``.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from orch import task
from orch.integration import Progress, first_line, run_logger_or

from orch_snowflake.connector import Params, SnowflakeConnector, _as_tuples
from orch_snowflake.errors import (
    SnowflakeDependencyError,
    SnowflakeError,
    SnowflakeQueryError,
    SnowflakeTimeoutError,
    label,
    query_error,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from snowflake.connector.cursor import SnowflakeCursor

Row = tuple[Any, ...]

# Below these, a transfer is quick: with ``progress=None`` it reports nothing.
ROWS_THRESHOLD = 100_000
BYTES_THRESHOLD = 8 * 1024 * 1024


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
        return _as_tuples(rows)


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
                    results.append(_as_tuples(cur.fetchall()))
        return results
    for statement in statements:
        with connector.execute(statement, task="snowflake_multiquery") as cur:
            results.append(_as_tuples(cur.fetchall()))
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
    progress: bool | None = None,
) -> Iterator[list[Row]] | Iterator[list[dict[str, Any]]]:
    """Stream a query's rows in batches of ``size`` (default: the connector's ``fetch_size``).

    The statement runs inside the task call (so a bad query, a refused login or a missing
    table fails the task: retried, and recorded in the run history); the task then
    returns an iterator of batches, read from the result chunks Snowflake serves as they
    are consumed, so memory stays about one batch plus the connector's chunk prefetch.
    Consume it, or close it (``it.close()``) to stop early: that closes the cursor.

    Progress (the kit's :class:`~orch.integration.Progress`): the rows read, as a bar on
    a terminal or a line every 10 s through the run logger otherwise, and a summary at
    the end (or, if closed early, how far it got). ``progress=None`` reports only results
    of 100,000 rows or more; ``True`` always, ``False`` never.

    Example:
        from orch_snowflake import SnowflakeConnector, snowflake_fetch_many

        sf = SnowflakeConnector.load("analytics")
        for batch in snowflake_fetch_many(sf, "SELECT * FROM events", size=50_000):
            handle(batch)   # a list of up to 50,000 tuples
    """
    batch = connector.fetch_size if size is None else size
    if batch < 1:
        raise ValueError(f"snowflake_fetch_many: size must be at least 1, got {batch}")
    stream = _batches(connector, query, params, batch, as_dicts, progress)
    # The first round trip (the statement runs) happens now, inside the task: its errors
    # are the task's, not the iterator's, and a stream closed unread still closes its
    # cursor (a generator that never started would skip its `finally`).
    next(stream)
    return stream


def _batches(
    connector: SnowflakeConnector,
    query: str,
    params: Params,
    size: int,
    as_dicts: bool,
    progress: bool | None,
) -> Iterator[Any]:
    """Yields ``None`` once the statement has run (``snowflake_fetch_many`` consumes it),
    then the batches."""
    from snowflake.connector.errors import Error

    cur = connector.execute(query, params, task="snowflake_fetch_many")
    try:
        names = _columns(cur)
        # Snowflake reports the result's row count with the first response: no extra query.
        total = cur.rowcount if cur.rowcount is not None and cur.rowcount >= 0 else None
        meter = Progress(
            f"snowflake_fetch_many on {label(connector)}: {first_line(query)!r}",
            total=total,
            unit="rows",
            enabled=progress if progress is not None else total is None or total >= ROWS_THRESHOLD,
            logger="orch_snowflake",
        )
        yield None
        with meter:
            try:
                while True:
                    try:
                        rows = cur.fetchmany(size)
                    except Error as exc:
                        raise query_error(
                            exc, connector, task="snowflake_fetch_many", statement=query
                        ) from exc
                    if not rows:
                        meter.finish("fetched")
                        return
                    meter.advance(len(rows))
                    if as_dicts:
                        yield [dict(zip(names, row, strict=True)) for row in rows]
                    else:
                        yield _as_tuples(rows)
            except GeneratorExit:
                meter.failed("closed by the reader")
                raise
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
            raise query_error(
                exc, connector, task="snowflake_query_pandas", statement=query
            ) from exc


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
            raise query_error(
                exc, connector, task="snowflake_query_arrow", statement=query
            ) from exc


def _require(module: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise SnowflakeDependencyError(
            f"this task needs {module}: pip install 'orch-snowflake[{extra}]'"
        )


# --- asynchronous queries ---------------------------------------------------------------------
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
            raise query_error(
                exc, connector, task="snowflake_execute_async", statement=query
            ) from exc
        query_id = cur.sfqid
    if not query_id:
        raise SnowflakeQueryError(
            f"snowflake_execute_async on {label(connector)}: Snowflake returned no "
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
    what = f"query {query_id}"
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    delay = min(0.05, poll_interval)
    while True:
        try:
            status = conn.get_query_status_throw_if_error(query_id)
        except Error as exc:
            raise query_error(
                exc, connector, task="snowflake_wait_for_query", statement=what
            ) from exc
        if not conn.is_still_running(status):
            break
        if deadline is not None and time.monotonic() >= deadline:
            if cancel_on_timeout:
                _cancel(connector, query_id)
            raise SnowflakeTimeoutError(
                f"snowflake_wait_for_query on {label(connector)}: {what} did not "
                f"finish within {timeout_seconds} s"
                + (" and was cancelled" if cancel_on_timeout else "")
            )
        # Start fast (short queries) and back off to poll_interval.
        time.sleep(delay if deadline is None else max(0.0, min(delay, deadline - time.monotonic())))
        delay = min(delay * 2, poll_interval)
    with conn.cursor() as cur:
        try:
            cur.get_results_from_sfqid(query_id)
            return _as_tuples(cur.fetchall())
        except Error as exc:
            raise query_error(
                exc, connector, task="snowflake_wait_for_query", statement=what
            ) from exc


def _cancel(connector: SnowflakeConnector, query_id: str) -> None:
    try:
        connector.execute(
            "SELECT SYSTEM$CANCEL_QUERY(%s)", [query_id], task="snowflake_wait_for_query"
        ).close()
    except SnowflakeQueryError as exc:
        run_logger_or(logging.getLogger("orch_snowflake")).warning(
            "could not cancel Snowflake query %s: %s", query_id, exc
        )
