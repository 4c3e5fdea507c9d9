"""Errors of orch-sqlalchemy, and the one place that maps SQLAlchemy's and the drivers'
exceptions onto them (and so onto the kit's classes users catch for any service).

Each message names the task, the block (``block_label``) and the database without its
password, and what to check; the driver's own exception is kept as ``__cause__``.
Messages are built from parts we choose and passed through orch's redaction as a second
line of defence, so they never carry a secret.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from orch.integration import (
    AuthError,
    ConnectError,
    MissingDependencyError,
    QueryError,
    ServiceError,
    TransferError,
    block_label,
    first_line,
    redact,
)

if TYPE_CHECKING:
    from orch_sqlalchemy.connector import SqlAlchemyConnector


class SqlError(ServiceError):
    """Base class of the errors raised by orch-sqlalchemy."""


class SqlConnectionError(SqlError, ConnectError):
    """The database could not be reached (refused, unknown host, timed out after retries)."""


class SqlAuthenticationError(SqlConnectionError, AuthError):
    """The database refused the login: wrong username or password, or no such user."""


class SqlStatementError(SqlError, QueryError):
    """A statement failed; the message names the task and the statement's first line."""


class SqlLoadError(SqlStatementError, TransferError):
    """A bulk load or upsert failed; nothing of it was committed."""


class SqlDriverMissingError(SqlError, MissingDependencyError):
    """The database driver is not installed; the message names the extra to install."""


# driver → the extra of this package that installs it
_EXTRAS = {"postgresql+psycopg": "postgres", "mysql+pymysql": "mysql", "mariadb+pymysql": "mysql"}


def label(connector: SqlAlchemyConnector) -> str:
    """``sqlalchemy-connector/NAME`` if saved, else the target (never its password)."""
    return block_label(connector, connector.credentials.describe())


def driver_message(exc: BaseException) -> str:
    """The driver's own message, first line only (SQLAlchemy's adds SQL and parameters)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip() or type(orig).__name__
    return redact(text.splitlines()[0])


def missing_driver_error(
    connector: SqlAlchemyConnector, drivername: str, exc: ImportError
) -> SqlDriverMissingError:
    extra = _EXTRAS.get(drivername)
    hint = f": pip install 'orch-sqlalchemy[{extra}]'" if extra else ""
    return SqlDriverMissingError(
        f"the database driver {drivername!r} of {label(connector)} is not installed{hint} ({exc})"
    )


# --- connecting ------------------------------------------------------------------------------
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


def classify_connect_error(exc: BaseException) -> str:
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


def connect_error(
    connector: SqlAlchemyConnector,
    exc: BaseException,
    kind: str,
    attempts: int,
    waited: float,
    user: str | None,
) -> SqlConnectionError:
    """The error for a connection that failed for good (``kind`` from
    :func:`classify_connect_error`), after ``attempts`` tries over ``waited`` seconds."""
    target = connector.credentials.describe()
    if kind == "auth":
        return SqlAuthenticationError(
            redact(
                f"{target} refused the login{f' of user {user!r}' if user else ''} "
                f"({label(connector)}): check the username and password of its "
                f"credentials. The database said: {driver_message(exc)}"
            )
        )
    why = (
        f"connection refused after {attempts} attempt(s) over {waited:.1f} s; "
        "is the server running, and are host and port right?"
        if kind == "refused"
        else driver_message(exc)
    )
    return SqlConnectionError(redact(f"cannot connect to {target} ({label(connector)}): {why}"))


# --- statements ------------------------------------------------------------------------------
def statement_error(
    task_name: str,
    connector: SqlAlchemyConnector,
    statement: Any,
    exc: BaseException,
    error: type[SqlStatementError] = SqlStatementError,
) -> SqlStatementError:
    return error(
        redact(
            f"{task_name} failed on {label(connector)}: {first_line(statement)!r}: "
            f"{driver_message(exc)}"
        )
    )


def _is_driver_error(exc: BaseException) -> bool:
    module = type(exc).__module__.split(".")[0]
    return module in {"psycopg", "pymysql", "sqlite3", "psycopg2", "MySQLdb"}


@contextlib.contextmanager
def statement_errors(
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
        raise statement_error(task_name, connector, statement, exc, error) from exc
    except Exception as exc:
        # Raw driver errors (psycopg's COPY) are not wrapped by SQLAlchemy.
        if _is_driver_error(exc):
            raise statement_error(task_name, connector, statement, exc, error) from exc
        raise
