"""Bodies of the job endpoints and the model catalogue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.providers.registry import ModelId


class JobCreate(BaseModel):
    project_id: uuid.UUID
    quality: Literal["draft", "std", "4k"] = "std"
    variants: Annotated[int, Field(ge=1, le=4)] = 1
    model: ModelId | None = Field(
        default=None, description="A model id from GET /models; default: the project's or studio."
    )
    params: dict[str, Any] = Field(default_factory=dict, max_length=20)
    prompt: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = (
        Field(
            default=None,
            description=(
                "Free-form direction for this render only. Cloud models read it as part of "
                "their prompt; the studio understands the same directions as the chat (new "
                "headline, colours, bigger headline, vibe, person's side). The project is "
                "not changed."
            ),
        )
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "project_id": "0b9f2c1e-4c57-4d8e-9a44-5a0e6f4d2b11",
                    "quality": "std",
                    "variants": 2,
                    "model": "studio",
                    "prompt": "make the background red and the headline bigger",
                }
            ]
        }
    )


class JobCreated(BaseModel):
    id: uuid.UUID
    status: str
    cost_credits: int
    project_id: uuid.UUID
    model: str
    quality: str
    variants: int
    created_at: datetime


class RenderOut(BaseModel):
    variant: int
    url: str
    width: int
    height: int


class JobOut(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    model: str
    quality: str
    variants: int
    params: dict[str, Any]
    instruction: str | None = Field(
        description="The job's free-form direction: its prompt, or what a chat message asked "
        "for beyond the edits it made to the project."
    )
    status: str
    progress: int
    error: str | None
    cost_credits: int
    refunded_credits: int
    cancel_requested: bool
    renders: list[RenderOut]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobEvent(BaseModel):
    id: uuid.UUID
    status: str
    progress: int
    error: str | None
    renders: int


class ParamOut(BaseModel):
    type: str
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: list[str] | None = None


class ModelOut(BaseModel):
    id: str
    label: str
    provider: str
    description: str
    available: bool
    credits_per_image: int
    cost_by_quality: dict[str, int]
    max_variants: int
    max_selfies: int
    max_references: int
    needs_reference: bool
    params: dict[str, ParamOut]
    strengths: list[str]
