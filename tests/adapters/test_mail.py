"""The mail adapters: the outbox folder, and SMTP against a real aiosmtpd server."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from app.adapters.mail import Mail, MailUnavailable, OutboxMailer, SmtpMailer
from tests.conftest import http_client, make_settings, running_app
from tests.factories import API, signup_body
from tests.support.services import free_loopback_port


class RecordingHandler:
    def __init__(self) -> None:
        self.received: list[tuple[Envelope, Message]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.received.append((envelope, message_from_bytes(content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[RecordingHandler, int]]:
    handler = RecordingHandler()
    port = free_loopback_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


class TestOutbox:
    async def test_writes_one_eml_file_per_message(self, tmp_path: Path):
        mailer = OutboxMailer(tmp_path / "outbox", "Studio <no-reply@example.com>")
        long_link = "http://frontend.test/confirm-email?token=" + "A" * 60
        await mailer.send(Mail(to="ann@example.com", subject="Hello", text=f"Open {long_link}"))
        [path] = list((tmp_path / "outbox").glob("*.eml"))
        message = message_from_bytes(path.read_bytes())
        assert message["To"] == "ann@example.com"
        assert message["From"] == "Studio <no-reply@example.com>"
        # The link must survive intact so a person can copy it out of the file.
        assert long_link in path.read_text()


class TestSmtp:
    async def test_delivers_to_a_real_smtp_server(self, smtp_server: tuple[RecordingHandler, int]):
        handler, port = smtp_server
        mailer = SmtpMailer(
            host="127.0.0.1", port=port, sender="no-reply@example.com", starttls=False
        )
        await mailer.ping()
        await mailer.send(Mail(to="bo@example.com", subject="Hi Bo", text="Grüße, Bo"))
        [(envelope, message)] = handler.received
        assert envelope.rcpt_tos == ["bo@example.com"]
        assert message["Subject"] == "Hi Bo"
        payload = message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        assert "Grüße" in payload.decode("utf-8")

    async def test_unreachable_server_raises_mail_unavailable(self):
        mailer = SmtpMailer(
            host="127.0.0.1", port=free_loopback_port(), sender="x@example.com", starttls=False
        )
        with pytest.raises(MailUnavailable):
            await mailer.send(Mail(to="bo@example.com", subject="s", text="t"))

    async def test_signup_mail_goes_out_over_smtp(
        self, smtp_server: tuple[RecordingHandler, int], sqlite_database: str, tmp_path: Path
    ):
        handler, port = smtp_server
        settings = make_settings(
            database_url=sqlite_database,
            data_dir=tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_starttls=False,
        )
        async with running_app(settings) as app, http_client(app) as client:
            body = signup_body()
            response = await client.post(f"{API}/auth/signup", json=body)
        assert response.status_code == 201
        [(envelope, message)] = handler.received
        assert envelope.rcpt_tos == [body["email"]]
        payload = message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        assert "http://frontend.test/confirm-email?token=" in payload.decode()
        assert not (tmp_path / "outbox").exists()

    async def test_signup_succeeds_when_the_mail_server_is_down(
        self, sqlite_database: str, tmp_path: Path
    ):
        settings = make_settings(
            database_url=sqlite_database,
            data_dir=tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=free_loopback_port(),
            smtp_starttls=False,
        )
        async with running_app(settings) as app, http_client(app) as client:
            body = signup_body()
            response = await client.post(f"{API}/auth/signup", json=body)
            assert response.status_code == 201
            # The account exists and the person can ask for the link again later.
            start = await client.post(f"{API}/auth/start", json={"email": body["email"]})
            assert start.json()["exists"] is True
