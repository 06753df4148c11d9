"""One thumbnail from a brief: background, pictures and text, encoded as PNG."""

from __future__ import annotations

import hashlib
import io
import random

from app.providers.studio.brief import StudioBrief, resolve_vibe
from app.providers.studio.layouts import plan_layout
from app.providers.studio.lettering import draw_text_block
from app.providers.studio.painting import linear_gradient
from app.providers.studio.palette import hex_to_rgb, varied_palette, with_colours
from app.providers.studio.photos import place_selfie, reference_texture
from app.providers.studio.styles import VIBE_STYLES

MIN_SIDE = 256
MAX_SIDE = 4096


def _rng_for(seed: str, variant: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{variant}".encode()).digest()
    return random.Random(int.from_bytes(digest, "big"))


def render_thumbnail(brief: StudioBrief, *, seed: str, variant: int) -> bytes:
    """Return PNG bytes of exactly brief.width x brief.height.

    Synchronous and CPU-bound (callers run it in the render pool). Same brief+seed+variant gives
    byte-identical output.
    """
    if not (MIN_SIDE <= brief.width <= MAX_SIDE and MIN_SIDE <= brief.height <= MAX_SIDE):
        raise ValueError(
            f"thumbnail size must be between {MIN_SIDE} and {MAX_SIDE} pixels per side, "
            f"got {brief.width}x{brief.height}"
        )
    rng = _rng_for(seed, variant)
    style = VIBE_STYLES[resolve_vibe(brief.vibe)]
    # Colours the person chose are used as given, after the variant's small hue turn.
    palette = with_colours(
        varied_palette(style.palette, rng),
        background=hex_to_rgb(brief.background_color) if brief.background_color else None,
        accent=hex_to_rgb(brief.accent_color) if brief.accent_color else None,
        text_on_accent=style.subtext_pill,
    )
    size = (brief.width, brief.height)
    layout = plan_layout(
        brief.width,
        brief.height,
        variant,
        brief.selfie is not None,
        brief.platform,
        brief.person_side,
    )

    canvas = linear_gradient(
        size,
        palette.background_start,
        palette.background_end,
        style.gradient_angle + rng.uniform(-15, 15),
    )
    if brief.reference is not None:
        reference_texture(canvas, brief.reference, palette)
    style.paint_background(canvas, palette, rng, layout)
    if brief.selfie is not None and layout.selfie_box is not None:
        place_selfie(canvas, brief.selfie, layout.selfie_box, style, palette)
    draw_text_block(canvas, brief, layout, style, palette)

    buffer = io.BytesIO()
    # No pnginfo, exif or icc_profile: the bytes depend only on the pixels. Level 3 encodes
    # about twice as fast as the default for files some 10% larger.
    canvas.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()
