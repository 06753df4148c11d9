"""HTTP routes of `/admin`: user administration and the audit trail."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Body, Path, Query, status

from app.admin import repository, service
from app.admin.deps import AdminRouter, AdminUser, AuditActorDep
from app.admin.schemas import (
    AdminActionOut,
    AdminUserDetail,
    AdminUserOut,
    BulkCreateOut,
    BulkCreateRequest,
    CreditAdjustment,
    CreditAdjustmentOut,
    IsoDateTime,
    SortOrder,
    SuspendRequest,
    SuspensionOut,
    UnsuspendRequest,
    UserSort,
    UserStatus,
)
from app.assets.service import StorageFailed
from app.deps import PortsDep, SessionDep
from app.kit.errors import responses
from app.kit.pagination import InvalidCursor, Page, PageParamsDep
from app.models import UserRole

router = AdminRouter()

UserId = Annotated[uuid.UUID, Path(description="The account's id.")]
NOT_FOUND = responses(service.UserNotFound)


@router.get("/users", response_model=Page[AdminUserOut], responses=responses(InvalidCursor))
async def list_users(
    admin: AdminUser,
    session: SessionDep,
    page: PageParamsDep,
    search: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="Part of the email, username or full name (case-insensitive).",
        ),
    ] = None,
    role: Annotated[UserRole | None, Query()] = None,
    status_: Annotated[UserStatus | None, Query(alias="status")] = None,
    created_from: Annotated[
        IsoDateTime | None, Query(description="Created at or after (ISO 8601; UTC if no zone).")
    ] = None,
    created_to: Annotated[
        IsoDateTime | None, Query(description="Created before (ISO 8601; UTC if no zone).")
    ] = None,
    sort: Annotated[UserSort, Query()] = UserSort.CREATED_AT,
    order: Annotated[SortOrder, Query()] = SortOrder.DESC,
) -> Page[AdminUserOut]:
    """Accounts, filtered and sorted; `cursor` pages the `created_at` order, `offset` any."""
    window = await repository.list_users(
        session,
        filters=repository.UserFilters(
            search=search,
            role=role.value if role else None,
            status=status_,
            created_from=created_from,
            created_to=created_to,
        ),
        sort=sort,
        order=order,
        page=page,
    )
    return Page.of(window, [AdminUserOut.of(user) for user in window.rows])


@router.post(
    "/users/bulk",
    response_model=BulkCreateOut,
    status_code=status.HTTP_201_CREATED,
    responses=responses(service.BulkRowsInvalid),
)
async def bulk_create_users(
    body: BulkCreateRequest, actor: AuditActorDep, session: SessionDep, ports: PortsDep
) -> BulkCreateOut:
    """Create up to 100 accounts in one transaction: all of them, or none (422 lists the
    failing rows by index). A row without a password has none: the person sets one through
    forgot-password, which also confirms the address."""
    users = await service.bulk_create(session=session, ports=ports, actor=actor, data=body)
    return BulkCreateOut(created=[AdminUserOut.of(user) for user in users])


@router.get("/users/{user_id:uuid}", response_model=AdminUserDetail, responses=NOT_FOUND)
async def get_user(
    user_id: UserId, admin: AdminUser, session: SessionDep, ports: PortsDep
) -> AdminUserDetail:
    """The account with its balance, counts, recent ledger and jobs, and live sessions."""
    return await service.user_detail(session=session, ports=ports, user_id=user_id)


@router.post(
    "/users/{user_id:uuid}/credits",
    response_model=CreditAdjustmentOut,
    responses=responses(service.UserNotFound, service.NotEnoughCredits),
)
async def adjust_credits(
    user_id: UserId, body: CreditAdjustment, actor: AuditActorDep, session: SessionDep
) -> CreditAdjustmentOut:
    """Grant (positive `delta`) or deduct (negative) credits through the ledger."""
    return await service.adjust_credits(session=session, actor=actor, user_id=user_id, data=body)


@router.post(
    "/users/{user_id:uuid}/suspend",
    response_model=SuspensionOut,
    responses=responses(service.UserNotFound, service.AlreadySuspended, service.OwnAccount),
)
async def suspend_user(
    user_id: UserId,
    body: SuspendRequest,
    actor: AuditActorDep,
    session: SessionDep,
    ports: PortsDep,
) -> SuspensionOut:
    """End every session of the account now, refuse its sign-ins, cancel its queued jobs
    (refunded) and stop its running ones."""
    return await service.suspend(
        session=session, ports=ports, actor=actor, user_id=user_id, reason=body.reason
    )


@router.post(
    "/users/{user_id:uuid}/unsuspend",
    response_model=AdminUserOut,
    responses=responses(service.UserNotFound, service.NotSuspended),
)
async def unsuspend_user(
    user_id: UserId,
    actor: AuditActorDep,
    session: SessionDep,
    body: Annotated[UnsuspendRequest | None, Body()] = None,
) -> AdminUserOut:
    """Let the account sign in again (its old sessions stay ended); the body is optional."""
    reason = body.reason if body is not None else None
    return await service.unsuspend(session=session, actor=actor, user_id=user_id, reason=reason)


@router.delete(
    "/users/{user_id:uuid}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(service.UserNotFound, service.OwnAccount, StorageFailed),
)
async def delete_user(
    user_id: UserId,
    actor: AuditActorDep,
    session: SessionDep,
    ports: PortsDep,
    reason: Annotated[str | None, Query(min_length=1, max_length=500)] = None,
) -> None:
    """Delete the account as DELETE /profile does: its rows, stored files and sessions."""
    await service.delete_user(
        session=session, ports=ports, actor=actor, user_id=user_id, reason=reason
    )


@router.get("/audit", response_model=Page[AdminActionOut], responses=responses(InvalidCursor))
async def audit(
    admin: AdminUser,
    session: SessionDep,
    page: PageParamsDep,
    actor_id: Annotated[uuid.UUID | None, Query(description="Actions by this admin.")] = None,
    target_id: Annotated[
        uuid.UUID | None, Query(description="Actions on this object (a user, a job).")
    ] = None,
    action: Annotated[
        str | None,
        Query(max_length=60, pattern=r"^[a-z_.]+$", description="e.g. `user.suspend`."),
    ] = None,
) -> Page[AdminActionOut]:
    """Every administrative action, newest first."""
    window = await repository.list_actions(
        session, actor_id=actor_id, target_id=target_id, action=action, page=page
    )
    return Page.of(window, [AdminActionOut.model_validate(row) for row in window.rows])
