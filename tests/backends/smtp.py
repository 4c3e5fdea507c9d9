"""A real SMTP server (aiosmtpd) with AUTH (PLAIN, LOGIN) and STARTTLS, and one with TLS
from the start (SMTPS), both with a certificate from a throwaway CA (``trustme``).

One pair per test session, on free loopback ports, in this process (aiosmtpd's
``Controller`` runs the server in its own thread). The login is ``USER`` / ``PASSWORD``;
AUTH is refused before STARTTLS and mail is refused without AUTH. ``smtp.messages``
holds each message received (envelope sender, recipients, parsed message).
"""

from __future__ import annotations

import email
import email.policy
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from .service import free_port

USER = "etl@example.com"
PASSWORD = "Smtp-Pa55word-0987"


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class SmtpServer:
    """The running servers: ports, the CA file clients trust, what they received."""

    host: str
    starttls_port: int
    ssl_port: int
    ca_file: str
    messages: list[Received] = field(default_factory=list)
    controllers: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        for controller in self.controllers:
            controller.stop()


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.server.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), message)  # type: ignore[arg-type]
        )
        return "250 Message accepted for delivery"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == USER
        and auth_data.password.decode() == PASSWORD
    )
    return AuthResult(success=ok, handled=False)


def start_smtp(folder: Path) -> SmtpServer:
    """Start both servers (the caller stops them)."""
    import trustme
    from aiosmtpd.controller import Controller

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file = folder / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    server = SmtpServer("127.0.0.1", free_port(), free_port(), str(ca_file))
    handler = _Handler(server)
    common: dict[str, Any] = {
        "authenticator": _authenticator,
        "auth_required": True,
        "auth_require_tls": True,
    }
    starttls = Controller(
        handler,
        hostname=server.host,
        port=server.starttls_port,
        tls_context=server_context,
        require_starttls=True,
        **common,
    )
    smtps = Controller(
        handler,
        hostname=server.host,
        port=server.ssl_port,
        ssl_context=server_context,
        # the whole connection is TLS: aiosmtpd's auth_require_tls looks for STARTTLS only
        **{**common, "auth_require_tls": False},
    )
    for controller in (starttls, smtps):
        controller.start()
        server.controllers.append(controller)
    return server


SERVICE_OF_FIXTURE = {"smtp_server": "aiosmtpd"}


@pytest.fixture(scope="session")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    server = start_smtp(tmp_path_factory.mktemp("smtp"))
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> SmtpServer:
    smtp_server.messages.clear()
    return smtp_server
