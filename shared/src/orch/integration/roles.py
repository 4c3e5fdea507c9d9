"""Role interfaces: the methods a block of a kind offers, with the names Prefect users know.

Each role is an abstract base class to mix into a block (``class S3Bucket(Connector[Any],
ObjectStore)``): building a block that leaves one of its methods unimplemented fails at
once with Python's ``TypeError: Can't instantiate abstract class S3Bucket with abstract
method list_objects``, and mypy checks the signatures of the implementations. A role adds
no field and no client: implementations usually sit on a ``Connector``.
An implementation may add optional parameters (``jmespath_query``, ``storage_class``) and
return a narrower type.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

__all__ = ["Notifier", "ObjectStore", "SecretStore", "Severity", "SqlDatabase"]

Severity = Literal["info", "warning", "error", "critical"]


class ObjectStore(ABC):
    """A bucket or container of objects (S3, GCS, Azure Blob), as Prefect's ``S3Bucket``.

    Paths are relative to the block's own folder (``bucket_folder``), ``/``-separated.

    Example:
        bucket.upload_from_path("report.csv", "reports/2024.csv")
        bucket.read_path("reports/2024.csv")  # b"..."
    """

    @abstractmethod
    def upload_from_path(
        self, from_path: str | Path, to_path: str | None = None, **upload_kwargs: Any
    ) -> str:
        """Upload the local file ``from_path`` to ``to_path`` (default: its file name);
        returns the object's path."""

    @abstractmethod
    def download_object_to_path(
        self, from_path: str, to_path: str | Path | None, **download_kwargs: Any
    ) -> Path:
        """Download the object ``from_path`` to the local file ``to_path`` (default: its
        name in the working folder); returns the local path."""

    @abstractmethod
    def read_path(self, path: str) -> bytes:
        """The content of the object ``path``."""

    @abstractmethod
    def write_path(self, path: str, content: bytes) -> str:
        """Write ``content`` to the object ``path``; returns the object's path."""

    @abstractmethod
    def list_objects(
        self,
        folder: str = "",
        delimiter: str = "",
        page_size: int | None = None,
        max_items: int | None = None,
    ) -> list[dict[str, Any]]:
        """The objects under ``folder``: one dict each, at least ``Key`` (the path)
        and ``Size`` (bytes), as the service describes them."""


class SqlDatabase(ABC):
    """A SQL database, as Prefect's ``SqlAlchemyConnector`` / ``DatabaseBlock``.

    ``parameters`` are bound by the driver (never formatted into the SQL); a row is a
    sequence of column values.

    Example:
        db.execute("CREATE TABLE t (id INT, name TEXT)")
        db.execute_many("INSERT INTO t VALUES (:id, :name)", [{"id": 1, "name": "a"}])
        db.fetch_all("SELECT * FROM t")  # [(1, 'a')]
    """

    @abstractmethod
    def execute(
        self,
        operation: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        **execution_options: Any,
    ) -> Any:
        """Run one statement (no rows wanted); committed when it returns."""

    @abstractmethod
    def execute_many(
        self,
        operation: str,
        seq_of_parameters: Sequence[Mapping[str, Any] | Sequence[Any]],
        **execution_options: Any,
    ) -> Any:
        """Run one statement once per parameter set, in one transaction."""

    @abstractmethod
    def fetch_one(
        self,
        operation: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        **execution_options: Any,
    ) -> Sequence[Any] | None:
        """The first row of the result (``None`` if there is none)."""

    @abstractmethod
    def fetch_many(
        self,
        operation: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        size: int | None = None,
        **execution_options: Any,
    ) -> list[Sequence[Any]]:
        """At most ``size`` rows of the result (the block's default batch size if unset)."""

    @abstractmethod
    def fetch_all(
        self,
        operation: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        **execution_options: Any,
    ) -> list[Sequence[Any]]:
        """Every row of the result."""


class SecretStore(ABC):
    """One secret in a secrets manager (AWS Secrets Manager, Vault, Key Vault), as
    Prefect's ``SecretBlock``: the block names the secret; these read and change it.

    Example:
        secret.write_secret(b'{"password": "..."}')
        secret.read_secret()  # b'{"password": "..."}'
    """

    @abstractmethod
    def read_secret(self) -> bytes:
        """The secret's current value."""

    @abstractmethod
    def write_secret(self, secret_data: bytes) -> str:
        """Store a new value (creating the secret if needed); returns its id or name."""

    @abstractmethod
    def delete_secret(self) -> str:
        """Delete the secret (as the service allows: maybe after a recovery window);
        returns its id or name."""


class Notifier(ABC):
    """Something that tells people: chat, e-mail, paging (Slack, Teams, PagerDuty).

    Example:
        alerts.notify("etl failed", "table events: 3 rows rejected", severity="error",
                      context={"flow_run": "etl-42"})
    """

    @abstractmethod
    def notify(
        self,
        subject: str,
        body: str,
        *,
        severity: Severity = "error",
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Send one message. ``context`` holds extra fields shown with it (run name,
        links); a service without severities puts ``severity`` in the text."""
