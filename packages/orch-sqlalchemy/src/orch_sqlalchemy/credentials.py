"""``DatabaseCredentials``: where a database is and how to log in to it.

This module imports no SQLAlchemy at import time (listing block types must stay cheap);
``get_url()`` imports it when a connection URL is actually needed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, Self

from orch import Block, SecretStr
from orch.integration import BlockValidationError, remember_secret
from pydantic import Field, model_validator

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

# The drivers this package's extras install: a bare dialect name means these ones, so that
# `driver="postgresql"` does not silently need psycopg2, which we do not ship.
DEFAULT_DRIVERS: dict[str, str] = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
_DRIVER = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\+[A-Za-z][A-Za-z0-9_]*)?")


def normalise_drivername(drivername: str) -> str:
    """``postgresql`` → ``postgresql+psycopg``; a name with an explicit driver is kept."""
    return DEFAULT_DRIVERS.get(drivername.lower(), drivername)


class DatabaseCredentials(Block):
    """Where a database is and how to log in: URL parts, or one whole URL.

    Give either ``driver`` (with ``host``, ``port``, ``database``, ``username``,
    ``password``, ``query`` as the database needs) or ``url``, never both. ``url`` is a
    secret as a whole, so a password written inside it is masked and encrypted too; it
    may also be a reference such as ``SecretRef("env://DATABASE_URL")``.

    ``driver`` is a SQLAlchemy driver name. The bare names ``postgresql``, ``mysql`` and
    ``mariadb`` mean the drivers of this package's extras (psycopg 3, PyMySQL).

    Example:
        from orch import SecretRef
        from orch_sqlalchemy import DatabaseCredentials

        DatabaseCredentials(
            driver="postgresql+psycopg",
            host="db.internal",
            port=5432,
            database="analytics",
            username="etl",
            password=SecretRef("env://ANALYTICS_DB_PASSWORD"),
        ).save("analytics")
        DatabaseCredentials(driver="sqlite", database="/data/local.db")
        DatabaseCredentials(url=SecretRef("env://DATABASE_URL"))
    """

    block_type_slug: ClassVar[str] = "database-credentials"

    driver: str | None = Field(
        default=None, description="SQLAlchemy driver name, e.g. postgresql+psycopg, sqlite."
    )
    host: str | None = Field(
        default=None, description="Host name or IP address of the database server."
    )
    port: int | None = Field(
        default=None, ge=1, le=65535, description="TCP port; the driver's default if unset."
    )
    database: str | None = Field(
        default=None, description="Database name (for SQLite: the file path)."
    )
    username: str | None = Field(default=None, description="User to log in as.")
    password: SecretStr | None = Field(
        default=None, description="The user's password, or a SecretRef to it."
    )
    query: dict[str, str] = Field(
        default_factory=dict, description="Driver options added to the URL's query string."
    )
    url: SecretStr | None = Field(
        default=None, description="A whole SQLAlchemy URL, instead of the parts above."
    )

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        parts = [
            name
            for name in ("host", "port", "database", "username", "password")
            if getattr(self, name) is not None
        ]
        if self.query:
            parts.append("query")
        if self.url is not None:
            if self.driver is not None or parts:
                given = ", ".join(["driver", *parts] if self.driver else parts)
                raise ValueError(
                    f"give either url or the URL parts, not both (got url and {given})"
                )
            return self
        if self.driver is None:
            raise ValueError(
                "give either url, or driver with the URL parts (host, port, database, "
                "username, password, query)"
            )
        if not _DRIVER.fullmatch(self.driver):
            raise ValueError(
                f"driver {self.driver!r} is not a SQLAlchemy driver name "
                "(like 'postgresql+psycopg', 'mysql+pymysql' or 'sqlite')"
            )
        return self

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            driver="postgresql+psycopg",
            host="localhost",
            port=5432,
            database="sample",
            username="sample-user",
            password=SecretStr("sample-secret-password"),
        )

    # --- using it ------------------------------------------------------------------------
    def get_url(self) -> URL:
        """The SQLAlchemy URL, secrets resolved (do not print it: ``describe()`` is safe)."""
        from sqlalchemy.engine import URL, make_url
        from sqlalchemy.exc import ArgumentError

        if self.url is not None:
            try:
                url = make_url(self.url.get_secret_value())
            except ArgumentError:
                # SQLAlchemy's message quotes the URL, which may hold a password.
                raise BlockValidationError(
                    "invalid database-credentials block: url is not a SQLAlchemy URL "
                    "(like 'postgresql+psycopg://user:password@host:5432/db')"
                ) from None
            # The password alone must be masked too wherever orch redacts (errors, logs).
            remember_secret(url.password)
            return url.set(drivername=normalise_drivername(url.drivername))
        assert self.driver is not None  # the validator guarantees one of the two forms
        return URL.create(
            drivername=normalise_drivername(self.driver),
            username=self.username,
            password=self.password.get_secret_value() if self.password is not None else None,
            host=self.host,
            port=self.port,
            database=self.database,
            query=self.query,
        )

    def describe(self) -> str:
        """The target as safe to print in errors and logs: no password, no query options.

        For a ``url`` that is a reference, only the reference is shown (resolving it just
        to describe it could fail, or be slow).
        """
        if self.url is not None:
            if self.url.reference is not None:
                return f"the database at {self.url.reference}"
            return _describe_url(self.get_url())
        user = f"{self.username}@" if self.username else ""
        port = f":{self.port}" if self.port else ""
        host = self.host or ""
        db = f"/{self.database}" if self.database else ""
        return f"{normalise_drivername(self.driver or '')}://{user}{host}{port}{db}"


def _describe_url(url: Any) -> str:
    user = f"{url.username}@" if url.username else ""
    port = f":{url.port}" if url.port else ""
    db = f"/{url.database}" if url.database else ""
    return f"{url.drivername}://{user}{url.host or ''}{port}{db}"
