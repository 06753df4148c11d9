"""Built-in "studio" image model: designs thumbnails locally with Pillow, no account needed."""

from __future__ import annotations

import colorsys
import functools
import hashlib
import io
import math
import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import combinations, pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps

from app.providers.base import RenderRequest

if TYPE_CHECKING:
    from app.config import Settings
    from app.kit.render_pool import RenderPool

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]
FractionBox = tuple[float, float, float, float]
Align = Literal["left", "center", "right"]
VAlign = Literal["top", "center", "bottom"]
FrameShape = Literal["circle", "rounded", "slanted"]
HeadlineEffect = Literal["hard_shadow", "soft_shadow", "glow", "highlight", "plain"]

FONTS_DIR = Path(__file__).resolve().parent / "fonts"
HEADLINE_FONT = FONTS_DIR / "BebasNeue-Bold.otf"
SUBTEXT_FONT = FONTS_DIR / "LeagueSpartan-Bold.otf"

VIBES: tuple[str, ...] = ("bold", "professional", "playful", "dramatic", "minimal", "neon")
DEFAULT_VIBE = "bold"

# Checked in this order, so on a tie the more specific look wins over the catch-all "bold".
_VIBE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "neon": tuple(
        "neon cyber synth vapor glow arcade gamer gaming 80s retro electric "
        "futuristic night".split()
    ),
    "minimal": tuple(
        "minimal clean simple calm elegant subtle soft airy zen light modern "
        "aesthetic quiet".split()
    ),
    "professional": tuple(
        "professional corporate business pro serious finance educational education "
        "tutorial trustworthy expert formal sleek tech news".split()
    ),
    "playful": tuple(
        "playful fun funny cute colorful colourful happy kids silly cheerful bubbly "
        "vibrant friendly comedy cartoon joyful".split()
    ),
    "dramatic": tuple(
        "dramatic drama dark epic cinematic moody intense mystery horror scary "
        "thriller gritty shocking emotional suspense".split()
    ),
    "bold": tuple(
        "bold loud hype energetic energy viral crazy extreme punchy strong clickbait "
        "exciting insane wild".split()
    ),
}

MIN_SIDE = 256
MAX_SIDE = 4096
MAX_HEADLINE_LINES = 3
MAX_SUBTEXT_LINES = 2
# Longer input cannot be shown legibly anyway; capping keeps fitting time bounded.
MAX_TEXT_CHARS = 240
ELLIPSIS = "…"
# Tall platforms whose app chrome covers the top and bottom of the frame.
_STORY_PLATFORMS = frozenset({"instagram_story", "instagram_reels", "tiktok", "youtube_shorts"})
_POWER_WORDS = frozenset(
    "ALWAYS BEST BIGGEST CRAZY EASY EPIC EVERYONE FAST FINALLY FIRST FREE HOW HUGE "
    "INSANE LAST MONEY NEVER NEW NOBODY ONLY REAL SECRET STOP TRUTH ULTIMATE WHY WIN "
    "WORST".split()
)


def resolve_vibe(text: str | None) -> str:
    """Map a free-text vibe ("Bold & loud", "neon cyberpunk", "clean minimal") to one of VIBES.

    Every word of the text scores for the vibes whose keywords it starts with; the best score
    wins and anything unrecognised falls back to "bold".
    """
    if not text:
        return DEFAULT_VIBE
    words = re.findall(r"[a-z0-9]+", text.lower())
    best_vibe, best_score = DEFAULT_VIBE, 0
    for vibe, keywords in _VIBE_KEYWORDS.items():
        score = sum(
            1
            for word in words
            for keyword in keywords
            if word == keyword or (len(keyword) >= 4 and word.startswith(keyword))
        )
        if score > best_score:
            best_vibe, best_score = vibe, score
    return best_vibe


@dataclass(frozen=True, slots=True)
class StudioBrief:
    """What to draw: the exact output size, the words, the vibe and the optional pictures."""

    width: int
    height: int
    headline: str
    subtext: str | None
    vibe: str
    selfie: bytes | None = None
    reference: bytes | None = None
    platform: str | None = None


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


@dataclass(frozen=True, slots=True)
class VibeStyle:
    palette: Palette
    paint_background: Callable[[Image.Image, Palette, random.Random, Layout], None]
    headline_effect: HeadlineEffect
    frame: FrameShape
    # Subtext sits on a filled pill of the accent colour instead of floating on the background.
    subtext_pill: bool
    gradient_angle: float


@dataclass(frozen=True, slots=True)
class Layout:
    name: str
    text_box: Box
    align: Align
    valign: VAlign
    selfie_box: Box | None


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """How one text role is set: its font and spacing, relative to the font size."""

    font_path: Path
    pitch_ratio: float  # baseline to baseline, in cap heights
    descent_ratio: float  # room kept below the last baseline, in cap heights
    stroke_ratio: float  # outline width (or pill padding), in font sizes

    def stroke_at(self, size: int) -> int:
        return max(1, round(size * self.stroke_ratio)) if self.stroke_ratio else 0


@dataclass(frozen=True, slots=True)
class FittedText:
    lines: tuple[tuple[str, ...], ...]
    size: int
    cap_height: int
    line_pitch: int
    stroke: int
    height: int


# Bebas Neue is all caps with no descenders, so its lines can sit close together.
HEADLINE_TYPE = TypeSpec(HEADLINE_FONT, pitch_ratio=1.12, descent_ratio=0.04, stroke_ratio=0.045)
UNSTROKED_HEADLINE_TYPE = replace(HEADLINE_TYPE, stroke_ratio=0.0)
SUBTEXT_TYPE = TypeSpec(SUBTEXT_FONT, pitch_ratio=1.45, descent_ratio=0.3, stroke_ratio=0.05)
# A pill needs padding around the words; the stroke allowance reserves it.
SUBTEXT_ON_PILL_TYPE = replace(SUBTEXT_TYPE, stroke_ratio=0.45)


# --------------------------------------------------------------------------------------------
# Fonts and text fitting


@functools.cache
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    # BASIC layout gives the same glyph positions whether or not libraqm is installed.
    return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)


@functools.cache
def _missing_glyph_signature(path: Path) -> tuple[tuple[int, int], bytes]:
    mask = _font(path, 48).getmask("\U0010fffd")
    return mask.size, bytes(mask)


@functools.cache
def _has_glyph(path: Path, char: str) -> bool:
    mask = _font(path, 48).getmask(char)
    return (mask.size, bytes(mask)) != _missing_glyph_signature(path)


def _drawable_text(path: Path, text: str) -> str:
    """Keep what the font can draw: accents fall back to their base letter, the rest is dropped."""
    kept: list[str] = []
    for char in text[:MAX_TEXT_CHARS]:
        if char.isspace():
            kept.append(" ")
        elif unicodedata.category(char)[0] == "C":
            continue
        elif _has_glyph(path, char):
            kept.append(char)
        else:
            base = "".join(
                part
                for part in unicodedata.normalize("NFKD", char)
                if not unicodedata.combining(part)
            )
            if base and all(_has_glyph(path, part) for part in base):
                kept.append(base)
    return " ".join("".join(kept).split())


def _ellipsis_for(path: Path) -> str:
    return ELLIPSIS if _has_glyph(path, ELLIPSIS) else "..."


def _cap_height(font: ImageFont.FreeTypeFont) -> int:
    return max(1, -int(font.getbbox("H", anchor="ls")[1]))


def _word_widths(font: ImageFont.FreeTypeFont, words: Sequence[str]) -> list[float]:
    return [font.getlength(word) for word in words]


def _balanced_lines(
    words: Sequence[str], widths: Sequence[float], space: float, max_lines: int
) -> list[tuple[tuple[str, ...], float]]:
    """Split words into at most max_lines lines so that the widest line is as narrow as possible.

    Returns, for each line count, the best split and its widest line, fewest lines first.
    """
    count = len(words)
    prefix = [0.0]
    for width in widths:
        prefix.append(prefix[-1] + width)

    def line_width(start: int, end: int) -> float:
        return prefix[end] - prefix[start] + space * (end - start - 1)

    options: list[tuple[tuple[str, ...], float]] = []
    for line_count in range(1, min(max_lines, count) + 1):
        best: tuple[float, tuple[int, ...]] | None = None
        for breaks in combinations(range(1, count), line_count - 1):
            bounds = (0, *breaks, count)
            widest = max(line_width(start, end) for start, end in pairwise(bounds))
            if best is None or widest < best[0]:
                best = (widest, bounds)
        assert best is not None
        widest, bounds = best
        lines = tuple(" ".join(words[start:end]) for start, end in pairwise(bounds))
        options.append((lines, widest))
    return options


def _fitted(spec: TypeSpec, lines: Sequence[Sequence[str]], size: int) -> FittedText:
    cap = _cap_height(_font(spec.font_path, size))
    pitch = max(cap + 1, round(cap * spec.pitch_ratio))
    stroke = spec.stroke_at(size)
    height = cap + pitch * (len(lines) - 1) + round(cap * spec.descent_ratio) + 2 * stroke
    return FittedText(
        lines=tuple(tuple(line) for line in lines),
        size=size,
        cap_height=cap,
        line_pitch=pitch,
        stroke=stroke,
        height=height,
    )


def _fit_text(
    text: str,
    spec: TypeSpec,
    box_width: int,
    box_height: int,
    *,
    max_lines: int,
    min_size: int,
    max_size: int,
) -> FittedText | None:
    """Find the largest size at which text fits the box in at most max_lines lines.

    Shrinks first, wraps when a line gets too wide, and ellipsizes when even the smallest size
    needs more lines than allowed.
    """
    words = text.split()
    if not words or box_width <= 0 or box_height <= 0:
        return None
    # A brute-force balanced split is cheap for a headline but not for a paragraph.
    if len(words) > 24:
        words = [*words[:23], words[23] + _ellipsis_for(spec.font_path)]

    def layout_at(size: int) -> FittedText | None:
        font = _font(spec.font_path, size)
        stroke = spec.stroke_at(size)
        widths = _word_widths(font, words)
        for lines, widest in _balanced_lines(words, widths, font.getlength(" "), max_lines):
            fitted = _fitted(spec, [line.split() for line in lines], size)
            if widest + 2 * stroke <= box_width and fitted.height <= box_height:
                return fitted
        return None

    if layout_at(min_size) is None:
        return _ellipsized(words, spec, box_width, min_size, max_lines)
    low, high = min_size, max(min_size, max_size)
    while low < high:
        middle = (low + high + 1) // 2
        if layout_at(middle) is not None:
            low = middle
        else:
            high = middle - 1
    return layout_at(low)


def _ellipsized(
    words: Sequence[str], spec: TypeSpec, box_width: int, size: int, max_lines: int
) -> FittedText:
    font = _font(spec.font_path, size)
    room = box_width - 2 * spec.stroke_at(size)
    ellipsis = _ellipsis_for(spec.font_path)

    def fits(candidate: str) -> bool:
        return font.getlength(candidate) <= room

    def shorten(word: str) -> str:
        while word and not fits(word + ellipsis):
            word = word[:-1]
        return word + ellipsis

    lines: list[list[str]] = []
    truncated = False
    for word in words:
        if lines and fits(" ".join([*lines[-1], word])):
            lines[-1].append(word)
            continue
        if len(lines) == max_lines:
            truncated = True
            break
        lines.append([word if fits(word) else shorten(word)])
    if truncated:
        last = lines[-1]
        while len(last) > 1 and not fits(" ".join(last) + ellipsis):
            last.pop()
        if not last[-1].endswith(ellipsis):
            if fits(" ".join(last) + ellipsis):
                last[-1] += ellipsis
            else:
                last[-1] = shorten(last[-1])
    return _fitted(spec, lines, size)


def _emphasis_word(lines: Sequence[Sequence[str]]) -> tuple[int, int] | None:
    """Pick the word that carries the hook: a number, a power word, else the longest word."""
    words = [
        (line_no, word_no, word)
        for line_no, line in enumerate(lines)
        for word_no, word in enumerate(line)
    ]
    if len(words) < 2:
        return None

    def score(item: tuple[int, int, str]) -> tuple[int, int]:
        core = re.sub(r"[^\w$%]", "", item[2])
        if any(char.isdigit() for char in core) or "$" in core or "%" in core:
            return (3, len(core))
        if core in _POWER_WORDS:
            return (2, len(core))
        return (1, len(core))

    line_no, word_no, _ = max(words, key=score)
    return line_no, word_no


# --------------------------------------------------------------------------------------------
# Colour and background painting


def _mix(start: RGB, end: RGB, amount: float) -> RGB:
    return (
        round(start[0] + (end[0] - start[0]) * amount),
        round(start[1] + (end[1] - start[1]) * amount),
        round(start[2] + (end[2] - start[2]) * amount),
    )


def _shift_hue(colour: RGB, turn: float) -> RGB:
    hue, lightness, saturation = colorsys.rgb_to_hls(*(channel / 255 for channel in colour))
    red, green, blue = colorsys.hls_to_rgb((hue + turn) % 1.0, lightness, saturation)
    return round(red * 255), round(green * 255), round(blue * 255)


def _varied_palette(palette: Palette, rng: random.Random) -> Palette:
    # A small hue turn keeps variants recognisably the same vibe while not identical.
    turn = rng.uniform(-0.035, 0.035)
    return replace(
        palette,
        background_start=_shift_hue(palette.background_start, turn),
        background_end=_shift_hue(palette.background_end, turn),
        accent=_shift_hue(palette.accent, turn * 0.5),
        accent_alt=_shift_hue(palette.accent_alt, turn * 0.5),
    )


def _scaled_size(size: tuple[int, int], divisor: int) -> tuple[int, int]:
    return max(2, size[0] // divisor), max(2, size[1] // divisor)


def _linear_gradient(size: tuple[int, int], start: RGB, end: RGB, angle: float) -> Image.Image:
    # Smooth fields are computed small and upscaled: the result is indistinguishable and cheap.
    small = _scaled_size(size, 8)
    diagonal = math.ceil(math.hypot(*small)) + 2
    ramp = Image.linear_gradient("L").resize((diagonal, diagonal), Image.Resampling.BILINEAR)
    ramp = ramp.rotate(angle, resample=Image.Resampling.BILINEAR)
    left, top = (diagonal - small[0]) // 2, (diagonal - small[1]) // 2
    ramp = ramp.crop((left, top, left + small[0], top + small[1]))
    mask = ramp.resize(size, Image.Resampling.BILINEAR)
    return Image.composite(Image.new("RGB", size, end), Image.new("RGB", size, start), mask)


def _radial_mask(
    size: tuple[int, int], centre: tuple[float, float], radius: tuple[float, float], strength: float
) -> Image.Image:
    """An L mask that is `strength` at the centre and fades to nothing at the radius."""
    divisor = 4
    small = _scaled_size(size, divisor)
    # radial_gradient reaches 181 at the middle of each edge; beyond that it is clipped corners.
    glow = Image.radial_gradient("L").point(
        lambda distance: round(255 * strength * (max(0, 181 - distance) / 181) ** 1.6)
    )
    width = max(2, round(2 * radius[0] / divisor))
    height = max(2, round(2 * radius[1] / divisor))
    glow = glow.resize((width, height), Image.Resampling.BILINEAR)
    field = Image.new("L", small, 0)
    field.paste(
        glow, (round(centre[0] / divisor - width / 2), round(centre[1] / divisor - height / 2))
    )
    return field.resize(size, Image.Resampling.BILINEAR)


def _add_glow(canvas: Image.Image, colour: RGB, mask: Image.Image) -> None:
    canvas.paste(Image.new("RGB", canvas.size, colour), (0, 0), mask)


def _add_vignette(canvas: Image.Image, strength: float) -> None:
    small = _scaled_size(canvas.size, 8)
    edge = Image.radial_gradient("L").resize(small, Image.Resampling.BILINEAR)
    edge = edge.point(lambda value: 255 - round(max(0, value - 90) * strength))
    shade = edge.resize(canvas.size, Image.Resampling.BILINEAR).convert("RGB")
    canvas.paste(ImageChops.multiply(canvas, shade))


def _add_grain(canvas: Image.Image, rng: random.Random, amount: int) -> None:
    # Noise comes from the seeded rng; Pillow's effect_noise uses the C library's global state.
    tile_side = 128
    tile = Image.frombytes("L", (tile_side, tile_side), rng.randbytes(tile_side * tile_side))
    tile = tile.point(lambda value: 128 + (value * (2 * amount + 1)) // 256 - amount)
    noise = Image.new("L", canvas.size)
    for top in range(0, canvas.height, tile_side):
        for left in range(0, canvas.width, tile_side):
            noise.paste(tile, (left, top))
    canvas.paste(ImageChops.overlay(canvas, noise.convert("RGB")))


def _overlay(
    canvas: Image.Image, draw_layer: Callable[[ImageDraw.ImageDraw], None], blur: float = 0.0
) -> None:
    layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw_layer(ImageDraw.Draw(layer))
    if blur:
        layer = layer.filter(ImageFilter.GaussianBlur(blur))
    canvas.paste(layer, (0, 0), layer)


def _rays(
    canvas: Image.Image,
    centre: tuple[float, float],
    colour: RGB,
    count: int,
    opacity: int,
    rng: random.Random,
) -> None:
    width, height = canvas.size
    reach = math.hypot(width, height)
    offset = rng.uniform(0, math.tau / count)
    half_wedge = math.tau / count / 4

    def draw(draw: ImageDraw.ImageDraw) -> None:
        for index in range(count):
            angle = offset + index * math.tau / count
            draw.polygon(
                [
                    centre,
                    (
                        centre[0] + reach * math.cos(angle - half_wedge),
                        centre[1] + reach * math.sin(angle - half_wedge),
                    ),
                    (
                        centre[0] + reach * math.cos(angle + half_wedge),
                        centre[1] + reach * math.sin(angle + half_wedge),
                    ),
                ],
                fill=(*colour, opacity),
            )

    _overlay(canvas, draw)


def _diagonal_bands(
    canvas: Image.Image, colour: RGB, opacity: int, rng: random.Random, count: int
) -> None:
    width, height = canvas.size

    def draw(draw: ImageDraw.ImageDraw) -> None:
        for _ in range(count):
            start = rng.uniform(-0.3, 1.1) * width
            band = rng.uniform(0.02, 0.09) * width
            slope = height * 0.55
            draw.polygon(
                [
                    (start, height),
                    (start + band, height),
                    (start + band + slope, 0),
                    (start + slope, 0),
                ],
                fill=(*colour, round(opacity * rng.uniform(0.4, 1.0))),
            )

    _overlay(canvas, draw)


def _focus_of(layout: Layout) -> tuple[int, int]:
    box = layout.selfie_box or layout.text_box
    return (box[0] + box[2]) // 2, (box[1] + box[3]) // 2


def _overlaps(first: Box, second: Box) -> bool:
    return (
        first[0] < second[2]
        and second[0] < first[2]
        and first[1] < second[3]
        and second[1] < first[3]
    )


def _paint_bold(canvas: Image.Image, palette: Palette, rng: random.Random, layout: Layout) -> None:
    focus = _focus_of(layout)
    width, height = canvas.size
    _rays(canvas, focus, palette.accent, count=18, opacity=46, rng=rng)
    _add_glow(
        canvas, palette.accent, _radial_mask(canvas.size, focus, (width * 0.45, height * 0.7), 0.55)
    )
    _add_vignette(canvas, 1.1)


def _paint_professional(
    canvas: Image.Image, palette: Palette, rng: random.Random, layout: Layout
) -> None:
    focus = _focus_of(layout)
    width, height = canvas.size
    step = max(16, round(min(width, height) / 12))

    def grid(draw: ImageDraw.ImageDraw) -> None:
        line = max(1, step // 40)
        for x in range(step // 2, width, step):
            draw.line([(x, 0), (x, height)], fill=(*palette.accent, 22), width=line)
        for y in range(step // 2, height, step):
            draw.line([(0, y), (width, y)], fill=(*palette.accent, 22), width=line)
        # A slim accent slab along one edge gives the layout a structured, editorial feel.
        corner = rng.choice((0, 1))
        slab = width * 0.035
        x0 = 0 if corner == 0 else width - slab
        draw.rectangle([x0, 0, x0 + slab, height], fill=(*palette.accent, 230))

    _overlay(canvas, grid)
    _add_glow(
        canvas,
        palette.accent_alt,
        _radial_mask(canvas.size, focus, (width * 0.4, height * 0.75), 0.35),
    )
    _add_vignette(canvas, 0.6)


def _paint_playful(
    canvas: Image.Image, palette: Palette, rng: random.Random, layout: Layout
) -> None:
    width, height = canvas.size
    unit = min(width, height)
    colours = (palette.accent, palette.accent_alt, (255, 255, 255), palette.emphasis)

    def blobs(draw: ImageDraw.ImageDraw) -> None:
        for _ in range(5):
            radius = rng.uniform(0.15, 0.35) * unit
            x, y = rng.uniform(0, width), rng.uniform(0, height)
            draw.ellipse(
                [x - radius, y - radius, x + radius, y + radius], fill=(*rng.choice(colours), 40)
            )

    def confetti(draw: ImageDraw.ImageDraw) -> None:
        for _ in range(34):
            x, y = rng.uniform(0, width), rng.uniform(0, height)
            size = rng.uniform(0.012, 0.03) * unit
            colour = (*rng.choice(colours), 200)
            kind = rng.randrange(3)
            if kind == 0:
                draw.ellipse([x - size, y - size, x + size, y + size], fill=colour)
            elif kind == 1:
                angle = rng.uniform(0, math.tau)
                points = [
                    (
                        x + size * 1.3 * math.cos(angle + turn * math.tau / 3),
                        y + size * 1.3 * math.sin(angle + turn * math.tau / 3),
                    )
                    for turn in range(3)
                ]
                draw.polygon(points, fill=colour)
            else:
                draw.line(
                    [(x - size * 1.5, y), (x, y - size), (x + size * 1.5, y)],
                    fill=colour,
                    width=max(2, round(size / 2.5)),
                    joint="curve",
                )

    _overlay(canvas, blobs, blur=unit * 0.01)
    _diagonal_bands(canvas, (255, 255, 255), 26, rng, count=4)
    _overlay(canvas, confetti)


def _paint_dramatic(
    canvas: Image.Image, palette: Palette, rng: random.Random, layout: Layout
) -> None:
    focus = _focus_of(layout)
    width, height = canvas.size
    _add_glow(
        canvas, palette.accent, _radial_mask(canvas.size, focus, (width * 0.55, height * 0.9), 0.85)
    )
    _diagonal_bands(canvas, palette.accent_alt, 40, rng, count=3)
    _add_glow(
        canvas,
        palette.accent_alt,
        _radial_mask(canvas.size, focus, (width * 0.18, height * 0.3), 0.35),
    )
    _add_vignette(canvas, 1.6)
    _add_grain(canvas, rng, 8)


def _paint_minimal(
    canvas: Image.Image, palette: Palette, rng: random.Random, layout: Layout
) -> None:
    focus = _focus_of(layout)
    width, height = canvas.size
    unit = min(width, height)

    dot = max(3, round(unit / 80))
    pitch = dot * 4
    grid_side = pitch * 4 + dot
    margin = round(unit * 0.04)
    corners = [
        (x, y)
        for x in (margin, width - margin - grid_side)
        for y in (margin, height - margin - grid_side)
    ]
    rng.shuffle(corners)
    taken = [box for box in (layout.text_box, layout.selfie_box) if box is not None]
    # The dot grid is decoration: it goes to a corner that no text or photo covers, or nowhere.
    free = [
        corner
        for corner in corners
        if not any(
            _overlaps((*corner, corner[0] + grid_side, corner[1] + grid_side), box) for box in taken
        )
    ]

    def shapes(draw: ImageDraw.ImageDraw) -> None:
        radius = unit * rng.uniform(0.42, 0.5)
        draw.ellipse(
            [focus[0] - radius, focus[1] - radius, focus[0] + radius, focus[1] + radius],
            fill=(*palette.accent_alt, 255),
        )
        if free:
            left, top = free[0]
            for row in range(5):
                for column in range(5):
                    x, y = left + column * pitch, top + row * pitch
                    draw.ellipse([x, y, x + dot, y + dot], fill=(*palette.accent, 200))

    _overlay(canvas, shapes)


def _paint_neon(canvas: Image.Image, palette: Palette, rng: random.Random, layout: Layout) -> None:
    focus = _focus_of(layout)
    width, height = canvas.size
    horizon = height * rng.uniform(0.58, 0.66)
    vanish_x = width * 0.5
    line_width = max(1, round(min(width, height) / 300))

    def grid(draw: ImageDraw.ImageDraw) -> None:
        rows = 12
        for row in range(1, rows + 1):
            y = horizon + (height - horizon) * (row / rows) ** 2.2
            draw.line([(0, y), (width, y)], fill=(*palette.accent, 190), width=line_width)
        for column in range(-14, 15):
            bottom_x = vanish_x + column * width * 0.12
            draw.line(
                [(vanish_x + column * width * 0.01, horizon), (bottom_x, height)],
                fill=(*palette.accent, 150),
                width=line_width,
            )
        draw.line(
            [(0, horizon), (width, horizon)], fill=(*palette.accent_alt, 255), width=line_width * 2
        )

    _add_glow(
        canvas,
        palette.accent_alt,
        _radial_mask(canvas.size, (vanish_x, horizon), (width * 0.7, height * 0.35), 0.6),
    )
    _add_glow(
        canvas, palette.accent, _radial_mask(canvas.size, focus, (width * 0.35, height * 0.6), 0.3)
    )
    grid_layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    grid(ImageDraw.Draw(grid_layer))
    halo = grid_layer.filter(ImageFilter.BoxBlur(line_width * 3))
    canvas.paste(halo, (0, 0), halo)
    canvas.paste(grid_layer, (0, 0), grid_layer)
    _add_vignette(canvas, 0.9)


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
        paint_background=_paint_bold,
        headline_effect="hard_shadow",
        frame="circle",
        subtext_pill=True,
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
        paint_background=_paint_professional,
        headline_effect="soft_shadow",
        frame="rounded",
        subtext_pill=True,
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
        paint_background=_paint_playful,
        headline_effect="highlight",
        frame="circle",
        subtext_pill=False,
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
        paint_background=_paint_dramatic,
        headline_effect="soft_shadow",
        frame="slanted",
        subtext_pill=False,
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
        paint_background=_paint_minimal,
        headline_effect="plain",
        frame="rounded",
        subtext_pill=False,
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
        paint_background=_paint_neon,
        headline_effect="glow",
        frame="circle",
        subtext_pill=False,
        gradient_angle=0,
    ),
}


# --------------------------------------------------------------------------------------------
# Layout


# Fractions of (width, height): text box, alignment, selfie box. Four per orientation.
_SELFIE_LAYOUTS: dict[str, tuple[tuple[str, FractionBox, Align, VAlign, FractionBox], ...]] = {
    "landscape": (
        ("selfie_right", (0.05, 0.07, 0.56, 0.93), "left", "center", (0.58, 0.05, 0.97, 0.95)),
        ("selfie_left", (0.45, 0.07, 0.95, 0.93), "left", "center", (0.03, 0.05, 0.43, 0.95)),
        # The last two let the photo run off the bottom edge, as if leaning into the frame.
        ("selfie_bottom", (0.05, 0.04, 0.95, 0.5), "center", "center", (0.3, 0.52, 0.7, 1.25)),
        ("selfie_corner", (0.05, 0.07, 0.54, 0.93), "left", "top", (0.56, 0.14, 1.0, 1.22)),
    ),
    "square": (
        ("text_top", (0.06, 0.05, 0.94, 0.44), "center", "center", (0.18, 0.46, 0.82, 0.96)),
        ("text_bottom", (0.06, 0.54, 0.94, 0.95), "center", "center", (0.22, 0.04, 0.78, 0.52)),
        ("selfie_right", (0.06, 0.08, 0.55, 0.92), "left", "center", (0.57, 0.2, 0.97, 0.8)),
        ("selfie_left", (0.47, 0.08, 0.94, 0.92), "left", "center", (0.03, 0.2, 0.44, 0.8)),
    ),
    "tall": (
        ("text_top", (0.07, 0.05, 0.93, 0.40), "center", "center", (0.08, 0.42, 0.92, 0.95)),
        ("text_bottom", (0.07, 0.58, 0.93, 0.95), "center", "center", (0.08, 0.05, 0.92, 0.56)),
        ("selfie_top_left", (0.07, 0.56, 0.93, 0.95), "left", "top", (0.05, 0.05, 0.8, 0.54)),
        (
            "selfie_bottom_right",
            (0.07, 0.05, 0.93, 0.44),
            "left",
            "bottom",
            (0.2, 0.46, 0.95, 0.95),
        ),
    ),
}
_TEXT_ONLY_LAYOUTS: tuple[tuple[str, FractionBox, Align, VAlign], ...] = (
    ("centered", (0.07, 0.08, 0.93, 0.92), "center", "center"),
    ("left", (0.07, 0.08, 0.85, 0.92), "left", "center"),
    ("top", (0.07, 0.06, 0.93, 0.66), "center", "top"),
    ("bottom", (0.07, 0.34, 0.93, 0.94), "center", "bottom"),
)
LAYOUT_COUNT = 4


def _orientation(width: int, height: int) -> str:
    ratio = width / height
    if ratio >= 1.25:
        return "landscape"
    if ratio <= 0.8:
        return "tall"
    return "square"


def _plan_layout(
    width: int, height: int, variant: int, has_selfie: bool, platform: str | None
) -> Layout:
    top_safe, bottom_safe = 0.0, 1.0
    if platform in _STORY_PLATFORMS and height > width:
        top_safe, bottom_safe = 0.11, 0.82

    def to_pixels(fraction: FractionBox) -> Box:
        span = bottom_safe - top_safe
        return (
            round(fraction[0] * width),
            round((top_safe + fraction[1] * span) * height),
            round(fraction[2] * width),
            round((top_safe + fraction[3] * span) * height),
        )

    index = variant % LAYOUT_COUNT
    if has_selfie:
        name, text, align, valign, selfie = _SELFIE_LAYOUTS[_orientation(width, height)][index]
        return Layout(name, to_pixels(text), align, valign, to_pixels(selfie))
    name, text, align, valign = _TEXT_ONLY_LAYOUTS[index]
    return Layout(name, to_pixels(text), align, valign, None)


def _frame_box(box: Box, frame: FrameShape) -> Box:
    """The largest box of the frame's proportions centred in the layout's selfie box."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    ratio = {"circle": 1.0, "rounded": 0.82, "slanted": 0.9}[frame]
    frame_width = min(width, round(height * ratio))
    frame_height = min(height, round(frame_width / ratio))
    x = left + (width - frame_width) // 2
    y = top + (height - frame_height) // 2
    return x, y, x + frame_width, y + frame_height


# --------------------------------------------------------------------------------------------
# Selfie and reference pictures


def _decode(data: bytes, target: tuple[int, int]) -> Image.Image:
    with Image.open(io.BytesIO(data)) as source:
        longest = max(target)
        # JPEG can decode at a reduced scale directly, which saves most of the work.
        source.draft("RGB", (longest, longest))
        upright = ImageOps.exif_transpose(source)
        return upright.convert("RGB")


def _shape_mask(frame: FrameShape, size: tuple[int, int], box: Box, grow: float) -> Image.Image:
    """Antialiased L mask of the frame shape in box, enlarged by grow pixels on every side."""
    scale = 2
    mask = Image.new("L", (size[0] * scale, size[1] * scale), 0)
    draw = ImageDraw.Draw(mask)
    left, top, right, bottom = (
        (value - sign * grow) * scale for value, sign in zip(box, (1, 1, -1, -1), strict=True)
    )
    if frame == "circle":
        draw.ellipse([left, top, right, bottom], fill=255)
    elif frame == "rounded":
        radius = (right - left) * 0.12
        draw.rounded_rectangle([left, top, right, bottom], radius=radius, fill=255)
    else:
        slant = (right - left) * 0.16
        draw.polygon(
            [(left + slant, top), (right, top), (right - slant, bottom), (left, bottom)], fill=255
        )
    return mask.reduce(scale)


def _place_selfie(
    canvas: Image.Image, data: bytes, box: Box, style: VibeStyle, palette: Palette
) -> None:
    frame = style.frame
    left, top, right, bottom = _frame_box(box, frame)
    size = (right - left, bottom - top)
    unit = min(size)
    ring = max(2, round(unit * 0.03))
    # Work in a padded crop around the frame so blurs and masks stay small.
    pad = ring * 6
    region = (
        max(0, left - pad),
        max(0, top - pad),
        min(canvas.width, right + pad),
        min(canvas.height, bottom + pad),
    )
    region_size = (region[2] - region[0], region[3] - region[1])
    local_box = (left - region[0], top - region[1], right - region[0], bottom - region[1])
    patch = canvas.crop(region)

    outer = _shape_mask(frame, region_size, local_box, ring)
    halo_colour = palette.accent_alt if style.headline_effect == "glow" else palette.outline
    halo_strength = 1.0 if style.headline_effect in {"glow", "hard_shadow"} else 0.55
    halo = outer.filter(ImageFilter.GaussianBlur(ring * 2.2))
    halo = halo.point(lambda value: round(value * halo_strength))
    if style.headline_effect == "hard_shadow":
        # Shift down-right without wrapping around the patch edges.
        shifted = Image.new("L", region_size, 0)
        shifted.paste(halo, (ring, ring))
        halo = shifted
    patch.paste(Image.new("RGB", region_size, halo_colour), (0, 0), halo)
    ring_colour = {
        "hard_shadow": (255, 255, 255),
        "soft_shadow": palette.accent,
        "glow": palette.accent_alt,
        "highlight": (255, 255, 255),
        "plain": palette.accent,
    }[style.headline_effect]
    patch.paste(Image.new("RGB", region_size, ring_colour), (0, 0), outer)

    photo = ImageOps.fit(_decode(data, size), size, Image.Resampling.LANCZOS, centering=(0.5, 0.4))
    photo_layer = Image.new("RGB", region_size)
    photo_layer.paste(photo, local_box[:2])
    patch.paste(photo_layer, (0, 0), _shape_mask(frame, region_size, local_box, 0))
    canvas.paste(patch, region[:2])


def _reference_texture(canvas: Image.Image, data: bytes, palette: Palette) -> None:
    """Lay the reference picture in as a soft, palette-tinted texture behind everything."""
    small = _scaled_size(canvas.size, 4)
    picture = ImageOps.fit(_decode(data, small), small, Image.Resampling.BILINEAR)
    tone = ImageOps.autocontrast(picture.convert("L")).filter(ImageFilter.GaussianBlur(2))
    # Highlights lean toward the accent so the texture still reads on near-black palettes.
    tinted = ImageOps.colorize(
        tone,
        black=palette.background_end,
        mid=palette.background_start,
        white=_mix(palette.background_start, palette.accent, 0.6),
    )
    texture = tinted.resize(canvas.size, Image.Resampling.BILINEAR)
    canvas.paste(Image.blend(canvas, texture, 0.5))


# --------------------------------------------------------------------------------------------
# Type


def _line_positions(
    fitted: FittedText, font: ImageFont.FreeTypeFont, box: Box, align: Align, top: int
) -> list[list[tuple[float, float, str]]]:
    """Baseline position of every word, laid out line by line inside the box."""
    space = font.getlength(" ")
    rows: list[list[tuple[float, float, str]]] = []
    for line_no, words in enumerate(fitted.lines):
        widths = _word_widths(font, words)
        line_width = sum(widths) + space * (len(words) - 1)
        x: float
        if align == "left":
            x = box[0] + fitted.stroke
        elif align == "right":
            x = box[2] - fitted.stroke - line_width
        else:
            x = box[0] + (box[2] - box[0] - line_width) / 2
        baseline = top + fitted.stroke + fitted.cap_height + line_no * fitted.line_pitch
        row: list[tuple[float, float, str]] = []
        for word, width in zip(words, widths, strict=True):
            row.append((x, baseline, word))
            x += width + space
        rows.append(row)
    return rows


def _draw_headline(
    canvas: Image.Image,
    fitted: FittedText,
    box: Box,
    align: Align,
    top: int,
    style: VibeStyle,
    palette: Palette,
) -> None:
    font = _font(HEADLINE_FONT, fitted.size)
    rows = _line_positions(fitted, font, box, align, top)
    emphasis = _emphasis_word(fitted.lines)
    effect = style.headline_effect
    size = fitted.size

    def colour_of(line_no: int, word_no: int) -> RGB:
        return palette.emphasis if (line_no, word_no) == emphasis else palette.headline

    def draw_words(
        draw: ImageDraw.ImageDraw,
        dx: float,
        dy: float,
        fill: RGB | int,
        stroke: int,
        stroke_fill: RGB | int,
    ) -> None:
        for row in rows:
            for x, baseline, word in row:
                draw.text(
                    (x + dx, baseline + dy),
                    word,
                    font=font,
                    fill=fill,
                    anchor="ls",
                    stroke_width=stroke,
                    stroke_fill=stroke_fill,
                )

    # Blurred effects work on a crop around the text block only.
    blur = size * (0.16 if effect == "glow" else 0.07)
    margin = round(blur * 3 + size * 0.1)
    region = (
        max(0, box[0] - margin),
        max(0, top - margin),
        min(canvas.width, box[2] + margin),
        min(canvas.height, top + fitted.height + margin),
    )
    region_size = (region[2] - region[0], region[3] - region[1])

    def blurred_text_mask(dx: float, dy: float, stroke: int, radius: float) -> Image.Image:
        mask = Image.new("L", region_size, 0)
        draw_words(ImageDraw.Draw(mask), dx - region[0], dy - region[1], 255, stroke, 255)
        return mask.filter(ImageFilter.GaussianBlur(radius))

    patch = canvas.crop(region)
    if effect == "glow":
        halo = blurred_text_mask(0, 0, fitted.stroke * 2, blur)
        patch.paste(Image.new("RGB", region_size, palette.accent), (0, 0), halo)
        inner = blurred_text_mask(0, 0, fitted.stroke, blur * 0.3)
        patch.paste(Image.new("RGB", region_size, palette.emphasis), (0, 0), inner)
    elif effect == "soft_shadow":
        shadow = blurred_text_mask(size * 0.03, size * 0.05, fitted.stroke, blur)
        patch.paste(Image.new("RGB", region_size, palette.outline), (0, 0), shadow)
    canvas.paste(patch, region[:2])

    draw = ImageDraw.Draw(canvas)
    if effect == "hard_shadow":
        offset = max(2, round(size * 0.05))
        draw_words(draw, offset, offset, palette.outline, fitted.stroke, palette.outline)
    if emphasis is not None and effect in {"highlight", "plain"}:
        line_no, word_no = emphasis
        x, baseline, word = rows[line_no][word_no]
        pad_x, pad_y = size * 0.08, size * 0.07
        draw.rounded_rectangle(
            [
                x - pad_x,
                baseline - fitted.cap_height - pad_y,
                x + font.getlength(word) + pad_x,
                baseline + pad_y,
            ],
            radius=size * 0.08,
            fill=palette.emphasis if effect == "highlight" else palette.accent_alt,
        )
    for line_no, row in enumerate(rows):
        for word_no, (x, baseline, word) in enumerate(row):
            fill = colour_of(line_no, word_no)
            stroke_fill = palette.outline
            if effect == "highlight" and (line_no, word_no) == emphasis:
                fill, stroke_fill = palette.outline, palette.emphasis
            elif effect == "plain":
                fill = palette.headline
            elif effect == "glow":
                stroke_fill = palette.accent if (line_no, word_no) != emphasis else palette.outline
            draw.text(
                (x, baseline),
                word,
                font=font,
                fill=fill,
                anchor="ls",
                stroke_width=fitted.stroke,
                stroke_fill=stroke_fill,
            )


def _draw_subtext(
    canvas: Image.Image,
    fitted: FittedText,
    box: Box,
    align: Align,
    top: int,
    style: VibeStyle,
    palette: Palette,
) -> None:
    font = _font(SUBTEXT_FONT, fitted.size)
    rows = _line_positions(fitted, font, box, align, top)
    draw = ImageDraw.Draw(canvas)
    fill = palette.subtext
    if style.subtext_pill:
        pad = fitted.stroke
        for row in rows:
            first_x, baseline, _ = row[0]
            last_x, _, last_word = row[-1]
            draw.rounded_rectangle(
                [
                    first_x - pad,
                    baseline - fitted.cap_height - pad * 0.75,
                    last_x + font.getlength(last_word) + pad,
                    baseline + pad * 0.75,
                ],
                radius=fitted.size * 0.3,
                fill=palette.accent,
            )
    # With a pill the stroke allowance is padding, not an outline to draw.
    stroke = 0 if style.subtext_pill or style.headline_effect == "plain" else fitted.stroke
    for row in rows:
        for x, baseline, word in row:
            draw.text(
                (x, baseline),
                word,
                font=font,
                fill=fill,
                anchor="ls",
                stroke_width=stroke,
                stroke_fill=palette.outline,
            )


def _draw_accent_bar(
    canvas: Image.Image, layout: Layout, top: int, thickness: int, colour: RGB
) -> None:
    left, _, right, _ = layout.text_box
    length = round((right - left) * 0.22)
    if layout.align == "left":
        start = left
    elif layout.align == "right":
        start = right - length
    else:
        start = left + (right - left - length) // 2
    ImageDraw.Draw(canvas).rounded_rectangle(
        [start, top, start + length, top + thickness], radius=thickness / 2, fill=colour
    )


def _draw_text_block(
    canvas: Image.Image, brief: StudioBrief, layout: Layout, style: VibeStyle, palette: Palette
) -> None:
    headline = _drawable_text(HEADLINE_FONT, brief.headline.upper())
    subtext = _drawable_text(SUBTEXT_FONT, brief.subtext or "")
    left, top, right, bottom = layout.text_box
    box_width, box_height = right - left, bottom - top
    unit = min(canvas.size)
    gap = round(unit * 0.025)
    # Without a photo the freed space carries an accent bar between headline and subtext.
    bar = max(3, round(unit * 0.014)) if layout.selfie_box is None and headline else 0
    separator = gap + (bar + gap if bar else 0)

    subtext_fit: FittedText | None = None
    if subtext:
        share = 0.3 if headline else 1.0
        subtext_fit = _fit_text(
            subtext,
            SUBTEXT_ON_PILL_TYPE if style.subtext_pill else SUBTEXT_TYPE,
            box_width,
            round(box_height * share) - (separator if headline else 0),
            max_lines=MAX_SUBTEXT_LINES,
            min_size=max(10, round(unit * 0.03)),
            max_size=round(unit * (0.09 if headline else 0.2)),
        )
    headline_fit: FittedText | None = None
    if headline:
        subtext_room = subtext_fit.height + separator if subtext_fit else 0
        headline_fit = _fit_text(
            headline,
            HEADLINE_TYPE if style.headline_effect != "plain" else UNSTROKED_HEADLINE_TYPE,
            box_width,
            box_height - subtext_room,
            max_lines=MAX_HEADLINE_LINES,
            min_size=max(12, round(unit * 0.06)),
            max_size=round(canvas.height * 0.55),
        )

    block_height = sum(
        (
            headline_fit.height if headline_fit else 0,
            subtext_fit.height if subtext_fit else 0,
            separator if headline_fit and subtext_fit else (bar + gap if bar else 0),
        )
    )
    if layout.valign == "top":
        cursor = top
    elif layout.valign == "bottom":
        cursor = bottom - block_height
    else:
        cursor = top + (box_height - block_height) // 2
    if headline_fit:
        _draw_headline(canvas, headline_fit, layout.text_box, layout.align, cursor, style, palette)
        cursor += headline_fit.height + gap
        if bar:
            _draw_accent_bar(canvas, layout, cursor, bar, palette.accent)
            cursor += bar + gap
    if subtext_fit:
        _draw_subtext(canvas, subtext_fit, layout.text_box, layout.align, cursor, style, palette)


# --------------------------------------------------------------------------------------------
# Entry point


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
    palette = _varied_palette(style.palette, rng)
    size = (brief.width, brief.height)
    layout = _plan_layout(
        brief.width, brief.height, variant, brief.selfie is not None, brief.platform
    )

    canvas = _linear_gradient(
        size,
        palette.background_start,
        palette.background_end,
        style.gradient_angle + rng.uniform(-15, 15),
    )
    if brief.reference is not None:
        _reference_texture(canvas, brief.reference, palette)
    style.paint_background(canvas, palette, rng, layout)
    if brief.selfie is not None and layout.selfie_box is not None:
        _place_selfie(canvas, brief.selfie, layout.selfie_box, style, palette)
    _draw_text_block(canvas, brief, layout, style, palette)

    buffer = io.BytesIO()
    # No pnginfo, exif or icc_profile: the bytes depend only on the pixels. Level 3 encodes
    # about twice as fast as the default for files some 10% larger.
    canvas.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


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
        )
        # Pillow work is CPU-bound: it runs in the render pool, away from requests.
        return await self.render_pool.run(
            render_thumbnail, brief, seed=request.seed, variant=request.variant
        )

    async def close(self) -> None:
        return None
