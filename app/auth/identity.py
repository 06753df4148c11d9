"""Who is calling: a read-only snapshot of the caller's account, loaded on every request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from app.models import UserRole


@dataclass(frozen=True, slots=True)
class SignedInUser:
    """The account columns requests read; routes that change the account load the row."""

    id: uuid.UUID
    email: str
    username: str
    full_name: str
    dob: date
    bio: str | None
    avatar_url: str | None
    role: str
    credits: int
    email_confirmed_at: datetime | None
    created_at: datetime
    suspended_at: datetime | None = None

    @property
    def is_confirmed(self) -> bool:
        return self.email_confirmed_at is not None

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    @property
    def is_admin(self) -> bool:
        return self.role == UserRole.ADMIN.value
