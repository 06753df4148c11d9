"""Accounts: one row per person, with a cached credit balance kept by the ledger."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, IdMixin, utcnow


class UserRole(StrEnum):
    USER = "user"
    ADMIN = "admin"


class User(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("credits >= 0", name="credits_not_negative"),
        Index("uq_users_email", func.lower("email"), unique=True),
        Index("uq_users_username", func.lower("username"), unique=True),
        # The admin list's sort orders (email and username sort by the lower() indexes above).
        Index("ix_users_created_at", "created_at", "id"),
        Index("ix_users_credits", "credits", "id"),
        Index("ix_users_last_seen_at", "last_seen_at", "id"),
        Index("ix_users_full_name", func.lower("full_name")),
    )

    email: Mapped[str] = mapped_column(String(320))
    username: Mapped[str] = mapped_column(String(30))
    full_name: Mapped[str] = mapped_column(String(120))
    dob: Mapped[date]
    bio: Mapped[str | None] = mapped_column(Text, default=None)
    avatar_url: Mapped[str | None] = mapped_column(String(1024), default=None)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=UserRole.USER.value)
    credits: Mapped[int] = mapped_column(default=0)
    email_confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    password_changed_at: Mapped[datetime | None] = mapped_column(default=None)
    # Written at sign-in and refresh only, so it costs nothing on other requests.
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    suspended_at: Mapped[datetime | None] = mapped_column(default=None)
    suspension_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def is_confirmed(self) -> bool:
        return self.email_confirmed_at is not None

    @property
    def is_admin(self) -> bool:
        return self.role == UserRole.ADMIN.value

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None
