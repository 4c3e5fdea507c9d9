"""Every ready-made task of orch-azure: Blob Storage in :mod:`orch_azure.tasks.blob`, Key
Vault in :mod:`orch_azure.tasks.keyvault` (both also importable from :mod:`orch_azure`).

Example:
    from orch_azure.tasks import blob_download, blob_upload, keyvault_read
"""

from __future__ import annotations

from orch_azure.tasks.blob import (
    blob_copy,
    blob_delete,
    blob_download,
    blob_exists,
    blob_list,
    blob_sas_url,
    blob_upload,
    download_to_file,
)
from orch_azure.tasks.keyvault import (
    delete_kv,
    keyvault_delete,
    keyvault_read,
    keyvault_write,
    read_kv,
    write_kv,
)

__all__ = [
    "blob_copy",
    "blob_delete",
    "blob_download",
    "blob_exists",
    "blob_list",
    "blob_sas_url",
    "blob_upload",
    "delete_kv",
    "download_to_file",
    "keyvault_delete",
    "keyvault_read",
    "keyvault_write",
    "read_kv",
    "write_kv",
]
