"""orch-notify: notifiers for flow alerts and the tasks behind them: e-mail (SMTP),
Microsoft Teams (Workflows webhooks, Adaptive Cards), PagerDuty (Events API v2) and
generic webhooks (SSRF-guarded).

Blocks: :class:`EmailServer`, :class:`TeamsWebhook`, :class:`PagerDuty`,
:class:`Webhook`; tasks from :mod:`orch_notify.tasks`; errors from
:mod:`orch_notify.errors`. Every name loads with its module on first use: importing this
package loads neither httpx nor pydantic.

Example:
    from orch_notify import EmailServer, email_send
"""

from __future__ import annotations

from orch.integration import lazy_exports

# Not `from typing import TYPE_CHECKING`: importing typing costs start-up time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from orch_notify.credentials import EmailServer as EmailServer
    from orch_notify.credentials import PagerDuty as PagerDuty
    from orch_notify.credentials import TeamsWebhook as TeamsWebhook
    from orch_notify.credentials import Webhook as Webhook
    from orch_notify.errors import NotifyAuthError as NotifyAuthError
    from orch_notify.errors import NotifyConnectionError as NotifyConnectionError
    from orch_notify.errors import NotifyError as NotifyError
    from orch_notify.errors import NotifyNotFoundError as NotifyNotFoundError
    from orch_notify.errors import NotifyRateLimitError as NotifyRateLimitError
    from orch_notify.errors import NotifyTargetRefusedError as NotifyTargetRefusedError
    from orch_notify.errors import NotifyTimeoutError as NotifyTimeoutError
    from orch_notify.tasks import email_send as email_send
    from orch_notify.tasks import pagerduty_resolve as pagerduty_resolve
    from orch_notify.tasks import pagerduty_trigger as pagerduty_trigger
    from orch_notify.tasks import teams_send_message as teams_send_message
    from orch_notify.tasks import webhook_send as webhook_send

_BLOCKS = {
    "EmailServer": "orch_notify.credentials",
    "PagerDuty": "orch_notify.credentials",
    "TeamsWebhook": "orch_notify.credentials",
    "Webhook": "orch_notify.credentials",
}
_ERRORS = (
    "NotifyAuthError",
    "NotifyConnectionError",
    "NotifyError",
    "NotifyNotFoundError",
    "NotifyRateLimitError",
    "NotifyTargetRefusedError",
    "NotifyTimeoutError",
)
_TASKS = (
    "email_send",
    "pagerduty_resolve",
    "pagerduty_trigger",
    "teams_send_message",
    "webhook_send",
)
_EXPORTS = {
    **_BLOCKS,
    **dict.fromkeys(_ERRORS, "orch_notify.errors"),
    **dict.fromkeys(_TASKS, "orch_notify.tasks"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
