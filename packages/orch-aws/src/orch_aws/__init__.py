"""orch-aws: AWS credentials, S3 buckets and Secrets Manager for orch.

Blocks: :class:`AwsCredentials`, :class:`S3Bucket`, :class:`AwsSecret`; tasks from
:mod:`orch_aws.tasks`; errors from :mod:`orch_aws.errors`. The ``aws-sm://`` secret
resolver is registered through the ``orch.secret_resolvers`` entry point. Every name
loads with its module on first use: importing this package loads neither boto3 nor
pydantic.

Example:
    from orch_aws import AwsCredentials, S3Bucket, s3_upload
"""

from __future__ import annotations

from orch.integration import lazy_exports

# Not `from typing import TYPE_CHECKING`: importing typing costs start-up time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from orch_aws.connector import AwsSecret as AwsSecret
    from orch_aws.connector import S3Bucket as S3Bucket
    from orch_aws.credentials import AwsCredentials as AwsCredentials
    from orch_aws.errors import AwsAuthError as AwsAuthError
    from orch_aws.errors import AwsConnectionError as AwsConnectionError
    from orch_aws.errors import AwsError as AwsError
    from orch_aws.errors import AwsSecretAccessDeniedError as AwsSecretAccessDeniedError
    from orch_aws.errors import AwsSecretError as AwsSecretError
    from orch_aws.errors import AwsSecretNotFoundError as AwsSecretNotFoundError
    from orch_aws.errors import AwsTimeoutError as AwsTimeoutError
    from orch_aws.errors import S3AccessDeniedError as S3AccessDeniedError
    from orch_aws.errors import S3Error as S3Error
    from orch_aws.errors import S3NotFoundError as S3NotFoundError
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

_BLOCKS = {
    "AwsCredentials": "orch_aws.credentials",
    "S3Bucket": "orch_aws.connector",
    "AwsSecret": "orch_aws.connector",
}
_ERRORS = (
    "AwsAuthError",
    "AwsConnectionError",
    "AwsError",
    "AwsSecretAccessDeniedError",
    "AwsSecretError",
    "AwsSecretNotFoundError",
    "AwsTimeoutError",
    "S3AccessDeniedError",
    "S3Error",
    "S3NotFoundError",
)
_TASKS = (
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
)
_EXPORTS = {
    **_BLOCKS,
    **dict.fromkeys(_ERRORS, "orch_aws.errors"),
    **dict.fromkeys(_TASKS, "orch_aws.tasks"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
