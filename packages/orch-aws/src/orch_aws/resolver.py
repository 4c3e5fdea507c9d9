"""The ``aws-sm://`` secret resolver: ``aws-sm://NAME[?version_stage=…&region=…][#json_key]``.

It reads the secret with the ``AwsCredentials`` block named by ``ORCH_AWS_CREDENTIALS_BLOCK``
when that is set, otherwise with boto3's default chain. orch-core caches the value per
reference for ``ORCH_SECRET_TTL`` seconds and lets one caller resolve while concurrent
callers of the same reference wait, so a burst of resolutions makes one API call; it also
applies ``#json_key``.

Query parameters: ``version_stage`` (e.g. ``AWSPREVIOUS``), ``version_id``, ``region``.
They come before ``#json_key``, as in any URL; the other order is refused with an error
that shows the right one (``#`` ends the location, so orch-core would read
``#password?region=x`` as a key named ``password?region=x``).

The credentials block the resolver uses cannot itself hold ``aws-sm://`` references: to
resolve them it would need that very block (a loop). That is refused with a clear error
before anything is resolved, and any other loop back into this resolver from the same
thread (say, through a ``vault://`` key whose Vault credentials are ``aws-sm://``) is
refused too, instead of waiting forever on orch-core's per-reference lock.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from orch.integration import SecretReferenceError

if TYPE_CHECKING:
    from orch import SecretRef
    from orch.integration import Resolved

    from orch_aws.credentials import AwsCredentials

CREDENTIALS_ENV = "ORCH_AWS_CREDENTIALS_BLOCK"
_PARAMS = {"version_stage", "version_id", "region"}
# The reference this thread is resolving, while it builds the client to do so: a second
# aws-sm:// resolution inside that is a loop (see the module's docstring).
_resolving = threading.local()


def _credentials(ref: SecretRef) -> AwsCredentials:
    from orch.integration import resolver_credentials

    from orch_aws.credentials import AwsCredentials

    return resolver_credentials(
        ref,
        AwsCredentials,
        CREDENTIALS_ENV,
        otherwise="use boto3's default chain",
        loop_fix="from env:// or file://, a profile, a role, or boto3's default chain",
    ) or AwsCredentials()


def _check_query_order(ref: SecretRef) -> None:
    """Refuse ``#key?param=…``: orch-core reads all of it as the key, silently wrong."""
    if ref.key is None or "?" not in ref.key:
        return
    key, _, query = ref.key.partition("?")
    names = {part.partition("=")[0] for part in query.split("&")}
    if names & _PARAMS:
        raise SecretReferenceError(
            f"secret reference {ref}: put the ?parameters before the #key, as in "
            f"aws-sm://{ref.location}?{query}#{key}"
        )


def resolve_aws_sm(ref: SecretRef) -> Resolved:
    """Resolve ``aws-sm://NAME``: the secret's string (JSON is left to ``#key``) or bytes.

    Example:
        >>> from orch import SecretRef
        >>> ref = SecretRef("aws-sm://prod/warehouse?region=eu-west-1#password")
        >>> ref.key, ref.params
        ('password', {'region': 'eu-west-1'})
        >>> ref.resolve()  # doctest: +SKIP
        'the password'
    """
    _check_query_order(ref)
    unknown = set(ref.params) - _PARAMS
    if unknown:
        raise SecretReferenceError(
            f"secret reference {ref}: unknown parameter(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(_PARAMS))})"
        )
    from botocore.exceptions import BotoCoreError, ClientError

    from orch_aws.errors import AwsSecretNotFoundError, secret_error

    outer = getattr(_resolving, "ref", None)
    if outer is not None:
        raise SecretReferenceError(
            f"secret reference {ref} is needed to build the AWS client that resolves {outer}: "
            f"a loop; the credentials of the aws-sm:// resolver ({CREDENTIALS_ENV}) must not "
            "depend on aws-sm:// secrets"
        )
    credentials = _credentials(ref)
    kwargs: dict[str, str] = {"SecretId": ref.location}
    if ref.params.get("version_stage"):
        kwargs["VersionStage"] = ref.params["version_stage"]
    if ref.params.get("version_id"):
        kwargs["VersionId"] = ref.params["version_id"]
    try:
        _resolving.ref = ref
        try:
            client = credentials.get_client("secretsmanager", region_name=ref.params.get("region"))
        finally:
            _resolving.ref = None
        response = client.get_secret_value(**kwargs)
    except (BotoCoreError, ClientError) as exc:
        error = secret_error(exc, action="aws-sm", name=ref.location, credentials=credentials)
        what = "does not exist" if isinstance(error, AwsSecretNotFoundError) else "failed"
        raise SecretReferenceError(f"secret reference {ref} {what}: {error}") from exc
    if response.get("SecretString") is not None:
        return str(response["SecretString"])
    return bytes(response["SecretBinary"])
