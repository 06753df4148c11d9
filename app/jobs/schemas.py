"""Bodies of the job endpoints and the model catalogue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.kit.examples import body_examples
from app.providers.registry import ModelId

JobKind = Literal["image", "video"]
ImageFormat = Literal["png", "jpeg", "webp"]
AspectRatio = Annotated[str, StringConstraints(max_length=10, pattern=r"^[0-9]{1,2}:[0-9]{1,2}$")]


class JobCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=body_examples(
            {
                "project_id": "7d1e2c3b-4a5f-4e6d-8c7b-9a0f1e2d3c4b",
                "quality": "std",
                "variants": 2,
                "model": "studio",
                "params": {},
            },
            {
                "project_id": "7d1e2c3b-4a5f-4e6d-8c7b-9a0f1e2d3c4b",
                "quality": "std",
                "variants": 2,
                "model": "studio",
                "prompt": "make the background red and the headline bigger",
            },
        )
    )

    project_id: uuid.UUID
    quality: Literal["draft", "std", "4k"] = "std"
    variants: Annotated[int, Field(ge=1, le=4)] = 1
    model: ModelId | None = Field(
        default=None,
        description="A model id from GET /models; default: the project's or studio "
        "(studio_motion for a video).",
    )
    params: dict[str, Any] = Field(default_factory=dict, max_length=20)
    kind: JobKind | None = Field(
        default=None,
        description="`image` (stills) or `video` (one clip); default: the model's kind.",
    )
    format: ImageFormat | None = Field(
        default=None,
        description="File format of image renders; default by platform: jpeg for YouTube, "
        "Shorts, Instagram and TikTok, png for X, LinkedIn and custom sizes. Videos are MP4 "
        "(animated WebP from the studio) and take no format.",
    )
    duration: Annotated[int, Field(ge=1, le=60)] | None = Field(
        default=None,
        description="Video length in seconds, one of the model's `durations`; default: the "
        "shortest.",
    )
    aspect_ratio: AspectRatio | None = Field(
        default=None,
        description="Video aspect ratio, one of the model's `aspect_ratios`; default: the one "
        "closest to the project's size.",
    )
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


class JobCreated(BaseModel):
    id: uuid.UUID
    status: str
    cost_credits: int
    project_id: uuid.UUID
    model: str
    quality: str
    variants: int
    created_at: datetime
    kind: JobKind = "image"
    format: ImageFormat | None = None
    duration: int | None = None
    aspect_ratio: str | None = None


class RenderOut(BaseModel):
    variant: int
    url: str
    width: int
    height: int
    format: str = Field(description="png, jpeg or webp for stills; mp4 or webp for videos.")
    content_type: str
    size_bytes: int
    download_url: str = Field(
        description="GET it (signed in) to save the file under a name from the headline."
    )
    poster_url: str | None = Field(
        default=None, description="A video's still frame (JPEG), shown before it plays."
    )


class JobOut(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    model: str
    kind: JobKind
    quality: str
    variants: int
    format: ImageFormat | None
    duration: int | None
    aspect_ratio: str | None
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
    kind: JobKind
    description: str
    available: bool
    credits_per_image: int
    cost_by_quality: dict[str, int] = Field(
        description="Credits for one image, or for a video of the shortest duration."
    )
    qualities: list[str]
    credits_per_second: int | None = None
    durations: list[int] | None = None
    aspect_ratios: list[str] | None = None
    max_variants: int
    max_selfies: int
    max_references: int
    needs_reference: bool
    params: dict[str, ParamOut]
    strengths: list[str]
