"""Errors of orch-slack, and the mapping of slack-sdk's errors onto them (the one place).

Each class derives from the kit's kind (:mod:`orch.integration`). A message names the
block, the channel and Slack's error code (``channel_not_found``, ``invalid_auth``,
``ratelimited`` …), never a token or a webhook URL: the text goes through the kit's
:func:`~orch.integration.redact`. slack-sdk's exception stays reachable as ``__cause__``.
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
    "SlackAuthError",
    "SlackConnectionError",
    "SlackError",
    "SlackNotFoundError",
    "SlackRateLimitError",
    "SlackTimeoutError",
    "slack_error",
    "slack_errors",
]

# Slack's error codes that mean the token (or webhook) is wrong, revoked or not allowed
AUTH_CODES = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "invalid_token",
        "action_prohibited",
        "team_disabled",
    }
)
NOT_FOUND_CODES = frozenset(
    {"channel_not_found", "message_not_found", "file_not_found", "no_service", "not_in_channel"}
)


class SlackError(ServiceError):
    """A Slack call made by an orch-slack block or task failed (``code``: Slack's error)."""


class SlackConnectionError(SlackError, ConnectError):
    """Slack could not be reached."""


class SlackTimeoutError(SlackError, ServiceTimeoutError):
    """Slack did not answer in time."""


class SlackAuthError(SlackError, AuthError):
    """The token or webhook was refused (invalid, revoked, missing a scope)."""


class SlackNotFoundError(SlackError, NotFoundError):
    """No such channel, message or file (or the bot is not in the channel)."""


class SlackRateLimitError(SlackError):
    """Still rate-limited (429) after the block's ``max_retries``."""


def slack_errors() -> tuple[type[BaseException], ...]:
    """The exceptions slack-sdk raises, for ``except slack_errors():``."""
    import urllib.error

    from slack_sdk.errors import SlackClientError

    return (SlackClientError, urllib.error.URLError, TimeoutError, OSError)


def where(block: Any, channel: str | None) -> str:
    """``channel #alerts (slack-credentials/prod)``: no secret."""
    label = block_label(block)
    return f"channel {channel} ({label})" if channel else label


def error_for_code(code: str, message: str, status: int | None = None) -> SlackError:
    """The error class for Slack's error ``code``."""
    if status == 429 or code == "ratelimited":
        return SlackRateLimitError(message, code=code)
    if code in AUTH_CODES:
        return SlackAuthError(message, code=code)
    if code in NOT_FOUND_CODES:
        return SlackNotFoundError(message, code=code)
    return SlackError(message, code=code)


def slack_error(exc: BaseException, *, action: str, block: Any, channel: str | None) -> SlackError:
    """The orch error for ``exc``, raised by slack-sdk while doing ``action``."""
    from slack_sdk.errors import SlackApiError

    place = where(block, channel)
    if isinstance(exc, SlackApiError):
        response = exc.response
        code = str(response.get("error") or "unknown_error")
        status = getattr(response, "status_code", None)
        more = ""
        if status == 429:
            retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after")
            more = f" (still rate-limited after the retries; Slack asks to wait {retry_after} s)"
        hint = ""
        if code in AUTH_CODES:
            hint = "; check the token and the app's scopes"
        elif code == "not_in_channel":
            hint = "; invite the app to the channel"
        return error_for_code(
            code, redact(f"{action} in {place} failed: Slack error {code}{more}{hint}"), status
        )
    if isinstance(exc, TimeoutError):
        return SlackTimeoutError(f"{action} in {place}: no answer from Slack in time")
    text = redact(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}")
    return SlackConnectionError(f"{action} in {place}: cannot reach Slack ({text})")
