"""Account rules: sign-up with email confirmation, sign-in sessions, password recovery."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

import anyio
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.kv import KeyValueUnavailable
from app.adapters.mail import Mail
from app.admin.roles import apply_admin_emails
from app.auth import repository
from app.auth.identity import SignedInUser
from app.auth.schemas import (
    ChangePasswordRequest,
    ResetPasswordRequest,
    SignupRequest,
    StartResponse,
    TokenResponse,
    UserOut,
    check_password_policy,
)
from app.auth.sessions import OneTimeTokens, RefreshOutcome, SessionRecord, SessionStore
from app.credits.service import CreditReason, apply_credit_change
from app.kit.db import after_commit, end_read_only_transaction
from app.kit.errors import AppError, Conflict, Unauthorized, Unprocessable
from app.kit.security import dummy_password_hash, hash_password, issue_access_token, verify_password
from app.models import User
from app.ports import Ports

logger = logging.getLogger("app.auth")

CONFIRM_PURPOSE = "confirm_email"
RESET_PURPOSE = "reset_password"


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    message = "Email or password is incorrect."


class EmailNotConfirmed(AppError):
    status = 403
    code = "email_not_confirmed"
    message = "Confirm your email address first: we sent you a link."


class AccountSuspended(AppError):
    status = 403
    code = "account_suspended"
    message = "This account is suspended. Contact support."


class EmailTaken(Conflict):
    code = "email_taken"
    message = "An account with this email already exists."


class UsernameTaken(Conflict):
    code = "username_taken"
    message = "This username is taken."


class InvalidToken(AppError):
    status = 400
    code = "invalid_token"
    message = "This link is invalid or has expired. Ask for a new one."


class InvalidRefreshToken(Unauthorized):
    code = "invalid_refresh_token"
    message = "The session has ended. Sign in again."


class RefreshTokenReused(Unauthorized):
    code = "refresh_token_reused"
    message = "This refresh token was already used; the session has been ended for safety."


class WrongPassword(AppError):
    status = 400
    code = "wrong_password"
    message = "The current password is incorrect."


class WeakPassword(Unprocessable):
    code = "weak_password"


class SessionNotFound(AppError):
    status = 404
    code = "not_found"
    message = "Session not found."


def session_store(ports: Ports) -> SessionStore:
    return SessionStore(ports.kv, ttl_seconds=ports.settings.refresh_token_ttl_days * 86400)


def one_time_tokens(ports: Ports) -> OneTimeTokens:
    return OneTimeTokens(ports.kv)


def _frontend_link(ports: Ports, page: str, token: str) -> str:
    return f"{ports.settings.frontend_url.rstrip('/')}/{page}?{urlencode({'token': token})}"


def _queue_mail(session: AsyncSession, ports: Ports, mail: Mail) -> None:
    async def send() -> None:
        await ports.mailer.send(mail)

    after_commit(session, send)


async def start(*, session: AsyncSession, email: str) -> StartResponse:
    user = await repository.find_by_email(session, email)
    if user is None:
        return StartResponse(exists=False, next="create_account")
    if not user.password_hash:
        return StartResponse(exists=True, next="social_login")
    return StartResponse(exists=True, next="password")


async def _send_confirmation(session: AsyncSession, ports: Ports, user: User) -> None:
    token = await one_time_tokens(ports).issue(
        CONFIRM_PURPOSE, user.id, ttl_seconds=ports.settings.confirm_token_ttl_hours * 3600
    )
    link = _frontend_link(ports, "confirm-email", token)
    hours = ports.settings.confirm_token_ttl_hours
    _queue_mail(
        session,
        ports,
        Mail(
            to=user.email,
            subject="Confirm your MugShot Studio account",
            text=(
                f"Hi {user.full_name},\n\nConfirm your email address to start creating "
                f"thumbnails:\n\n{link}\n\nThe link works once and expires in {hours} hours. "
                "If you did not sign up, ignore this message.\n"
            ),
        ),
    )


# The estimator's time grows quickly with length; a password whose first 32 characters are
# hard to guess is hard to guess.
_STRENGTH_CHECKED_CHARS = 32
# zxcvbn's scale: 0-1 falls to an online attack in hours or less, 2 holds against it.
MIN_PASSWORD_SCORE = 2


def _password_weakness(password: str, hints: list[str]) -> str | None:
    from zxcvbn import zxcvbn

    checked = password[:_STRENGTH_CHECKED_CHARS]
    result = zxcvbn(checked, user_inputs=hints, max_length=_STRENGTH_CHECKED_CHARS)
    if result["score"] >= MIN_PASSWORD_SCORE:
        return None
    feedback = result["feedback"]
    advice = " ".join([feedback["warning"], *feedback["suggestions"]]).strip()
    return f"This password is too easy to guess. {advice}".strip()


async def check_password_strength(password: str, *, hints: list[str]) -> None:
    """Refuse common and guessable passwords (`password`, `12345678`, repeats, the name)."""
    # CPU work of up to a few tens of milliseconds: kept off the event loop.
    weakness = await anyio.to_thread.run_sync(_password_weakness, password, hints)
    if weakness:
        raise WeakPassword(weakness)


def _hints(user: User | SignupRequest) -> list[str]:
    return [user.email, user.email.split("@")[0], user.username, *user.full_name.split()]


async def signup(*, session: AsyncSession, ports: Ports, data: SignupRequest) -> User:
    await check_password_strength(data.password, hints=_hints(data))
    # Hash before touching the database so no transaction is open during the slow part.
    password_hash = await hash_password(data.password, cost=ports.settings.password_hash_cost)
    if await repository.find_by_email(session, data.email) is not None:
        raise EmailTaken()
    if await repository.username_taken(session, data.username):
        raise UsernameTaken()
    user = User(
        email=data.email,
        username=data.username,
        full_name=data.full_name,
        dob=data.dob,
        password_hash=password_hash,
        credits=0,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        # Two sign-ups raced past the checks above; the unique indexes decide.
        raise EmailTaken("An account with this email or username already exists.") from exc
    await _send_confirmation(session, ports, user)
    return user


async def confirm_email(*, session: AsyncSession, ports: Ports, token: str) -> None:
    user_id = await one_time_tokens(ports).redeem(CONFIRM_PURPOSE, token)
    user = await repository.get_user(session, user_id) if user_id else None
    if user is None:
        raise InvalidToken()
    await mark_confirmed(session=session, ports=ports, user=user)


async def mark_confirmed(*, session: AsyncSession, ports: Ports, user: User) -> None:
    """Confirm the address and grant the welcome credits (once, by reference)."""
    if user.email_confirmed_at is None:
        user.email_confirmed_at = datetime.now(UTC)
        await session.flush()
    await apply_admin_emails(session=session, settings=ports.settings, user=user)
    if ports.settings.default_user_credits > 0:
        await apply_credit_change(
            session=session,
            user_id=user.id,
            delta=ports.settings.default_user_credits,
            reason=CreditReason.SIGNUP_BONUS,
            reference=f"signup_bonus:{user.id}",
        )
        # The balance changed in SQL; read it back so responses show it.
        await session.refresh(user, ["credits"])


async def resend_confirmation(*, session: AsyncSession, ports: Ports, email: str) -> None:
    user = await repository.find_by_email(session, email)
    # The answer is the same whether or not there is anything to send.
    if user is not None and not user.is_confirmed:
        await _send_confirmation(session, ports, user)


async def _issue_tokens(
    ports: Ports, user: User, *, session_id: str, refresh_token: str
) -> TokenResponse:
    access_token, _ = issue_access_token(
        secret=ports.settings.signing_secret,
        user_id=user.id,
        session_id=session_id,
        ttl_seconds=ports.settings.access_token_ttl_seconds,
    )
    return TokenResponse(
        access_token=access_token,
        expires_in=ports.settings.access_token_ttl_seconds,
        refresh_token=refresh_token,
        user=UserOut.model_validate(user),
    )


async def signin(
    *,
    session: AsyncSession,
    ports: Ports,
    email: str,
    password: str,
    user_agent: str,
    ip: str,
) -> TokenResponse:
    user = await repository.find_by_email(session, email)
    await end_read_only_transaction(session)
    if user is None or not user.password_hash:
        await verify_password(
            await dummy_password_hash(ports.settings.password_hash_cost), password
        )
        raise InvalidCredentials()
    if not await verify_password(user.password_hash, password):
        raise InvalidCredentials()
    if user.is_suspended:
        raise AccountSuspended()
    if not user.is_confirmed:
        raise EmailNotConfirmed()
    await record_sign_in(session=session, ports=ports, user=user)
    return await open_session(ports=ports, user=user, user_agent=user_agent, ip=ip)


async def record_sign_in(*, session: AsyncSession, ports: Ports, user: User) -> None:
    """Note when the person was last seen (sign-in and refresh only: one UPDATE each, never
    on ordinary requests) and apply ADMIN_EMAILS."""
    user.last_seen_at = datetime.now(UTC)
    await session.flush()
    await apply_admin_emails(session=session, settings=ports.settings, user=user)


async def open_session(*, ports: Ports, user: User, user_agent: str, ip: str) -> TokenResponse:
    """Start a session for a user whose credentials were checked; return its tokens."""
    record, refresh_token = await session_store(ports).create(
        user_id=user.id, user_agent=user_agent, ip=ip
    )
    return await _issue_tokens(ports, user, session_id=record.id, refresh_token=refresh_token)


async def refresh(
    *, session: AsyncSession, ports: Ports, refresh_token: str, user_agent: str, ip: str
) -> TokenResponse:
    outcome, record, new_token = await session_store(ports).rotate(
        refresh_token, user_agent=user_agent, ip=ip
    )
    if outcome == RefreshOutcome.REUSED:
        logger.warning(
            "refresh token reuse: session revoked",
            extra={"user_id": record.user_id if record else None},
        )
        raise RefreshTokenReused()
    if record is None or new_token is None:
        raise InvalidRefreshToken()
    user = await repository.get_user(session, uuid.UUID(record.user_id))
    if user is None:
        raise InvalidRefreshToken()
    if user.is_suspended:
        # Suspension revokes every session; this one was opened or rotated in a race with it.
        await session_store(ports).revoke(user.id, record.id)
        raise AccountSuspended()
    await record_sign_in(session=session, ports=ports, user=user)
    return await _issue_tokens(ports, user, session_id=record.id, refresh_token=new_token)


async def list_sessions(*, ports: Ports, user: SignedInUser) -> list[SessionRecord]:
    return await session_store(ports).list_for_user(user.id)


async def revoke_session(*, ports: Ports, user: SignedInUser, session_id: str) -> None:
    revoked = await session_store(ports).revoke(user.id, session_id)
    if not revoked:
        raise SessionNotFound()


async def revoke_other_sessions(
    *, ports: Ports, user: SignedInUser, current_session_id: str
) -> int:
    return await session_store(ports).revoke_all(user.id, keep=current_session_id)


async def forgot_password(*, session: AsyncSession, ports: Ports, email: str) -> None:
    user = await repository.find_by_email(session, email)
    if user is None:
        return
    try:
        token = await one_time_tokens(ports).issue(
            RESET_PURPOSE, user.id, ttl_seconds=ports.settings.reset_token_ttl_hours * 3600
        )
    except KeyValueUnavailable:
        # Saying so would reveal that the account exists; the person can simply ask again.
        logger.warning("password reset token not issued: key-value store unavailable")
        return
    link = _frontend_link(ports, "reset-password", token)
    _queue_mail(
        session,
        ports,
        Mail(
            to=user.email,
            subject="Reset your MugShot Studio password",
            text=(
                f"Hi {user.full_name},\n\nSomeone asked to reset the password of your account. "
                f"Choose a new one here:\n\n{link}\n\nThe link works once and expires in "
                f"{ports.settings.reset_token_ttl_hours} hour(s). If it was not you, ignore "
                "this message: your password stays as it is.\n"
            ),
        ),
    )


async def _set_password(ports: Ports, user: User, password: str) -> None:
    try:
        check_password_policy(password, email=user.email, username=user.username)
    except ValueError as exc:
        raise WeakPassword(str(exc).capitalize() + ".") from exc
    await check_password_strength(password, hints=_hints(user))
    user.password_hash = await hash_password(password, cost=ports.settings.password_hash_cost)
    user.password_changed_at = datetime.now(UTC)


async def reset_password(
    *, session: AsyncSession, ports: Ports, data: ResetPasswordRequest
) -> None:
    tokens = one_time_tokens(ports)
    # Only looked at here: the link is spent below, once the new password is written, so a
    # rejected password (or an outage) leaves it usable.
    user_id = await tokens.peek(RESET_PURPOSE, data.token)
    user = await repository.get_user(session, user_id) if user_id else None
    if user is None:
        raise InvalidToken()
    await end_read_only_transaction(session)
    await _set_password(ports, user, data.password)
    # Following the mailed link proves the address is theirs.
    await mark_confirmed(session=session, ports=ports, user=user)
    await session.flush()
    # Whoever else knew the old password must not stay signed in.
    await session_store(ports).revoke_all(user.id)
    # Redeeming is the atomic step: of two requests with one link, only one gets here.
    if await tokens.redeem(RESET_PURPOSE, data.token) != user.id:
        raise InvalidToken()


async def change_password(
    *,
    session: AsyncSession,
    ports: Ports,
    user: User,
    current_session_id: str,
    data: ChangePasswordRequest,
) -> None:
    await end_read_only_transaction(session)
    if not user.password_hash or not await verify_password(
        user.password_hash, data.current_password
    ):
        raise WrongPassword()
    await _set_password(ports, user, data.new_password)
    await session.flush()
    await session_store(ports).revoke_all(user.id, keep=current_session_id)
    await one_time_tokens(ports).void_all(RESET_PURPOSE, user.id)
