"""A BytePlus ModelArk compatible `images/generations` server for Seedream, for tests.

It speaks the wire format of `POST /api/v3/images/generations`: `Authorization: Bearer`, a JSON
body `{model, prompt, image, size, sequential_image_generation, response_format, watermark,
seed}` with images as `data:image/<format>;base64,...` URIs, and the answer
`{model, created, data: [{url | b64_json, size}], usage}`. Failures use the ModelArk shape
`{"error": {"code", "message", "param", "type"}}` with the matching HTTP status. In `url` mode
the JPEG is served by the same server under `/files/`.

Fault modes (set with `handle.set_fault(...)`): `rate_limit_once` (one 429, then normal),
`server_error` (500 forever), `safety_block` (400 OutputImageSensitiveContentDetected),
`input_blocked` (400 InputTextSensitiveContentDetected), `not_an_image` (the image is not an
image), `download_error_once` (the first download of a file answers 500), `slow` (answers
after `slow_seconds`). `state.max_in_flight` is the most generations answered at once.
"""

from __future__ import annotations

import binascii
import json
import re
import secrets
import threading
import time
from base64 import b64decode, b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.wire import FaultState, ReceivedRequest, render_image, serve, stall

MODELS = frozenset({"seedream-4-0-250828"})
MIN_PIXELS = 1280 * 720
MAX_PIXELS = 4096 * 4096
MAX_INPUT_IMAGES = 10
PRESET_SIZES = {"1K": (1024, 1024), "2K": (2048, 2048), "4K": (4096, 4096)}
_DATA_URI = re.compile(r"^data:image/(png|jpeg|jpg|webp|bmp|tiff|gif);base64,(.+)$", re.DOTALL)
_ERROR_TYPES = {
    400: "BadRequest",
    401: "Unauthorized",
    404: "NotFound",
    429: "TooManyRequests",
    500: "InternalServerError",
}
NOT_AN_IMAGE = b"<html><body>gateway error</body></html>"


def ark_error(status: int, code: str, message: str, param: str = "") -> JSONResponse:
    request_id = secrets.token_hex(16)
    return JSONResponse(
        {
            "error": {
                "code": code,
                "message": f"{message} Request id: {request_id}",
                "param": param,
                "type": _ERROR_TYPES[status],
            }
        },
        status_code=status,
    )


class InvalidParameter(Exception):
    def __init__(self, param: str, message: str, code: str = "InvalidParameter") -> None:
        super().__init__(message)
        self.param = param
        self.message = message
        self.code = code


def parse_size(value: object) -> tuple[int, int]:
    if value is None:
        return PRESET_SIZES["2K"]
    if isinstance(value, str) and value in PRESET_SIZES:
        return PRESET_SIZES[value]
    match = re.fullmatch(r"(\d+)x(\d+)", value) if isinstance(value, str) else None
    if match is None:
        raise InvalidParameter(
            "size", "The parameter `size` specified in the request is not valid."
        )
    width, height = int(match[1]), int(match[2])
    if not MIN_PIXELS <= width * height <= MAX_PIXELS or not 1 / 16 <= width / height <= 16:
        raise InvalidParameter(
            "size", "The parameter `size` specified in the request is not valid: out of range."
        )
    return width, height


def parse_images(value: object, received: ReceivedRequest) -> None:
    if value is None:
        return
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or len(items) > MAX_INPUT_IMAGES:
        raise InvalidParameter(
            "image", "The parameter `image` specified in the request is not valid."
        )
    for item in items:
        match = _DATA_URI.match(item) if isinstance(item, str) else None
        if match is None:
            raise InvalidParameter(
                "image", "The parameter `image` specified in the request is not valid."
            )
        try:
            data = b64decode(match[2], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParameter(
                "image", "The parameter `image` is not valid base64 data."
            ) from None
        received.images.append((f"image/{match[1]}", data))


@dataclass
class SeedreamServerHandle:
    url: str
    api_key: str
    state: FaultState
    downloads: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """What SEEDREAM_BASE_URL is set to for this server."""
        return f"{self.url}/api/v3"

    def set_fault(self, fault: str | None) -> None:
        self.state.set_fault(fault)

    @property
    def requests(self) -> list[ReceivedRequest]:
        return self.state.requests

    def reset(self) -> None:
        self.state.reset()
        self.downloads.clear()


def create_seedream_app(handle: SeedreamServerHandle) -> Starlette:
    state = handle.state
    files: dict[str, bytes] = {}
    failed_downloads: set[str] = set()
    lock = threading.Lock()

    async def generations(request: Request) -> Response:
        with state.in_flight():
            return await answer_generation(request)

    async def answer_generation(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() != handle.api_key:
            return ark_error(
                401,
                "AuthenticationError",
                "The API key or AK/SK in the request is missing or invalid.",
            )
        try:
            body = json.loads(await request.body())
        except ValueError:
            return ark_error(400, "InvalidParameter", "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return ark_error(400, "InvalidParameter", "The request body must be a JSON object.")
        received = ReceivedRequest(
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        model = body.get("model")
        if model not in MODELS:
            state.record(received)
            return ark_error(
                404,
                "InvalidEndpointOrModel.NotFound",
                f"The model or endpoint {model} does not exist or you do not have access to it.",
            )
        try:
            prompt = body.get("prompt")
            if not isinstance(prompt, str) or not prompt.strip():
                raise InvalidParameter(
                    "prompt",
                    "The request failed because it is missing one or multiple required parameters.",
                    code="MissingParameter",
                )
            received.texts.append(prompt)
            width, height = parse_size(body.get("size"))
            parse_images(body.get("image"), received)
            response_format = body.get("response_format", "url")
            if response_format not in {"url", "b64_json"}:
                raise InvalidParameter(
                    "response_format", "The parameter `response_format` is not valid."
                )
            if body.get("sequential_image_generation", "disabled") not in {"auto", "disabled"}:
                raise InvalidParameter(
                    "sequential_image_generation",
                    "The parameter `sequential_image_generation` is not valid.",
                )
            if not isinstance(body.get("watermark", True), bool):
                raise InvalidParameter("watermark", "The parameter `watermark` is not valid.")
            seed = body.get("seed", -1)
            if isinstance(seed, bool) or not isinstance(seed, int) or not -1 <= seed <= 2**31 - 1:
                raise InvalidParameter("seed", "The parameter `seed` is not valid.")
        except InvalidParameter as error:
            state.record(received)
            return ark_error(400, error.code, error.message, error.param)
        state.record(received)

        fault = state.take_fault()
        if fault == "rate_limit_once":
            return ark_error(
                429,
                "RateLimitExceeded.EndpointRPMExceeded",
                "The request has exceeded the rate limit for requests per minute.",
            )
        if fault == "server_error":
            return ark_error(
                500, "InternalServiceError", "The service encountered an unexpected internal error."
            )
        if fault == "safety_block":
            return ark_error(
                400,
                "OutputImageSensitiveContentDetected",
                "The request failed because the output image may contain sensitive information.",
            )
        if fault == "input_blocked":
            return ark_error(
                400,
                "InputTextSensitiveContentDetected",
                "The request failed because the input text may contain sensitive information.",
            )
        if fault == "slow" and not await stall(request, state.slow_seconds):
            return Response(status_code=499)

        image = NOT_AN_IMAGE if fault == "not_an_image" else render_image(width, height, "JPEG")
        item: dict[str, Any] = {"size": f"{width}x{height}"}
        if response_format == "b64_json":
            item["b64_json"] = b64encode(image).decode("ascii")
        else:
            name = secrets.token_hex(12) + ".jpeg"
            with lock:
                files[name] = image
                if fault == "download_error_once":
                    failed_downloads.add(name)
            expires = int(time.time()) + 86400
            item["url"] = f"{handle.url}/files/{name}?X-Tos-Expires=86400&X-Expires-At={expires}"
        return JSONResponse(
            {
                "model": model,
                "created": int(time.time()),
                "data": [item],
                "usage": {"generated_images": 1, "output_tokens": 16384, "total_tokens": 16384},
            }
        )

    async def download(request: Request) -> Response:
        name = request.path_params["name"]
        with lock:
            handle.downloads.append(name)
            data = files.get(name)
            fail = name in failed_downloads
            failed_downloads.discard(name)
        if data is None:
            return Response(
                b"<Error><Code>NoSuchKey</Code></Error>", 404, media_type="application/xml"
            )
        if fail:
            return Response(
                b"<Error><Code>InternalError</Code></Error>", 500, media_type="application/xml"
            )
        return Response(data, media_type="image/jpeg")

    return Starlette(
        routes=[
            Route("/api/v3/images/generations", generations, methods=["POST"]),
            Route("/files/{name}", download, methods=["GET"]),
        ]
    )


@contextmanager
def seedream_server(api_key: str = "test-ark-key") -> Iterator[SeedreamServerHandle]:
    """Serve the fake ModelArk API on a free loopback port."""
    handle = SeedreamServerHandle(url="", api_key=api_key, state=FaultState())
    with serve(create_seedream_app(handle), "seedream-api") as url:
        handle.url = url
        yield handle
