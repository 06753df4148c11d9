"""HTTP routes of `/auth`: sign-up, confirmation, sign-in, sessions and passwords."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, status

from app.auth import repository, service
from app.auth.deps import AUTHED, CallerDep, CurrentUserRow
from app.auth.schemas import (
    USERNAME_PATTERN,
    ChangePasswordRequest,
    EmailRequest,
    MessageResponse,
    RefreshRequest,
    ResetPasswordRequest,
    RevokedResponse,
    SessionOut,
    SigninRequest,
    SignupRequest,
    SignupResponse,
    StartRequest,
    StartResponse,
    TokenRequest,
    TokenResponse,
    UsernameAvailability,
    UserOut,
)
from app.config import API_PREFIX
from app.deps import PortsDep, SessionDep
from app.kit.errors import RateLimited, responses
from app.kit.ratelimit import client_ip, enforce_rate_limit
from app.ports import Ports

router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])


async def _limit(request: Request, ports: Ports, action: str, limit: int, account: str) -> None:
    await enforce_rate_limit(
        ports.kv,
        action=action,
        limit=limit,
        window_seconds=ports.settings.rate_limit_window_seconds,
        ip=client_ip(request, ports.settings),
        account=account,
    )


def _user_agent(request: Request) -> str:
    return request.headers.get("user-agent", "")


@router.post("/start", response_model=StartResponse, responses=responses(RateLimited))
async def start(
    body: StartRequest, request: Request, session: SessionDep, ports: PortsDep
) -> StartResponse:
    """Say whether an account exists for the email and what the sign-in screen shows next."""
    await _limit(request, ports, "start", ports.settings.rate_limit_start, body.email)
    return await service.start(session=session, email=body.email)


@router.post(
    "/signup",
    response_model=SignupResponse,
    status_code=status.HTTP_201_CREATED,
    responses=responses(service.EmailTaken, service.UsernameTaken, RateLimited),
)
async def signup(
    body: SignupRequest, request: Request, session: SessionDep, ports: PortsDep
) -> SignupResponse:
    """Create an account and mail a confirmation link; sign-in works once it is followed."""
    await _limit(request, ports, "signup", ports.settings.rate_limit_signup, body.email)
    user = await service.signup(session=session, ports=ports, data=body)
    return SignupResponse(user_id=user.id)


@router.post("/confirm", response_model=MessageResponse, responses=responses(service.InvalidToken))
async def confirm(body: TokenRequest, session: SessionDep, ports: PortsDep) -> MessageResponse:
    """Confirm an email address with the token from the mail; grants the welcome credits."""
    await service.confirm_email(session=session, ports=ports, token=body.token)
    return MessageResponse(message="Email confirmed")


@router.post(
    "/resend-confirmation", response_model=MessageResponse, responses=responses(RateLimited)
)
async def resend_confirmation(
    body: EmailRequest, request: Request, session: SessionDep, ports: PortsDep
) -> MessageResponse:
    """Send a fresh confirmation link; earlier links stop working."""
    await _limit(request, ports, "resend", ports.settings.rate_limit_resend, body.email)
    await service.resend_confirmation(session=session, ports=ports, email=body.email)
    return MessageResponse(
        message="If that account is waiting for confirmation, a new link is on its way."
    )


@router.post(
    "/signin",
    response_model=TokenResponse,
    responses=responses(
        service.InvalidCredentials,
        service.EmailNotConfirmed,
        service.AccountSuspended,
        RateLimited,
    ),
)
async def signin(
    body: SigninRequest, request: Request, session: SessionDep, ports: PortsDep
) -> TokenResponse:
    await _limit(request, ports, "signin", ports.settings.rate_limit_signin, body.email)
    return await service.signin(
        session=session,
        ports=ports,
        email=body.email,
        password=body.password,
        user_agent=_user_agent(request),
        ip=client_ip(request, ports.settings),
    )


@router.post(
    "/refresh",
    response_model=TokenResponse,
    responses=responses(
        service.InvalidRefreshToken, service.RefreshTokenReused, service.AccountSuspended
    ),
)
async def refresh(
    body: RefreshRequest, request: Request, session: SessionDep, ports: PortsDep
) -> TokenResponse:
    """Trade a refresh token for new tokens. Each refresh token works once."""
    return await service.refresh(
        session=session,
        ports=ports,
        refresh_token=body.refresh_token,
        user_agent=_user_agent(request),
        ip=client_ip(request, ports.settings),
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=AUTHED)
async def logout(caller: CallerDep, ports: PortsDep) -> None:
    """End the current session; its access and refresh tokens stop working at once."""
    await service.revoke_session(ports=ports, user=caller.user, session_id=caller.session_id)


@router.get("/me", response_model=UserOut, responses=AUTHED)
async def me(caller: CallerDep) -> UserOut:
    return UserOut.model_validate(caller.user)


@router.get("/sessions", response_model=list[SessionOut], responses=AUTHED)
async def list_sessions(caller: CallerDep, ports: PortsDep) -> list[SessionOut]:
    records = await service.list_sessions(ports=ports, user=caller.user)
    return [
        SessionOut(
            id=record.id,
            user_agent=record.user_agent,
            ip=record.ip,
            created_at=datetime.fromisoformat(record.created_at),
            last_used_at=datetime.fromisoformat(record.last_used_at),
            current=record.id == caller.session_id,
        )
        for record in records
    ]


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**AUTHED, **responses(service.SessionNotFound)},
)
async def revoke_session(
    session_id: Annotated[str, Path(max_length=64)], caller: CallerDep, ports: PortsDep
) -> None:
    await service.revoke_session(ports=ports, user=caller.user, session_id=session_id)


@router.delete("/sessions", response_model=RevokedResponse, responses=AUTHED)
async def revoke_other_sessions(caller: CallerDep, ports: PortsDep) -> RevokedResponse:
    """End every session except the current one."""
    revoked = await service.revoke_other_sessions(
        ports=ports, user=caller.user, current_session_id=caller.session_id
    )
    return RevokedResponse(revoked=revoked)


@router.post("/forgot-password", response_model=MessageResponse, responses=responses(RateLimited))
async def forgot_password(
    body: EmailRequest, request: Request, session: SessionDep, ports: PortsDep
) -> MessageResponse:
    """Mail a reset link. The answer is the same whether or not the account exists."""
    await _limit(request, ports, "forgot", ports.settings.rate_limit_forgot, body.email)
    await service.forgot_password(session=session, ports=ports, email=body.email)
    return MessageResponse(message="If an account uses that email, a reset link is on its way.")


@router.post(
    "/reset-password",
    response_model=MessageResponse,
    responses=responses(service.InvalidToken, service.WeakPassword),
)
async def reset_password(
    body: ResetPasswordRequest, session: SessionDep, ports: PortsDep
) -> MessageResponse:
    """Set a new password with the mailed token; every session of the account ends."""
    await service.reset_password(session=session, ports=ports, data=body)
    return MessageResponse(message="Password updated. Sign in with your new password.")


@router.post(
    "/change-password",
    response_model=MessageResponse,
    responses={**AUTHED, **responses(service.WrongPassword, service.WeakPassword)},
)
async def change_password(
    body: ChangePasswordRequest,
    caller: CallerDep,
    user: CurrentUserRow,
    session: SessionDep,
    ports: PortsDep,
) -> MessageResponse:
    """Change the password; every other session ends, this one stays signed in."""
    await service.change_password(
        session=session,
        ports=ports,
        user=user,
        current_session_id=caller.session_id,
        data=body,
    )
    return MessageResponse(message="Password changed. Other sessions were signed out.")


@router.get("/check-username/{username}", response_model=UsernameAvailability)
async def check_username(
    username: Annotated[str, Path(max_length=64)], session: SessionDep
) -> UsernameAvailability:
    normalised = username.strip().lower()
    if not USERNAME_PATTERN.match(normalised):
        return UsernameAvailability(username=normalised, valid=False, available=False)
    taken = await repository.username_taken(session, normalised)
    return UsernameAvailability(username=normalised, valid=True, available=not taken)
