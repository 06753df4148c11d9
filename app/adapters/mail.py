"""Mail port: an outbox folder of `.eml` files for development, or SMTP through aiosmtplib."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol

import anyio

logger = logging.getLogger("app.mail")

# Reading the outbox back stops after this many files, however many a filter skipped.
OUTBOX_SCAN_LIMIT = 500


class MailUnavailable(Exception):
    """The message could not be handed to the mail service."""


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True, slots=True)
class StoredMail:
    """A message read back from the outbox."""

    id: str
    to: str
    subject: str
    sent_at: datetime
    text: str


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

    async def recent(self, *, limit: int, to: str | None = None) -> list[StoredMail]:
        """The newest messages first, optionally only those to one address."""

        def read() -> list[StoredMail]:
            if not self.folder.is_dir():
                return []
            found: list[StoredMail] = []
            # File names start with their UTC time, so the name order is the sending order.
            paths = sorted(self.folder.glob("*.eml"), reverse=True)[:OUTBOX_SCAN_LIMIT]
            for path in paths:
                mail = _read_stored(path)
                if to is None or mail.to.lower() == to.lower():
                    found.append(mail)
                if len(found) >= limit:
                    break
            return found

        return await anyio.to_thread.run_sync(read)


def _read_stored(path: Path) -> StoredMail:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    stamp = path.name.split("-", 1)[0]
    try:
        sent_at = datetime.strptime(stamp, "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
    except ValueError:
        sent_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return StoredMail(
        id=path.stem,
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        sent_at=sent_at,
        text=text,
    )


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
