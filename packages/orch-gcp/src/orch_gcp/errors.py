"""Errors of orch-gcp, and the mapping of Google's errors onto them (the one place).

Each class derives from the kit's kind (:mod:`orch.integration`), so users may catch
``AuthError``/``NotFoundError``/``ConnectError`` whatever the service, or this package's
own names. A message names the block and the object (``gs://bucket/key``, a table, a
secret), never key material: the server's text goes through the kit's
:func:`~orch.integration.redact`. Google's exception stays reachable as ``__cause__``.
"""

from __future__ import annotations

import re
from typing import Any

from orch.integration import (
    AlreadyExistsError,
    AuthError,
    ConnectError,
    NotFoundError,
    QueryError,
    ServiceError,
    ServiceTimeoutError,
    block_label,
    redact,
)

__all__ = [
    "BigQueryQueryError",
    "GcpAlreadyExistsError",
    "GcpAuthError",
    "GcpConnectionError",
    "GcpError",
    "GcpNotFoundError",
    "GcpQuotaError",
    "GcpTimeoutError",
    "gcp_error",
    "gcp_errors",
]


class GcpError(ServiceError):
    """A Google Cloud call made by an orch-gcp block or task failed (``code``: HTTP status)."""


class GcpConnectionError(GcpError, ConnectError):
    """The service (or the token endpoint) could not be reached."""


class GcpTimeoutError(GcpError, ServiceTimeoutError):
    """The call or job did not finish in time (a BigQuery job is cancelled first)."""


class GcpAuthError(GcpError, AuthError):
    """No usable credentials, a refused token, or permission denied."""


class GcpNotFoundError(GcpError, NotFoundError, KeyError):
    """No such bucket, object, dataset, table, job or secret (version)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class GcpAlreadyExistsError(GcpError, AlreadyExistsError):
    """Creating a bucket, dataset, table or secret that exists already."""


class GcpQuotaError(GcpError):
    """A quota or rate limit was exceeded (also ``maximum_bytes_billed``)."""


class BigQueryQueryError(GcpError, QueryError):
    """A query or statement was refused (syntax, types); the message has line and column."""


def gcp_errors(*more: type[BaseException]) -> tuple[type[BaseException], ...]:
    """The exceptions Google's clients raise (and ``more``), for ``except gcp_errors():``."""
    import google.api_core.exceptions as api
    import google.auth.exceptions as auth
    import requests

    return (
        api.GoogleAPIError,
        auth.GoogleAuthError,
        requests.RequestException,
        ConnectionError,
        TimeoutError,
        *more,
    )


_QUOTA_REASONS = ("quotaExceeded", "rateLimitExceeded", "bytesBilledLimitExceeded")
_POSITION = re.compile(r"\[(\d+):(\d+)\]|Line (\d+), Col: (\d+)")
_REQUEST = re.compile(r"^(?:\d{3} )?(?:GET|POST|PUT|PATCH|DELETE) \S+: ")


def gcp_error(
    exc: BaseException,
    *,
    action: str,
    block: Any,
    what: str | None = None,
    statement: str | None = None,
) -> GcpError:
    """The orch error for ``exc``, raised by a Google client while doing ``action`` on
    ``what`` (``gs://b/k``, ``dataset.table``) for ``block``.

    ``statement`` is the SQL of a query: a refused query's message gives its first line
    and the line and column the server points at.
    """
    import google.api_core.exceptions as api
    import google.auth.exceptions as auth
    import requests

    if isinstance(exc, GcpError):
        return exc
    if isinstance(exc, api.RetryError) and isinstance(exc.cause, BaseException):
        # Retried until the deadline: the last error says what went wrong.
        last = gcp_error(exc.cause, action=action, block=block, what=what, statement=statement)
        return type(last)(f"{last} (retried until the deadline)", code=last.code)
    place = block_label(block)
    credentials = getattr(block, "credentials", None)
    if getattr(credentials, "block_document_name", None):
        place = f"{place}, credentials {block_label(credentials)}"
    target = f"{what} ({place})" if what else place
    text = redact(_server_text(exc))
    code = _status(exc)
    if isinstance(exc, auth.DefaultCredentialsError):
        return GcpAuthError(
            f"{action}: no Google credentials for {target}: give service_account_info or "
            "service_account_file, set up Application Default Credentials, or set "
            "anonymous for an emulator"
        )
    if isinstance(exc, auth.RefreshError):
        reason = redact(str(exc.args[0]) if exc.args else text)[:200]
        return GcpAuthError(
            f"{action}: no token for {target}: the token endpoint refused the credentials: "
            f"{reason}",
            code=code,
        )
    if isinstance(exc, auth.TransportError | requests.ConnectionError | ConnectionError):
        return GcpConnectionError(f"{action}: cannot reach the service for {target}: {text}")
    if isinstance(
        exc, requests.Timeout | TimeoutError | api.DeadlineExceeded | api.RetryError
    ) and not isinstance(exc, api.GoogleAPICallError | ConnectionError):
        return GcpTimeoutError(f"{action}: no answer in time for {target}", code=code)
    if isinstance(exc, api.DeadlineExceeded):
        return GcpTimeoutError(f"{action}: no answer in time for {target}", code=code)
    reasons = _reasons(exc)
    if isinstance(exc, api.TooManyRequests) or set(reasons) & set(_QUOTA_REASONS):
        return GcpQuotaError(f"{action}: quota exceeded for {target}: {text}", code=code)
    if isinstance(exc, api.Unauthorized | api.Forbidden):
        return GcpAuthError(f"{action}: permission denied on {target}: {text}", code=code)
    if isinstance(exc, api.NotFound):
        if what is None:  # a query: the server names the missing table or dataset
            return GcpNotFoundError(f"{action}: {text} ({place})", code=code)
        return GcpNotFoundError(f"{action}: {what} does not exist ({place})", code=code)
    if isinstance(exc, api.Conflict):
        return GcpAlreadyExistsError(
            f"{action}: {what or 'it'} already exists ({place})", code=code
        )
    if statement is not None and isinstance(exc, api.BadRequest | api.GoogleAPICallError):
        from orch.integration import first_line

        where = _POSITION.search(text)
        at = ""
        if where:
            line, column = where.group(1) or where.group(3), where.group(2) or where.group(4)
            at = f" at line {line}, column {column}"
        return BigQueryQueryError(
            f"{action}: query refused{at} ({place}): {text} [{first_line(statement)}]",
            code=code,
        )
    return GcpError(f"{action} failed on {target}: {text}", code=code)


def _status(exc: BaseException) -> str | None:
    code = getattr(exc, "code", None)
    if code is None:
        response = getattr(exc, "response", None)
        code = getattr(response, "status_code", None) or getattr(response, "status", None)
    try:
        return None if code is None else str(int(code))
    except (TypeError, ValueError):
        return str(code)


def _reasons(exc: BaseException) -> list[str]:
    found = []
    for error in getattr(exc, "errors", None) or ():
        if isinstance(error, dict) and error.get("reason"):
            found.append(str(error["reason"]))
    return found


def _server_text(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None) or ()
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    if first.get("message"):
        return _REQUEST.sub("", str(first["message"]).split("\n", 1)[0].strip())
    message = getattr(exc, "message", None)
    text = str(message) if message else str(exc)
    # Google's messages may end in the request URL and a long JSON body: keep the reason.
    text = text.split("\n", 1)[0].strip()
    # The REST transports put "GET https://...: " before the server's message.
    text = _REQUEST.sub("", text)
    return text or type(exc).__name__
