"""Test images made with Pillow: ordinary files, metadata-laden photos, broken files and bombs."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import httpx
from PIL import ExifTags, Image, PngImagePlugin

from tests.factories import API, TestUser

SECRET_MARKER = "SecretCam-4711"


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (64, 48), color: str = "red", **save: Any
) -> bytes:
    mode = "RGBA" if fmt in ("PNG", "WEBP") else "RGB"
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def jpeg_with_orientation_and_gps(size: tuple[int, int] = (80, 40)) -> bytes:
    """A JPEG stored sideways (EXIF orientation 6) whose EXIF names the camera and a location."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = SECRET_MARKER
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.0),
    }
    image = Image.new("RGB", size, "blue")
    # A marked corner shows which way the pixels were turned.
    image.paste((255, 255, 0), (0, 0, 10, 10))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes(), comment=SECRET_MARKER.encode())
    return buffer.getvalue()


def png_with_text_chunk() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SECRET_MARKER)
    return image_bytes("PNG", pnginfo=info)


def png_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes of PNG whose header claims `width` x `height` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


async def upload(
    client: httpx.AsyncClient,
    user: TestUser,
    data: bytes,
    *,
    type: str = "selfie",
    filename: str = "photo.png",
    content_type: str = "image/png",
) -> httpx.Response:
    return await client.post(
        f"{API}/assets/upload",
        headers=user.headers,
        data={"type": type},
        files={"file": (filename, data, content_type)},
    )


async def fetch(client: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
    """GET a URL the API handed out (absolute, on the test base URL)."""
    assert url.startswith("http://test/"), url
    return await client.get(url, **kwargs)
