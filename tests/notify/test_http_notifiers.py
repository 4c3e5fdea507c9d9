"""Teams (Workflows + Adaptive Cards), PagerDuty (Events API v2) and generic webhooks,
through httpx against local fakes of their documented HTTP APIs."""

from __future__ import annotations

import time
from typing import Any

import pytest
from orch import SecretRef, flow
from orch.integration import notify_on
from orch_notify import (
    NotifyAuthError,
    NotifyConnectionError,
    NotifyRateLimitError,
    NotifyTargetRefusedError,
    NotifyTimeoutError,
    PagerDuty,
    TeamsWebhook,
    Webhook,
    pagerduty_resolve,
    pagerduty_trigger,
    teams_send_message,
    webhook_send,
)

from tests.backends._http import Recorder
from tests.backends.pagerduty import ROUTING_KEY
from tests.backends.teams import workflow_url


# --- Teams ---------------------------------------------------------------------------------
def test_teams_posts_an_adaptive_card(teams_hook: TeamsWebhook, teams: Recorder) -> None:
    status = teams_send_message(
        teams_hook, "Nightly load", "3 tables", facts={"rows": 1200}, url="https://x.example/r"
    )
    assert status == 202
    payload = teams.requests[-1].json
    assert payload["type"] == "message"
    card = payload["attachments"][0]["content"]
    assert payload["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["type"] == "AdaptiveCard"
    assert card["body"][0]["text"] == "Nightly load"
    assert card["body"][2]["facts"] == [{"title": "rows", "value": "1200"}]
    assert card["actions"][0]["url"] == "https://x.example/r"


def test_teams_retired_connector_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="Microsoft retired"):
        TeamsWebhook(url="https://contoso.webhook.office.com/webhookb2/abc/IncomingWebhook/x/y")
    with pytest.raises(ValueError, match="Microsoft retired"):
        TeamsWebhook(url="https://outlook.office.com/webhook/abc")


def test_teams_wrong_signature_never_shows_the_url(teams: Recorder) -> None:
    hook = TeamsWebhook(url=workflow_url(teams, sig="Wrong-Signature-123"))
    with pytest.raises(NotifyAuthError) as info:
        teams_send_message(hook, "x")
    assert "HTTP 401" in str(info.value)
    assert "Wrong-Signature-123" not in str(info.value)
    assert "127.0.0.1" in str(info.value)  # the host, not the URL


def test_teams_429_retry_after_is_honoured(teams_hook: TeamsWebhook, teams: Recorder) -> None:
    teams.fail_next(1, 429, "1")
    start = time.monotonic()
    assert teams_send_message(teams_hook, "after a 429") == 202
    assert time.monotonic() - start >= 1
    assert len(teams.requests) == 2


# --- PagerDuty -----------------------------------------------------------------------------
def test_pagerduty_trigger_and_resolve(pd: PagerDuty, pagerduty: tuple[Recorder, Any]) -> None:
    _, incidents = pagerduty
    key = pagerduty_trigger(pd, "etl failed", severity="critical", dedup_key="etl/nightly")
    assert key == "etl/nightly"
    assert incidents["etl/nightly"]["payload"]["severity"] == "critical"
    assert pagerduty_resolve(pd, key) == key
    assert incidents == {}
    made = pagerduty_trigger(pd, "no key given")
    assert made in incidents  # PagerDuty's own key


def test_pagerduty_resolves_when_a_later_run_succeeds(
    pd: PagerDuty, pagerduty: tuple[Recorder, Any]
) -> None:
    fake, incidents = pagerduty

    @flow(name="billing", on_failure=[notify_on(pd)], on_completion=[notify_on(pd)])
    def billing(fail: bool) -> str:
        if fail:
            raise RuntimeError("ledger mismatch")
        return "ok"

    billing(True, return_state=True)
    assert list(incidents) == ["orch/billing"]
    event = incidents["orch/billing"]
    assert event["payload"]["summary"].startswith("billing: flow run ")
    assert "RuntimeError: ledger mismatch" in event["payload"]["custom_details"]["body"]
    assert event["payload"]["severity"] == "error"
    assert billing(False) == "ok"
    assert incidents == {}
    assert [r.json["event_action"] for r in fake.requests] == ["trigger", "resolve"]


def test_pagerduty_invalid_key_is_a_clear_error(pagerduty: tuple[Recorder, Any]) -> None:
    fake, _ = pagerduty
    bad = PagerDuty(
        routing_key="wrong-routing-key-000000000000000", events_url=f"{fake.url}/v2/enqueue"
    )
    from orch_notify import NotifyError

    with pytest.raises(NotifyError, match=r"HTTP 400.*routing_key") as info:
        pagerduty_trigger(bad, "x")
    assert "wrong-routing-key-000000000000000" not in str(info.value)
    assert ROUTING_KEY not in str(info.value)


# --- webhooks ------------------------------------------------------------------------------
def test_webhook_json_body_template_and_secret_headers(
    receiver: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_HEADERS", '{"Authorization": "Bearer hook-Secret-Token-77"}')
    hook = Webhook(
        url=f"{receiver.url}/alerts",
        method="PUT",
        headers={"X-Team": "data"},
        secret_headers=SecretRef("env://HOOK_HEADERS"),
        body_template={
            "text": "{subject}: {body}",
            "meta": {"level": "{severity}"},
            "l": ["{flow_name}"],
        },
        allow_private_targets=True,
    )
    assert webhook_send(hook, "etl failed", "3 rows", severity="error") == 200
    got = receiver.requests[-1]
    assert got.method == "PUT"
    assert got.headers["authorization"] == "Bearer hook-Secret-Token-77"
    assert got.headers["x-team"] == "data"
    assert got.json == {"text": "etl failed: 3 rows", "meta": {"level": "error"}, "l": [""]}
    assert "hook-Secret-Token-77" not in repr(hook)


def test_webhook_form_body(receiver: Recorder) -> None:
    hook = Webhook(
        url=f"{receiver.url}/form",
        body_format="form",
        body_template={"title": "{subject}", "sev": "{severity}"},
        allow_private_targets=True,
    )
    webhook_send(hook, "hello", severity="warning")
    got = receiver.requests[-1]
    assert got.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert got.form == {"title": "hello", "sev": "warning"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://localhost:9/x",
        "http://10.1.2.3/x",
        "http://192.168.0.10/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/x",
        "http://0.0.0.0:9/x",
    ],
)
def test_webhook_refuses_private_loopback_and_link_local_targets(url: str) -> None:
    with pytest.raises(NotifyTargetRefusedError, match="SSRF guard"):
        webhook_send(Webhook(url=url), "x")


def test_webhook_bounded_retries_then_error(receiver: Recorder) -> None:
    hook = Webhook(url=f"{receiver.url}/a", allow_private_targets=True, max_retries=2)
    receiver.fail_next(2, 503, None)
    assert webhook_send(hook, "after two 503s") == 200
    assert len(receiver.requests) == 3
    receiver.reset()
    receiver.fail_next(5, 429, "0")
    with pytest.raises(NotifyRateLimitError, match=r"HTTP 429 after 2 retries"):
        webhook_send(hook, "still limited")
    assert len(receiver.requests) == 3


def test_webhook_timeout(receiver: Recorder) -> None:
    hook = Webhook(
        url=f"{receiver.url}/slow", allow_private_targets=True, timeout=0.3, max_retries=0
    )
    with pytest.raises(NotifyTimeoutError, match=r"no answer within 0\.3 s"):
        webhook_send(hook, "x")


def test_webhook_unreachable(receiver: Recorder) -> None:
    from tests.backends.service import free_port

    hook = Webhook(
        url=f"http://127.0.0.1:{free_port()}/x", allow_private_targets=True, max_retries=0
    )
    with pytest.raises(NotifyConnectionError, match="cannot reach the endpoint"):
        webhook_send(hook, "x")


def test_webhook_unknown_template_field_is_refused() -> None:
    with pytest.raises(ValueError, match=r"body_template\['t'\] uses the unknown field \{nope\}"):
        Webhook(url="https://h.example/x", body_template={"t": "{nope}"})
