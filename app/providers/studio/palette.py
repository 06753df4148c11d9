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
