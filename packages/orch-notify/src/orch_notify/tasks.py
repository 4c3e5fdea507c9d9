"""Tasks of orch-notify: e-mail, Teams, PagerDuty and webhooks.

Each task takes its block first, then plain values, and returns plain data. HTTP calls
are retried on 429/5xx or a failed connection (``Retry-After`` honoured) at most the
block's ``max_retries`` times; errors are this package's (:mod:`orch_notify.errors`),
naming the block and the endpoint's host, never a secret.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from orch import task
from orch.integration import block_label, redact

from orch_notify.credentials import EmailServer, PagerDuty, TeamsWebhook, Webhook
from orch_notify.errors import NotifyError

__all__ = [
    "email_send",
    "pagerduty_resolve",
    "pagerduty_trigger",
    "teams_send_message",
    "webhook_send",
]

Attachment = str | Path | tuple[str, bytes]
_COLOR = {"info": "Good", "warning": "Warning", "error": "Attention", "critical": "Attention"}


# --- e-mail --------------------------------------------------------------------------------
def send_email(
    server: EmailServer,
    to: Sequence[str] | str,
    subject: str,
    body: str,
    *,
    html: str | None = None,
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    attachments: Sequence[Attachment] = (),
    reply_to: str | None = None,
) -> dict[str, Any]:
    """The body of :func:`email_send` (also used by ``EmailServer.notify``)."""
    import mimetypes
    import smtplib
    from email.message import EmailMessage
    from email.utils import make_msgid

    from orch_notify.connector import connect_smtp

    recipients_to = [to] if isinstance(to, str) else list(to)
    everyone = [*recipients_to, *cc, *bcc]
    if not everyone:
        raise ValueError("email_send: no recipient (to, cc and bcc are empty)")
    message = EmailMessage()
    message["From"] = server.sender
    if recipients_to:
        message["To"] = ", ".join(recipients_to)
    if cc:
        message["Cc"] = ", ".join(cc)
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=server.sender.rpartition("@")[2] or None)
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for item in attachments:
        if isinstance(item, tuple):
            name, data = item
        else:
            path = Path(item)
            if not path.is_file():
                raise FileNotFoundError(f"email_send: no attachment file at {path}")
            name, data = path.name, path.read_bytes()
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        maintype, subtype = ctype.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    smtp = connect_smtp(server)
    try:
        refused = smtp.send_message(message, to_addrs=everyone)
    except smtplib.SMTPRecipientsRefused as exc:
        raise NotifyError(
            f"email_send via {block_label(server)}: every recipient was refused: "
            f"{', '.join(sorted(exc.recipients))}"
        ) from exc
    except smtplib.SMTPException as exc:
        raise NotifyError(
            f"email_send via {block_label(server)}: {redact(f'{type(exc).__name__}: {exc}')}"
        ) from exc
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return {
        "message_id": str(message["Message-ID"]),
        "accepted": [r for r in everyone if r not in refused],
        "refused": sorted(refused),
    }


@task
def email_send(
    server: EmailServer,
    to: Sequence[str] | str,
    subject: str,
    body: str,
    *,
    html: str | None = None,
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    attachments: Sequence[Attachment] = (),
    reply_to: str | None = None,
) -> dict[str, Any]:
    """Send one e-mail: a plain ``body`` and, with ``html``, an HTML alternative; ``cc``;
    ``bcc`` (never in the headers); ``attachments`` as file paths or ``(name, bytes)``.

    Returns ``{"message_id", "accepted", "refused"}`` (recipients the server accepted or
    refused; all refused is an error).

    Example:
        email_send(smtp, ["team@example.com"], "Daily report", "attached",
                   html="<b>attached</b>", attachments=["out/report.csv"])
    """
    return send_email(
        server,
        to,
        subject,
        body,
        html=html,
        cc=cc,
        bcc=bcc,
        attachments=attachments,
        reply_to=reply_to,
    )


# --- Teams ---------------------------------------------------------------------------------
def adaptive_card(
    title: str,
    text: str,
    *,
    severity: str = "info",
    facts: Mapping[str, Any] | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """An Adaptive Card (1.4) with a title, a text, facts and a link."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": title,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": _COLOR.get(severity, "Default"),
        }
    ]
    if text:
        body.append({"type": "TextBlock", "text": text, "wrap": True})
    if facts:
        body.append(
            {"type": "FactSet", "facts": [{"title": k, "value": str(v)} for k, v in facts.items()]}
        )
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open", "url": url}]
    return card


def _post_card(webhook: TeamsWebhook, card: Mapping[str, Any]) -> int:
    from orch_notify.connector import send_http

    payload = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": dict(card),
            }
        ],
    }
    url = webhook.url.get_secret_value()
    from orch_notify.credentials import check_teams_url

    check_teams_url(url)
    response = send_http(
        webhook,
        "POST",
        url,
        action="posting to Teams",
        target=urlsplit(url).hostname or "?",
        json=payload,
    )
    return int(response.status_code)


def send_teams(
    webhook: TeamsWebhook,
    subject: str,
    body: str,
    *,
    severity: str = "info",
    context: Mapping[str, Any] | None = None,
) -> int:
    """A notification as an Adaptive Card (used by ``TeamsWebhook.notify``)."""
    ctx = context or {}
    facts = {
        name: ctx[key]
        for name, key in (
            ("Flow", "flow_name"),
            ("Run", "flow_run_name"),
            ("State", "state"),
            ("Duration", "duration"),
            ("Severity", "severity"),
        )
        if ctx.get(key)
    }
    url = str(ctx.get("run_url", ""))
    card = adaptive_card(
        subject,
        body,
        severity=severity,
        facts=facts,
        url=url if url.startswith("http") else None,
    )
    return _post_card(webhook, card)


@task
def teams_send_message(
    webhook: TeamsWebhook,
    title: str,
    text: str = "",
    *,
    facts: Mapping[str, Any] | None = None,
    url: str | None = None,
    severity: Literal["info", "warning", "error", "critical"] = "info",
    card: Mapping[str, Any] | None = None,
) -> int:
    """Post an Adaptive Card to a Teams channel through its Workflows webhook: a ``title``
    (colored by ``severity``), ``text``, ``facts`` and a link ``url``; or your own
    Adaptive Card as ``card``. Returns the HTTP status (Workflows answer 202).

    Example:
        teams_send_message(teams, "Nightly load", "3 tables", facts={"rows": 1200})
    """
    chosen = (
        card
        if card is not None
        else adaptive_card(title, text, severity=severity, facts=facts, url=url)
    )
    return _post_card(webhook, chosen)


# --- PagerDuty -----------------------------------------------------------------------------
def pagerduty_event(
    pd: PagerDuty,
    action: Literal["trigger", "acknowledge", "resolve"],
    *,
    dedup_key: str | None = None,
    summary: str | None = None,
    severity: str = "error",
    details: Mapping[str, Any] | None = None,
    links: Sequence[str] | None = None,
) -> str:
    """Send one Events API v2 event; returns its dedup key."""
    from orch_notify.connector import send_http

    event: dict[str, Any] = {
        "routing_key": pd.routing_key.get_secret_value(),
        "event_action": action,
    }
    if dedup_key:
        event["dedup_key"] = dedup_key
    if action == "trigger":
        if not summary:
            raise ValueError("pagerduty_trigger: summary is empty")
        event["payload"] = {
            "summary": summary[:1024],
            "source": pd.source,
            "severity": severity,
            "custom_details": dict(details or {}),
        }
        if links:
            event["links"] = [{"href": link} for link in links]
    elif not dedup_key:
        raise ValueError(f"pagerduty_{action}: needs the dedup_key of the alert")
    response = send_http(
        pd,
        "POST",
        pd.events_url,
        action=f"PagerDuty {action}",
        target=urlsplit(pd.events_url).hostname or "?",
        json=event,
    )
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    return str(answer.get("dedup_key") or dedup_key or "")


@task
def pagerduty_trigger(
    pd: PagerDuty,
    summary: str,
    *,
    severity: Literal["info", "warning", "error", "critical"] = "error",
    dedup_key: str | None = None,
    details: Mapping[str, Any] | None = None,
    links: Sequence[str] | None = None,
) -> str:
    """Trigger a PagerDuty alert; returns its dedup key (PagerDuty makes one when none is
    given). A later trigger with the same key adds to the same incident.

    Example:
        key = pagerduty_trigger(pd, "etl failed", dedup_key="etl/nightly")
    """
    return pagerduty_event(
        pd,
        "trigger",
        dedup_key=dedup_key,
        summary=summary,
        severity=severity,
        details=details,
        links=links,
    )


@task
def pagerduty_resolve(pd: PagerDuty, dedup_key: str) -> str:
    """Resolve the PagerDuty alert ``dedup_key``; returns the key.

    Example:
        pagerduty_resolve(pd, "etl/nightly")
    """
    return pagerduty_event(pd, "resolve", dedup_key=dedup_key)


# --- webhooks ------------------------------------------------------------------------------
class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def render_body(template: Any, fields: Mapping[str, Any]) -> Any:
    """``template`` (str, dict or list of them) with each string rendered over ``fields``
    (a missing run field renders empty), every revealed secret masked."""
    if isinstance(template, str):
        return redact(string.Formatter().vformat(template, (), _Fields(fields)))
    if isinstance(template, dict):
        return {key: render_body(value, fields) for key, value in template.items()}
    if isinstance(template, list):
        return [render_body(value, fields) for value in template]
    return template


def send_webhook(
    hook: Webhook,
    subject: str,
    body: str,
    *,
    severity: str = "error",
    context: Mapping[str, Any] | None = None,
) -> int:
    """The body of :func:`webhook_send` (also used by ``Webhook.notify``)."""
    from orch_notify.connector import send_http

    fields = {**(context or {}), "subject": subject, "body": body, "severity": severity}
    rendered = render_body(hook.body_template, fields)
    headers = dict(hook.headers)
    if hook.secret_headers is not None:
        headers.update({k: str(v) for k, v in hook.secret_headers.get_secret_value().items()})
    kwargs: dict[str, Any] = {}
    if hook.method == "GET":
        kwargs["params"] = {k: _flat(v) for k, v in rendered.items()}
    elif hook.body_format == "form":
        kwargs["data"] = {k: _flat(v) for k, v in rendered.items()}
    else:
        kwargs["json"] = rendered
    response = send_http(
        hook,
        hook.method,
        hook.url,
        action="calling the webhook",
        target=urlsplit(hook.url).hostname or "?",
        headers=headers,
        guard=True,
        **kwargs,
    )
    return int(response.status_code)


def _flat(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value)


@task
def webhook_send(
    hook: Webhook,
    subject: str,
    body: str = "",
    *,
    severity: Literal["info", "warning", "error", "critical"] = "info",
    context: Mapping[str, Any] | None = None,
) -> int:
    """Call the webhook with its body template rendered over ``subject``, ``body``,
    ``severity`` and ``context`` (the run's fields). Returns the HTTP status.

    Example:
        webhook_send(hook, "etl failed", "3 rows rejected", severity="error")
    """
    return send_webhook(hook, subject, body, severity=severity, context=context)
