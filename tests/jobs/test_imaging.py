"""The still delivered for any provider's output: exact size, sRGB profile, within the limit."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image, ImageCms

from app.jobs.delivery import delivery_for
from app.jobs.downloads import content_disposition, download_name, slugify
from app.jobs.imaging import MIN_QUALITY, TOP_QUALITY, deliver_still, srgb_profile
from app.providers.base import ProviderError


def noisy_render(size: tuple[int, int] = (3840, 2160)) -> bytes:
    """A worst case for JPEG: a gradient under per-pixel noise, as a 4K PNG from a model."""
    width, height = size
    noise = Image.frombytes("RGB", size, os.urandom(width * height * 3))
    gradient = Image.linear_gradient("L").resize(size).convert("RGB")
    buffer = io.BytesIO()
    Image.blend(gradient, noise, 0.5).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


class TestYouTubeLimit:
    def test_a_noisy_4k_render_fits_under_two_megabytes_as_srgb_jpeg(self) -> None:
        limit = delivery_for("youtube").max_bytes
        assert limit == 2_000_000
        still = deliver_still(noisy_render(), 3840, 2160, "jpeg", limit)
        assert len(still.data) <= limit
        assert still.quality is not None
        assert MIN_QUALITY <= still.quality < TOP_QUALITY
        image = opened(still.data)
        assert (image.format, image.size) == ("JPEG", (3840, 2160))
        profile = ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
        assert "sRGB" in ImageCms.getProfileDescription(profile)

    def test_pure_noise_is_scaled_down_rather_than_refused(self) -> None:
        size = (1600, 900)
        noise = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
        buffer = io.BytesIO()
        noise.save(buffer, format="PNG")
        still = deliver_still(buffer.getvalue(), *size, "webp", 300_000)
        assert len(still.data) <= 300_000
        assert still.width < size[0]
        assert abs(still.width / still.height - 16 / 9) < 0.01

    def test_a_plain_render_keeps_the_top_quality(self) -> None:
        buffer = io.BytesIO()
        Image.new("RGB", (1280, 720), (200, 40, 40)).save(buffer, format="PNG")
        still = deliver_still(buffer.getvalue(), 1280, 720, "jpeg", 2_000_000)
        assert still.quality == TOP_QUALITY

    def test_nothing_fits_a_tiny_limit(self) -> None:
        with pytest.raises(ProviderError):
            deliver_still(noisy_render((640, 360)), 640, 360, "jpeg", 200)


class TestColour:
    def test_a_display_p3_picture_is_converted_to_srgb(self) -> None:
        # A wide-gamut profile: sRGB primaries would leave the pixels as they are.
        wide = ImageCms.createProfile("LAB")
        lab = Image.new("LAB", (64, 64), (60, 40, 40))
        buffer = io.BytesIO()
        lab.convert("RGB").save(
            buffer, format="PNG", icc_profile=ImageCms.ImageCmsProfile(wide).tobytes()
        )
        still = deliver_still(buffer.getvalue(), 64, 64, "png", 0)
        assert opened(still.data).info["icc_profile"] == srgb_profile()

    @pytest.mark.parametrize("image_format", ["png", "jpeg", "webp"])
    def test_every_format_embeds_the_profile_and_crops_to_cover(self, image_format: str) -> None:
        buffer = io.BytesIO()
        Image.new("RGBA", (1000, 1000), (0, 120, 255, 128)).save(buffer, format="PNG")
        still = deliver_still(buffer.getvalue(), 640, 360, image_format, 5_000_000)  # type: ignore[arg-type]
        image = opened(still.data)
        assert image.format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[image_format]
        assert image.size == (640, 360)
        assert image.info["icc_profile"] == srgb_profile()


class TestDownloadNames:
    @pytest.mark.parametrize(
        ("headline", "name", "fallback"),
        [
            ("I tried this for 30 days", "i-tried-this-for-30-days-1.jpg", None),
            ("Café déjà vu!", "café-déjà-vu-1.jpg", "cafe-deja-vu-1.jpg"),
            ("東京 vlog", "東京-vlog-1.jpg", "vlog-1.jpg"),
            ("日本", "日本-1.jpg", "thumbnail-1.jpg"),
            ("   ", "thumbnail-1.jpg", None),
            ('a"b;c\\d', "a-b-c-d-1.jpg", None),
        ],
    )
    def test_names_from_headlines(self, headline: str, name: str, fallback: str | None) -> None:
        names = download_name(headline, 0, "image/jpeg")
        assert (names.exact, names.ascii) == (name, fallback or name)
        header = content_disposition(names)
        assert header.startswith(f"attachment; filename=\"{fallback or name}\"; filename*=UTF-8''")
        header.encode("latin-1")  # a header value must be sendable as is

    def test_slugs_are_bounded(self) -> None:
        assert len(slugify("word " * 100)) <= 80
        assert download_name("x", 3, "video/mp4").exact == "x-4.mp4"
