"""A Gemini API (generativelanguage) compatible generateContent server, for tests.

It speaks the wire format google-genai uses: `POST /{v1beta|v1}/models/{model}:generateContent`
with `x-goog-api-key`, `contents[].parts[]` holding `text` or `inlineData` (camelCase or
snake_case keys, standard or URL-safe base64), `generationConfig.responseModalities` and
`imageConfig`; answers are `candidates[].content.parts[]` with `inlineData` PNGs, and failures
use Google's `{"error": {"code", "message", "status", "details"}}` shape.

A text request with `generationConfig.responseMimeType: application/json` gets its answer as
JSON text in the first part, as the real API does: the next answer queued with
`handle.queue_json(...)` (checked against the request's `responseSchema`, the API's OpenAPI
subset: type, properties, required, items, enum, nullable), else the smallest instance of the
schema (nulls, false, empty lists).

Fault modes (set with `handle.set_fault(...)`): `rate_limit_once` (one 429, then normal),
`server_error` (500 forever), `safety_block` (finishReason SAFETY), `image_safety`
(finishReason IMAGE_SAFETY), `prompt_blocked` (promptFeedback.blockReason), `no_image`
(text only), `not_an_image` (inlineData that is not an image), `slow` (answers after
`slow_seconds`), `invalid_json` (a JSON-mode answer that is prose, not JSON).
"""

from __future__ import annotations

import binascii
import json
import threading
import uuid
from base64 import b64decode, b64encode, urlsafe_b64decode
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.wire import FaultState, ReceivedRequest, render_image, serve, stall

API_VERSIONS = frozenset({"v1", "v1beta"})
MODELS = frozenset(
    {"gemini-2.5-flash-image", "gemini-3-pro-image-preview", "gemini-2.5-flash", "gemini-2.5-pro"}
)
# Output sizes of the image models at 1K, by aspect ratio.
IMAGE_SIZES_1K = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}
IMAGE_SIZE_SCALE = {"1K": 1, "2K": 2, "4K": 4}
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
}


def google_error(code: int, message: str, details: list[Any] | None = None) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message, "status": _STATUS_NAMES[code]}
    if details:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=code)


class BadRequest(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def decode_bytes(value: object, where: str) -> bytes:
    """Decode a proto `bytes` field: the JSON mapping accepts standard and URL-safe base64."""
    if not isinstance(value, str) or not value:
        raise BadRequest(f"Invalid value at '{where}' (TYPE_BYTES), expected base64 text")
    padded = value + "=" * (-len(value) % 4)
    try:
        if "-" in padded or "_" in padded:
            return urlsafe_b64decode(padded.encode())
        return b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(
            f"Invalid value at '{where}' (TYPE_BYTES), Base64 decoding failed"
        ) from None


def _field(mapping: dict[str, Any], camel: str, snake: str) -> Any:
    return mapping.get(camel, mapping.get(snake))


def parse_contents(body: dict[str, Any], received: ReceivedRequest) -> None:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise BadRequest("* GenerateContentRequest.contents: contents is not specified")
    for c_index, content in enumerate(contents):
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list) or not parts:
            raise BadRequest(
                f"* GenerateContentRequest.contents[{c_index}].parts: must not be empty"
            )
        for p_index, part in enumerate(parts):
            where = f"contents[{c_index}].parts[{p_index}]"
            if not isinstance(part, dict):
                raise BadRequest(f"Invalid value at '{where}'")
            if "text" in part:
                received.texts.append(str(part["text"]))
                continue
            blob = _field(part, "inlineData", "inline_data")
            if isinstance(blob, dict):
                mime_type = _field(blob, "mimeType", "mime_type")
                if not isinstance(mime_type, str) or not mime_type:
                    raise BadRequest(f"* {where}.inline_data.mime_type: must be specified")
                data = decode_bytes(blob.get("data"), f"{where}.inline_data.data")
                received.images.append((mime_type, data))
                continue
            raise BadRequest(f"Invalid value at '{where}': unsupported part")


def _usage() -> dict[str, int]:
    return {"promptTokenCount": 12, "candidatesTokenCount": 1290, "totalTokenCount": 1302}


def _answer(model: str, candidates: list[Any], **extra: Any) -> JSONResponse:
    body = {
        "candidates": candidates,
        "usageMetadata": _usage(),
        "modelVersion": model,
        "responseId": uuid.uuid4().hex[:22],
        **extra,
    }
    return JSONResponse(body)


def _image_candidate(data: bytes, mime_type: str = "image/png") -> dict[str, Any]:
    return {
        "content": {
            "role": "model",
            "parts": [
                {"text": "Here is your thumbnail."},
                {"inlineData": {"mimeType": mime_type, "data": b64encode(data).decode("ascii")}},
            ],
        },
        "finishReason": "STOP",
        "index": 0,
    }


def _text_candidate(text: str) -> dict[str, Any]:
    return {
        "content": {"role": "model", "parts": [{"text": text}]},
        "finishReason": "STOP",
        "index": 0,
    }


_SCHEMA_TYPES = frozenset({"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"})


class ScriptedAnswers:
    """JSON answers for JSON-mode requests, queued by a test, taken in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: deque[Any] = deque()

    def put(self, answer: Any) -> None:
        with self._lock:
            self._answers.append(answer)

    def take(self) -> tuple[bool, Any]:
        with self._lock:
            if self._answers:
                return True, self._answers.popleft()
            return False, None

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()


def check_schema(schema: Any, where: str = "responseSchema") -> None:
    """Refuse a schema the API would refuse: unknown types, malformed properties or items."""
    if not isinstance(schema, dict):
        raise BadRequest(f"Invalid value at 'generation_config.{where}'")
    kind = str(schema.get("type", "")).upper()
    if kind not in _SCHEMA_TYPES:
        raise BadRequest(f"* GenerationConfig.{where}.type: unknown type {schema.get('type')!r}")
    if kind == "OBJECT":
        properties = schema.get("properties") or {}
        if not isinstance(properties, dict):
            raise BadRequest(f"* GenerationConfig.{where}.properties: must be a map")
        for name, child in properties.items():
            check_schema(child, f"{where}.properties[{name}]")
        for name in schema.get("required") or ():
            if name not in properties:
                raise BadRequest(f"* GenerationConfig.{where}.required: {name} is not a property")
    if kind == "ARRAY":
        check_schema(schema.get("items"), f"{where}.items")
    enum = schema.get("enum")
    if enum is not None and (kind != "STRING" or not isinstance(enum, list)):
        raise BadRequest(f"* GenerationConfig.{where}.enum: only for STRING, as a list")


def conforms(value: Any, schema: dict[str, Any]) -> bool:
    if value is None:
        return bool(schema.get("nullable"))
    kind = str(schema["type"]).upper()
    if kind == "STRING":
        return isinstance(value, str) and value in schema.get("enum", [value])
    if kind == "BOOLEAN":
        return isinstance(value, bool)
    if kind in {"NUMBER", "INTEGER"}:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and (kind == "NUMBER" or float(value).is_integer())
    if kind == "ARRAY":
        return isinstance(value, list) and all(conforms(item, schema["items"]) for item in value)
    properties = schema.get("properties") or {}
    return (
        isinstance(value, dict)
        and set(value) <= set(properties)
        and all(name in value for name in schema.get("required") or ())
        and all(conforms(item, properties[name]) for name, item in value.items())
    )


def smallest_instance(schema: dict[str, Any]) -> Any:
    if schema.get("nullable"):
        return None
    kind = str(schema["type"]).upper()
    if kind == "OBJECT":
        return {
            name: smallest_instance(child)
            for name, child in (schema.get("properties") or {}).items()
        }
    empty: dict[str, Any] = {"ARRAY": [], "BOOLEAN": False, "NUMBER": 0, "INTEGER": 0}
    if kind == "STRING":
        return (schema.get("enum") or [""])[0]
    return empty[kind]


def create_gemini_app(
    state: FaultState, api_key: str, answers: ScriptedAnswers | None = None
) -> Starlette:
    scripted = answers or ScriptedAnswers()

    def json_answer(model: str, config: dict[str, Any], fault: str | None) -> JSONResponse:
        schema = _field(config, "responseSchema", "response_schema")
        if fault == "invalid_json":
            return _answer(model, [_text_candidate("Sure! I'd make the background red.")])
        queued, answer = scripted.take()
        if schema is not None:
            if not queued:
                answer = smallest_instance(schema)
            elif not conforms(answer, schema):
                # The real model is held to the schema; a test that scripts otherwise is wrong.
                return google_error(500, "Scripted answer does not match responseSchema.")
        elif not queued:
            answer = {}
        return _answer(model, [_text_candidate(json.dumps(answer))])

    async def generate_content(request: Request) -> JSONResponse:
        version = request.path_params["version"]
        model, _, method = request.path_params["target"].partition(":")
        if version not in API_VERSIONS or method != "generateContent" or not model:
            return google_error(404, f"Method not found: {request.url.path}")
        supplied = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not supplied:
            return google_error(
                403,
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.",
            )
        if supplied != api_key:
            return google_error(
                400,
                "API key not valid. Please pass a valid API key.",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"},
                    }
                ],
            )
        if model not in MODELS:
            return google_error(
                404,
                f"models/{model} is not found for API version {version}, or is not supported "
                "for generateContent. Call ListModels to see the list of available models and "
                "their supported methods.",
            )
        try:
            body = json.loads(await request.body())
        except ValueError:
            return google_error(400, "Invalid JSON payload received.")
        if not isinstance(body, dict):
            return google_error(400, "Invalid JSON payload received. Expected an object.")
        received = ReceivedRequest(
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        try:
            parse_contents(body, received)
            config = _field(body, "generationConfig", "generation_config") or {}
            modalities = [
                m.upper() for m in _field(config, "responseModalities", "response_modalities") or []
            ]
            image_config = _field(config, "imageConfig", "image_config") or {}
            aspect = _field(image_config, "aspectRatio", "aspect_ratio") or "1:1"
            size = _field(image_config, "imageSize", "image_size") or "1K"
            if aspect not in IMAGE_SIZES_1K:
                raise BadRequest(f"Unsupported aspect ratio: {aspect}")
            if size not in IMAGE_SIZE_SCALE:
                raise BadRequest(f"Unsupported image size: {size}")
            if "IMAGE" in modalities and "image" not in model:
                raise BadRequest("Model does not support the requested response modalities: image")
            mime_type = _field(config, "responseMimeType", "response_mime_type") or "text/plain"
            if mime_type not in {"text/plain", "application/json", "text/x.enum"}:
                raise BadRequest(f"Unsupported response mime type: {mime_type}")
            schema = _field(config, "responseSchema", "response_schema")
            if schema is not None:
                if mime_type == "text/plain":
                    raise BadRequest("responseSchema needs a responseMimeType such as JSON")
                check_schema(schema)
        except BadRequest as error:
            state.record(received)
            return google_error(400, error.message)
        state.record(received)

        fault = state.take_fault()
        if fault == "rate_limit_once":
            return google_error(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}],
            )
        if fault == "server_error":
            return google_error(500, "An internal error has occurred. Please retry.")
        if fault == "slow" and not await stall(request, state.slow_seconds):
            return JSONResponse({}, status_code=499)
        if fault == "prompt_blocked":
            return JSONResponse(
                {
                    "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                    "usageMetadata": _usage(),
                    "modelVersion": model,
                }
            )
        if fault == "safety_block":
            candidate = {
                "finishReason": "SAFETY",
                "index": 0,
                "safetyRatings": [
                    {
                        "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
                        "probability": "HIGH",
                        "blocked": True,
                    }
                ],
            }
            return _answer(model, [candidate])
        if fault == "image_safety":
            return _answer(model, [{"finishReason": "IMAGE_SAFETY", "index": 0}])

        if "IMAGE" not in modalities and mime_type == "application/json":
            return json_answer(model, config, fault)
        if "IMAGE" not in modalities:
            last = received.texts[-1] if received.texts else ""
            return _answer(model, [_text_candidate(f"Try a bolder headline for: {last[:80]}")])
        if fault == "no_image":
            return _answer(model, [_text_candidate("I can't make that image.")])
        if fault == "not_an_image":
            return _answer(model, [_image_candidate(b"<html>upstream error</html>")])
        width, height = IMAGE_SIZES_1K[aspect]
        scale = IMAGE_SIZE_SCALE[size]
        return _answer(model, [_image_candidate(render_image(width * scale, height * scale))])

    return Starlette(
        routes=[Route("/{version}/models/{target}", generate_content, methods=["POST"])]
    )


@dataclass
class GeminiServerHandle:
    url: str
    api_key: str
    state: FaultState
    answers: ScriptedAnswers

    def set_fault(self, fault: str | None) -> None:
        self.state.set_fault(fault)

    def queue_json(self, answer: Any) -> None:
        """The JSON a following JSON-mode request gets (one request per queued answer)."""
        self.answers.put(answer)

    @property
    def requests(self) -> list[ReceivedRequest]:
        return self.state.requests

    def reset(self) -> None:
        self.state.reset()
        self.answers.clear()


@contextmanager
def gemini_server(api_key: str = "test-gemini-key") -> Iterator[GeminiServerHandle]:
    """Serve the fake Gemini API on a free loopback port."""
    state = FaultState()
    answers = ScriptedAnswers()
    with serve(create_gemini_app(state, api_key, answers), "gemini-api") as url:
        yield GeminiServerHandle(url=url, api_key=api_key, state=state, answers=answers)
