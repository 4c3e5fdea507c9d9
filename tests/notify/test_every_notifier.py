"""One failing flow alerts through every notifier (Slack webhook and channel, e-mail,
Teams, PagerDuty, a webhook): each receiver gets one message with the rendered text, and
no secret (token, password, routing key, webhook signature) appears in any of them."""

from __future__ import annotations

from typing import Any

from orch import flow
from orch.integration import notify_on
from orch_notify import EmailServer, PagerDuty, TeamsWebhook, Webhook
from orch_slack import SlackChannel, SlackCredentials, SlackWebhook

from tests.backends._http import Recorder
from tests.backends.pagerduty import ROUTING_KEY
from tests.backends.slack import TOKEN, FakeSlack
from tests.backends.smtp import PASSWORD, SmtpServer
from tests.backends.teams import SIGNATURE


def test_a_failing_flow_alerts_every_notifier_once_without_secrets(
    slack: FakeSlack,
    smtp: SmtpServer,
    teams: Recorder,
    pagerduty: tuple[Recorder, dict[str, Any]],
    receiver: Recorder,
    email_server: EmailServer,
    teams_hook: TeamsWebhook,
    pd: PagerDuty,
    hook: Webhook,
) -> None:
    bot = SlackCredentials(token=TOKEN, base_url=slack.api_url)
    notifiers = [
        SlackWebhook(url=slack.webhook_url),
        SlackChannel(credentials=bot, channel="#alerts"),
        email_server,
        teams_hook,
        pd,
        hook,
    ]
    subject = "{flow_name} {state}: {error}"
    body = "run {flow_run_name} ({flow_run_id}) after {duration}; see {run_url}"

    @flow(
        name="nightly-load",
        flow_run_name="load-{day}",
        on_failure=[notify_on(n, subject=subject, body=body) for n in notifiers],
    )
    def nightly_load(day: str) -> None:
        # every secret in play was revealed in this process; the error even quotes them
        leaked = [
            bot.token.get_secret_value(),
            email_server.password.get_secret_value(),  # type: ignore[union-attr]
            pd.routing_key.get_secret_value(),
            teams_hook.url.get_secret_value(),
            notifiers[0].url.get_secret_value(),  # type: ignore[attr-defined]
        ]
        raise RuntimeError("load refused with " + " ".join(leaked))

    state = nightly_load("2024-01-02", return_state=True)
    assert state.name == "Failed"
    expected_subject = "nightly-load Failed: RuntimeError: load refused with"

    texts: dict[str, str] = {}
    (texts["slack-webhook"],) = [m["text"] for m in slack.webhook_messages]
    (texts["slack-channel"],) = [m["text"] for m in slack.messages]
    (mail,) = smtp.messages
    texts["email"] = f"{mail.message['Subject']}\n{mail.message.get_body(('plain',)).get_content()}"
    (teams_request,) = teams.requests
    texts["teams"] = teams_request.raw.decode()
    pd_fake, incidents = pagerduty
    (pd_request,) = pd_fake.requests
    texts["pagerduty"] = str(incidents["orch/nightly-load"]["payload"])
    (hook_request,) = receiver.requests
    texts["webhook"] = hook_request.raw.decode()

    secrets = [TOKEN, PASSWORD, ROUTING_KEY, SIGNATURE, "FakeWebhookSecret123456"]
    for name, text in texts.items():
        assert expected_subject in text, name
        assert "run load-2024-01-02 (" in text, name
        assert "orch runs show " in text, name
        assert "**********" in text, name
        for secret in secrets:
            assert secret not in text, f"{name} received the secret {secret[:6]}..."
    assert mail.message["Subject"].startswith("[ERROR] " + expected_subject)
    assert pd_request.json["routing_key"] == ROUTING_KEY  # sent where it belongs only
