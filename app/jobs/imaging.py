"""Turning a model's output into the stored render: checked, cover-cropped, exact size, PNG."""

from __future__ import annotations

from io import BytesIO

from app.providers.base import ProviderError
from app.providers.output import TOO_LARGE, sniff_image

# Model outputs are at most a few tens of megapixels; anything larger is refused unread.
MAX_OUTPUT_PIXELS = 80_000_000


def fit_render(data: bytes, width: int, height: int) -> bytes:
    """Return PNG bytes of exactly width x height, cropping to cover rather than distorting."""
    from PIL import Image, ImageOps

    sniff_image(data)
    with Image.open(BytesIO(data)) as image:
        if image.width * image.height > MAX_OUTPUT_PIXELS:
            raise ProviderError(TOO_LARGE, retryable=False, internal="output over pixel limit")
        if image.format == "PNG" and image.size == (width, height) and image.mode == "RGB":
            return data
        image.load()
        rgb = image.convert("RGB")
    fitted = ImageOps.fit(rgb, (width, height), method=Image.Resampling.LANCZOS)
    buffer = BytesIO()
    fitted.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()
