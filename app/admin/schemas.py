"""Bodies of the admin endpoints."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from app.auth.schemas import AccountOut, DateOfBirth, Email, FullName, Password, Username
from app.credits.schemas import TransactionOut
from app.models import User

_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _timestamp_text(value: object) -> object:
    # An ISO 8601 time, as the schema says; pydantic alone would also take seconds since 1970.
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("must be a date and time such as 2026-12-01T00:00:00Z")
    return value


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# A time without a zone is read as UTC.
IsoDateTime = Annotated[datetime, BeforeValidator(_timestamp_text), AfterValidator(_as_utc)]


class AdminActionOut(BaseModel):
    """One audit row: who did what to which object, why, and the state before and after."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    actor_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: uuid.UUID | None
    reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    created_at: datetime


class UserStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    UNCONFIRMED = "unconfirmed"


class UserSort(StrEnum):
    CREATED_AT = "created_at"
    EMAIL = "email"
    USERNAME = "username"
    CREDITS = "credits"
    LAST_SEEN_AT = "last_seen_at"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


def user_status(user: User) -> UserStatus:
    if user.suspended_at is not None:
        return UserStatus.SUSPENDED
    if user.email_confirmed_at is None:
        return UserStatus.UNCONFIRMED
    return UserStatus.ACTIVE


class AdminUserOut(AccountOut):
    """An account as administrators see it (never its password hash)."""

    status: UserStatus
    email_confirmed_at: datetime | None
    last_seen_at: datetime | None
    suspended_at: datetime | None
    suspension_reason: str | None
    has_password: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> AdminUserOut:
        return cls(
            id=user.id,
            email=user.email,
            username=user.username,
            full_name=user.full_name,
            dob=user.dob,
            bio=user.bio,
            avatar_url=user.avatar_url,
            role=user.role,
            credits=user.credits,
            status=user_status(user),
            email_confirmed_at=user.email_confirmed_at,
            last_seen_at=user.last_seen_at,
            suspended_at=user.suspended_at,
            suspension_reason=user.suspension_reason,
            has_password=user.password_hash is not None,
            created_at=user.created_at,
        )


class UserCounts(BaseModel):
    projects: int
    jobs: int
    assets: int


class AdminJobSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    model: str
    quality: str
    variants: int
    status: str
    cost_credits: int
    refunded_credits: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class AdminSessionOut(BaseModel):
    id: str
    user_agent: str
    ip: str
    created_at: datetime
    last_used_at: datetime


class AdminUserDetail(BaseModel):
    user: AdminUserOut
    balance: int
    counts: UserCounts
    recent_transactions: list[TransactionOut]
    sessions: list[AdminSessionOut]
    recent_jobs: list[AdminJobSummary]


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
# Far beyond any real grant, and within a 32-bit balance.
MAX_CREDIT_CHANGE = 1_000_000


def _not_zero(value: int) -> int:
    if value == 0:
        raise ValueError("must not be 0")
    return value


class CreditAdjustment(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"delta": 50, "reason": "Refund for a failed render"}]}
    )

    delta: Annotated[
        int,
        Field(
            ge=-MAX_CREDIT_CHANGE,
            le=MAX_CREDIT_CHANGE,
            description="Credits to add (positive) or take away (negative, never below zero).",
            json_schema_extra={"not": {"const": 0}},
        ),
        AfterValidator(_not_zero),
    ]
    reason: Reason


class CreditAdjustmentOut(BaseModel):
    user_id: uuid.UUID
    delta: int
    balance: int
    transaction_id: uuid.UUID
    action_id: uuid.UUID


class SuspendRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Chargebacks on three purchases"}]}
    )

    reason: Reason


class UnsuspendRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "Appeal accepted"}]})

    reason: Reason | None = None


class SuspensionOut(BaseModel):
    user: AdminUserOut
    revoked_sessions: int
    canceled_jobs: list[uuid.UUID] = Field(description="Queued jobs, canceled and refunded now.")
    stopping_jobs: list[uuid.UUID] = Field(
        description="Running jobs: they stop before their next variant and refund the rest."
    )
    refunded_credits: int


MAX_BULK_USERS = 100
MAX_INITIAL_CREDITS = 100_000


class BulkUser(BaseModel):
    email: Email
    username: Username
    full_name: FullName
    dob: DateOfBirth
    # Without one, the account has no password: the person sets it with forgot-password.
    password: Password | None = None
    confirmed: bool = Field(default=False, description="Mark the address as confirmed now.")
    credits: int = Field(
        default=0, ge=0, le=MAX_INITIAL_CREDITS, description="Initial credits, via the ledger."
    )


class BulkCreateRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "users": [
                        {
                            "email": "ana@example.com",
                            "username": "ana_studio",
                            "full_name": "Ana Lima",
                            "dob": "1994-06-01",
                            "password": "violet canyon sparrow",
                            "confirmed": True,
                            "credits": 100,
                        },
                        {
                            "email": "raj@example.com",
                            "username": "raj_k",
                            "full_name": "Raj Kumar",
                            "dob": "1990-02-17",
                        },
                    ],
                    "reason": "Workshop accounts",
                }
            ]
        }
    )

    users: list[BulkUser] = Field(min_length=1, max_length=MAX_BULK_USERS)
    reason: Reason | None = None


class BulkCreateOut(BaseModel):
    created: list[AdminUserOut]


class BulkRowError(BaseModel):
    index: int
    field: str
    problem: str
