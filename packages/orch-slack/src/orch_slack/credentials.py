"""``SlackCredentials`` (a bot or user token) and ``SlackWebhook`` (an incoming webhook).

Both are :class:`~orch.integration.Connector` blocks: the slack-sdk client is made on first
use, shared by equal blocks in a process and made anew in a forked child. Each client
retries a rate-limited call (HTTP 429) after the ``Retry-After`` Slack sends, at most
``max_retries`` times. No SDK is imported here: slack-sdk loads in
:mod:`orch_slack.connector`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from orch import SecretStr
from orch.integration import Connector, Notifier
from pydantic import Field, field_validator

if TYPE_CHECKING:
    from collections.abc import Mapping

    from orch.integration import Severity

    from orch_slack.connector import SlackClient

__all__ = ["SlackCredentials", "SlackWebhook"]

DEFAULT_API_URL = "https://slack.com/api/"


class SlackCredentials(Connector["SlackClient"]):
    """A Slack app's bot token (``xoxb-…``) or user token (``xoxp-…``).

    ``base_url`` points at another Web API address (GovSlack, a proxy, a test fake).
    Rate-limited calls wait the ``Retry-After`` Slack asks for and retry, at most
    ``max_retries`` times.

    Example:
        from orch import SecretRef
        from orch_slack import SlackCredentials, slack_post_message

        creds = SlackCredentials(token=SecretRef("env://SLACK_BOT_TOKEN"))
        creds.save("slack-bot")
        slack_post_message(creds, "#alerts", "nightly load done")
    """

    block_type_slug = "slack-credentials"

    token: SecretStr = Field(description="Bot (xoxb-) or user (xoxp-) token of a Slack app.")
    base_url: str = Field(
        default=DEFAULT_API_URL,
        description="The Web API's address (default https://slack.com/api/).",
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for an answer.")
    max_retries: int = Field(
        default=3,
        ge=0,
        le=20,
        description="Retries of a rate-limited (429) call, each after its Retry-After.",
    )

    @field_validator("base_url")
    @classmethod
    def _slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {value!r}")
        return value if value.endswith("/") else value + "/"

    @classmethod
    def block_sample(cls) -> Self:
        return cls(token="xoxb-sample-token")  # noqa: S106 - a placeholder

    def _new_client(self) -> SlackClient:
        from orch_slack.connector import SlackClient

        return SlackClient.build(self)

    @staticmethod
    def _close_client(client: Any) -> None:
        client.close()


class SlackWebhook(Connector[Any], Notifier):
    """A Slack incoming webhook (``https://hooks.slack.com/services/…``): posts to the one
    channel it was made for. The URL holds a secret, so it is stored as one.

    As a notifier (``notify_on(webhook)`` in a flow's hooks) it posts the subject in bold
    with the body under it.

    Example:
        from orch import SecretRef
        from orch_slack import SlackWebhook, slack_webhook_message

        hook = SlackWebhook(url=SecretRef("env://SLACK_WEBHOOK_URL"))
        slack_webhook_message(hook, "deploy finished")
    """

    block_type_slug = "slack-webhook"

    url: SecretStr = Field(description="The incoming webhook URL (holds a secret).")
    timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for an answer.")
    max_retries: int = Field(
        default=3,
        ge=0,
        le=20,
        description="Retries of a rate-limited (429) post, each after its Retry-After.",
    )

    @classmethod
    def block_sample(cls) -> Self:
        return cls(url="https://hooks.slack.com/services/T000/B000/sample")

    def _new_client(self) -> Any:
        from orch_slack.connector import build_webhook_client

        return build_webhook_client(self)

    @staticmethod
    def _close_client(client: Any) -> None:
        pass  # a WebhookClient holds no connection between posts

    def notify(
        self,
        subject: str,
        body: str,
        *,
        severity: Severity = "error",
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Post ``subject`` and ``body`` (Block Kit, with a plain-text fallback).

        Example:
            ``SlackWebhook.load("alerts").notify("etl failed", "3 rows rejected")``
        """
        from orch_slack.connector import notification_blocks, notification_text
        from orch_slack.tasks import send_webhook

        send_webhook(
            self,
            text=notification_text(subject, body, severity),
            blocks=notification_blocks(subject, body, severity),
        )
