"""Every ready-made task of orch-gcp: Cloud Storage in :mod:`orch_gcp.tasks.gcs`, BigQuery
in :mod:`orch_gcp.tasks.bigquery`, Secret Manager in :mod:`orch_gcp.tasks.secret_manager`
(all also importable from :mod:`orch_gcp`). Each loads with its module on first use.

Example:
    from orch_gcp.tasks import bigquery_query, gcs_upload, gcp_secret_read
"""

from __future__ import annotations

from orch.integration import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
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

BIGQUERY = (
    "bigquery_create_dataset",
    "bigquery_create_table",
    "bigquery_execute",
    "bigquery_fetch_many",
    "bigquery_insert_rows",
    "bigquery_load_file",
    "bigquery_load_frame",
    "bigquery_load_gcs",
    "bigquery_query",
)
GCS = ("gcs_copy", "gcs_delete", "gcs_download", "gcs_exists", "gcs_list", "gcs_upload")
SECRET_MANAGER = ("gcp_secret_delete", "gcp_secret_read", "gcp_secret_write")
MODULE_OF_TASK = {
    **dict.fromkeys(BIGQUERY, "orch_gcp.tasks.bigquery"),
    **dict.fromkeys(GCS, "orch_gcp.tasks.gcs"),
    **dict.fromkeys(SECRET_MANAGER, "orch_gcp.tasks.secret_manager"),
}
__all__ = sorted(MODULE_OF_TASK)
__getattr__, __dir__ = lazy_exports(__name__, MODULE_OF_TASK)
