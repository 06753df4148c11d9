"""A local HTTP server speaking fal's queue protocol, for driving the real fal-client in tests."""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import json
import math
import struct
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.wire import serve

SERVER_START_TIMEOUT = 10.0
SERVER_STOP_TIMEOUT = 10.0

Fault = Literal[
    "none",
    "rate_limit_once",
    "server_error",
    "nsfw",
    "content_policy",
    "not_an_image",
    "not_a_video",
    "slow",
    "failed",
]
# Where input validation happens. On fal the queue accepts any JSON and the model's runner
# validates it, so a bad input surfaces as a 422 from the result URL; "submit" answers the
# submission itself with that 422, as a gateway that validates up front would.
Validation = Literal["runner", "submit"]

# The sizes fal's image_size presets stand for.
IMAGE_SIZE_PRESETS: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
ASPECT_RATIOS = ("21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21")
ULTRA_PIXELS = 4_000_000  # FLUX1.1 [pro] ultra renders about 4 megapixels
KONTEXT_PIXELS = 1_048_576
STATUS_POLLS_IN_QUEUE = 1  # polls answered IN_QUEUE before the request starts
STATUS_POLLS_IN_PROGRESS = 1  # then IN_PROGRESS, then COMPLETED
_INVALID_JSON = object()


@dataclass(frozen=True, slots=True)
class ModelSchema:
    """The input a hosted model accepts, as far as these tests need it."""

    app_id: str
    size: Literal["image_size", "aspect_ratio", "input_image", "video"]
    fields: frozenset[str]
    required: tuple[str, ...] = ("prompt",)
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    safety_checker: bool = True  # flux models report has_nsfw_concepts; ideogram does not
    default_size: str = "square_hd"
    # Video apps: frame size by (resolution, aspect ratio), and their defaults.
    frames: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    default_video: tuple[str, str, str] = ("720p", "16:9", "5")  # resolution, ratio, duration


_COMMON = frozenset({"prompt", "seed", "num_images", "sync_mode"})


def _video_frames(
    resolutions: dict[str, tuple[int, int]], ratios: tuple[str, ...]
) -> dict[tuple[str, str], tuple[int, int]]:
    """(resolution, ratio) -> frame size: landscape as given, portrait swapped, square short."""
    frames: dict[tuple[str, str], tuple[int, int]] = {}
    for resolution, (long_side, short_side) in resolutions.items():
        for ratio in ratios:
            w, h = (int(part) for part in ratio.split(":"))
            if w > h:
                frames[(resolution, ratio)] = (long_side, short_side)
            elif w < h:
                frames[(resolution, ratio)] = (short_side, long_side)
            else:
                frames[(resolution, ratio)] = (short_side, short_side)
    return frames


MODELS: dict[str, ModelSchema] = {
    schema.app_id: schema
    for schema in (
        ModelSchema(
            "fal-ai/flux/schnell",
            size="image_size",
            fields=_COMMON
            | {
                "image_size",
                "num_inference_steps",
                "enable_safety_checker",
                "output_format",
                "acceleration",
            },
            enums={"output_format": ("jpeg", "png")},
            default_size="landscape_4_3",
        ),
        ModelSchema(
            "fal-ai/flux-pro/v1.1-ultra",
            size="aspect_ratio",
            fields=_COMMON
            | {
                "aspect_ratio",
                "raw",
                "enable_safety_checker",
                "safety_tolerance",
                "output_format",
                "image_url",
                "image_prompt_strength",
                "enhance_prompt",
            },
            enums={"aspect_ratio": ASPECT_RATIOS, "output_format": ("jpeg", "png")},
        ),
        ModelSchema(
            "fal-ai/flux-pro/kontext",
            size="input_image",
            fields=_COMMON
            | {
                "image_url",
                "guidance_scale",
                "aspect_ratio",
                "safety_tolerance",
                "output_format",
                "enhance_prompt",
            },
            required=("prompt", "image_url"),
            enums={"aspect_ratio": ASPECT_RATIOS, "output_format": ("jpeg", "png")},
        ),
        ModelSchema(
            "fal-ai/ideogram/v3",
            size="image_size",
            fields=_COMMON
            | {
                "image_size",
                "rendering_speed",
                "style",
                "expand_prompt",
                "negative_prompt",
                "image_urls",
                "style_codes",
                "color_palette",
            },
            enums={
                "rendering_speed": ("TURBO", "BALANCED", "QUALITY"),
                "style": ("AUTO", "GENERAL", "REALISTIC", "DESIGN"),
            },
            safety_checker=False,
        ),
        # Video apps take their length as an enum of strings and answer with a `video` file.
        ModelSchema(
            "fal-ai/wan-25-preview/text-to-video",
            size="video",
            fields=frozenset(
                {
                    "prompt",
                    "seed",
                    "aspect_ratio",
                    "resolution",
                    "duration",
                    "negative_prompt",
                    "audio_url",
                    "enable_prompt_expansion",
                    "enable_safety_checker",
                }
            ),
            enums={
                "aspect_ratio": ("16:9", "9:16", "1:1"),
                "resolution": ("480p", "720p", "1080p"),
                "duration": ("5", "10"),
            },
            safety_checker=False,
            frames=_video_frames(
                {"480p": (832, 480), "720p": (1280, 720), "1080p": (1920, 1080)},
                ("16:9", "9:16", "1:1"),
            ),
            default_video=("1080p", "16:9", "5"),
        ),
        ModelSchema(
            "fal-ai/veo3/fast",
            size="video",
            fields=frozenset(
                {
                    "prompt",
                    "seed",
                    "aspect_ratio",
                    "duration",
                    "negative_prompt",
                    "enhance_prompt",
                    "auto_fix",
                    "resolution",
                    "generate_audio",
                }
            ),
            enums={
                "aspect_ratio": ("16:9", "9:16"),
                "duration": ("4s", "6s", "8s"),
                "resolution": ("720p", "1080p"),
            },
            safety_checker=False,
            frames=_video_frames({"720p": (1280, 720), "1080p": (1920, 1080)}, ("16:9", "9:16")),
            default_video=("720p", "16:9", "8s"),
        ),
    )
}


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON, or None


@dataclass
class QueuedRequest:
    request_id: str
    app_id: str
    arguments: dict[str, Any]
    fault: Fault
    polls: int = 0
    canceled: bool = False
    # Set once the request has completed: (HTTP status of the result, its JSON body).
    outcome: tuple[int, dict[str, Any]] | None = None


class FalServerHandle:
    """What a test sees of a running server: its URL, the fault to inject, what it received."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.url = ""
        self.fault: Fault = "none"
        self.validation: Validation = "runner"
        # Re-entrant: a status poll completes the request while holding it.
        self._lock = threading.RLock()
        self._received: list[ReceivedRequest] = []
        self._queue: dict[str, QueuedRequest] = {}
        self._images: dict[str, tuple[bytes, str]] = {}
        self._rate_limited = False

    def reset(self) -> None:
        """Forget everything received and any fault, as if the server had just started."""
        with self._lock:
            self.fault = "none"
            self._received.clear()
            self._queue.clear()
            self._images.clear()
            self._rate_limited = False

    # --- inspection -------------------------------------------------------------------------

    @property
    def received(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._received)

    def submits(self, app_id: str | None = None) -> list[ReceivedRequest]:
        """Submissions that reached the queue endpoint (accepted or not)."""
        return [
            r
            for r in self.received
            if r.method == "POST" and (app_id is None or r.path == f"/{app_id}")
        ]

    def cancels(self) -> list[ReceivedRequest]:
        return [r for r in self.received if r.method == "PUT" and r.path.endswith("/cancel")]

    def downloads(self) -> list[ReceivedRequest]:
        return [r for r in self.received if r.path.startswith("/files/")]

    def queued(self) -> list[QueuedRequest]:
        with self._lock:
            return list(self._queue.values())

    # --- server side ------------------------------------------------------------------------

    def _record(self, request: Request, body: Any) -> None:
        entry = ReceivedRequest(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        with self._lock:
            self._received.append(entry)

    def _take_rate_limit(self) -> bool:
        with self._lock:
            if self.fault == "rate_limit_once" and not self._rate_limited:
                self._rate_limited = True
                return True
            return False


def _error(status: int, detail: Any, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def _missing(name: str) -> dict[str, Any]:
    return {"loc": ["body", name], "msg": "Field required", "type": "missing"}


def _validation_errors(schema: ModelSchema, arguments: Any) -> list[dict[str, Any]]:
    """Check the input like the model's runner does, in fal's `detail` list shape."""
    if not isinstance(arguments, dict):
        return [{"loc": ["body"], "msg": "Input should be an object", "type": "model_type"}]
    errors = [_missing(name) for name in schema.required if name not in arguments]
    for name in sorted(set(arguments) - schema.fields):
        errors.append(
            {
                "loc": ["body", name],
                "msg": "Extra inputs are not permitted",
                "type": "extra_forbidden",
                "input": arguments[name],
            }
        )
    for name, choices in schema.enums.items():
        if name in arguments and arguments[name] not in choices:
            errors.append(
                {
                    "loc": ["body", name],
                    "msg": "Input should be " + ", ".join(repr(c) for c in choices),
                    "type": "enum",
                    "ctx": {"expected": ", ".join(choices)},
                    "input": arguments[name],
                }
            )
    prompt = arguments.get("prompt")
    if "prompt" in arguments and (not isinstance(prompt, str) or not prompt.strip()):
        errors.append(
            {"loc": ["body", "prompt"], "msg": "Prompt must not be empty", "type": "value_error"}
        )
    image_urls: list[tuple[list[Any], Any]] = []
    if "image_url" in arguments:
        image_urls.append((["body", "image_url"], arguments["image_url"]))
    for index, url in enumerate(arguments.get("image_urls") or []):
        image_urls.append((["body", "image_urls", index], url))
    for loc, url in image_urls:
        if _decode_data_uri(url) is None:
            errors.append(
                {
                    "loc": loc,
                    "msg": "Failed to load the image. Please ensure the image file is not "
                    "corrupted and is in a supported format.",
                    "type": "image_load_error",
                }
            )
    return errors


def _decode_data_uri(value: Any) -> Image.Image | None:
    """The image behind a `data:` URI, or None; this server cannot reach http(s) URLs."""
    if not isinstance(value, str) or not value.startswith("data:"):
        return None
    header, _, payload = value.partition(",")
    if not header.endswith(";base64"):
        return None
    try:
        image = Image.open(io.BytesIO(base64.b64decode(payload, validate=True)))
        image.load()
    except (binascii.Error, OSError, ValueError):
        return None
    return image


def _ratio_size(ratio: str, pixels: int) -> tuple[int, int]:
    w, h = (int(part) for part in ratio.split(":"))
    height = math.sqrt(pixels * h / w)
    return _multiple_of(height * w / h), _multiple_of(height)


def _multiple_of(value: float, step: int = 16) -> int:
    return max(step, round(value / step) * step)


def _output_size(schema: ModelSchema, arguments: dict[str, Any]) -> tuple[int, int]:
    if schema.size == "image_size":
        size = arguments.get("image_size", schema.default_size)
        if isinstance(size, dict):
            return int(size["width"]), int(size["height"])
        return IMAGE_SIZE_PRESETS[size]
    if schema.size == "aspect_ratio":
        return _ratio_size(arguments.get("aspect_ratio", "16:9"), ULTRA_PIXELS)
    if "aspect_ratio" in arguments:
        return _ratio_size(arguments["aspect_ratio"], KONTEXT_PIXELS)
    source = _decode_data_uri(arguments["image_url"])
    assert source is not None  # validated before the request ran
    return _ratio_size(f"{source.width}:{source.height}", KONTEXT_PIXELS)


def _size_error(schema: ModelSchema, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    size = arguments.get("image_size")
    if schema.size != "image_size" or size is None:
        return []
    if isinstance(size, str) and size in IMAGE_SIZE_PRESETS:
        return []
    if (
        isinstance(size, dict)
        and set(size) == {"width", "height"}
        and all(isinstance(v, int) and 16 <= v <= 14142 for v in size.values())
    ):
        return []
    return [
        {
            "loc": ["body", "image_size"],
            "msg": "Input should be a valid preset name or {width, height}",
            "type": "value_error",
            "input": size,
        }
    ]


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _render_mp4(width: int, height: int, seconds: float, seed: int) -> bytes:
    """A small ISO base media file with the boxes a reader looks at (ftyp, moov with mvhd and
    a track header of the frame size, mdat); the media data is filler, never decoded here."""
    timescale = 1000
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    mvhd = _box(
        b"mvhd",
        struct.pack(">B3xIIII", 0, 0, 0, timescale, round(seconds * timescale)) + b"\x00" * 80,
    )
    # Version 0 track header: flags, times, track id, duration, layers, matrix, then the
    # width and height as 16.16 fixed point.
    tkhd = _box(
        b"tkhd",
        struct.pack(
            ">B3sIIIII8xhhhh",
            0,
            b"\x00\x00\x03",
            0,
            0,
            1,
            0,
            round(seconds * timescale),
            0,
            0,
            0,
            0,
        )
        + b"\x00" * 36
        + struct.pack(">II", width << 16, height << 16),
    )
    moov = _box(b"moov", mvhd + _box(b"trak", tkhd))
    mdat = _box(b"mdat", bytes((seed + i) % 251 for i in range(4096)))
    return ftyp + moov + mdat


def _render_png(width: int, height: int, seed: int) -> bytes:
    colour = (seed * 97 % 256, seed * 57 % 256, seed * 31 % 256)
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def create_fal_app(handle: FalServerHandle) -> Starlette:
    """Build the ASGI app: fal's queue endpoints plus a file host for the rendered images.

    ``POST /{app_id}`` submits (app ids hold slashes, e.g. ``fal-ai/flux-pro/v1.1-ultra``);
    status, result and cancel live under ``/{owner}/{alias}/requests/{id}`` without the
    endpoint path, as fal builds them. Every queue route needs ``Authorization: Key <key>``.
    """

    def authorized(request: Request) -> bool:
        scheme, _, supplied = request.headers.get("authorization", "").partition(" ")
        return scheme == "Key" and hmac.compare_digest(supplied.encode(), handle.key.encode())

    def unauthorized() -> JSONResponse:
        return _error(401, "No user found for Key ID and Secret")

    def base_url(app_id: str, request_id: str) -> str:
        owner, alias = app_id.split("/")[:2]
        return f"{handle.url}/{owner}/{alias}/requests/{request_id}"

    def find(request: Request) -> QueuedRequest | None:
        with handle._lock:
            queued = handle._queue.get(request.path_params["request_id"])
        owner_alias = [request.path_params["owner"], request.path_params["alias"]]
        if queued is None or queued.app_id.split("/")[:2] != owner_alias:
            return None
        return queued

    def complete(queued: QueuedRequest) -> None:
        """Run the model: decide the result the request ends with."""
        schema = MODELS[queued.app_id]
        arguments = queued.arguments
        errors = _validation_errors(schema, arguments) + _size_error(schema, arguments)
        if errors:
            queued.outcome = (422, {"detail": errors})
            return
        if queued.fault == "failed":
            queued.outcome = (
                500,
                {"detail": "Internal server error", "error_type": "runner_server_error"},
            )
            return
        if queued.fault == "content_policy":
            queued.outcome = (
                422,
                {
                    "detail": [
                        {
                            "loc": ["body", "prompt"],
                            "msg": "The content could not be processed because it contained "
                            "material flagged by a content checker.",
                            "type": "content_policy_violation",
                            "url": "https://docs.fal.ai/errors#content_policy_violation",
                        }
                    ]
                },
            )
            return
        if schema.size == "video":
            complete_video(queued, schema)
            return
        width, height = _output_size(schema, arguments)
        seed = int(arguments.get("seed", 42))
        nsfw = queued.fault == "nsfw"
        name = f"{uuid.uuid4().hex}.png"
        if queued.fault == "not_an_image":
            # The header still claims PNG: only the bytes tell that this is no image.
            content: tuple[bytes, str] = (b"upstream storage error: object missing\n", "image/png")
        else:
            # A flagged flux image comes back black, and still as a normal file.
            png = _render_png(width, height, 0 if nsfw else seed)
            content = (png, "image/png")
        with handle._lock:
            handle._images[name] = content
        image: dict[str, Any] = {
            "url": f"{handle.url}/files/{name}",
            "content_type": "image/png",
            "file_name": name,
            "file_size": len(content[0]),
        }
        if schema.safety_checker:
            image |= {"width": width, "height": height}
        output: dict[str, Any] = {"images": [image], "seed": seed}
        if schema.safety_checker:
            output |= {
                "timings": {"inference": 0.5},
                "has_nsfw_concepts": [nsfw],
                "prompt": arguments["prompt"],
            }
        queued.outcome = (200, output)

    def complete_video(queued: QueuedRequest, schema: ModelSchema) -> None:
        arguments = queued.arguments
        resolution = arguments.get("resolution", schema.default_video[0])
        ratio = arguments.get("aspect_ratio", schema.default_video[1])
        duration = str(arguments.get("duration", schema.default_video[2]))
        width, height = schema.frames[(resolution, ratio)]
        seconds = float(duration.removesuffix("s"))
        seed = int(arguments.get("seed", 42))
        name = f"{uuid.uuid4().hex}.mp4"
        if queued.fault == "not_a_video":
            # Labelled as a video, but the bytes are a picture.
            data = _render_png(64, 64, seed)
        else:
            data = _render_mp4(width, height, seconds, seed)
        with handle._lock:
            handle._images[name] = (data, "video/mp4")
        video = {
            "url": f"{handle.url}/files/{name}",
            "content_type": "video/mp4",
            "file_name": name,
            "file_size": len(data),
        }
        output: dict[str, Any] = {"video": video, "seed": seed}
        if schema.app_id.startswith("fal-ai/wan"):
            output["actual_prompt"] = arguments["prompt"]
        queued.outcome = (200, output)

    def advance(queued: QueuedRequest) -> str:
        """Move the request one step on each status poll and report where it is."""
        with handle._lock:
            queued.polls += 1
            if queued.outcome is None and queued.canceled:
                queued.outcome = (400, {"detail": "Request was cancelled"})
            if queued.outcome is not None:
                return "COMPLETED"
            if queued.polls <= STATUS_POLLS_IN_QUEUE:
                return "IN_QUEUE"
            if queued.fault == "slow" or queued.polls <= (
                STATUS_POLLS_IN_QUEUE + STATUS_POLLS_IN_PROGRESS
            ):
                return "IN_PROGRESS"
            complete(queued)
            return "COMPLETED"

    async def read_json(request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return _INVALID_JSON

    async def submit(request: Request) -> Response:
        body = await read_json(request)
        handle._record(request, None if body is _INVALID_JSON else body)
        if not authorized(request):
            return unauthorized()
        app_id = request.path_params["app_id"]
        schema = MODELS.get(app_id)
        if schema is None:
            return _error(404, f"Application '{app_id}' not found")
        if handle._take_rate_limit():
            detail = "Too many requests: concurrent request limit reached"
            return _error(429, detail, error_type="rate_limited")
        if handle.fault == "server_error":
            return _error(500, "Internal Server Error")
        if body is _INVALID_JSON:
            return _error(
                422,
                [{"loc": ["body"], "msg": "Invalid JSON", "type": "json_invalid"}],
            )
        if handle.validation == "submit":
            errors = _validation_errors(schema, body) + (
                _size_error(schema, body) if isinstance(body, dict) else []
            )
            if errors:
                return _error(422, errors)
        request_id = str(uuid.uuid4())
        queued = QueuedRequest(
            request_id=request_id,
            app_id=app_id,
            arguments=body if isinstance(body, dict) else {},
            fault=handle.fault,
        )
        with handle._lock:
            handle._queue[request_id] = queued
        url = base_url(app_id, request_id)
        return JSONResponse(
            {
                "status": "IN_QUEUE",
                "request_id": request_id,
                "response_url": url,
                "status_url": f"{url}/status",
                "cancel_url": f"{url}/cancel",
                "logs": None,
                "metrics": {},
                "queue_position": 0,
            },
            headers={"x-fal-request-id": request_id},
        )

    async def status(request: Request) -> Response:
        handle._record(request, None)
        if not authorized(request):
            return unauthorized()
        queued = find(request)
        if queued is None:
            return _error(404, "Request not found")
        state = advance(queued)
        logs: list[Any] | None = None
        if request.query_params.get("logs") in {"1", "true"}:
            logs = []
        url = base_url(queued.app_id, queued.request_id)
        body: dict[str, Any] = {"status": state, "request_id": queued.request_id}
        body |= {"response_url": url, "status_url": f"{url}/status", "cancel_url": f"{url}/cancel"}
        body["logs"] = logs
        if state == "IN_QUEUE":
            body["queue_position"] = 0
        if state == "COMPLETED":
            body["metrics"] = {"inference_time": 0.5}
            assert queued.outcome is not None
            code, outcome = queued.outcome
            if code >= 400:
                detail = outcome.get("detail")
                body["error"] = detail if isinstance(detail, str) else "Unprocessable Entity"
                body["error_type"] = outcome.get("error_type")
        # fal answers 202 while the request waits or runs, and 200 once it has completed.
        return JSONResponse(body, status_code=200 if state == "COMPLETED" else 202)

    async def result(request: Request) -> Response:
        handle._record(request, None)
        if not authorized(request):
            return unauthorized()
        queued = find(request)
        if queued is None:
            return _error(404, "Request not found")
        with handle._lock:
            outcome = queued.outcome
        if outcome is None:
            return _error(400, "Request is still in progress")
        code, body = outcome
        headers = {"x-fal-request-id": queued.request_id}
        if "error_type" in body:
            headers["x-fal-error-type"] = body["error_type"]
        return JSONResponse(body, status_code=code, headers=headers)

    async def cancel(request: Request) -> Response:
        handle._record(request, None)
        if not authorized(request):
            return unauthorized()
        queued = find(request)
        if queued is None:
            return JSONResponse({"status": "NOT_FOUND"}, status_code=404)
        with handle._lock:
            if queued.outcome is not None:
                return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
            queued.canceled = True
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

    async def file(request: Request) -> Response:
        # Files are served like fal's CDN: public, no key needed.
        handle._record(request, None)
        with handle._lock:
            stored = handle._images.get(request.path_params["name"])
        if stored is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        content, media_type = stored
        return Response(content, media_type=media_type)

    requests_path = "/{owner}/{alias}/requests/{request_id}"
    return Starlette(
        routes=[
            Route("/files/{name}", file, methods=["GET"]),
            Route(requests_path + "/status", status, methods=["GET"]),
            Route(requests_path + "/cancel", cancel, methods=["PUT"]),
            Route(requests_path, result, methods=["GET"]),
            Route("/{app_id:path}", submit, methods=["POST"]),
        ]
    )


@contextmanager
def fal_server(key: str) -> Iterator[FalServerHandle]:
    """Serve :func:`create_fal_app` on a free loopback port; the handle carries its URL."""
    handle = FalServerHandle(key)
    # The app reads the URL from the handle per request, so it may be set once serving.
    with serve(create_fal_app(handle), "fal queue") as url:
        handle.url = url
        yield handle


__all__ = ["MODELS", "FalServerHandle", "ReceivedRequest", "create_fal_app", "fal_server"]
