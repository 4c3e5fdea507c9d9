"""The ``aws-sm://`` secret resolver: ``aws-sm://NAME[?version_stage=…&region=…][#json_key]``.

It reads the secret with the ``AwsCredentials`` block named by ``ORCH_AWS_CREDENTIALS_BLOCK``
when that is set, otherwise with boto3's default chain. orch-core caches the value per
reference for ``ORCH_SECRET_TTL`` seconds and lets one caller resolve while concurrent
callers of the same reference wait, so a burst of resolutions makes one API call; it also
applies ``#json_key``.

Query parameters: ``version_stage`` (e.g. ``AWSPREVIOUS``), ``version_id``, ``region``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from orch.errors import SecretReferenceError
from orch.references import Resolved, SecretRef

if TYPE_CHECKING:
    from orch_aws.credentials import AwsCredentials

CREDENTIALS_ENV = "ORCH_AWS_CREDENTIALS_BLOCK"
_PARAMS = {"version_stage", "version_id", "region"}


def _credentials() -> AwsCredentials:
    from orch_aws.credentials import AwsCredentials

    name = os.environ.get(CREDENTIALS_ENV, "").strip()
    if not name:
        return AwsCredentials()
    return AwsCredentials.load(name)


def resolve_aws_sm(ref: SecretRef) -> Resolved:
    """Resolve ``aws-sm://NAME``: the secret's string (JSON is left to ``#key``) or bytes.

    Example:
        >>> ref = SecretRef("aws-sm://prod/warehouse?region=eu-west-1#password")
        >>> ref.resolve()  # doctest: +SKIP
        'the password'
    """
    unknown = set(ref.params) - _PARAMS
    if unknown:
        raise SecretReferenceError(
            f"secret reference {ref}: unknown parameter(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(_PARAMS))})"
        )
    from botocore.exceptions import BotoCoreError, ClientError

    from orch_aws.errors import AwsSecretNotFoundError, secret_error

    credentials = _credentials()
    kwargs: dict[str, str] = {"SecretId": ref.location}
    if ref.params.get("version_stage"):
        kwargs["VersionStage"] = ref.params["version_stage"]
    if ref.params.get("version_id"):
        kwargs["VersionId"] = ref.params["version_id"]
    try:
        client = credentials.get_client("secretsmanager", region_name=ref.params.get("region"))
        response = client.get_secret_value(**kwargs)
    except (BotoCoreError, ClientError) as exc:
        error = secret_error(exc, action="aws-sm", name=ref.location, credentials=credentials)
        what = "does not exist" if isinstance(error, AwsSecretNotFoundError) else "failed"
        raise SecretReferenceError(f"secret reference {ref} {what}: {error}") from exc
    if response.get("SecretString") is not None:
        return str(response["SecretString"])
    return bytes(response["SecretBinary"])
