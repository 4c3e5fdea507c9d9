"""orch-slack's blocks keep the contract of :mod:`orch.testing` (against the fake Slack)."""

from __future__ import annotations

from typing import Any

import pytest
from orch.testing import BlockContract, ConnectorContract
from orch_slack import SlackChannel, SlackClient, SlackCredentials, SlackWebhook

from tests.backends.slack import TOKEN, FakeSlack


class TestSlackCredentials(ConnectorContract):
    block_type = SlackCredentials

    @pytest.fixture
    def block(self, slack_fake: FakeSlack) -> SlackCredentials:
        # a content of its own: no other test's block holds this client
        return SlackCredentials(token=TOKEN, base_url=slack_fake.api_url, timeout=31)

    def probe(self, client: SlackClient) -> None:
        assert client.web.auth_test()["ok"]


class TestSlackWebhook(ConnectorContract):
    block_type = SlackWebhook

    @pytest.fixture
    def block(self, slack_fake: FakeSlack) -> SlackWebhook:
        return SlackWebhook(url=slack_fake.webhook_url, timeout=31)

    def probe(self, client: Any) -> None:
        assert client.send(text="contract probe").status_code == 200


class TestSlackChannel(BlockContract):
    block_type = SlackChannel

    @pytest.fixture
    def block(self, slack_fake: FakeSlack) -> SlackChannel:
        return SlackChannel(
            credentials=SlackCredentials(
                token="xoxb-contract-Token-1", base_url=slack_fake.api_url
            ),
            channel="#alerts",
        )
