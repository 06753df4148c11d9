"""Bodies of the project endpoints, with the platform presets that size a thumbnail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from app.chat.colours import parse_colour
from app.kit.examples import body_examples
from app.kit.partial import NotNull, drop_null_defaults
from app.providers.registry import ModelId

Platform = Literal[
    "youtube",
    "youtube_shorts",
    "instagram_post",
    "instagram_story",
    "tiktok",
    "twitter",
    "linkedin",
    "custom",
]

PLATFORM_SIZES: dict[str, tuple[int, int]] = {
    "youtube": (1280, 720),
    "youtube_shorts": (1080, 1920),
    "instagram_post": (1080, 1080),
    "instagram_story": (1080, 1920),
    "tiktok": (1080, 1920),
    "twitter": (1600, 900),
    "linkedin": (1200, 627),
}

Side = Annotated[int, Field(ge=256, le=4096)]
Headline = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Subtext = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
Vibe = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]


def _colour_hex(value: str) -> str:
    found = parse_colour(value)
    if found is None:
        raise ValueError("expected a colour name (CSS names and more) or #rrggbb")
    return found[1]


ColourValue = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
    AfterValidator(_colour_hex),
    Field(
        description="A colour name (red, navy blue, dark green, ...) or #rrggbb; stored as hex.",
        examples=["#ff0000"],
    ),
]
HeadlineScale = Annotated[
    float,
    Field(
        ge=0.5,
        le=2.0,
        description="Headline size relative to what fits its box by default (1 = natural).",
    ),
]
PersonSide = Literal["left", "right"]


class ProjectFields(BaseModel):
    # These can be left out of an update but not cleared.
    model_config = ConfigDict(json_schema_extra=drop_null_defaults)

    mode: Literal["design", "copy"] | NotNull = None
    platform: Platform | NotNull = None
    width: Side | NotNull = None
    height: Side | NotNull = None
    headline: Headline | NotNull = None
    subtext: Subtext | None = None
    vibe: Vibe | None = None
    model_pref: ModelId | None = None
    selfie_asset_ids: Annotated[list[uuid.UUID], Field(max_length=5)] | None = None
    ref_asset_ids: Annotated[list[uuid.UUID], Field(max_length=6)] | None = None
    copy_target_asset_id: uuid.UUID | None = None
    background_color: ColourValue | None = None
    accent_color: ColourValue | None = None
    headline_scale: HeadlineScale | NotNull = None
    person_side: PersonSide | None = None


class ProjectCreate(ProjectFields):
    model_config = ConfigDict(
        json_schema_extra=body_examples(
            {
                "mode": "design",
                "platform": "youtube",
                "headline": "I tried this for 30 days",
                "subtext": "What nobody tells you",
                "vibe": "neon",
                "model_pref": "studio",
                "selfie_asset_ids": ["0b6f3c1e-5a7d-4e2b-9c8f-1d2e3f4a5b6c"],
                "ref_asset_ids": [],
            },
            also=drop_null_defaults,
        )
    )

    mode: Literal["design", "copy"] = "design"
    platform: Platform = "youtube"
    headline: Headline = ""
    selfie_asset_ids: Annotated[list[uuid.UUID], Field(max_length=5)] = []
    ref_asset_ids: Annotated[list[uuid.UUID], Field(max_length=6)] = []

    @model_validator(mode="after")
    def _size_and_mode(self) -> ProjectCreate:
        if self.platform == "custom" and (self.width is None or self.height is None):
            raise ValueError("a custom platform needs both width and height (256-4096)")
        if self.mode == "copy" and self.copy_target_asset_id is None:
            raise ValueError("copy mode needs copy_target_asset_id")
        return self


class ProjectUpdate(ProjectFields):
    """Only the fields sent change; a new platform brings its preset size unless one is sent."""

    model_config = ConfigDict(
        json_schema_extra=body_examples(
            {"headline": "30 days later", "vibe": "bold"},
            {"background_color": "red", "headline_scale": 1.3, "person_side": "left"},
            also=drop_null_defaults,
        )
    )


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    mode: str
    platform: str
    width: int
    height: int
    headline: str
    subtext: str | None
    vibe: str | None
    model_pref: str | None
    selfie_asset_ids: list[uuid.UUID]
    ref_asset_ids: list[uuid.UUID]
    copy_target_asset_id: uuid.UUID | None
    background_color: str | None
    accent_color: str | None
    headline_scale: float
    person_side: str | None
    status: str
    created_at: datetime
    updated_at: datetime
