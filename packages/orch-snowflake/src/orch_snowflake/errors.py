"""Errors of orch-snowflake.

Each message names the block, the account and user (never a secret) and, for a failed
statement, its first line; the connector's own exception is kept as ``__cause__``.
Messages are built from parts we choose and passed through orch's redaction as a second
line of defence.
"""

from __future__ import annotations

from orch.errors import OrchError


class SnowflakeError(OrchError):
    """Base class of the errors raised by orch-snowflake."""


class SnowflakeKeyError(SnowflakeError, ValueError):
    """A private key could not be read (format or passphrase); the key is never echoed."""


class SnowflakeConnectionError(SnowflakeError):
    """Snowflake could not be reached (account, host, network, timeouts)."""


class SnowflakeAuthenticationError(SnowflakeConnectionError):
    """Snowflake refused the login: wrong password, key, token, or no such user."""


class SnowflakeQueryError(SnowflakeError):
    """A statement failed; the message names the block and the statement's first line."""


class SnowflakeLoadError(SnowflakeQueryError):
    """A bulk load failed; the target table is left as it was."""


class SnowflakeTimeoutError(SnowflakeQueryError, TimeoutError):
    """An asynchronous query did not finish in time (and was cancelled)."""
