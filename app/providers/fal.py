"""fal image models (FLUX, Ideogram) and video models (Wan, Veo) through fal's queue API with
the fal-client library."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from app.config import Settings, secret_value
from app.providers.base import InputImage, ProviderError, RenderRequest, VideoOutput
from app.providers.output import decode_base64_image, download_file, download_image, sniff_image
from app.providers.prompt import build_video_prompt
from app.providers.retry import call_with_retries

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("app.providers.fal")
T = TypeVar("T")

# Status polling: quick at first (small models finish in a second or two), then backing off.
POLL_FIRST_SECONDS = 0.1
POLL_FACTOR = 1.5
POLL_MAX_SECONDS = 2.0
CANCEL_TIMEOUT_SECONDS = 5.0
MAX_SEED = 2_147_483_647
ASPECT_RATIOS = ("21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21")

NOT_CONFIGURED = "This model is not configured on this server; choose another one."
MISSING_PICTURE = "This model edits a picture: add a selfie or a reference image to the project."
BUSY = "The image service is busy or unavailable right now; please try again shortly."
TOO_SLOW = "The image service took too long to answer; please try again."
REJECTED = "The image model could not accept this request; try other settings or images."
BLOCKED = (
    "The image model's safety filter blocked this picture; "
    "try a different description or other images."
)
UNUSABLE = "The image model returned an unusable result; please try again or choose another model."
# 401/403: a wrong key, or fal locked the account (e.g. an exhausted balance).
REFUSED = "The image service is refusing requests from this server; choose another model."


@dataclass(frozen=True, slots=True)
class _AppInput:
    """How one fal app takes its size, its pictures and its tuning parameters."""

    size: Literal["image_size", "aspect_ratio"]
    pictures: Literal["none", "image_url", "image_urls"] = "none"
    params: frozenset[str] = frozenset()
    output_format: bool = True
    max_long_side: int = 1536


_APPS: dict[str, _AppInput] = {
    "fal-ai/flux/schnell": _AppInput("image_size", params=frozenset({"num_inference_steps"})),
    "fal-ai/flux-pro/v1.1-ultra": _AppInput("aspect_ratio", params=frozenset({"raw"})),
    "fal-ai/flux-pro/kontext": _AppInput(
        "aspect_ratio", pictures="image_url", params=frozenset({"guidance_scale"})
    ),
    "fal-ai/ideogram/v3": _AppInput(
        "image_size",
        pictures="image_urls",
        params=frozenset({"rendering_speed", "style"}),
        output_format=False,
    ),
}
_DEFAULT_APP = _AppInput("image_size")


@dataclass(frozen=True, slots=True)
class _VideoApp:
    """How one fal video app takes its length and resolution, by our quality."""

    duration_suffix: str  # "5" for Wan, "4s" for Veo
    resolutions: Mapping[str, str]
    extra: Mapping[str, Any]


_VIDEO_APPS: dict[str, _VideoApp] = {
    "fal-ai/wan-25-preview/text-to-video": _VideoApp(
        "", {"draft": "480p", "std": "720p"}, {"enable_prompt_expansion": False}
    ),
    # Silent: an intro or an animated thumbnail plays muted, and audio costs half as much again.
    "fal-ai/veo3/fast": _VideoApp(
        "s", {"draft": "720p", "std": "1080p"}, {"generate_audio": False}
    ),
}
_IDEOGRAM_SPEED = {"draft": "TURBO", "std": "BALANCED", "4k": "QUALITY"}
_MAX_STYLE_REFERENCES = 3


class FalProvider:
    """Submits to fal's queue, polls until done, downloads and checks the first image."""

    name = "fal"

    def __init__(self, settings: Settings) -> None:
        self._key = secret_value(settings.fal_key)
        self._queue_url = settings.fal_queue_url.rstrip("/")
        self._timeout = settings.provider_timeout_seconds
        self._video_timeout = max(settings.provider_timeout_seconds, settings.video_timeout_seconds)
        self._retry_seconds = settings.provider_retry_seconds
        self._max_bytes = settings.provider_output_max_bytes
        self._max_video_bytes = settings.video_output_max_bytes
        self._client: Any = None  # fal_client.AsyncClient, built on first use
        self._client_http: httpx.AsyncClient | None = None
        self._downloads: httpx.AsyncClient | None = None

    async def render(self, request: RenderRequest) -> bytes:
        if not self._key:
            raise ProviderError(NOT_CONFIGURED, retryable=False, internal="FAL_KEY is not set")
        arguments = build_arguments(request)

        async def first_image(output: Any) -> bytes:
            return await self._download(_first_image_url(output))

        return await call_with_retries(
            lambda: self._render_once(
                request.provider_model, arguments, first_image, self._timeout
            ),
            budget_seconds=self._retry_seconds,
            describe=f"fal {request.provider_model}",
        )

    async def render_video(self, request: RenderRequest) -> VideoOutput:
        if not self._key:
            raise ProviderError(NOT_CONFIGURED, retryable=False, internal="FAL_KEY is not set")
        arguments = build_video_arguments(request)

        async def video(output: Any) -> VideoOutput:
            url, poster_url = _video_urls(output)
            data = await self._download_file(url, self._max_video_bytes)
            poster = None
            if poster_url is not None:
                try:
                    poster = await self._download(poster_url)
                except ProviderError:
                    poster = None  # the poster is a nicety; another one is found instead
            return VideoOutput(data=data, content_type="video/mp4", poster=poster)

        return await call_with_retries(
            lambda: self._render_once(
                request.provider_model, arguments, video, self._video_timeout
            ),
            budget_seconds=self._retry_seconds,
            describe=f"fal {request.provider_model}",
        )

    async def close(self) -> None:
        for http in (self._client_http, self._downloads):
            if http is not None:
                await http.aclose()
        self._client = self._client_http = self._downloads = None

    # --- one attempt ------------------------------------------------------------------------

    async def _render_once(
        self,
        app_id: str,
        arguments: dict[str, Any],
        collect: Callable[[Any], Awaitable[T]],
        timeout: float,
    ) -> T:
        import fal_client

        client = self._fal_client()
        handle: Any = None
        completed = False
        try:
            async with asyncio.timeout(timeout):
                self._point_queue_url()
                handle = await client.submit(app_id, arguments)
                # The library only exposes its HTTP client on request handles; keep it to close.
                self._client_http = handle.client
                await _wait_until_completed(handle, fal_client.Completed)
                completed = True
                output = await handle.get()
                data = await collect(output)
        except asyncio.CancelledError:
            # The job was stopped here: stop paying for the render on fal's side too.
            if handle is not None and not completed:
                await asyncio.shield(_cancel_quietly(handle))
            raise
        except TimeoutError:
            if handle is not None and not completed:
                await _cancel_quietly(handle)
            raise ProviderError(
                TOO_SLOW, retryable=True, internal=f"fal {app_id}: no result in {timeout}s"
            ) from None
        except fal_client.FalClientHTTPError as error:
            raise _classify_http_error(app_id, error) from None
        except ProviderError:
            raise
        except Exception as error:
            raise _classify_exception(app_id, error) from None
        return data

    def _fal_client(self) -> Any:
        if self._client is None:
            import fal_client

            # The key is passed explicitly so the library never falls back to FAL_KEY or
            # credentials files of the machine it runs on.
            self._client = fal_client.AsyncClient(key=self._key, default_timeout=self._timeout)
        return self._client

    def _point_queue_url(self) -> None:
        """Send submissions to FAL_QUEUE_URL when set, else to fal's own queue host.

        fal-client builds the submit URL from a module constant and has no per-client option;
        status, result and cancel then follow the URLs the queue answers with.
        """
        from fal_client import auth, client

        default = f"https://{auth.FAL_QUEUE_RUN_HOST}/"
        client.QUEUE_URL_FORMAT = f"{self._queue_url}/" if self._queue_url else default

    def _downloads_client(self) -> httpx.AsyncClient:
        import httpx

        if self._downloads is None:
            # A separate client: the fal key must never travel to the file host.
            self._downloads = httpx.AsyncClient(timeout=self._timeout, follow_redirects=True)
        return self._downloads

    async def _download_file(self, url: str, max_bytes: int) -> bytes:
        """A video file from fal's CDN, streamed and cut off past `max_bytes`; checked later."""
        if url.startswith("data:"):
            raise ProviderError(UNUSABLE, retryable=False, internal="fal video as a data URI")
        return await download_file(
            self._downloads_client(),
            url,
            max_bytes=max_bytes,
            timeout_seconds=self._video_timeout,
        )

    async def _download(self, url: str) -> bytes:
        if url.startswith("data:"):
            header, _, payload = url.partition(",")
            if not header.endswith(";base64"):
                raise ProviderError(UNUSABLE, retryable=False, internal="fal data URI not base64")
            data = decode_base64_image(payload, max_bytes=self._max_bytes)
            sniff_image(data)
            return data
        return await download_image(
            self._downloads_client(),
            url,
            max_bytes=self._max_bytes,
            timeout_seconds=self._timeout,
        )


async def _wait_until_completed(handle: Any, completed: type) -> None:
    delay = POLL_FIRST_SECONDS
    while not isinstance(await handle.status(), completed):
        await asyncio.sleep(delay)
        delay = min(delay * POLL_FACTOR, POLL_MAX_SECONDS)


async def _cancel_quietly(handle: Any) -> None:
    # Best effort: the request already ran out of time, and a cancel that fails changes nothing.
    try:
        async with asyncio.timeout(CANCEL_TIMEOUT_SECONDS):
            await handle.cancel()
    except Exception as error:
        logger.info("could not cancel a fal request", extra={"reason": type(error).__name__})


# --- arguments ------------------------------------------------------------------------------


def build_arguments(request: RenderRequest) -> dict[str, Any]:
    """The JSON input for the fal app behind `request.provider_model`."""
    app = _APPS.get(request.provider_model, _DEFAULT_APP)
    brief = request.brief
    arguments: dict[str, Any] = {"prompt": request.prompt, "num_images": 1}
    if app.size == "image_size":
        arguments["image_size"] = fit_image_size(brief.width, brief.height, app.max_long_side)
    else:
        arguments["aspect_ratio"] = closest_aspect_ratio(brief.width, brief.height)
    if app.output_format:
        arguments["output_format"] = "png"  # lossless: headline text stays crisp
    seed = _seed(request)
    if seed is not None:
        arguments["seed"] = seed
    for name in sorted(app.params & set(request.params)):
        arguments[name] = request.params[name]
    if request.provider_model == "fal-ai/ideogram/v3":
        arguments.setdefault("rendering_speed", _IDEOGRAM_SPEED.get(request.quality, "BALANCED"))
    if app.pictures == "image_url":
        picture = _picture_to_edit(request)
        if picture is None:
            raise ProviderError(
                MISSING_PICTURE, retryable=False, internal="no image to edit was given"
            )
        arguments["image_url"] = data_uri(picture)
    elif app.pictures == "image_urls":
        styles = [image for image in request.images if image.role != "selfie"]
        if styles:
            arguments["image_urls"] = [data_uri(i) for i in styles[:_MAX_STYLE_REFERENCES]]
    return arguments


def build_video_arguments(request: RenderRequest) -> dict[str, Any]:
    """The JSON input for the fal video app behind `request.provider_model`."""
    app = _VIDEO_APPS[request.provider_model]
    assert request.duration is not None
    assert request.aspect_ratio is not None
    arguments: dict[str, Any] = {
        "prompt": build_video_prompt(request.brief, duration=request.duration),
        "aspect_ratio": request.aspect_ratio,
        # fal's video apps take the length as one of their enum strings, not a number.
        "duration": f"{request.duration}{app.duration_suffix}",
        "resolution": app.resolutions.get(request.quality, app.resolutions["std"]),
        **app.extra,
    }
    seed = _seed(request)
    if seed is not None:
        arguments["seed"] = seed
    return arguments


def fit_image_size(width: int, height: int, max_long_side: int) -> dict[str, int]:
    """The brief's shape at most `max_long_side` on its long side, in multiples of 16."""
    scale = min(1.0, max_long_side / max(width, height))

    def side(value: int) -> int:
        return max(256, round(value * scale / 16) * 16)

    return {"width": side(width), "height": side(height)}


def closest_aspect_ratio(width: int, height: int) -> str:
    target = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(math.log(int(w) / int(h)) - target)

    return min(ASPECT_RATIOS, key=distance)


def data_uri(image: InputImage) -> str:
    # Inline data keeps the pictures off fal's CDN: no upload round trip, nothing left behind.
    return f"data:{image.content_type};base64,{base64.b64encode(image.data).decode('ascii')}"


def _picture_to_edit(request: RenderRequest) -> InputImage | None:
    order = ("copy_target", "selfie", "reference")
    if request.brief.mode != "copy":
        order = ("selfie", "reference", "copy_target")
    for role in order:
        for image in request.images:
            if image.role == role:
                return image
    return None


def _seed(request: RenderRequest) -> int | None:
    """A fixed seed moves on by variant; otherwise one is derived from the job's stable seed."""
    base: int
    if "seed" in request.params:
        base = int(request.params["seed"])
    elif request.seed:
        base = int.from_bytes(hashlib.sha256(request.seed.encode()).digest()[:4], "big")
    else:
        return None
    return (base + request.variant) % (MAX_SEED + 1)


# --- results and failures -------------------------------------------------------------------


def _first_image_url(output: Any) -> str:
    if not isinstance(output, Mapping):
        raise ProviderError(UNUSABLE, retryable=False, internal="fal result is not an object")
    flags = output.get("has_nsfw_concepts")
    if isinstance(flags, list) and any(flag is True for flag in flags):
        raise ProviderError(BLOCKED, retryable=False, internal="fal flagged the image as NSFW")
    images = output.get("images")
    first = images[0] if isinstance(images, list) and images else None
    url = first.get("url") if isinstance(first, Mapping) else None
    if not isinstance(url, str) or not url:
        raise ProviderError(UNUSABLE, retryable=False, internal="fal result has no image URL")
    return url


def _file_url(value: Any) -> str | None:
    url = value.get("url") if isinstance(value, Mapping) else None
    return url if isinstance(url, str) and url else None


def _video_urls(output: Any) -> tuple[str, str | None]:
    """The video's URL, and a still's URL when the app returns one beside it."""
    if not isinstance(output, Mapping):
        raise ProviderError(UNUSABLE, retryable=False, internal="fal result is not an object")
    url = _file_url(output.get("video"))
    if url is None:
        raise ProviderError(UNUSABLE, retryable=False, internal="fal result has no video URL")
    poster = next(
        (found for key in ("thumbnail", "poster") if (found := _file_url(output.get(key)))),
        None,
    )
    return url, poster


def _is_transient(status: int) -> bool:
    return status in (408, 409, 425, 429) or status >= 500


def _detail_types(body: Any) -> list[str]:
    detail = body.get("detail") if isinstance(body, Mapping) else None
    if not isinstance(detail, list):
        return []
    return [str(item.get("type")) for item in detail if isinstance(item, Mapping)]


def _classify_http_error(app_id: str, error: Any) -> ProviderError:
    status: int = error.status_code
    try:
        body = error.response.json()
    except ValueError:
        body = None
    types = _detail_types(body)
    error_type = error.error_type or ""
    # Status, fal's error types and the fields at fault; never headers, which carry the key.
    fields = ""
    if isinstance(body, Mapping) and isinstance(body.get("detail"), list):
        locs = [item.get("loc") for item in body["detail"] if isinstance(item, Mapping)]
        fields = f" at {locs}"
    internal = f"fal {app_id} answered {status} {error_type} {types}{fields}".strip()
    if "content_policy_violation" in types or error_type == "content_policy_violation":
        return ProviderError(BLOCKED, retryable=False, internal=internal)
    if status in (401, 403):
        return ProviderError(REFUSED, retryable=False, internal=internal)
    if _is_transient(status):
        return ProviderError(BUSY, retryable=True, internal=internal)
    return ProviderError(REJECTED, retryable=False, internal=internal)


def _classify_exception(app_id: str, error: Exception) -> ProviderError:
    import httpx

    name = type(error).__name__
    if isinstance(error, httpx.TransportError):
        return ProviderError(BUSY, retryable=True, internal=f"fal {app_id}: {name}")
    # The client could not read what the queue sent back (unknown status, missing fields).
    return ProviderError(UNUSABLE, retryable=False, internal=f"fal {app_id}: {name}")
