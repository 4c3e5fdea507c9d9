"""Fixtures of the orch-notify tests: blocks pointed at the session's local services."""

from __future__ import annotations

from typing import Any

import pytest
from orch_notify import EmailServer, PagerDuty, TeamsWebhook, Webhook

from tests.backends._http import Recorder
from tests.backends.pagerduty import ROUTING_KEY
from tests.backends.smtp import PASSWORD, USER, SmtpServer
from tests.backends.teams import workflow_url


@pytest.fixture
def email_server(smtp: SmtpServer) -> EmailServer:
    return EmailServer(
        host=smtp.host,
        port=smtp.starttls_port,
        security="starttls",
        username=USER,
        password=PASSWORD,
        sender=USER,
        notify_to=["oncall@example.com"],
        ca_cert=smtp.ca_file,
    )


@pytest.fixture
def teams_hook(teams: Recorder) -> TeamsWebhook:
    return TeamsWebhook(url=workflow_url(teams))


@pytest.fixture
def pd(pagerduty: tuple[Recorder, dict[str, Any]]) -> PagerDuty:
    fake, _ = pagerduty
    return PagerDuty(routing_key=ROUTING_KEY, events_url=f"{fake.url}/v2/enqueue")


@pytest.fixture
def hook(receiver: Recorder) -> Webhook:
    return Webhook(url=f"{receiver.url}/alerts", allow_private_targets=True)
