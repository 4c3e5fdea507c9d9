"""The slack-sdk side of orch-slack: the client of ``SlackCredentials`` (a ``WebClient``
with a rate-limit retry handler and a cache of channel ids), the webhook client of
``SlackWebhook``, and ``SlackChannel``, a notifier posting to one channel with a token.

slack-sdk is imported here on first use (a client is built), never when this module is
imported.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

from orch import Block
from orch.integration import Notifier
from pydantic import Field

from orch_slack.credentials import SlackCredentials
from orch_slack.errors import SlackNotFoundError, slack_error, slack_errors, where

if TYPE_CHECKING:
    from orch.integration import Severity

    from orch_slack.credentials import SlackWebhook

__all__ = ["SlackChannel", "SlackClient", "build_webhook_client"]

# Channel ids: C… public, G… private/group, D… direct message (upper-case letters, digits).
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
_SEVERITY_ICON = {
    "info": ":information_source:",
    "warning": ":warning:",
    "error": ":x:",
    "critical": ":rotating_light:",
}


class SlackClient:
    """What ``SlackCredentials.get_client()`` holds: the ``WebClient`` (``web``) and the
    channel ids found so far (``channel_id("#alerts")``: one ``conversations.list`` walk per
    process and token, not one per upload: those look-ups are rate-limited hard).

    Example:
        client = SlackCredentials.load("slack-bot").get_client()
        client.web.chat_postMessage(channel="#alerts", text="hi")
    """

    def __init__(self, credentials: SlackCredentials, web: Any) -> None:
        self.credentials = credentials
        self.web = web
        self.lookups = 0  # conversations.list walks made (tests and benchmarks read it)
        self._ids: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def build(cls, credentials: SlackCredentials) -> SlackClient:
        """A ``WebClient`` of ``credentials`` that retries 429s after ``Retry-After``."""
        from slack_sdk import WebClient
        from slack_sdk.http_retry.builtin_handlers import (
            ConnectionErrorRetryHandler,
            RateLimitErrorRetryHandler,
        )

        web = WebClient(
            token=credentials.token.get_secret_value(),
            base_url=credentials.base_url,
            timeout=int(credentials.timeout),
            retry_handlers=[
                ConnectionErrorRetryHandler(max_retry_count=1),
                RateLimitErrorRetryHandler(max_retry_count=credentials.max_retries),
            ],
        )
        return cls(credentials, web)

    def close(self) -> None:
        """Nothing to release: slack-sdk opens a connection per call."""

    def channel_id(self, channel: str) -> str:
        """The id of ``channel`` (an id is returned as given; ``#name`` or ``name`` is
        looked up once, then served from the cache)."""
        if _CHANNEL_ID.match(channel):
            return channel
        name = channel.lstrip("#")
        with self._lock:
            found = self._ids.get(name)
            if found is not None:
                return found
            self._walk_channels()
            found = self._ids.get(name)
        if found is None:
            raise SlackNotFoundError(
                f"no channel named {channel} that {where(self.credentials, None)} can see "
                "(private channels need the app invited; or give the channel id, C…)",
                code="channel_not_found",
            )
        return found

    def _walk_channels(self) -> None:
        self.lookups += 1
        cursor: str | None = None
        try:
            while True:
                page = self.web.conversations_list(
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=1000,
                    cursor=cursor,
                )
                for item in page.get("channels") or ():
                    self._ids[str(item["name"])] = str(item["id"])
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    return
        except slack_errors() as exc:
            raise slack_error(
                exc, action="listing channels", block=self.credentials, channel=None
            ) from exc


def build_webhook_client(webhook: SlackWebhook) -> Any:
    """A ``WebhookClient`` of ``webhook`` that retries 429s after ``Retry-After``."""
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
    )
    from slack_sdk.webhook import WebhookClient

    return WebhookClient(
        url=webhook.url.get_secret_value(),
        timeout=int(webhook.timeout),
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=1),
            RateLimitErrorRetryHandler(max_retry_count=webhook.max_retries),
        ],
    )


def notification_text(subject: str, body: str, severity: str) -> str:
    """The plain-text form of a notification (Slack's fallback and notifications)."""
    return f"{_SEVERITY_ICON.get(severity, '')} *{subject}*\n{body}".strip()


def notification_blocks(subject: str, body: str, severity: str) -> list[dict[str, Any]]:
    """Block Kit of a notification: a header with the subject, a section with the body."""
    icon = _SEVERITY_ICON.get(severity, "")
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"{icon} *{subject}*"[:3000]},
        }
    ]
    if body:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}})
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"severity: {severity}"}]}
    )
    return blocks


class SlackChannel(Block, Notifier):
    """A channel to post alerts to with a token: a notifier (``notify_on(channel)``).

    Example:
        from orch.integration import notify_on
        from orch_slack import SlackChannel, SlackCredentials

        alerts = SlackChannel(credentials=SlackCredentials.load("slack-bot"), channel="#alerts")
        alerts.notify("etl failed", "3 rows rejected")
    """

    block_type_slug = "slack-channel"

    credentials: SlackCredentials = Field(description="The token to post with.")
    channel: str = Field(description="Channel name (#alerts) or id (C0123ABC).")

    @classmethod
    def block_sample(cls) -> Self:
        return cls(credentials=SlackCredentials.block_sample(), channel="#alerts")

    def notify(
        self,
        subject: str,
        body: str,
        *,
        severity: Severity = "error",
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Post ``subject`` and ``body`` to the channel (Block Kit, plain-text fallback).

        Example:
            ``SlackChannel.load("alerts").notify("etl failed", "3 rows rejected")``
        """
        from orch_slack.tasks import post_message

        post_message(
            self.credentials,
            self.channel,
            notification_text(subject, body, severity),
            blocks=notification_blocks(subject, body, severity),
        )
