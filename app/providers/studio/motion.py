"""Built-in "studio_motion" video model: the studio's thumbnail as a short animated WebP.

A slow push-in that settles on the finished thumbnail, so the clip loops into its own poster.
Pillow only, no key and no network; the same brief, seed and length give the same bytes.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from app.providers.base import RenderRequest, VideoOutput

if TYPE_CHECKING:
    from pathlib import Path

    from PIL import Image as PILImage

    from app.config import Settings
    from app.kit.render_pool import RenderPool

FRAMES_PER_SECOND = 12
START_ZOOM = 1.15
# The last frame holds a little longer, so the headline can be read before the loop restarts.
HOLD_FRAMES = 6
WEBP_QUALITY = 70


def _ease(t: float) -> float:
    """Smoothstep: starts and ends gently."""
    return t * t * (3 - 2 * t)


def _zoomed(still: PILImage.Image, zoom: float) -> PILImage.Image:
    from PIL import Image

    width, height = still.size
    crop_w, crop_h = width / zoom, height / zoom
    left, top = (width - crop_w) / 2, (height - crop_h) / 2
    return still.resize(
        (width, height),
        Image.Resampling.BILINEAR,
        box=(left, top, left + crop_w, top + crop_h),
    )


def animate_still(still_png: bytes, *, seconds: int) -> bytes:
    """An animated WebP of `seconds` at 12 frames a second: a zoom out to the whole still."""
    from PIL import Image

    with Image.open(io.BytesIO(still_png)) as opened:
        still = opened.convert("RGB")
    moving = max(2, seconds * FRAMES_PER_SECOND - HOLD_FRAMES)
    frames = [
        _zoomed(still, START_ZOOM - (START_ZOOM - 1) * _ease(i / (moving - 1)))
        for i in range(moving)
    ]
    frame_ms = round(1000 / FRAMES_PER_SECOND)
    durations = [frame_ms] * (moving - 1) + [frame_ms * (HOLD_FRAMES + 1)]
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        format="WEBP",
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=0,
        quality=WEBP_QUALITY,
        method=4,
    )
    return buffer.getvalue()


def render_clip(
    brief: object, *, seed: str, variant: int, seconds: int, cutout_models: Path | None = None
) -> tuple[bytes, bytes]:
    """(animated WebP, its last frame as PNG) for a studio brief; runs in the render pool."""
    from app.providers.studio.brief import StudioBrief
    from app.providers.studio.render import render_thumbnail

    assert isinstance(brief, StudioBrief)
    still = render_thumbnail(brief, seed=seed, variant=variant, cutout_models=cutout_models)
    return animate_still(still, seconds=seconds), still


class StudioMotionProvider:
    """The studio animator behind the video-model contract."""

    name = "studio"

    def __init__(self, settings: Settings, *, render_pool: RenderPool) -> None:
        self.settings = settings
        self.render_pool = render_pool

    async def render_video(self, request: RenderRequest) -> VideoOutput:
        from app.providers.studio.brief import brief_for

        brief = brief_for(request)
        clip, still = await self.render_pool.run(
            render_clip,
            brief,
            seed=request.seed,
            variant=request.variant,
            seconds=request.duration or 2,
            cutout_models=self.settings.cutout_models_dir,
        )
        return VideoOutput(data=clip, content_type="image/webp", poster=still)

    async def close(self) -> None:
        return None
