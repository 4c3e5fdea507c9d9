"""orch-vault: HashiCorp Vault / OpenBao credentials, KV v2 secrets and transit for orch.

Blocks: :class:`VaultCredentials`, :class:`VaultSecret`; tasks from
:mod:`orch_vault.tasks` (``vault_dynamic_credentials`` returns a
:class:`DynamicCredentials`); errors from :mod:`orch_vault.errors`. The ``vault://`` secret
resolver is registered through the ``orch.secret_resolvers`` entry point. Every name
loads with its module on first use: importing this package loads neither hvac nor
pydantic.

Example:
    from orch_vault import VaultCredentials, vault_read
"""

from __future__ import annotations

from orch.integration import lazy_exports

# Not `from typing import TYPE_CHECKING`: importing typing costs start-up time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from orch_vault.connector import VaultClient as VaultClient
    from orch_vault.connector import VaultSecret as VaultSecret
    from orch_vault.credentials import VaultCredentials as VaultCredentials
    from orch_vault.errors import VaultAuthError as VaultAuthError
    from orch_vault.errors import VaultCheckAndSetError as VaultCheckAndSetError
    from orch_vault.errors import VaultConnectionError as VaultConnectionError
    from orch_vault.errors import VaultError as VaultError
    from orch_vault.errors import VaultNotFoundError as VaultNotFoundError
    from orch_vault.errors import VaultTimeoutError as VaultTimeoutError
    from orch_vault.leases import DynamicCredentials as DynamicCredentials
    from orch_vault.tasks import vault_decrypt as vault_decrypt
    from orch_vault.tasks import vault_delete as vault_delete
    from orch_vault.tasks import vault_destroy as vault_destroy
    from orch_vault.tasks import vault_dynamic_credentials as vault_dynamic_credentials
    from orch_vault.tasks import vault_encrypt as vault_encrypt
    from orch_vault.tasks import vault_list as vault_list
    from orch_vault.tasks import vault_patch as vault_patch
    from orch_vault.tasks import vault_read as vault_read
    from orch_vault.tasks import vault_write as vault_write

_BLOCKS = {
    "VaultClient": "orch_vault.connector",
    "VaultCredentials": "orch_vault.credentials",
    "VaultSecret": "orch_vault.connector",
}
_ERRORS = (
    "VaultAuthError",
    "VaultCheckAndSetError",
    "VaultConnectionError",
    "VaultError",
    "VaultNotFoundError",
    "VaultTimeoutError",
)
_TASKS = (
    "vault_decrypt",
    "vault_delete",
    "vault_destroy",
    "vault_dynamic_credentials",
    "vault_encrypt",
    "vault_list",
    "vault_patch",
    "vault_read",
    "vault_write",
)
_EXPORTS = {
    **_BLOCKS,
    "DynamicCredentials": "orch_vault.leases",
    **dict.fromkeys(_ERRORS, "orch_vault.errors"),
    **dict.fromkeys(_TASKS, "orch_vault.tasks"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
