"""Drawing the headline and subtext with each vibe's effect, inside the layout's text box."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from app.providers.studio.brief import StudioBrief
from app.providers.studio.fitting import (
    MAX_HEADLINE_LINES,
    MAX_SUBTEXT_LINES,
    SUBTEXT_FONT,
    SUBTEXT_ON_PILL_TYPE,
    SUBTEXT_TYPE,
    FittedText,
    TypeSpec,
    drawable_text,
    emphasis_word,
    fit_text,
    load_font,
    word_widths,
)
from app.providers.studio.layouts import Align, Box, Layout, VAlign
from app.providers.studio.palette import RGB, Palette
from app.providers.studio.styles import VibeStyle


def _line_positions(
    fitted: FittedText, font: ImageFont.FreeTypeFont, box: Box, align: Align, top: int
) -> list[list[tuple[float, float, str]]]:
    """Baseline position of every word, laid out line by line inside the box."""
    space = font.getlength(" ")
    rows: list[list[tuple[float, float, str]]] = []
    for line_no, words in enumerate(fitted.lines):
        widths = word_widths(font, words)
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
    font = load_font(fitted.font_path, fitted.size)
    rows = _line_positions(fitted, font, box, align, top)
    emphasis = emphasis_word(fitted.lines)
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
    font = load_font(fitted.font_path, fitted.size)
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
    canvas: Image.Image, box: Box, align: Align, top: int, thickness: int, colour: RGB
) -> None:
    left, _, right, _ = box
    length = round((right - left) * 0.22)
    if align == "left":
        start = left
    elif align == "right":
        start = right - length
    else:
        start = left + (right - left - length) // 2
    ImageDraw.Draw(canvas).rounded_rectangle(
        [start, top, start + length, top + thickness], radius=thickness / 2, fill=colour
    )


@dataclass(frozen=True, slots=True)
class _Block:
    headline: FittedText | None
    subtext: FittedText | None
    width: float
    height: int


def _widest(fitted: FittedText | None) -> float:
    if fitted is None:
        return 0.0
    font = load_font(fitted.font_path, fitted.size)
    space = font.getlength(" ")
    widths = (
        sum(word_widths(font, line)) + space * (len(line) - 1) for line in fitted.lines if line
    )
    return max(widths, default=0.0) + 2 * fitted.stroke


def _fit_block(
    headline: str,
    subtext: str,
    headline_type: TypeSpec,
    subtext_type: TypeSpec,
    size: tuple[int, int],
    box_width: int,
    box_height: int,
    *,
    gap: int,
    bar: int,
    headline_max: int | None = None,
) -> _Block:
    unit = min(size)
    separator = gap + (bar + gap if bar else 0)
    subtext_fit: FittedText | None = None
    if subtext:
        share = 0.3 if headline else 1.0
        subtext_fit = fit_text(
            subtext,
            subtext_type,
            box_width,
            round(box_height * share) - (separator if headline else 0),
            max_lines=MAX_SUBTEXT_LINES,
            min_size=max(10, round(unit * 0.03)),
            max_size=round(unit * (0.09 if headline else 0.2)),
        )
    headline_fit: FittedText | None = None
    if headline:
        subtext_room = subtext_fit.height + separator if subtext_fit else 0
        min_size = max(12, round(unit * 0.06))
        max_size = round(size[1] * 0.55)
        if headline_max is not None:
            # A scaled headline: at most the size asked for, and smaller than the usual floor
            # when a smaller headline was asked for.
            max_size = headline_max
            min_size = min(min_size, headline_max)
        headline_fit = fit_text(
            headline,
            headline_type,
            box_width,
            box_height - subtext_room,
            max_lines=MAX_HEADLINE_LINES,
            min_size=min_size,
            max_size=max_size,
        )
    height = sum(
        (
            headline_fit.height if headline_fit else 0,
            subtext_fit.height if subtext_fit else 0,
            separator if headline_fit and subtext_fit else (bar + gap if bar else 0),
        )
    )
    width = max(_widest(headline_fit), _widest(subtext_fit))
    return _Block(headline_fit, subtext_fit, width, height)


def _grown_box(box: Box, size: tuple[int, int], align: Align, valign: VAlign, scale: float) -> Box:
    """The text box enlarged by scale from its aligned edge, kept inside the canvas margins."""
    canvas_width, canvas_height = size
    margin_x, margin_y = round(canvas_width * 0.04), round(canvas_height * 0.04)
    left, top, right, bottom = box
    width = min(canvas_width - 2 * margin_x, round((right - left) * scale))
    height = min(canvas_height - 2 * margin_y, round((bottom - top) * scale))

    def place(start: int, end: int, length: int, anchor: str, low: int, high: int) -> int:
        if anchor in {"left", "top"}:
            origin = start
        elif anchor in {"right", "bottom"}:
            origin = end - length
        else:
            origin = (start + end - length) // 2
        return max(low, min(origin, high - length))

    new_left = place(left, right, width, align, margin_x, canvas_width - margin_x)
    new_top = place(top, bottom, height, valign, margin_y, canvas_height - margin_y)
    return new_left, new_top, new_left + width, new_top + height


def _clear_of_face(grown: Box, box: Box, person: Box) -> Box:
    """A grown box kept off a cut-out person's face, but never smaller than the layout's box.

    The face stands centred across the person's box, in its upper part: text beside the person
    stops a quarter of the box's width from its middle, text above does not grow into the box,
    and text over the body does not rise to the face.
    """
    left, top, right, bottom = grown
    centre = (person[0] + person[2]) / 2
    reach = (person[2] - person[0]) / 4
    text_centre = (box[0] + box[2]) / 2
    if box[3] <= person[1] + (person[3] - person[1]) * 0.05:
        bottom = min(bottom, max(box[3], person[1]))
    elif text_centre > centre + reach:
        left = max(left, min(box[0], round(centre + reach)))
    elif text_centre < centre - reach:
        right = min(right, max(box[2], round(centre - reach)))
    else:
        top = max(top, min(box[1], round(person[1] + (person[3] - person[1]) * 0.45)))
    return left, top, right, bottom


def _fit_in_disc(
    fit: Callable[[int, int], _Block], centre: tuple[float, float], radius: float
) -> tuple[_Block, Box]:
    """The block with the largest headline whose bounds stay inside the disc, and its box.

    Tries boxes of several proportions inscribed in the disc; words never cross its edge.
    """
    room = radius * 0.92
    best: tuple[_Block, Box] | None = None
    for share in (0.96, 0.9, 0.84, 0.78, 0.7, 0.6):
        width = round(2 * room * share)
        height = round(2 * math.sqrt(max(0.0, room**2 - (width / 2) ** 2)))
        block = fit(width, height)
        if math.hypot(block.width / 2, block.height / 2) > room:
            continue
        size = block.headline.size if block.headline else 0
        if best is None or size > (best[0].headline.size if best[0].headline else 0):
            box = (
                round(centre[0] - width / 2),
                round(centre[1] - height / 2),
                round(centre[0] + width / 2),
                round(centre[1] + height / 2),
            )
            best = (block, box)
    if best is None:
        side = round(room * math.sqrt(2))
        block = fit(side, side)
        box = (
            round(centre[0] - side / 2),
            round(centre[1] - side / 2),
            round(centre[0] + side / 2),
            round(centre[1] + side / 2),
        )
        best = (block, box)
    return best


def _overlap_share(box: Box, other: Box | None) -> float:
    """How much of box the other box covers."""
    if other is None:
        return 0.0
    width = min(box[2], other[2]) - max(box[0], other[0])
    height = min(box[3], other[3]) - max(box[1], other[1])
    area = (box[2] - box[0]) * (box[3] - box[1])
    return max(0, width) * max(0, height) / area if area else 0.0


def _draw_backing(
    canvas: Image.Image,
    bounds: tuple[float, float, float, float],
    style: VibeStyle,
    palette: Palette,
    pad: int,
) -> None:
    """Set the text apart from a person behind it: a light band for plain type, else a scrim."""
    left, top, right, bottom = bounds
    shape = [left - pad * 1.5, top - pad, right + pad * 1.5, bottom + pad]
    layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if style.headline_effect == "plain":
        draw.rounded_rectangle(shape, radius=pad, fill=(*palette.background_start, 235))
    else:
        draw.rounded_rectangle(shape, radius=pad * 2, fill=(*palette.outline, 125))
        layer = layer.filter(ImageFilter.GaussianBlur(pad * 1.6))
    canvas.paste(layer, (0, 0), layer)


@dataclass(frozen=True, slots=True)
class TextPlan:
    """The fitted text block and where it goes, before anything is drawn."""

    block: _Block
    box: Box
    align: Align
    top: int  # where the block starts
    gap: int
    bar: int
    disc: tuple[float, float, float] | None  # centre x, centre y, radius
    backed: bool  # a band or scrim sets it apart from the person behind it

    @property
    def bottom(self) -> int:
        return self.top + self.block.height


def set_text_block(
    size: tuple[int, int], brief: StudioBrief, layout: Layout, style: VibeStyle
) -> TextPlan:
    """Fit the headline and subtext to the layout's text box (or the vibe's disc)."""
    headline_type = style.headline_type
    if style.headline_effect == "plain":
        headline_type = replace(headline_type, stroke_ratio=0.0)
    subtext_type = SUBTEXT_ON_PILL_TYPE if style.subtext_pill else SUBTEXT_TYPE
    headline = drawable_text(headline_type.font_path, brief.headline.upper())
    subtext = drawable_text(SUBTEXT_FONT, brief.subtext or "")
    text_box, align, valign = layout.text_box, layout.align, layout.valign
    unit = min(size)
    gap = round(unit * 0.025)
    # Without a photo the freed space carries an accent bar between headline and subtext.
    bar = max(3, round(unit * 0.014)) if layout.selfie_box is None and headline else 0

    headline_max: int | None = None

    def fit(width: int, height: int) -> _Block:
        return _fit_block(
            headline,
            subtext,
            headline_type,
            subtext_type,
            size,
            width,
            height,
            gap=gap,
            bar=bar,
            headline_max=headline_max,
        )

    # The headline at `brief.headline_scale` times the size that fits by default: fitted once
    # as usual, then again capped at the scaled size, in a grown box (or disc) when bigger. A
    # bigger headline may grow past its box, never off the frame; scale 1 is the usual block.
    scale = brief.headline_scale
    scaled = bool(headline) and abs(scale - 1.0) >= 0.01
    disc: tuple[float, float, float] | None = None
    if style.text_disc and layout.selfie_box is None:
        # The text sits inside a disc drawn to fit it, never spilling over its edge.
        radius = max(
            min(text_box[2] - text_box[0], text_box[3] - text_box[1]) / 2 * 1.1, unit * 0.4
        )
        # Words stay on the canvas however far the disc itself reaches past the edge.
        reach = min(radius * 0.92, size[1] / 2)
        centre = (
            (text_box[0] + text_box[2]) / 2,
            min(max((text_box[1] + text_box[3]) / 2, reach), size[1] - reach),
        )
        block, disc_box = _fit_in_disc(fit, centre, radius)
        if scaled and block.headline is not None:
            headline_max = max(8, round(block.headline.size * scale))
            if scale > 1:
                # The words may reach the canvas margins, not past them.
                room = min(
                    centre[0] - size[0] * 0.04,
                    size[0] * 0.96 - centre[0],
                    centre[1] - size[1] * 0.04,
                    size[1] * 0.96 - centre[1],
                )
                radius = max(radius, min(radius * scale, room / 0.92))
            block, disc_box = _fit_in_disc(fit, centre, radius)
        text_box = disc_box
        align, valign = "center", "center"
        hug = max(math.hypot(block.width / 2, block.height / 2) / 0.92, unit * 0.3)
        disc = (*centre, hug)
    else:
        block = fit(text_box[2] - text_box[0], text_box[3] - text_box[1])
        if scaled and block.headline is not None:
            headline_max = max(8, round(block.headline.size * scale))
            if scale > 1:
                text_box = _grown_box(text_box, size, align, valign, scale)
                if layout.cutout and layout.selfie_box is not None:
                    text_box = _clear_of_face(text_box, layout.text_box, layout.selfie_box)
            block = fit(text_box[2] - text_box[0], text_box[3] - text_box[1])

    _, top, _, bottom = text_box
    if valign == "top":
        cursor = top
    elif valign == "bottom":
        cursor = bottom - block.height
    else:
        cursor = top + (bottom - top - block.height) // 2
    # A headline grown over the person is backed as well.
    backed = layout.cutout and _overlap_share(text_box, layout.selfie_box) > 0.3
    return TextPlan(block, text_box, align, cursor, gap, bar, disc, backed)


def draw_text_block(
    canvas: Image.Image, plan: TextPlan, style: VibeStyle, palette: Palette
) -> None:
    block, text_box, align, cursor, gap = plan.block, plan.box, plan.align, plan.top, plan.gap
    if plan.disc is not None:
        x, y, radius = plan.disc
        ImageDraw.Draw(canvas).ellipse(
            [x - radius, y - radius, x + radius, y + radius], fill=palette.accent_alt
        )
    left, _, right, _ = text_box
    if plan.backed:
        x0: float
        if align == "left":
            x0 = left
        elif align == "right":
            x0 = right - block.width
        else:
            x0 = (left + right - block.width) / 2
        _draw_backing(
            canvas, (x0, cursor, x0 + block.width, cursor + block.height), style, palette, gap
        )
    if block.headline:
        _draw_headline(canvas, block.headline, text_box, align, cursor, style, palette)
        cursor += block.headline.height + gap
        if plan.bar:
            _draw_accent_bar(canvas, text_box, align, cursor, plan.bar, palette.accent)
            cursor += plan.bar + gap
    if block.subtext:
        _draw_subtext(canvas, block.subtext, text_box, align, cursor, style, palette)
