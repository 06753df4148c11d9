"""Who is calling: the bearer token checked against its live session, as dependencies."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth import repository
from app.auth.identity import SignedInUser
from app.auth.sessions import SessionRecord, session_key
from app.auth.snapshots import (
    GENERATION_KEY,
    USERS_TABLE,
    AccountSnapshots,
    CachedAccount,
    account_key,
)
from app.deps import SessionDep
from app.kit.errors import ServiceUnavailable, Unauthorized, responses
from app.kit.security import AccessClaims, InvalidAccessToken, decode_access_token
from app.models import User
from app.ports import Ports

_bearer = HTTPBearer(auto_error=False, description="The access token from /auth/signin.")

# Tokens whose signature this process has checked, so a client's next requests skip the HMAC
# and JSON work; expiry is still checked every time, and revocation lives in the session check.
_VERIFIED_TOKENS_MAX = 4096
_verified_tokens: OrderedDict[tuple[str, str], AccessClaims] = OrderedDict()


def verified_claims(token: str, *, secret: str) -> AccessClaims:
    key = (secret, token)
    claims = _verified_tokens.get(key)
    if claims is None:
        claims = decode_access_token(token, secret=secret)
        _verified_tokens[key] = claims
        if len(_verified_tokens) > _VERIFIED_TOKENS_MAX:
            _verified_tokens.popitem(last=False)
    elif time.time() >= claims.expires_at.timestamp():
        del _verified_tokens[key]
        raise InvalidAccessToken("the token has expired")
    return claims


class InvalidAccessTokenError(Unauthorized):
    code = "invalid_token"
    message = "The access token is invalid or has expired."


class SessionRevoked(Unauthorized):
    code = "session_revoked"
    message = "This session has ended. Sign in again."


# What every route behind `CurrentUser` may answer, for its `responses=`.
AUTHED = responses(Unauthorized, InvalidAccessTokenError, SessionRevoked, ServiceUnavailable)


@dataclass(frozen=True, slots=True)
class Caller:
    user: SignedInUser
    session_id: str


@dataclass(frozen=True, slots=True)
class CheckedToken:
    claims: AccessClaims
    account: CachedAccount


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

# Where a request keeps what its token resolved to, so dependencies that need it resolve it once.
_CHECKED = "checked_token"
_CALLER = "caller"


async def check_token(request: Request, credentials: BearerDep) -> CheckedToken:
    """The caller's token, checked against its live session, without touching the database;
    the account snapshot comes back in the same key-value round trip."""
    state = request.scope.setdefault("state", {})
    checked: CheckedToken | None = state.get(_CHECKED)
    if checked is not None:
        return checked
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    # The ports straight from the app: every authenticated request comes through here, and
    # each dependency the framework solves costs more than this attribute read.
    ports: Ports = request.app.state.ports
    try:
        claims = verified_claims(credentials.credentials, secret=ports.settings.signing_secret)
    except InvalidAccessToken as exc:
        raise InvalidAccessTokenError() from exc
    # Checking the session on every request makes logout and revocation take effect at once.
    raw_session, raw_account, generation = await ports.kv.get_many(
        session_key(claims.session_id), account_key(claims.user_id), GENERATION_KEY
    )
    if raw_session is None or not _session_of(raw_session, claims.user_id):
        raise SessionRevoked()
    checked = state[_CHECKED] = CheckedToken(claims, CachedAccount(raw_account, generation))
    return checked


def _session_of(raw_session: str, user_id: uuid.UUID) -> bool:
    return SessionRecord.load(raw_session).user_id == str(user_id)


async def get_access_claims(request: Request, credentials: BearerDep) -> AccessClaims:
    return (await check_token(request, credentials)).claims


# For work that must happen before any database connection is taken (reading an upload).
AccessClaimsDep = Annotated[AccessClaims, Depends(get_access_claims)]


async def get_caller(request: Request, credentials: BearerDep) -> Caller:
    """Who is calling: the token's account, from its snapshot or else the database.

    A plain function under each dependency below rather than a dependency of theirs: every
    authenticated request solves it, and each level the framework solves costs more than
    the work here."""
    state = request.scope.setdefault("state", {})
    found: Caller | None = state.get(_CALLER)
    if found is not None:
        return found
    checked = await check_token(request, credentials)
    claims = checked.claims
    ports: Ports = request.app.state.ports
    database = ports.database
    user = checked.account.user() if database.watches(USERS_TABLE) else None
    if user is None or user.id != claims.user_id:
        if database.watches(USERS_TABLE):
            user = await AccountSnapshots(ports.kv).load(
                database=database, user_id=claims.user_id, cached=checked.account
            )
        else:
            async with database.read_sessionmaker() as session:
                user = await repository.get_signed_in_user(session, claims.user_id)
    # Suspending revokes every session; the check here also covers one opened in a race.
    if user is None or user.is_suspended:
        raise SessionRevoked()
    state["user_id"] = str(user.id)
    caller = state[_CALLER] = Caller(user=user, session_id=claims.session_id)
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_current_user(request: Request, credentials: BearerDep) -> SignedInUser:
    return (await get_caller(request, credentials)).user


CurrentUser = Annotated[SignedInUser, Depends(get_current_user)]


async def get_current_user_row(caller: CallerDep, session: SessionDep) -> User:
    """The caller's account as an ORM row, for the routes that change it."""
    user = await repository.get_user(session, caller.user.id)
    if user is None:
        raise SessionRevoked()
    return user


CurrentUserRow = Annotated[User, Depends(get_current_user_row)]
