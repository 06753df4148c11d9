"""The studio renderer behind the image-model contract."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.providers.base import RenderRequest
from app.providers.studio.brief import brief_for
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
        brief = brief_for(request)
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
