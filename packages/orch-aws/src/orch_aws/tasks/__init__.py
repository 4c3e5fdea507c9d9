"""Every ready-made task of orch-aws: S3 in :mod:`orch_aws.tasks.s3`, Secrets Manager in
:mod:`orch_aws.tasks.secretsmanager` (both also importable from :mod:`orch_aws`).

Example:
    from orch_aws.tasks import read_secret, s3_download, s3_upload
"""

from __future__ import annotations

from orch_aws.tasks.s3 import (
    s3_copy,
    s3_delete,
    s3_download,
    s3_exists,
    s3_list,
    s3_move,
    s3_upload,
)
from orch_aws.tasks.secretsmanager import (
    create_secret,
    delete_secret,
    read_secret,
    update_secret,
)

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
