"""The audit trail: one row per administrative action, written in the action's transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, IdMixin


class AdminAction(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "admin_actions"
    __table_args__ = (
        # One index per audit filter, each ending in the list's order (newest first).
        Index("ix_admin_actions_created", "created_at", "id"),
        Index("ix_admin_actions_actor_created", "actor_id", "created_at", "id"),
        Index("ix_admin_actions_target_created", "target_id", "created_at", "id"),
        Index("ix_admin_actions_action_created", "action", "created_at", "id"),
    )

    # Null for actions taken outside a request (ADMIN_EMAILS, scripts/create_admin.py), and
    # once the acting account is deleted: the trail outlives the people in it.
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(40))
    # No foreign key: the row of a deleted account (or job) must keep its audit trail.
    target_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    request_id: Mapped[str | None] = mapped_column(String(128), default=None)
