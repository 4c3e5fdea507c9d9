"""orch-gcp: Google Cloud credentials, BigQuery, Cloud Storage and Secret Manager for orch.

Blocks: :class:`GcpCredentials`, :class:`GcsBucket`, :class:`BigQueryWarehouse`,
:class:`GcpSecret`; tasks from :mod:`orch_gcp.tasks`; errors from :mod:`orch_gcp.errors`.
The ``gcp-sm://`` secret resolver is registered through the ``orch.secret_resolvers``
entry point. Every name loads with its module on first use: importing this package loads
no Google library and no pydantic.

Example:
    from orch_gcp import GcpCredentials, GcsBucket, gcs_upload
"""

from __future__ import annotations

from orch.integration import lazy_exports

# Not `from typing import TYPE_CHECKING`: importing typing costs start-up time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from orch_gcp.connector import BigQueryWarehouse as BigQueryWarehouse
    from orch_gcp.connector import GcpSecret as GcpSecret
    from orch_gcp.connector import GcsBucket as GcsBucket
    from orch_gcp.credentials import GcpCredentials as GcpCredentials
    from orch_gcp.errors import BigQueryQueryError as BigQueryQueryError
    from orch_gcp.errors import GcpAlreadyExistsError as GcpAlreadyExistsError
    from orch_gcp.errors import GcpAuthError as GcpAuthError
    from orch_gcp.errors import GcpConnectionError as GcpConnectionError
    from orch_gcp.errors import GcpError as GcpError
    from orch_gcp.errors import GcpNotFoundError as GcpNotFoundError
    from orch_gcp.errors import GcpQuotaError as GcpQuotaError
    from orch_gcp.errors import GcpTimeoutError as GcpTimeoutError
    from orch_gcp.tasks.bigquery import bigquery_create_dataset as bigquery_create_dataset
    from orch_gcp.tasks.bigquery import bigquery_create_table as bigquery_create_table
    from orch_gcp.tasks.bigquery import bigquery_execute as bigquery_execute
    from orch_gcp.tasks.bigquery import bigquery_fetch_many as bigquery_fetch_many
    from orch_gcp.tasks.bigquery import bigquery_insert_rows as bigquery_insert_rows
    from orch_gcp.tasks.bigquery import bigquery_load_file as bigquery_load_file
    from orch_gcp.tasks.bigquery import bigquery_load_frame as bigquery_load_frame
    from orch_gcp.tasks.bigquery import bigquery_load_gcs as bigquery_load_gcs
    from orch_gcp.tasks.bigquery import bigquery_query as bigquery_query
    from orch_gcp.tasks.gcs import gcs_copy as gcs_copy
    from orch_gcp.tasks.gcs import gcs_delete as gcs_delete
    from orch_gcp.tasks.gcs import gcs_download as gcs_download
    from orch_gcp.tasks.gcs import gcs_exists as gcs_exists
    from orch_gcp.tasks.gcs import gcs_list as gcs_list
    from orch_gcp.tasks.gcs import gcs_upload as gcs_upload
    from orch_gcp.tasks.secret_manager import gcp_secret_delete as gcp_secret_delete
    from orch_gcp.tasks.secret_manager import gcp_secret_read as gcp_secret_read
    from orch_gcp.tasks.secret_manager import gcp_secret_write as gcp_secret_write

_BLOCKS = {
    "GcpCredentials": "orch_gcp.credentials",
    "GcsBucket": "orch_gcp.connector",
    "BigQueryWarehouse": "orch_gcp.connector",
    "GcpSecret": "orch_gcp.connector",
}
_ERRORS = (
    "BigQueryQueryError",
    "GcpAlreadyExistsError",
    "GcpAuthError",
    "GcpConnectionError",
    "GcpError",
    "GcpNotFoundError",
    "GcpQuotaError",
    "GcpTimeoutError",
)
_TASKS = {
    **dict.fromkeys(
        (
            "bigquery_create_dataset",
            "bigquery_create_table",
            "bigquery_execute",
            "bigquery_fetch_many",
            "bigquery_insert_rows",
            "bigquery_load_file",
            "bigquery_load_frame",
            "bigquery_load_gcs",
            "bigquery_query",
        ),
        "orch_gcp.tasks.bigquery",
    ),
    **dict.fromkeys(
        ("gcs_copy", "gcs_delete", "gcs_download", "gcs_exists", "gcs_list", "gcs_upload"),
        "orch_gcp.tasks.gcs",
    ),
    **dict.fromkeys(
        ("gcp_secret_delete", "gcp_secret_read", "gcp_secret_write"),
        "orch_gcp.tasks.secret_manager",
    ),
}
_EXPORTS = {**_BLOCKS, **dict.fromkeys(_ERRORS, "orch_gcp.errors"), **_TASKS}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
