"""ByteDance Seedream on BytePlus ModelArk: the images/generations endpoint over httpx."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from base64 import b64encode
from io import BytesIO
from typing import TYPE_CHECKING, Any, Literal

from app.config import Settings, secret_value
from app.providers.base import InputImage, ProviderError, RenderRequest
from app.providers.output import decode_base64_image, download_image, sniff_image
from app.providers.retry import call_with_retries

if TYPE_CHECKING:
    import httpx

ResponseFormat = Literal["b64_json", "url"]

# Output size rules for Seedream 4.0 "WxH" sizes: total pixels and aspect ratio bounds.
MIN_PIXELS = 1280 * 720
MAX_PIXELS = 4096 * 4096
MAX_ASPECT = 16.0
_QUALITY_PIXELS = {"draft": 1024 * 1024, "std": 2048 * 2048, "4k": 4096 * 4096}
# Input images must be JPEG or PNG; anything else is re-encoded as PNG before sending.
_ACCEPTED_INPUT_TYPES = {"image/png": "png", "image/jpeg": "jpeg"}
_SEED_RANGE = 2_147_483_647

UNREACHABLE = "The image service is busy or unreachable right now. Please try again in a moment."
BLOCKED = (
    "The image service declined this request under its content policy. "
    "Try a different headline, photo or description."
)
REJECTED = "The image service could not process this request."
NOT_CONFIGURED = "The image service is not configured correctly on this server."
UNREADABLE_INPUT = "One of the photos for this thumbnail could not be read."
NO_IMAGE = "The image service did not return an image for this request. Please try again."


def seedream_size(width: int, height: int, quality: str) -> str:
    """A "WxH" size with the brief's aspect ratio and the pixel count the quality asks for."""
    aspect = min(max(width / height, 1 / MAX_ASPECT), MAX_ASPECT)
    pixels = min(max(_QUALITY_PIXELS.get(quality, _QUALITY_PIXELS["std"]), MIN_PIXELS), MAX_PIXELS)
    out_width = max(8, int(math.sqrt(pixels * aspect)) // 8 * 8)
    out_height = max(8, int(out_width / aspect) // 8 * 8)
    # Rounding down to multiples of 8 can drop just under the floor; grow the short side back.
    while out_width * out_height < MIN_PIXELS:
        if out_width < out_height:
            out_width += 8
        else:
            out_height += 8
    return f"{out_width}x{out_height}"


def request_seed(request: RenderRequest) -> int | None:
    """The seed to send: the person's own, else one derived from the job so retries match."""
    explicit = request.params.get("seed")
    if explicit is not None:
        return int(explicit)
    if not request.seed:
        return None
    digest = hashlib.sha256(f"{request.seed}:{request.variant}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % _SEED_RANGE


def _to_png(data: bytes) -> bytes:
    from PIL import Image

    with Image.open(BytesIO(data)) as image:
        converted = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        out = BytesIO()
        converted.save(out, format="PNG")
    return out.getvalue()


async def data_uri(image: InputImage) -> str:
    """An input image as the `data:image/<format>;base64,...` URI the API takes."""
    subtype = _ACCEPTED_INPUT_TYPES.get(image.content_type)
    data = image.data
    if subtype is None:
        try:
            data = await asyncio.to_thread(_to_png, data)
        except (OSError, ValueError) as error:
            raise ProviderError(
                UNREADABLE_INPUT, retryable=False, internal=f"input image unreadable: {error}"
            ) from None
        subtype = "png"
    return f"data:image/{subtype};base64,{b64encode(data).decode('ascii')}"


def _error_details(response: httpx.Response) -> tuple[str, str]:
    """The (code, message) of an API error body, or empty strings if it has another shape."""
    try:
        payload = response.json()
    except ValueError:
        return "", ""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code") or ""), str(error.get("message") or "")


def _is_content_block(code: str) -> bool:
    return "SensitiveContent" in code or "RiskDetection" in code


def classify_status(status: int, code: str, message: str) -> ProviderError:
    """Map an HTTP failure of the generations endpoint to a ProviderError."""
    internal = f"seedream HTTP {status} {code}: {message}".strip()
    if status == 429 or status >= 500:
        return ProviderError(UNREACHABLE, retryable=True, internal=internal)
    if _is_content_block(code):
        return ProviderError(BLOCKED, retryable=False, internal=internal)
    # 401 bad key, 403 overdue account or no access, 404 model not activated for the account.
    if status in {401, 403, 404}:
        return ProviderError(NOT_CONFIGURED, retryable=False, internal=internal)
    return ProviderError(REJECTED, retryable=False, internal=internal)


def _first_output(payload: Any) -> dict[str, Any]:
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise ProviderError(NO_IMAGE, retryable=False, internal="no data in the response")
    item: dict[str, Any] = data[0]
    # In batch answers a failed image carries its own error object instead of the image.
    error = item.get("error")
    if isinstance(error, dict):
        raise classify_status(400, str(error.get("code", "")), str(error.get("message", "")))
    return item


class SeedreamProvider:
    """Renders with Seedream; one HTTP connection pool per event loop, built on first use."""

    name = "seedream"

    def __init__(self, settings: Settings, *, response_format: ResponseFormat = "b64_json") -> None:
        self.settings = settings
        # b64_json saves a second round trip and never meets an expired download link.
        self.response_format = response_format
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    @property
    def endpoint(self) -> str:
        return self.settings.seedream_base_url.rstrip("/") + "/images/generations"

    def _get_client(self) -> httpx.AsyncClient:
        import httpx

        loop = asyncio.get_running_loop()
        # Pooled connections belong to the loop that opened them; a new loop needs a new pool.
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.provider_timeout_seconds, connect=10.0),
                follow_redirects=True,
            )
            self._client_loop = loop
        return self._client

    async def build_body(self, request: RenderRequest) -> dict[str, Any]:
        brief = request.brief
        body: dict[str, Any] = {
            "model": request.provider_model,
            "prompt": request.prompt,
            "size": seedream_size(brief.width, brief.height, request.quality),
            "sequential_image_generation": "disabled",
            "response_format": self.response_format,
            "watermark": bool(request.params.get("watermark", False)),
            "stream": False,
        }
        if request.images:
            uris = [await data_uri(image) for image in request.images]
            body["image"] = uris[0] if len(uris) == 1 else uris
        seed = request_seed(request)
        if seed is not None:
            body["seed"] = seed
        return body

    async def _generate(self, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        api_key = secret_value(self.settings.bytedance_api_key)
        if not api_key:
            raise ProviderError(
                NOT_CONFIGURED, retryable=False, internal="BYTEDANCE_API_KEY is not set"
            )
        client = self._get_client()
        headers = {"Authorization": f"Bearer {api_key}"}
        try:
            async with asyncio.timeout(self.settings.provider_timeout_seconds):
                response = await client.post(self.endpoint, json=body, headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            raise ProviderError(
                UNREACHABLE, retryable=True, internal="seedream request timed out"
            ) from None
        except httpx.TransportError as error:
            raise ProviderError(
                UNREACHABLE, retryable=True, internal=f"seedream network failure: {error!r}"
            ) from None
        if response.status_code != 200:
            raise classify_status(response.status_code, *_error_details(response))
        try:
            payload = response.json()
        except ValueError:
            raise ProviderError(
                UNREACHABLE, retryable=True, internal="seedream answered non-JSON"
            ) from None
        return _first_output(payload)

    async def render(self, request: RenderRequest) -> bytes:
        deadline = time.monotonic() + self.settings.provider_retry_seconds
        body = await self.build_body(request)
        item = await call_with_retries(
            lambda: self._generate(body),
            budget_seconds=self.settings.provider_retry_seconds,
            describe=f"seedream {request.provider_model}",
        )
        max_bytes = self.settings.provider_output_max_bytes
        encoded = item.get("b64_json")
        if isinstance(encoded, str) and encoded:
            data = decode_base64_image(encoded, max_bytes=max_bytes)
            sniff_image(data)
            return data
        url = item.get("url")
        if not isinstance(url, str) or not url:
            raise ProviderError(NO_IMAGE, retryable=False, internal="no url or b64_json in data")
        client = self._get_client()
        # Fetching the finished image is retried on its own: generating again would cost more.
        return await call_with_retries(
            lambda: download_image(
                client,
                url,
                max_bytes=max_bytes,
                timeout_seconds=self.settings.provider_timeout_seconds,
            ),
            budget_seconds=max(0.0, deadline - time.monotonic()),
            describe="seedream image download",
        )

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            self._client_loop = None
            await client.aclose()
