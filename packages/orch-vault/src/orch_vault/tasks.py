"""Tasks on Vault's KV v2 engine and transit engine.

Each task takes the ``VaultCredentials`` block first, then plain values, and returns
plain data. They use the block's one logged-in client (``get_client()``) and raise this
package's errors (:mod:`orch_vault.errors`), which name the block and the path.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from orch import task

from orch_vault.credentials import VaultCredentials
from orch_vault.errors import VaultNotFoundError, vault_error, vault_errors, where

__all__ = [
    "vault_decrypt",
    "vault_delete",
    "vault_destroy",
    "vault_encrypt",
    "vault_list",
    "vault_patch",
    "vault_read",
    "vault_write",
]

T = TypeVar("T")


def _clean(value: str, what: str) -> str:
    stripped = value.strip("/")
    if not stripped:
        raise ValueError(f"{what} must name a path, not {value!r}")
    return stripped


def _call(
    credentials: VaultCredentials, action: str, mount: str, path: str, fn: Callable[[Any], T]
) -> T:
    try:
        return credentials.get_client().call(fn)
    except vault_errors() as exc:
        raise vault_error(
            exc, action=action, credentials=credentials, mount=mount, path=path
        ) from exc


def read_kv(
    credentials: VaultCredentials, mount: str, path: str, version: int | None, action: str
) -> dict[str, Any]:
    """The data of ``mount/path`` (``version`` or the latest); shared with the resolver."""
    response = _call(
        credentials,
        action,
        mount,
        path,
        lambda c: c.secrets.kv.v2.read_secret_version(
            path=path, mount_point=mount, version=version, raise_on_deleted_version=True
        ),
    )
    data: dict[str, Any] = response["data"]["data"]
    return data


@task
def vault_read(
    credentials: VaultCredentials,
    path: str,
    key: str | None = None,
    *,
    mount: str = "secret",
    version: int | None = None,
) -> Any:
    """The data of the KV v2 secret at ``path`` (a dict), or only its ``key``.

    ``version`` reads that version (default: the latest). A missing path, version or key
    raises ``VaultNotFoundError`` (a ``NotFoundError``).

    Example:
        password = vault_read(VaultCredentials.load("prod"), "app/db", "password")
    """
    mount, path = _clean(mount, "mount"), _clean(path, "path")
    data = read_kv(credentials, mount, path, version, "vault_read")
    if key is None:
        return data
    if key not in data:
        raise VaultNotFoundError(
            f"vault_read: the secret {where(credentials, mount, path)} has no key {key!r} "
            f"(keys: {', '.join(sorted(data))})"
        )
    return data[key]


@task
def vault_write(
    credentials: VaultCredentials,
    path: str,
    data: Mapping[str, Any],
    *,
    mount: str = "secret",
    cas: int | None = None,
) -> int:
    """Write ``data`` as a new version of ``path``; returns the new version number.

    ``cas`` (check-and-set): write only if the current version is ``cas`` (``0``: only if
    the secret does not exist yet); otherwise ``VaultCheckAndSetError``.

    Example:
        vault_write(VaultCredentials.load("prod"), "app/db", {"password": "s3cret"}, cas=0)
    """
    mount, path = _clean(mount, "mount"), _clean(path, "path")
    response = _call(
        credentials,
        "vault_write",
        mount,
        path,
        lambda c: c.secrets.kv.v2.create_or_update_secret(
            path=path, secret=dict(data), cas=cas, mount_point=mount
        ),
    )
    return int(response["data"]["version"])


@task
def vault_patch(
    credentials: VaultCredentials, path: str, data: Mapping[str, Any], *, mount: str = "secret"
) -> int:
    """Merge ``data`` into the latest version of ``path`` (the other keys stay, a key
    given as ``None`` is removed); returns the new version number. The secret must exist
    and the token's policy needs the ``patch`` capability.

    Example:
        vault_patch(VaultCredentials.load("prod"), "app/db", {"password": "rotated"})
    """
    mount, path = _clean(mount, "mount"), _clean(path, "path")
    response = _call(
        credentials,
        "vault_patch",
        mount,
        path,
        # The server's own PATCH (a JSON merge patch, one request, atomic), not hvac's
        # read-then-write helper: a ``None`` value removes that key.
        lambda c: c.adapter.request(
            "PATCH",
            f"/v1/{mount}/data/{path}",
            json={"data": dict(data)},
            headers={"Content-Type": "application/merge-patch+json"},
        ),
    )
    return int(response["data"]["version"])


@task
def vault_list(
    credentials: VaultCredentials, path: str = "", *, mount: str = "secret"
) -> list[str]:
    """The names under ``path`` (a folder ends with ``/``), sorted; ``[]`` when none.

    Example:
        vault_list(VaultCredentials.load("prod"), "app")  # ['db', 'jobs/']
    """
    import hvac.exceptions

    mount, path = _clean(mount, "mount"), path.strip("/")
    try:
        response = credentials.get_client().call(
            lambda c: c.secrets.kv.v2.list_secrets(path=path, mount_point=mount)
        )
    except hvac.exceptions.InvalidPath:
        return []  # Vault answers 404 for an empty folder
    except vault_errors() as exc:
        raise vault_error(
            exc, action="vault_list", credentials=credentials, mount=mount, path=path or "/"
        ) from exc
    return sorted(response["data"]["keys"])


@task
def vault_delete(
    credentials: VaultCredentials,
    path: str,
    versions: list[int] | None = None,
    *,
    mount: str = "secret",
) -> None:
    """Soft-delete ``versions`` of ``path`` (default: the latest); they can be undeleted.

    Example:
        vault_delete(VaultCredentials.load("prod"), "app/db", versions=[1, 2])
    """
    mount, path = _clean(mount, "mount"), _clean(path, "path")
    if versions is None:
        _call(
            credentials,
            "vault_delete",
            mount,
            path,
            lambda c: c.secrets.kv.v2.delete_latest_version_of_secret(path=path, mount_point=mount),
        )
        return
    if not versions:
        raise ValueError("vault_delete: versions is empty; give None for the latest")
    _call(
        credentials,
        "vault_delete",
        mount,
        path,
        lambda c: c.secrets.kv.v2.delete_secret_versions(
            path=path, versions=list(versions), mount_point=mount
        ),
    )


@task
def vault_destroy(
    credentials: VaultCredentials,
    path: str,
    versions: list[int] | None = None,
    *,
    mount: str = "secret",
) -> None:
    """Destroy ``versions`` of ``path`` for good, or, without ``versions``, the whole
    secret: every version and its metadata.

    Example:
        vault_destroy(VaultCredentials.load("prod"), "app/old")
    """
    mount, path = _clean(mount, "mount"), _clean(path, "path")
    if versions is None:
        _call(
            credentials,
            "vault_destroy",
            mount,
            path,
            lambda c: c.secrets.kv.v2.delete_metadata_and_all_versions(
                path=path, mount_point=mount
            ),
        )
        return
    if not versions:
        raise ValueError("vault_destroy: versions is empty; give None for the whole secret")
    _call(
        credentials,
        "vault_destroy",
        mount,
        path,
        lambda c: c.secrets.kv.v2.destroy_secret_versions(
            path=path, versions=list(versions), mount_point=mount
        ),
    )


@task
def vault_encrypt(
    credentials: VaultCredentials, key_name: str, plaintext: bytes | str, *, mount: str = "transit"
) -> str:
    """Encrypt ``plaintext`` with the transit key ``key_name``; returns ``vault:v1:...``.

    Example:
        token = vault_encrypt(VaultCredentials.load("prod"), "orders", b"4111-1111")
    """
    mount = _clean(mount, "mount")
    raw = plaintext.encode() if isinstance(plaintext, str) else plaintext
    encoded = base64.b64encode(raw).decode()
    response = _call(
        credentials,
        "vault_encrypt",
        mount,
        f"keys/{key_name}",
        lambda c: c.secrets.transit.encrypt_data(
            name=key_name, plaintext=encoded, mount_point=mount
        ),
    )
    return str(response["data"]["ciphertext"])


@task
def vault_decrypt(
    credentials: VaultCredentials, key_name: str, ciphertext: str, *, mount: str = "transit"
) -> bytes:
    """Decrypt a ``vault:v1:...`` ciphertext of the transit key ``key_name``.

    Example:
        vault_decrypt(VaultCredentials.load("prod"), "orders", token)  # b"4111-1111"
    """
    mount = _clean(mount, "mount")
    response = _call(
        credentials,
        "vault_decrypt",
        mount,
        f"keys/{key_name}",
        lambda c: c.secrets.transit.decrypt_data(
            name=key_name, ciphertext=ciphertext, mount_point=mount
        ),
    )
    return base64.b64decode(response["data"]["plaintext"])
