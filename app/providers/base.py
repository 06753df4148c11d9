"""What every image model adapter takes and returns, and how it reports failure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

ImageRole = Literal["selfie", "reference", "copy_target"]


@dataclass(frozen=True, slots=True)
class InputImage:
    data: bytes
    content_type: str
    role: ImageRole


@dataclass(frozen=True, slots=True)
class Brief:
    """The thumbnail as the person described it."""

    platform: str
    width: int
    height: int
    headline: str
    subtext: str | None
    vibe: str | None
    mode: Literal["design", "copy"] = "design"
    instruction: str | None = None
    background_color: str | None = None  # "#rrggbb"
    accent_color: str | None = None
    headline_scale: float = 1.0  # relative to the natural size; 1 leaves it alone
    person_side: Literal["left", "right"] | None = None


@dataclass(frozen=True, slots=True)
class RenderRequest:
    model_id: str  # our catalogue id, e.g. "nano_banana"
    provider_model: str  # the provider's own model name, e.g. "gemini-2.5-flash-image"
    brief: Brief
    prompt: str
    quality: str
    images: tuple[InputImage, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: str = ""  # stable per job, so a retried variant asks for the same picture
    variant: int = 0
    duration: int | None = None  # video jobs: seconds, one the model makes
    aspect_ratio: str | None = None  # video jobs: "16:9", ...


class ProviderError(Exception):
    """A failed generation. `retryable` failures (429, 5xx, timeouts) may be tried again."""

    def __init__(self, user_message: str, *, retryable: bool, internal: str = "") -> None:
        super().__init__(internal or user_message)
        self.user_message = user_message
        self.retryable = retryable
        self.internal = internal

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments do not survive pickling's default (the render pool's way back).
        return (_rebuild_provider_error, (self.user_message, self.retryable, self.internal))


def _rebuild_provider_error(user_message: str, retryable: bool, internal: str) -> ProviderError:
    return ProviderError(user_message, retryable=retryable, internal=internal)


class ImageProvider(Protocol):
    name: str

    async def render(self, request: RenderRequest) -> bytes:
        """Return one encoded image (PNG, JPEG or WebP); the caller crops it to size."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class VideoOutput:
    """One clip as a video model made it, unchecked: the caller checks and stores it."""

    data: bytes
    content_type: str  # "video/mp4", or "image/webp" for the studio's animated WebP
    poster: bytes | None = None  # a still frame the model handed back, if any


class VideoProvider(Protocol):
    name: str

    async def render_video(self, request: RenderRequest) -> VideoOutput:
        """Return one clip of `request.duration` seconds at `request.aspect_ratio`."""
        ...

    async def close(self) -> None: ...
