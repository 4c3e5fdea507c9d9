"""Errors of orch-aws, and the translation of botocore's errors into them.

Every message names the block and the object (bucket/key, secret) and what to check. It
never carries an access key, a secret key or a session token: AWS's own message is
scrubbed of the credentials' values and of anything shaped like an access key id. The
botocore exception stays reachable as ``__cause__``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from orch.errors import OrchError

if TYPE_CHECKING:
    from orch_aws.credentials import AwsCredentials


class AwsError(OrchError):
    """An AWS call made by an orch-aws block or task failed.

    ``code`` is AWS's error code (``NoSuchBucket``, ``AccessDenied``...) when there is one.
    """

    code: str | None

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class S3Error(AwsError):
    """An S3 operation failed (missing bucket or key, access denied, wrong region...)."""


class S3NotFoundError(S3Error, FileNotFoundError):
    """The bucket or the object does not exist."""


class S3AccessDeniedError(S3Error, PermissionError):
    """The credentials may not do this, or are not valid."""


class AwsSecretError(AwsError):
    """A Secrets Manager operation failed."""


class AwsSecretNotFoundError(AwsSecretError, KeyError):
    """No secret of that name (or that version) exists."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{12,}\b")
_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidToken",
    "AllAccessDisabled",
    "403",
    "Forbidden",
}
_WRONG_REGION = {
    "PermanentRedirect",
    "AuthorizationHeaderMalformed",
    "IllegalLocationConstraintException",
    "301",
}


def aws_errors() -> tuple[type[BaseException], ...]:
    """botocore's two error roots, to catch around a call (botocore is imported on use)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def describe(block: Any) -> str:
    """How to name a block in a message: ``s3-bucket/prod`` or ``an unsaved S3Bucket``."""
    name = getattr(block, "block_document_name", None)
    return name if name else f"an unsaved {type(block).__name__}"


def scrub(text: str, credentials: AwsCredentials | None = None) -> str:
    """``text`` without the credentials' secret values nor anything like an access key id."""
    if credentials is not None:
        for value in credentials.secret_values():
            if len(value) >= 4:
                text = text.replace(value, "**********")
    return _ACCESS_KEY_ID.sub("**********", text)


def _code_and_message(exc: BaseException) -> tuple[str | None, str, dict[str, Any]]:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        code = error.get("Code") or str(
            response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        )
        return code or None, str(error.get("Message") or ""), response
    return None, str(exc), {}


def _region_of(response: dict[str, Any]) -> str | None:
    error = response.get("Error") or {}
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    region = error.get("Region") or error.get("Expected") or headers.get("x-amz-bucket-region")
    return str(region) if region else None


def s3_error(
    exc: BaseException,
    *,
    action: str,
    bucket: Any,
    bucket_name: str,
    key: str | None = None,
) -> AwsError:
    """An :class:`S3Error` for ``exc`` raised while doing ``action`` on ``bucket``'s object.

    ``bucket`` is the :class:`~orch_aws.s3.S3Bucket` block (named in the message).
    """
    credentials = getattr(bucket, "credentials", None)
    where = f"s3://{bucket_name}/{key}" if key is not None else f"bucket {bucket_name!r}"
    block = describe(bucket)
    cred_block = describe(credentials) if credentials is not None else "the default chain"
    generic = _generic(exc, credentials, f"{action} {where} (block {block})")
    if generic is not None:
        return generic
    code, message, response = _code_and_message(exc)
    detail = scrub(message, credentials)
    detail = f": {detail}" if detail else ""
    if code in ("NoSuchBucket",) or (code in ("404", "NotFound") and key is None):
        return S3NotFoundError(
            f"{action}: bucket {bucket_name!r} does not exist (block {block}); "
            "check bucket_name, and region_name/endpoint_url of its credentials",
            code,
        )
    if code in ("NoSuchKey", "404", "NotFound"):
        return S3NotFoundError(
            f"{action}: no object {where} (block {block}); keys are relative to the "
            "block's bucket_folder",
            code,
        )
    if code in _DENIED:
        return S3AccessDeniedError(
            f"{action}: access denied to {where} (block {block}, credentials {cred_block}): "
            f"{code}{detail}; check the credentials and the policies of the bucket",
            code,
        )
    if code in _WRONG_REGION:
        region = _region_of(response)
        hint = f"the bucket is in {region!r}" if region else "the bucket is in another region"
        configured = getattr(credentials, "region_name", None) or "the default chain's region"
        return S3Error(
            f"{action}: wrong region for {where} (block {block}): {hint}, the client uses "
            f"{configured}; set region_name on the credentials ({cred_block})",
            code,
        )
    return S3Error(f"{action} {where} failed (block {block}): {code}{detail}", code)


def s3_key_errors(action: str, bucket: Any, errors: list[dict[str, Any]], what: str) -> S3Error:
    """One error for the per-key failures of a batch request (``DeleteObjects``): the first
    keys and codes, and an :class:`S3AccessDeniedError` when access was what failed."""
    listed = ", ".join(f"{e.get('Key')!r} ({e.get('Code')})" for e in errors[:5])
    more = f" and {len(errors) - 5} more" if len(errors) > 5 else ""
    code = str(errors[0].get("Code"))
    message = (
        f"{action}: {len(errors)} key(s) of bucket {bucket.bucket_name!r} (block "
        f"{describe(bucket)}) {what}: {listed}{more}"
    )
    if code in _DENIED:
        credentials = getattr(bucket, "credentials", None)
        cred_block = describe(credentials) if credentials is not None else "the default chain"
        return S3AccessDeniedError(
            f"{message}; access denied to credentials {cred_block}: check them and the "
            "policies of the bucket",
            code,
        )
    return S3Error(message, code)


def secret_error(exc: BaseException, *, action: str, name: str, credentials: Any) -> AwsError:
    """An :class:`AwsSecretError` for ``exc`` raised while doing ``action`` on secret ``name``."""
    cred_block = describe(credentials)
    generic = _generic(exc, credentials, f"{action} secret {name!r} (credentials {cred_block})")
    if generic is not None:
        return generic
    code, message, _ = _code_and_message(exc)
    detail = scrub(message, credentials)
    detail = f": {detail}" if detail else ""
    if code == "ResourceNotFoundException":
        return AwsSecretNotFoundError(
            f"{action}: no secret {name!r} (or no such version) with credentials {cred_block} "
            f"in region {getattr(credentials, 'region_name', None) or '(default)'}",
        )
    if code in _DENIED:
        return AwsSecretError(
            f"{action}: access denied to secret {name!r} (credentials {cred_block}): "
            f"{code}{detail}",
            code,
        )
    return AwsSecretError(
        f"{action} secret {name!r} failed (credentials {cred_block}): {code}{detail}", code
    )


def _generic(exc: BaseException, credentials: Any, what: str) -> AwsError | None:
    """Errors raised before AWS answered: no credentials, unreachable endpoint."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return AwsError(
            f"{what}: no AWS credentials were found; set keys, profile_name or role_arn on "
            "the AwsCredentials block, or configure boto3's default chain",
            "NoCredentials",
        )
    if isinstance(exc, bx.ProfileNotFound):
        return AwsError(f"{what}: {scrub(str(exc), credentials)}", "ProfileNotFound")
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectionClosedError):
        return AwsError(f"{what}: cannot reach the endpoint ({scrub(str(exc))})", "Connection")
    if isinstance(exc, bx.NoRegionError):
        return AwsError(f"{what}: no region; set region_name on the credentials", "NoRegion")
    if isinstance(exc, bx.ClientError):
        return None
    if isinstance(exc, bx.BotoCoreError):
        return AwsError(f"{what}: {type(exc).__name__}: {scrub(str(exc), credentials)}")
    return None
