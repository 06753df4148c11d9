"""A video job's one clip: made by its model, checked (an MP4 under the size limit, or the
studio's animated WebP), and given a poster frame: the model's own still if it sent one, else
the project's latest thumbnail render, else a studio still of the brief."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from io import BytesIO
from typing import TYPE_CHECKING

from app.adapters.storage import ObjectNotFound
from app.jobs import repository
from app.jobs.imaging import EncodedStill, deliver_still
from app.providers.base import ProviderError, RenderRequest
from app.providers.output import sniff_image
from app.providers.registry import ModelSpec, get_model
from app.providers.video import NOT_A_VIDEO, VIDEO_TOO_LARGE, check_mp4, frame_size

if TYPE_CHECKING:
    from app.models import Job
    from app.ports import Ports

logger = logging.getLogger("app.jobs")

# Posters are JPEGs within YouTube's thumbnail limit, so one can be uploaded as it is.
POSTER_MAX_BYTES = 2_000_000
# The frame a video job asks for, by its quality: the short side in pixels. The studio
# animates a smaller frame, so its WebP stays small.
_SHORT_SIDE = {"draft": 480, "std": 720}
_STUDIO_SHORT_SIDE = {"draft": 270, "std": 360}


@dataclass(frozen=True, slots=True)
class Clip:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    poster: EncodedStill


def clip_size(spec: ModelSpec, quality: str, aspect_ratio: str) -> tuple[int, int]:
    sides = _STUDIO_SHORT_SIDE if spec.provider == "studio" else _SHORT_SIDE
    return frame_size(aspect_ratio, sides.get(quality, sides["std"]))


def _check_animated_webp(data: bytes, max_bytes: int) -> tuple[int, int]:
    from PIL import Image

    if len(data) > max_bytes:
        raise ProviderError(VIDEO_TOO_LARGE, retryable=False, internal=f"{len(data)} bytes")
    if sniff_image(data) != "image/webp":
        raise ProviderError(NOT_A_VIDEO, retryable=False, internal="studio clip is not WebP")
    with Image.open(BytesIO(data)) as image:
        if not getattr(image, "is_animated", False):
            raise ProviderError(NOT_A_VIDEO, retryable=False, internal="WebP is not animated")
        width, height = image.size
    return width, height


async def _project_still(ports: Ports, job: Job) -> bytes | None:
    """The newest still rendered for the job's project, if one is still stored."""
    async with ports.database.sessionmaker() as session:
        render = await repository.latest_still(
            session, user_id=job.user_id, project_id=job.project_id
        )
    if render is None:
        return None
    try:
        return await ports.storage.get(render.bucket, render.path)
    except ObjectNotFound:
        return None


async def _studio_still(ports: Ports, request: RenderRequest) -> bytes:
    studio = get_model("studio")
    return await ports.providers.for_model(studio).render(
        replace(request, model_id=studio.id, provider_model=studio.provider_model)
    )


async def make_clip(ports: Ports, job: Job, spec: ModelSpec, request: RenderRequest) -> Clip:
    max_bytes = ports.settings.video_output_max_bytes
    output = await ports.providers.video_for_model(spec).render_video(request)
    width, height = request.brief.width, request.brief.height
    if output.content_type == "image/webp":
        width, height = _check_animated_webp(output.data, max_bytes)
        extension = "webp"
    else:
        info = check_mp4(output.data, max_bytes=max_bytes)
        if info.width and info.height:
            width, height = info.width, info.height
        extension = "mp4"

    source = output.poster or await _project_still(ports, job)
    if source is None:
        source = await _studio_still(ports, request)
    try:
        poster = await ports.providers.render_pool.run(
            deliver_still, source, width, height, "jpeg", POSTER_MAX_BYTES
        )
    except ProviderError:
        # The model's or the project's still would not decode: draw one instead.
        logger.info("poster source unusable; drawing a studio still", extra={"job_id": str(job.id)})
        drawn = await _studio_still(ports, request)
        poster = await ports.providers.render_pool.run(
            deliver_still, drawn, width, height, "jpeg", POSTER_MAX_BYTES
        )
    content_type = "video/mp4" if extension == "mp4" else "image/webp"
    return Clip(output.data, content_type, extension, width, height, poster)
