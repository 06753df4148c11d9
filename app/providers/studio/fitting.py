"""Fonts and text fitting: the largest size at which words fit a box, wrapped and balanced."""

from __future__ import annotations

import functools
import importlib.util
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import combinations, pairwise
from pathlib import Path

from PIL import ImageFont

FONTS_DIR = Path(__file__).resolve().parent / "fonts"
HEADLINE_FONT = FONTS_DIR / "BebasNeue-Bold.otf"
SUBTEXT_FONT = FONTS_DIR / "LeagueSpartan-Bold.otf"


def _packaged_font(package: str, name: str) -> Path:
    """A font file shipped by a font package on PyPI, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "files" / name
        if path.is_file():
            return path
    # requirements.txt installs both; an install without them still draws every headline.
    return HEADLINE_FONT


# Red Hat Display Black (font-rhd) and Fredoka One (font-fredoka-one), SIL OFL 1.1.
DISPLAY_FONT = _packaged_font("font_rhd", "RedHatDisplay-Black.ttf")
ROUNDED_FONT = _packaged_font("font_fredoka_one", "FredokaOne-Regular.ttf")
MAX_HEADLINE_LINES = 3
MAX_SUBTEXT_LINES = 2
# Longer input cannot be shown legibly anyway; capping keeps fitting time bounded.
MAX_TEXT_CHARS = 240
ELLIPSIS = "…"
_POWER_WORDS = frozenset(
    "ALWAYS BEST BIGGEST CRAZY EASY EPIC EVERYONE FAST FINALLY FIRST FREE HOW HUGE "
    "INSANE LAST MONEY NEVER NEW NOBODY ONLY REAL SECRET STOP TRUTH ULTIMATE WHY WIN "
    "WORST".split()
)


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
    font_path: Path
    lines: tuple[tuple[str, ...], ...]
    size: int
    cap_height: int
    line_pitch: int
    stroke: int
    height: int


# Bebas Neue is all caps with no descenders, so its lines can sit close together.
HEADLINE_TYPE = TypeSpec(HEADLINE_FONT, pitch_ratio=1.12, descent_ratio=0.04, stroke_ratio=0.045)
UNSTROKED_HEADLINE_TYPE = replace(HEADLINE_TYPE, stroke_ratio=0.0)
# Wide geometric capitals for the calmer vibes, rounded ones for the playful one.
DISPLAY_HEADLINE_TYPE = TypeSpec(
    DISPLAY_FONT, pitch_ratio=1.2, descent_ratio=0.08, stroke_ratio=0.04
)
ROUNDED_HEADLINE_TYPE = TypeSpec(
    ROUNDED_FONT, pitch_ratio=1.18, descent_ratio=0.08, stroke_ratio=0.05
)
SUBTEXT_TYPE = TypeSpec(SUBTEXT_FONT, pitch_ratio=1.45, descent_ratio=0.3, stroke_ratio=0.05)
# A pill needs padding around the words; the stroke allowance reserves it.
SUBTEXT_ON_PILL_TYPE = replace(SUBTEXT_TYPE, stroke_ratio=0.45)


@functools.cache
def load_font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    # BASIC layout gives the same glyph positions whether or not libraqm is installed.
    return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)


@functools.cache
def _missing_glyph_signature(path: Path) -> tuple[tuple[int, int], bytes]:
    mask = load_font(path, 48).getmask("\U0010fffd")
    return mask.size, bytes(mask)


@functools.cache
def _has_glyph(path: Path, char: str) -> bool:
    mask = load_font(path, 48).getmask(char)
    return (mask.size, bytes(mask)) != _missing_glyph_signature(path)


def drawable_text(path: Path, text: str) -> str:
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


def word_widths(font: ImageFont.FreeTypeFont, words: Sequence[str]) -> list[float]:
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
    cap = _cap_height(load_font(spec.font_path, size))
    pitch = max(cap + 1, round(cap * spec.pitch_ratio))
    stroke = spec.stroke_at(size)
    height = cap + pitch * (len(lines) - 1) + round(cap * spec.descent_ratio) + 2 * stroke
    return FittedText(
        font_path=spec.font_path,
        lines=tuple(tuple(line) for line in lines),
        size=size,
        cap_height=cap,
        line_pitch=pitch,
        stroke=stroke,
        height=height,
    )


def fit_text(
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
        font = load_font(spec.font_path, size)
        stroke = spec.stroke_at(size)
        widths = word_widths(font, words)
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
    font = load_font(spec.font_path, size)
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


def emphasis_word(lines: Sequence[Sequence[str]]) -> tuple[int, int] | None:
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
