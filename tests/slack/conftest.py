"""Fixtures of the orch-slack tests: blocks pointed at the session's fake Slack."""

from __future__ import annotations

import pytest
from orch_slack import SlackCredentials, SlackWebhook

from tests.backends.slack import TOKEN, FakeSlack


@pytest.fixture
def creds(slack: FakeSlack) -> SlackCredentials:
    return SlackCredentials(token=TOKEN, base_url=slack.api_url)


@pytest.fixture
def webhook(slack: FakeSlack) -> SlackWebhook:
    return SlackWebhook(url=slack.webhook_url)
