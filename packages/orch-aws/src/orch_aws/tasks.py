"""Every ready-made task of orch-aws, in one place to import from.

The S3 tasks live in :mod:`orch_aws.s3_tasks`, the Secrets Manager tasks in
:mod:`orch_aws.secret_tasks`; this module gathers them (as does :mod:`orch_aws` itself).

Example:
    from orch_aws.tasks import read_secret, s3_download, s3_upload
"""

from __future__ import annotations

from orch_aws.s3_tasks import (
    s3_copy,
    s3_delete,
    s3_download,
    s3_exists,
    s3_list,
    s3_move,
    s3_upload,
)
from orch_aws.secret_tasks import create_secret, delete_secret, read_secret, update_secret

__all__ = [
    "create_secret",
    "delete_secret",
    "read_secret",
    "s3_copy",
    "s3_delete",
    "s3_download",
    "s3_exists",
    "s3_list",
    "s3_move",
    "s3_upload",
    "update_secret",
]
