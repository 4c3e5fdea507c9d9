"""The ``vault://`` secret resolver: ``vault://MOUNT/PATH[?version=N][#KEY]`` (KV v2).

``MOUNT`` is the KV v2 engine's mount (``secret`` in a dev server), ``PATH`` the secret
inside it, ``#KEY`` one key of its data (without it, the whole dict), ``version`` a
version (default: the latest). ``vault://MOUNT/PATH#KEY?version=N``, the order issue 17
writes, is accepted too.

It reads with the ``VaultCredentials`` block named by ``ORCH_VAULT_CREDENTIALS_BLOCK``
when that is set, otherwise with ``VAULT_ADDR`` and ``VAULT_TOKEN``. The block's client is
the process's one logged-in client, so resolutions never log in again. orch-core caches
the value per reference for ``ORCH_SECRET_TTL`` seconds and lets one caller resolve while
concurrent callers of the same reference wait, so a burst makes one API call.

The credentials block cannot itself hold ``vault://`` references (its secret id, password,
token...): to resolve them it would need that very block, a loop. That is refused with a
clear error before anything is read, and any other loop back into this resolver from the
same thread is refused too, instead of waiting forever on orch-core's per-reference lock.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from orch.integration import SecretReferenceError

if TYPE_CHECKING:
    from orch import SecretRef
    from orch.integration import Resolved

    from orch_vault.credentials import VaultCredentials

CREDENTIALS_ENV = "ORCH_VAULT_CREDENTIALS_BLOCK"
_PARAMS = {"version"}
# The reference this thread is resolving, while it builds the client to do so: a second
# vault:// resolution inside that is a loop (see the module's docstring).
_resolving = threading.local()


def _credentials(ref: SecretRef) -> VaultCredentials:
    from orch.integration import resolver_credentials

    from orch_vault.credentials import VaultCredentials

    saved = resolver_credentials(
        ref,
        VaultCredentials,
        CREDENTIALS_ENV,
        otherwise="use VAULT_ADDR and VAULT_TOKEN",
        loop_fix="from env:// or file://",
    )
    if saved is not None:
        return saved
    url, token = os.environ.get("VAULT_ADDR", ""), os.environ.get("VAULT_TOKEN", "")
    if not (url and token):
        raise SecretReferenceError(
            f"secret reference {ref}: set {CREDENTIALS_ENV} to the name of a saved "
            "VaultCredentials block, or VAULT_ADDR and VAULT_TOKEN"
        )
    return VaultCredentials(url=url, token=token)


def _split(ref: SecretRef) -> tuple[str, str, str | None, dict[str, str]]:
    """(mount, path, key, params) of ``ref``, with ``#KEY?version=N`` read as the issue
    writes it."""
    params = dict(ref.params)
    key = ref.key
    if key is not None and "?" in key:
        key, _, query = key.partition("?")
        for part in query.split("&"):
            name, _, value = part.partition("=")
            params[name] = value
    unknown = set(params) - _PARAMS
    if unknown:
        raise SecretReferenceError(
            f"secret reference {ref}: unknown parameter(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(_PARAMS))})"
        )
    mount, _, path = ref.location.strip("/").partition("/")
    if not mount or not path.strip("/"):
        raise SecretReferenceError(
            f"secret reference {ref}: write vault://MOUNT/PATH#KEY, e.g. vault://secret/app#password"
        )
    return mount, path.strip("/"), key, params


def resolve_vault(ref: SecretRef) -> Resolved:
    """Resolve ``vault://MOUNT/PATH``: the secret's data (``#key`` is applied by the core).

    Example:
        >>> from orch import SecretRef
        >>> ref = SecretRef("vault://secret/app/db?version=2#password")
        >>> ref.location, ref.params, ref.key
        ('secret/app/db', {'version': '2'}, 'password')
        >>> ref.resolve()  # doctest: +SKIP
        'the password'
    """
    mount, path, key, params = _split(ref)
    version: int | None = None
    if params.get("version"):
        try:
            version = int(params["version"])
        except ValueError:
            raise SecretReferenceError(
                f"secret reference {ref}: version must be a whole number, not {params['version']!r}"
            ) from None
    from orch_vault.errors import VaultError, VaultNotFoundError
    from orch_vault.tasks import read_kv

    outer = getattr(_resolving, "ref", None)
    if outer is not None:
        raise SecretReferenceError(
            f"secret reference {ref} is needed to log in to Vault to resolve {outer}: a "
            f"loop; the credentials of the vault:// resolver ({CREDENTIALS_ENV}) must not "
            "depend on vault:// secrets"
        )
    credentials = _credentials(ref)
    try:
        _resolving.ref = ref
        try:
            credentials.get_client()
        finally:
            _resolving.ref = None
        data = read_kv(credentials, mount, path, version, "vault://")
    except VaultError as exc:
        what = "does not exist" if isinstance(exc, VaultNotFoundError) else "failed"
        raise SecretReferenceError(f"secret reference {ref} {what}: {exc}") from exc
    if ref.key is not None and ref.key != key:
        # `#KEY?version=N`: the core selects the whole text after '#', so answer with it.
        if key not in data:
            raise SecretReferenceError(
                f"secret reference {ref}: the secret has no key {key!r} "
                f"(keys: {', '.join(sorted(data))})"
            )
        return {ref.key: data[key]}
    return data
