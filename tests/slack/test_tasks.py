"""orch-slack's tasks through the real slack-sdk clients against the fake Slack Web API."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from orch import flow
from orch_slack import (
    SlackAuthError,
    SlackCredentials,
    SlackNotFoundError,
    SlackRateLimitError,
    SlackWebhook,
    slack_post_message,
    slack_update_message,
    slack_upload_file,
    slack_webhook_message,
)

from tests.backends.slack import TOKEN, FakeSlack


def test_post_message_returns_ts_and_channel_id(creds: SlackCredentials, slack: FakeSlack) -> None:
    posted = slack_post_message(creds, "#alerts", "load started")
    assert posted["channel"] == "C0ALERTS"
    assert slack.messages[-1]["text"] == "load started"
    assert slack.messages[-1]["ts"] == posted["ts"]


def test_block_kit_thread_and_broadcast(creds: SlackCredentials, slack: FakeSlack) -> None:
    root = slack_post_message(creds, "general", "root")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*bold*"}}]
    slack_post_message(
        creds,
        root["channel"],
        "fallback",
        blocks=blocks,
        thread_ts=root["ts"],
        reply_broadcast=True,
    )
    reply = slack.messages[-1]
    assert reply["blocks"] == blocks
    assert reply["thread_ts"] == root["ts"]
    assert reply["reply_broadcast"] is True


def test_update_message_resolves_the_channel_name(
    creds: SlackCredentials, slack: FakeSlack
) -> None:
    posted = slack_post_message(creds, "#random", "running")
    updated = slack_update_message(creds, "#random", posted["ts"], "done")
    assert updated == {"ts": posted["ts"], "channel": "C0RANDOM"}
    assert slack.messages[-1]["text"] == "done"


def test_upload_file_v2_from_path_and_content(
    creds: SlackCredentials, slack: FakeSlack, tmp_path: Path
) -> None:
    report = tmp_path / "daily.csv"
    report.write_text("day,rows\n2024-01-01,3\n")
    one = slack_upload_file(creds, "#alerts", report, title="Daily", initial_comment="here")
    two = slack_upload_file(creds, "C0GENERAL", content=b"\x00\x01", filename="blob.bin")
    assert one["channel"] == "C0ALERTS"
    record = slack.files[one["file_id"]]
    assert record["content"] == report.read_bytes()
    assert (record["title"], record["initial_comment"], record["channel"]) == (
        "Daily",
        "here",
        "C0ALERTS",
    )
    assert slack.files[two["file_id"]]["content"] == b"\x00\x01"
    assert "/api/files.upload" not in slack.calls  # the retired method is never called
    assert "/api/files.completeUploadExternal" in slack.calls


def test_channel_ids_are_looked_up_once_per_client(slack: FakeSlack) -> None:
    # a block of its own content: its own client (clients are shared per block content)
    creds = SlackCredentials(token=TOKEN, base_url=slack.api_url, timeout=29)
    for _ in range(5):
        slack_upload_file(creds, "#more-240", content="x", filename="x.txt")
    posted = slack_post_message(creds, "general", "x")
    slack_update_message(creds, "general", posted["ts"], "y")
    # 250+ channels: one walk over 1 page of 1,000 (the fake pages), never one per upload
    assert slack.calls.count("/api/conversations.list") == 1
    assert creds.get_client().lookups == 1


def test_rate_limit_waits_retry_after_then_succeeds(
    creds: SlackCredentials, slack: FakeSlack
) -> None:
    slack.rate_limit(2, retry_after=1)
    start = time.monotonic()
    posted = slack_post_message(creds, "#alerts", "after the limit")
    assert time.monotonic() - start >= 2  # two waits of Retry-After: 1
    assert posted["channel"] == "C0ALERTS"
    assert slack.calls.count("/api/chat.postMessage") == 3


def test_rate_limit_retries_are_bounded(slack: FakeSlack) -> None:
    creds = SlackCredentials(token=TOKEN, base_url=slack.api_url, max_retries=1)
    slack.rate_limit(5, retry_after=1)
    with pytest.raises(SlackRateLimitError) as info:
        slack_post_message(creds, "#alerts", "x")
    assert "channel #alerts" in str(info.value)
    assert "Slack error ratelimited" in str(info.value)
    assert info.value.code == "ratelimited"
    assert slack.calls.count("/api/chat.postMessage") == 2


def test_errors_name_channel_and_code_never_the_token(slack: FakeSlack) -> None:
    good = SlackCredentials(token=TOKEN, base_url=slack.api_url)
    with pytest.raises(
        SlackNotFoundError, match=r"channel #nowhere .* Slack error channel_not_found"
    ):
        slack_post_message(good, "#nowhere", "x")
    bad_token = "xoxb-Wrong-Token-0987654321"
    bad = SlackCredentials(token=bad_token, base_url=slack.api_url)
    bad.save("bad-bot")
    with pytest.raises(SlackAuthError) as info:
        slack_post_message(SlackCredentials.load("bad-bot"), "#alerts", "x")
    message = str(info.value)
    assert "slack-credentials/bad-bot" in message
    assert "Slack error invalid_auth" in message
    assert bad_token not in message
    assert isinstance(info.value.__cause__, Exception)  # slack-sdk's error kept


def test_webhook_message_and_rate_limit(webhook: SlackWebhook, slack: FakeSlack) -> None:
    assert slack_webhook_message(webhook, "deploy done") == "ok"
    slack.rate_limit(1, retry_after=1)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    assert slack_webhook_message(webhook, blocks=blocks) == "ok"
    assert [m.get("text") for m in slack.webhook_messages] == ["deploy done", None]
    assert slack.webhook_messages[1]["blocks"] == blocks


def test_webhook_errors_never_show_the_url(slack: FakeSlack) -> None:
    url = slack.webhook_url.replace("FakeWebhookSecret123456", "WrongSecret987654")
    hook = SlackWebhook(url=url)
    with pytest.raises(SlackAuthError) as info:
        slack_webhook_message(hook, "x")
    assert "Slack error invalid_token" in str(info.value)
    assert "WrongSecret987654" not in str(info.value)
    assert "WrongSecret987654" not in repr(hook)


def test_unreachable_slack_is_a_connection_error() -> None:
    from orch_slack import SlackConnectionError

    from tests.backends.service import free_port

    creds = SlackCredentials(token=TOKEN, base_url=f"http://127.0.0.1:{free_port()}/api/")
    with pytest.raises(SlackConnectionError, match="cannot reach Slack"):
        slack_post_message(creds, "#alerts", "x")


def test_bad_input_is_a_clear_error(creds: SlackCredentials, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="give text or blocks"):
        slack_post_message(creds, "#alerts")
    with pytest.raises(ValueError, match="either path or content"):
        slack_upload_file(creds, "#alerts")
    with pytest.raises(FileNotFoundError, match="no file at"):
        slack_upload_file(creds, "#alerts", tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="base_url"):
        SlackCredentials(token=TOKEN, base_url="slack.com/api")


def test_tasks_run_inside_a_flow(creds: SlackCredentials, slack: FakeSlack) -> None:
    @flow
    def report() -> str:
        return slack_post_message(creds, "#alerts", "from a flow")["ts"]

    ts = report()
    assert slack.messages[-1]["ts"] == ts
    assert json.dumps(slack.messages[-1])  # plain data
