"""The Azure SDK side of orch-azure: the client holder of ``AzureCredentials``, and the
blocks that use its clients, ``AzureBlobContainer`` (an object store) and
``AzureKeyVault`` (a secret store).

azure-storage-blob, azure-identity and azure-keyvault-secrets are imported here on first
use (a client is built), never when this module is imported. Every client is the SDK's
sync client.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from orch import Block
from orch.integration import (
    MissingDependencyError,
    ObjectStore,
    SecretStore,
    folder_prefix,
    redact,
    relative_to_folder,
    remember_secret,
    under_folder,
)
from pydantic import Field, field_validator

from orch_azure.credentials import TOKEN_METHODS, AzureCredentials
from orch_azure.errors import AzureAuthError, azure_error, azure_errors

if TYPE_CHECKING:
    from orch import SecretStr

__all__ = ["AzureBlobContainer", "AzureClients", "AzureKeyVault"]


def _reveal(secret: SecretStr | None) -> str | None:
    if secret is None:
        return None
    value = secret.get_secret_value()
    remember_secret(value)  # never shown in a message or a log line
    return value


class AzureClients:
    """What ``AzureCredentials.get_client()`` holds: the SDK's sync clients of one block.

    ``blob_service()`` is the ``BlobServiceClient`` of the account; ``token_credential()``
    the azure-identity credential of a token method (``None`` otherwise);
    ``secret_client(vault_url)`` a Key Vault ``SecretClient``. Each is made once, on first
    use, and shared by every thread; ``close()`` closes them all.

    Example:
        clients = AzureCredentials.load("acme").get_client()
        clients.blob_service().list_containers()
    """

    def __init__(self, credentials: AzureCredentials) -> None:
        self.credentials = credentials
        self._lock = threading.Lock()
        self._blob_service: Any = None
        self._token_credential: Any = None
        self._secret_clients: dict[tuple[str, bool], Any] = {}

    def _client_options(self) -> dict[str, Any]:
        # The SDK logs a line per request and response at INFO (Airflow #33255): at DEBUG
        # unless the block asks for them.
        if self.credentials.http_logging:
            return {}
        return {"http_logging_level": logging.DEBUG}

    def token_credential(self) -> Any:
        """The azure-identity credential (``service_principal``/``default``), else ``None``."""
        creds = self.credentials
        if creds.method not in TOKEN_METHODS:
            return None
        if self._token_credential is None:
            with self._lock:
                if self._token_credential is None:
                    self._token_credential = self._build_token_credential()
        return self._token_credential

    def _build_token_credential(self) -> Any:
        creds = self.credentials
        try:
            import azure.identity as identity
        except ImportError as exc:
            raise MissingDependencyError(
                f"auth_method {creds.method!r} needs azure-identity: "
                "pip install 'orch-azure[identity]'"
            ) from exc
        options: dict[str, Any] = self._client_options()
        if creds.authority_host:
            options["authority"] = creds.authority_host
        if creds.disable_instance_discovery:
            options["disable_instance_discovery"] = True
        if creds.method == "default":
            if creds.managed_identity_client_id:
                options["managed_identity_client_id"] = creds.managed_identity_client_id
            return identity.DefaultAzureCredential(**options)
        tenant, client = str(creds.tenant_id), str(creds.client_id)  # the validator saw to it
        if creds.client_secret is not None:
            return identity.ClientSecretCredential(
                tenant, client, str(_reveal(creds.client_secret)), **options
            )
        password = _reveal(creds.client_certificate_password)
        if password is not None:
            options["password"] = password.encode()
        if creds.client_certificate is not None:
            data = _reveal(creds.client_certificate)
            assert data is not None
            options["certificate_data"] = data.encode()
            where = "client_certificate"
        else:
            options["certificate_path"] = creds.client_certificate_path
            where = f"client_certificate_path {creds.client_certificate_path}"
        try:
            return identity.CertificateCredential(tenant, client, **options)
        except (ValueError, OSError) as exc:
            # Never the PEM text or its password: the SDK's own sentence, or the file error.
            reason = exc.strerror if isinstance(exc, OSError) else str(exc).splitlines()[0]
            raise AzureAuthError(
                f"cannot load the certificate of {_label(creds)} ({where}): "
                f"{redact(str(reason))[:200]}"
            ) from exc

    def blob_service(self) -> Any:
        """The account's ``BlobServiceClient`` (thread-safe; made once)."""
        found = self._blob_service
        if found is not None:
            return found
        with self._lock:
            if self._blob_service is None:
                self._blob_service = self._build_blob_service()
            return self._blob_service

    def _build_blob_service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        creds = self.credentials
        options = self._client_options()
        if creds.method == "connection_string":
            conn = _reveal(creds.connection_string)
            assert conn is not None
            try:
                return BlobServiceClient.from_connection_string(conn, **options)
            except ValueError:
                # The SDK's message may quote the string: say what is wrong, not what it is.
                raise ValueError(
                    f"connection_string of {_label(creds)} is malformed (value not shown)"
                ) from None
        if not creds.account_url:
            raise ValueError(
                f"{_label(creds)} has no account_url: give the storage account's blob "
                "endpoint (https://ACCOUNT.blob.core.windows.net) to reach Blob Storage"
            )
        credential: Any
        if creds.method == "account_key":
            credential = _reveal(creds.account_key)
        elif creds.method == "sas":
            credential = (_reveal(creds.sas_token) or "").lstrip("?")
        else:
            credential = self.token_credential()
        return BlobServiceClient(creds.account_url, credential=credential, **options)

    def secret_client(self, vault_url: str, verify_challenge_resource: bool = True) -> Any:
        """A Key Vault ``SecretClient`` of ``vault_url`` (made once per vault)."""
        key = (vault_url, verify_challenge_resource)
        found = self._secret_clients.get(key)
        if found is not None:
            return found
        creds = self.credentials
        if creds.method not in TOKEN_METHODS:
            raise AzureAuthError(
                f"{_label(creds)} uses auth_method {creds.method!r}, which reaches only "
                "storage: Key Vault needs a token (service_principal or default)"
            )
        try:
            from azure.keyvault.secrets import SecretClient
        except ImportError as exc:
            raise MissingDependencyError(
                "Key Vault needs azure-keyvault-secrets: pip install 'orch-azure[keyvault]'"
            ) from exc
        credential = self.token_credential()
        with self._lock:
            found = self._secret_clients.get(key)
            if found is None:
                found = SecretClient(
                    vault_url,
                    credential,
                    verify_challenge_resource=verify_challenge_resource,
                    **self._client_options(),
                )
                self._secret_clients[key] = found
        return found

    def close(self) -> None:
        """Close every client and the token credential (their connection pools)."""
        with self._lock:
            clients = [self._blob_service, *self._secret_clients.values()]
            clients.append(self._token_credential)
            self._blob_service = None
            self._token_credential = None
            self._secret_clients.clear()
        for client in clients:
            if client is not None:
                client.close()


def _label(credentials: AzureCredentials) -> str:
    from orch.integration import block_label

    return block_label(credentials, credentials.account_url or credentials.method)


# --- AzureBlobContainer -----------------------------------------------------------------------

# Azure's rule: 3 to 63 characters, lowercase letters, digits and single dashes.
_CONTAINER = re.compile(r"(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]|\$root|\$web|\$logs")


class AzureBlobContainer(Block, ObjectStore):
    """A Blob Storage container, the credentials to reach it, and a folder inside it.

    Task paths are relative to ``folder``: with ``folder="raw/sales"``,
    ``blob_upload(container, "day.csv", "2024-06-01.csv")`` writes the blob
    ``raw/sales/2024-06-01.csv``. As an object store it has the kit's methods
    (Prefect's names): ``upload_from_path``, ``download_object_to_path``, ``read_path``,
    ``write_path``, ``list_objects``.

    Example:
        from orch_azure import AzureBlobContainer, AzureCredentials

        AzureBlobContainer(
            container_name="datalake",
            folder="raw/sales",
            credentials=AzureCredentials.load("acme"),
        ).save("sales-raw")
    """

    block_type_slug = "azure-blob-container"

    container_name: str = Field(description="The container's name (3 to 63 characters).")
    credentials: AzureCredentials = Field(description="How to reach the storage account.")
    folder: str = Field(default="", description="Blob name prefix every task path is under.")

    @field_validator("container_name")
    @classmethod
    def _check_container_name(cls, value: str) -> str:
        if not _CONTAINER.fullmatch(value):
            raise ValueError(
                "a container name has 3 to 63 characters: lowercase letters, digits and "
                "single '-', starting and ending with a letter or digit"
            )
        return value

    @field_validator("folder")
    @classmethod
    def _normalise_folder(cls, value: str) -> str:
        return folder_prefix(value, "folder")

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            container_name="sample-container",
            credentials=AzureCredentials.block_sample(),
            folder="sample/folder",
        )

    def blob_name(self, path: str) -> str:
        """The full blob name of ``path`` (relative to ``folder``)."""
        return under_folder(self.folder, path)

    def relative_name(self, full_name: str) -> str:
        """``full_name`` relative to ``folder`` (the inverse of :meth:`blob_name`)."""
        return relative_to_folder(self.folder, full_name)

    def get_client(self) -> Any:
        """The ``ContainerClient`` of this container (on the credentials' cached service).

        Example:
            AzureBlobContainer.load("sales-raw").get_client().get_container_properties()
        """
        return self._container("get_client")

    def _container(self, action: str) -> Any:
        try:
            service = self.credentials.get_client().blob_service()
        except azure_errors() as exc:
            raise azure_error(exc, action=action, block=self) from exc
        return service.get_container_client(self.container_name)

    def _blob(self, action: str, full_name: str) -> Any:
        return self._container(action).get_blob_client(full_name)

    def _fail(self, exc: BaseException, action: str, full_name: str | None) -> Exception:
        return azure_error(exc, action=action, block=self, obj=self._object(full_name))

    def _object(self, full_name: str | None) -> str:
        return f"{self.container_name}/{full_name}" if full_name else self.container_name

    # --- the ObjectStore role -----------------------------------------------------------------
    def upload_from_path(
        self, from_path: str | Path, to_path: str | None = None, **upload_kwargs: Any
    ) -> str:
        """Upload the local file ``from_path`` to ``to_path`` (default: its file name);
        returns the blob's full name. ``upload_kwargs`` go to ``BlobClient.upload_blob``.

        Example:
            container.upload_from_path("report.csv", "reports/2024.csv")
        """
        path = Path(from_path)
        if not path.is_file():
            raise FileNotFoundError(f"upload_from_path: no such file {str(path)!r}")
        full = self.blob_name(to_path if to_path is not None else path.name)
        blob = self._blob("upload_from_path", full)
        upload_kwargs.setdefault("overwrite", True)
        try:
            with path.open("rb") as data:
                blob.upload_blob(data, length=path.stat().st_size, **upload_kwargs)
        except azure_errors() as exc:
            raise self._fail(exc, "upload_from_path", full) from exc
        return full

    def download_object_to_path(
        self, from_path: str, to_path: str | Path | None = None, **download_kwargs: Any
    ) -> Path:
        """Download the blob ``from_path`` to the local file ``to_path`` (default: its
        name in the working folder), atomically; returns the absolute local path.

        Example:
            container.download_object_to_path("reports/2024.csv", "/tmp/2024.csv")
        """
        from orch_azure.tasks import download_to_file

        target = Path(to_path if to_path is not None else Path(from_path).name).absolute()
        download_to_file(
            self, self.blob_name(from_path), target, "download_object_to_path", **download_kwargs
        )
        return target

    def read_path(self, path: str) -> bytes:
        """The content of the blob ``path``.

        Example:
            container.read_path("reports/2024.csv")
        """
        full = self.blob_name(path)
        try:
            return bytes(self._blob("read_path", full).download_blob().readall())
        except azure_errors() as exc:
            raise self._fail(exc, "read_path", full) from exc

    def write_path(self, path: str, content: bytes) -> str:
        """Write ``content`` to the blob ``path`` (replacing it); returns its full name.

        Example:
            container.write_path("reports/2024.csv", b"id,amount\\n")
        """
        full = self.blob_name(path)
        try:
            self._blob("write_path", full).upload_blob(
                io.BytesIO(content), length=len(content), overwrite=True
            )
        except azure_errors() as exc:
            raise self._fail(exc, "write_path", full) from exc
        return full

    def list_objects(
        self,
        folder: str = "",
        delimiter: str = "",
        page_size: int | None = None,
        max_items: int | None = None,
    ) -> list[dict[str, Any]]:
        """The blobs under ``folder``: ``Key`` (full name), ``Size``, ``LastModified``,
        ``ETag``, in name order. ``delimiter="/"`` stops at the next "folder" (the
        prefixes are listed with ``Size`` 0); ``page_size`` names per request,
        ``max_items`` at most.

        Example:
            [o["Key"] for o in container.list_objects("reports/")]
        """
        prefix = self.blob_name(folder) if folder else self.folder
        container = self._container("list_objects")
        found: list[dict[str, Any]] = []
        try:
            if delimiter:
                items = container.walk_blobs(name_starts_with=prefix or None, delimiter=delimiter)
            else:
                items = container.list_blobs(
                    name_starts_with=prefix or None, results_per_page=page_size
                )
            for item in items:
                found.append(
                    {
                        "Key": item.name,
                        "Size": getattr(item, "size", 0) or 0,
                        "LastModified": getattr(item, "last_modified", None),
                        "ETag": str(getattr(item, "etag", "") or "").strip('"'),
                    }
                )
                if max_items is not None and len(found) >= max_items:
                    break
        except azure_errors() as exc:
            raise self._fail(exc, "list_objects", None) from exc
        return found


# --- AzureKeyVault ----------------------------------------------------------------------------

_SECRET_NAME = re.compile(r"[0-9a-zA-Z-]{1,127}")


def check_secret_name(name: str) -> str:
    """Refuse a name Key Vault would refuse: 1 to 127 letters, digits and '-'.

    Example:
        >>> check_secret_name("db-password")
        'db-password'
    """
    if not _SECRET_NAME.fullmatch(name):
        raise ValueError(
            f"invalid Key Vault secret name {name!r}: 1 to 127 letters, digits and '-'"
        )
    return name


def vault_url_of(vault: str) -> str:
    """The URL of a vault given by name (``acme`` → ``https://acme.vault.azure.net``), by
    host (sovereign clouds: ``acme.vault.azure.cn``) or by URL (kept).

    Example:
        >>> vault_url_of("acme")
        'https://acme.vault.azure.net'
        >>> vault_url_of("acme.vault.usgovcloudapi.net")
        'https://acme.vault.usgovcloudapi.net'
    """
    vault = vault.strip().rstrip("/")
    if vault.startswith(("https://", "http://")):
        return vault
    if "." in vault or ":" in vault:
        return f"https://{vault}"
    return f"https://{vault}.vault.azure.net"


class AzureKeyVault(Block, SecretStore):
    """An Azure Key Vault, the credentials to reach it, and (for the secret-store role)
    the name of one secret in it.

    The ``keyvault_*`` tasks take any secret name; ``read_secret``, ``write_secret`` and
    ``delete_secret`` act on ``secret_name``. To use a secret *inside another block's
    field*, prefer a reference: ``SecretRef("azure-kv://acme/db-password")``. Needs
    ``pip install 'orch-azure[keyvault]'`` and token credentials (``service_principal``
    or ``default``).

    Example:
        from orch_azure import AzureCredentials, AzureKeyVault

        AzureKeyVault(
            vault_url="https://acme.vault.azure.net",
            credentials=AzureCredentials(auth_method="default"),
            secret_name="db-password",
        ).save("acme-vault")
        password = AzureKeyVault.load("acme-vault").read_secret()
    """

    block_type_slug = "azure-key-vault"
    block_not_secret = frozenset({"secret_name"})

    vault_url: str = Field(
        description="The vault's URL (https://NAME.vault.azure.net), host or bare name."
    )
    credentials: AzureCredentials = Field(
        default_factory=lambda: AzureCredentials(auth_method="default"),
        description="Token credentials (service_principal or default).",
    )
    secret_name: str | None = Field(
        default=None, description="The secret read_secret/write_secret/delete_secret act on."
    )
    verify_challenge_resource: bool = Field(
        default=True,
        description="Check that the vault's auth challenge names its own domain (keep on; "
        "off only for private endpoints with a custom domain).",
    )

    @field_validator("vault_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("vault_url is empty")
        return vault_url_of(value)

    @field_validator("secret_name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        return None if value is None else check_secret_name(value)

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            vault_url="https://sample-vault.vault.azure.net",
            credentials=AzureCredentials(
                tenant_id="00000000-0000-0000-0000-000000000000",
                client_id="11111111-1111-1111-1111-111111111111",
                client_secret="sample-client-secret",  # noqa: S106 - a placeholder
            ),
            secret_name="sample-secret",  # noqa: S106 - a name, not a secret
        )

    def get_client(self) -> Any:
        """The cached ``SecretClient`` of this vault.

        Example:
            AzureKeyVault.load("acme-vault").get_client().get_secret("db-password").value
        """
        return self._client("get_client")

    def _client(self, action: str) -> Any:
        try:
            clients = self.credentials.get_client()
            return clients.secret_client(self.vault_url, self.verify_challenge_resource)
        except azure_errors() as exc:
            raise azure_error(exc, action=action, block=self) from exc

    def _name(self, action: str) -> str:
        if self.secret_name is None:
            raise ValueError(
                f"{action}: the AzureKeyVault block has no secret_name; set it, or use the "
                "keyvault_read/keyvault_write/keyvault_delete tasks with a name"
            )
        return self.secret_name

    def read_secret(self) -> bytes:
        """The latest version of ``secret_name``, as UTF-8 bytes.

        Example:
            AzureKeyVault.load("acme-vault").read_secret()
        """
        from orch_azure.tasks import read_kv

        return read_kv(self, self._name("read_secret"), None, "read_secret").encode()

    def write_secret(self, secret_data: bytes) -> str:
        """Write a new version of ``secret_name`` (bytes or str); returns its id.

        Example:
            AzureKeyVault.load("acme-vault").write_secret(b"s3cret")
        """
        from orch_azure.tasks import write_kv

        value = secret_data.decode() if isinstance(secret_data, bytes) else str(secret_data)
        return write_kv(self, self._name("write_secret"), value, "write_secret")

    def delete_secret(self) -> str:
        """Delete ``secret_name`` (soft delete, recoverable while the vault keeps it).

        Example:
            AzureKeyVault.load("acme-vault").delete_secret()
        """
        from orch_azure.tasks import delete_kv

        return delete_kv(self, self._name("delete_secret"), False, "delete_secret")
