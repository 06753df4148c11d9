"""`GET /dev/outbox`: the mails the outbox adapter wrote, so the browser app can show the
confirmation link on embedded defaults.

Mounted only when the mailer is the outbox and the environment is not production (see
`create_app`); anywhere else the path does not exist.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.adapters.mail import OutboxMailer
from app.config import API_PREFIX
from app.deps import PortsDep

router = APIRouter(prefix=f"{API_PREFIX}/dev", tags=["development"])

_LINK = re.compile(r"https?://[^\s<>\"']+")


class OutboxMailOut(BaseModel):
    id: str
    to: str
    subject: str
    sent_at: datetime
    text: str
    links: list[str] = Field(description="Every web address in the text, in order.")


@router.get("/outbox", response_model=list[OutboxMailOut])
async def list_outbox(
    ports: PortsDep,
    to: Annotated[
        str | None, Query(max_length=320, description="Only mails to this address.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[OutboxMailOut]:
    """Development only: the newest mails written to the outbox folder, newest first."""
    mailer = ports.mailer
    assert isinstance(mailer, OutboxMailer)  # the router is mounted only for this adapter
    mails = await mailer.recent(limit=limit, to=to.strip() if to else None)
    return [
        OutboxMailOut(
            id=mail.id,
            to=mail.to,
            subject=mail.subject,
            sent_at=mail.sent_at,
            text=mail.text,
            links=_LINK.findall(mail.text),
        )
        for mail in mails
    ]
