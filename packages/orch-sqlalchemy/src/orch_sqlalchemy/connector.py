"""``SqlAlchemyConnector``: owns the SQLAlchemy engine (and its pool) of one database.

Built on the kit's :class:`orch.integration.Connector`, so it follows the life cycle of
every orch connector: the engine is created on first use (never when the block is built
or loaded); one engine per process per connector *content* (two loads of one saved
block, or two equal blocks, share it and its pool on any thread); ``close()`` /
``dispose()`` / the end of ``with connector:`` let go of this block's hold and the pool
is closed with its last holder (or at exit); a forked child forgets the parent's pool
without closing it; a saved connector pickles by its name. SQLAlchemy is imported only
when the engine is first needed.

It is also the kit's :class:`~orch.integration.SqlDatabase`, with the methods (and
argument names) of Prefect's ``SqlAlchemyConnector``: ``execute``, ``execute_many``,
``fetch_one``, ``fetch_many``, ``fetch_all``, ``reset_connections``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from orch.integration import Connector, SqlDatabase
from pydantic import Field, PrivateAttr

from orch_sqlalchemy.credentials import DatabaseCredentials
from orch_sqlalchemy.errors import (
    classify_connect_error,
    connect_error,
    missing_driver_error,
    statement_errors,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, CursorResult, Engine

IsolationLevel = Literal[
    "AUTOCOMMIT", "READ COMMITTED", "READ UNCOMMITTED", "REPEATABLE READ", "SERIALIZABLE"
]
Parameters = Mapping[str, Any] | Sequence[Any] | None


def bound_parameters(where: str, parameters: Any) -> dict[str, Any]:
    """The bound values of a statement as a dict; anything else is a clear error (a list
    would otherwise fail deep in the driver with a message about sequences)."""
    if parameters is None:
        return {}
    if isinstance(parameters, Mapping):
        return dict(parameters)
    many = "execute_many" in where
    hint = (
        f"; to run the statement once per parameter set, use "
        f"{'sql_execute_many' if where.startswith('sql_') else 'execute_many'}"
        if isinstance(parameters, list | tuple) and not many
        else ""
    )
    raise TypeError(
        f"{where}: parameters must be a mapping of the statement's :name placeholders "
        f"to values, like {{'id': 1}}, got a {type(parameters).__name__}{hint}"
    )


# In a forked child: the parent's open results, kept (never used, never collected).
_PARENTS_RESULTS: list[object] = []


class _OpenResults:
    """The results that ``fetch_*`` calls are reading, by statement, parameters and
    options (Prefect's behaviour: the same call again returns the next rows).

    Each open result holds a pooled connection until it is exhausted or
    ``reset_connections()``/``close()`` runs. Copies and pickles start empty: an open
    cursor belongs to the block instance that opened it; a forked child forgets the
    parent's without closing them (they are the parent's connections).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        # key → (the result, the context that returns its connection; None once exhausted)
        self.items: dict[str, tuple[Any, contextlib.ExitStack | None]] = {}

    def mine(self) -> dict[str, tuple[Any, contextlib.ExitStack | None]]:
        """The open results of this process (call with ``lock`` held)."""
        if self.pid != os.getpid():  # a forked child: never read the parent's cursors
            # ...nor let them be garbage-collected here: SQLAlchemy would roll back their
            # connections on the socket the parent still uses, ending its open cursors.
            _PARENTS_RESULTS.append(self.items)
            self.items, self.pid = {}, os.getpid()
        return self.items

    def __copy__(self) -> _OpenResults:
        return _OpenResults()

    def __deepcopy__(self, memo: dict[int, Any]) -> _OpenResults:
        return _OpenResults()

    def __reduce__(self) -> tuple[type[_OpenResults], tuple[()]]:
        return (_OpenResults, ())

    def close_all(self) -> None:
        with self.lock:
            items = self.mine()
            self.items = {}
        for result, stack in items.values():
            with contextlib.suppress(Exception):  # a broken connection is dropped anyway
                result.close()
            if stack is not None:
                with contextlib.suppress(Exception):
                    stack.close()


class SqlAlchemyConnector(Connector["Engine"], SqlDatabase):
    """A database connection pool, shared by every task that uses this block.

    The engine is created on first use and reused by all tasks of the process (threads
    included); the pool is closed at exit, or when the last connector holding it lets go
    (the end of ``with connector:``, ``close()``, ``dispose()``). Connections refused by
    the server are retried ``connect_retries`` times with exponential backoff from
    ``connect_retry_delay`` seconds.

    Example:
        from orch import SecretRef
        from orch_sqlalchemy import DatabaseCredentials, SqlAlchemyConnector, sql_fetch_all

        SqlAlchemyConnector(
            credentials=DatabaseCredentials(
                driver="postgresql+psycopg", host="db.internal", database="analytics",
                username="etl", password=SecretRef("env://ANALYTICS_DB_PASSWORD"),
            ),
            pool_size=5,
        ).save("analytics")

        db = SqlAlchemyConnector.load("analytics")
        rows = sql_fetch_all(db, "SELECT id, name FROM customers WHERE country = :c", {"c": "FR"})
        db.fetch_many("SELECT id FROM customers", size=100)  # the first 100; again: the next
    """

    block_type_slug: ClassVar[str] = "sqlalchemy-connector"

    credentials: DatabaseCredentials = Field(
        description="Where the database is and how to log in (a database-credentials block)."
    )
    pool_size: int = Field(default=5, ge=1, description="Connections kept open in the pool.")
    max_overflow: int = Field(
        default=10, ge=0, description="Extra connections allowed beyond pool_size at peaks."
    )
    pool_pre_ping: bool = Field(
        default=True, description="Test a pooled connection before use (survives restarts)."
    )
    pool_recycle: int = Field(
        default=3600, ge=-1, description="Replace connections older than this (s); -1: never."
    )
    connect_args: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra arguments for the driver's connect() (not for secrets: "
        "put those in the credentials).",
    )
    fetch_size: int = Field(
        default=1000,
        ge=1,
        description="Rows per batch when streaming (sql_fetch_many, fetch_many).",
    )
    isolation_level: IsolationLevel | None = Field(
        default=None, description="Transaction isolation level; the driver's default if unset."
    )
    connect_retries: int = Field(
        default=3, ge=0, description="Retries of a connection the server refused."
    )
    connect_retry_delay: float = Field(
        default=0.5, ge=0, description="First retry delay in seconds; doubles each retry."
    )

    _results: _OpenResults = PrivateAttr(default_factory=_OpenResults)

    def __copy__(self) -> Self:
        # pydantic's shallow copy (and model_copy()) shares private attributes: the copy
        # would read, and close, this block's open fetch_* results.
        copied = super().__copy__()
        copied.__pydantic_private__["_results"] = _OpenResults()  # type: ignore[index]
        return copied

    # --- the engine (the kit's client) ---------------------------------------------------
    def get_engine(self) -> Engine:
        """The engine of this connector in this process, created on first use
        (the same as ``get_client()``)."""
        return self.get_client()

    def _new_client(self) -> Engine:
        from sqlalchemy import create_engine

        url = self.credentials.get_url()
        kwargs: dict[str, Any] = {
            "pool_pre_ping": self.pool_pre_ping,
            "pool_recycle": self.pool_recycle,
            "connect_args": dict(self.connect_args),
        }
        # SQLite in memory uses a per-thread pool that takes no pool sizes.
        in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
        if not in_memory:
            kwargs["pool_size"] = self.pool_size
            kwargs["max_overflow"] = self.max_overflow
        if self.isolation_level is not None:
            kwargs["isolation_level"] = self.isolation_level
        try:
            engine = create_engine(url, **kwargs)
        except ImportError as exc:  # the driver (or SQLAlchemy's dialect for it) is missing
            raise missing_driver_error(self, url.drivername, exc) from exc
        self._follow_password_rotation(engine)
        return engine

    @staticmethod
    def _close_client(client: Any) -> None:
        client.dispose()

    @staticmethod
    def _forget_client(client: Any) -> None:
        # A forked child must not use the parent's pooled sockets: drop them without
        # closing (closing would end the parent's sessions too), as SQLAlchemy advises.
        client.dispose(close=False)

    def _follow_password_rotation(self, engine: Engine) -> None:
        """Give every new connection the password as its reference resolves *now*.

        The engine lives as long as the process, but a password kept in a secrets manager
        is rotated: without this, new connections would keep the value resolved when the
        engine was made and fail once it is rotated. The resolver caches values for the
        TTL (ORCH_SECRET_TTL), so this costs nothing per connection until it expires.
        Connections already open keep working, as they do after any rotation.
        """
        from sqlalchemy import event

        creds = self.credentials
        password, url = creds.password, creds.url
        if password is not None and password.reference is not None:

            def current() -> str | None:
                return password.get_secret_value()

        elif url is not None and url.reference is not None:

            def current() -> str | None:
                return creds.get_url().password

        else:
            return

        def fresh_password(_dialect: Any, _record: Any, _cargs: Any, cparams: Any) -> None:
            value = current()
            # psycopg takes "password", PyMySQL "passwd" (as SQLAlchemy's dialects build them).
            for key in ("password", "passwd"):
                if key in cparams:
                    cparams[key] = value

        event.listen(engine, "do_connect", fresh_password)

    # --- connections -------------------------------------------------------------------
    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A pooled connection (no transaction begun), closed when the block exits.

        Example:
            with connector.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        """
        conn = self._open()
        with conn:
            yield conn

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        """A pooled connection in a transaction: committed on success, rolled back on error.

        Example:
            with connector.begin() as conn:
                conn.exec_driver_sql("UPDATE jobs SET done = true")
        """
        with self.connect() as conn, conn.begin():
            yield conn

    def _open(self) -> Connection:
        from sqlalchemy.exc import DBAPIError

        engine = self.get_client()
        delay = self.connect_retry_delay
        attempts = self.connect_retries + 1
        started = time.monotonic()
        for attempt in range(1, attempts + 1):
            try:
                return engine.connect()
            except DBAPIError as exc:
                kind = classify_connect_error(exc)
                if kind != "refused" or attempt == attempts:
                    waited = time.monotonic() - started
                    raise connect_error(self, exc, kind, attempt, waited, self._username()) from exc
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def _username(self) -> str | None:
        if self.credentials.username is not None:
            return self.credentials.username
        if self.credentials.url is not None and self.credentials.url.reference is None:
            return self.credentials.get_url().username
        return None

    # --- life cycle --------------------------------------------------------------------
    def close(self) -> None:
        """Close this block's open ``fetch_*`` results, then let go of its engine: the
        pool is closed if no equal connector holds it (other threads keep theirs).

        Example:
            connector.close()
        """
        self._results.close_all()
        super().close()

    def dispose(self) -> None:
        """The same as ``close()`` (the name SQLAlchemy users know)."""
        self.close()

    # --- the SqlDatabase role (Prefect's SqlAlchemyConnector methods) ----------------------
    def execute(
        self,
        operation: str,
        parameters: Parameters = None,
        **execution_options: Any,
    ) -> CursorResult[Any]:
        """Run one statement in its own transaction, committed when this returns.

        Example:
            db.execute("INSERT INTO customers (name) VALUES (:name)", {"name": "Ford"})
        """
        from sqlalchemy import text

        values = bound_parameters("execute", parameters)
        with statement_errors("execute", self, operation), self.begin() as conn:
            return conn.execution_options(**execution_options).execute(text(operation), values)

    def execute_many(
        self,
        operation: str,
        seq_of_parameters: Sequence[Mapping[str, Any] | Sequence[Any]],
        **execution_options: Any,
    ) -> CursorResult[Any]:
        """Run one statement once per parameter set (driver-batched), in one transaction.

        Example:
            db.execute_many("INSERT INTO customers (name) VALUES (:name)",
                            seq_of_parameters=[{"name": "Ford"}, {"name": "Me"}])
        """
        from sqlalchemy import text

        values = [bound_parameters("execute_many", p) for p in seq_of_parameters]
        with statement_errors("execute_many", self, operation), self.begin() as conn:
            return conn.execution_options(**execution_options).execute(text(operation), values)

    def fetch_one(
        self,
        operation: str,
        parameters: Parameters = None,
        **execution_options: Any,
    ) -> tuple[Any, ...] | None:
        """The next row of the query (``None`` when there is no more).

        As in Prefect, calling any ``fetch_*`` method again with the same operation,
        parameters and options returns the *next* rows of the same result, until
        ``reset_connections()`` (or ``close()``).

        Example:
            while (row := db.fetch_one("SELECT * FROM customers")) is not None:
                print(row)
        """
        rows = self._fetch("fetch_one", operation, parameters, execution_options, 1)
        return tuple(rows[0]) if rows else None

    def fetch_many(
        self,
        operation: str,
        parameters: Parameters = None,
        size: int | None = None,
        **execution_options: Any,
    ) -> list[Sequence[Any]]:
        """The next ``size`` rows of the query (default: the block's ``fetch_size``);
        ``[]`` when there is no more. Calling it again returns the following rows.

        Example:
            while rows := db.fetch_many("SELECT * FROM events", size=10_000):
                handle(rows)
        """
        if size is not None and size < 0:
            raise ValueError(f"fetch_many: size must be at least 1, got {size}")
        batch = size or self.fetch_size  # Prefect: None or 0 means the block's fetch_size
        return self._fetch("fetch_many", operation, parameters, execution_options, batch)

    def fetch_all(
        self,
        operation: str,
        parameters: Parameters = None,
        **execution_options: Any,
    ) -> list[Sequence[Any]]:
        """Every remaining row of the query.

        Example:
            db.fetch_all("SELECT * FROM customers WHERE country = :c", {"c": "FR"})
        """
        return self._fetch("fetch_all", operation, parameters, execution_options, None)

    def reset_connections(self) -> None:
        """Close the results ``fetch_*`` calls are reading and return their connections to
        the pool, so that the next call runs its query again.

        Example:
            db.fetch_one("SELECT * FROM customers")
            db.reset_connections()
            db.fetch_one("SELECT * FROM customers")  # the first row again
        """
        self._results.close_all()

    def _fetch(
        self,
        method: str,
        operation: str,
        parameters: Parameters,
        execution_options: dict[str, Any],
        size: int | None,
    ) -> list[Sequence[Any]]:
        values = bound_parameters(method, parameters)
        key = repr((operation, sorted(values.items()), sorted(execution_options.items())))
        results = self._results
        with statement_errors(method, self, operation), results.lock:
            items = results.mine()
            entry = items.get(key)
            if entry is None:
                entry = self._run_for_fetch(operation, values, execution_options, size)
                items[key] = entry
            result, stack = entry
            if stack is None:  # exhausted earlier: nothing more until reset_connections()
                return []
            rows = result.fetchall() if size is None else result.fetchmany(size)
            if size is None or len(rows) < size:
                # Exhausted: give the connection back now; later calls return no rows.
                result.close()
                stack.close()
                items[key] = (result, None)
            return [tuple(r) for r in rows]

    def _run_for_fetch(
        self,
        operation: str,
        values: dict[str, Any],
        execution_options: dict[str, Any],
        size: int | None,
    ) -> tuple[Any, contextlib.ExitStack]:
        from sqlalchemy import text

        options: dict[str, Any] = {}
        if size is not None:
            # A server-side cursor where the driver has one: memory bounded by a batch.
            options = {"stream_results": True, "max_row_buffer": max(size, 1)}
        options.update(execution_options)
        stack = contextlib.ExitStack()
        try:
            conn = stack.enter_context(self.begin())
            result = conn.execution_options(**options).execute(text(operation), values)
        except BaseException:
            stack.close()
            raise
        return result, stack
