"""Render requests and input images shared by the provider adapter tests."""

from __future__ import annotations

from collections.abc import Mapping
from io import BytesIO
from typing import Any

from PIL import Image

from app.providers.base import Brief, InputImage, RenderRequest
from app.providers.prompt import build_prompt


def encoded_image(image_format: str = "PNG", size: tuple[int, int] = (64, 80)) -> bytes:
    image = Image.new("RGB", size, (30, 120, 200))
    out = BytesIO()
    image.save(out, format=image_format)
    return out.getvalue()


def selfie(image_format: str = "PNG") -> InputImage:
    content_type = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[image_format]
    return InputImage(data=encoded_image(image_format), content_type=content_type, role="selfie")


def make_request(
    *,
    model_id: str,
    provider_model: str,
    quality: str = "draft",
    images: tuple[InputImage, ...] = (),
    params: Mapping[str, Any] | None = None,
    width: int = 1280,
    height: int = 720,
    seed: str = "job-1",
    variant: int = 0,
) -> RenderRequest:
    brief = Brief(
        platform="youtube",
        width=width,
        height=height,
        headline="I tried it for 30 days",
        subtext=None,
        vibe="bold",
    )
    selfies = sum(1 for image in images if image.role == "selfie")
    references = len(images) - selfies
    return RenderRequest(
        model_id=model_id,
        provider_model=provider_model,
        brief=brief,
        prompt=build_prompt(brief, selfies=selfies, references=references),
        quality=quality,
        images=images,
        params=dict(params or {}),
        seed=seed,
        variant=variant,
    )
