"""Checking video outputs (MP4 boxes) and the studio's animated WebP clips."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from app.providers.base import ProviderError
from app.providers.studio import StudioBrief
from app.providers.studio.motion import FRAMES_PER_SECOND, animate_still, render_clip
from app.providers.video import check_mp4, frame_size
from tests.support.fal_server import _render_mp4

BRIEF = StudioBrief(
    width=640,
    height=360,
    headline="I tried this for 30 days",
    subtext="What nobody tells you",
    vibe="bold",
    platform="youtube",
)


class TestMp4:
    def test_reads_the_frame_size_and_length(self) -> None:
        info = check_mp4(_render_mp4(720, 1280, 6.0, 1), max_bytes=1_000_000)
        assert (info.width, info.height, info.duration_seconds) == (720, 1280, 6.0)

    @pytest.mark.parametrize(
        "data",
        [
            b"",
            b"<html><body>502 Bad Gateway</body></html>",
            b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
            b"\x00\x00\x00\x18ftyp",  # truncated
            b"\x00\x10\x00\x00ftypisom" + b"\x00" * 16,  # a box longer than the file
        ],
    )
    def test_anything_else_is_refused_for_good(self, data: bytes) -> None:
        with pytest.raises(ProviderError) as caught:
            check_mp4(data, max_bytes=1_000_000)
        assert caught.value.retryable is False
        assert "not an MP4" in caught.value.user_message

    def test_over_the_limit_is_refused(self) -> None:
        with pytest.raises(ProviderError) as caught:
            check_mp4(_render_mp4(64, 64, 1.0, 1), max_bytes=1024)
        assert "too large" in caught.value.user_message

    def test_a_file_without_a_movie_header_still_passes_with_no_size(self) -> None:
        data = b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00" + b"\x00\x00\x00\x08mdat"
        info = check_mp4(data, max_bytes=1_000)
        assert (info.width, info.height) == (None, None)

    def test_frame_sizes(self) -> None:
        assert frame_size("16:9") == (1280, 720)
        assert frame_size("9:16", 360) == (360, 640)
        assert frame_size("1:1", 480) == (480, 480)


class TestStudioClip:
    def test_is_an_animated_webp_of_several_frames(self) -> None:
        clip, still = render_clip(BRIEF, seed="job-1", variant=0, seconds=3)
        with Image.open(io.BytesIO(clip)) as image:
            assert image.format == "WEBP"
            assert getattr(image, "is_animated", False)
            frames = getattr(image, "n_frames", 1)
            assert frames >= 2 * FRAMES_PER_SECOND
            assert image.size == (640, 360)
            image.seek(frames - 1)
            last = image.convert("RGB")
        # Small enough to show inline: well under a megabyte for three seconds.
        assert len(clip) < 1_000_000
        # The clip settles on the thumbnail itself.
        with Image.open(io.BytesIO(still)) as thumbnail:
            assert thumbnail.size == last.size

    def test_is_deterministic(self) -> None:
        first, _ = render_clip(BRIEF, seed="job-1", variant=0, seconds=2)
        second, _ = render_clip(BRIEF, seed="job-1", variant=0, seconds=2)
        other, _ = render_clip(BRIEF, seed="job-2", variant=0, seconds=2)
        assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()
        assert first != other

    def test_longer_clips_have_more_frames(self) -> None:
        buffer = io.BytesIO()
        detailed = Image.effect_mandelbrot((320, 180), (-2.0, -1.2, 1.0, 1.2), 64)
        detailed.convert("RGB").save(buffer, format="PNG")
        counts = []
        for seconds in (2, 4):
            with Image.open(io.BytesIO(animate_still(buffer.getvalue(), seconds=seconds))) as clip:
                counts.append(getattr(clip, "n_frames", 1))
        assert counts[0] < counts[1]
