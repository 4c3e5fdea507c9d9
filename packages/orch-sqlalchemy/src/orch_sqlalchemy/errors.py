"""Errors of orch-sqlalchemy.

Each message names the task, the database (without password) and what to check; the
driver's own exception is kept as ``__cause__``. Messages never carry a secret: they are
built from parts we choose, and passed through orch's redaction as a second line of
defence.
"""

from __future__ import annotations

from orch.errors import OrchError


class SqlError(OrchError):
    """Base class of the errors raised by orch-sqlalchemy."""


class SqlConnectionError(SqlError):
    """The database could not be reached (refused, unknown host, timed out after retries)."""


class SqlAuthenticationError(SqlConnectionError):
    """The database refused the login: wrong username or password, or no such user."""


class SqlStatementError(SqlError):
    """A statement failed; the message names the task and the statement's first line."""


class SqlLoadError(SqlStatementError):
    """A bulk load or upsert failed; nothing of it was committed."""
