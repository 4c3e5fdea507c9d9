"""``SnowflakeConnector``: owns the Snowflake session(s) of one account/user/database.

Life cycle (the kit's :class:`orch.integration.Connector`, like every orch connector):

- the client, a :class:`SnowflakeSessions` (the shared session plus idle dedicated ones),
  is made on first use, not when the block is built or loaded;
- one per process per connector *content*: two loads of the same saved block (or two
  equal blocks) share it, from any thread (the connector's connections are thread-safe:
  DB-API ``threadsafety = 2``; each task uses its own cursor);
- a session that was closed or expired is reopened on next use;
- ``close()`` (and the end of ``with connector:``) lets go of *this block's* hold: the
  sessions are logged out when the last block holding them lets go, or at interpreter
  exit, so closing one block never logs out a session another thread is using; a forked
  child forgets (never logs out) its parent's;
- a transaction (``connector.transaction()``) runs in a session of its own, taken from a
  small idle list, because Snowflake transactions are per session: on the shared one,
  another thread's statements would join (or commit) it;
- a saved connector pickles by its name (a process pool re-loads it from the store, so no
  secret travels through the pipe).

snowflake-connector-python is imported only when a session is first opened.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from orch.integration import Connector, SqlDatabase
from pydantic import ConfigDict, Field

from orch_snowflake.credentials import SnowflakeCredentials
from orch_snowflake.errors import SESSION_GONE, connect_error, query_error

if TYPE_CHECKING:
    from snowflake.connector import SnowflakeConnection
    from snowflake.connector.cursor import SnowflakeCursor

__all__ = ["DedicatedSession", "Params", "SnowflakeConnector", "SnowflakeSessions"]

Params = Sequence[Any] | Mapping[str, Any] | None


def _bindable(parameters: Params) -> Sequence[Any] | dict[str, Any] | None:
    """What the connector's ``cursor.execute`` takes: a mapping must be a dict."""
    if parameters is None or isinstance(parameters, dict):
        return parameters
    return dict(parameters) if isinstance(parameters, Mapping) else parameters


class SnowflakeSessions:
    """A connector's client: its sessions in this process (one shared, some idle ones
    for transactions). Get it with ``connector.get_client()``; most code wants
    ``connector.get_connection()`` (the shared session) instead."""

    def __init__(self, conn: SnowflakeConnection) -> None:
        self.lock = threading.Lock()
        self.conn: SnowflakeConnection | None = conn
        self.idle: list[SnowflakeConnection] = []  # dedicated sessions for transactions
        self.pid = os.getpid()

    def close(self) -> None:
        """Log out every session (the connector calls this when its last holder lets go)."""
        with self.lock:
            conns = [c for c in (self.conn, *self.idle) if c is not None]
            self.conn, self.idle = None, []
        if self.pid != os.getpid():
            return  # a forked child must not log its parent's sessions out
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()


def _as_tuples(rows: Sequence[Any]) -> list[Any]:
    """Rows as a list of tuples, without a copy when they are one already.

    The connector's default cursor returns a list of tuples: rebuilding each row would be
    per-row work on the hot path of every fetch (about 5% of a 1M-row stream). A
    ``DictCursor``'s rows (or any other sequence) are converted.

    Example:
        >>> rows = [(1, "a"), (2, "b")]
        >>> _as_tuples(rows) is rows, _as_tuples([[1, "a"]])
        (True, [(1, 'a')])
    """
    if type(rows) is list and (not rows or type(rows[0]) is tuple):
        return rows
    return [tuple(row) for row in rows]


class SnowflakeConnector(Connector[SnowflakeSessions], SqlDatabase):
    """A Snowflake session (database, schema, warehouse), shared by every task using it.

    The session opens on first use and is reused by all tasks of the process, threads
    included; it reopens if it expired and closes at exit (or when the last block holding
    it is closed). ``query_tag`` and ``session_parameters`` apply to every statement;
    ``fetch_size`` is the batch size of streamed fetches. As a SQL database it offers
    ``execute``, ``execute_many``, ``fetch_one``, ``fetch_many`` and ``fetch_all``, with
    prefect-snowflake's names and arguments.

    Example:
        from orch_snowflake import SnowflakeConnector, SnowflakeCredentials, snowflake_query

        SnowflakeConnector(
            credentials=SnowflakeCredentials.load("prod"),
            database="ANALYTICS",
            schema="PUBLIC",
            warehouse="LOAD_WH",
            query_tag="orch-nightly",
        ).save("analytics")

        sf = SnowflakeConnector.load("analytics")
        rows = snowflake_query(sf, "SELECT id, name FROM customers WHERE country = %s", ["FR"])
        sf.fetch_all("SELECT id FROM customers WHERE country = %(c)s", {"c": "FR"})
    """

    model_config = ConfigDict(populate_by_name=True)
    block_type_slug: ClassVar[str] = "snowflake-connector"

    credentials: SnowflakeCredentials = Field(
        description="Account, user and login method (a snowflake-credentials block)."
    )
    database: str | None = Field(default=None, description="Database of the session.")
    schema_: str | None = Field(default=None, alias="schema", description="Schema of the session.")
    warehouse: str | None = Field(default=None, description="Warehouse that runs the queries.")
    fetch_size: int = Field(default=10_000, ge=1, description="Rows per batch of streamed fetches.")
    session_parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Session parameters set at login, e.g. {'TIMEZONE': 'UTC'}.",
    )
    query_tag: str | None = Field(
        default=None, description="QUERY_TAG of every statement (visible in query history)."
    )
    paramstyle: Literal["pyformat", "format", "qmark", "numeric"] = Field(
        default="pyformat",
        description="Placeholder style: pyformat (%s / %(name)s), qmark (?), numeric (:1).",
    )
    login_timeout: int = Field(default=60, ge=1, description="Seconds to wait for the login.")
    network_timeout: int | None = Field(
        default=None, ge=1, description="Seconds to wait for any one request (None: no limit)."
    )
    max_idle_sessions: int = Field(
        default=2, ge=0, description="Transaction sessions kept open for reuse."
    )

    @classmethod
    def block_sample(cls) -> SnowflakeConnector:
        """An example connector (for the docs and the contract tests)."""
        return cls(credentials=SnowflakeCredentials.block_sample(), database="ANALYTICS")

    # --- the client ----------------------------------------------------------------------
    def _new_client(self) -> SnowflakeSessions:
        return SnowflakeSessions(self._open())

    @staticmethod
    def _close_client(client: Any) -> None:
        client.close()

    def get_connection(self) -> SnowflakeConnection:
        """The shared session of this connector in this process, opened on first use.

        Example:
            conn = connector.get_connection()
            conn.cursor().execute("SELECT 1")
        """
        sessions = self.get_client()
        conn = sessions.conn
        if conn is not None and not conn.is_closed():
            return conn
        with sessions.lock:
            conn = sessions.conn
            if conn is None or conn.is_closed():
                conn = sessions.conn = self._open()
        return conn

    def _open(self) -> SnowflakeConnection:
        import snowflake.connector

        params = dict(self.session_parameters)
        if self.query_tag is not None:
            params["QUERY_TAG"] = self.query_tag
        kwargs: dict[str, Any] = {
            "database": self.database,
            "schema": self.schema_,
            "warehouse": self.warehouse,
            "session_parameters": params or None,
            "login_timeout": self.login_timeout,
            "paramstyle": self.paramstyle,
        }
        if self.network_timeout is not None:
            kwargs["network_timeout"] = self.network_timeout
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        try:
            kwargs.update(self.credentials.connect_kwargs())
            return snowflake.connector.connect(**kwargs)
        except Exception as exc:  # an unreachable host surfaces as an OSError subclass too
            raise connect_error(exc, self) from exc

    def _discard(self, conn: SnowflakeConnection) -> None:
        sessions = self.get_client()
        with sessions.lock:
            if sessions.conn is conn:
                sessions.conn = None
        with contextlib.suppress(Exception):
            conn.close()

    # --- statements ----------------------------------------------------------------------
    def execute(
        self,
        operation: str,
        parameters: Params = None,
        *,
        task: str = "execute",
        **execution_options: Any,
    ) -> SnowflakeCursor:
        """Run one statement on the shared session; return its cursor (close it after).

        Values in ``parameters`` are bound, never formatted into the SQL by us. A session
        that expired is reopened and the statement sent again (it never ran). Failures
        raise :class:`~orch_snowflake.errors.SnowflakeQueryError` naming ``task``, this
        block and the statement's first line. ``execution_options`` go to
        ``cursor.execute`` (e.g. ``num_statements``, ``timeout``).

        Example:
            connector.execute("CREATE TABLE IF NOT EXISTS customers (name VARCHAR)").close()
            with connector.execute("SELECT COUNT(*) FROM customers") as cur:
                (count,) = cur.fetchone()
        """
        from snowflake.connector.errors import Error

        for attempt in (1, 2):
            conn = self.get_connection()
            cur = conn.cursor()
            try:
                cur.execute(operation, _bindable(parameters), **execution_options)
                return cur
            except Error as exc:
                cur.close()
                if attempt == 1 and getattr(exc, "errno", None) in SESSION_GONE:
                    self._discard(conn)
                    continue
                raise query_error(exc, self, task=task, statement=operation) from exc
        raise AssertionError("unreachable")

    def execute_many(
        self,
        operation: str,
        seq_of_parameters: Sequence[Mapping[str, Any] | Sequence[Any]],
        **execution_options: Any,
    ) -> int:
        """Run one statement once per parameter set, in one transaction (a session of its
        own): all are committed, or none. Returns the number of rows changed.

        Example:
            connector.execute_many(
                "INSERT INTO customers (name, address) VALUES (%(name)s, %(address)s)",
                seq_of_parameters=[{"name": "Ford", "address": "Highway 42"}],
            )
        """
        from snowflake.connector.errors import Error

        if not seq_of_parameters:
            return 0
        with self.transaction() as tx, tx.connection.cursor() as cur:
            try:
                cur.executemany(operation, list(seq_of_parameters), **execution_options)
            except Error as exc:
                raise query_error(exc, self, task="execute_many", statement=operation) from exc
            return max(cur.rowcount or 0, 0)

    def fetch_one(
        self, operation: str, parameters: Params = None, **execution_options: Any
    ) -> tuple[Any, ...] | None:
        """The first row of the result, or ``None``.

        Example:
            connector.fetch_one("SELECT * FROM customers WHERE name = %s", ["Ford"])
        """
        with self.execute(operation, parameters, task="fetch_one", **execution_options) as cur:
            row = cur.fetchone()
        return None if row is None else tuple(row)

    def fetch_many(
        self,
        operation: str,
        parameters: Params = None,
        size: int | None = None,
        **execution_options: Any,
    ) -> list[Sequence[Any]]:
        """The first ``size`` rows of the result (default: ``fetch_size``). Each call runs
        the statement again: to read a large result in batches, use the
        ``snowflake_fetch_many`` task.

        Example:
            connector.fetch_many("SELECT * FROM customers ORDER BY name", size=2)
        """
        batch = size or self.fetch_size
        with self.execute(operation, parameters, task="fetch_many", **execution_options) as cur:
            return _as_tuples(cur.fetchmany(batch))

    def fetch_all(
        self, operation: str, parameters: Params = None, **execution_options: Any
    ) -> list[Sequence[Any]]:
        """Every row of the result.

        Example:
            connector.fetch_all("SELECT * FROM customers WHERE address = %(a)s", {"a": "Space"})
        """
        with self.execute(operation, parameters, task="fetch_all", **execution_options) as cur:
            return _as_tuples(cur.fetchall())

    # --- sessions of its own ---------------------------------------------------------------
    @contextlib.contextmanager
    def dedicated_session(self) -> Iterator[DedicatedSession]:
        """A session for this block alone (no other thread's statements run in it).

        For work that must stay together: a transaction, or temporary stages and tables
        used across statements. Sessions are taken from, and given back to, a small idle
        list (``max_idle_sessions``).

        Example:
            with connector.dedicated_session() as session:
                session.execute("CREATE TEMPORARY TABLE scratch (x INT)")
                with session.transaction():
                    session.execute("INSERT INTO scratch VALUES (1)")
        """
        sessions = self.get_client()
        with sessions.lock:
            conn = sessions.idle.pop() if sessions.idle else None
        if conn is None or conn.is_closed():
            conn = self._open()
        dedicated = DedicatedSession(self, conn)
        try:
            yield dedicated
        finally:
            self._return(sessions, conn, dedicated.healthy)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[DedicatedSession]:
        """A transaction in a session of its own: committed on success, else rolled back.

        Example:
            with connector.transaction() as tx:
                tx.execute("DELETE FROM daily WHERE day = %s", [day])
                tx.execute("INSERT INTO daily SELECT * FROM staging")
        """
        with self.dedicated_session() as dedicated, dedicated.transaction():
            yield dedicated

    def _return(
        self, sessions: SnowflakeSessions, conn: SnowflakeConnection, healthy: bool
    ) -> None:
        if healthy and not conn.is_closed() and sessions.pid == os.getpid():
            with sessions.lock:
                # Closed meanwhile (its last holder let go): log this one out too.
                if sessions.conn is not None and len(sessions.idle) < self.max_idle_sessions:
                    sessions.idle.append(conn)
                    return
        with contextlib.suppress(Exception):
            conn.close()


class DedicatedSession:
    """Statements in one session of a connector's own (``connector.dedicated_session()``)."""

    def __init__(self, connector: SnowflakeConnector, connection: SnowflakeConnection) -> None:
        self.connector = connector
        self.connection = connection
        self.healthy = True

    def execute(
        self,
        operation: str,
        parameters: Params = None,
        *,
        task: str = "transaction",
        **options: Any,
    ) -> SnowflakeCursor:
        """Run one statement in this session; return its cursor (close it after).

        Example:
            session.execute("UPDATE jobs SET done = TRUE WHERE id = %s", [7]).close()
        """
        from snowflake.connector.errors import Error

        cur = self.connection.cursor()
        try:
            cur.execute(operation, _bindable(parameters), **options)
        except Error as exc:
            cur.close()
            raise query_error(exc, self.connector, task=task, statement=operation) from exc
        return cur

    @contextlib.contextmanager
    def transaction(self, task: str = "transaction") -> Iterator[DedicatedSession]:
        """``BEGIN`` … ``COMMIT``; ``ROLLBACK`` if the block raises.

        Example:
            with session.transaction():
                session.execute("INSERT INTO t VALUES (1)").close()
        """
        self.execute("BEGIN", task=task).close()
        try:
            yield self
        except BaseException:
            try:
                self.connection.rollback()
            except Exception:
                self.healthy = False  # unknown state: never hand this session out again
            raise
        self.execute("COMMIT", task=task).close()
