"""Errors of orch-mlflow, and the mapping of MLflow's errors onto them (the one place).

Each class derives from the kit's kind (:mod:`orch.integration`), so users may catch
``AuthError``/``NotFoundError``/``ConnectError`` whatever the service, or this package's
own names. A message names the block and the object (run, experiment, model, alias),
never a token or password: the server's text goes through the kit's
:func:`~orch.integration.redact`. MLflow's exception stays reachable as ``__cause__``.
"""

from __future__ import annotations

from typing import Any

from orch.integration import (
    AuthError,
    ConnectError,
    NotFoundError,
    ServiceError,
    block_label,
    first_line,
    redact,
)

__all__ = [
    "MlflowAuthError",
    "MlflowConnectionError",
    "MlflowError",
    "MlflowInputError",
    "MlflowNotFoundError",
    "mlflow_error",
    "mlflow_errors",
    "where",
]


class MlflowError(ServiceError):
    """An MLflow call made by an orch-mlflow block or task failed (``code``: MLflow's)."""


class MlflowConnectionError(MlflowError, ConnectError):
    """The tracking server could not be reached (or kept answering 429/5xx)."""


class MlflowAuthError(MlflowError, AuthError):
    """The server refused the credentials (401) or the permission (403)."""


class MlflowNotFoundError(MlflowError, NotFoundError, KeyError):
    """No such experiment, run, registered model, version or alias."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MlflowInputError(MlflowError, ValueError):
    """A value MLflow refuses, or a local input that is wrong (a metric that is not a
    number, an artifact path that does not exist)."""


_NOT_FOUND = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "ENDPOINT_NOT_FOUND"}
_AUTH = {"UNAUTHENTICATED", "PERMISSION_DENIED", "UNAUTHORIZED"}
_INPUT = {"INVALID_PARAMETER_VALUE", "BAD_REQUEST", "RESOURCE_ALREADY_EXISTS", "INVALID_STATE"}


def mlflow_errors() -> tuple[type[BaseException], ...]:
    """The exceptions MLflow and requests raise, for ``except mlflow_errors():``."""
    import requests
    from mlflow.exceptions import MlflowException

    return (MlflowException, requests.RequestException)


def where(server: Any, detail: str | None = None) -> str:
    """``mlflow-tracking-server/prod (run 1a2b)``: the block and the object, no secret."""
    label = block_label(server, getattr(server, "tracking_uri", None))
    return f"{label} ({detail})" if detail else label


def mlflow_error(
    exc: BaseException, *, action: str, server: Any, detail: str | None = None
) -> MlflowError:
    """The orch error for ``exc``, raised by MLflow while doing ``action`` on ``detail``."""
    import requests

    place = where(server, detail)
    if isinstance(exc, MlflowError):
        return exc
    text = redact(first_line(_server_text(exc), 300))
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return MlflowConnectionError(f"{action}: cannot reach the tracking server ({place})")
    code = str(getattr(exc, "error_code", "") or "")
    status = getattr(exc, "get_http_status_code", None)
    http = status() if callable(status) else None
    if code in _AUTH or http in (401, 403):
        return MlflowAuthError(
            f"{action}: the tracking server refused the credentials or permission ({place}); "
            "check the block's token or username/password",
            code=code or str(http),
        )
    if code in _NOT_FOUND or http == 404:
        return MlflowNotFoundError(f"{action}: not found ({place}): {text}", code=code or "404")
    if "Max retries exceeded" in text or "ConnectionError" in text or "Connection refused" in text:
        return MlflowConnectionError(
            f"{action}: cannot reach the tracking server, or it kept failing ({place})",
            code=code or None,
        )
    if code in _INPUT:
        return MlflowInputError(f"{action}: refused by MLflow ({place}): {text}", code=code)
    return MlflowError(f"{action} failed ({place}): {text}", code=code or None)


def _server_text(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    return str(message if message else exc) or type(exc).__name__
