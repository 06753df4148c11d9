"""HTTP routes of `/admin`: user administration and the audit trail."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from app.admin import repository
from app.admin.deps import AdminRouter, AdminUser
from app.admin.schemas import AdminActionOut
from app.deps import SessionDep
from app.kit.errors import responses
from app.kit.pagination import InvalidCursor, Page, PageParamsDep

router = AdminRouter()


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
