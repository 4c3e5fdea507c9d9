"""The boto3 side of orch-aws: the client holder of ``AwsCredentials``, and the blocks
that use its clients, ``S3Bucket`` (an object store) and ``AwsSecret`` (a secret store).

boto3 is imported here on first use (a client is built, a method is called), never when
this module is imported.
"""

from __future__ import annotations

import io
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from orch import Block
from orch.integration import (
    ObjectStore,
    SecretStore,
    folder_prefix,
    relative_to_folder,
    remember_secret,
    secret_cache_ttl,
    under_folder,
)
from pydantic import Field, field_validator

from orch_aws.credentials import AwsCredentials
from orch_aws.errors import aws_errors, s3_error, secret_error

if TYPE_CHECKING:
    from orch import SecretStr

__all__ = ["AwsClients", "AwsSecret", "S3Bucket"]


class AwsClients:
    """What ``AwsCredentials.get_client()`` holds: one boto3 session and its clients.

    ``client(service, region_name)`` is a dictionary look-up once the client exists;
    clients are made one at a time (a boto3 Session is not thread-safe; clients are).
    ``sts`` is the STS client of an assumed role's refresher (``None`` without a role).

    Example:
        holder = AwsCredentials.load("prod").get_client()
        holder.client("s3").list_buckets()
    """

    def __init__(self, credentials: AwsCredentials, session: Any, sts: Any = None) -> None:
        self.session = session
        self.sts = sts
        self._region = credentials.region_name
        self._endpoint = credentials.endpoint_url
        self._config = _botocore_config(credentials)
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def build(cls, credentials: AwsCredentials) -> AwsClients:
        """The session of ``credentials`` (keys, references, profile, role), no client yet."""
        import boto3

        if _keys_are_references(credentials):
            base = _following_references_session(credentials)
        else:
            base = boto3.Session(
                aws_access_key_id=_reveal(credentials.aws_access_key_id),
                aws_secret_access_key=_reveal(credentials.aws_secret_access_key),
                aws_session_token=_reveal(credentials.aws_session_token),
                profile_name=credentials.profile_name,
                region_name=credentials.region_name,
            )
        if not credentials.role_arn:
            return cls(credentials, base)
        session, sts = _assumed_role_session(credentials, base)
        return cls(credentials, session, sts)

    def client(self, service: str, region_name: str | None = None) -> Any:
        """The boto3 client of ``service`` in ``region_name`` (default: the block's)."""
        key = (service, region_name)
        found = self._clients.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                found = self.session.client(
                    service,
                    region_name=region_name or self._region,
                    endpoint_url=self._endpoint,
                    config=self._config,
                )
                self._clients[key] = found
        return found

    def close(self) -> None:
        """Close every client (their connection pools)."""
        with self._lock:
            clients = [*self._clients.values(), *([self.sts] if self.sts is not None else [])]
            self._clients.clear()
        for client in clients:
            client.close()


def _reveal(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()


def _botocore_config(credentials: AwsCredentials) -> Any:
    from botocore.config import Config

    retries: dict[str, Any] = {"mode": credentials.retry_mode}
    if credentials.max_attempts is not None:
        retries["total_max_attempts"] = credentials.max_attempts
    # A pool as large as the default transfer concurrency, so parallel parts and
    # parallel tasks do not wait for a connection.
    return Config(retries=retries, max_pool_connections=32)


def _keys_are_references(credentials: AwsCredentials) -> bool:
    keys = (
        credentials.aws_access_key_id,
        credentials.aws_secret_access_key,
        credentials.aws_session_token,
    )
    return any(k is not None and k.reference is not None for k in keys)


def _session_with_provider(credentials: AwsCredentials, provider: Any) -> Any:
    import boto3
    import botocore.session
    from botocore.credentials import CredentialResolver

    core = botocore.session.Session()
    core.register_component("credential_provider", CredentialResolver([provider]))
    if credentials.region_name:
        core.set_config_variable("region", credentials.region_name)
    return boto3.Session(botocore_session=core)


def _following_references_session(credentials: AwsCredentials) -> Any:
    """A session whose keys are resolved again each time their cached values expire.

    Clients live as long as the process, but keys kept in a secrets manager are rotated:
    botocore's refreshable credentials ask us again once the resolved values' TTL
    (ORCH_SECRET_TTL) has run out, so a rotation is picked up without a restart.
    """
    from botocore.credentials import CredentialProvider, RefreshableCredentials

    class _ReferenceCredentials(RefreshableCredentials):  # type: ignore[misc]
        # botocore refreshes STS tokens 15/10 minutes ahead of expiry; these values
        # "expire" when our cache does, so refresh then and not before.
        _advisory_refresh_timeout = 0
        _mandatory_refresh_timeout = 0

    def fetch() -> dict[str, Any]:
        expiry = datetime.now(UTC) + timedelta(seconds=max(secret_cache_ttl(), 1.0))
        return {
            "access_key": _reveal(credentials.aws_access_key_id),
            "secret_key": _reveal(credentials.aws_secret_access_key),
            "token": _reveal(credentials.aws_session_token),
            "expiry_time": expiry.isoformat(),
        }

    class _ReferenceProvider(CredentialProvider):  # type: ignore[misc]
        METHOD = "orch-secret-references"

        def load(self) -> Any:
            return _ReferenceCredentials.create_from_metadata(
                metadata=fetch(), refresh_using=fetch, method=self.METHOD
            )

    return _session_with_provider(credentials, _ReferenceProvider())


def _assumed_role_session(credentials: AwsCredentials, base: Any) -> tuple[Any, Any]:
    """A session on ``role_arn``'s credentials (fetched with ``base``'s), and its STS client."""
    from botocore.credentials import (
        CredentialProvider,
        DeferredRefreshableCredentials,
        create_assume_role_refresher,
    )

    sts = base.client(
        "sts",
        region_name=credentials.region_name,
        endpoint_url=credentials.endpoint_url,
        config=_botocore_config(credentials),
    )
    params: dict[str, Any] = {
        "RoleArn": credentials.role_arn,
        "RoleSessionName": credentials.role_session_name,
        "DurationSeconds": credentials.duration_seconds,
    }
    if credentials.external_id:
        params["ExternalId"] = credentials.external_id
    refresher = create_assume_role_refresher(sts, params)

    class _AssumeRoleProvider(CredentialProvider):  # type: ignore[misc]
        METHOD = "assume-role"

        def load(self) -> Any:
            # Deferred: STS is called on the first request, then again before expiry
            # (botocore refreshes 15 min ahead, blocking only in the last 10 min).
            return DeferredRefreshableCredentials(refresher, method=self.METHOD)

    return _session_with_provider(credentials, _AssumeRoleProvider()), sts


# --- S3Bucket ---------------------------------------------------------------------------------

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class S3Bucket(Block, ObjectStore):
    """An S3 bucket, the credentials to reach it, and a folder (key prefix) inside it.

    Task keys are relative to ``bucket_folder``: with ``bucket_folder="raw/sales"``,
    ``s3_upload(bucket, "day.csv", "2024-06-01.csv")`` writes
    ``s3://BUCKET/raw/sales/2024-06-01.csv``. As an object store it has Prefect's
    ``S3Bucket`` methods: ``upload_from_path``, ``download_object_to_path``,
    ``read_path``, ``write_path``, ``list_objects``.

    Example:
        from orch_aws import AwsCredentials, S3Bucket

        S3Bucket(
            bucket_name="acme-datalake",
            bucket_folder="raw/sales",
            credentials=AwsCredentials.load("prod"),
        ).save("sales-raw")
    """

    block_type_slug = "s3-bucket"

    bucket_name: str = Field(description="The bucket's name (3 to 63 characters).")
    credentials: AwsCredentials = Field(
        default_factory=AwsCredentials,
        description="How to reach AWS (default: boto3's default chain).",
    )
    bucket_folder: str = Field(default="", description="Key prefix every task key is under.")

    @field_validator("bucket_name")
    @classmethod
    def _check_bucket_name(cls, value: str) -> str:
        if not _BUCKET.fullmatch(value):
            raise ValueError(
                "an S3 bucket name has 3 to 63 characters: lowercase letters, digits, '.' "
                "and '-', starting and ending with a letter or digit"
            )
        return value

    @field_validator("bucket_folder")
    @classmethod
    def _normalise_folder(cls, value: str) -> str:
        return folder_prefix(value, "bucket_folder")

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            bucket_name="sample-bucket",
            credentials=AwsCredentials.block_sample(),
            bucket_folder="sample/folder",
        )

    def object_key(self, key: str) -> str:
        """The full object key of ``key`` (relative to ``bucket_folder``)."""
        return under_folder(self.bucket_folder, key)

    def relative_key(self, full_key: str) -> str:
        """``full_key`` relative to ``bucket_folder`` (the inverse of :meth:`object_key`)."""
        return relative_to_folder(self.bucket_folder, full_key)

    def get_client(self) -> Any:
        """The cached boto3 S3 client of this bucket's credentials."""
        return self.credentials.get_client("s3")

    def _client(self, action: str) -> Any:
        # A client that cannot be built (a missing profile) is an error naming the block.
        try:
            return self.credentials.get_client("s3")
        except aws_errors() as exc:
            raise s3_error(exc, action=action, bucket=self, bucket_name=self.bucket_name) from exc

    def _fail(self, exc: BaseException, action: str, key: str | None) -> Exception:
        return s3_error(exc, action=action, bucket=self, bucket_name=self.bucket_name, key=key)

    # --- the ObjectStore role (Prefect's S3Bucket names and arguments) ---------------------
    # Paths are relative to bucket_folder; the returned paths are the full keys, as Prefect's.
    def upload_from_path(
        self, from_path: str | Path, to_path: str | None = None, **upload_kwargs: Any
    ) -> str:
        """Upload the local file ``from_path`` to ``to_path`` (default: its file name);
        returns the object's full key. ``upload_kwargs`` go to boto3's ``upload_file``
        (``ExtraArgs=...``).

        Example:
            bucket.upload_from_path("report.csv", "reports/2024.csv")
        """
        path = Path(from_path)
        if not path.is_file():
            raise FileNotFoundError(f"upload_from_path: no such file {str(path)!r}")
        key = self.object_key(to_path if to_path is not None else path.name)
        client = self._client("upload_from_path")
        try:
            client.upload_file(
                Filename=str(path), Bucket=self.bucket_name, Key=key, **upload_kwargs
            )
        except aws_errors() as exc:
            raise self._fail(exc, "upload_from_path", key) from exc
        return key

    def download_object_to_path(
        self, from_path: str, to_path: str | Path | None = None, **download_kwargs: Any
    ) -> Path:
        """Download the object ``from_path`` to the local file ``to_path`` (default: its
        name in the working folder); returns the absolute local path.

        Example:
            bucket.download_object_to_path("reports/2024.csv", "/tmp/2024.csv")
        """
        target = Path(to_path if to_path is not None else Path(from_path).name).absolute()
        key = self.object_key(from_path)
        client = self._client("download_object_to_path")
        try:
            client.download_file(
                Bucket=self.bucket_name, Key=key, Filename=str(target), **download_kwargs
            )
        except aws_errors() as exc:
            raise self._fail(exc, "download_object_to_path", key) from exc
        return target

    def read_path(self, path: str) -> bytes:
        """The content of the object ``path``.

        Example:
            bucket.read_path("reports/2024.csv")
        """
        key = self.object_key(path)
        client = self._client("read_path")
        try:
            body = client.get_object(Bucket=self.bucket_name, Key=key)["Body"]
            with body:
                return bytes(body.read())
        except aws_errors() as exc:
            raise self._fail(exc, "read_path", key) from exc

    def write_path(self, path: str, content: bytes) -> str:
        """Write ``content`` to the object ``path``; returns the object's full key.

        Example:
            bucket.write_path("reports/2024.csv", b"id,amount\\n")
        """
        key = self.object_key(path)
        client = self._client("write_path")
        try:
            client.upload_fileobj(io.BytesIO(content), self.bucket_name, key)
        except aws_errors() as exc:
            raise self._fail(exc, "write_path", key) from exc
        return key

    def list_objects(
        self,
        folder: str = "",
        delimiter: str = "",
        page_size: int | None = None,
        max_items: int | None = None,
        jmespath_query: str | None = None,
    ) -> list[dict[str, Any]]:
        """The objects under ``folder`` as S3 describes them (``Key`` is the full key,
        ``Size``, ``LastModified``, ``ETag``...), in key order.

        ``delimiter="/"`` stops at the next "folder"; ``page_size`` keys per request,
        ``max_items`` at most; ``jmespath_query`` filters (``"Contents[?Size > `100`][]"``).

        Example:
            [o["Key"] for o in bucket.list_objects("reports/")]
        """
        prefix = self.object_key(folder) if folder else self.bucket_folder
        client = self._client("list_objects")
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket_name,
            Prefix=prefix,
            Delimiter=delimiter,
            PaginationConfig={"PageSize": page_size, "MaxItems": max_items},
        )
        try:
            if jmespath_query:
                found = pages.search(f"{jmespath_query} | {{Contents: @}}")
                return [item for page in found if page for item in page.get("Contents", ())]
            return [item for page in pages for item in page.get("Contents", ())]
        except aws_errors() as exc:
            raise self._fail(exc, "list_objects", None) from exc


# --- AwsSecret --------------------------------------------------------------------------------


class AwsSecret(Block, SecretStore):
    """A secret in AWS Secrets Manager, named (or by ARN), with the credentials to reach it.

    Only the name is stored, never the value. To use a secret *inside another block's
    field*, prefer a reference: ``SecretRef("aws-sm://prod/warehouse#password")``. As a
    secret store it has Prefect's ``AwsSecret`` methods: ``read_secret``,
    ``write_secret``, ``delete_secret``.

    Example:
        from orch_aws import AwsCredentials, AwsSecret

        AwsSecret(secret_name="prod/warehouse", credentials=AwsCredentials.load("prod")).save(
            "warehouse"
        )
        value = AwsSecret.load("warehouse").read_secret()
    """

    block_type_slug = "aws-secret"
    # `secret_name` names the secret in AWS; the value never lives in this block.
    block_not_secret = frozenset({"secret_name"})

    secret_name: str = Field(min_length=1, description="The secret's name or ARN.")
    credentials: AwsCredentials = Field(
        default_factory=AwsCredentials,
        description="How to reach AWS (default: boto3's default chain).",
    )

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            secret_name="sample/secret",  # noqa: S106 - a name, not a secret
            credentials=AwsCredentials.block_sample(),
        )

    def get_client(self) -> Any:
        """The cached boto3 Secrets Manager client of this secret's credentials."""
        return self.credentials.get_client("secretsmanager")

    def _call(self, action: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.get_client(), operation)(**kwargs)
        except aws_errors() as exc:
            raise secret_error(
                exc, action=action, name=self.secret_name, credentials=self.credentials
            ) from exc
        return response

    # --- the SecretStore role (Prefect's AwsSecret names and arguments) --------------------
    def read_secret(
        self,
        version_id: str | None = None,
        version_stage: str | None = None,
        **read_kwargs: Any,
    ) -> bytes:
        """The secret's value as bytes (a string secret is UTF-8 encoded); masked in logs.

        Example:
            AwsSecret.load("warehouse").read_secret()
        """
        if version_id:
            read_kwargs["VersionId"] = version_id
        if version_stage:
            read_kwargs["VersionStage"] = version_stage
        response = self._call(
            "read_secret", "get_secret_value", SecretId=self.secret_name, **read_kwargs
        )
        if response.get("SecretString") is not None:
            text = str(response["SecretString"])
            remember_secret(text)
            return text.encode()
        value = bytes(response["SecretBinary"])
        remember_secret(value)
        return value

    def write_secret(self, secret_data: bytes, **put_or_create_secret_kwargs: Any) -> str:
        """Store ``secret_data`` as the secret's new value, creating the secret if it does
        not exist; returns its ARN.

        Example:
            AwsSecret.load("warehouse").write_secret(b'{"password": "..."}')
        """
        try:
            response = self.get_client().put_secret_value(
                SecretId=self.secret_name, SecretBinary=secret_data, **put_or_create_secret_kwargs
            )
        except aws_errors() as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") != (
                "ResourceNotFoundException"
            ):
                raise secret_error(
                    exc, action="write_secret", name=self.secret_name, credentials=self.credentials
                ) from exc
            response = self._call(
                "write_secret",
                "create_secret",
                Name=self.secret_name,
                SecretBinary=secret_data,
                **put_or_create_secret_kwargs,
            )
        return str(response["ARN"])

    def delete_secret(
        self,
        recovery_window_in_days: int = 30,
        force_delete_without_recovery: bool = False,
        **delete_kwargs: Any,
    ) -> str:
        """Delete the secret: restorable for ``recovery_window_in_days`` (7-30), or at once
        with ``force_delete_without_recovery``; returns its ARN.

        Example:
            AwsSecret.load("old").delete_secret(force_delete_without_recovery=True)
        """
        if force_delete_without_recovery:
            delete_kwargs["ForceDeleteWithoutRecovery"] = True
        else:
            if not 7 <= recovery_window_in_days <= 30:
                raise ValueError(
                    f"delete_secret: recovery_window_in_days must be 7 to 30, got "
                    f"{recovery_window_in_days} (secret {self.secret_name!r})"
                )
            delete_kwargs["RecoveryWindowInDays"] = recovery_window_in_days
        response = self._call(
            "delete_secret", "delete_secret", SecretId=self.secret_name, **delete_kwargs
        )
        return str(response["ARN"])
