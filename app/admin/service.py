"""User administration: reading accounts, credits, suspension, bulk creation and deletion.

Every change records its audit row in the same transaction (app/admin/audit.py).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.admin import repository
from app.admin.audit import AdminActionName, AuditActor, AuditTarget, record_admin_action
from app.admin.schemas import (
    AdminJobSummary,
    AdminSessionOut,
    AdminUserDetail,
    AdminUserOut,
    BulkCreateRequest,
    BulkRowError,
    CreditAdjustment,
    CreditAdjustmentOut,
    SuspensionOut,
    UserCounts,
)
from app.auth.schemas import check_password_policy
from app.auth.service import WeakPassword, check_password_strength, session_store
from app.credits.schemas import TransactionOut
from app.credits.service import CreditReason, InsufficientCredits, apply_credit_change
from app.jobs.service import JobAlreadyFinished, cancel_job
from app.kit.db import end_read_only_transaction
from app.kit.errors import Conflict, NotFound, Unprocessable
from app.kit.security import hash_password
from app.models import JobStatus, User
from app.ports import Ports
from app.profile.service import remove_account

logger = logging.getLogger("app.admin")

RECENT_ITEMS = 10


class UserNotFound(NotFound):
    message = "User not found."


class NotEnoughCredits(Conflict):
    code = "insufficient_credits"
    message = "The deduction would take the balance below zero."


class AlreadySuspended(Conflict):
    code = "already_suspended"
    message = "The account is already suspended."


class NotSuspended(Conflict):
    code = "not_suspended"
    message = "The account is not suspended."


class OwnAccount(Conflict):
    code = "own_account"
    message = "Administrators cannot suspend or delete their own account here."


class BulkRowsInvalid(Unprocessable):
    code = "invalid_rows"
    message = "Some rows cannot be created; nothing was."


def _snapshot(user: User) -> dict[str, Any]:
    """The account fields an audit row keeps (never the password hash)."""
    return {
        "email": user.email,
        "username": user.username,
        "role": user.role,
        "credits": user.credits,
        "suspended_at": user.suspended_at,
        "suspension_reason": user.suspension_reason,
    }


async def _existing(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await repository.get_user(session, user_id)
    if user is None:
        raise UserNotFound()
    return user


async def user_detail(
    *, session: AsyncSession, ports: Ports, user_id: uuid.UUID
) -> AdminUserDetail:
    user = await _existing(session, user_id)
    projects, jobs, assets = await repository.counts(session, user.id)
    transactions = await repository.recent_transactions(session, user.id, limit=RECENT_ITEMS)
    recent_jobs = await repository.recent_jobs(session, user.id, limit=RECENT_ITEMS)
    sessions = await session_store(ports).list_for_user(user.id)
    return AdminUserDetail(
        user=AdminUserOut.of(user),
        balance=user.credits,
        counts=UserCounts(projects=projects, jobs=jobs, assets=assets),
        recent_transactions=[TransactionOut.model_validate(row) for row in transactions],
        sessions=[
            AdminSessionOut(
                id=record.id,
                user_agent=record.user_agent,
                ip=record.ip,
                created_at=datetime.fromisoformat(record.created_at),
                last_used_at=datetime.fromisoformat(record.last_used_at),
            )
            for record in sessions
        ],
        recent_jobs=[AdminJobSummary.model_validate(job) for job in recent_jobs],
    )


async def adjust_credits(
    *, session: AsyncSession, actor: AuditActor, user_id: uuid.UUID, data: CreditAdjustment
) -> CreditAdjustmentOut:
    """Grant or deduct through the ledger, with the reference `admin:<action id>`."""
    await _existing(session, user_id)
    action_id = uuid.uuid4()
    try:
        change = await apply_credit_change(
            session=session,
            user_id=user_id,
            delta=data.delta,
            reason=CreditReason.ADMIN_GRANT if data.delta > 0 else CreditReason.ADMIN_DEDUCTION,
            reference=f"admin:{action_id}",
        )
    except InsufficientCredits as exc:
        raise NotEnoughCredits() from exc
    balance = change.transaction.balance_after
    # The ledger row holds the balance this change produced, whatever ran concurrently.
    await record_admin_action(
        session=session,
        actor=actor,
        action=AdminActionName.USER_CREDITS,
        target_type=AuditTarget.USER,
        target_id=user_id,
        reason=data.reason,
        before={"credits": balance - data.delta},
        after={"credits": balance, "delta": data.delta, "transaction_id": change.transaction.id},
        action_id=action_id,
    )
    return CreditAdjustmentOut(
        user_id=user_id,
        delta=data.delta,
        balance=balance,
        transaction_id=change.transaction.id,
        action_id=action_id,
    )


async def suspend(
    *,
    session: AsyncSession,
    ports: Ports,
    actor: AuditActor,
    user_id: uuid.UUID,
    reason: str,
) -> SuspensionOut:
    """Suspend: every session ends now, queued jobs are canceled and refunded (once, by
    reference), running ones stop before their next variant and refund the rest."""
    if actor.user_id == user_id:
        raise OwnAccount()
    user = await repository.get_user_for_update(session, user_id)
    if user is None:
        raise UserNotFound()
    if user.suspended_at is not None:
        raise AlreadySuspended()
    before = _snapshot(user)
    user.suspended_at = datetime.now(UTC)
    user.suspension_reason = reason
    await session.flush()
    canceled: list[uuid.UUID] = []
    stopping: list[uuid.UUID] = []
    refunded = 0
    for job in await repository.unfinished_jobs(session, user.id):
        try:
            fresh = await cancel_job(session=session, job=job)
        except JobAlreadyFinished:
            continue  # it ended meanwhile
        if fresh.status == JobStatus.CANCELED.value:
            canceled.append(fresh.id)
            refunded += fresh.refunded_credits
        else:
            stopping.append(fresh.id)
    await session.refresh(user, ["credits"])
    # Before the commit: if the store cannot be reached the suspension fails as a whole (503)
    # rather than leaving sessions alive. Requests already check `suspended_at` too.
    revoked = await session_store(ports).revoke_all(user.id)
    after = {
        **_snapshot(user),
        "canceled_jobs": canceled,
        "stopping_jobs": stopping,
        "refunded_credits": refunded,
        "revoked_sessions": revoked,
    }
    await record_admin_action(
        session=session,
        actor=actor,
        action=AdminActionName.USER_SUSPEND,
        target_type=AuditTarget.USER,
        target_id=user.id,
        reason=reason,
        before=before,
        after=after,
    )
    logger.info("account suspended", extra={"user_id": str(user.id)})
    return SuspensionOut(
        user=AdminUserOut.of(user),
        revoked_sessions=revoked,
        canceled_jobs=canceled,
        stopping_jobs=stopping,
        refunded_credits=refunded,
    )


async def unsuspend(
    *, session: AsyncSession, actor: AuditActor, user_id: uuid.UUID, reason: str | None
) -> AdminUserOut:
    user = await repository.get_user_for_update(session, user_id)
    if user is None:
        raise UserNotFound()
    if user.suspended_at is None:
        raise NotSuspended()
    before = _snapshot(user)
    user.suspended_at = None
    user.suspension_reason = None
    await session.flush()
    await record_admin_action(
        session=session,
        actor=actor,
        action=AdminActionName.USER_UNSUSPEND,
        target_type=AuditTarget.USER,
        target_id=user.id,
        reason=reason,
        before=before,
        after=_snapshot(user),
    )
    return AdminUserOut.of(user)


async def _row_errors(session: AsyncSession, data: BulkCreateRequest) -> list[BulkRowError]:
    errors: list[BulkRowError] = []
    first_email: dict[str, int] = {}
    first_username: dict[str, int] = {}
    for index, row in enumerate(data.users):
        # Email and Username arrive lowercased by their validators.
        if row.email in first_email:
            problem = f"the same email as row {first_email[row.email]}"
            errors.append(BulkRowError(index=index, field="email", problem=problem))
        else:
            first_email[row.email] = index
        if row.username in first_username:
            problem = f"the same username as row {first_username[row.username]}"
            errors.append(BulkRowError(index=index, field="username", problem=problem))
        else:
            first_username[row.username] = index
    taken_emails, taken_usernames = await repository.taken_emails_and_usernames(
        session, emails=list(first_email), usernames=list(first_username)
    )
    for index, row in enumerate(data.users):
        if row.email in taken_emails:
            errors.append(
                BulkRowError(index=index, field="email", problem="an account has this email")
            )
        if row.username in taken_usernames:
            errors.append(
                BulkRowError(index=index, field="username", problem="this username is taken")
            )
    return errors


async def _password_errors(data: BulkCreateRequest) -> list[BulkRowError]:
    """The sign-up rules for each row that sets a password (no reuse of email or username,
    zxcvbn score 2 or more)."""
    errors: list[BulkRowError] = []
    for index, row in enumerate(data.users):
        if row.password is None:
            continue
        try:
            check_password_policy(row.password, email=row.email, username=row.username)
            hints = [row.email, row.email.split("@")[0], row.username, *row.full_name.split()]
            await check_password_strength(row.password, hints=hints)
        except (ValueError, WeakPassword) as exc:
            errors.append(BulkRowError(index=index, field="password", problem=str(exc)))
    return errors


def _refuse(errors: list[BulkRowError]) -> BulkRowsInvalid:
    errors.sort(key=lambda error: (error.index, error.field))
    indexes = sorted({error.index for error in errors})
    return BulkRowsInvalid(
        f"Rows {', '.join(map(str, indexes))} cannot be created; nothing was.",
        extra={"rows": [error.model_dump() for error in errors]},
    )


async def bulk_create(
    *, session: AsyncSession, ports: Ports, actor: AuditActor, data: BulkCreateRequest
) -> list[User]:
    """Create every account or none: any failing row refuses the whole batch (422)."""
    errors = await _row_errors(session, data) + await _password_errors(data)
    if errors:
        raise _refuse(errors)
    # Hashing is the slow part: no transaction stays open during it.
    await end_read_only_transaction(session)
    hashes = [
        await hash_password(row.password, cost=ports.settings.password_hash_cost)
        if row.password is not None
        else None
        for row in data.users
    ]
    now = datetime.now(UTC)
    users = [
        User(
            email=row.email,
            username=row.username,
            full_name=row.full_name,
            dob=row.dob,
            password_hash=password_hash,
            credits=0,
            email_confirmed_at=now if row.confirmed else None,
        )
        for row, password_hash in zip(data.users, hashes, strict=True)
    ]
    session.add_all(users)
    try:
        await session.flush()
    except IntegrityError as exc:
        # An account took one of these addresses or names after the check above.
        raise BulkRowsInvalid(
            "An email or username of this batch was taken meanwhile; nothing was created.",
            extra={"rows": []},
        ) from exc
    for row, user in zip(data.users, users, strict=True):
        action_id = uuid.uuid4()
        if row.credits:
            await apply_credit_change(
                session=session,
                user_id=user.id,
                delta=row.credits,
                reason=CreditReason.ADMIN_GRANT,
                reference=f"admin:{action_id}",
            )
            await session.refresh(user, ["credits"])
        await record_admin_action(
            session=session,
            actor=actor,
            action=AdminActionName.USERS_BULK_CREATE,
            target_type=AuditTarget.USER,
            target_id=user.id,
            reason=data.reason,
            after={
                **_snapshot(user),
                "confirmed": row.confirmed,
                "has_password": row.password is not None,
                "batch_size": len(users),
            },
            action_id=action_id,
        )
    return users


async def delete_user(
    *,
    session: AsyncSession,
    ports: Ports,
    actor: AuditActor,
    user_id: uuid.UUID,
    reason: str | None,
) -> None:
    """The deletion of DELETE /profile (rows, stored files, sessions), audited."""
    if actor.user_id == user_id:
        raise OwnAccount()
    user = await _existing(session, user_id)
    await record_admin_action(
        session=session,
        actor=actor,
        action=AdminActionName.USER_DELETE,
        target_type=AuditTarget.USER,
        target_id=user.id,
        reason=reason,
        before=_snapshot(user),
    )
    await remove_account(session=session, ports=ports, user=user)
