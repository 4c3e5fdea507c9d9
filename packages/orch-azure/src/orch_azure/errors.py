"""Errors of orch-azure, and the mapping of azure-core's errors onto them (the one place).

Each class derives from the kit's kind (:mod:`orch.integration`), so users may catch
``AuthError``/``NotFoundError``/``ConnectError`` whatever the service, or this package's
own names. A message names the action, the block and the object (container, blob or
secret) and the service's error code; never an account key, SAS token, connection string
or secret value: only the first line of the service's text is kept, through the kit's
:func:`~orch.integration.redact`. The SDK's exception stays reachable as ``__cause__``.
"""

from __future__ import annotations

from typing import Any

from orch.integration import (
    AlreadyExistsError,
    AuthError,
    ConnectError,
    NotFoundError,
    ServiceError,
    ServiceTimeoutError,
    block_label,
    redact,
)

__all__ = [
    "AzureAuthError",
    "AzureConnectionError",
    "AzureError",
    "AzureExistsError",
    "AzureNotFoundError",
    "AzureTimeoutError",
    "azure_error",
    "azure_errors",
]


class AzureError(ServiceError):
    """An Azure call made by an orch-azure block or task failed (``code``: Azure's code)."""


class AzureConnectionError(AzureError, ConnectError):
    """The service could not be reached."""


class AzureTimeoutError(AzureError, ServiceTimeoutError):
    """The service did not answer in time."""


class AzureAuthError(AzureError, AuthError):
    """Authentication refused (wrong key, expired SAS, bad client secret) or permission denied."""


class AzureNotFoundError(AzureError, NotFoundError, KeyError):
    """No such container, blob, vault secret or version."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AzureExistsError(AzureError, AlreadyExistsError):
    """The object exists already (or is being deleted: a soft-deleted secret's name)."""


def azure_errors() -> tuple[type[BaseException], ...]:
    """The exceptions azure-core (and azure-identity) raise, for ``except azure_errors():``."""
    from azure.core.exceptions import AzureError as SdkAzureError

    return (SdkAzureError,)


def where(block: Any, obj: str | None = None) -> str:
    """``azure-blob-container/raw at raw/2024/x.csv`` (the block and the object, no secret)."""
    detail = getattr(block, "container_name", None) or getattr(block, "vault_url", None)
    if detail is None:
        detail = getattr(block, "account_url", None) or getattr(block, "method", None)
    label = block_label(block, detail)
    return f"{label} at {obj}" if obj else label


def _code(exc: BaseException) -> str | None:
    code = getattr(exc, "error_code", None) or getattr(getattr(exc, "error", None), "code", None)
    if code:
        return str(getattr(code, "value", code))  # the SDK's StorageErrorCode enum
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return None if status is None else str(status)


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(exc, "status_code", None) or getattr(response, "status_code", None)
    return int(status) if status is not None else None


def _reason(exc: BaseException) -> str:
    """The first line of the service's text (Azure appends RequestId, Time and the XML)."""
    text = (
        getattr(getattr(exc, "error", None), "message", None)
        or getattr(exc, "message", None)
        or getattr(exc, "reason", None)
        or str(exc)
    )
    first = str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__
    return redact(first)[:300]


_NOT_FOUND_WHAT = {
    "ContainerNotFound": "no such container",
    "BlobNotFound": "no such blob",
    "SecretNotFound": "no such secret",
    "ResourceNotFound": "not found",
}


def azure_error(
    exc: BaseException,
    *,
    action: str,
    block: Any,
    obj: str | None = None,
    credentials: Any = None,
) -> AzureError:
    """The orch error for ``exc``, raised by the Azure SDK while doing ``action``.

    ``obj`` names the container, blob or secret; ``credentials`` (default: the block's)
    says which auth method to check when the service refused the request.
    """
    from azure.core.exceptions import (
        ClientAuthenticationError,
        ResourceExistsError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceRequestTimeoutError,
        ServiceResponseError,
        ServiceResponseTimeoutError,
    )

    place = where(block, obj)
    code = _code(exc)
    status = _status(exc)
    creds = credentials if credentials is not None else getattr(block, "credentials", block)
    method = getattr(creds, "method", "?")
    if isinstance(exc, ServiceRequestTimeoutError | ServiceResponseTimeoutError):
        return AzureTimeoutError(f"{action}: no answer in time from {place}", code)
    if isinstance(exc, ServiceRequestError):
        return AzureConnectionError(
            f"{action}: cannot reach the service ({place}): {_connect_reason(exc)}", code
        )
    if isinstance(exc, ServiceResponseError) and status is None:
        return AzureConnectionError(
            f"{action}: the connection broke ({place}): {_connect_reason(exc)}", code
        )
    if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
        hint = {
            "account_key": "check account_key",
            "sas": "check sas_token: expired, or missing a permission?",
            "connection_string": "check the connection string's key or SAS",
            "service_principal": "check tenant_id, client_id and the secret or certificate, "
            "and the role assignments",
            "default": "check which identity DefaultAzureCredential found, and its role "
            "assignments",
        }.get(method, "check the credentials")
        return AzureAuthError(
            f"{action}: access refused ({method}, {place}): {code or 'AuthenticationFailed'}; "
            f"{hint}",
            code,
        )
    if isinstance(exc, ResourceNotFoundError) or status == 404:
        what = _NOT_FOUND_WHAT.get(code or "", "not found")
        return AzureNotFoundError(f"{action}: {what} ({place})", code or "404")
    if isinstance(exc, ResourceExistsError) or status == 409:
        return AzureExistsError(f"{action}: conflict ({place}): {_reason(exc)}", code or "409")
    if type(exc).__module__.startswith("azure.identity") or "Credential" in type(exc).__name__:
        return AzureAuthError(
            f"{action}: could not get a token ({method}, {place}): {_reason(exc)}", code
        )
    return AzureError(f"{action} failed ({place}): {code or ''} {_reason(exc)}".strip(), code)


def _connect_reason(exc: BaseException) -> str:
    # The request URL may carry a SAS in its query: keep only the kind of failure.
    inner = getattr(exc, "inner_exception", None) or exc
    text = str(inner).split("?", 1)[0]
    return redact(text.strip().splitlines()[0] if text.strip() else type(inner).__name__)[:200]
