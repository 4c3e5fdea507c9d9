"""Errors of orch-aws, and the mapping of botocore's errors onto them (the one place).

Each class derives from the kit's kind (:mod:`orch.integration`), so users may catch
``NotFoundError``/``AuthError``/``ConnectError`` whatever the service, or this package's
own names. Every message names the block and the object (bucket/key, secret) and what to
check; it never carries an access key, a secret key or a session token: AWS's own message
goes through the kit's :func:`~orch.integration.redact` and is scrubbed of anything shaped
like an access key id. The botocore exception stays reachable as ``__cause__``.
"""

from __future__ import annotations

import re
from typing import Any

from orch.integration import (
    AuthError,
    ConnectError,
    NotFoundError,
    ServiceError,
    ServiceTimeoutError,
    block_label,
    redact,
)

__all__ = [
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
    "aws_errors",
    "s3_error",
    "s3_key_errors",
    "scrub",
    "secret_error",
]


class AwsError(ServiceError):
    """An AWS call made by an orch-aws block or task failed.

    ``code`` is AWS's error code (``NoSuchBucket``, ``AccessDenied``...) when there is one.
    """


class AwsConnectionError(AwsError, ConnectError):
    """The endpoint could not be reached (refused, unknown host, network)."""


class AwsTimeoutError(AwsError, ServiceTimeoutError):
    """AWS did not answer in time (connect or read timeout)."""


class AwsAuthError(AwsError, AuthError):
    """No usable credentials: none found, or a profile that does not exist."""


class S3Error(AwsError):
    """An S3 operation failed (missing bucket or key, access denied, wrong region...)."""


class S3NotFoundError(S3Error, NotFoundError, FileNotFoundError):
    """The bucket or the object does not exist."""


class S3AccessDeniedError(S3Error, AuthError):
    """The credentials may not do this, or are not valid (also a ``PermissionError``)."""


class AwsSecretError(AwsError):
    """A Secrets Manager operation failed."""


class AwsSecretNotFoundError(AwsSecretError, NotFoundError, KeyError):
    """No secret of that name (or that version) exists."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AwsSecretAccessDeniedError(AwsSecretError, AuthError):
    """The credentials may not read or change this secret."""


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


def scrub(text: str, credentials: Any = None) -> str:
    """``text`` without the credentials' secret values, any secret this process resolved,
    nor anything shaped like an access key id."""
    if credentials is not None:
        for value in credentials.secret_values():
            if len(value) >= 4:
                text = text.replace(value, "**********")
    return _ACCESS_KEY_ID.sub("**********", redact(text))


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


def _credentials_label(credentials: Any) -> str:
    return block_label(credentials) if credentials is not None else "the default chain"


def s3_error(
    exc: BaseException,
    *,
    action: str,
    bucket: Any,
    bucket_name: str,
    key: str | None = None,
) -> AwsError:
    """An :class:`S3Error` for ``exc`` raised while doing ``action`` on ``bucket``'s object.

    ``bucket`` is the :class:`~orch_aws.S3Bucket` block (named in the message).
    """
    credentials = getattr(bucket, "credentials", None)
    where = f"s3://{bucket_name}/{key}" if key is not None else f"bucket {bucket_name!r}"
    block = block_label(bucket)
    cred_block = _credentials_label(credentials)
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
        f"{block_label(bucket)}) {what}: {listed}{more}"
    )
    if code in _DENIED:
        cred_block = _credentials_label(getattr(bucket, "credentials", None))
        return S3AccessDeniedError(
            f"{message}; access denied to credentials {cred_block}: check them and the "
            "policies of the bucket",
            code,
        )
    return S3Error(message, code)


def secret_error(exc: BaseException, *, action: str, name: str, credentials: Any) -> AwsError:
    """An :class:`AwsSecretError` for ``exc`` raised while doing ``action`` on secret ``name``."""
    cred_block = block_label(credentials)
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
            code,
        )
    if code in _DENIED:
        return AwsSecretAccessDeniedError(
            f"{action}: access denied to secret {name!r} (credentials {cred_block}): "
            f"{code}{detail}",
            code,
        )
    return AwsSecretError(
        f"{action} secret {name!r} failed (credentials {cred_block}): {code}{detail}", code
    )


def _generic(exc: BaseException, credentials: Any, what: str) -> AwsError | None:
    """Errors raised before AWS answered: no credentials, unreachable endpoint, timeouts."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return AwsAuthError(
            f"{what}: no AWS credentials were found; set keys, profile_name or role_arn on "
            "the AwsCredentials block, or configure boto3's default chain",
            "NoCredentials",
        )
    if isinstance(exc, bx.ProfileNotFound):
        return AwsAuthError(f"{what}: {scrub(str(exc), credentials)}", "ProfileNotFound")
    # ConnectTimeoutError is also an EndpointConnectionError: timeouts first.
    if isinstance(exc, bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return AwsTimeoutError(f"{what}: timed out ({scrub(str(exc))})", "Timeout")
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectionClosedError):
        return AwsConnectionError(
            f"{what}: cannot reach the endpoint ({scrub(str(exc))})", "Connection"
        )
    if isinstance(exc, bx.NoRegionError):
        return AwsError(f"{what}: no region; set region_name on the credentials", "NoRegion")
    if isinstance(exc, bx.ClientError):
        return None
    if isinstance(exc, bx.BotoCoreError):
        return AwsError(f"{what}: {type(exc).__name__}: {scrub(str(exc), credentials)}")
    return None
