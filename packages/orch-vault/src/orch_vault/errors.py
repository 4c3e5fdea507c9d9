"""Errors of orch-vault, and the mapping of hvac's errors onto them (the one place).

Each class derives from the kit's kind (:mod:`orch.integration`), so users may catch
``AuthError``/``NotFoundError``/``ConnectError`` whatever the service, or this package's
own names. A message names the block and the path, never a token, secret id or secret:
the server's text goes through the kit's :func:`~orch.integration.redact`. hvac's
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
    block_label,
    redact,
)

__all__ = [
    "VaultAuthError",
    "VaultCheckAndSetError",
    "VaultConnectionError",
    "VaultError",
    "VaultNotFoundError",
    "VaultTimeoutError",
    "vault_error",
    "vault_errors",
]


class VaultError(ServiceError):
    """A Vault call made by an orch-vault block or task failed (``code``: HTTP status)."""


class VaultConnectionError(VaultError, ConnectError):
    """The server could not be reached, or is sealed or on standby."""


class VaultTimeoutError(VaultError, ServiceTimeoutError):
    """The server did not answer in time."""


class VaultAuthError(VaultError, AuthError):
    """Login refused (wrong secret id, password, role), or permission denied."""


class VaultNotFoundError(VaultError, NotFoundError, KeyError):
    """No secret at that path (or that version), or no such key in it."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class VaultCheckAndSetError(VaultError):
    """A write with ``cas`` found another current version (someone wrote in between)."""


def vault_errors() -> tuple[type[BaseException], ...]:
    """The exceptions hvac and requests raise, for ``except vault_errors():``."""
    import hvac.exceptions
    import requests

    return (hvac.exceptions.VaultError, requests.RequestException)


def where(credentials: Any, mount: str | None = None, path: str | None = None) -> str:
    """``vault-credentials/prod at secret/app`` (the block and the path, no secret)."""
    label = block_label(credentials, getattr(credentials, "url", None))
    if path is None:
        return label
    return f"{label} at {mount}/{path}" if mount else f"{label} at {path}"


def vault_error(
    exc: BaseException,
    *,
    action: str,
    credentials: Any,
    mount: str | None = None,
    path: str | None = None,
    login: bool = False,
) -> VaultError:
    """The orch error for ``exc``, raised by hvac while doing ``action``.

    ``login`` says the error came from logging in: any refusal then is an auth error.
    """
    import hvac.exceptions
    import requests

    place = where(credentials, mount, path)
    text = redact(_server_text(exc))
    if isinstance(exc, requests.Timeout):
        return VaultTimeoutError(f"{action}: no answer in time from {place}")
    if isinstance(exc, requests.ConnectionError):
        return VaultConnectionError(f"{action}: cannot reach the server ({place})")
    if isinstance(exc, hvac.exceptions.VaultDown | hvac.exceptions.BadGateway):
        return VaultConnectionError(
            f"{action}: the server is sealed or unavailable ({place}): {text}", code="503"
        )
    if login and isinstance(
        exc,
        hvac.exceptions.InvalidRequest | hvac.exceptions.Forbidden | hvac.exceptions.Unauthorized,
    ):
        method = getattr(credentials, "auth_method", "?")
        return VaultAuthError(
            f"{action}: login refused ({method}, {place}): {text}; check the credentials",
            code=_status(exc),
        )
    if isinstance(exc, hvac.exceptions.Forbidden | hvac.exceptions.Unauthorized):
        return VaultAuthError(
            f"{action}: permission denied ({place}); the token's policies do not allow it",
            code=_status(exc),
        )
    if isinstance(exc, hvac.exceptions.InvalidPath):
        return VaultNotFoundError(f"{action}: no secret at {place}", code="404")
    if isinstance(exc, hvac.exceptions.InvalidRequest) and "check-and-set" in text:
        return VaultCheckAndSetError(
            f"{action}: check-and-set failed ({place}): the current version is not the "
            f"one given as cas: {text}",
            code="400",
        )
    return VaultError(f"{action} failed ({place}): {text}", code=_status(exc))


def _status(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return None if status is None else str(status)


def _server_text(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        return "; ".join(str(e) for e in errors)
    return str(exc).split(", on ")[0] or type(exc).__name__
