"""Each vibe's look: its palette, background painter, headline effect and photo frame."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from PIL import Image

from app.providers.studio.fitting import (
    DISPLAY_HEADLINE_TYPE,
    HEADLINE_TYPE,
    ROUNDED_HEADLINE_TYPE,
    TypeSpec,
)
from app.providers.studio.layouts import FrameShape, Layout
from app.providers.studio.painting import (
    paint_bold,
    paint_dramatic,
    paint_minimal,
    paint_neon,
    paint_playful,
    paint_professional,
)
from app.providers.studio.palette import Palette

HeadlineEffect = Literal["hard_shadow", "soft_shadow", "glow", "highlight", "plain"]
# How a cut-out person is lifted off the background: a white sticker outline with a hard
# shadow, a soft drop shadow, a coloured neon glow, or a rim of light in the accent colour.
CutoutEdge = Literal["sticker", "shadow", "glow", "rim"]


@dataclass(frozen=True, slots=True)
class VibeStyle:
    palette: Palette
    paint_background: Callable[[Image.Image, Palette, random.Random, Layout], None]
    headline_type: TypeSpec
    headline_effect: HeadlineEffect
    frame: FrameShape
    cutout_edge: CutoutEdge
    # Subtext sits on a filled pill of the accent colour instead of floating on the background.
    subtext_pill: bool
    # Text without a photo sits inside a disc of the alternate accent, sized to hold it.
    text_disc: bool
    gradient_angle: float


VIBE_STYLES: dict[str, VibeStyle] = {
    "bold": VibeStyle(
        palette=Palette(
            background_start=(214, 22, 38),
            background_end=(74, 4, 22),
            accent=(255, 196, 0),
            accent_alt=(255, 120, 0),
            headline=(255, 255, 255),
            emphasis=(255, 214, 0),
            outline=(12, 6, 10),
            subtext=(20, 12, 14),
        ),
        paint_background=paint_bold,
        headline_type=HEADLINE_TYPE,
        headline_effect="hard_shadow",
        frame="circle",
        cutout_edge="sticker",
        subtext_pill=True,
        text_disc=False,
        gradient_angle=20,
    ),
    "professional": VibeStyle(
        palette=Palette(
            background_start=(14, 33, 66),
            background_end=(8, 14, 30),
            accent=(0, 194, 203),
            accent_alt=(66, 120, 255),
            headline=(255, 255, 255),
            emphasis=(0, 220, 220),
            outline=(4, 10, 24),
            subtext=(6, 20, 36),
        ),
        paint_background=paint_professional,
        headline_type=DISPLAY_HEADLINE_TYPE,
        headline_effect="soft_shadow",
        frame="rounded",
        cutout_edge="shadow",
        subtext_pill=True,
        text_disc=False,
        gradient_angle=-35,
    ),
    "playful": VibeStyle(
        palette=Palette(
            background_start=(255, 78, 150),
            background_end=(255, 165, 40),
            accent=(120, 60, 255),
            accent_alt=(0, 220, 200),
            headline=(255, 255, 255),
            emphasis=(255, 236, 60),
            outline=(70, 20, 120),
            subtext=(255, 255, 255),
        ),
        paint_background=paint_playful,
        headline_type=ROUNDED_HEADLINE_TYPE,
        headline_effect="highlight",
        frame="circle",
        cutout_edge="sticker",
        subtext_pill=False,
        text_disc=False,
        gradient_angle=45,
    ),
    "dramatic": VibeStyle(
        palette=Palette(
            background_start=(22, 10, 12),
            background_end=(4, 3, 6),
            accent=(200, 24, 20),
            accent_alt=(255, 120, 40),
            headline=(250, 246, 240),
            emphasis=(255, 56, 40),
            outline=(0, 0, 0),
            subtext=(230, 210, 200),
        ),
        paint_background=paint_dramatic,
        headline_type=HEADLINE_TYPE,
        headline_effect="soft_shadow",
        frame="slanted",
        cutout_edge="rim",
        subtext_pill=False,
        text_disc=False,
        gradient_angle=0,
    ),
    "minimal": VibeStyle(
        palette=Palette(
            background_start=(246, 243, 236),
            background_end=(232, 228, 220),
            accent=(24, 24, 28),
            accent_alt=(255, 205, 80),
            headline=(20, 20, 24),
            emphasis=(20, 20, 24),
            outline=(255, 205, 80),
            subtext=(80, 80, 88),
        ),
        paint_background=paint_minimal,
        headline_type=DISPLAY_HEADLINE_TYPE,
        headline_effect="plain",
        frame="rounded",
        cutout_edge="shadow",
        subtext_pill=False,
        text_disc=True,
        gradient_angle=90,
    ),
    "neon": VibeStyle(
        palette=Palette(
            background_start=(40, 6, 70),
            background_end=(6, 4, 24),
            accent=(255, 40, 200),
            accent_alt=(0, 230, 255),
            headline=(255, 250, 255),
            emphasis=(0, 240, 255),
            outline=(60, 0, 90),
            subtext=(200, 240, 255),
        ),
        paint_background=paint_neon,
        headline_type=HEADLINE_TYPE,
        headline_effect="glow",
        frame="circle",
        cutout_edge="glow",
        subtext_pill=False,
        text_disc=False,
        gradient_angle=0,
    ),
}
