"""Bodies of the chat endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.chat.directions import EditOutcome
from app.jobs.schemas import JobCreated
from app.providers.registry import ModelId


class ChatCreate(BaseModel):
    session_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
        | None
    ) = None
    project_id: uuid.UUID | None = None


class ChatOut(BaseModel):
    id: uuid.UUID
    chat_id: uuid.UUID
    session_name: str
    project_id: uuid.UUID | None
    url: str
    created_at: datetime
    updated_at: datetime


class MessageCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "content": "make the background red and the headline bigger",
                    "sender": "user",
                    "generate": True,
                },
                {"content": "change the headline to: I QUIT SUGAR", "sender": "user"},
            ]
        }
    )

    content: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    sender: Literal["user"] = "user"
    generate: bool = False
    quality: Literal["draft", "std", "4k"] = "std"
    variants: Annotated[int, Field(ge=1, le=4)] = 1
    model: ModelId | None = None
    params: dict[str, Any] = Field(default_factory=dict, max_length=20)


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    chat_id: uuid.UUID
    sender: str
    content: str
    job_id: uuid.UUID | None
    edits: EditOutcome | None = Field(
        default=None,
        description="On user messages: the edits their directions made to the project, the "
        "ones that changed nothing, and what was not understood.",
    )
    created_at: datetime


class MessageExchange(BaseModel):
    message: MessageOut
    reply: MessageOut
    job: JobCreated | None
