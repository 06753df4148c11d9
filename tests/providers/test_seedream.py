"""SeedreamProvider driven over httpx against a local ModelArk images/generations server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from io import BytesIO
from typing import Any

import httpx
import pytest
from PIL import Image

from app.config import Settings
from app.providers.base import InputImage, ProviderError, RenderRequest
from app.providers.output import DOWNLOAD_FAILED, NOT_AN_IMAGE, TOO_LARGE, download_image
from app.providers.seedream import (
    BLOCKED,
    MAX_PIXELS,
    MIN_PIXELS,
    NOT_CONFIGURED,
    UNREACHABLE,
    UNREADABLE_INPUT,
    SeedreamProvider,
    request_seed,
    seedream_size,
)
from tests.providers.inputs import make_request, selfie
from tests.support.seedream_server import SeedreamServerHandle, seedream_server

API_KEY = "ark-test-key-0123456789"


@pytest.fixture(scope="module")
def server() -> Iterator[SeedreamServerHandle]:
    with seedream_server(API_KEY) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _clean_server(server: SeedreamServerHandle) -> None:
    server.reset()


def settings_for(server: SeedreamServerHandle, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "bytedance_api_key": API_KEY,
        "seedream_base_url": server.base_url,
        "provider_timeout_seconds": 10.0,
        "provider_retry_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
async def provider(server: SeedreamServerHandle) -> AsyncIterator[SeedreamProvider]:
    adapter = SeedreamProvider(settings_for(server))
    yield adapter
    await adapter.close()


def seedream(**kwargs: Any) -> RenderRequest:
    return make_request(model_id="seedream", provider_model="seedream-4-0-250828", **kwargs)


async def render_with(server: SeedreamServerHandle, request: RenderRequest, **kwargs: Any) -> bytes:
    response_format = kwargs.pop("response_format", "b64_json")
    adapter = SeedreamProvider(settings_for(server, **kwargs), response_format=response_format)
    try:
        return await adapter.render(request)
    finally:
        await adapter.close()


def assert_safe(error: ProviderError) -> None:
    assert API_KEY not in error.user_message
    assert "{" not in error.user_message
    assert "Request id" not in error.user_message


class TestRender:
    async def test_returns_the_generated_jpeg(
        self, provider: SeedreamProvider, server: SeedreamServerHandle
    ) -> None:
        photo = selfie()
        request = seedream(images=(photo,))

        data = await provider.render(request)

        with Image.open(BytesIO(data)) as image:
            assert image.format == "JPEG"
            assert image.size == (1360, 760)
        [received] = server.requests
        assert received.path == "/api/v3/images/generations"
        assert received.headers["authorization"] == f"Bearer {API_KEY}"
        assert received.texts == [request.prompt]
        assert received.images == [("image/png", photo.data)]
        body = received.body
        assert body["model"] == "seedream-4-0-250828"
        assert body["image"].startswith("data:image/png;base64,")
        assert body["size"] == "1360x760"
        assert body["response_format"] == "b64_json"
        assert body["sequential_image_generation"] == "disabled"
        assert body["watermark"] is False
        assert body["seed"] == request_seed(request)

    async def test_several_images_go_as_a_list_and_webp_becomes_png(
        self, provider: SeedreamProvider, server: SeedreamServerHandle
    ) -> None:
        request = seedream(images=(selfie("JPEG"), selfie("WEBP")))

        await provider.render(request)

        [received] = server.requests
        assert isinstance(received.body["image"], list)
        assert [mime for mime, _ in received.images] == ["image/jpeg", "image/png"]
        assert received.images[0][1] == request.images[0].data
        with Image.open(BytesIO(received.images[1][1])) as converted:
            assert converted.format == "PNG"

    async def test_explicit_seed_and_watermark_are_sent(
        self, provider: SeedreamProvider, server: SeedreamServerHandle
    ) -> None:
        await provider.render(seedream(params={"seed": 42, "watermark": True}))

        body = server.requests[0].body
        assert body["seed"] == 42
        assert body["watermark"] is True
        assert "image" not in body

    async def test_url_answers_are_downloaded(self, server: SeedreamServerHandle) -> None:
        data = await render_with(server, seedream(), response_format="url")

        assert data.startswith(b"\xff\xd8")
        assert server.requests[0].body["response_format"] == "url"
        assert len(server.downloads) == 1

    async def test_a_failed_download_is_retried_without_generating_again(
        self, server: SeedreamServerHandle
    ) -> None:
        server.set_fault("download_error_once")

        data = await render_with(server, seedream(), response_format="url")

        assert data.startswith(b"\xff\xd8")
        assert len(server.requests) == 1
        assert len(server.downloads) == 2

    async def test_an_oversized_download_is_refused(self, server: SeedreamServerHandle) -> None:
        with pytest.raises(ProviderError) as caught:
            await render_with(
                server, seedream(), response_format="url", provider_output_max_bytes=1024
            )

        assert not caught.value.retryable
        assert caught.value.user_message == TOO_LARGE

    async def test_an_oversized_inline_image_is_refused(self, server: SeedreamServerHandle) -> None:
        with pytest.raises(ProviderError) as caught:
            await render_with(server, seedream(), provider_output_max_bytes=1024)

        assert caught.value.user_message == TOO_LARGE

    async def test_rate_limit_is_retried(
        self, provider: SeedreamProvider, server: SeedreamServerHandle
    ) -> None:
        server.set_fault("rate_limit_once")

        data = await provider.render(seedream())

        assert data.startswith(b"\xff\xd8")
        assert len(server.requests) == 2

    async def test_server_errors_end_retryable_after_the_budget(
        self, server: SeedreamServerHandle
    ) -> None:
        server.set_fault("server_error")

        with pytest.raises(ProviderError) as caught:
            await render_with(server, seedream(), provider_retry_seconds=1.0)

        assert caught.value.retryable
        assert caught.value.user_message == UNREACHABLE
        assert "InternalServiceError" in caught.value.internal
        assert len(server.requests) >= 2

    @pytest.mark.parametrize("fault", ["safety_block", "input_blocked"])
    async def test_content_blocks_are_final(
        self, provider: SeedreamProvider, server: SeedreamServerHandle, fault: str
    ) -> None:
        server.set_fault(fault)

        with pytest.raises(ProviderError) as caught:
            await provider.render(seedream(images=(selfie(),)))

        assert not caught.value.retryable
        assert caught.value.user_message == BLOCKED
        assert "SensitiveContentDetected" in caught.value.internal
        assert_safe(caught.value)
        assert len(server.requests) == 1

    @pytest.mark.parametrize("response_format", ["b64_json", "url"])
    async def test_bytes_that_are_not_an_image_are_final(
        self, server: SeedreamServerHandle, response_format: str
    ) -> None:
        server.set_fault("not_an_image")

        with pytest.raises(ProviderError) as caught:
            await render_with(server, seedream(), response_format=response_format)

        assert not caught.value.retryable
        assert caught.value.user_message == NOT_AN_IMAGE
        assert len(server.requests) == 1

    async def test_a_slow_answer_times_out_as_retryable(self, server: SeedreamServerHandle) -> None:
        server.set_fault("slow")

        with pytest.raises(ProviderError) as caught:
            await render_with(
                server, seedream(), provider_timeout_seconds=0.3, provider_retry_seconds=0
            )

        assert caught.value.retryable
        assert caught.value.user_message == UNREACHABLE
        assert len(server.requests) == 1

    async def test_a_wrong_key_is_final_and_not_echoed(self, server: SeedreamServerHandle) -> None:
        with pytest.raises(ProviderError) as caught:
            await render_with(server, seedream(), bytedance_api_key="ark-wrong-key")

        assert not caught.value.retryable
        assert caught.value.user_message == NOT_CONFIGURED
        assert "ark-wrong-key" not in caught.value.user_message

    async def test_an_unknown_model_is_final(self, provider: SeedreamProvider) -> None:
        request = make_request(model_id="seedream", provider_model="seedream-9-9")

        with pytest.raises(ProviderError) as caught:
            await provider.render(request)

        assert not caught.value.retryable
        assert_safe(caught.value)

    async def test_a_missing_key_is_final(self, server: SeedreamServerHandle) -> None:
        with pytest.raises(ProviderError) as caught:
            await render_with(server, seedream(), bytedance_api_key="")

        assert caught.value.user_message == NOT_CONFIGURED
        assert server.requests == []

    async def test_an_unreadable_input_photo_is_final(self, provider: SeedreamProvider) -> None:
        broken = InputImage(data=b"RIFF....WEBPVP8 junk", content_type="image/webp", role="selfie")

        with pytest.raises(ProviderError) as caught:
            await provider.render(seedream(images=(broken,)))

        assert not caught.value.retryable
        assert caught.value.user_message == UNREADABLE_INPUT

    async def test_expired_download_link_is_final(self, server: SeedreamServerHandle) -> None:
        async with httpx.AsyncClient() as client:
            with pytest.raises(ProviderError) as caught:
                await download_image(
                    client, f"{server.url}/files/gone.jpeg", max_bytes=10_000, timeout_seconds=5
                )

        assert not caught.value.retryable
        assert caught.value.user_message == DOWNLOAD_FAILED


class TestSize:
    @pytest.mark.parametrize(
        ("width", "height"), [(1280, 720), (1080, 1920), (1080, 1080), (1200, 627), (60, 2000)]
    )
    @pytest.mark.parametrize("quality", ["draft", "std", "4k"])
    def test_sizes_are_in_the_accepted_range(self, width: int, height: int, quality: str) -> None:
        match = re.fullmatch(r"(\d+)x(\d+)", seedream_size(width, height, quality))
        assert match is not None
        out_width, out_height = int(match[1]), int(match[2])
        assert MIN_PIXELS <= out_width * out_height <= MAX_PIXELS
        assert 1 / 16 <= out_width / out_height <= 16
        if 1 / 16 <= width / height <= 16:
            assert abs(out_width / out_height - width / height) / (width / height) < 0.02

    async def test_the_server_accepts_every_quality(
        self, provider: SeedreamProvider, server: SeedreamServerHandle
    ) -> None:
        for quality in ("draft", "std"):
            await provider.render(seedream(quality=quality, width=1080, height=1920))
        assert [r.body["size"] for r in server.requests] == ["768x1360", "1536x2728"]


class TestSeed:
    def test_is_stable_per_job_and_variant(self) -> None:
        first = request_seed(seedream(seed="job-9", variant=1))
        assert first == request_seed(seedream(seed="job-9", variant=1))
        assert first != request_seed(seedream(seed="job-9", variant=2))
        assert request_seed(seedream(seed="")) is None
