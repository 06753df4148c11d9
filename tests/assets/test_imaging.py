"""Colour profiles through cleaning: kept when they describe the pixels, dropped otherwise."""

from __future__ import annotations

import io
import struct

from PIL import Image, ImageCms

from app.assets.imaging import clean_image
from tests.images import open_image


def profile_declaring(colour_space: bytes) -> bytes:
    """An ICC header (no tags) for `colour_space`, as print workflows embed for CMYK."""
    header = bytearray(128)
    struct.pack_into(">I", header, 0, 132)
    header[8:12] = b"\x02\x10\x00\x00"
    header[12:16] = b"prtr"
    header[16:20] = colour_space
    header[20:24] = b"Lab "
    header[36:40] = b"acsp"
    return bytes(header) + b"\x00\x00\x00\x00"


def jpeg(mode: str, colour: tuple[int, ...], icc_profile: bytes) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (32, 16), colour).save(out, format="JPEG", icc_profile=icc_profile)
    return out.getvalue()


def test_a_cmyk_jpeg_becomes_rgb_without_its_cmyk_profile():
    cmyk_profile = profile_declaring(b"CMYK")
    source = jpeg("CMYK", (0, 255, 255, 0), cmyk_profile)
    assert open_image(source).info["icc_profile"][16:20] == b"CMYK"
    cleaned = open_image(clean_image(source, max_pixels=10_000).data)
    assert cleaned.mode == "RGB"
    assert cleaned.info.get("icc_profile", b"RGB ")[16:20] != b"CMYK"
    red, green, blue = cleaned.getpixel((16, 8))  # type: ignore[misc]
    assert red > 200
    assert green < 60
    assert blue < 60


def test_an_rgb_profile_is_kept():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    cleaned = open_image(clean_image(jpeg("RGB", (10, 200, 30), srgb), max_pixels=10_000).data)
    assert cleaned.info["icc_profile"] == srgb
