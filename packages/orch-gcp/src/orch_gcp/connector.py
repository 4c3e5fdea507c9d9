"""The Google side of orch-gcp: the client holder of ``GcpCredentials``, and the blocks
that use its clients: ``GcsBucket`` (an object store), ``BigQueryWarehouse`` (a SQL
database) and ``GcpSecret`` (a secret store).

Google's libraries are imported here on first use (a client is built, a method is
called), never when this module is imported.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from orch import Block
from orch.integration import (
    ObjectStore,
    SecretStore,
    SqlDatabase,
    folder_prefix,
    relative_to_folder,
    remember_secret,
    under_folder,
)
from pydantic import Field, field_validator

from orch_gcp.credentials import GcpCredentials
from orch_gcp.errors import gcp_error, gcp_errors

__all__ = ["BigQueryWarehouse", "GcpClients", "GcpSecret", "GcsBucket"]

_ANONYMOUS_PROJECT = "orch-anonymous"


class GcpClients:
    """What ``GcpCredentials.get_client()`` holds: one ``google.auth`` credentials object
    (``credentials``; ``None`` until a client needs it) and one client per service.

    ``client(service)`` is a dictionary look-up once the client exists; clients are made
    one at a time and are thread-safe.

    Example:
        holder = GcpCredentials.load("prod").get_client()
        holder.client("storage").list_buckets()
    """

    def __init__(self, settings: GcpCredentials) -> None:
        self.settings = settings
        self.credentials: Any = None
        self.project: str | None = settings.project
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def build(cls, settings: GcpCredentials) -> GcpClients:
        """The holder of ``settings``; the credentials are made with the first client."""
        return cls(settings)

    def _google_credentials(self) -> Any:
        """The ``google.auth`` credentials: anonymous, a key (in memory), a key file, or
        ADC; then the impersonation chain on top."""
        if self.credentials is not None:
            return self.credentials
        settings = self.settings
        scopes = list(settings.scopes)
        if settings.anonymous:
            from google.auth.credentials import AnonymousCredentials

            self.credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
            self.project = self.project or _ANONYMOUS_PROJECT
            return self.credentials
        from google.oauth2 import service_account

        if settings.service_account_info is not None:
            info = settings.service_account_info.get_secret_value()
            base = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=scopes
            )
            project = info.get("project_id")
        elif settings.service_account_file:
            path = Path(settings.service_account_file).expanduser()
            if not path.is_file():
                raise FileNotFoundError(
                    f"service_account_file {str(path)!r} does not exist (gcp-credentials)"
                )
            base = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                str(path), scopes=scopes
            )
            project = base.project_id
        else:
            import google.auth

            base, project = google.auth.default(scopes=scopes)
        self.project = self.project or project
        if settings.impersonate_chain:
            from google.auth import impersonated_credentials

            target = settings.impersonate_chain[-1]
            kwargs: dict[str, Any] = {}
            iam = settings.endpoint("iamcredentials")
            if iam:
                kwargs["iam_endpoint_override"] = (
                    f"{iam}/v1/projects/-/serviceAccounts/{target}:generateAccessToken"
                )
            base = impersonated_credentials.Credentials(  # type: ignore[no-untyped-call]
                source_credentials=base,
                target_principal=target,
                # IAM's documented form of a delegate: projects/-/serviceAccounts/EMAIL
                delegates=[_resource(a) for a in settings.impersonate_chain[:-1]],
                target_scopes=scopes,
                lifetime=settings.impersonation_lifetime,
                **kwargs,
            )
        self.credentials = base
        return base

    def client(self, service: str) -> Any:
        """The client of ``service``: ``storage``, ``bigquery`` or ``secretmanager``."""
        found = self._clients.get(service)
        if found is not None:
            return found
        with self._lock:
            found = self._clients.get(service)
            if found is None:
                found = self._make(service)
                self._clients[service] = found
        return found

    def _make(self, service: str) -> Any:
        credentials = self._google_credentials()
        endpoint = self.settings.endpoint(service)
        options = {"api_endpoint": endpoint} if endpoint else None
        if service == "storage":
            from google.cloud import storage

            return storage.Client(
                project=self.project or _ANONYMOUS_PROJECT,
                credentials=credentials,
                client_options=options,
            )
        if service == "bigquery":
            from orch_gcp._deps import need

            bigquery = need("google.cloud.bigquery", "bigquery")
            return bigquery.Client(
                project=self.project, credentials=credentials, client_options=options
            )
        if service == "secretmanager":
            from orch_gcp._deps import need

            secretmanager = need("google.cloud.secretmanager", "secret-manager")
            return secretmanager.SecretManagerServiceClient(
                credentials=credentials, transport="rest", client_options=options
            )
        raise ValueError(
            f"unknown Google Cloud service {service!r} (storage, bigquery, secretmanager)"
        )

    def close(self) -> None:
        """Close every client's HTTP session."""
        with self._lock:
            clients = list(self._clients.items())
            self._clients.clear()
        for service, client in clients:
            try:
                if service == "secretmanager":
                    client.transport.close()
                elif hasattr(client, "close"):
                    client.close()
                else:  # storage: its authorised session
                    client._http.close()
            except Exception:  # noqa: S110 - closing at exit must not raise
                pass


def _resource(account: str) -> str:
    return account if account.startswith("projects/") else f"projects/-/serviceAccounts/{account}"


# --- GcsBucket --------------------------------------------------------------------------------

_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")


class GcsBucket(Block, ObjectStore):
    """A Cloud Storage bucket, the credentials to reach it, and a folder (prefix) inside it.

    Task paths are relative to ``bucket_folder``: with ``bucket_folder="raw/sales"``,
    ``gcs_upload(bucket, "day.csv", "2024-06-01.csv")`` writes
    ``gs://BUCKET/raw/sales/2024-06-01.csv``. As an object store it has Prefect's
    ``GcsBucket`` methods: ``upload_from_path``, ``download_object_to_path``,
    ``read_path``, ``write_path``, ``list_objects``.

    Example:
        from orch_gcp import GcpCredentials, GcsBucket

        GcsBucket(
            bucket="acme-datalake",
            bucket_folder="raw/sales",
            credentials=GcpCredentials.load("prod"),
        ).save("sales-raw")
    """

    block_type_slug = "gcs-bucket"

    bucket: str = Field(description="The bucket's name.")
    credentials: GcpCredentials = Field(
        default_factory=GcpCredentials,
        description="How to reach Google Cloud (default: Application Default Credentials).",
    )
    bucket_folder: str = Field(default="", description="Prefix every task path is under.")

    @field_validator("bucket")
    @classmethod
    def _check_bucket(cls, value: str) -> str:
        if not _BUCKET.fullmatch(value):
            raise ValueError(
                "a GCS bucket name has 3 to 222 characters: lowercase letters, digits, "
                "'.', '_' and '-', starting and ending with a letter or digit"
            )
        return value

    @field_validator("bucket_folder")
    @classmethod
    def _normalise_folder(cls, value: str) -> str:
        return folder_prefix(value, "bucket_folder")

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            bucket="sample-bucket",
            credentials=GcpCredentials.block_sample(),
            bucket_folder="sample/folder",
        )

    def object_name(self, path: str) -> str:
        """The full object name of ``path`` (relative to ``bucket_folder``)."""
        return under_folder(self.bucket_folder, path)

    def relative_name(self, full_name: str) -> str:
        """``full_name`` relative to ``bucket_folder`` (the inverse of :meth:`object_name`)."""
        return relative_to_folder(self.bucket_folder, full_name)

    def url(self, name: str) -> str:
        """``gs://BUCKET/NAME`` of a full object name (for messages)."""
        return f"gs://{self.bucket}/{name}"

    def get_client(self) -> Any:
        """The cached ``google.cloud.storage`` client of this bucket's credentials."""
        return self.credentials.get_client("storage")

    def get_bucket(self, action: str = "get_bucket") -> Any:
        """The ``storage.Bucket`` handle (no API call)."""
        try:
            return self.get_client().bucket(self.bucket)
        except gcp_errors(FileNotFoundError) as exc:
            raise self.fail(exc, action, None) from exc

    def fail(self, exc: BaseException, action: str, name: str | None) -> Exception:
        """The orch error of ``exc`` raised doing ``action`` on object ``name``."""
        if isinstance(exc, FileNotFoundError):
            return exc
        what = self.url(name) if name is not None else f"gs://{self.bucket}"
        return gcp_error(exc, action=action, block=self, what=what)

    # --- the ObjectStore role (Prefect's GcsBucket names and arguments) --------------------
    def upload_from_path(
        self, from_path: str | Path, to_path: str | None = None, **upload_kwargs: Any
    ) -> str:
        """Upload the local file ``from_path`` to ``to_path`` (default: its file name);
        returns the object's full name.

        Example:
            bucket.upload_from_path("report.csv", "reports/2024.csv")
        """
        path = Path(from_path)
        if not path.is_file():
            raise FileNotFoundError(f"upload_from_path: no such file {str(path)!r}")
        name = self.object_name(to_path if to_path is not None else path.name)
        blob = self.get_bucket("upload_from_path").blob(name)
        try:
            blob.upload_from_filename(str(path), **upload_kwargs)
        except gcp_errors() as exc:
            raise self.fail(exc, "upload_from_path", name) from exc
        return name

    def download_object_to_path(
        self, from_path: str, to_path: str | Path | None = None, **download_kwargs: Any
    ) -> Path:
        """Download the object ``from_path`` to the local file ``to_path`` (default: its
        name in the working folder), atomically; returns the absolute local path.

        Example:
            bucket.download_object_to_path("reports/2024.csv", "/tmp/2024.csv")
        """
        target = Path(to_path if to_path is not None else Path(from_path).name).absolute()
        name = self.object_name(from_path)
        blob = self.get_bucket("download_object_to_path").blob(name)
        with atomic_file(target) as part:
            try:
                blob.download_to_filename(str(part), **download_kwargs)
            except gcp_errors() as exc:
                raise self.fail(exc, "download_object_to_path", name) from exc
        return target

    def read_path(self, path: str) -> bytes:
        """The content of the object ``path``.

        Example:
            bucket.read_path("reports/2024.csv")
        """
        name = self.object_name(path)
        blob = self.get_bucket("read_path").blob(name)
        try:
            return bytes(blob.download_as_bytes())
        except gcp_errors() as exc:
            raise self.fail(exc, "read_path", name) from exc

    def write_path(self, path: str, content: bytes) -> str:
        """Write ``content`` to the object ``path``; returns the object's full name.

        Example:
            bucket.write_path("reports/2024.csv", b"id,amount\\n")
        """
        name = self.object_name(path)
        blob = self.get_bucket("write_path").blob(name)
        try:
            blob.upload_from_string(content)
        except gcp_errors() as exc:
            raise self.fail(exc, "write_path", name) from exc
        return name

    def list_objects(
        self,
        folder: str = "",
        delimiter: str = "",
        page_size: int | None = None,
        max_items: int | None = None,
    ) -> list[dict[str, Any]]:
        """The objects under ``folder``: ``Key`` (the full name), ``Size``, ``Updated``,
        ``ETag``, ``ContentType``, in name order.

        Example:
            [o["Key"] for o in bucket.list_objects("reports/")]
        """
        prefix = self.object_name(folder) if folder else self.bucket_folder
        try:
            blobs = self.get_client().list_blobs(
                self.bucket,
                prefix=prefix or None,
                delimiter=delimiter or None,
                page_size=page_size,
                max_results=max_items,
            )
            return [
                {
                    "Key": b.name,
                    "Size": b.size,
                    "Updated": b.updated,
                    "ETag": b.etag,
                    "ContentType": b.content_type,
                }
                for b in blobs
            ]
        except gcp_errors() as exc:
            raise self.fail(exc, "list_objects", prefix or None) from exc


class atomic_file:
    """A temporary file beside ``target`` that replaces it only when the block ends
    without an error; otherwise it is removed and ``target`` is left as it was.

    Example:
        with atomic_file(Path("out.csv")) as part:
            part.write_bytes(b"...")
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        self.part: Path | None = None

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f".{self.target.name}.", suffix=".part", dir=self.target.parent
        )
        os.close(fd)
        self.part = Path(name)
        return self.part

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        assert self.part is not None
        if kind is None:
            os.replace(self.part, self.target)
        else:
            self.part.unlink(missing_ok=True)


# --- BigQueryWarehouse ------------------------------------------------------------------------


class BigQueryWarehouse(Block, SqlDatabase):
    """BigQuery: the credentials, a location, a default dataset, job labels and a cap on
    bytes billed for every query.

    As a SQL database it has the methods of Prefect's ``BigQueryWarehouse``:
    ``execute``, ``execute_many``, ``fetch_one``, ``fetch_many``, ``fetch_all``.
    Parameters are BigQuery's: ``@name`` with a mapping, ``?`` with a sequence.

    Example:
        from orch_gcp import BigQueryWarehouse, GcpCredentials

        BigQueryWarehouse(
            credentials=GcpCredentials.load("prod"),
            location="EU",
            default_dataset="analytics",
            labels={"team": "data"},
            maximum_bytes_billed=10 * 2**30,
        ).save("bq")
        rows = BigQueryWarehouse.load("bq").fetch_all("SELECT 1 AS one")
    """

    block_type_slug = "bigquery-warehouse"

    credentials: GcpCredentials = Field(
        default_factory=GcpCredentials,
        description="How to reach Google Cloud (default: Application Default Credentials).",
    )
    location: str | None = Field(default=None, description="Location of jobs (US, EU...).")
    default_dataset: str | None = Field(
        default=None, description="Dataset of unqualified table names (DATASET or PROJECT.DATASET)."
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Labels on every job.")
    maximum_bytes_billed: int | None = Field(
        default=None, ge=1, description="A query that would bill more bytes fails instead."
    )
    fetch_size: int = Field(default=1000, ge=1, description="Rows of fetch_many by default.")

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            credentials=GcpCredentials.block_sample(),
            location="EU",
            default_dataset="analytics",
            labels={"team": "data"},
        )

    def get_client(self) -> Any:
        """The cached ``google.cloud.bigquery`` client of these credentials."""
        return self.credentials.get_client("bigquery")

    def dataset_ref(self, dataset: str | None = None) -> str:
        """``PROJECT.DATASET`` of ``dataset`` (default: ``default_dataset``)."""
        name = dataset or self.default_dataset
        if not name:
            raise ValueError(
                "no dataset: give one, or set default_dataset on the BigQueryWarehouse block"
            )
        if "." in name:
            return name
        project = self.get_client().project
        return f"{project}.{name}"

    def table_ref(self, table: str) -> str:
        """``PROJECT.DATASET.TABLE`` of ``table`` (``TABLE`` is in ``default_dataset``)."""
        parts = table.split(".")
        if len(parts) == 3:
            return table
        if len(parts) == 2:
            return f"{self.get_client().project}.{table}"
        return f"{self.dataset_ref()}.{table}"

    # --- the SqlDatabase role -----------------------------------------------------------
    def execute(
        self,
        operation: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        **execution_options: Any,
    ) -> int | None:
        """Run one statement (DML/DDL); returns the rows it changed (``None`` for DDL).

        Example:
            warehouse.execute("DELETE FROM t WHERE day < @day", {"day": "2024-01-01"})
        """
        from orch_gcp.tasks.bigquery import run_statement

        return run_statement(self, operation, parameters, **execution_options)

    def execute_many(
        self,
        operation: str,
        seq_of_parameters: Sequence[Mapping[str, Any] | Sequence[Any]],
        **execution_options: Any,
    ) -> int:
        """Run one statement once per parameter set; returns the rows changed in all.

        Example:
            warehouse.execute_many("INSERT INTO t VALUES (@id)", [{"id": 1}, {"id": 2}])
        """
        return sum(
            self.execute(operation, params, **execution_options) or 0
            for params in seq_of_parameters
        )

    def fetch_one(
        self,
        operation: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        **execution_options: Any,
    ) -> Sequence[Any] | None:
        """The first row of the result (``None`` if there is none).

        Example:
            warehouse.fetch_one("SELECT COUNT(*) FROM t")
        """
        rows = self.fetch_many(operation, parameters, size=1, **execution_options)
        return rows[0] if rows else None

    def fetch_many(
        self,
        operation: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        size: int | None = None,
        **execution_options: Any,
    ) -> list[Sequence[Any]]:
        """At most ``size`` rows (default: ``fetch_size``) of the result.

        Example:
            warehouse.fetch_many("SELECT * FROM t", size=10)
        """
        from orch_gcp.tasks.bigquery import iter_rows

        limit = size or self.fetch_size
        rows: list[Sequence[Any]] = []
        for row in iter_rows(self, operation, parameters, **execution_options):
            rows.append(tuple(row.values()))
            if len(rows) >= limit:
                break
        return rows

    def fetch_all(
        self,
        operation: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        **execution_options: Any,
    ) -> list[Sequence[Any]]:
        """Every row of the result.

        Example:
            warehouse.fetch_all("SELECT id, name FROM t")
        """
        from orch_gcp.tasks.bigquery import iter_rows

        return [
            tuple(row.values())
            for row in iter_rows(self, operation, parameters, **execution_options)
        ]


# --- GcpSecret --------------------------------------------------------------------------------


class GcpSecret(Block, SecretStore):
    """A secret in Secret Manager (extra ``orch-gcp[secret-manager]``), with the
    credentials to reach it.

    Only the name is stored, never the value. To use a secret *inside another block's
    field*, prefer a reference: ``SecretRef("gcp-sm://PROJECT/NAME#password")``. As a
    secret store it has Prefect's ``GcpSecret`` methods: ``read_secret``,
    ``write_secret``, ``delete_secret``.

    Example:
        from orch_gcp import GcpCredentials, GcpSecret

        GcpSecret(secret_name="warehouse", credentials=GcpCredentials.load("prod")).save("wh")
        value = GcpSecret.load("wh").read_secret()
    """

    block_type_slug = "gcp-secret"
    # `secret_name` names the secret in Secret Manager; the value never lives in this block.
    block_not_secret = frozenset({"secret_name", "secret_version"})

    secret_name: str = Field(min_length=1, description="The secret's id (or its full name).")
    secret_version: str = Field(default="latest", description="The version to read.")
    project: str | None = Field(
        default=None, description="Project of the secret (default: the credentials')."
    )
    credentials: GcpCredentials = Field(
        default_factory=GcpCredentials,
        description="How to reach Google Cloud (default: Application Default Credentials).",
    )

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            secret_name="sample-secret",  # noqa: S106 - a name, not a secret
            project="sample-project",
            credentials=GcpCredentials.block_sample(),
        )

    def get_client(self) -> Any:
        """The cached Secret Manager client (REST) of these credentials."""
        return self.credentials.get_client("secretmanager")

    # --- the SecretStore role (Prefect's GcpSecret names and arguments) --------------------
    def read_secret(self) -> bytes:
        """The value of ``secret_version`` (default: the latest); masked in logs.

        Example:
            GcpSecret.load("wh").read_secret()
        """
        from orch_gcp.tasks.secret_manager import access_secret

        value = access_secret(
            self.credentials, self.secret_name, self.secret_version, self.project, self
        )
        remember_secret(value)
        return value

    def write_secret(self, secret_data: bytes) -> str:
        """Add ``secret_data`` as a new version, creating the secret if need be; returns
        the version's name.

        Example:
            GcpSecret.load("wh").write_secret(b"s3cret")
        """
        from orch_gcp.tasks.secret_manager import add_version

        return add_version(self.credentials, self.secret_name, secret_data, self.project, self)

    def delete_secret(self) -> str:
        """Delete the secret and all its versions; returns its name.

        Example:
            GcpSecret.load("old").delete_secret()
        """
        from orch_gcp.tasks.secret_manager import remove_secret

        return remove_secret(self.credentials, self.secret_name, self.project, self)
