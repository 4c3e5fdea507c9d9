"""Key Vault tasks: read (a version or the latest), write, delete.

Each task takes an :class:`~orch_azure.AzureKeyVault` first; the ``SecretClient`` comes
from its credentials (cached per process, one token for every task). A value read is
remembered by orch's redaction, so it never reaches a log line or a stored error.
Needs ``pip install 'orch-azure[keyvault]'``.
"""

from __future__ import annotations

from typing import Any

from orch import task
from orch.integration import remember_secret

from orch_azure.connector import AzureKeyVault, check_secret_name
from orch_azure.errors import azure_error, azure_errors

__all__ = [
    "delete_kv",
    "keyvault_delete",
    "keyvault_read",
    "keyvault_write",
    "read_kv",
    "write_kv",
]


def _fail(vault: AzureKeyVault, exc: BaseException, action: str, name: str) -> Exception:
    return azure_error(exc, action=action, block=vault, obj=f"secret {name!r}")


def read_kv(vault: AzureKeyVault, name: str, version: str | None, action: str) -> str:
    """The value of the secret ``name`` (``version``, or the latest)."""
    check_secret_name(name)
    client = vault._client(action)
    try:
        secret = client.get_secret(name, version)
    except azure_errors() as exc:
        raise _fail(vault, exc, action, name if version is None else f"{name}/{version}") from exc
    value = secret.value if secret.value is not None else ""
    remember_secret(value)
    return str(value)


def write_kv(
    vault: AzureKeyVault,
    name: str,
    value: str,
    action: str,
    content_type: str | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    """Write a new version of ``name``; returns the new version's id."""
    check_secret_name(name)
    if not isinstance(value, str):
        raise TypeError(f"{action}: the value of secret {name!r} must be a str")
    remember_secret(value)
    client = vault._client(action)
    options: dict[str, Any] = {}
    if content_type is not None:
        options["content_type"] = content_type
    if tags is not None:
        options["tags"] = tags
    try:
        secret = client.set_secret(name, value, **options)
    except azure_errors() as exc:
        raise _fail(vault, exc, action, name) from exc
    return str(secret.properties.version)


def delete_kv(vault: AzureKeyVault, name: str, purge: bool, action: str) -> str:
    """Delete ``name`` (and wait for the deletion); with ``purge``, purge it too."""
    check_secret_name(name)
    client = vault._client(action)
    try:
        client.begin_delete_secret(name).result()
        if purge:
            client.purge_deleted_secret(name)
    except azure_errors() as exc:
        raise _fail(vault, exc, action, name) from exc
    return name


@task
def keyvault_read(vault: AzureKeyVault, name: str, version: str | None = None) -> str:
    """The value of the secret ``name``: the latest version, or ``version``.

    A missing secret or version is an ``AzureNotFoundError`` naming the vault and the
    secret; the value never appears in a message.

    Example:
        from orch_azure import AzureKeyVault
        from orch_azure.tasks import keyvault_read

        password = keyvault_read(AzureKeyVault.load("acme-vault"), "db-password")
    """
    return read_kv(vault, name, version, "keyvault_read")


@task
def keyvault_write(
    vault: AzureKeyVault,
    name: str,
    value: str,
    *,
    content_type: str | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    """Write a new version of the secret ``name`` (created if need be); returns the new
    version's id.

    Example:
        from orch_azure import AzureKeyVault
        from orch_azure.tasks import keyvault_write

        version = keyvault_write(AzureKeyVault.load("acme-vault"), "db-password", "s3cret")
    """
    return write_kv(vault, name, value, "keyvault_write", content_type, tags)


@task
def keyvault_delete(vault: AzureKeyVault, name: str, *, purge: bool = False) -> str:
    """Delete the secret ``name`` and wait until it is deleted; returns its name.

    The vault keeps a deleted secret for its retention period (recoverable); ``purge=True``
    removes it for good, so the name can be used again at once.

    Example:
        from orch_azure import AzureKeyVault
        from orch_azure.tasks import keyvault_delete

        keyvault_delete(AzureKeyVault.load("acme-vault"), "old-password", purge=True)
    """
    return delete_kv(vault, name, purge, "keyvault_delete")
