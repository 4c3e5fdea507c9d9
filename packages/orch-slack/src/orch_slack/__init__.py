"""orch-slack: Slack bot-token credentials, incoming webhooks, messages, file uploads and
a notifier for flow alerts.

Blocks: :class:`SlackCredentials`, :class:`SlackWebhook`, :class:`SlackChannel`; tasks
from :mod:`orch_slack.tasks`; errors from :mod:`orch_slack.errors`. Every name loads
with its module on first use: importing this package loads neither slack-sdk nor
pydantic.

Example:
    from orch_slack import SlackCredentials, slack_post_message
"""

from __future__ import annotations

from orch.integration import lazy_exports

# Not `from typing import TYPE_CHECKING`: importing typing costs start-up time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from orch_slack.connector import SlackChannel as SlackChannel
    from orch_slack.connector import SlackClient as SlackClient
    from orch_slack.credentials import SlackCredentials as SlackCredentials
    from orch_slack.credentials import SlackWebhook as SlackWebhook
    from orch_slack.errors import SlackAuthError as SlackAuthError
    from orch_slack.errors import SlackConnectionError as SlackConnectionError
    from orch_slack.errors import SlackError as SlackError
    from orch_slack.errors import SlackNotFoundError as SlackNotFoundError
    from orch_slack.errors import SlackRateLimitError as SlackRateLimitError
    from orch_slack.errors import SlackTimeoutError as SlackTimeoutError
    from orch_slack.tasks import slack_post_message as slack_post_message
    from orch_slack.tasks import slack_update_message as slack_update_message
    from orch_slack.tasks import slack_upload_file as slack_upload_file
    from orch_slack.tasks import slack_webhook_message as slack_webhook_message

_BLOCKS = {
    "SlackChannel": "orch_slack.connector",
    "SlackClient": "orch_slack.connector",
    "SlackCredentials": "orch_slack.credentials",
    "SlackWebhook": "orch_slack.credentials",
}
_ERRORS = (
    "SlackAuthError",
    "SlackConnectionError",
    "SlackError",
    "SlackNotFoundError",
    "SlackRateLimitError",
    "SlackTimeoutError",
)
_TASKS = (
    "slack_post_message",
    "slack_update_message",
    "slack_upload_file",
    "slack_webhook_message",
)
_EXPORTS = {
    **_BLOCKS,
    **dict.fromkeys(_ERRORS, "orch_slack.errors"),
    **dict.fromkeys(_TASKS, "orch_slack.tasks"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
