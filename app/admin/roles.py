"""Roles: promotion and demotion (by script or ADMIN_EMAILS), each with its audit row."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.admin.audit import SYSTEM, AdminActionName, AuditActor, AuditTarget, record_admin_action
from app.config import Settings
from app.models import User, UserRole


async def set_role(
    *,
    session: AsyncSession,
    user: User,
    role: UserRole,
    actor: AuditActor = SYSTEM,
    reason: str | None = None,
) -> bool:
    """Give `user` the role; False when they already had it (nothing is written then)."""
    if user.role == role.value:
        return False
    before = user.role
    user.role = role.value
    await session.flush()
    await record_admin_action(
        session=session,
        actor=actor,
        action=AdminActionName.USER_PROMOTE
        if role is UserRole.ADMIN
        else AdminActionName.USER_DEMOTE,
        target_type=AuditTarget.USER,
        target_id=user.id,
        reason=reason,
        before={"role": before},
        after={"role": role.value},
    )
    return True


async def apply_admin_emails(*, session: AsyncSession, settings: Settings, user: User) -> bool:
    """Promote the account when its address is listed in ADMIN_EMAILS."""
    if user.role == UserRole.ADMIN.value or user.email.lower() not in settings.admin_emails:
        return False
    return await set_role(session=session, user=user, role=UserRole.ADMIN, reason="ADMIN_EMAILS")
