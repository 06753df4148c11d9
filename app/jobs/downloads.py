"""Saving a render as a file: its name from the project's headline, and where the bytes come
from (the local folder, streamed by the API; cloud storage, by a redirect to its CDN)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.storage import LocalObjectStorage, ObjectNotFound
from app.jobs import repository
from app.kit.errors import NotFound
from app.models import Job, Project
from app.ports import Ports

MAX_STEM_CHARS = 80
FALLBACK_STEM = "thumbnail"
_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "video/mp4": "mp4",
}
_NOT_WORD = re.compile(r"[^\w]+", re.UNICODE)


class RenderNotFound(NotFound):
    message = "This job has no render with that variant."


def slugify(text: str) -> str:
    """Words of `text`, lower case, joined by hyphens; letters of any script are kept."""
    normal = unicodedata.normalize("NFKC", text).casefold()
    slug = _NOT_WORD.sub("-", normal).replace("_", "-").strip("-")
    return re.sub(r"-{2,}", "-", slug)[:MAX_STEM_CHARS].strip("-")


def ascii_slug(slug: str) -> str:
    """`slug` with accents dropped and anything else outside ASCII letters and digits left out."""
    decomposed = unicodedata.normalize("NFKD", slug).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]+", "-", decomposed)).strip("-")


@dataclass(frozen=True, slots=True)
class DownloadName:
    exact: str  # letters of any script, for `filename*`
    ascii: str  # for clients that only read `filename`


def download_name(headline: str, variant: int, content_type: str) -> DownloadName:
    extension = _EXTENSIONS.get(content_type, "bin")
    slug = slugify(headline)
    suffix = f"-{variant + 1}.{extension}"
    return DownloadName(
        f"{slug or FALLBACK_STEM}{suffix}", f"{ascii_slug(slug) or FALLBACK_STEM}{suffix}"
    )


def content_disposition(name: DownloadName) -> str:
    """`attachment` with an ASCII `filename` for old clients and the exact UTF-8 name as
    RFC 5987 `filename*`, which every current browser prefers."""
    exact = quote(name.exact, safe="")
    return f"attachment; filename=\"{name.ascii}\"; filename*=UTF-8''{exact}"


@dataclass(frozen=True, slots=True)
class RenderDownload:
    filename: DownloadName
    content_type: str
    local_file: Path | None  # served by the API
    redirect_url: str | None  # or fetched from there


async def locate_download(
    *, session: AsyncSession, ports: Ports, job: Job, variant: int
) -> RenderDownload:
    render = await repository.get_render(session, job_id=job.id, variant=variant)
    if render is None:
        raise RenderNotFound()
    project = await session.get(Project, job.project_id)
    filename = download_name(project.headline if project else "", variant, render.content_type)
    storage = ports.storage
    url = await storage.download_url(
        render.bucket,
        render.path,
        filename=filename.exact,
        expires_in=ports.settings.signed_url_ttl_seconds,
    )
    if url is not None:
        return RenderDownload(filename, render.content_type, None, url)
    if not isinstance(storage, LocalObjectStorage):
        raise RenderNotFound()
    try:
        path = await anyio.to_thread.run_sync(storage.local_file, render.bucket, render.path)
    except ObjectNotFound as exc:
        raise RenderNotFound() from exc
    return RenderDownload(filename, render.content_type, path, None)
