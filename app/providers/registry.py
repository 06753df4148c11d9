"""The model catalogue: what each image model costs, which parameters it takes, and whether the
configured keys make it available. Adapters are imported only when a model is first used."""

from __future__ import annotations

import asyncio
import importlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from app.config import Settings, secret_value
from app.kit.errors import Unprocessable
from app.kit.render_pool import RenderPool
from app.providers.base import ImageProvider, VideoProvider

Quality = Literal["draft", "std", "4k"]
QUALITIES: tuple[Quality, ...] = ("draft", "std", "4k")
ModelKind = Literal["image", "video"]
# Draft renders at half the long side for half the credits (rounded up: 1 credit is the least a
# job costs); 4k at twice the credits.
QUALITY_MULTIPLIERS: Mapping[str, float] = {"draft": 0.5, "std": 1.0, "4k": 2.0}
MAX_VARIANTS = 4
FOUR_K_LONG_SIDE = 3840
MAX_SIDE = 4096


class ModelChoices(BaseModel):
    """Beside the message of a model error: the ids a client may pick instead."""

    known_models: list[str] = Field(description="Every model id of the catalogue.")
    available_models: list[str] | None = Field(
        default=None, description="The models this server can render with now."
    )


class UnknownModel(Unprocessable):
    code = "unknown_model"
    message = "There is no such model."
    fields = ModelChoices


class ModelUnavailable(Unprocessable):
    code = "model_unavailable"
    message = "This model is not available on this server."
    fields = ModelChoices


class InvalidModelParameter(Unprocessable):
    code = "invalid_parameter"
    message = "A parameter is not accepted by this model."


@dataclass(frozen=True, slots=True)
class ParamSpec:
    type: Literal["int", "float", "bool", "enum"]
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    def check(self, name: str, value: Any) -> Any:
        if self.type == "bool":
            if not isinstance(value, bool):
                raise InvalidModelParameter(f"Parameter '{name}' must be true or false.")
            return value
        if self.type == "enum":
            if value not in self.choices:
                raise InvalidModelParameter(
                    f"Parameter '{name}' must be one of: {', '.join(self.choices)}."
                )
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidModelParameter(f"Parameter '{name}' must be a number.")
        if self.type == "int" and not float(value).is_integer():
            raise InvalidModelParameter(f"Parameter '{name}' must be a whole number.")
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise InvalidModelParameter(
                f"Parameter '{name}' must be between {self.minimum:g} and {self.maximum:g}."
            )
        return int(value) if self.type == "int" else float(value)


SEED = ParamSpec("int", "Fixed seed for repeatable results.", 0, 2_147_483_647)
VIDEO_QUALITIES: tuple[str, ...] = ("draft", "std")


def closest_ratio(ratios: tuple[str, ...], width: int, height: int) -> str:
    """Of `ratios` ("16:9", ...), the one nearest to width:height on a log scale."""
    target = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(math.log(int(w) / int(h)) - target)

    return min(ratios, key=distance)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    id: str
    label: str
    provider: Literal["studio", "gemini", "seedream", "fal"]
    provider_model: str
    description: str
    credits_per_image: int = 0
    quality_multipliers: Mapping[str, float] = field(default_factory=lambda: QUALITY_MULTIPLIERS)
    max_variants: int = MAX_VARIANTS
    params: Mapping[str, ParamSpec] = field(default_factory=dict)
    max_selfies: int = 1
    max_references: int = 0
    needs_reference: bool = False
    strengths: tuple[str, ...] = ()
    kind: ModelKind = "image"
    qualities: tuple[str, ...] = QUALITIES
    # Video models: charged per second of output, for one of the durations they can make.
    credits_per_second: int = 0
    durations: tuple[int, ...] = ()
    aspect_ratios: tuple[str, ...] = ()

    def cost(self, quality: str, variants: int, duration: int | None = None) -> int:
        multiplier = self.quality_multipliers[quality]
        if self.kind == "video":
            seconds = duration if duration is not None else self.durations[0]
            return max(1, math.ceil(self.credits_per_second * seconds * multiplier))
        return max(1, math.ceil(self.credits_per_image * variants * multiplier))

    def check_quality(self, quality: str) -> str:
        if quality not in self.qualities:
            raise InvalidModelParameter(
                f"Model '{self.id}' renders at quality {', '.join(self.qualities)} only."
            )
        return quality

    def check_duration(self, duration: int | None) -> int:
        """The video length asked for, or the model's shortest; only lengths it can make."""
        if duration is None:
            return self.durations[0]
        if duration not in self.durations:
            allowed = ", ".join(str(seconds) for seconds in self.durations)
            raise InvalidModelParameter(
                f"Model '{self.id}' makes videos of {allowed} seconds, not {duration}."
            )
        return duration

    def check_aspect_ratio(self, aspect_ratio: str | None, width: int, height: int) -> str:
        """The aspect ratio asked for, or the one of the model's closest to the project's."""
        if aspect_ratio is None:
            return closest_ratio(self.aspect_ratios, width, height)
        if aspect_ratio not in self.aspect_ratios:
            raise InvalidModelParameter(
                f"Model '{self.id}' takes the aspect ratios {', '.join(self.aspect_ratios)}, "
                f"not '{aspect_ratio}'."
            )
        return aspect_ratio

    def check_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        checked = {}
        for name, value in params.items():
            spec = self.params.get(name)
            if spec is None:
                accepted = ", ".join(sorted(self.params)) or "none"
                raise InvalidModelParameter(
                    f"Model '{self.id}' does not take the parameter '{name}' "
                    f"(accepted: {accepted})."
                )
            checked[name] = spec.check(name, value)
        return checked


CATALOGUE: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="studio",
        label="Studio",
        provider="studio",
        provider_model="studio-v1",
        description="Built-in designer: bold type, vibe palettes and your framed selfie.",
        credits_per_image=1,
        max_selfies=1,
        max_references=1,
        strengths=("text", "fast", "no_key_needed"),
    ),
    ModelSpec(
        id="nano_banana",
        label="Nano Banana",
        provider="gemini",
        provider_model="gemini-2.5-flash-image",
        description="Google Gemini 2.5 Flash Image: faithful likeness from selfies, fast edits.",
        credits_per_image=4,
        params={"temperature": ParamSpec("float", "Creativity (0-2).", 0, 2)},
        max_selfies=3,
        max_references=3,
        strengths=("likeness", "editing"),
    ),
    ModelSpec(
        id="nano_banana_pro",
        label="Nano Banana Pro",
        provider="gemini",
        provider_model="gemini-3-pro-image-preview",
        description="Google Gemini 3 Pro Image: the most detailed renders and sharp text.",
        credits_per_image=10,
        params={"temperature": ParamSpec("float", "Creativity (0-2).", 0, 2)},
        max_selfies=5,
        max_references=6,
        strengths=("likeness", "text", "detail"),
    ),
    ModelSpec(
        id="seedream",
        label="Seedream 4.0",
        provider="seedream",
        provider_model="seedream-4-0-250828",
        description="ByteDance Seedream 4.0: photoreal scenes, multi-reference composition.",
        credits_per_image=4,
        params={"seed": SEED, "watermark": ParamSpec("bool", "Add the provider's watermark.")},
        max_selfies=3,
        max_references=5,
        strengths=("photoreal", "references"),
    ),
    ModelSpec(
        id="flux_schnell",
        label="FLUX.1 [schnell]",
        provider="fal",
        provider_model="fal-ai/flux/schnell",
        description="Black Forest Labs FLUX schnell on fal: quick, cheap drafts.",
        credits_per_image=2,
        params={
            "seed": SEED,
            "num_inference_steps": ParamSpec("int", "Denoising steps (1-12).", 1, 12),
        },
        max_selfies=0,
        strengths=("fast",),
    ),
    ModelSpec(
        id="flux_pro_ultra",
        label="FLUX1.1 [pro] ultra",
        provider="fal",
        provider_model="fal-ai/flux-pro/v1.1-ultra",
        description="FLUX 1.1 pro ultra on fal: high resolution, natural photographic look.",
        credits_per_image=6,
        params={"seed": SEED, "raw": ParamSpec("bool", "Less processed, more natural look.")},
        max_selfies=0,
        strengths=("photoreal", "detail"),
    ),
    ModelSpec(
        id="flux_kontext",
        label="FLUX.1 Kontext [pro]",
        provider="fal",
        provider_model="fal-ai/flux-pro/kontext",
        description="FLUX Kontext on fal: edits your selfie or reference image by instruction.",
        credits_per_image=5,
        params={
            "seed": SEED,
            "guidance_scale": ParamSpec("float", "Prompt adherence (1-20).", 1, 20),
        },
        max_selfies=1,
        max_references=1,
        needs_reference=True,
        strengths=("editing",),
    ),
    ModelSpec(
        id="ideogram_v3",
        label="Ideogram 3.0",
        provider="fal",
        provider_model="fal-ai/ideogram/v3",
        description="Ideogram 3.0 on fal: the strongest at rendering headline text.",
        credits_per_image=6,
        params={
            "seed": SEED,
            "rendering_speed": ParamSpec(
                "enum", "Speed against quality.", choices=("TURBO", "BALANCED", "QUALITY")
            ),
            "style": ParamSpec(
                "enum", "Image style.", choices=("AUTO", "GENERAL", "REALISTIC", "DESIGN")
            ),
        },
        max_selfies=0,
        max_references=3,
        strengths=("text",),
    ),
    ModelSpec(
        id="studio_motion",
        label="Studio Motion",
        provider="studio",
        provider_model="studio-motion-v1",
        description="Built-in animator: your studio thumbnail as a short looping zoom (WebP).",
        kind="video",
        credits_per_second=1,
        durations=(2, 3, 4),
        aspect_ratios=("16:9", "9:16", "1:1"),
        qualities=VIDEO_QUALITIES,
        max_variants=1,
        max_selfies=1,
        max_references=1,
        strengths=("motion", "fast", "no_key_needed"),
    ),
    ModelSpec(
        id="wan_25",
        label="Wan 2.5",
        provider="fal",
        provider_model="fal-ai/wan-25-preview/text-to-video",
        description="Alibaba Wan 2.5 on fal: text-to-video intros, 480p drafts or 720p.",
        kind="video",
        credits_per_second=2,
        durations=(5, 10),
        aspect_ratios=("16:9", "9:16", "1:1"),
        qualities=VIDEO_QUALITIES,
        params={"seed": SEED},
        max_variants=1,
        max_selfies=0,
        strengths=("motion",),
    ),
    ModelSpec(
        id="veo3_fast",
        label="Veo 3 Fast",
        provider="fal",
        provider_model="fal-ai/veo3/fast",
        description="Google Veo 3 Fast on fal: cinematic clips for Shorts intros, no audio.",
        kind="video",
        credits_per_second=3,
        durations=(4, 6, 8),
        aspect_ratios=("16:9", "9:16"),
        qualities=VIDEO_QUALITIES,
        params={"seed": SEED},
        max_variants=1,
        max_selfies=0,
        strengths=("motion", "photoreal"),
    ),
)

MODELS: dict[str, ModelSpec] = {spec.id: spec for spec in CATALOGUE}
# A request field naming a model: the schema lists the ids, `get_model` explains a wrong one.
ModelId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
    Field(json_schema_extra={"enum": list(MODELS)}),
]

# Provider name -> (module, class, the setting whose value switches it on).
_ADAPTERS: dict[str, tuple[str, str, str | None]] = {
    "studio": ("app.providers.studio", "StudioProvider", None),
    "gemini": ("app.providers.gemini", "GeminiProvider", "gemini_api_key"),
    "seedream": ("app.providers.seedream", "SeedreamProvider", "bytedance_api_key"),
    "fal": ("app.providers.fal", "FalProvider", "fal_key"),
}
# Video models by provider: fal's adapter makes both; the studio animates in a module of its own.
_VIDEO_ADAPTERS: dict[str, tuple[str, str]] = {
    "studio": ("app.providers.studio.motion", "StudioMotionProvider"),
}


def get_model(model_id: str, settings: Settings | None = None) -> ModelSpec:
    """The catalogue entry of `model_id`; with `settings`, the refusal also names the models
    available on this server."""
    spec = MODELS.get(model_id)
    if spec is None:
        available = available_models(settings) if settings is not None else None
        choices = ", ".join(available if available is not None else MODELS)
        which = "available" if available is not None else "known"
        raise UnknownModel(
            f"Unknown model '{model_id}'. The {which} models are: {choices}.",
            extra=ModelChoices(known_models=list(MODELS), available_models=available),
        )
    return spec


def is_available(spec: ModelSpec, settings: Settings) -> bool:
    _, _, key_setting = _ADAPTERS[spec.provider]
    return key_setting is None or bool(secret_value(getattr(settings, key_setting)))


def available_models(settings: Settings) -> list[str]:
    return [spec.id for spec in CATALOGUE if is_available(spec, settings)]


def require_available(spec: ModelSpec, settings: Settings) -> None:
    if not is_available(spec, settings):
        available = available_models(settings)
        raise ModelUnavailable(
            f"The model '{spec.id}' is not configured on this server. "
            f"Choose one of: {', '.join(available)}.",
            extra=ModelChoices(known_models=list(MODELS), available_models=available),
        )


DRAFT_MIN_SIDE = 256  # the smallest side any renderer takes


def render_size(width: int, height: int, quality: str) -> tuple[int, int]:
    """The size renders are delivered at: the project's size, half of it for `draft`, scaled
    up to 4K for `4k`."""
    if quality == "draft":
        scale = max(0.5, DRAFT_MIN_SIDE / min(width, height))
        return round(width * scale), round(height * scale)
    if quality != "4k":
        return width, height
    scale = min(FOUR_K_LONG_SIDE / max(width, height), MAX_SIDE / max(width, height))
    if scale <= 1:
        return width, height
    return round(width * scale), round(height * scale)


class ProviderRegistry:
    """Builds each provider adapter once, on first use, and bounds the calls made to each."""

    def __init__(self, settings: Settings, *, render_pool: RenderPool) -> None:
        self.settings = settings
        self.render_pool = render_pool
        self._providers: dict[str, ImageProvider] = {}
        self._slots: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Semaphore]] = {}

    def for_model(self, spec: ModelSpec) -> ImageProvider:
        provider = self._providers.get(spec.provider)
        if provider is None:
            module_name, class_name, _ = _ADAPTERS[spec.provider]
            provider_class = getattr(importlib.import_module(module_name), class_name)
            if spec.provider == "studio":
                provider = provider_class(self.settings, render_pool=self.render_pool)
            else:
                provider = provider_class(self.settings)
            self._providers[spec.provider] = provider
        return provider

    def video_for_model(self, spec: ModelSpec) -> VideoProvider:
        if spec.provider not in _VIDEO_ADAPTERS:
            provider: VideoProvider = self.for_model(spec)  # type: ignore[assignment]
            return provider
        key = f"{spec.provider}:video"
        cached = self._providers.get(key)
        if cached is None:
            module_name, class_name = _VIDEO_ADAPTERS[spec.provider]
            provider_class = getattr(importlib.import_module(module_name), class_name)
            cached = provider_class(self.settings, render_pool=self.render_pool)
            self._providers[key] = cached
        video: VideoProvider = cached  # type: ignore[assignment]
        return video

    def max_concurrency(self, provider: str) -> int:
        if provider == "studio":
            return self.render_pool.concurrency
        limit: int = getattr(self.settings, f"{provider}_max_concurrency")
        return limit

    def slots(self, spec: ModelSpec) -> asyncio.Semaphore:
        """The semaphore every render on this model's provider holds while it runs."""
        loop = asyncio.get_running_loop()
        held = self._slots.get(spec.provider)
        # A semaphore belongs to one event loop; a process may run several in turn.
        if held is None or held[0] is not loop:
            held = (loop, asyncio.Semaphore(self.max_concurrency(spec.provider)))
            self._slots[spec.provider] = held
        return held[1]

    async def close(self) -> None:
        for provider in self._providers.values():
            await provider.close()
        self._providers.clear()
        await self.render_pool.close()
