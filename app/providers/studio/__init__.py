"""Built-in "studio" image model: designs thumbnails locally with Pillow, no account needed."""

from app.providers.studio.brief import VIBES, StudioBrief, resolve_vibe
from app.providers.studio.provider import StudioProvider
from app.providers.studio.render import render_thumbnail

__all__ = ["VIBES", "StudioBrief", "StudioProvider", "render_thumbnail", "resolve_vibe"]
