"""Tasks on Vault's KV v2 engine, transit engine, and the database and AWS secrets engines
(dynamic credentials).

Each task takes the ``VaultCredentials`` block first, then plain values, and returns
plain data. They use the block's one logged-in client (``get_client()``) and raise this
package's errors (:mod:`orch_vault.errors`), which name the block and the path.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from orch import task
from orch.integration import at_flow_end, remember_secret, run_logger_or

from orch_vault.credentials import VaultCredentials
from orch_vault.errors import VaultError, VaultNotFoundError, vault_error, vault_errors, where

if TYPE_CHECKING:
    from orch_vault.leases import DynamicCredentials

__all__ = [
    "vault_decrypt",
    "vault_delete",
    "vault_destroy",
    "vault_dynamic_credentials",
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


@task
def vault_dynamic_credentials(
    credentials: VaultCredentials,
    role: str,
    *,
    engine: Literal["database", "aws"] = "database",
    mount: str | None = None,
    revoke: bool = True,
) -> DynamicCredentials:
    """A new login made by the ``engine`` secrets engine for ``role``, for this flow run.

    The database engine gives ``username`` and ``password``; the AWS engine
    ``access_key``, ``secret_key`` and ``security_token``; both give ``lease_id`` and
    ``lease_duration`` (seconds). While the flow run goes on, the lease is renewed in the
    background when two thirds of it have passed (up to the role's maximum TTL); when the
    run ends, completed, failed or crashed, the lease is revoked (``revoke=False`` leaves
    it to expire), so the engine deletes the login. Outside a flow run nothing renews or
    revokes it: it ends with its TTL. ``mount`` is where the engine is enabled (default:
    its name). Revoking needs ``update`` on ``sys/leases/revoke`` in the token's policy.

    Example:
        login = vault_dynamic_credentials(VaultCredentials.load("prod"), "readonly")
        db = DatabaseCredentials(driver="postgresql", host="db", database="app",
                                 username=login.username, password=login.password)
    """
    from orch_vault.leases import DynamicCredentials, LeaseKeeper

    if engine not in ("database", "aws"):
        raise ValueError(
            f"vault_dynamic_credentials: engine must be 'database' or 'aws', not {engine!r}"
        )
    role = _clean(role, "role")
    mount = _clean(mount or engine, "mount")
    path = f"creds/{role}"
    try:
        response = credentials.get_client().call(lambda c: c.read(f"{mount}/{path}"))
    except vault_errors() as exc:
        raise _creds_error(exc, credentials, engine, mount, role) from exc
    if not response:  # hvac's read() answers None to a 404
        raise _not_there(credentials, engine, mount, role)
    if not response.get("lease_id"):
        raise VaultError(
            f"vault_dynamic_credentials: {where(credentials, mount, path)} returned no lease: "
            f"is the {_ENGINE_NAMES[engine]} secrets engine enabled at {mount}/?"
        )
    login = DynamicCredentials.from_response(response)
    remember_secret(login.secret_values())  # masked in every log line and error from now
    keeper = LeaseKeeper(credentials, login, role=role, mount=mount, revoke=revoke)
    log = run_logger_or(logging.getLogger("orch_vault"))
    who = login.username or login.access_key or "?"
    if not at_flow_end(keeper.close):
        log.warning(
            "vault_dynamic_credentials: not in a flow run, so lease %s of role %r (%s) is "
            "neither renewed nor revoked: the login ends with its TTL (%s s)",
            login.lease_id,
            role,
            who,
            login.lease_duration,
        )
        return login
    if login.renewable and login.lease_duration > 0:
        keeper.start()
    log.info(
        "vault_dynamic_credentials: %s login %r of role %r (lease %s, %s s)%s; %s at the "
        "end of the flow run",
        engine,
        who,
        role,
        login.lease_id,
        login.lease_duration,
        ", renewed while the flow runs" if keeper.started else "",
        "revoked" if revoke else "left to expire",
    )
    return login


_ENGINE_NAMES = {"database": "database", "aws": "AWS"}


def _not_there(
    credentials: VaultCredentials, engine: str, mount: str, role: str
) -> VaultNotFoundError:
    return VaultNotFoundError(
        f"vault_dynamic_credentials: nothing answers at "
        f"{where(credentials, mount, f'creds/{role}')}: is the {_ENGINE_NAMES[engine]} "
        f"secrets engine enabled at {mount}/, with a role {role!r}?",
        code="404",
    )


def _creds_error(
    exc: BaseException, credentials: VaultCredentials, engine: str, mount: str, role: str
) -> VaultError:
    import hvac.exceptions

    action = "vault_dynamic_credentials"
    place = where(credentials, mount, f"creds/{role}")
    text = " ".join(str(e) for e in getattr(exc, "errors", None) or ())
    if isinstance(exc, hvac.exceptions.InvalidRequest) and "unknown role" in text:
        return VaultNotFoundError(
            f"{action}: the {_ENGINE_NAMES[engine]} secrets engine at {mount}/ has no role "
            f"{role!r} ({place})",
            code="400",
        )
    if isinstance(exc, hvac.exceptions.InvalidPath | hvac.exceptions.UnsupportedOperation):
        return _not_there(credentials, engine, mount, role)
    return vault_error(
        exc, action=action, credentials=credentials, mount=mount, path=f"creds/{role}"
    )
