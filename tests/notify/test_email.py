"""email_send and EmailServer against a real SMTP server (aiosmtpd: AUTH, STARTTLS, SMTPS)."""

from __future__ import annotations

from pathlib import Path

import pytest
from orch_notify import (
    EmailServer,
    NotifyAuthError,
    NotifyConnectionError,
    email_send,
)

from tests.backends.smtp import PASSWORD, USER, SmtpServer


def test_plain_html_cc_bcc_and_attachments(
    email_server: EmailServer, smtp: SmtpServer, tmp_path: Path
) -> None:
    report = tmp_path / "report.csv"
    report.write_text("day,rows\n2024-01-01,3\n")
    sent = email_send(
        email_server,
        ["team@example.com"],
        "Daily report",
        "plain text",
        html="<p><b>html</b> text</p>",
        cc=["lead@example.com"],
        bcc=["audit@example.com"],
        attachments=[report, ("raw.bin", b"\x00\x01")],
    )
    (got,) = smtp.messages
    assert got.sender == USER
    assert got.recipients == ["team@example.com", "lead@example.com", "audit@example.com"]
    assert sent["accepted"] == got.recipients
    message = got.message
    assert message["To"] == "team@example.com"
    assert message["Cc"] == "lead@example.com"
    assert message["Bcc"] is None  # bcc never in the headers
    assert message["Message-ID"] == sent["message_id"]
    assert message.get_body(("plain",)).get_content().strip() == "plain text"
    assert "<b>html</b>" in message.get_body(("html",)).get_content()
    attachments = {a.get_filename(): a.get_content() for a in message.iter_attachments()}
    assert attachments["report.csv"] == report.read_text()
    assert attachments["raw.bin"] == b"\x00\x01"


def test_smtps_from_the_start(smtp: SmtpServer) -> None:
    server = EmailServer(
        host=smtp.host,
        port=smtp.ssl_port,
        security="ssl",
        username=USER,
        password=PASSWORD,
        sender=USER,
        ca_cert=smtp.ca_file,
    )
    email_send(server, "a@example.com", "over SMTPS", "hello")
    assert smtp.messages[0].message["Subject"] == "over SMTPS"


def test_wrong_password_is_an_auth_error_without_the_password(smtp: SmtpServer) -> None:
    server = EmailServer(
        host=smtp.host,
        port=smtp.starttls_port,
        username=USER,
        password="Wrong-Password-4321",
        sender=USER,
        ca_cert=smtp.ca_file,
    )
    server.save("smtp-bad")
    with pytest.raises(NotifyAuthError) as info:
        email_send(EmailServer.load("smtp-bad"), "a@example.com", "s", "b")
    assert "email-server/smtp-bad" in str(info.value)
    assert "Wrong-Password-4321" not in str(info.value)
    assert smtp.messages == []


def test_untrusted_certificate_is_refused(smtp: SmtpServer) -> None:
    server = EmailServer(
        host=smtp.host, port=smtp.starttls_port, username=USER, password=PASSWORD, sender=USER
    )
    with pytest.raises(NotifyConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        email_send(server, "a@example.com", "s", "b")


def test_the_server_refuses_mail_without_login(smtp: SmtpServer) -> None:
    from orch_notify import NotifyError

    server = EmailServer(host=smtp.host, port=smtp.starttls_port, sender=USER, ca_cert=smtp.ca_file)
    with pytest.raises(NotifyError, match="email_send via an unsaved EmailServer"):
        email_send(server, "a@example.com", "s", "b")


def test_notify_mails_notify_to_with_the_severity(
    email_server: EmailServer, smtp: SmtpServer
) -> None:
    email_server.notify("etl failed", "3 rows rejected", severity="critical")
    (got,) = smtp.messages
    assert got.recipients == ["oncall@example.com"]
    assert got.message["Subject"] == "[CRITICAL] etl failed"


def test_bad_settings_are_clear_errors(tmp_path: Path, email_server: EmailServer) -> None:
    with pytest.raises(ValueError, match="username and password go together"):
        EmailServer(host="h", sender="a@b", username="u")
    with pytest.raises(ValueError, match="send the password in clear"):
        EmailServer(host="h", sender="a@b", username="u", password="p-long", security="none")
    with pytest.raises(ValueError, match="no recipient"):
        email_send(email_server, [], "s", "b")
    with pytest.raises(FileNotFoundError, match="no attachment file"):
        email_send(email_server, "a@example.com", "s", "b", attachments=[tmp_path / "nope"])
    empty = email_server.model_copy(update={"notify_to": []})
    with pytest.raises(ValueError, match="notify_to is empty"):
        empty.notify("s", "b")
