"""Bodies of the profile endpoints."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, StringConstraints

from app.auth.schemas import DateOfBirth, FullName, Username


class ProfileUpdate(BaseModel):
    """Only the fields sent are changed; `bio: null` clears the bio."""

    full_name: FullName | None = None
    username: Username | None = None
    dob: DateOfBirth | None = None
    bio: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class DeleteAccountRequest(BaseModel):
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]
