"""Mail port: an outbox folder of `.eml` files for development, or SMTP through aiosmtplib."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol

import anyio

logger = logging.getLogger("app.mail")


class MailUnavailable(Exception):
    """The message could not be handed to the mail service."""


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None


class Mailer(Protocol):
    name: str

    async def send(self, mail: Mail) -> None: ...

    async def ping(self) -> None: ...


def build_message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="mugshot.studio")
    # Quoted-printable would wrap long links with "=" breaks; keep the text as written.
    message.set_content(mail.text, cte="7bit" if mail.text.isascii() else "8bit")
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    return message


class OutboxMailer:
    """Writes each message as one `.eml` file so a developer can open the links in it."""

    name = "outbox"

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self.sender = sender

    async def send(self, mail: Mail) -> None:
        message = build_message(mail, self.sender)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"

        def write() -> None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(message.as_bytes())

        await anyio.to_thread.run_sync(write)
        # The address is personal data, so the log line names only the file and the subject.
        logger.info("mail written to outbox", extra={"file": str(path), "subject": mail.subject})

    async def ping(self) -> None:
        return None


class SmtpMailer:
    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str = "",
        password: str = "",
        starttls: bool = True,
        use_tls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.use_tls = use_tls
        self.timeout = timeout

    async def send(self, mail: Mail) -> None:
        import aiosmtplib

        message = build_message(mail, self.sender)
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username or None,
                password=self.password or None,
                use_tls=self.use_tls,
                start_tls=False if self.use_tls else self.starttls,
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailUnavailable(f"SMTP delivery failed: {type(exc).__name__}") from exc

    async def ping(self) -> None:
        import aiosmtplib

        client = aiosmtplib.SMTP(
            hostname=self.host, port=self.port, use_tls=self.use_tls, timeout=self.timeout
        )
        try:
            await client.connect()
            await client.noop()
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailUnavailable(f"SMTP unreachable: {type(exc).__name__}") from exc
        finally:
            if client.is_connected:
                await client.quit()
