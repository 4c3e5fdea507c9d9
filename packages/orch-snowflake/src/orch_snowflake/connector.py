"""``SnowflakeConnector``: owns the Snowflake session(s) of one account/user/database.

Life cycle (the pattern every orch connector follows):

- the session is opened on first use, not when the block is built or loaded;
- one session per process per connector *content*: two loads of the same saved block (or
  two equal blocks) share it, from any thread (the connector's connections are
  thread-safe: DB-API ``threadsafety = 2``; each task uses its own cursor);
- a session that was closed or expired is reopened on next use;
- it is closed at interpreter exit, or when the last connector holding it lets go
  (``with connector:``, ``connector.close()``), and forgotten (not closed) in a forked
  child, whose parent owns it;
- a transaction (``connector.transaction()``) runs in a session of its own, taken from a
  small idle list, because Snowflake transactions are per session: on the shared one,
  another thread's statements would join (or commit) it;
- a connector pickles by its saved name (a process pool re-loads it from the store, so no
  secret travels through the pipe); an unsaved one pickles by value, without sessions.

The machinery (the per-process table, the instance slot, fingerprints, pickling by name)
is :mod:`orch.resources`. snowflake-connector-python is imported only when a session is
first opened.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from orch import Block
from orch.redaction import redact
from orch.resources import OwnsProcessResource, ProcessResources, ResourceSlot
from pydantic import ConfigDict, Field, PrivateAttr

from orch_snowflake.credentials import SnowflakeCredentials
from orch_snowflake.errors import (
    SnowflakeAuthenticationError,
    SnowflakeConnectionError,
    SnowflakeError,
    SnowflakeQueryError,
)

if TYPE_CHECKING:
    from snowflake.connector import SnowflakeConnection
    from snowflake.connector.cursor import SnowflakeCursor

Params = Sequence[Any] | dict[str, Any] | None

# Error numbers of a session that is gone (expired, closed by the server): the statement
# never ran, so it is safe to reopen the session and send it again.
_SESSION_GONE = {390111, 390112, 390114, 250002}
# Error numbers (and message parts) of a refused login.
_AUTH_ERRNOS = {390100, 390101, 390102, 390103, 390144, 390190, 390191, 390303, 390318, 394400}
_AUTH_WORDS = (
    "incorrect username or password",
    "jwt token is invalid",
    "invalid oauth access token",
    "oauth access token expired",
    "programmatic access token is invalid",
    "user temporarily locked",
    "authentication failed",
)
# Snowflake logs in even when the connector's database, schema or warehouse does not
# exist (or the role can't see it); the first statement that needs one then fails with
# these words, so the error points at the connector field to check.
_MISSING_CONTEXT = (
    ("does not have a current database", "database"),
    ("does not have a current schema", "schema"),
    ("no active warehouse", "warehouse"),
)


class _Session:
    """The connections of one connector content in this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.conn: SnowflakeConnection | None = None
        self.idle: list[SnowflakeConnection] = []  # dedicated sessions for transactions
        self.pid = os.getpid()

    def close(self) -> None:
        with self.lock:
            conns = [c for c in (self.conn, *self.idle) if c is not None]
            self.conn, self.idle = None, []
        if self.pid != os.getpid():
            return  # a forked child must not log its parent's sessions out
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()


# fingerprint of a connector's content → its sessions, for this process. A forked child
# just drops the parent's (the default `forget`): logging them out would end the parent's.
_sessions: ProcessResources[_Session] = ProcessResources("snowflake sessions", close=_Session.close)


class SnowflakeConnector(OwnsProcessResource, Block):
    """A Snowflake session (database, schema, warehouse), shared by every task using it.

    The session opens on first use and is reused by all tasks of the process, threads
    included; it reopens if it expired and closes at exit (or at the end of
    ``with connector:``). ``query_tag`` and ``session_parameters`` apply to every
    statement; ``fetch_size`` is the batch size of streamed fetches.

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
    """

    model_config = ConfigDict(populate_by_name=True)
    block_type_slug: ClassVar[str] = "snowflake-connector"

    credentials: SnowflakeCredentials
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

    _process_resources: ClassVar[ProcessResources[_Session]] = _sessions
    _slot: ResourceSlot[_Session] = PrivateAttr(default_factory=ResourceSlot)

    # --- identity in messages --------------------------------------------------------
    def display_name(self) -> str:
        """``snowflake-connector/NAME`` if saved, else the account and user it logs in as."""
        if self.block_document_name is not None:
            return self.block_document_name
        return f"snowflake-connector for {self.credentials.describe()}"

    # --- sessions ------------------------------------------------------------------------
    def _session(self) -> _Session:
        return _sessions.get_or_create(self._fingerprint, _Session, slot=self._slot)

    def get_connection(self) -> SnowflakeConnection:
        """The shared session of this connector in this process, opened on first use.

        Example:
            conn = connector.get_connection()
            conn.cursor().execute("SELECT 1")
        """
        session = self._session()
        conn = session.conn
        if conn is not None and not conn.is_closed():
            return conn
        with session.lock:
            conn = session.conn
            if conn is None or conn.is_closed():
                conn = session.conn = self._open()
        return conn

    def _open(self) -> SnowflakeConnection:
        import snowflake.connector
        from snowflake.connector.errors import Error

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
        except Error as exc:
            raise self._connect_error(exc) from exc
        except SnowflakeError:
            raise
        except Exception as exc:  # e.g. an unreachable host surfaces as an OSError subclass
            raise SnowflakeConnectionError(
                redact(
                    f"cannot connect to Snowflake {self.credentials.describe()} "
                    f"({self.display_name()}): {type(exc).__name__}: {sdk_message(exc)}"
                )
            ) from exc

    def _connect_error(self, exc: BaseException) -> SnowflakeError:
        message = sdk_message(exc)
        errno = getattr(exc, "errno", None)
        if errno in _AUTH_ERRNOS or any(w in message.lower() for w in _AUTH_WORDS):
            return SnowflakeAuthenticationError(
                redact(
                    f"Snowflake refused the login of {self.credentials.describe()} "
                    f"({self.display_name()}, auth method "
                    f"{self.credentials.auth_method!r}): check the credentials. "
                    f"Snowflake said: {message}"
                )
            )
        return SnowflakeConnectionError(
            redact(
                f"cannot connect to Snowflake {self.credentials.describe()} "
                f"({self.display_name()}): {message}"
            )
        )

    def _discard(self, conn: SnowflakeConnection) -> None:
        session = self._session()
        with session.lock:
            if session.conn is conn:
                session.conn = None
        with contextlib.suppress(Exception):
            conn.close()

    def execute(
        self,
        statement: str,
        params: Params = None,
        *,
        task: str = "execute",
        **options: Any,
    ) -> SnowflakeCursor:
        """Run one statement on the shared session; return its cursor (close it after).

        Values in ``params`` are bound, never formatted into the SQL by us. A session that
        expired is reopened and the statement sent again (it never ran). Failures raise
        :class:`~orch_snowflake.errors.SnowflakeQueryError` naming ``task``, this block
        and the statement's first line. ``options`` go to ``cursor.execute`` (e.g.
        ``num_statements``, ``timeout``).

        Example:
            with connector.execute("SELECT COUNT(*) FROM orders") as cur:
                (count,) = cur.fetchone()
        """
        from snowflake.connector.errors import Error

        for attempt in (1, 2):
            conn = self.get_connection()
            cur = conn.cursor()
            try:
                cur.execute(statement, params, **options)
                return cur
            except Error as exc:
                cur.close()
                if attempt == 1 and getattr(exc, "errno", None) in _SESSION_GONE:
                    self._discard(conn)
                    continue
                raise self.query_error(task, statement, exc) from exc
        raise AssertionError("unreachable")

    def query_error(
        self,
        task: str,
        statement: str,
        exc: BaseException,
        error: type[SnowflakeQueryError] = SnowflakeQueryError,
    ) -> SnowflakeQueryError:
        """The error to raise for a failed statement (names block and first line)."""
        message = sdk_message(exc)
        for words, field in _MISSING_CONTEXT:
            if words in message.lower():
                value = getattr(self, "schema_" if field == "schema" else field)
                # Unset, or set to one that doesn't exist or the role can't use.
                message += f" (check {field}={value!r} of {self.display_name()})"
                break
        return error(
            redact(f"{task} failed on {self.display_name()}: {first_line(statement)!r}: {message}")
        )

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
        session = self._session()
        with session.lock:
            conn = session.idle.pop() if session.idle else None
        if conn is None or conn.is_closed():
            conn = self._open()
        dedicated = DedicatedSession(self, conn)
        try:
            yield dedicated
        finally:
            self._return(conn, dedicated.healthy)

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

    def _return(self, conn: SnowflakeConnection, healthy: bool) -> None:
        session = self._session()
        if healthy and not conn.is_closed():
            with session.lock:
                if len(session.idle) < self.max_idle_sessions:
                    session.idle.append(conn)
                    return
        with contextlib.suppress(Exception):
            conn.close()

    # --- life cycle --------------------------------------------------------------------
    def close(self) -> None:
        """Let go of this connector's sessions: closed if no equal connector holds them.

        The next use opens (or finds) them again.
        """
        self._release()


class DedicatedSession:
    """Statements in one session of a connector's own (``connector.dedicated_session()``)."""

    def __init__(self, connector: SnowflakeConnector, connection: SnowflakeConnection) -> None:
        self.connector = connector
        self.connection = connection
        self.healthy = True

    def execute(
        self, statement: str, params: Params = None, *, task: str = "transaction", **options: Any
    ) -> SnowflakeCursor:
        """Run one statement in this session; return its cursor (close it after).

        Example:
            session.execute("UPDATE jobs SET done = TRUE WHERE id = %s", [7]).close()
        """
        from snowflake.connector.errors import Error

        cur = self.connection.cursor()
        try:
            cur.execute(statement, params, **options)
        except Error as exc:
            cur.close()
            raise self.connector.query_error(task, statement, exc) from exc
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


# --- helpers ---------------------------------------------------------------------------------
def first_line(statement: str) -> str:
    """The statement's first meaningful line, shortened: for messages."""
    for line in str(statement).splitlines():
        line = line.strip()
        if line and not line.startswith("--"):
            return line if len(line) <= 120 else line[:117] + "..."
    return "(empty statement)"


def sdk_message(exc: BaseException) -> str:
    """The connector's own message (a few lines), redacted."""
    msg = getattr(exc, "raw_msg", None) or str(exc)
    errno = getattr(exc, "errno", None)
    text = " ".join(line.strip() for line in str(msg).strip().splitlines()[:4] if line.strip())
    if errno and str(errno) not in text[:12]:
        text = f"{errno}: {text}"
    return redact(text or type(exc).__name__)
