"""Bodies of the chat endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.chat.directions import EditOutcome
from app.jobs.schemas import JobCreated
from app.kit.examples import body_examples
from app.providers.registry import ModelId


class ChatCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=body_examples(
            {
                "session_name": "Launch video",
                "project_id": "7d1e2c3b-4a5f-4e6d-8c7b-9a0f1e2d3c4b",
            },
            {},
        )
    )

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
        json_schema_extra=body_examples(
            {"content": 'Make it punchier, use "Big News Today" as the headline', "sender": "user"},
            {
                "content": "Warmer colours, then render two variants",
                "sender": "user",
                "generate": True,
                "quality": "draft",
                "variants": 2,
            },
            {
                "content": "make the background red and the headline bigger",
                "sender": "user",
                "generate": True,
            },
            {"content": "change the headline to: I QUIT SUGAR", "sender": "user"},
        )
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


class MessagePosted(MessageOut):
    """The stored message, as `GET /chat/{id}/messages` lists it, with what it brought about."""

    reply: MessageOut | None = Field(
        description="The `ai` message answering this one (also in the list, right after it)."
    )
    job: JobCreated | None = Field(description="The render this message started, if any.")

    @classmethod
    def of(cls, exchange: MessageExchange) -> MessagePosted:
        return cls(**exchange.message.model_dump(), reply=exchange.reply, job=exchange.job)
