"""Who may use the admin API: dependencies, the errors they answer, and the admin router."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from app.admin.audit import AuditActor
from app.auth import repository
from app.auth.deps import AUTHED, CallerDep, SessionRevoked
from app.auth.identity import SignedInUser
from app.config import API_PREFIX
from app.deps import SessionDep
from app.kit.errors import Forbidden, responses

ADMIN_PREFIX = f"{API_PREFIX}/admin"
ADMIN_TAG = "admin"
# Set on every admin operation in the OpenAPI schema, so clients and docs can tell them apart.
ADMIN_OPENAPI_MARK = "x-admin"


class AdminRequired(Forbidden):
    code = "admin_required"
    message = "This needs an administrator account."


async def get_admin_user(caller: CallerDep, session: SessionDep) -> SignedInUser:
    # The role is read from the database on every admin request, never from the token or the
    # account snapshot: a demotion (also by scripts/create_admin.py) counts at once.
    user = await repository.get_signed_in_user(session, caller.user.id)
    if user is None:
        raise SessionRevoked()
    if not user.is_admin:
        raise AdminRequired()
    return user


AdminUser = Annotated[SignedInUser, Depends(get_admin_user)]


async def get_audit_actor(request: Request, admin: AdminUser) -> AuditActor:
    """The signed-in admin and the request id, for the audit row of what the request does."""
    return AuditActor(user_id=admin.id, request_id=getattr(request.state, "request_id", None))


AuditActorDep = Annotated[AuditActor, Depends(get_audit_actor)]

# What every admin route may answer, beyond its own errors (already on every AdminRouter route).
ADMIN = {**AUTHED, **responses(AdminRequired)}


class AdminRouter(APIRouter):
    """An APIRouter whose every route needs an admin, carries the `admin` tag, declares ADMIN
    in its responses and is marked `x-admin: true` in the OpenAPI schema."""

    def __init__(self, prefix: str = "", **kwargs: Any) -> None:
        super().__init__(
            prefix=f"{ADMIN_PREFIX}{prefix}",
            tags=[ADMIN_TAG],
            responses=ADMIN,
            # Router-wide, so a route that forgets `AdminUser` is still admin-only.
            dependencies=[Depends(get_admin_user)],
            **kwargs,
        )

    def add_api_route(
        self, path: str, endpoint: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        extra = dict(kwargs.pop("openapi_extra", None) or {})
        extra.setdefault(ADMIN_OPENAPI_MARK, True)
        super().add_api_route(path, endpoint, *args, openapi_extra=extra, **kwargs)
