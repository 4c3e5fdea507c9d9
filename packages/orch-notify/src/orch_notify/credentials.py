"""The blocks of orch-notify: ``EmailServer``, ``TeamsWebhook``, ``PagerDuty``, ``Webhook``.

Each is a notifier (the kit's :class:`~orch.integration.Notifier` role), for
``notify_on(block)`` in a flow's hooks. The HTTP ones are
:class:`~orch.integration.Connector` blocks whose client is one ``httpx.Client`` per
process (connections reused); httpx and smtplib load on first use, in
:mod:`orch_notify.connector`, never when this module is imported.
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING, Any, Literal, Self
from urllib.parse import urlsplit

from orch import Block, SecretDict, SecretStr
from orch.integration import Connector, Notifier
from pydantic import Field, field_validator, model_validator

if TYPE_CHECKING:
    from collections.abc import Mapping

    from orch.integration import Severity

__all__ = ["EmailServer", "PagerDuty", "TeamsWebhook", "Webhook"]

# Old Office 365 connector URLs: retired by Microsoft (they broke Dagster and Prefect).
_RETIRED_TEAMS_HOSTS = ("outlook.office.com", "outlook.office365.com", ".webhook.office.com")
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
# The fields a Webhook body template may use besides the run's (orch.integration.TEMPLATE_FIELDS)
MESSAGE_FIELDS = ("subject", "body", "severity")


def _http_url(value: str, field: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{field} must be an http(s) URL with a host")
    return value


class EmailServer(Block, Notifier):
    """An SMTP server to send e-mail through: host, port, TLS (``starttls``, ``ssl`` or
    ``none``), an optional login, and the sender. As a notifier it mails ``notify_to``.

    Example:
        from orch import SecretRef
        from orch_notify import EmailServer, email_send

        smtp = EmailServer(
            host="smtp.example.com", port=587, security="starttls",
            username="etl@example.com", password=SecretRef("env://SMTP_PASSWORD"),
            sender="etl@example.com", notify_to=["oncall@example.com"],
        )
        email_send(smtp, ["team@example.com"], "Report", "see attached", attachments=["r.csv"])
    """

    block_type_slug = "email-server"

    host: str = Field(description="The SMTP server's host name.")
    port: int = Field(default=587, gt=0, lt=65536, description="587 (STARTTLS), 465 (SSL), 25.")
    security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls",
        description="starttls (upgrade after connecting), ssl (TLS from the start) or none.",
    )
    username: str | None = Field(default=None, description="Login name, if the server wants one.")
    password: SecretStr | None = Field(default=None, description="Login password.")
    sender: str = Field(description="The From address.")
    notify_to: list[str] = Field(
        default_factory=list, description="Recipients of notifications (notify_on)."
    )
    verify: bool = Field(default=True, description="Check the server's TLS certificate.")
    ca_cert: str | None = Field(
        default=None, description="A CA bundle file to check the server's certificate with."
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for the server.")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: give both or neither")
        if self.username is not None and self.security == "none":
            raise ValueError(
                "a login over security 'none' would send the password in clear: use starttls or ssl"
            )
        if self.ca_cert is not None and not self.verify:
            raise ValueError("ca_cert is given but verify is False: keep verify to use it")
        return self

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            host="smtp.example.com",
            username="etl@example.com",
            password="sample-password",  # noqa: S106 - a placeholder
            sender="etl@example.com",
            notify_to=["oncall@example.com"],
        )

    def notify(
        self,
        subject: str,
        body: str,
        *,
        severity: Severity = "error",
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Mail ``subject`` (prefixed with the severity) and ``body`` to ``notify_to``.

        Example:
            ``EmailServer.load("smtp").notify("etl failed", "3 rows rejected")``
        """
        from orch_notify.tasks import send_email

        if not self.notify_to:
            from orch.integration import block_label

            raise ValueError(f"{block_label(self)}: notify_to is empty: no one to notify")
        send_email(self, self.notify_to, f"[{severity.upper()}] {subject}", body)


class _HttpBlock(Connector[Any], Notifier):
    """An HTTP notifier: one httpx client per process, bounded retries (abstract: each
    subclass implements ``notify``, so this base is no block type of its own)."""

    timeout: float = Field(default=10.0, gt=0, description="Seconds to wait for an answer.")
    max_retries: int = Field(
        default=3,
        ge=0,
        le=10,
        description="Retries of a refused (429, 5xx) or failed request (Retry-After honoured).",
    )

    def _new_client(self) -> Any:
        from orch_notify.connector import new_http_client

        return new_http_client(self)

    @staticmethod
    def _close_client(client: Any) -> None:
        client.close()


class TeamsWebhook(_HttpBlock):
    """A Microsoft Teams channel's Workflows (Power Automate) webhook: posts Adaptive Cards.

    The URL comes from Teams' "Post to a channel when a webhook request is received"
    workflow; it holds a signature, so it is a secret. The old Office 365 connector URLs
    (``…webhook.office.com/webhookb2/…``) were retired by Microsoft and are refused.

    Example:
        from orch import SecretRef
        from orch_notify import TeamsWebhook, teams_send_message

        teams = TeamsWebhook(url=SecretRef("env://TEAMS_WORKFLOW_URL"))
        teams_send_message(teams, "Nightly load", "3 tables refreshed")
    """

    block_type_slug = "teams-webhook"

    url: SecretStr = Field(description="The workflow's HTTP POST URL (holds a signature).")

    @model_validator(mode="after")
    def _check_url(self) -> Self:
        url = self.url.get_secret_value() if self.url.reference is None else None
        if url is not None:
            check_teams_url(url)
        return self

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            url="https://prod-00.westeurope.logic.azure.com/workflows/sample/triggers/manual/"
            "paths/invoke?api-version=2016-06-01&sig=sample"
        )

    def notify(
        self,
        subject: str,
        body: str,
        *,
        severity: Severity = "error",
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Post an Adaptive Card: the subject as title (colored by severity), the body,
        and the run's facts (state, duration, run link) when ``context`` has them.

        Example:
            ``TeamsWebhook.load("ops").notify("etl failed", "3 rows rejected")``
        """
        from orch_notify.tasks import send_teams

        send_teams(self, subject, body, severity=severity, context=context)


def check_teams_url(url: str) -> str:
    """``url`` if it may be a Workflows URL; a retired connector URL is a clear error."""
    _http_url(url, "url")
    host = (urlsplit(url).hostname or "").lower()
    if host in _RETIRED_TEAMS_HOSTS[:2] or host.endswith(_RETIRED_TEAMS_HOSTS[2]):
        raise ValueError(
            "url is an Office 365 connector URL, which Microsoft retired: create a Workflows "
            "webhook in Teams ('Post to a channel when a webhook request is received') and "
            "use its URL"
        )
    return url


class PagerDuty(_HttpBlock):
    """A PagerDuty service's Events API v2 integration (its routing key, a secret).

    As a notifier it triggers an alert for a failed or crashed run and resolves it when a
    later run of the same flow succeeds: both use ``dedup_key`` (a template, by default
    ``orch/{flow_name}``), so put it in ``on_failure`` and ``on_completion``.

    Example:
        from orch import SecretRef, flow
        from orch.integration import notify_on
        from orch_notify import PagerDuty

        pd = PagerDuty(routing_key=SecretRef("env://PAGERDUTY_ROUTING_KEY"))

        @flow(on_failure=[notify_on(pd)], on_completion=[notify_on(pd)])
        def etl(): ...
    """

    block_type_slug = "pagerduty"
    # A template of the incident's deduplication key (from the flow's name), not a secret.
    block_not_secret = frozenset({"dedup_key"})

    routing_key: SecretStr = Field(description="The integration's routing key (Events API v2).")
    events_url: str = Field(
        default=PAGERDUTY_EVENTS_URL, description="The Events API v2 enqueue URL."
    )
    dedup_key: str = Field(
        default="orch/{flow_name}",
        description="Template of the alert's dedup key (same key: same incident).",
    )
    source: str = Field(default="orch", description="The alert's source (payload.source).")

    @field_validator("events_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value, "events_url")

    @field_validator("dedup_key")
    @classmethod
    def _dedup(cls, value: str) -> str:
        from orch.integration import check_template

        return check_template(value, "dedup_key")

    @classmethod
    def block_sample(cls) -> Self:
        return cls(routing_key="sample-routing-key-0123456789abcdef")

    def notify(
        self,
        subject: str,
        body: str,
        *,
        severity: Severity = "error",
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Trigger an alert (``subject`` as summary, ``body`` and the run's facts as
        details); a ``context`` whose state is Completed or Cached resolves it instead.

        Example:
            ``PagerDuty.load("etl").notify("etl failed", "3 rows rejected")``
        """
        from orch.integration import render_template

        from orch_notify.tasks import pagerduty_event

        ctx = dict(context or {})
        key = render_template(self.dedup_key, ctx) if ctx else None
        if ctx.get("state") in ("Completed", "Cached"):
            if key is not None:
                pagerduty_event(self, "resolve", dedup_key=key)
            return
        pagerduty_event(
            self,
            "trigger",
            dedup_key=key,
            summary=subject,
            severity=severity,
            details={"body": body, **{k: v for k, v in ctx.items() if k != "parameters"}},
            links=[ctx["run_url"]] if str(ctx.get("run_url", "")).startswith("http") else None,
        )


class Webhook(_HttpBlock):
    """Any HTTP endpoint: ``method``, ``url``, ``headers`` and ``secret_headers`` (values
    kept secret, e.g. ``Authorization``), a JSON or form body from a template.

    ``body_template`` maps keys to templates over ``{subject}``, ``{body}``,
    ``{severity}`` and the run's fields (``{flow_name}``, ``{state}``, ``{run_url}`` …).
    Private, loopback and link-local targets are refused (SSRF) unless
    ``allow_private_targets`` is set.

    Example:
        from orch import SecretRef
        from orch_notify import Webhook, webhook_send

        hook = Webhook(
            url="https://hooks.example.com/alerts",
            # {"Authorization": "Bearer ..."} as JSON in a secrets manager or variable
            secret_headers=SecretRef("env://HOOK_HEADERS"),
            body_template={"text": "{subject}: {body}", "level": "{severity}"},
        )
        webhook_send(hook, "etl failed", "3 rows rejected")
    """

    block_type_slug = "webhook"

    url: str = Field(description="The endpoint (http or https).")
    method: Literal["POST", "PUT", "PATCH", "GET"] = Field(
        default="POST", description="HTTP method (GET sends the fields as query parameters)."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Plain headers.")
    secret_headers: SecretDict | None = Field(
        default=None,
        description="Headers whose values are secrets (Authorization, API keys): a dict, or "
        "a SecretRef to a JSON object.",
    )
    body_format: Literal["json", "form"] = Field(
        default="json", description="Send the body as JSON or as a form."
    )
    body_template: dict[str, Any] = Field(
        default_factory=lambda: {
            "subject": "{subject}",
            "body": "{body}",
            "severity": "{severity}",
        },
        description="The body: keys to templates over {subject}, {body}, {severity} and the "
        "run's fields (nested dicts and lists for JSON).",
    )
    allow_private_targets: bool = Field(
        default=False,
        description="Allow private, loopback and link-local addresses (refused by default).",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value, "url")

    @field_validator("body_template")
    @classmethod
    def _template(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_body_template(value)
        return value

    @classmethod
    def block_sample(cls) -> Self:
        return cls(url="https://hooks.example.com/alerts", secret_headers={"X-Api-Key": "sample"})

    def notify(
        self,
        subject: str,
        body: str,
        *,
        severity: Severity = "error",
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Send the body template rendered with the message and the run's fields.

        Example:
            ``Webhook.load("ops").notify("etl failed", "3 rows rejected")``
        """
        from orch_notify.tasks import send_webhook

        send_webhook(self, subject, body, severity=severity, context=context)


def check_body_template(value: Any, where: str = "body_template") -> None:
    """Each template string in ``value`` uses only known fields (else a ``ValueError``)."""
    from orch.integration import TEMPLATE_FIELDS

    if isinstance(value, str):
        for _, name, _, _ in string.Formatter().parse(value):
            if name is None:
                continue
            base = name.split(".", 1)[0].split("[", 1)[0]
            if base not in TEMPLATE_FIELDS and base not in MESSAGE_FIELDS:
                raise ValueError(f"{where} uses the unknown field {{{base}}}")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_body_template(item, f"{where}[{key!r}]")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_body_template(item, f"{where}[{i}]")
