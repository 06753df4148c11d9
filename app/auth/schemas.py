"""Request and response bodies of the account endpoints, with the account rules as validators."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from app.kit.examples import body_examples

MIN_AGE_YEARS = 13
USERNAME_PATTERN = re.compile(r"^[a-z0-9_]{3,30}$")


def _normalise_username(value: str) -> str:
    value = value.strip().lower()
    if not USERNAME_PATTERN.match(value):
        raise ValueError("must be 3-30 characters of letters, digits and underscores")
    return value


def _check_dob(value: date) -> date:
    today = datetime.now(UTC).date()
    if value >= today:
        raise ValueError("must be in the past")
    years = today.year - value.year - ((today.month, today.day) < (value.month, value.day))
    if years < MIN_AGE_YEARS:
        raise ValueError(f"you must be at least {MIN_AGE_YEARS} years old")
    return value


def _date_text(value: object) -> object:
    # An ISO date, as the schema says; pydantic alone would also take a number of seconds.
    if isinstance(value, int | float):
        raise ValueError("must be a date such as 1995-04-12")
    return value


def _lower_email(value: str) -> str:
    return value.strip().lower()


Email = Annotated[EmailStr, AfterValidator(_lower_email)]
# The pattern puts the rule in the schema; surrounding spaces are dropped, letters lowered.
Username = Annotated[
    str,
    StringConstraints(pattern=r"^\s*[A-Za-z0-9_]{3,30}\s*$"),
    AfterValidator(_normalise_username),
]
DateOfBirth = Annotated[date, BeforeValidator(_date_text), AfterValidator(_check_dob)]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def check_password_policy(password: str, *, email: str | None, username: str | None) -> None:
    lowered = password.lower()
    if email and (lowered == email.lower() or lowered == email.split("@")[0].lower()):
        raise ValueError("password must not be your email address")
    if username and lowered == username.lower():
        raise ValueError("password must not be your username")


class StartRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra=body_examples({"email": "ada@example.com"}))

    email: Email


class StartResponse(BaseModel):
    exists: bool
    next: Literal["password", "create_account", "social_login"]


class SignupRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=body_examples(
            {
                "email": "ada@example.com",
                "password": "correct horse battery",
                "confirm_password": "correct horse battery",
                "username": "ada",
                "full_name": "Ada Lovelace",
                "dob": "1990-12-10",
            }
        )
    )

    email: Email
    password: Password
    confirm_password: str
    username: Username
    full_name: FullName
    dob: DateOfBirth

    @model_validator(mode="after")
    def _passwords(self) -> SignupRequest:
        if self.password != self.confirm_password:
            raise ValueError("passwords do not match")
        check_password_policy(self.password, email=self.email, username=self.username)
        return self


class SignupResponse(BaseModel):
    user_id: uuid.UUID
    next: Literal["confirm_email"] = "confirm_email"


class TokenRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=body_examples({"token": "the token from the link in the mail"})
    )

    token: Token


class EmailRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra=body_examples({"email": "ada@example.com"}))

    email: Email


class MessageResponse(BaseModel):
    message: str


class SigninRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=body_examples(
            {"email": "ada@example.com", "password": "correct horse battery"}
        )
    )

    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class AccountOut(BaseModel):
    """The account fields every view of a person shares (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    username: str
    full_name: str
    dob: date
    bio: str | None
    avatar_url: str | None
    role: str
    credits: int


class UserOut(AccountOut):
    email_confirmed: bool = Field(validation_alias="is_confirmed")
    created_at: datetime


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str
    user: UserOut


class RefreshRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=body_examples({"refresh_token": "the refresh_token from signin"})
    )

    refresh_token: Token


class SessionOut(BaseModel):
    id: str
    user_agent: str
    ip: str
    created_at: datetime
    last_used_at: datetime
    current: bool


class RevokedResponse(BaseModel):
    revoked: int


class ResetPasswordRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=body_examples(
            {
                "token": "the token from the link in the mail",
                "password": "a new long passphrase",
                "confirm_password": "a new long passphrase",
            }
        )
    )

    token: Token
    password: Password
    confirm_password: str

    @model_validator(mode="after")
    def _passwords(self) -> ResetPasswordRequest:
        if self.password != self.confirm_password:
            raise ValueError("passwords do not match")
        return self


class ChangePasswordRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=body_examples(
            {
                "current_password": "correct horse battery",
                "new_password": "a new long passphrase",
                "confirm_password": "a new long passphrase",
            }
        )
    )

    current_password: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    new_password: Password
    confirm_password: str

    @model_validator(mode="after")
    def _passwords(self) -> ChangePasswordRequest:
        if self.new_password != self.confirm_password:
            raise ValueError("passwords do not match")
        if self.new_password == self.current_password:
            raise ValueError("the new password must differ from the current one")
        return self


class UsernameAvailability(BaseModel):
    username: str
    valid: bool
    available: bool
