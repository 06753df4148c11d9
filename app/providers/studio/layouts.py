"""Where things go: the text box, alignment and photo box of each layout, per orientation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Box = tuple[int, int, int, int]
FractionBox = tuple[float, float, float, float]
Align = Literal["left", "center", "right"]
VAlign = Literal["top", "center", "bottom"]
FrameShape = Literal["circle", "rounded", "slanted"]
# Tall platforms whose app chrome covers the top and bottom of the frame.
_STORY_PLATFORMS = frozenset({"instagram_story", "instagram_reels", "tiktok", "youtube_shorts"})


@dataclass(frozen=True, slots=True)
class Layout:
    name: str
    text_box: Box
    align: Align
    valign: VAlign
    selfie_box: Box | None
    # The selfie box holds the person cut out of their photo, not the framed photo.
    cutout: bool = False


def focus_of(layout: Layout) -> tuple[int, int]:
    box = layout.selfie_box or layout.text_box
    return (box[0] + box[2]) // 2, (box[1] + box[3]) // 2


def overlaps(first: Box, second: Box) -> bool:
    return (
        first[0] < second[2]
        and second[0] < first[2]
        and first[1] < second[3]
        and second[1] < first[3]
    )


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
# With the person cut out: they stand large beside the headline or behind it, running off the
# bottom edge like a bust. A person box reaching 1.0 keeps to the canvas edge on story platforms.
_CUTOUT_LAYOUTS: dict[str, tuple[tuple[str, FractionBox, Align, VAlign, FractionBox], ...]] = {
    "landscape": (
        ("person_right", (0.05, 0.08, 0.56, 0.92), "left", "center", (0.5, 0.03, 1.0, 1.0)),
        ("person_left", (0.46, 0.08, 0.95, 0.92), "left", "center", (0.0, 0.03, 0.5, 1.0)),
        ("person_behind", (0.05, 0.5, 0.95, 0.95), "center", "bottom", (0.18, 0.02, 0.82, 1.0)),
        ("person_right_large", (0.04, 0.06, 0.5, 0.94), "left", "top", (0.36, -0.04, 1.06, 1.0)),
    ),
    "square": (
        ("person_right", (0.05, 0.06, 0.5, 0.94), "left", "center", (0.44, 0.1, 1.02, 1.0)),
        ("person_left", (0.5, 0.06, 0.95, 0.94), "left", "center", (-0.02, 0.1, 0.56, 1.0)),
        ("text_top", (0.05, 0.03, 0.95, 0.33), "center", "center", (0.08, 0.34, 0.92, 1.0)),
        ("text_bottom", (0.05, 0.6, 0.95, 0.96), "center", "bottom", (0.12, 0.02, 0.88, 1.0)),
    ),
    "tall": (
        ("text_top", (0.06, 0.04, 0.94, 0.36), "center", "center", (0.0, 0.37, 1.0, 1.0)),
        ("text_bottom", (0.06, 0.68, 0.94, 0.97), "center", "bottom", (-0.1, 0.0, 1.1, 1.0)),
        ("text_top_left", (0.06, 0.04, 0.94, 0.4), "left", "top", (0.1, 0.38, 1.1, 1.0)),
        ("text_top_right", (0.06, 0.04, 0.94, 0.4), "right", "top", (-0.1, 0.38, 0.9, 1.0)),
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


def _mirrored(
    entry: tuple[str, FractionBox, Align, VAlign, FractionBox],
) -> tuple[str, FractionBox, Align, VAlign, FractionBox]:
    name, text, align, valign, selfie = entry
    flipped: dict[str, Align] = {"left": "right", "right": "left", "center": "center"}

    def flip(box: FractionBox) -> FractionBox:
        # Rounded so that a mirror of a layout's twin comes out equal to it.
        return (round(1 - box[2], 6), box[1], round(1 - box[0], 6), box[3])

    return f"{name}_mirrored", flip(text), flipped[align], valign, flip(selfie)


def _side_of(selfie: FractionBox) -> str | None:
    centre = (selfie[0] + selfie[2]) / 2
    if centre < 0.46:
        return "left"
    if centre > 0.54:
        return "right"
    return None


def _sided_layouts(
    orientation: str, side: str, *, cutout: bool = False
) -> list[tuple[str, FractionBox, Align, VAlign, FractionBox]]:
    """The orientation's photo (or cutout) layouts with the person on `side`, mirrored where
    needed. A layout and the mirror of its twin count once, as the original."""
    table = _CUTOUT_LAYOUTS if cutout else _SELFIE_LAYOUTS
    chosen: list[tuple[str, FractionBox, Align, VAlign, FractionBox]] = []
    for entry in table[orientation]:
        placed = _side_of(entry[4])
        if placed is None:
            continue
        candidate = entry if placed == side else _mirrored(entry)
        twin = next((i for i, other in enumerate(chosen) if other[1:] == candidate[1:]), None)
        if twin is None:
            chosen.append(candidate)
        elif candidate is entry:
            chosen[twin] = entry
    return chosen


def plan_layout(
    width: int,
    height: int,
    variant: int,
    has_selfie: bool,
    platform: str | None,
    person_side: str | None = None,
    *,
    cutout: bool = False,
) -> Layout:
    top_safe, bottom_safe = 0.0, 1.0
    if platform in _STORY_PLATFORMS and height > width:
        top_safe, bottom_safe = 0.11, 0.82

    def to_pixels(fraction: FractionBox, *, to_edge: bool = False) -> Box:
        span = bottom_safe - top_safe
        bottom = round((top_safe + fraction[3] * span) * height)
        return (
            round(fraction[0] * width),
            round((top_safe + fraction[1] * span) * height),
            round(fraction[2] * width),
            height if to_edge and fraction[3] >= 1.0 else bottom,
        )

    index = variant % LAYOUT_COUNT
    if has_selfie:
        orientation = _orientation(width, height)
        if person_side in {"left", "right"}:
            sided = _sided_layouts(orientation, person_side, cutout=cutout)
            entry = sided[variant % len(sided)]
        else:
            entry = (_CUTOUT_LAYOUTS if cutout else _SELFIE_LAYOUTS)[orientation][index]
        name, text, align, valign, person = entry
        if cutout:
            return Layout(
                name, to_pixels(text), align, valign, to_pixels(person, to_edge=True), cutout=True
            )
        return Layout(name, to_pixels(text), align, valign, to_pixels(person))
    name, text, align, valign = _TEXT_ONLY_LAYOUTS[index]
    return Layout(name, to_pixels(text), align, valign, None)


def frame_box(box: Box, frame: FrameShape) -> Box:
    """The largest box of the frame's proportions centred in the layout's selfie box."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    ratio = {"circle": 1.0, "rounded": 0.82, "slanted": 0.9}[frame]
    frame_width = min(width, round(height * ratio))
    frame_height = min(height, round(frame_width / ratio))
    x = left + (width - frame_width) // 2
    y = top + (height - frame_height) // 2
    return x, y, x + frame_width, y + frame_height
