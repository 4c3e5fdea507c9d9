"""``SqlAlchemyConnector``: owns the SQLAlchemy engine (and its pool) of one database.

Life cycle, the pattern every orch connector follows:

- the engine is created on first use, not when the block is built or loaded;
- one engine per process per connector *content*: two loads of the same saved block (or
  two equal blocks) share one engine and pool, on any thread;
- it is disposed at interpreter exit, or when the last connector holding it lets go
  (``with connector:``, ``connector.dispose()``), and forgotten in a forked child (a pool
  must never be shared across processes);
- a connector pickles by its saved name (a process pool re-loads it from the store, so no
  secret travels through the pipe); an unsaved one pickles by value, without its engine.

The machinery (the per-process table, the instance slot, fingerprints, pickling by name)
is :mod:`orch.resources`. SQLAlchemy is imported only when the engine is first needed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from orch import Block
from orch.redaction import redact
from orch.resources import OwnsProcessResource, ProcessResources, ResourceSlot
from pydantic import Field, PrivateAttr

from orch_sqlalchemy.credentials import DatabaseCredentials
from orch_sqlalchemy.errors import SqlAuthenticationError, SqlConnectionError, SqlError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

IsolationLevel = Literal[
    "AUTOCOMMIT", "READ COMMITTED", "READ UNCOMMITTED", "REPEATABLE READ", "SERIALIZABLE"
]

# driver → the extra of this package that installs it
_EXTRAS = {"postgresql+psycopg": "postgres", "mysql+pymysql": "mysql", "mariadb+pymysql": "mysql"}


def _dispose(engine: Engine) -> None:
    engine.dispose()


def _forget(engine: Engine) -> None:
    # A forked child must not use the parent's pooled sockets: drop them without closing
    # (closing would end the parent's sessions too), as SQLAlchemy's docs advise.
    engine.dispose(close=False)


# fingerprint of a connector's content → its engine, for this process
_engines: ProcessResources[Engine] = ProcessResources(
    "sqlalchemy engines", close=_dispose, forget=_forget
)


class SqlAlchemyConnector(OwnsProcessResource, Block):
    """A database connection pool, shared by every task that uses this block.

    The engine is created on first use and reused by all tasks of the process (threads
    included); it is closed at exit, or when the last connector holding it lets go (the
    end of ``with connector:``, ``dispose()``). Connections
    refused by the server are retried ``connect_retries`` times with exponential backoff
    from ``connect_retry_delay`` seconds.

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
    """

    block_type_slug: ClassVar[str] = "sqlalchemy-connector"

    credentials: DatabaseCredentials
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
        default=1000, ge=1, description="Rows per batch when streaming (sql_fetch_many)."
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

    _process_resources: ClassVar[ProcessResources[Engine]] = _engines
    _slot: ResourceSlot[Engine] = PrivateAttr(default_factory=ResourceSlot)

    # --- identity in messages --------------------------------------------------------
    def display_name(self) -> str:
        """``sqlalchemy-connector/NAME`` if saved, else a description of the target."""
        if self.block_document_name is not None:
            return self.block_document_name
        return f"sqlalchemy-connector for {self.credentials.describe()}"

    # --- the engine --------------------------------------------------------------------
    def get_engine(self) -> Engine:
        """The engine of this connector in this process, created on first use."""
        return _engines.get_or_create(self._fingerprint, self._create_engine, slot=self._slot)

    def _create_engine(self) -> Engine:
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
            extra = _EXTRAS.get(url.drivername)
            hint = f": pip install 'orch-sqlalchemy[{extra}]'" if extra else ""
            raise SqlError(
                f"the database driver {url.drivername!r} of {self.display_name()} is not "
                f"installed{hint} ({exc})"
            ) from exc
        self._follow_password_rotation(engine)
        return engine

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

        engine = self.get_engine()
        delay = self.connect_retry_delay
        attempts = self.connect_retries + 1
        started = time.monotonic()
        for attempt in range(1, attempts + 1):
            try:
                return engine.connect()
            except DBAPIError as exc:
                kind = _classify_connect_error(exc)
                if kind == "auth":
                    user = self._username()
                    raise SqlAuthenticationError(
                        redact(
                            f"{self.credentials.describe()} refused the login"
                            f"{f' of user {user!r}' if user else ''} "
                            f"({self.display_name()}): check the username and password of "
                            "its credentials. The database said: "
                            f"{_driver_message(exc)}"
                        )
                    ) from exc
                if kind != "refused" or attempt == attempts:
                    waited = time.monotonic() - started
                    why = (
                        f"connection refused after {attempt} attempt(s) over {waited:.1f} s; "
                        "is the server running, and are host and port right?"
                        if kind == "refused"
                        else _driver_message(exc)
                    )
                    raise SqlConnectionError(
                        redact(
                            f"cannot connect to {self.credentials.describe()} "
                            f"({self.display_name()}): {why}"
                        )
                    ) from exc
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
    def dispose(self) -> None:
        """Let go of this connector's engine: its pool is closed if no equal connector
        holds it (other threads keep theirs). The next use opens (or finds) one again.
        """
        self._release()


def _driver_message(exc: BaseException) -> str:
    """The driver's own message, first line only (SQLAlchemy's adds SQL and parameters)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip() or type(orig).__name__
    return redact(text.splitlines()[0])


_REFUSED = (
    "connection refused",
    "can't connect to",
    "could not connect to server",
    "server closed the connection unexpectedly",
    "connection reset",
    "the database system is starting up",
)
_AUTH = (
    "password authentication failed",
    "access denied for user",
    "no password supplied",
    "authentication failed",
)


def _classify_connect_error(exc: BaseException) -> str:
    """``refused`` (worth retrying), ``auth`` (wrong login) or ``other``."""
    orig = getattr(exc, "orig", None) or exc
    chain: list[BaseException] = []
    node: BaseException | None = orig
    while node is not None and node not in chain:
        chain.append(node)
        node = node.__cause__ or node.__context__
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "refused"
    text = " ".join(str(e) for e in chain).lower()
    code = orig.args[0] if orig.args and isinstance(orig.args[0], int) else None
    if code in (1044, 1045) or any(s in text for s in _AUTH):
        return "auth"
    if code == 2003 or any(s in text for s in _REFUSED):
        return "refused"
    if 'role "' in text and "does not exist" in text:
        return "auth"
    return "other"
