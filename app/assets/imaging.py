"""Checking uploaded images and re-encoding them upright and without metadata."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from app.kit.errors import AppError

if TYPE_CHECKING:
    from PIL import Image


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"
    message = "Upload a PNG, JPEG or WebP image."


class ImageTooLarge(AppError):
    status = 422
    code = "image_too_large"
    message = "The image has too many pixels."


class InvalidImage(AppError):
    status = 422
    code = "invalid_image"
    message = "The file is not a readable image; it may be damaged or cut short."


@dataclass(frozen=True, slots=True)
class ImageFormat:
    pillow_name: str
    content_type: str
    extension: str


PNG = ImageFormat("PNG", "image/png", "png")
JPEG = ImageFormat("JPEG", "image/jpeg", "jpg")
WEBP = ImageFormat("WEBP", "image/webp", "webp")


@dataclass(frozen=True, slots=True)
class CleanImage:
    data: bytes
    format: ImageFormat
    width: int
    height: int
    sha256: str


def sniff_format(data: bytes) -> ImageFormat | None:
    """The format the first bytes announce; what the client claims is never consulted."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


def _target_mode(image: Image.Image, fmt: ImageFormat) -> str | None:
    """The mode to convert to before saving in `fmt`, or None when the current one works."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if fmt is JPEG:
        return None if image.mode in ("RGB", "L") else "RGB"
    if fmt is WEBP:
        wanted = "RGBA" if has_alpha else "RGB"
        return None if image.mode == wanted else wanted
    if image.mode in ("1", "L", "LA", "RGB", "RGBA", "I;16"):
        return None
    return "RGBA" if has_alpha else "RGB"


# The colour space an ICC profile describes sits at bytes 16-20 of its header.
_PROFILE_SPACES = {"RGB": b"RGB ", "RGBA": b"RGB ", "L": b"GRAY", "LA": b"GRAY", "CMYK": b"CMYK"}


def _profile_fits(icc_profile: bytes, mode: str) -> bool:
    return icc_profile[16:20] == _PROFILE_SPACES.get(mode)


def _cmyk_to_srgb(image: Image.Image, icc_profile: bytes) -> tuple[Image.Image, bytes | None]:
    """Convert through the image's own CMYK profile, so colours stay as the author saw them."""
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        converted = ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        # An unreadable profile: a plain conversion, and the profile is not kept.
        return image, None
    assert converted is not None
    return converted, srgb.tobytes()


def clean_image(data: bytes, *, max_pixels: int, max_side: int | None = None) -> CleanImage:
    """Check, turn upright, optionally shrink, and re-encode an image; blocking CPU work."""
    # Pillow loads with the first upload; routes that never see an image never pay for it.
    from PIL import Image, ImageOps

    if not data:
        raise InvalidImage("The file is empty.")
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedMediaType()
    try:
        # open() reads only the header, so the pixel count is known before anything is decoded.
        image = Image.open(io.BytesIO(data), formats=[fmt.pillow_name])
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge() from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidImage() from exc
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise ImageTooLarge(
                f"The image is {width}x{height}; at most {max_pixels:,} pixels are accepted."
            )
        try:
            image.load()
            upright = ImageOps.exif_transpose(image)
        except Image.DecompressionBombError as exc:
            raise ImageTooLarge() from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InvalidImage() from exc
    if max_side is not None and max(upright.size) > max_side:
        upright.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    icc_profile = upright.info.get("icc_profile")
    transparency = upright.info.get("transparency")
    mode = _target_mode(upright, fmt)
    if mode is not None:
        if upright.mode == "CMYK" and icc_profile:
            upright, icc_profile = _cmyk_to_srgb(upright, icc_profile)
        upright = upright.convert(mode)
        transparency = None
    if icc_profile and not _profile_fits(icc_profile, upright.mode):
        # A profile for another colour space (CMYK on what is now RGB) would make viewers
        # misread every pixel.
        icc_profile = None
    # A fresh info dict drops EXIF (GPS, camera, orientation), XMP, comments and text chunks;
    # only the colour profile is carried over, since colours would shift without it.
    upright.info = {}
    options: dict[str, object] = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if fmt is JPEG:
        options.update(quality=90, optimize=True)
    elif fmt is WEBP:
        options.update(quality=90, method=4)
    elif transparency is not None:
        options["transparency"] = transparency
    output = io.BytesIO()
    upright.save(output, format=fmt.pillow_name, **options)
    encoded = output.getvalue()
    return CleanImage(
        data=encoded,
        format=fmt,
        width=upright.width,
        height=upright.height,
        sha256=hashlib.sha256(encoded).hexdigest(),
    )


async def clean_image_async(
    data: bytes, *, max_pixels: int, max_side: int | None = None
) -> CleanImage:
    """`clean_image` on a worker thread, keeping the event loop free while pixels are decoded."""

    def run() -> CleanImage:
        return clean_image(data, max_pixels=max_pixels, max_side=max_side)

    return await anyio.to_thread.run_sync(run)
