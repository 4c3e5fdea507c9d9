"""orch-azure: Azure credentials, Blob Storage containers and Key Vault for orch.

Blocks: :class:`AzureCredentials`, :class:`AzureBlobContainer`, :class:`AzureKeyVault`;
tasks from :mod:`orch_azure.tasks`; errors from :mod:`orch_azure.errors`. The
``azure-kv://`` secret resolver is registered through the ``orch.secret_resolvers`` entry
point. Every name loads with its module on first use: importing this package loads
neither the Azure SDK nor pydantic.

Example:
    from orch_azure import AzureBlobContainer, AzureCredentials, blob_upload
"""

from __future__ import annotations

from orch.integration import lazy_exports

# Not `from typing import TYPE_CHECKING`: importing typing costs start-up time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from orch_azure.connector import AzureBlobContainer as AzureBlobContainer
    from orch_azure.connector import AzureKeyVault as AzureKeyVault
    from orch_azure.credentials import AzureCredentials as AzureCredentials
    from orch_azure.errors import AzureAuthError as AzureAuthError
    from orch_azure.errors import AzureConnectionError as AzureConnectionError
    from orch_azure.errors import AzureError as AzureError
    from orch_azure.errors import AzureExistsError as AzureExistsError
    from orch_azure.errors import AzureNotFoundError as AzureNotFoundError
    from orch_azure.errors import AzureTimeoutError as AzureTimeoutError
    from orch_azure.tasks import blob_copy as blob_copy
    from orch_azure.tasks import blob_delete as blob_delete
    from orch_azure.tasks import blob_download as blob_download
    from orch_azure.tasks import blob_exists as blob_exists
    from orch_azure.tasks import blob_list as blob_list
    from orch_azure.tasks import blob_sas_url as blob_sas_url
    from orch_azure.tasks import blob_upload as blob_upload
    from orch_azure.tasks import keyvault_delete as keyvault_delete
    from orch_azure.tasks import keyvault_read as keyvault_read
    from orch_azure.tasks import keyvault_write as keyvault_write

_BLOCKS = {
    "AzureCredentials": "orch_azure.credentials",
    "AzureBlobContainer": "orch_azure.connector",
    "AzureKeyVault": "orch_azure.connector",
}
_ERRORS = (
    "AzureAuthError",
    "AzureConnectionError",
    "AzureError",
    "AzureExistsError",
    "AzureNotFoundError",
    "AzureTimeoutError",
)
_TASKS = (
    "blob_copy",
    "blob_delete",
    "blob_download",
    "blob_exists",
    "blob_list",
    "blob_sas_url",
    "blob_upload",
    "keyvault_delete",
    "keyvault_read",
    "keyvault_write",
)
_EXPORTS = {
    **_BLOCKS,
    **dict.fromkeys(_ERRORS, "orch_azure.errors"),
    **dict.fromkeys(_TASKS, "orch_azure.tasks"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
