"""Tasks on Slack: post, update, upload a file (files_upload_v2), post to a webhook.

Each task takes its block first (``SlackCredentials`` or ``SlackWebhook``), then plain
values, and returns plain data. Rate-limited calls are retried after Slack's
``Retry-After`` (at most the block's ``max_retries``); errors are this package's
(:mod:`orch_slack.errors`), naming the channel and Slack's error code, never a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orch import task

from orch_slack.credentials import SlackCredentials, SlackWebhook
from orch_slack.errors import error_for_code, slack_error, slack_errors, where

__all__ = [
    "slack_post_message",
    "slack_update_message",
    "slack_upload_file",
    "slack_webhook_message",
]


def _need_content(text: str | None, blocks: Sequence[dict[str, Any]] | None, what: str) -> None:
    if not text and not blocks:
        raise ValueError(f"{what}: give text or blocks (both are empty)")


def post_message(
    credentials: SlackCredentials,
    channel: str,
    text: str | None = None,
    *,
    blocks: Sequence[dict[str, Any]] | None = None,
    thread_ts: str | None = None,
    reply_broadcast: bool = False,
    **kwargs: Any,
) -> dict[str, str]:
    """The body of :func:`slack_post_message` (also used by ``SlackChannel.notify``)."""
    _need_content(text, blocks, "slack_post_message")
    client = credentials.get_client()
    args: dict[str, Any] = {"channel": channel, **kwargs}
    if text:
        args["text"] = text
    if blocks:
        args["blocks"] = list(blocks)
    if thread_ts:
        args["thread_ts"] = thread_ts
        if reply_broadcast:
            args["reply_broadcast"] = True
    try:
        response = client.web.chat_postMessage(**args)
    except slack_errors() as exc:
        raise slack_error(
            exc, action="posting a message", block=credentials, channel=channel
        ) from exc
    return {"ts": str(response["ts"]), "channel": str(response["channel"])}


@task
def slack_post_message(
    credentials: SlackCredentials,
    channel: str,
    text: str | None = None,
    *,
    blocks: Sequence[dict[str, Any]] | None = None,
    thread_ts: str | None = None,
    reply_broadcast: bool = False,
    **kwargs: Any,
) -> dict[str, str]:
    """Post a message to ``channel`` (``#name`` or an id): ``text``, Block Kit ``blocks``
    (``text`` is then the notification fallback), in the thread ``thread_ts`` (with
    ``reply_broadcast`` also to the channel). Other ``chat.postMessage`` arguments
    (``unfurl_links``, ``mrkdwn``, …) pass through.

    Returns ``{"ts": ..., "channel": ...}`` (the channel's id): keep them to reply in the
    thread or update the message.

    Example:
        posted = slack_post_message(creds, "#alerts", "load started")
        slack_post_message(creds, posted["channel"], "50%", thread_ts=posted["ts"])
    """
    return post_message(
        credentials,
        channel,
        text,
        blocks=blocks,
        thread_ts=thread_ts,
        reply_broadcast=reply_broadcast,
        **kwargs,
    )


@task
def slack_update_message(
    credentials: SlackCredentials,
    channel: str,
    ts: str,
    text: str | None = None,
    *,
    blocks: Sequence[dict[str, Any]] | None = None,
) -> dict[str, str]:
    """Replace the text (or blocks) of the message ``ts`` in ``channel`` (a name is turned
    into its id, which ``chat.update`` needs, from the client's cache).

    Returns ``{"ts": ..., "channel": ...}``.

    Example:
        posted = slack_post_message(creds, "#alerts", "load: running")
        slack_update_message(creds, posted["channel"], posted["ts"], "load: done")
    """
    _need_content(text, blocks, "slack_update_message")
    client = credentials.get_client()
    channel_id = client.channel_id(channel)
    args: dict[str, Any] = {"channel": channel_id, "ts": ts}
    if text:
        args["text"] = text
    if blocks:
        args["blocks"] = list(blocks)
    try:
        response = client.web.chat_update(**args)
    except slack_errors() as exc:
        raise slack_error(
            exc, action=f"updating message {ts}", block=credentials, channel=channel
        ) from exc
    return {"ts": str(response["ts"]), "channel": str(response["channel"])}


@task
def slack_upload_file(
    credentials: SlackCredentials,
    channel: str,
    path: str | Path | None = None,
    *,
    content: str | bytes | None = None,
    filename: str | None = None,
    title: str | None = None,
    initial_comment: str | None = None,
    thread_ts: str | None = None,
) -> dict[str, str]:
    """Share a file in ``channel``: the local file ``path``, or ``content`` (with a
    ``filename``). Uses ``files_upload_v2`` (Slack retired ``files.upload``); the channel
    name is turned into its id once per process (cached: ``conversations.list`` is
    rate-limited hard).

    Returns ``{"file_id": ..., "channel": ...}``.

    Example:
        slack_upload_file(creds, "#reports", "out/daily.csv", title="Daily report")
    """
    if (path is None) == (content is None):
        raise ValueError("slack_upload_file: give either path or content")
    if path is not None:
        local = Path(path)
        if not local.is_file():
            raise FileNotFoundError(f"slack_upload_file: no file at {local}")
        data: bytes | str = local.read_bytes()
        name = filename or local.name
    else:
        assert content is not None
        data = content
        if not filename:
            raise ValueError("slack_upload_file: content needs a filename")
        name = filename
    client = credentials.get_client()
    channel_id = client.channel_id(channel)
    try:
        response = client.web.files_upload_v2(
            channel=channel_id,
            content=data,
            filename=name,
            title=title or name,
            initial_comment=initial_comment,
            thread_ts=thread_ts,
        )
    except slack_errors() as exc:
        raise slack_error(
            exc, action=f"uploading {name}", block=credentials, channel=channel
        ) from exc
    return {"file_id": str(response["file"]["id"]), "channel": channel_id}


def send_webhook(
    webhook: SlackWebhook,
    text: str | None = None,
    *,
    blocks: Sequence[dict[str, Any]] | None = None,
    **payload: Any,
) -> str:
    """The body of :func:`slack_webhook_message` (also used by ``SlackWebhook.notify``)."""
    _need_content(text, blocks, "slack_webhook_message")
    client = webhook.get_client()
    try:
        response = client.send(text=text, blocks=list(blocks) if blocks else None, **payload)
    except slack_errors() as exc:
        raise slack_error(
            exc, action="posting to the webhook", block=webhook, channel=None
        ) from exc
    if response.status_code != 200:
        code = (response.body or "").strip() or f"http_{response.status_code}"
        if len(code) > 80 or " " in code:
            code = f"http_{response.status_code}"
        more = " (still rate-limited after the retries)" if response.status_code == 429 else ""
        raise error_for_code(
            code,
            f"posting to the webhook ({where(webhook, None)}) failed: HTTP "
            f"{response.status_code}, Slack error {code}{more}",
            response.status_code,
        )
    return str(response.body)


@task
def slack_webhook_message(
    webhook: SlackWebhook,
    text: str | None = None,
    *,
    blocks: Sequence[dict[str, Any]] | None = None,
    **payload: Any,
) -> str:
    """Post ``text`` and/or Block Kit ``blocks`` through an incoming webhook; other
    payload keys (``unfurl_links``, …) pass through. Returns Slack's answer (``"ok"``).

    Example:
        slack_webhook_message(SlackWebhook.load("alerts"), "deploy finished")
    """
    return send_webhook(webhook, text, blocks=blocks, **payload)
