"""Bodies of the profile endpoints."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from app.auth.schemas import DateOfBirth, FullName, Username
from app.kit.examples import body_examples
from app.kit.partial import NotNull, drop_null_defaults


class ProfileUpdate(BaseModel):
    """Only the fields sent are changed; `bio: null` clears the bio."""

    model_config = ConfigDict(
        json_schema_extra=body_examples(
            {"full_name": "Ada King", "bio": "Thumbnails for maths videos."},
            also=drop_null_defaults,
        )
    )

    full_name: FullName | NotNull = None
    username: Username | NotNull = None
    dob: DateOfBirth | NotNull = None
    bio: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class DeleteAccountRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=body_examples({"password": "correct horse battery"})
    )

    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]
