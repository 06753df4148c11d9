"""Checking and fetching what image models hand back: sniffed formats, bounded downloads."""

from __future__ import annotations

import binascii
from base64 import b64decode, urlsafe_b64decode
from io import BytesIO
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from app.providers.base import ProviderError

if TYPE_CHECKING:
    import httpx

# Pillow format name -> content type; the formats renders may arrive in.
_IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}

NOT_AN_IMAGE = "The image service returned a file that is not an image. Please try again."
TOO_LARGE = "The image service returned an image that is too large to store."
DOWNLOAD_FAILED = "The finished image could not be fetched from the image service."
UNREACHABLE = "The image service could not be reached. Please try again in a moment."


def sniff_image(data: bytes) -> str:
    """Return the content type of a PNG, JPEG or WebP image, or raise a final ProviderError.

    Only the header is parsed: enough to refuse HTML error pages, JSON or truncated junk
    without paying for a full decode.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(BytesIO(data)) as image:
            image_format = image.format or ""
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise ProviderError(
            NOT_AN_IMAGE, retryable=False, internal=f"unreadable image: {error}"
        ) from None
    content_type = _IMAGE_FORMATS.get(image_format)
    if content_type is None or width < 1 or height < 1:
        raise ProviderError(
            NOT_AN_IMAGE, retryable=False, internal=f"unexpected image format {image_format!r}"
        )
    return content_type


def decode_base64_image(encoded: str, *, max_bytes: int) -> bytes:
    """Decode a base64 image payload, standard or URL-safe alphabet, within a size limit."""
    # Base64 inflates by 4/3, so the text length bounds the decoded size before decoding.
    if len(encoded) > (max_bytes * 4) // 3 + 4:
        raise ProviderError(TOO_LARGE, retryable=False, internal="base64 image over the limit")
    text = "".join(encoded.split())
    text += "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            data = urlsafe_b64decode(text)
        else:
            data = b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProviderError(NOT_AN_IMAGE, retryable=False, internal="invalid base64") from None
    if len(data) > max_bytes:
        raise ProviderError(TOO_LARGE, retryable=False, internal=f"{len(data)} bytes")
    return data


def _download_error(status: int) -> ProviderError:
    retryable = status == 429 or status >= 500
    return ProviderError(
        DOWNLOAD_FAILED if not retryable else UNREACHABLE,
        retryable=retryable,
        internal=f"image download answered HTTP {status}",
    )


async def download_image(
    client: httpx.AsyncClient, url: str, *, max_bytes: int, timeout_seconds: float
) -> bytes:
    """Fetch an image URL the provider returned, refusing anything over `max_bytes` or not an
    image."""
    data = await download_file(client, url, max_bytes=max_bytes, timeout_seconds=timeout_seconds)
    sniff_image(data)
    return data


async def download_file(
    client: httpx.AsyncClient, url: str, *, max_bytes: int, timeout_seconds: float
) -> bytes:
    """Fetch a file URL the provider returned, refusing anything over `max_bytes`.

    The body is streamed so an oversized or endless answer is cut off instead of buffered.
    Server errors and timeouts are retryable; other failures are final.
    """
    import httpx

    if urlsplit(url).scheme not in {"http", "https"}:
        raise ProviderError(DOWNLOAD_FAILED, retryable=False, internal="image URL is not http(s)")
    try:
        async with client.stream("GET", url, timeout=timeout_seconds) as response:
            if response.status_code != 200:
                raise _download_error(response.status_code)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise ProviderError(TOO_LARGE, retryable=False, internal=f"{declared} bytes")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise ProviderError(
                        TOO_LARGE, retryable=False, internal=f"over {max_bytes} bytes"
                    )
    except httpx.TimeoutException:
        raise ProviderError(
            UNREACHABLE, retryable=True, internal="image download timed out"
        ) from None
    except httpx.TransportError as error:
        raise ProviderError(
            UNREACHABLE, retryable=True, internal=f"image download failed: {type(error).__name__}"
        ) from None
    return bytes(body)
