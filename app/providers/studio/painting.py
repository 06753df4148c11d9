"""Background painting: gradients, glows, grain and each vibe's decoration."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from app.providers.studio.layouts import Layout, focus_of, overlaps
from app.providers.studio.palette import RGB, Palette


def scaled_size(size: tuple[int, int], divisor: int) -> tuple[int, int]:
    return max(2, size[0] // divisor), max(2, size[1] // divisor)


def linear_gradient(size: tuple[int, int], start: RGB, end: RGB, angle: float) -> Image.Image:
    # Smooth fields are computed small and upscaled: the result is indistinguishable and cheap.
    small = scaled_size(size, 8)
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
    small = scaled_size(size, divisor)
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
    small = scaled_size(canvas.size, 8)
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


def paint_bold(canvas: Image.Image, palette: Palette, rng: random.Random, layout: Layout) -> None:
    focus = focus_of(layout)
    width, height = canvas.size
    _rays(canvas, focus, palette.accent, count=18, opacity=46, rng=rng)
    _add_glow(
        canvas, palette.accent, _radial_mask(canvas.size, focus, (width * 0.45, height * 0.7), 0.55)
    )
    _add_vignette(canvas, 1.1)


def paint_professional(
    canvas: Image.Image, palette: Palette, rng: random.Random, layout: Layout
) -> None:
    focus = focus_of(layout)
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


def paint_playful(
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


def paint_dramatic(
    canvas: Image.Image, palette: Palette, rng: random.Random, layout: Layout
) -> None:
    focus = focus_of(layout)
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


def paint_minimal(
    canvas: Image.Image, palette: Palette, rng: random.Random, layout: Layout
) -> None:
    focus = focus_of(layout)
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
            overlaps((*corner, corner[0] + grid_side, corner[1] + grid_side), box) for box in taken
        )
    ]

    def shapes(draw: ImageDraw.ImageDraw) -> None:
        radius = unit * rng.uniform(0.42, 0.5)
        # Behind a photo; text alone gets a disc sized to it when the text is set.
        if layout.selfie_box is not None:
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


def paint_neon(canvas: Image.Image, palette: Palette, rng: random.Random, layout: Layout) -> None:
    focus = focus_of(layout)
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
