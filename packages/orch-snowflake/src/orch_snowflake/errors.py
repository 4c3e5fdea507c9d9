"""Errors of orch-snowflake, and the one place where the connector's errors become them.

Each class derives from the kit's kind (``ConnectError``, ``AuthError``, ``QueryError``...)
as well as :class:`SnowflakeError`, so both ``except AuthError`` and ``except
SnowflakeError`` work. Messages name the block (``block_label``), the account and user
(never a secret) and, for a failed statement, its first line; the connector's own
exception is kept as ``__cause__``. Messages are built from parts we choose and passed
through orch's redaction as a second line of defence. snowflake-connector-python is never
imported here: errors are recognised by their ``errno`` and words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orch.integration import (
    AuthError,
    ConnectError,
    MissingDependencyError,
    QueryError,
    ServiceError,
    ServiceTimeoutError,
    TransferError,
    block_label,
    first_line,
    redact,
)

if TYPE_CHECKING:
    from orch_snowflake.connector import SnowflakeConnector

__all__ = [
    "SESSION_GONE",
    "SnowflakeAuthenticationError",
    "SnowflakeConnectionError",
    "SnowflakeDependencyError",
    "SnowflakeError",
    "SnowflakeKeyError",
    "SnowflakeLoadError",
    "SnowflakeQueryError",
    "SnowflakeTimeoutError",
    "connect_error",
    "label",
    "query_error",
    "sdk_message",
]


class SnowflakeError(ServiceError):
    """Base class of the errors raised by orch-snowflake."""


class SnowflakeKeyError(SnowflakeError, ValueError):
    """A private key could not be read (format or passphrase); the key is never echoed."""


class SnowflakeConnectionError(SnowflakeError, ConnectError):
    """Snowflake could not be reached (account, host, network, timeouts)."""


class SnowflakeAuthenticationError(SnowflakeConnectionError, AuthError):
    """Snowflake refused the login: wrong password, key, token, or no such user."""


class SnowflakeQueryError(SnowflakeError, QueryError):
    """A statement failed; the message names the block and the statement's first line."""


class SnowflakeLoadError(SnowflakeQueryError, TransferError):
    """A bulk load failed; the target table is left as it was."""


class SnowflakeTimeoutError(SnowflakeQueryError, ServiceTimeoutError):
    """An asynchronous query did not finish in time (and was cancelled)."""


class SnowflakeDependencyError(SnowflakeError, MissingDependencyError):
    """A task needs an extra that is not installed (pandas, pyarrow); names what to install."""


# Error numbers of a session that is gone (expired, closed by the server): the statement
# never ran, so it is safe to reopen the session and send it again.
SESSION_GONE = frozenset({390111, 390112, 390114, 250002})
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


def label(connector: SnowflakeConnector) -> str:
    """How messages name a connector: ``snowflake-connector/prod`` if saved, else
    ``an unsaved SnowflakeConnector (account 'X' as user 'Y')``."""
    return block_label(connector, _target(connector))


def _target(connector: SnowflakeConnector) -> str:
    creds = connector.credentials
    user = f" as user {creds.user!r}" if creds.user else ""
    return f"account {creds.account!r}{user}"


def sdk_message(exc: BaseException) -> str:
    """The connector's own message (a few lines), redacted."""
    msg = getattr(exc, "raw_msg", None) or str(exc)
    errno = getattr(exc, "errno", None)
    text = " ".join(line.strip() for line in str(msg).strip().splitlines()[:4] if line.strip())
    if errno and str(errno) not in text[:12]:
        text = f"{errno}: {text}"
    return redact(text or type(exc).__name__)


def connect_error(exc: BaseException, connector: SnowflakeConnector) -> SnowflakeError:
    """The error for a failed login or connection (``exc``: what connecting raised)."""
    if isinstance(exc, SnowflakeError):
        return exc  # already ours (e.g. an unreadable private key)
    message = sdk_message(exc)
    errno = getattr(exc, "errno", None)
    target = _target(connector)
    if errno in _AUTH_ERRNOS or any(w in message.lower() for w in _AUTH_WORDS):
        return SnowflakeAuthenticationError(
            redact(
                f"Snowflake refused the login of {target} ({block_label(connector)}, auth "
                f"method {connector.credentials.auth_method!r}): check the credentials. "
                f"Snowflake said: {message}"
            ),
            code=None if errno is None else str(errno),
        )
    if not hasattr(exc, "errno") or not hasattr(exc, "raw_msg"):
        # Not the connector's own error: e.g. an unreachable host surfaces as an OSError.
        message = f"{type(exc).__name__}: {message}"
    return SnowflakeConnectionError(
        redact(f"cannot connect to Snowflake {target} ({block_label(connector)}): {message}"),
        code=None if errno is None else str(errno),
    )


def query_error(
    exc: BaseException,
    connector: SnowflakeConnector,
    *,
    task: str,
    statement: str,
    error: type[SnowflakeQueryError] = SnowflakeQueryError,
) -> SnowflakeQueryError:
    """The error for a failed statement: names ``task``, the block and the first line."""
    message = sdk_message(exc)
    for words, field in _MISSING_CONTEXT:
        if words in message.lower():
            value: Any = getattr(connector, "schema_" if field == "schema" else field)
            # Unset, or set to one that doesn't exist or the role can't use.
            message += f" (check {field}={value!r} of {label(connector)})"
            break
    errno = getattr(exc, "errno", None)
    return error(
        redact(f"{task} failed on {label(connector)}: {first_line(statement)!r}: {message}"),
        code=None if errno is None or errno == -1 else str(errno),
    )
