"""orch-aws: AWS credentials, S3 buckets and Secrets Manager for orch.

Blocks: :class:`AwsCredentials`, :class:`S3Bucket`, :class:`AwsSecret`. Tasks live in
:mod:`orch_aws.tasks` (also importable from here). The ``aws-sm://`` secret resolver is
registered through the ``orch.secret_resolvers`` entry point. boto3 is imported on first
use, never by importing this package.

Example:
    >>> from orch_aws import AwsCredentials, S3Bucket, s3_upload
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orch.lazy import lazy_exports

from orch_aws.credentials import AwsCredentials
from orch_aws.s3 import S3Bucket
from orch_aws.secrets_manager import AwsSecret

if TYPE_CHECKING:
    from orch_aws.tasks import create_secret as create_secret
    from orch_aws.tasks import delete_secret as delete_secret
    from orch_aws.tasks import read_secret as read_secret
    from orch_aws.tasks import s3_copy as s3_copy
    from orch_aws.tasks import s3_delete as s3_delete
    from orch_aws.tasks import s3_download as s3_download
    from orch_aws.tasks import s3_exists as s3_exists
    from orch_aws.tasks import s3_list as s3_list
    from orch_aws.tasks import s3_move as s3_move
    from orch_aws.tasks import s3_upload as s3_upload
    from orch_aws.tasks import update_secret as update_secret

_TASKS = {
    "s3_upload",
    "s3_download",
    "s3_list",
    "s3_copy",
    "s3_move",
    "s3_delete",
    "s3_exists",
    "read_secret",
    "create_secret",
    "update_secret",
    "delete_secret",
}

__all__ = ["AwsCredentials", "AwsSecret", "S3Bucket", *sorted(_TASKS)]

# Tasks load on first use: listing block types imports only the block modules.
__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(_TASKS, "orch_aws.tasks"))
