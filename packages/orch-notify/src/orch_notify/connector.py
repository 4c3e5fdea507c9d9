"""The httpx and smtplib side of orch-notify: the HTTP client of the webhook blocks (with
bounded retries that honour ``Retry-After``), the SSRF guard of ``Webhook``, and the SMTP
connection of ``EmailServer`` (SSL or STARTTLS, login).

httpx is imported here on first use (a client is built), never when this module is
imported.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from orch.integration import block_label

from orch_notify.errors import (
    NotifyConnectionError,
    NotifyError,
    NotifyTargetRefusedError,
    NotifyTimeoutError,
    http_status_error,
)

if TYPE_CHECKING:
    import smtplib

    from orch_notify.credentials import EmailServer

__all__ = ["check_target", "connect_smtp", "new_http_client", "send_http"]

# The longest Retry-After honoured: a server asking for more is reported, not waited for.
MAX_RETRY_AFTER = 60.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def new_http_client(block: Any) -> Any:
    """One ``httpx.Client`` for ``block`` (its timeout; redirects not followed: a redirect
    could lead a guarded webhook to a private address)."""
    import httpx

    return httpx.Client(timeout=block.timeout, follow_redirects=False)


def check_target(url: str, *, allow_private: bool, label: str) -> None:
    """Refuse ``url`` when its host is or resolves to a private, loopback, link-local,
    multicast, reserved or unspecified address (SSRF), unless ``allow_private``."""
    if allow_private:
        return
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise NotifyConnectionError(f"{label}: cannot resolve the host {host!r}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            raise NotifyTargetRefusedError(
                f"{label}: the target {host} resolves to {address}, a private, loopback, "
                "link-local or reserved address: refused (SSRF guard); set "
                "allow_private_targets=True if this endpoint is meant to be internal"
            )


def send_http(
    block: Any,
    method: str,
    url: str,
    *,
    action: str,
    target: str,
    json: Any = None,
    data: Any = None,
    params: Any = None,
    headers: dict[str, str] | None = None,
    guard: bool = False,
) -> Any:
    """Send one request with the block's client; retry a 429/5xx answer or a failed
    connection at most ``block.max_retries`` times (after ``Retry-After`` when given, else
    0.5 s, 1 s, 2 s …). ``target`` names the endpoint in messages (never its secret URL).
    Returns the ``httpx.Response`` of a 2xx answer; raises this package's errors."""
    import httpx

    label = f"{action} ({block_label(block)}, {target})"
    if guard:
        check_target(url, allow_private=block.allow_private_targets, label=label)
    client = block.get_client()
    attempt = 0
    while True:
        try:
            response = client.request(
                method, url, json=json, data=data, params=params, headers=headers
            )
        except httpx.TimeoutException as exc:
            if attempt < block.max_retries:
                attempt += 1
                time.sleep(_backoff(attempt))
                continue
            raise NotifyTimeoutError(f"{label}: no answer within {block.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            if attempt < block.max_retries:
                attempt += 1
                time.sleep(_backoff(attempt))
                continue
            raise NotifyConnectionError(
                f"{label}: cannot reach the endpoint ({type(exc).__name__})"
            ) from exc
        if response.is_success:
            return response
        if response.status_code in RETRY_STATUSES and attempt < block.max_retries:
            wait = _retry_after(response)
            if wait is None or wait <= MAX_RETRY_AFTER:
                attempt += 1
                time.sleep(_backoff(attempt) if wait is None else wait)
                continue
        raise http_status_error(response, label, attempt)


def _backoff(attempt: int) -> float:
    return float(min(0.5 * 2 ** (attempt - 1), 8.0))


def _retry_after(response: Any) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def connect_smtp(server: EmailServer) -> smtplib.SMTP:
    """A connected (and, when the block has a login, logged-in) SMTP session."""
    import smtplib
    import ssl

    context = ssl.create_default_context(cafile=server.ca_cert)
    if not server.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    label = f"{block_label(server)} ({server.host}:{server.port})"
    smtp: smtplib.SMTP
    try:
        if server.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                server.host, server.port, timeout=server.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
            if server.security == "starttls":
                smtp.starttls(context=context)
        if server.username is not None and server.password is not None:
            smtp.login(server.username, server.password.get_secret_value())
    except smtplib.SMTPAuthenticationError as exc:
        from orch_notify.errors import NotifyAuthError

        raise NotifyAuthError(
            f"SMTP login refused for {server.username!r} at {label}: {exc.smtp_code}",
            code=str(exc.smtp_code),
        ) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise NotifyError(f"SMTP server {label}: {exc}") from exc
    except ssl.SSLError as exc:
        raise NotifyConnectionError(
            f"TLS with the SMTP server {label} failed: {exc.reason or exc}; check "
            "security, port, ca_cert"
        ) from exc
    except TimeoutError as exc:
        raise NotifyTimeoutError(f"SMTP server {label}: no answer in time") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise NotifyConnectionError(
            f"cannot talk to the SMTP server {label}: {type(exc).__name__}: {exc}"
        ) from exc
    return smtp
