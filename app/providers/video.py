"""Checking what video models hand back: an MP4 (ISO base media file) within the size limit,
and its picture size and length read from the boxes, without decoding a frame."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from app.providers.base import ProviderError

NOT_A_VIDEO = "The video service returned a file that is not an MP4 video. Please try again."
VIDEO_TOO_LARGE = "The video service returned a video that is too large to store."
# A well-formed file has a handful of top-level boxes; the walk stops long before this.
MAX_BOXES = 512
# Sizes videos are shown at when the file does not say (720p, the short side).
_FALLBACK_SHORT_SIDE = 720


@dataclass(frozen=True, slots=True)
class VideoInfo:
    width: int | None
    height: int | None
    duration_seconds: float | None


def _boxes(data: bytes | memoryview, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of each box in data[start:end]."""
    offset, seen = start, 0
    while offset + 8 <= end and seen < MAX_BOXES:
        seen += 1
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            if offset + 16 > end:
                return
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            return
        yield kind, offset + header, offset + size
        offset += size


def _find(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for found, payload, box_end in _boxes(data, start, end):
        if found == kind:
            return payload, box_end
    return None


def _duration(data: bytes, payload: int, end: int) -> float | None:
    version = data[payload] if payload < end else None
    try:
        if version == 0:
            timescale, duration = struct.unpack_from(">II", data, payload + 12)
        elif version == 1:
            timescale, duration = struct.unpack_from(">IQ", data, payload + 20)
        else:
            return None
    except struct.error:
        return None
    return duration / timescale if timescale else None


def _track_size(data: bytes, moov: tuple[int, int]) -> tuple[int, int] | None:
    for kind, payload, end in _boxes(data, *moov):
        if kind != b"trak":
            continue
        tkhd = _find(data, payload, end, b"tkhd")
        if tkhd is None or tkhd[1] - tkhd[0] < 8:
            continue
        # Width and height close the track header, as 16.16 fixed-point numbers.
        width, height = struct.unpack_from(">II", data, tkhd[1] - 8)
        if width >> 16 and height >> 16:
            return width >> 16, height >> 16
    return None


def check_mp4(data: bytes, *, max_bytes: int) -> VideoInfo:
    """Refuse anything that is not an MP4 under `max_bytes` (a final ProviderError); return
    what its header says of the picture and length."""
    if len(data) > max_bytes:
        raise ProviderError(VIDEO_TOO_LARGE, retryable=False, internal=f"{len(data)} bytes")
    # Every ISO media file opens with its `ftyp` box: 4 bytes of size, then the type.
    if len(data) < 16 or data[4:8] != b"ftyp":
        raise ProviderError(NOT_A_VIDEO, retryable=False, internal="no ftyp box at offset 4")
    (ftyp_size,) = struct.unpack_from(">I", data, 0)
    if ftyp_size < 16 or ftyp_size > len(data):
        raise ProviderError(NOT_A_VIDEO, retryable=False, internal="malformed ftyp box")
    moov = _find(data, 0, len(data), b"moov")
    if moov is None:
        return VideoInfo(None, None, None)
    mvhd = _find(data, *moov, b"mvhd")
    duration = _duration(data, *mvhd) if mvhd is not None else None
    size = _track_size(data, moov)
    return VideoInfo(size[0] if size else None, size[1] if size else None, duration)


def frame_size(aspect_ratio: str, short_side: int = _FALLBACK_SHORT_SIDE) -> tuple[int, int]:
    """Width and height of a frame of `aspect_ratio` ("16:9") with the given short side."""
    w, h = (int(part) for part in aspect_ratio.split(":"))
    if w >= h:
        return round(short_side * w / h / 2) * 2, short_side
    return short_side, round(short_side * h / w / 2) * 2
