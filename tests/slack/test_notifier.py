"""Slack as a notifier: notify_on(SlackWebhook / SlackChannel) in a flow's hooks."""

from __future__ import annotations

import pytest
from orch import SecretRef, flow
from orch.integration import Notifier, notify_on
from orch_slack import SlackChannel, SlackCredentials, SlackWebhook

from tests.backends.slack import TOKEN, FakeSlack


def test_blocks_have_the_notifier_role() -> None:
    assert issubclass(SlackWebhook, Notifier)
    assert issubclass(SlackChannel, Notifier)


def test_failed_flow_alerts_through_the_webhook_without_secrets(
    slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_HOOK", slack.webhook_url)
    SlackWebhook(url=SecretRef("env://SLACK_HOOK")).save("alerts")

    @flow(name="nightly", on_failure=[notify_on("slack-webhook/alerts")])
    def nightly() -> None:
        raise RuntimeError(f"posting to {SlackWebhook.load('alerts').url.get_secret_value()}")

    state = nightly(return_state=True)
    assert state.name == "Failed"
    (message,) = slack.webhook_messages
    assert "*nightly: flow run" in message["text"]
    assert "Failed" in message["text"]
    assert "RuntimeError: posting to **********" in message["text"]
    assert "FakeWebhookSecret123456" not in str(message)


def test_channel_notifier_posts_with_the_token(slack: FakeSlack) -> None:
    alerts = SlackChannel(
        credentials=SlackCredentials(token=TOKEN, base_url=slack.api_url), channel="#alerts"
    )

    @flow(name="load", on_completion=[notify_on(alerts, subject="{flow_name} ok")])
    def load() -> int:
        return 1

    assert load() == 1
    (message,) = slack.messages
    assert message["channel"] == "C0ALERTS"
    assert message["text"].startswith(":information_source: *load ok*")
    assert message["blocks"][0]["text"]["text"] == ":information_source: *load ok*"
    assert TOKEN not in str(message)


def test_a_slack_outage_never_fails_the_flow(slack: FakeSlack) -> None:
    slack.rate_limit(10, retry_after=1)
    hook = SlackWebhook(url=slack.webhook_url, max_retries=0)

    @flow(on_completion=[notify_on(hook)])
    def fine() -> str:
        return "result"

    assert fine() == "result"
    assert slack.webhook_messages == []
