"""Uploaded images: selfies, references, copy targets and profile photos."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, IdMixin


class AssetType(StrEnum):
    SELFIE = "selfie"
    REF = "ref"
    COPY_TARGET = "copy_target"
    PROFILE_PHOTO = "profile_photo"


class Asset(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "assets"
    __table_args__ = (
        Index("ix_assets_user_created", "user_id", "created_at", "id"),
        Index("ix_assets_user_type_created", "user_id", "type", "created_at", "id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(20))
    bucket: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(String(1024))
    content_type: Mapped[str] = mapped_column(String(50))
    width: Mapped[int]
    height: Mapped[int]
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    original_filename: Mapped[str | None] = mapped_column(String(255), default=None)
