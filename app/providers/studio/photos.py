"""The caller's pictures: the selfie framed or cut out, the reference as a background texture."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from app.providers.studio.cutout import Cutout
from app.providers.studio.layouts import Box, FrameShape, frame_box
from app.providers.studio.painting import scaled_size
from app.providers.studio.palette import RGB, Palette, mix
from app.providers.studio.styles import VibeStyle


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


def place_selfie(
    canvas: Image.Image, data: bytes, box: Box, style: VibeStyle, palette: Palette
) -> None:
    frame = style.frame
    left, top, right, bottom = frame_box(box, frame)
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


def reference_texture(canvas: Image.Image, data: bytes, palette: Palette) -> None:
    """Lay the reference picture in as a soft, palette-tinted texture behind everything."""
    small = scaled_size(canvas.size, 4)
    picture = ImageOps.fit(_decode(data, small), small, Image.Resampling.BILINEAR)
    tone = ImageOps.autocontrast(picture.convert("L")).filter(ImageFilter.GaussianBlur(2))
    # Highlights lean toward the accent so the texture still reads on near-black palettes.
    tinted = ImageOps.colorize(
        tone,
        black=palette.background_end,
        mid=palette.background_start,
        white=mix(palette.background_start, palette.accent, 0.6),
    )
    texture = tinted.resize(canvas.size, Image.Resampling.BILINEAR)
    canvas.paste(Image.blend(canvas, texture, 0.5))


def _grown(alpha: Image.Image, by: float) -> Image.Image:
    """The alpha mask grown outward by about `by` pixels, with a soft one-pixel edge."""
    if by < 0.5:
        return alpha
    # A blurred step falls to 2% about two sigmas out: thresholding there grows the shape.
    spread = alpha.filter(ImageFilter.GaussianBlur(by / 2))
    return spread.point(lambda value: min(255, value * 12))


def _tinted(size: tuple[int, int], colour: RGB, mask: Image.Image) -> Image.Image:
    layer = Image.new("RGBA", size, (*colour, 0))
    layer.putalpha(mask)
    return layer


def _shifted(mask: Image.Image, dx: int, dy: int) -> Image.Image:
    moved = Image.new("L", mask.size, 0)
    moved.paste(mask, (dx, dy))
    return moved


def place_cutout(
    canvas: Image.Image, cutout: Cutout, box: Box, style: VibeStyle, palette: Palette
) -> None:
    """Stand the cut-out person in the box, as large as it allows, lifted by the vibe's edge.

    A bust sits on the box's bottom edge; the face is centred across the box.
    """
    left, top, right, bottom = box
    person = cutout.image
    scale = min((right - left) / person.width, (bottom - top) / person.height)
    size = (max(1, round(person.width * scale)), max(1, round(person.height * scale)))
    face_x = (cutout.face[0] + cutout.face[2]) / 2 * scale
    x = round((left + right) / 2 - face_x)
    # Keep the body within the box across, as far as the box is wider than the person.
    x = min(max(x, left), right - size[0]) if size[0] <= right - left else x
    y = bottom - size[1] if cutout.cut_at_bottom else top + (bottom - top - size[1]) // 2

    unit = min(canvas.size)
    edge = max(2, round(unit * 0.012))
    pad = edge * 8
    # Work in a padded layer around the person so blurs and masks stay small.
    region = (x - pad, y - pad, x + size[0] + pad, y + size[1] + pad)
    layer_size = (region[2] - region[0], region[3] - region[1])
    resized = person.resize(size, Image.Resampling.LANCZOS)
    alpha = Image.new("L", layer_size, 0)
    alpha.paste(resized.getchannel("A"), (pad, pad))
    layer = Image.new("RGBA", layer_size, (0, 0, 0, 0))

    kind = style.cutout_edge
    if kind == "sticker":
        outline = _grown(alpha, edge)
        shadow = _shifted(outline, edge, edge)
        layer.alpha_composite(_tinted(layer_size, palette.outline, shadow))
        layer.alpha_composite(_tinted(layer_size, (255, 255, 255), outline))
    elif kind == "shadow":
        shadow = alpha.filter(ImageFilter.GaussianBlur(edge * 2.5)).point(lambda v: v * 3 // 5)
        layer.alpha_composite(_tinted(layer_size, palette.outline, _shifted(shadow, 0, edge)))
    elif kind == "glow":
        halo = _grown(alpha, edge * 1.5).filter(ImageFilter.GaussianBlur(edge * 2.5))
        layer.alpha_composite(_tinted(layer_size, palette.accent_alt, halo))
        layer.alpha_composite(_tinted(layer_size, palette.accent, _grown(alpha, edge * 0.5)))
    else:
        rim = _grown(alpha, edge).filter(ImageFilter.GaussianBlur(edge * 3))
        layer.alpha_composite(_tinted(layer_size, palette.accent, rim))
        layer.alpha_composite(_tinted(layer_size, palette.accent_alt, _grown(alpha, edge * 0.4)))
    body = Image.new("RGBA", layer_size, (0, 0, 0, 0))
    body.paste(resized, (pad, pad))
    layer.alpha_composite(body)
    canvas.paste(layer, region[:2], layer)
