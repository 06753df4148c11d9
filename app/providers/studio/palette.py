"""Colour palettes and the colour arithmetic the painters share."""

from __future__ import annotations

import colorsys
import random
from dataclasses import dataclass, replace

RGB = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Palette:
    background_start: RGB
    background_end: RGB
    accent: RGB
    accent_alt: RGB
    headline: RGB
    emphasis: RGB
    outline: RGB
    subtext: RGB


def mix(start: RGB, end: RGB, amount: float) -> RGB:
    return (
        round(start[0] + (end[0] - start[0]) * amount),
        round(start[1] + (end[1] - start[1]) * amount),
        round(start[2] + (end[2] - start[2]) * amount),
    )


def _shift_hue(colour: RGB, turn: float) -> RGB:
    hue, lightness, saturation = colorsys.rgb_to_hls(*(channel / 255 for channel in colour))
    red, green, blue = colorsys.hls_to_rgb((hue + turn) % 1.0, lightness, saturation)
    return round(red * 255), round(green * 255), round(blue * 255)


def varied_palette(palette: Palette, rng: random.Random) -> Palette:
    # A small hue turn keeps variants recognisably the same vibe while not identical.
    turn = rng.uniform(-0.035, 0.035)
    return replace(
        palette,
        background_start=_shift_hue(palette.background_start, turn),
        background_end=_shift_hue(palette.background_end, turn),
        accent=_shift_hue(palette.accent, turn * 0.5),
        accent_alt=_shift_hue(palette.accent_alt, turn * 0.5),
    )


def hex_to_rgb(value: str) -> RGB:
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def _luminance(colour: RGB) -> float:
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in colour)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: RGB, second: RGB) -> float:
    """WCAG contrast ratio, 1 (same) to 21 (black on white)."""
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


_INK: RGB = (20, 20, 24)
_PAPER: RGB = (255, 255, 255)


def readable_on(colour: RGB) -> RGB:
    return _INK if contrast(_INK, colour) > contrast(_PAPER, colour) else _PAPER


def with_colours(
    palette: Palette,
    *,
    background: RGB | None,
    accent: RGB | None,
    text_on_accent: bool,
    text_on_disc: bool = False,
) -> Palette:
    """The palette with the person's own background and accent colours, text kept legible.

    `text_on_accent`: the subtext sits on a pill of the accent colour rather than on the
    background. `text_on_disc`: the text sits on a disc of the alternate accent.
    """
    if background is None and accent is None:
        return palette
    changed = palette
    if background is not None:
        # A gradient toward a darker shade keeps the depth of the vibe's own backgrounds.
        changed = replace(
            changed, background_start=background, background_end=mix(background, (0, 0, 0), 0.4)
        )
    if accent is not None:
        changed = replace(changed, accent=accent, accent_alt=mix(accent, _PAPER, 0.35))
    elif background is not None:
        # Secondary shapes follow the new background instead of clashing with it.
        lighter = contrast(background, (0, 0, 0)) < 7
        changed = replace(
            changed, accent_alt=mix(background, _PAPER if lighter else (0, 0, 0), 0.3)
        )
    ground = changed.background_start
    if accent is None and contrast(changed.accent, ground) < 1.6:
        changed = replace(changed, accent=mix(ground, readable_on(ground), 0.7))
    # Text is kept legible on what is behind it.
    ground = changed.accent_alt if text_on_disc else ground
    if contrast(changed.headline, ground) < 3:
        headline = readable_on(ground)
        changed = replace(changed, headline=headline, outline=readable_on(headline))
    if accent is not None and contrast(accent, ground) >= 2:
        changed = replace(changed, emphasis=accent)
    elif contrast(changed.emphasis, ground) < 2:
        changed = replace(changed, emphasis=changed.headline)
    behind_subtext = changed.accent if text_on_accent else ground
    if contrast(changed.subtext, behind_subtext) < 3:
        changed = replace(changed, subtext=readable_on(behind_subtext))
    return changed
