"""What each platform takes as an upload: the file format a job defaults to and the largest
file the platform accepts, which lossy renders are fitted under.

- YouTube (videos and Shorts) takes custom thumbnails as JPG, PNG or GIF up to 2 MB: JPEG, so
  even a 4K render fits.
- Instagram and TikTok re-encode everything to JPEG; a JPEG upload avoids a second generation
  of loss. Their limit is 8 MB.
- X and LinkedIn keep PNGs as they are (up to 5 MB), so a lossless PNG keeps text crisp there.
- A custom size has no platform behind it: lossless PNG.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.jobs.imaging import ImageFormat

MB = 1_000_000  # decimal: under either reading of "2 MB"


@dataclass(frozen=True, slots=True)
class PlatformDelivery:
    format: ImageFormat
    max_bytes: int


PLATFORMS: dict[str, PlatformDelivery] = {
    "youtube": PlatformDelivery("jpeg", 2 * MB),
    "youtube_shorts": PlatformDelivery("jpeg", 2 * MB),
    "instagram_post": PlatformDelivery("jpeg", 8 * MB),
    "instagram_story": PlatformDelivery("jpeg", 8 * MB),
    "tiktok": PlatformDelivery("jpeg", 8 * MB),
    "twitter": PlatformDelivery("png", 5 * MB),
    "linkedin": PlatformDelivery("png", 5 * MB),
}
DEFAULT = PlatformDelivery("png", 10 * MB)


def delivery_for(platform: str) -> PlatformDelivery:
    return PLATFORMS.get(platform, DEFAULT)
