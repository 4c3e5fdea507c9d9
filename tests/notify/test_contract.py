"""orch-notify's blocks keep the contract of :mod:`orch.testing`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from orch.testing import BlockContract, ConnectorContract
from orch_notify import EmailServer, PagerDuty, TeamsWebhook, Webhook

from tests.backends._http import Recorder
from tests.backends.pagerduty import ROUTING_KEY
from tests.backends.teams import workflow_url


class TestEmailServer(BlockContract):
    block_type = EmailServer

    @pytest.fixture
    def block(self) -> EmailServer:
        return EmailServer(
            host="127.0.0.1",
            username="u@example.com",
            password="contract-Password-1",
            sender="u@example.com",
        )


class TestTeamsWebhook(ConnectorContract):
    block_type = TeamsWebhook

    @pytest.fixture
    def block(self, teams_fake: Recorder) -> TeamsWebhook:
        return TeamsWebhook(url=workflow_url(teams_fake), timeout=11)

    def probe(self, client: httpx.Client) -> None:
        assert isinstance(client, httpx.Client)


class TestPagerDuty(ConnectorContract):
    block_type = PagerDuty

    @pytest.fixture
    def block(self, pagerduty_fake: tuple[Recorder, Any]) -> PagerDuty:
        return PagerDuty(
            routing_key=ROUTING_KEY, events_url=f"{pagerduty_fake[0].url}/v2/enqueue", timeout=11
        )

    def probe(self, client: httpx.Client) -> None:
        assert isinstance(client, httpx.Client)


class TestWebhook(ConnectorContract):
    block_type = Webhook

    @pytest.fixture
    def block(self, receiver_fake: Recorder) -> Webhook:
        return Webhook(
            url=f"{receiver_fake.url}/x",
            secret_headers={"Authorization": "Bearer contract-Token-1"},
            allow_private_targets=True,
            timeout=11,
        )

    def probe(self, client: httpx.Client) -> None:
        assert isinstance(client, httpx.Client)
