"""Turning a model's output into the stored render: checked, cover-cropped to the exact size,
converted to sRGB with the profile embedded, and encoded in the job's file format within the
platform's upload limit."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from io import BytesIO
from typing import TYPE_CHECKING, Literal

from app.providers.base import ProviderError
from app.providers.output import TOO_LARGE, sniff_image

if TYPE_CHECKING:
    from PIL import Image as PILImage

# Model outputs are at most a few tens of megapixels; anything larger is refused unread.
MAX_OUTPUT_PIXELS = 80_000_000

ImageFormat = Literal["png", "jpeg", "webp"]
CONTENT_TYPES: dict[str, str] = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
EXTENSIONS: dict[str, str] = {"png": "png", "jpeg": "jpg", "webp": "webp"}

# Lossy encodes start at a quality that looks lossless on thumbnails, and search downwards for
# the best one that fits; below the floor the picture is scaled down instead.
TOP_QUALITY = 92
MIN_QUALITY = 40
MAX_DOWNSCALES = 3


@dataclass(frozen=True, slots=True)
class EncodedStill:
    data: bytes
    format: ImageFormat
    width: int
    height: int
    quality: int | None  # the lossy quality chosen; None for PNG

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


@cache
def srgb_profile() -> bytes:
    """An ICC profile of sRGB, built by LittleCMS (the same bytes on every run)."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _to_srgb(image: PILImage.Image) -> PILImage.Image:
    """RGB pixels in sRGB: a picture tagged with another profile (Display P3, Adobe RGB) is
    converted; untagged pictures are taken to be sRGB already, as browsers do."""
    from PIL import ImageCms

    icc = image.info.get("icc_profile")
    rgb = image.convert("RGB")
    if not icc:
        return rgb
    try:
        source = ImageCms.ImageCmsProfile(BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(source).lower():
            return rgb
        target = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        converted = ImageCms.profileToProfile(rgb, source, target, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return rgb  # an unreadable profile: keep the pixels as they are
    return converted if converted is not None else rgb


def _encode(image: PILImage.Image, image_format: ImageFormat, quality: int | None) -> bytes:
    buffer = BytesIO()
    icc = srgb_profile()
    if image_format == "png":
        image.save(buffer, format="PNG", compress_level=3, icc_profile=icc)
    elif image_format == "jpeg":
        image.save(buffer, format="JPEG", quality=quality, optimize=True, icc_profile=icc)
    else:
        image.save(buffer, format="WEBP", quality=quality, method=4, icc_profile=icc)
    return buffer.getvalue()


def _fit_lossy(
    image: PILImage.Image, image_format: ImageFormat, max_bytes: int
) -> tuple[bytes, int] | None:
    """The highest quality in [MIN_QUALITY, TOP_QUALITY] whose file fits, by binary search
    (at most 7 encodes); None when not even the floor fits."""
    data = _encode(image, image_format, TOP_QUALITY)
    if len(data) <= max_bytes:
        return data, TOP_QUALITY
    best: tuple[bytes, int] | None = None
    low, high = MIN_QUALITY, TOP_QUALITY - 1
    while low <= high:
        quality = (low + high) // 2
        data = _encode(image, image_format, quality)
        if len(data) <= max_bytes:
            best = (data, quality)
            low = quality + 1
        else:
            high = quality - 1
    return best


def encode_still(image: PILImage.Image, image_format: ImageFormat, max_bytes: int) -> EncodedStill:
    """Encode an sRGB picture; lossy formats are kept within `max_bytes` (quality first, then
    size). PNG is lossless and kept as it is."""
    from PIL import Image

    if image_format == "png":
        return EncodedStill(_encode(image, "png", None), "png", image.width, image.height, None)
    current = image
    for _ in range(MAX_DOWNSCALES + 1):
        fitted = _fit_lossy(current, image_format, max_bytes)
        if fitted is not None:
            data, quality = fitted
            return EncodedStill(data, image_format, current.width, current.height, quality)
        # File size grows about with the pixel count: shrink by the overshoot, and a margin.
        overshoot = len(_encode(current, image_format, MIN_QUALITY)) / max_bytes
        scale = min(0.9, 0.95 / overshoot**0.5)
        size = (max(16, round(current.width * scale)), max(16, round(current.height * scale)))
        current = current.resize(size, Image.Resampling.LANCZOS)
    raise ProviderError(TOO_LARGE, retryable=False, internal="no encoding fits the size limit")


def _fitted(data: bytes, width: int, height: int) -> PILImage.Image:
    from PIL import Image, ImageOps

    sniff_image(data)
    with Image.open(BytesIO(data)) as image:
        if image.width * image.height > MAX_OUTPUT_PIXELS:
            raise ProviderError(TOO_LARGE, retryable=False, internal="output over pixel limit")
        image.load()
        rgb = _to_srgb(image)
    if rgb.size == (width, height):
        return rgb
    return ImageOps.fit(rgb, (width, height), method=Image.Resampling.LANCZOS)


def deliver_still(
    data: bytes, width: int, height: int, image_format: ImageFormat, max_bytes: int
) -> EncodedStill:
    """A provider's output as the file people download: exactly width x height (cropped to
    cover rather than distorted), sRGB with its profile embedded, in `image_format`."""
    return encode_still(_fitted(data, width, height), image_format, max_bytes)


def fit_render(data: bytes, width: int, height: int) -> bytes:
    """Return PNG bytes of exactly width x height, cropping to cover rather than distorting."""
    return deliver_still(data, width, height, "png", 0).data
