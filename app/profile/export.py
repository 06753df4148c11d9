"""The data export: every row and stored file of one account, streamed as a zip archive.

The archive is written by the standard library's `zipfile` into a sink that hands each
written chunk to the response at once, so neither the archive nor a whole table is ever held
in memory: rows are read in batches, each in a short transaction of its own (no connection is
held while a slow client reads), and files are read one at a time. `zipfile` writes to a
stream it cannot seek by putting each entry's sizes in a data descriptor after its bytes,
which every unzip tool reads from the central directory.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute

from app.adapters.storage import ObjectNotFound
from app.kit.db import transaction
from app.models import (
    Asset,
    Base,
    Chat,
    ChatMessage,
    CreditTransaction,
    Job,
    Payment,
    Project,
    Render,
    User,
)
from app.models.base import utcnow
from app.ports import Ports
from app.profile.service import avatar_path

BATCH_ROWS = 500
FORMAT_VERSION = 1

# Columns that are secrets, not the person's data.
_WITHHELD = {"users": {"password_hash"}}


def archive_name(username: str, at: datetime) -> str:
    # Usernames are [a-z0-9_], so the name needs no quoting in Content-Disposition.
    return f"mugshot-export-{username}-{at:%Y%m%d-%H%M%S}.zip"


class _Sink(io.RawIOBase):
    """A write-only stream that keeps what was written until it is taken."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        return len(chunk)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def row_dict(row: Base) -> dict[str, Any]:
    """Every column of the row, as JSON-ready values, without the withheld ones."""
    withheld = _WITHHELD.get(row.__mapper__.persist_selectable.description or "", set())
    return {
        attribute.key: _plain(getattr(row, attribute.key))
        for attribute in row.__mapper__.column_attrs
        if attribute.key not in withheld
    }


@dataclass(frozen=True, slots=True)
class Table:
    """One JSON file of the archive: the rows of a query, in id order."""

    filename: str
    query: Select[Any]
    id: InstrumentedAttribute[uuid.UUID]


def _tables(user_id: uuid.UUID) -> list[Table]:
    owned_chats = select(Chat.id).where(Chat.user_id == user_id)
    return [
        Table("projects.json", select(Project).where(Project.user_id == user_id), Project.id),
        Table("jobs.json", select(Job).where(Job.user_id == user_id), Job.id),
        Table("renders.json", select(Render).where(Render.user_id == user_id), Render.id),
        Table("assets.json", select(Asset).where(Asset.user_id == user_id), Asset.id),
        Table(
            "ledger.json",
            select(CreditTransaction).where(CreditTransaction.user_id == user_id),
            CreditTransaction.id,
        ),
        Table("chats.json", select(Chat).where(Chat.user_id == user_id), Chat.id),
        Table(
            "chat_messages.json",
            select(ChatMessage).where(ChatMessage.chat_id.in_(owned_chats)),
            ChatMessage.id,
        ),
        Table("orders.json", select(Payment).where(Payment.user_id == user_id), Payment.id),
    ]


@dataclass
class _Manifest:
    files: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    missing_files: list[str] = field(default_factory=list)


async def _batches(ports: Ports, table: Table) -> AsyncIterator[list[Base]]:
    """The rows of a table in batches, each read in its own short transaction."""
    last: uuid.UUID | None = None
    while True:
        query = table.query.order_by(table.id).limit(BATCH_ROWS)
        if last is not None:
            query = query.where(table.id > last)
        async with transaction(ports.database.sessionmaker) as session:
            rows = list(await session.scalars(query))
        if not rows:
            return
        yield rows
        if len(rows) < BATCH_ROWS:
            return
        last = getattr(rows[-1], table.id.key)


def _json(value: Any) -> bytes:
    # Compact, one row a line: `indent` would take json's pure-Python encoder, several times
    # slower than the C one on a long table.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_plain).encode()


def _entry(name: str, *, stored: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=utcnow().timetuple()[:6])
    # Images are compressed already; deflating them again costs time and saves nothing.
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _file_entries(
    user: User,
    *,
    profile_bucket: str,
    assets: Iterable[tuple[str, str]],
    renders: Iterable[tuple[str, str]],
) -> list[tuple[str, str, str]]:
    """(bucket, path, name in the archive) of every stored file of the account."""
    entries = [(bucket, path, f"files/assets/{path}") for bucket, path in assets]
    entries += [(bucket, path, f"files/renders/{path}") for bucket, path in renders]
    avatar = avatar_path(user)
    if avatar is not None:
        entries.append((profile_bucket, avatar, f"files/avatar/{avatar}"))
    return entries


async def export_archive(ports: Ports, user_id: uuid.UUID) -> AsyncIterator[bytes]:
    """The zip archive of the account, chunk by chunk."""
    async with transaction(ports.database.sessionmaker) as session:
        user = await session.get(User, user_id)
    if user is None:
        return
    sink = _Sink()
    manifest = _Manifest()
    asset_files: list[tuple[str, str]] = []
    render_files: list[tuple[str, str]] = []
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(_entry("profile.json"), mode="w") as entry:
            entry.write(_json(row_dict(user)))
        manifest.rows["profile.json"] = 1
        yield sink.take()

        for table in _tables(user_id):
            count = 0
            with archive.open(_entry(table.filename), mode="w") as entry:
                entry.write(b"[")
                async for rows in _batches(ports, table):
                    for row in rows:
                        entry.write((b",\n" if count else b"\n") + _json(row_dict(row)))
                        count += 1
                        if isinstance(row, Asset):
                            asset_files.append((row.bucket, row.path))
                        elif isinstance(row, Render):
                            render_files.append((row.bucket, row.path))
                    yield sink.take()
                entry.write(b"\n]\n")
            manifest.rows[table.filename] = count
            yield sink.take()

        files = _file_entries(
            user,
            profile_bucket=ports.buckets.profile_photos.name,
            assets=asset_files,
            renders=render_files,
        )
        for bucket, path, name in files:
            try:
                data = await ports.storage.get(bucket, path)
            except ObjectNotFound:
                # A row whose file is gone (deleted by hand, or a failed cleanup): say so.
                manifest.missing_files.append(name)
                continue
            with archive.open(_entry(name, stored=True), mode="w") as entry:
                entry.write(data)
            manifest.files.append(name)
            yield sink.take()

        with archive.open(_entry("manifest.json"), mode="w") as entry:
            entry.write(
                _json(
                    {
                        "format_version": FORMAT_VERSION,
                        "user_id": str(user_id),
                        "exported_at": utcnow().isoformat(),
                        "rows": manifest.rows,
                        "files": manifest.files,
                        "missing_files": manifest.missing_files,
                    }
                )
            )
    yield sink.take()
