"""Errors of orch-notify (the one place): each derives from the kit's kind
(:mod:`orch.integration`). A message names the block and the endpoint's host, never a
webhook URL (it may hold a signature), a routing key, a header's secret value or a
password: texts go through the kit's :func:`~orch.integration.redact`. The underlying
exception stays reachable as ``__cause__``.
"""

from __future__ import annotations

from typing import Any

from orch.integration import (
    AuthError,
    ConnectError,
    NotFoundError,
    ServiceError,
    ServiceTimeoutError,
    redact,
)

__all__ = [
    "NotifyAuthError",
    "NotifyConnectionError",
    "NotifyError",
    "NotifyNotFoundError",
    "NotifyRateLimitError",
    "NotifyTargetRefusedError",
    "NotifyTimeoutError",
    "http_status_error",
]


class NotifyError(ServiceError):
    """A notification could not be sent (``code``: the HTTP status or SMTP code)."""


class NotifyConnectionError(NotifyError, ConnectError):
    """The endpoint or SMTP server could not be reached (or TLS failed)."""


class NotifyTimeoutError(NotifyError, ServiceTimeoutError):
    """No answer in time."""


class NotifyAuthError(NotifyError, AuthError):
    """Refused: wrong password, routing key, signature or token (401, 403)."""


class NotifyNotFoundError(NotifyError, NotFoundError):
    """No such endpoint (404)."""


class NotifyRateLimitError(NotifyError):
    """Still refused with 429 after the block's ``max_retries``."""


class NotifyTargetRefusedError(NotifyError, PermissionError):
    """A webhook aimed at a private, loopback or link-local address (SSRF guard)."""


def http_status_error(response: Any, label: str, retries: int) -> NotifyError:
    """The error for a non-2xx ``response`` (after ``retries`` retries)."""
    status = int(response.status_code)
    text = redact((response.text or "").strip().replace("\n", " ")[:300])
    more = f" after {retries} retries" if retries else ""
    message = f"{label}: HTTP {status}{more}" + (f": {text}" if text else "")
    if status in (401, 403):
        return NotifyAuthError(message, code=str(status))
    if status == 404:
        return NotifyNotFoundError(message, code="404")
    if status == 429:
        return NotifyRateLimitError(message, code="429")
    return NotifyError(message, code=str(status))
