"""Who is calling: the bearer token checked against its live session, as dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth import repository
from app.auth.service import session_store
from app.deps import PortsDep, SessionDep
from app.kit.errors import Unauthorized
from app.kit.security import AccessClaims, InvalidAccessToken, decode_access_token
from app.models import User

_bearer = HTTPBearer(auto_error=False, description="The access token from /auth/signin.")


class InvalidAccessTokenError(Unauthorized):
    code = "invalid_token"
    message = "The access token is invalid or has expired."


class SessionRevoked(Unauthorized):
    code = "session_revoked"
    message = "This session has ended. Sign in again."


@dataclass(frozen=True, slots=True)
class Caller:
    user: User
    session_id: str


async def get_access_claims(
    ports: PortsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AccessClaims:
    """The caller's token, checked against its live session, without touching the database."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    try:
        claims = decode_access_token(credentials.credentials, secret=ports.settings.signing_secret)
    except InvalidAccessToken as exc:
        raise InvalidAccessTokenError() from exc
    # Checking the session on every request makes logout and revocation take effect at once.
    record = await session_store(ports).get(claims.session_id)
    if record is None or record.user_id != str(claims.user_id):
        raise SessionRevoked()
    return claims


# For work that must happen before any database connection is taken (reading an upload).
AccessClaimsDep = Annotated[AccessClaims, Depends(get_access_claims)]


async def get_caller(request: Request, claims: AccessClaimsDep, session: SessionDep) -> Caller:
    user = await repository.get_user(session, claims.user_id)
    if user is None:
        raise SessionRevoked()
    request.state.user_id = str(user.id)
    return Caller(user=user, session_id=claims.session_id)


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_current_user(caller: CallerDep) -> User:
    return caller.user


CurrentUser = Annotated[User, Depends(get_current_user)]
