"""One thumbnail from a brief: background, pictures and text, encoded as PNG."""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import replace
from pathlib import Path

from app.providers.studio.brief import StudioBrief, resolve_vibe
from app.providers.studio.cutout import cut_out_person
from app.providers.studio.layouts import FrameShape, Layout, frame_box, plan_layout
from app.providers.studio.lettering import TextPlan, draw_text_block, set_text_block
from app.providers.studio.painting import linear_gradient
from app.providers.studio.palette import hex_to_rgb, varied_palette, with_colours
from app.providers.studio.photos import place_cutout, place_selfie, reference_texture
from app.providers.studio.styles import VIBE_STYLES

MIN_SIDE = 256
MAX_SIDE = 4096


def _rng_for(seed: str, variant: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{variant}".encode()).digest()
    return random.Random(int.from_bytes(digest, "big"))


def stack_tall(
    layout: Layout, text: TextPlan, frame: FrameShape, size: tuple[int, int]
) -> tuple[Layout, TextPlan]:
    """Stack a tall canvas's framed photo and text block, centred, the photo taking the rest.

    Boxes fixed in advance leave a band empty whenever the text comes out shorter than its box.
    """
    assert layout.selfie_box is not None
    photo_first = layout.selfie_box[1] < layout.text_box[1]
    region_top = min(layout.selfie_box[1], layout.text_box[1])
    region_bottom = min(size[1], max(layout.selfie_box[3], layout.text_box[3]))
    gap = text.gap * 2
    span = region_bottom - region_top - text.block.height - gap
    left, _, right, _ = layout.selfie_box
    frame_top, frame_bottom = frame_box((left, 0, right, span), frame)[1::2]
    stack = frame_bottom - frame_top + gap + text.block.height
    top = region_top + (region_bottom - region_top - stack) // 2
    if photo_first:
        photo = (left, top, right, top + frame_bottom - frame_top)
        text_top = photo[3] + gap
    else:
        text_top = top
        photo = (left, top + text.block.height + gap, right, top + stack)
    return replace(layout, selfie_box=photo), replace(text, top=text_top)


def render_thumbnail(
    brief: StudioBrief, *, seed: str, variant: int, cutout_models: Path | None = None
) -> bytes:
    """Return PNG bytes of exactly brief.width x brief.height.

    Synchronous and CPU-bound (callers run it in the render pool). Same brief+seed+variant gives
    byte-identical output. With the cutout models (and their runtime) the person in the selfie
    is cut out of their photo; otherwise, or when no person is found, the photo is framed.
    """
    if not (MIN_SIDE <= brief.width <= MAX_SIDE and MIN_SIDE <= brief.height <= MAX_SIDE):
        raise ValueError(
            f"thumbnail size must be between {MIN_SIDE} and {MAX_SIDE} pixels per side, "
            f"got {brief.width}x{brief.height}"
        )
    rng = _rng_for(seed, variant)
    style = VIBE_STYLES[resolve_vibe(brief.vibe)]
    palette = varied_palette(style.palette, rng)
    size = (brief.width, brief.height)
    person = cut_out_person(brief.selfie, cutout_models) if brief.selfie is not None else None
    layout = plan_layout(
        brief.width,
        brief.height,
        variant,
        brief.selfie is not None,
        brief.platform,
        brief.person_side,
        cutout=person is not None,
    )

    # Colours the person chose are used as given, after the variant's small hue turn.
    palette = with_colours(
        palette,
        background=hex_to_rgb(brief.background_color) if brief.background_color else None,
        accent=hex_to_rgb(brief.accent_color) if brief.accent_color else None,
        text_on_accent=style.subtext_pill,
        text_on_disc=style.text_disc and layout.selfie_box is None,
    )
    text = set_text_block(size, brief, layout, style)
    if layout.selfie_box is not None and not layout.cutout and brief.height > brief.width * 1.25:
        layout, text = stack_tall(layout, text, style.frame, size)

    canvas = linear_gradient(
        size,
        palette.background_start,
        palette.background_end,
        style.gradient_angle + rng.uniform(-15, 15),
    )
    if brief.reference is not None:
        reference_texture(canvas, brief.reference, palette)
    style.paint_background(canvas, palette, rng, layout)
    if person is not None and layout.selfie_box is not None:
        place_cutout(canvas, person, layout.selfie_box, style, palette)
    elif brief.selfie is not None and layout.selfie_box is not None:
        place_selfie(canvas, brief.selfie, layout.selfie_box, style, palette)
    draw_text_block(canvas, text, style, palette)

    buffer = io.BytesIO()
    # No pnginfo, exif or icc_profile: the bytes depend only on the pixels. Level 3 encodes
    # about twice as fast as the default for files some 10% larger.
    canvas.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()
