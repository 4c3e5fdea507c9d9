"""The ``azure-kv://`` secret resolver: ``azure-kv://VAULT/SECRET[?version=V][#KEY]``.

``VAULT`` is the vault's name (``acme`` → ``https://acme.vault.azure.net``), its host, or
its full URL for sovereign clouds and private endpoints
(``azure-kv://https://acme.vault.azure.cn/db``). ``SECRET`` is the secret's name,
``version`` one version (default: the latest), ``#KEY`` one key of a JSON value (applied
by orch-core). ``verify_challenge_resource=false`` turns off the SDK's check that the
vault's auth challenge names the vault's own domain: only for a private endpoint reached
under a custom domain.

It reads with the ``AzureCredentials`` block named by ``ORCH_AZURE_CREDENTIALS_BLOCK``
when that is set, otherwise with ``DefaultAzureCredential``. The credentials' client is
the process's one ``SecretClient`` per vault, so resolutions reuse one token. orch-core
caches the value per reference for ``ORCH_SECRET_TTL`` seconds and lets one caller resolve
while concurrent callers of the same reference wait: a 500-task flow reading one secret
makes one call to the vault (Airflow #29486).

The credentials block cannot itself hold ``azure-kv://`` references (its client secret...):
to resolve them it would need that very block, a loop. That is refused with a clear error.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from orch.integration import SecretReferenceError

if TYPE_CHECKING:
    from orch import SecretRef
    from orch.integration import Resolved

    from orch_azure.connector import AzureKeyVault

CREDENTIALS_ENV = "ORCH_AZURE_CREDENTIALS_BLOCK"
_PARAMS = {"version", "verify_challenge_resource"}
_resolving = threading.local()


def split_reference(ref: SecretRef) -> tuple[str, str, str | None]:
    """``(vault URL, secret name, version)`` of ``ref`` (its parameters checked).

    Example:
        >>> from orch import SecretRef
        >>> split_reference(SecretRef("azure-kv://acme/db-password?version=abc"))
        ('https://acme.vault.azure.net', 'db-password', 'abc')
        >>> split_reference(SecretRef("azure-kv://https://acme.vault.azure.cn/db"))
        ('https://acme.vault.azure.cn', 'db', None)
    """
    from orch_azure.connector import _SECRET_NAME, vault_url_of

    unknown = set(ref.params) - _PARAMS
    if unknown:
        raise SecretReferenceError(
            f"secret reference {ref}: unknown parameter(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(_PARAMS))})"
        )
    location = ref.location.rstrip("/")
    vault, _, name = location.rpartition("/")
    if vault.endswith(":/") or vault.endswith(":"):  # "https://NAME" without a secret
        vault, name = "", ""
    if not vault or not name or vault in ("https:/", "http:/"):
        raise SecretReferenceError(
            f"secret reference {ref}: write azure-kv://VAULT/SECRET, e.g. "
            "azure-kv://acme/db-password"
        )
    if not _SECRET_NAME.fullmatch(name):
        raise SecretReferenceError(
            f"secret reference {ref}: {name!r} is not a Key Vault secret name "
            "(1 to 127 letters, digits and '-')"
        )
    check = ref.params.get("verify_challenge_resource", "true").lower()
    if check not in ("true", "false"):
        raise SecretReferenceError(
            f"secret reference {ref}: verify_challenge_resource must be true or false"
        )
    version = ref.params.get("version") or None
    return vault_url_of(vault), name, version


def _vault(ref: SecretRef, url: str) -> AzureKeyVault:
    from orch.integration import resolver_credentials

    from orch_azure.connector import AzureKeyVault
    from orch_azure.credentials import AzureCredentials

    saved = resolver_credentials(
        ref,
        AzureCredentials,
        CREDENTIALS_ENV,
        otherwise="use DefaultAzureCredential",
        loop_fix="from env:// or file://",
    )
    credentials = saved if saved is not None else AzureCredentials(auth_method="default")
    check = ref.params.get("verify_challenge_resource", "true").lower() != "false"
    return AzureKeyVault(vault_url=url, credentials=credentials, verify_challenge_resource=check)


def resolve_azure_kv(ref: SecretRef) -> Resolved:
    """Resolve ``azure-kv://VAULT/SECRET``: the secret's value (``#key`` is applied by the
    core).

    Example:
        >>> from orch import SecretRef
        >>> ref = SecretRef("azure-kv://acme/warehouse?version=3f2a#password")
        >>> ref.location, ref.params, ref.key
        ('acme/warehouse', {'version': '3f2a'}, 'password')
        >>> ref.resolve()  # doctest: +SKIP
        'the password'
    """
    url, name, version = split_reference(ref)
    from orch_azure.errors import AzureError, AzureNotFoundError
    from orch_azure.tasks.keyvault import read_kv

    outer = getattr(_resolving, "ref", None)
    if outer is not None:
        raise SecretReferenceError(
            f"secret reference {ref} is needed to get a token to resolve {outer}: a loop; "
            f"the credentials of the azure-kv:// resolver ({CREDENTIALS_ENV}) must not "
            "depend on azure-kv:// secrets"
        )
    vault = _vault(ref, url)
    try:
        _resolving.ref = ref
        try:
            # The token credential reads the block's secrets: a reference among them that
            # leads back here (through another resolver) is a loop, refused above.
            vault.credentials.get_client().token_credential()
        finally:
            _resolving.ref = None
        return read_kv(vault, name, version, "azure-kv://")
    except AzureError as exc:
        what = "does not exist" if isinstance(exc, AzureNotFoundError) else "failed"
        raise SecretReferenceError(f"secret reference {ref} {what}: {exc}") from exc
