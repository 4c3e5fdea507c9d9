"""Secrets Manager tasks: read, create, update and delete a secret.

Each task takes :class:`~orch_aws.AwsCredentials` and a secret name, or an
:class:`~orch_aws.AwsSecret` block in place of both. Also importable
from :mod:`orch_aws.tasks` and :mod:`orch_aws`. To put a secret *into another block's
field*, use an ``aws-sm://`` reference instead (:mod:`orch_aws.resolver`).
"""

from __future__ import annotations

import json
from typing import Any

from orch import SecretStr, task
from orch.integration import remember_secret

from orch_aws.connector import AwsSecret
from orch_aws.credentials import AwsCredentials
from orch_aws.errors import aws_errors, secret_error

__all__ = ["create_secret", "delete_secret", "read_secret", "update_secret"]


def _target(
    credentials: AwsCredentials | AwsSecret, name: str | None
) -> tuple[AwsCredentials, str]:
    if isinstance(credentials, AwsSecret):
        return credentials.credentials, name or credentials.secret_name
    if not name:
        raise ValueError("name the secret (or pass an AwsSecret block)")
    return credentials, name


def _secret_payload(value: Any, action: str, name: str) -> dict[str, Any]:
    # `value` defaults to None only because `name` before it is optional (an AwsSecret
    # block names the secret): a forgotten value must not store an empty secret.
    if value is None:
        raise ValueError(f"{action}: give the value of secret {name!r}")
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, bytes | bytearray):
        return {"SecretBinary": bytes(value)}
    if isinstance(value, str):
        return {"SecretString": value}
    if isinstance(value, dict | list):
        return {"SecretString": json.dumps(value)}
    raise TypeError(f"a secret value is str, bytes, a dict or a list, got {type(value).__name__}")


@task
def read_secret(
    credentials: AwsCredentials | AwsSecret,
    name: str | None = None,
    *,
    version_id: str | None = None,
    version_stage: str | None = None,
    as_json: bool = False,
) -> str | bytes | Any:
    """Read a secret's value: its string, its bytes, or (``as_json=True``) the parsed JSON.

    The value is registered for redaction: it is masked in orch's logs and run history.

    Example:
        from orch_aws import AwsCredentials
        from orch_aws.tasks import read_secret

        creds = AwsCredentials.load("prod")
        password = read_secret(creds, "prod/warehouse", as_json=True)["password"]
    """
    creds, secret_name = _target(credentials, name)
    kwargs: dict[str, Any] = {"SecretId": secret_name}
    if version_id:
        kwargs["VersionId"] = version_id
    if version_stage:
        kwargs["VersionStage"] = version_stage
    try:
        response = creds.get_client("secretsmanager").get_secret_value(**kwargs)
    except aws_errors() as exc:
        raise secret_error(exc, action="read_secret", name=secret_name, credentials=creds) from exc
    value: str | bytes = (
        response["SecretString"]
        if response.get("SecretString") is not None
        else bytes(response["SecretBinary"])
    )
    remember_secret(value)
    if not as_json:
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        raise ValueError(f"read_secret: secret {secret_name!r} is not JSON") from None
    remember_secret(parsed)
    return parsed


@task
def create_secret(
    credentials: AwsCredentials | AwsSecret,
    name: str | None = None,
    value: str | bytes | dict[str, Any] | list[Any] | SecretStr | None = None,
    *,
    description: str | None = None,
    tags: dict[str, str] | None = None,
    kms_key_id: str | None = None,
) -> str:
    """Create a secret (a dict or list is stored as JSON); returns its ARN.

    Example:
        from orch_aws import AwsCredentials
        from orch_aws.tasks import create_secret

        create_secret(AwsCredentials.load("prod"), "prod/api", {"token": "..."})
    """
    creds, secret_name = _target(credentials, name)
    kwargs: dict[str, Any] = {
        "Name": secret_name,
        **_secret_payload(value, "create_secret", secret_name),
    }
    if description is not None:
        kwargs["Description"] = description
    if tags:
        kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    if kms_key_id:
        kwargs["KmsKeyId"] = kms_key_id
    try:
        response = creds.get_client("secretsmanager").create_secret(**kwargs)
    except aws_errors() as exc:
        raise secret_error(
            exc, action="create_secret", name=secret_name, credentials=creds
        ) from exc
    return str(response["ARN"])


@task
def update_secret(
    credentials: AwsCredentials | AwsSecret,
    name: str | None = None,
    value: str | bytes | dict[str, Any] | list[Any] | SecretStr | None = None,
) -> str:
    """Store a new value of an existing secret (it becomes ``AWSCURRENT``); returns its version id.

    Example:
        from orch_aws import AwsCredentials
        from orch_aws.tasks import update_secret

        update_secret(AwsCredentials.load("prod"), "prod/api", {"token": "..."})
    """
    creds, secret_name = _target(credentials, name)
    try:
        response = creds.get_client("secretsmanager").put_secret_value(
            SecretId=secret_name, **_secret_payload(value, "update_secret", secret_name)
        )
    except aws_errors() as exc:
        raise secret_error(
            exc, action="update_secret", name=secret_name, credentials=creds
        ) from exc
    return str(response["VersionId"])


@task
def delete_secret(
    credentials: AwsCredentials | AwsSecret,
    name: str | None = None,
    *,
    recovery_window_days: int = 30,
    force: bool = False,
) -> None:
    """Delete a secret, restorable for ``recovery_window_days`` (7-30), or now with ``force``.

    Example:
        from orch_aws import AwsCredentials
        from orch_aws.tasks import delete_secret

        delete_secret(AwsCredentials.load("prod"), "prod/old-api", force=True)
    """
    creds, secret_name = _target(credentials, name)
    kwargs: dict[str, Any] = {"SecretId": secret_name}
    if force:
        kwargs["ForceDeleteWithoutRecovery"] = True
    else:
        if not 7 <= recovery_window_days <= 30:
            raise ValueError(f"recovery_window_days must be 7 to 30, got {recovery_window_days}")
        kwargs["RecoveryWindowInDays"] = recovery_window_days
    try:
        creds.get_client("secretsmanager").delete_secret(**kwargs)
    except aws_errors() as exc:
        raise secret_error(
            exc, action="delete_secret", name=secret_name, credentials=creds
        ) from exc
