"""The audit trail: `record_admin_action` writes one row in the transaction of the action it
describes, so an action and its record commit (or roll back) together."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi.encoders import jsonable_encoder
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AdminAction

MAX_REASON_CHARS = 500


class AdminActionName(StrEnum):
    """The `action` of each audit row; other features may record their own names too."""

    USER_CREDITS = "user.credits"
    USER_SUSPEND = "user.suspend"
    USER_UNSUSPEND = "user.unsuspend"
    USER_DELETE = "user.delete"
    USER_PROMOTE = "user.promote"
    USER_DEMOTE = "user.demote"
    USERS_BULK_CREATE = "users.bulk_create"
    JOB_RETRY = "job.retry"
    JOB_REFUND = "job.refund"
    JOB_CANCEL = "job.cancel"


class AuditTarget(StrEnum):
    USER = "user"
    USERS = "users"
    JOB = "job"


@dataclass(frozen=True, slots=True)
class AuditActor:
    """Who acted, and the request it came in (its id is the `X-Request-ID` of the response).

    Both are None for actions taken outside the API (ADMIN_EMAILS, scripts/create_admin.py).
    """

    user_id: uuid.UUID | None
    request_id: str | None = None


SYSTEM = AuditActor(user_id=None)


def _json(value: dict[str, Any] | None) -> dict[str, Any] | None:
    # Datetimes, UUIDs and enums become their JSON forms; the column stores plain JSON.
    return None if value is None else jsonable_encoder(value)


async def record_admin_action(
    *,
    session: AsyncSession,
    actor: AuditActor,
    action: str,
    target_type: str,
    target_id: uuid.UUID | None,
    reason: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    action_id: uuid.UUID | None = None,
) -> AdminAction:
    """Add the audit row to the caller's transaction (flushed, so its id is known).

    `action_id` lets an action name its audit row before writing it, e.g. in a ledger
    reference (`admin:<action id>`).
    """
    row = AdminAction(
        id=action_id or uuid.uuid4(),
        actor_id=actor.user_id,
        action=str(action),
        target_type=str(target_type),
        target_id=target_id,
        reason=reason[:MAX_REASON_CHARS] if reason else None,
        before=_json(before),
        after=_json(after),
        request_id=actor.request_id,
    )
    session.add(row)
    await session.flush()
    return row
