"""Drawing the headline and subtext with each vibe's effect, inside the layout's text box."""

from __future__ import annotations

from dataclasses import dataclass, replace

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from app.providers.studio.brief import StudioBrief
from app.providers.studio.fitting import (
    HEADLINE_FONT,
    HEADLINE_TYPE,
    MAX_HEADLINE_LINES,
    MAX_SUBTEXT_LINES,
    SUBTEXT_FONT,
    SUBTEXT_ON_PILL_TYPE,
    SUBTEXT_TYPE,
    UNSTROKED_HEADLINE_TYPE,
    FittedText,
    drawable_text,
    emphasis_word,
    fit_text,
    load_font,
    word_widths,
)
from app.providers.studio.layouts import Align, Box, Layout
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
    font = load_font(HEADLINE_FONT, fitted.size)
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
    font = load_font(SUBTEXT_FONT, fitted.size)
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


@dataclass(frozen=True, slots=True)
class TextBlock:
    """The fitted headline and subtext, and the box they are set in."""

    box: Box
    headline: FittedText | None
    subtext: FittedText | None
    gap: int
    bar: int


def _grown_box(box: Box, canvas_size: tuple[int, int], layout: Layout, scale: float) -> Box:
    """The text box enlarged by scale from its aligned edge, kept inside the canvas margins."""
    canvas_width, canvas_height = canvas_size
    margin_x, margin_y = round(canvas_width * 0.04), round(canvas_height * 0.04)
    left, top, right, bottom = box
    width = min(canvas_width - 2 * margin_x, round((right - left) * scale))
    height = min(canvas_height - 2 * margin_y, round((bottom - top) * scale))

    def place(start: int, end: int, size: int, anchor: str, low: int, high: int) -> int:
        if anchor in {"left", "top"}:
            origin = start
        elif anchor in {"right", "bottom"}:
            origin = end - size
        else:
            origin = (start + end - size) // 2
        return max(low, min(origin, high - size))

    new_left = place(left, right, width, layout.align, margin_x, canvas_width - margin_x)
    new_top = place(top, bottom, height, layout.valign, margin_y, canvas_height - margin_y)
    return new_left, new_top, new_left + width, new_top + height


def _fit_block(
    canvas_size: tuple[int, int],
    headline: str,
    subtext: str,
    box: Box,
    *,
    has_photo: bool,
    style: VibeStyle,
    headline_max: int | None = None,
) -> TextBlock:
    left, top, right, bottom = box
    box_width, box_height = right - left, bottom - top
    unit = min(canvas_size)
    gap = round(unit * 0.025)
    # Without a photo the freed space carries an accent bar between headline and subtext.
    bar = max(3, round(unit * 0.014)) if not has_photo and headline else 0
    separator = gap + (bar + gap if bar else 0)

    subtext_fit: FittedText | None = None
    if subtext:
        share = 0.3 if headline else 1.0
        subtext_fit = fit_text(
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
        min_size = max(12, round(unit * 0.06))
        max_size = round(canvas_size[1] * 0.55)
        if headline_max is not None:
            max_size = headline_max
            min_size = min(min_size, headline_max)
        headline_fit = fit_text(
            headline,
            HEADLINE_TYPE if style.headline_effect != "plain" else UNSTROKED_HEADLINE_TYPE,
            box_width,
            box_height - subtext_room,
            max_lines=MAX_HEADLINE_LINES,
            min_size=min_size,
            max_size=max_size,
        )
    return TextBlock(box=box, headline=headline_fit, subtext=subtext_fit, gap=gap, bar=bar)


def fit_text_block(
    canvas_size: tuple[int, int], brief: StudioBrief, layout: Layout, style: VibeStyle
) -> TextBlock:
    """Fit the brief's words to the layout, the headline at `brief.headline_scale` times the
    size that fits by default (a bigger headline may grow past its box, never off the frame)."""
    headline = drawable_text(HEADLINE_FONT, brief.headline.upper())
    subtext = drawable_text(SUBTEXT_FONT, brief.subtext or "")
    has_photo = layout.selfie_box is not None
    natural = _fit_block(
        canvas_size, headline, subtext, layout.text_box, has_photo=has_photo, style=style
    )
    scale = brief.headline_scale
    if natural.headline is None or abs(scale - 1.0) < 0.01:
        return natural
    target = max(8, round(natural.headline.size * scale))
    box = _grown_box(layout.text_box, canvas_size, layout, scale) if scale > 1 else layout.text_box
    return _fit_block(
        canvas_size, headline, subtext, box, has_photo=has_photo, style=style, headline_max=target
    )


def draw_text_block(
    canvas: Image.Image, brief: StudioBrief, layout: Layout, style: VibeStyle, palette: Palette
) -> None:
    block = fit_text_block(canvas.size, brief, layout, style)
    layout = replace(layout, text_box=block.box)
    headline_fit, subtext_fit, gap, bar = block.headline, block.subtext, block.gap, block.bar
    separator = gap + (bar + gap if bar else 0)
    top, bottom = block.box[1], block.box[3]
    box_height = bottom - top

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
