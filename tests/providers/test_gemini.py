"""GeminiProvider and chat_reply driven through google-genai against a local Gemini API."""

from __future__ import annotations

import json
import socket
from base64 import b64encode
from collections.abc import AsyncIterator, Iterator
from io import BytesIO
from typing import Any, Literal

import httpx
import pytest
from google import genai
from google.genai import types
from PIL import Image
from pydantic import BaseModel

from app.config import Settings
from app.providers.base import ProviderError
from app.providers.gemini import (
    BLOCKED,
    CHAT_UNAVAILABLE,
    NO_IMAGE,
    NOT_CONFIGURED,
    UNREACHABLE,
    GeminiProvider,
    nearest_aspect_ratio,
    structured_answer,
)
from app.providers.output import NOT_AN_IMAGE, TOO_LARGE
from tests.providers.inputs import encoded_image, make_request, selfie
from tests.support.gemini_server import GeminiServerHandle, gemini_server

API_KEY = "AIza-test-key-0123456789"


@pytest.fixture(scope="module")
def server() -> Iterator[GeminiServerHandle]:
    with gemini_server(API_KEY) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _clean_server(server: GeminiServerHandle) -> None:
    server.reset()


def settings_for(server: GeminiServerHandle, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "gemini_api_key": API_KEY,
        "gemini_base_url": server.url,
        "provider_timeout_seconds": 10.0,
        "provider_retry_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
async def provider(server: GeminiServerHandle) -> AsyncIterator[GeminiProvider]:
    adapter = GeminiProvider(settings_for(server))
    yield adapter
    await adapter.close()


def nano_banana(**kwargs: Any) -> Any:
    return make_request(model_id="nano_banana", provider_model="gemini-2.5-flash-image", **kwargs)


def assert_safe(error: ProviderError) -> None:
    assert API_KEY not in error.user_message
    assert "{" not in error.user_message
    assert "gemini" not in error.user_message.lower()


class TestRender:
    async def test_returns_the_generated_png(
        self, provider: GeminiProvider, server: GeminiServerHandle
    ) -> None:
        photo = selfie()
        request = nano_banana(images=(photo,), params={"temperature": 0.4})

        data = await provider.render(request)

        with Image.open(BytesIO(data)) as image:
            assert image.format == "PNG"
            assert image.size == (1344, 768)  # 16:9 for a 1280x720 brief
        [received] = server.requests
        assert received.path == "/v1beta/models/gemini-2.5-flash-image:generateContent"
        assert received.headers["x-goog-api-key"] == API_KEY
        assert request.prompt in received.texts
        assert received.images == [("image/png", photo.data)]
        config = received.body["generationConfig"]
        assert config["responseModalities"] == ["TEXT", "IMAGE"]
        assert config["imageConfig"] == {"aspectRatio": "16:9"}
        assert config["temperature"] == 0.4

    async def test_gemini_3_asks_for_the_quality_size(
        self, provider: GeminiProvider, server: GeminiServerHandle
    ) -> None:
        request = make_request(
            model_id="nano_banana_pro",
            provider_model="gemini-3-pro-image-preview",
            quality="std",
            width=1080,
            height=1920,
        )

        data = await provider.render(request)

        with Image.open(BytesIO(data)) as image:
            assert image.size == (768 * 2, 1344 * 2)
        [received] = server.requests
        assert received.body["generationConfig"]["imageConfig"] == {
            "aspectRatio": "9:16",
            "imageSize": "2K",
        }

    async def test_rate_limit_is_retried(
        self, provider: GeminiProvider, server: GeminiServerHandle
    ) -> None:
        server.set_fault("rate_limit_once")

        data = await provider.render(nano_banana())

        assert data.startswith(b"\x89PNG")
        assert len(server.requests) == 2

    async def test_server_errors_end_retryable_after_the_budget(
        self, server: GeminiServerHandle
    ) -> None:
        server.set_fault("server_error")
        adapter = GeminiProvider(settings_for(server, provider_retry_seconds=1.0))
        try:
            with pytest.raises(ProviderError) as caught:
                await adapter.render(nano_banana())
        finally:
            await adapter.close()

        assert caught.value.retryable
        assert caught.value.user_message == UNREACHABLE
        assert "500" in caught.value.internal
        assert len(server.requests) >= 2

    @pytest.mark.parametrize("fault", ["safety_block", "image_safety", "prompt_blocked"])
    async def test_safety_blocks_are_final(
        self, provider: GeminiProvider, server: GeminiServerHandle, fault: str
    ) -> None:
        server.set_fault(fault)

        with pytest.raises(ProviderError) as caught:
            await provider.render(nano_banana(images=(selfie(),)))

        assert not caught.value.retryable
        assert caught.value.user_message == BLOCKED
        assert_safe(caught.value)
        assert len(server.requests) == 1

    async def test_text_without_an_image_is_final(
        self, provider: GeminiProvider, server: GeminiServerHandle
    ) -> None:
        server.set_fault("no_image")

        with pytest.raises(ProviderError) as caught:
            await provider.render(nano_banana())

        assert not caught.value.retryable
        assert caught.value.user_message == NO_IMAGE
        assert len(server.requests) == 1

    async def test_bytes_that_are_not_an_image_are_final(
        self, provider: GeminiProvider, server: GeminiServerHandle
    ) -> None:
        server.set_fault("not_an_image")

        with pytest.raises(ProviderError) as caught:
            await provider.render(nano_banana())

        assert not caught.value.retryable
        assert caught.value.user_message == NOT_AN_IMAGE
        assert len(server.requests) == 1

    async def test_a_slow_answer_times_out_as_retryable(self, server: GeminiServerHandle) -> None:
        server.set_fault("slow")
        adapter = GeminiProvider(
            settings_for(server, provider_timeout_seconds=0.3, provider_retry_seconds=0)
        )
        try:
            with pytest.raises(ProviderError) as caught:
                await adapter.render(nano_banana())
        finally:
            await adapter.close()

        assert caught.value.retryable
        assert caught.value.user_message == UNREACHABLE
        assert len(server.requests) == 1

    async def test_a_wrong_key_is_final_and_not_echoed(self, server: GeminiServerHandle) -> None:
        adapter = GeminiProvider(settings_for(server, gemini_api_key="AIza-wrong-key"))
        try:
            with pytest.raises(ProviderError) as caught:
                await adapter.render(nano_banana())
        finally:
            await adapter.close()

        assert not caught.value.retryable
        assert caught.value.user_message == NOT_CONFIGURED
        assert "AIza-wrong-key" not in caught.value.user_message
        assert len(server.requests) == 0

    async def test_an_unknown_model_is_final(self, provider: GeminiProvider) -> None:
        request = make_request(model_id="nano_banana", provider_model="gemini-0-image")

        with pytest.raises(ProviderError) as caught:
            await provider.render(request)

        assert not caught.value.retryable
        assert caught.value.user_message == NOT_CONFIGURED
        assert "404" in caught.value.internal

    async def test_a_missing_key_is_final(self, server: GeminiServerHandle) -> None:
        adapter = GeminiProvider(settings_for(server, gemini_api_key=""))

        with pytest.raises(ProviderError) as caught:
            await adapter.render(nano_banana())

        assert not caught.value.retryable
        assert caught.value.user_message == NOT_CONFIGURED
        assert server.requests == []

    async def test_an_oversized_image_is_refused(self, server: GeminiServerHandle) -> None:
        adapter = GeminiProvider(settings_for(server, provider_output_max_bytes=1024))
        try:
            with pytest.raises(ProviderError) as caught:
                await adapter.render(nano_banana())
        finally:
            await adapter.close()

        assert not caught.value.retryable
        assert caught.value.user_message == TOO_LARGE

    async def test_an_unreachable_service_is_retryable(self, server: GeminiServerHandle) -> None:
        # A port nothing listens on: bind one, note its number, release it.
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        adapter = GeminiProvider(
            settings_for(
                server, gemini_base_url=f"http://127.0.0.1:{port}", provider_retry_seconds=0
            )
        )
        try:
            with pytest.raises(ProviderError) as caught:
                await adapter.render(nano_banana())
        finally:
            await adapter.close()

        assert caught.value.retryable


class TestAspectRatio:
    @pytest.mark.parametrize(
        ("width", "height", "expected"),
        [
            (1280, 720, "16:9"),
            (1080, 1920, "9:16"),
            (1080, 1080, "1:1"),
            (1080, 1350, "4:5"),
            (2560, 1080, "21:9"),
            (1200, 900, "4:3"),
        ],
    )
    def test_nearest_supported_ratio(self, width: int, height: int, expected: str) -> None:
        assert nearest_aspect_ratio(width, height) == expected


class Edit(BaseModel):
    headline: str | None = None
    size: Literal["bigger", "smaller"] | None = None
    notes: list[str] = []


class TestStructuredAnswer:
    async def test_sends_the_schema_and_returns_the_json_text(
        self, server: GeminiServerHandle
    ) -> None:
        server.queue_json({"headline": "I QUIT SUGAR", "size": "bigger", "notes": []})

        answer = await structured_answer(
            settings=settings_for(server),
            instruction="Turn the message into an edit. Thumbnail: headline 'Old'",
            history=[("user", "Make it punchy"), ("ai", "Try a red background.")],
            message="headline I QUIT SUGAR, bigger",
            schema=Edit,
        )

        assert Edit.model_validate_json(answer) == Edit(headline="I QUIT SUGAR", size="bigger")
        [received] = server.requests
        assert received.path == "/v1beta/models/gemini-2.5-flash:generateContent"
        assert received.headers["x-goog-api-key"] == API_KEY
        assert [c["role"] for c in received.body["contents"]] == ["user", "model", "user"]
        assert "headline 'Old'" in received.body["systemInstruction"]["parts"][0]["text"]
        config = received.body["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        schema = config["responseSchema"]
        assert schema["type"] == "OBJECT"
        assert schema["properties"]["size"]["enum"] == ["bigger", "smaller"]
        assert "responseModalities" not in config

    async def test_without_a_queued_answer_the_smallest_instance_comes_back(
        self, server: GeminiServerHandle
    ) -> None:
        answer = await structured_answer(
            settings=settings_for(server), instruction="x", history=[], message="hi", schema=Edit
        )

        assert json.loads(answer) == {"headline": None, "size": None, "notes": []}

    async def test_prose_instead_of_json_is_returned_for_the_caller_to_refuse(
        self, server: GeminiServerHandle
    ) -> None:
        server.set_fault("invalid_json")

        answer = await structured_answer(
            settings=settings_for(server), instruction="x", history=[], message="hi", schema=Edit
        )

        with pytest.raises(ValueError, match="Invalid JSON"):
            Edit.model_validate_json(answer)

    async def test_failure_raises_a_safe_error(self, server: GeminiServerHandle) -> None:
        server.set_fault("server_error")

        with pytest.raises(ProviderError) as caught:
            await structured_answer(
                settings=settings_for(server, provider_retry_seconds=0),
                instruction="x",
                history=[],
                message="hello",
                schema=Edit,
            )

        assert caught.value.user_message == CHAT_UNAVAILABLE
        assert caught.value.retryable
        assert_safe(caught.value)

    def test_the_server_refuses_a_malformed_schema(self, server: GeminiServerHandle) -> None:
        response = httpx.post(
            f"{server.url}/v1beta/models/gemini-2.5-flash:generateContent",
            json={
                "contents": [{"parts": [{"text": "hi"}]}],
                "generationConfig": {
                    "responseMimeType": "application/json",
                    "responseSchema": {"type": "DICTIONARY"},
                },
            },
            headers={"x-goog-api-key": API_KEY},
        )

        assert response.status_code == 400
        assert response.json()["error"]["status"] == "INVALID_ARGUMENT"

    def test_the_server_holds_scripted_answers_to_the_schema(
        self, server: GeminiServerHandle
    ) -> None:
        server.queue_json({"size": "enormous"})
        response = httpx.post(
            f"{server.url}/v1beta/models/gemini-2.5-flash:generateContent",
            json={
                "contents": [{"parts": [{"text": "hi"}]}],
                "generationConfig": {
                    "responseMimeType": "application/json",
                    "responseSchema": {
                        "type": "OBJECT",
                        "properties": {"size": {"type": "STRING", "enum": ["bigger"]}},
                    },
                },
            },
            headers={"x-goog-api-key": API_KEY},
        )

        assert response.status_code == 500


class TestServerProtocol:
    """The test server accepts what other Gemini clients send, not only this SDK's spelling."""

    def test_standard_base64_and_camel_case_mime_type(self, server: GeminiServerHandle) -> None:
        png = encoded_image()
        body = {
            "contents": [
                {
                    "role": "user",
                    "parts": [
                        {"text": "hi"},
                        {"inlineData": {"mimeType": "image/png", "data": b64encode(png).decode()}},
                    ],
                }
            ],
            "generationConfig": {"responseModalities": ["IMAGE"]},
        }
        response = httpx.post(
            f"{server.url}/v1/models/gemini-2.5-flash-image:generateContent",
            json=body,
            headers={"x-goog-api-key": API_KEY},
        )

        assert response.status_code == 200
        assert server.requests[0].images == [("image/png", png)]

    async def test_v1_with_the_sdk(self, server: GeminiServerHandle) -> None:
        client = genai.Client(
            api_key=API_KEY,
            http_options=types.HttpOptions(base_url=server.url, api_version="v1"),
        )
        try:
            response = await client.aio.models.generate_content(
                model="gemini-2.5-flash", contents="hello there"
            )
        finally:
            await client.aio.aclose()
            client.close()

        assert response.text == "Try a bolder headline for: hello there"
        assert server.requests[0].path == "/v1/models/gemini-2.5-flash:generateContent"

    def test_missing_key_is_permission_denied(self, server: GeminiServerHandle) -> None:
        response = httpx.post(
            f"{server.url}/v1beta/models/gemini-2.5-flash:generateContent",
            json={"contents": [{"parts": [{"text": "hi"}]}]},
        )

        assert response.status_code == 403
        assert response.json()["error"]["status"] == "PERMISSION_DENIED"
