"""The studio renderer behind the image-model contract."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.providers.base import RenderRequest
from app.providers.studio.brief import StudioBrief
from app.providers.studio.render import render_thumbnail

if TYPE_CHECKING:
    from app.config import Settings
    from app.kit.render_pool import RenderPool


class StudioProvider:
    """The studio renderer behind the image-model contract; needs no key and no network."""

    name = "studio"

    def __init__(self, settings: Settings, *, render_pool: RenderPool) -> None:
        self.settings = settings
        self.render_pool = render_pool

    async def render(self, request: RenderRequest) -> bytes:
        selfie = next((i.data for i in request.images if i.role == "selfie"), None)
        reference = next((i.data for i in request.images if i.role != "selfie"), None)
        brief = StudioBrief(
            width=request.brief.width,
            height=request.brief.height,
            headline=request.brief.headline,
            subtext=request.brief.subtext,
            vibe=request.brief.vibe or "",
            selfie=selfie,
            reference=reference,
            platform=request.brief.platform,
            background_color=request.brief.background_color,
            accent_color=request.brief.accent_color,
            headline_scale=request.brief.headline_scale,
            person_side=request.brief.person_side,
        )
        # Pillow work is CPU-bound: it runs in the render pool, away from requests.
        return await self.render_pool.run(
            render_thumbnail,
            brief,
            seed=request.seed,
            variant=request.variant,
            cutout_models=self.settings.cutout_models_dir,
        )

    async def close(self) -> None:
        return None
