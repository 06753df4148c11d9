"""Google Gemini image models (Nano Banana) and the chat's text model, through google-genai."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from app.config import Settings, secret_value
from app.providers.base import InputImage, ProviderError, RenderRequest
from app.providers.output import TOO_LARGE, sniff_image
from app.providers.retry import call_with_retries

if TYPE_CHECKING:
    from google.genai import Client
    from google.genai import types as genai_types
    from pydantic import BaseModel

logger = logging.getLogger("app.providers")

T = TypeVar("T")

# Preview image models live on v1beta; pinning it keeps the SDK's default version from moving.
API_VERSION = "v1beta"
# Aspect ratios the Gemini image models accept, as (label, width / height).
ASPECT_RATIOS: tuple[tuple[str, float], ...] = tuple(
    (f"{w}:{h}", w / h)
    for w, h in ((1, 1), (2, 3), (3, 2), (3, 4), (4, 3), (4, 5), (5, 4), (9, 16), (16, 9), (21, 9))
)
# Only the Gemini 3 image models take an output size; they default to 1K.
_IMAGE_SIZES = {"draft": "1K", "std": "2K", "4k": "4K"}
_SAFETY_FINISH_REASONS = frozenset(
    {
        "SAFETY",
        "IMAGE_SAFETY",
        "PROHIBITED_CONTENT",
        "IMAGE_PROHIBITED_CONTENT",
        "BLOCKLIST",
        "SPII",
        "RECITATION",
        "IMAGE_RECITATION",
    }
)
_RETRYABLE_STATUS = frozenset({408, 429})
_CHAT_HISTORY_LIMIT = 20
_CHAT_TIMEOUT_SECONDS = 30.0
_CHAT_RETRY_SECONDS = 10.0

UNREACHABLE = "The image service is busy or unreachable right now. Please try again in a moment."
BLOCKED = (
    "The image service declined this request under its content policy. "
    "Try a different headline, photo or description."
)
NO_IMAGE = "The image service did not return an image for this request. Please try again."
REJECTED = "The image service could not process this request."
NOT_CONFIGURED = "The image service is not configured correctly on this server."
CHAT_UNAVAILABLE = "The assistant is unavailable right now."


def nearest_aspect_ratio(width: int, height: int) -> str:
    """The supported aspect ratio closest to width:height, compared on a log scale."""
    target = math.log(width / height)
    return min(ASPECT_RATIOS, key=lambda item: abs(math.log(item[1]) - target))[0]


def _is_transport_error(error: BaseException) -> bool:
    # The SDK sends through httpx or its fork httpx2, whichever is installed; both name their
    # network failures the same way, so match on the class names rather than import both.
    for cls in type(error).__mro__:
        if cls.__module__.split(".")[0] in {"httpx", "httpx2"} and cls.__name__ in {
            "TimeoutException",
            "TransportError",
        }:
            return True
    return False


def classify_failure(error: BaseException, *, user_message: str = REJECTED) -> ProviderError:
    """Turn an SDK or network exception into a ProviderError with a safe message."""
    from google.genai import errors

    if isinstance(error, ProviderError):
        return error
    if isinstance(error, errors.APIError):
        internal = f"gemini HTTP {error.code} {error.status or ''}: {error.message or ''}".strip()
        if error.code in _RETRYABLE_STATUS or error.code >= 500:
            return ProviderError(UNREACHABLE, retryable=True, internal=internal)
        # A bad key answers 400 API_KEY_INVALID; an unknown model name answers 404.
        if error.code in {401, 403, 404} or "API_KEY" in str(error.details):
            return ProviderError(NOT_CONFIGURED, retryable=False, internal=internal)
        return ProviderError(user_message, retryable=False, internal=internal)
    if isinstance(error, TimeoutError) or _is_transport_error(error):
        return ProviderError(
            UNREACHABLE, retryable=True, internal=f"gemini network failure: {type(error).__name__}"
        )
    if isinstance(error, errors.UnknownApiResponseError):
        return ProviderError(UNREACHABLE, retryable=True, internal="gemini answered non-JSON")
    return ProviderError(
        user_message, retryable=False, internal=f"gemini call failed: {type(error).__name__}"
    )


def _build_client(settings: Settings, timeout_seconds: float) -> Client:
    from google import genai
    from google.genai import types

    api_key = secret_value(settings.gemini_api_key)
    if not api_key:
        raise ProviderError(NOT_CONFIGURED, retryable=False, internal="GEMINI_API_KEY is not set")
    options = types.HttpOptions(
        base_url=settings.gemini_base_url or None,
        api_version=API_VERSION,
        timeout=int(timeout_seconds * 1000),  # the SDK counts milliseconds
        # One attempt per call: call_with_retries owns the retry policy and its time budget.
        retry_options=types.HttpRetryOptions(attempts=1),
    )
    return genai.Client(api_key=api_key, vertexai=False, http_options=options)


async def _close_client(client: Client) -> None:
    await client.aio.aclose()
    client.close()


async def _attempt(operation: Callable[[], Awaitable[T]], *, timeout_seconds: float) -> T:
    # The SDK's own timeout covers the HTTP exchange; this one bounds the whole attempt.
    try:
        async with asyncio.timeout(timeout_seconds):
            return await operation()
    except Exception as error:
        raise classify_failure(error) from None


def _image_parts(images: Sequence[InputImage]) -> list[genai_types.Part]:
    from google.genai import types

    labels = {
        "selfie": "Photo of the person to feature:",
        "reference": "Reference image for style:",
        "copy_target": "Example thumbnail to recreate:",
    }
    parts: list[types.Part] = []
    for image in images:
        parts.append(types.Part.from_text(text=labels[image.role]))
        parts.append(types.Part.from_bytes(data=image.data, mime_type=image.content_type))
    return parts


def extract_image(response: genai_types.GenerateContentResponse, *, max_bytes: int) -> bytes:
    """The first generated image of a response, or a final ProviderError saying why not."""
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        raise ProviderError(
            BLOCKED, retryable=False, internal=f"prompt blocked: {feedback.block_reason.value}"
        )
    reasons: list[str] = []
    for candidate in response.candidates or ():
        reason = candidate.finish_reason.value if candidate.finish_reason else ""
        reasons.append(reason)
        parts = candidate.content.parts if candidate.content else None
        for part in parts or ():
            blob = part.inline_data
            # Gemini 3 may stream interim "thought" images before the final one.
            if part.thought or blob is None or not blob.data:
                continue
            if not (blob.mime_type or "").startswith("image/"):
                continue
            if len(blob.data) > max_bytes:
                raise ProviderError(TOO_LARGE, retryable=False, internal=f"{len(blob.data)} bytes")
            sniff_image(blob.data)
            return blob.data
        if reason in _SAFETY_FINISH_REASONS:
            raise ProviderError(BLOCKED, retryable=False, internal=f"finish reason {reason}")
    raise ProviderError(
        NO_IMAGE, retryable=False, internal=f"no image part; finish reasons {reasons or 'none'}"
    )


class GeminiProvider:
    """Renders with Gemini image models; one SDK client per process, built on first use."""

    name = "gemini"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Client | None = None

    def _get_client(self) -> Client:
        if self._client is None:
            self._client = _build_client(self.settings, self.settings.provider_timeout_seconds)
        return self._client

    def _config(self, request: RenderRequest) -> genai_types.GenerateContentConfig:
        from google.genai import types

        brief = request.brief
        image_config = types.ImageConfig(
            aspect_ratio=nearest_aspect_ratio(brief.width, brief.height)
        )
        if request.provider_model.startswith("gemini-3"):
            image_config.image_size = _IMAGE_SIZES.get(request.quality, "1K")
        temperature = request.params.get("temperature")
        return types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            image_config=image_config,
            temperature=float(temperature) if temperature is not None else None,
            candidate_count=1,
        )

    async def render(self, request: RenderRequest) -> bytes:
        from google.genai import types

        client = self._get_client()
        contents: list[Any] = [types.Part.from_text(text=request.prompt)]
        contents.extend(_image_parts(request.images))
        config = self._config(request)

        async def generate() -> bytes:
            response = await _attempt(
                lambda: client.aio.models.generate_content(
                    model=request.provider_model, contents=contents, config=config
                ),
                timeout_seconds=self.settings.provider_timeout_seconds,
            )
            return extract_image(response, max_bytes=self.settings.provider_output_max_bytes)

        return await call_with_retries(
            generate,
            budget_seconds=self.settings.provider_retry_seconds,
            describe=f"gemini {request.provider_model}",
        )

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await _close_client(client)


def _chat_contents(history: Sequence[tuple[str, str]], message: str) -> list[genai_types.Content]:
    from google.genai import types

    contents = [
        types.Content(
            role="user" if sender == "user" else "model",
            parts=[types.Part.from_text(text=text)],
        )
        for sender, text in history[-_CHAT_HISTORY_LIMIT:]
        if text.strip()
    ]
    contents.append(types.Content(role="user", parts=[types.Part.from_text(text=message)]))
    return contents


def _reply_text(response: genai_types.GenerateContentResponse) -> str:
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        raise ProviderError(
            CHAT_UNAVAILABLE, retryable=False, internal=f"chat blocked: {feedback.block_reason}"
        )
    candidate = response.candidates[0] if response.candidates else None
    parts = candidate.content.parts if candidate and candidate.content else None
    reply = "".join(part.text for part in parts or () if part.text and not part.thought).strip()
    if not reply:
        raise ProviderError(CHAT_UNAVAILABLE, retryable=False, internal="empty chat reply")
    return reply


async def structured_answer(
    *,
    settings: Settings,
    instruction: str,
    history: Sequence[tuple[str, str]],
    message: str,
    schema: type[BaseModel],
) -> str:
    """The text model's answer to a chat message as JSON text following `schema`.

    `history` holds (sender, text) pairs, oldest first, sender "user" or anything else for the
    assistant. The caller validates the JSON (and falls back when it cannot). Raises
    ProviderError on failure. Someone is waiting on the answer, so time and retry budgets are
    tighter than for renders.
    """
    from google.genai import types

    config = types.GenerateContentConfig(
        system_instruction=instruction,
        temperature=0.0,
        response_mime_type="application/json",
        response_schema=schema,
    )
    timeout_seconds = min(settings.provider_timeout_seconds, _CHAT_TIMEOUT_SECONDS)
    client = _build_client(settings, timeout_seconds)
    contents = _chat_contents(history, message)

    async def reply() -> str:
        response = await _attempt(
            lambda: client.aio.models.generate_content(
                model=settings.gemini_text_model, contents=contents, config=config
            ),
            timeout_seconds=timeout_seconds,
        )
        return _reply_text(response)

    try:
        return await call_with_retries(
            reply,
            budget_seconds=min(settings.provider_retry_seconds, _CHAT_RETRY_SECONDS),
            describe=f"gemini chat {settings.gemini_text_model}",
        )
    except ProviderError as error:
        raise ProviderError(
            CHAT_UNAVAILABLE, retryable=error.retryable, internal=error.internal
        ) from None
    finally:
        await _close_client(client)
