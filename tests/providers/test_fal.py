"""The fal adapter, driving the real fal-client against a local server that speaks fal's queue."""

from __future__ import annotations

import asyncio
import base64
import io
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.config import Settings
from app.kit.render_pool import RenderPool
from app.providers import fal as fal_module
from app.providers.base import InputImage, ProviderError, RenderRequest
from app.providers.fal import FalProvider, closest_aspect_ratio, fit_image_size
from app.providers.output import NOT_AN_IMAGE, TOO_LARGE
from app.providers.registry import ProviderRegistry, get_model
from tests.providers.inputs import make_request
from tests.support.fal_server import FalServerHandle, fal_server

KEY = "fal-test-key-id:fal-test-key-secret-0123456789"
ROOT = Path(__file__).resolve().parents[2]


def _picture(colour: tuple[int, int, int], size: tuple[int, int], image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=image_format)
    return buffer.getvalue()


SELFIE = InputImage(_picture((200, 150, 120), (480, 640), "JPEG"), "image/jpeg", "selfie")
REFERENCE = InputImage(_picture((10, 40, 200), (320, 180), "PNG"), "image/png", "reference")


def fal_settings(server: FalServerHandle, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "fal_key": KEY,
        "fal_queue_url": server.url,
        "provider_retry_seconds": 0.0,
        "provider_timeout_seconds": 20.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def render_request(
    model_id: str,
    *,
    images: tuple[InputImage, ...] = (),
    params: dict[str, Any] | None = None,
    quality: str = "std",
    width: int = 1280,
    height: int = 720,
    variant: int = 0,
) -> RenderRequest:
    return make_request(
        model_id=model_id,
        provider_model=get_model(model_id).provider_model,
        quality=quality,
        images=images,
        params=params,
        width=width,
        height=height,
        seed="job-7f3a",
        variant=variant,
    )


def assert_no_internals(error: ProviderError) -> None:
    for text in (error.user_message, error.internal, str(error)):
        assert KEY not in text
        assert "fal-test-key" not in text
    assert "127.0.0.1" not in error.user_message
    assert "fal-ai/" not in error.user_message


def decoded(data_uri: str) -> bytes:
    header, _, payload = data_uri.partition(",")
    assert header.endswith(";base64")
    return base64.b64decode(payload)


@pytest.fixture
def server() -> Iterator[FalServerHandle]:
    with fal_server(KEY) as handle:
        yield handle


@pytest.fixture
async def provider(server: FalServerHandle) -> AsyncIterator[FalProvider]:
    adapter = FalProvider(fal_settings(server))
    yield adapter
    await adapter.close()


async def _render_expecting_error(
    server: FalServerHandle, request: RenderRequest, **overrides: Any
) -> ProviderError:
    adapter = FalProvider(fal_settings(server, **overrides))
    try:
        with pytest.raises(ProviderError) as caught:
            await adapter.render(request)
    finally:
        await adapter.close()
    assert_no_internals(caught.value)
    return caught.value


class TestHappyPath:
    async def test_flux_schnell_through_the_registry(self, server: FalServerHandle) -> None:
        registry = ProviderRegistry(fal_settings(server), render_pool=RenderPool(0))
        spec = get_model("flux_schnell")
        provider = registry.for_model(spec)
        assert provider.name == "fal"
        request = render_request("flux_schnell", params={"num_inference_steps": 6})
        try:
            data = await provider.render(request)
        finally:
            await registry.close()

        (submit,) = server.submits()
        assert submit.path == "/fal-ai/flux/schnell"
        assert submit.headers["authorization"] == f"Key {KEY}"
        assert submit.body == {
            "prompt": request.prompt,
            "num_images": 1,
            "image_size": {"width": 1280, "height": 720},
            "output_format": "png",
            "seed": submit.body["seed"],
            "num_inference_steps": 6,
        }
        assert 0 <= submit.body["seed"] <= 2_147_483_647
        # Status and result follow the URLs the queue answered with: owner/alias, no subpath.
        (queued,) = server.queued()
        polled = {r.path for r in server.received if r.method == "GET"}
        assert f"/fal-ai/flux/requests/{queued.request_id}/status" in polled
        assert f"/fal-ai/flux/requests/{queued.request_id}" in polled
        with Image.open(io.BytesIO(data)) as image:
            assert (image.format, image.size) == ("PNG", (1280, 720))

    async def test_flux_pro_ultra_takes_an_aspect_ratio(
        self, server: FalServerHandle, provider: FalProvider
    ) -> None:
        data = await provider.render(render_request("flux_pro_ultra", params={"raw": True}))

        (submit,) = server.submits("fal-ai/flux-pro/v1.1-ultra")
        assert submit.headers["authorization"] == f"Key {KEY}"
        assert submit.body["aspect_ratio"] == "16:9"
        assert submit.body["raw"] is True
        assert "image_size" not in submit.body
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
        assert width * height > 3_000_000
        assert abs(width / height - 16 / 9) < 0.02

    async def test_flux_kontext_edits_the_selfie_sent_inline(
        self, server: FalServerHandle, provider: FalProvider
    ) -> None:
        request = render_request(
            "flux_kontext", images=(SELFIE, REFERENCE), params={"guidance_scale": 4.5}
        )
        data = await provider.render(request)

        (submit,) = server.submits("fal-ai/flux-pro/kontext")
        assert submit.headers["authorization"] == f"Key {KEY}"
        assert submit.body["image_url"].startswith("data:image/jpeg;base64,")
        assert decoded(submit.body["image_url"]) == SELFIE.data
        assert submit.body["guidance_scale"] == 4.5
        assert submit.body["aspect_ratio"] == "16:9"
        # Nothing went through an upload endpoint: the picture travelled inside the input.
        assert [r.method for r in server.received].count("POST") == 1
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG"

    async def test_ideogram_takes_size_speed_style_and_style_references(
        self, server: FalServerHandle, provider: FalProvider
    ) -> None:
        request = render_request(
            "ideogram_v3",
            images=(REFERENCE,),
            params={"style": "DESIGN"},
            quality="4k",
            width=1080,
            height=1920,
        )
        data = await provider.render(request)

        (submit,) = server.submits("fal-ai/ideogram/v3")
        assert submit.headers["authorization"] == f"Key {KEY}"
        assert submit.body["image_size"] == {"width": 864, "height": 1536}
        assert submit.body["rendering_speed"] == "QUALITY"
        assert submit.body["style"] == "DESIGN"
        assert "output_format" not in submit.body
        assert [decoded(url) for url in submit.body["image_urls"]] == [REFERENCE.data]
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (864, 1536)

    async def test_the_key_never_reaches_the_file_host(
        self, server: FalServerHandle, provider: FalProvider
    ) -> None:
        await provider.render(render_request("flux_schnell"))

        (download,) = server.downloads()
        assert "authorization" not in download.headers

    async def test_variants_of_one_job_get_distinct_stable_seeds(
        self, server: FalServerHandle, provider: FalProvider
    ) -> None:
        for variant in (0, 1, 0):
            await provider.render(render_request("flux_schnell", variant=variant))

        seeds = [submit.body["seed"] for submit in server.submits()]
        assert seeds[0] == seeds[2]
        assert seeds[1] == seeds[0] + 1


class TestTransientFailures:
    async def test_rate_limited_submission_is_retried(
        self, server: FalServerHandle, provider: FalProvider
    ) -> None:
        server.fault = "rate_limit_once"

        data = await provider.render(render_request("flux_schnell"))

        assert len(server.submits()) == 2
        assert data.startswith(b"\x89PNG")

    async def test_server_errors_are_retried_until_the_budget_is_spent(
        self, server: FalServerHandle
    ) -> None:
        server.fault = "server_error"

        error = await _render_expecting_error(
            server, render_request("flux_schnell"), provider_retry_seconds=1.0
        )

        assert error.retryable is True
        assert error.user_message == fal_module.BUSY
        assert "500" in error.internal
        assert len(server.submits()) >= 2

    async def test_a_request_that_runs_too_long_is_canceled(self, server: FalServerHandle) -> None:
        server.fault = "slow"

        error = await _render_expecting_error(
            server, render_request("flux_schnell"), provider_timeout_seconds=1.0
        )

        assert error.retryable is True
        assert error.user_message == fal_module.TOO_SLOW
        (queued,) = server.queued()
        (cancel,) = server.cancels()
        assert cancel.path == f"/fal-ai/flux/requests/{queued.request_id}/cancel"
        assert cancel.headers["authorization"] == f"Key {KEY}"
        assert queued.canceled

    async def test_stopping_a_render_cancels_it_on_fal(
        self, server: FalServerHandle, provider: FalProvider
    ) -> None:
        server.fault = "slow"
        render = asyncio.create_task(provider.render(render_request("flux_schnell")))
        async with asyncio.timeout(5):
            while not server.queued():
                await asyncio.sleep(0.02)  # until the request is on the queue

        render.cancel()
        with pytest.raises(asyncio.CancelledError):
            await render

        (queued,) = server.queued()
        assert len(server.cancels()) == 1
        assert queued.canceled

    async def test_a_failed_run_is_retryable(self, server: FalServerHandle) -> None:
        server.fault = "failed"

        error = await _render_expecting_error(server, render_request("flux_pro_ultra"))

        assert error.retryable is True
        assert "runner_server_error" in error.internal
        assert len(server.submits()) == 1


class TestFinalFailures:
    async def test_nsfw_output_is_final(self, server: FalServerHandle) -> None:
        server.fault = "nsfw"

        error = await _render_expecting_error(
            server, render_request("flux_schnell"), provider_retry_seconds=5.0
        )

        assert error.retryable is False
        assert error.user_message == fal_module.BLOCKED
        assert len(server.submits()) == 1
        assert server.downloads() == []

    async def test_content_policy_violation_is_final(self, server: FalServerHandle) -> None:
        server.fault = "content_policy"

        error = await _render_expecting_error(
            server, render_request("flux_kontext", images=(SELFIE,)), provider_retry_seconds=5.0
        )

        assert error.retryable is False
        assert error.user_message == fal_module.BLOCKED
        assert len(server.submits()) == 1

    async def test_a_file_that_is_not_an_image_is_final(self, server: FalServerHandle) -> None:
        server.fault = "not_an_image"

        error = await _render_expecting_error(
            server, render_request("flux_schnell"), provider_retry_seconds=5.0
        )

        assert error.retryable is False
        assert error.user_message == NOT_AN_IMAGE
        assert len(server.submits()) == 1

    async def test_an_image_over_the_size_limit_is_final(self, server: FalServerHandle) -> None:
        error = await _render_expecting_error(
            server, render_request("flux_schnell"), provider_output_max_bytes=1024
        )

        assert error.retryable is False
        assert error.user_message == TOO_LARGE

    @pytest.mark.parametrize("validation", ["runner", "submit"])
    async def test_input_the_model_rejects_is_final(
        self, server: FalServerHandle, validation: Any
    ) -> None:
        server.validation = validation
        # Past the catalogue's own checks, as a stale catalogue would send it.
        request = render_request("ideogram_v3", params={"style": "WATERCOLOUR"})

        error = await _render_expecting_error(server, request, provider_retry_seconds=5.0)

        assert error.retryable is False
        assert error.user_message == fal_module.REJECTED
        assert "422" in error.internal
        assert "WATERCOLOUR" not in error.internal
        assert len(server.submits()) == 1

    async def test_kontext_without_a_picture_is_refused_before_submitting(
        self, server: FalServerHandle
    ) -> None:
        error = await _render_expecting_error(server, render_request("flux_kontext"))

        assert error.retryable is False
        assert error.user_message == fal_module.MISSING_PICTURE
        assert server.received == []

    async def test_a_wrong_key_is_final_and_not_echoed(self, server: FalServerHandle) -> None:
        adapter = FalProvider(fal_settings(server, fal_key="fal-test-key-wrong"))
        try:
            with pytest.raises(ProviderError) as caught:
                await adapter.render(render_request("flux_schnell"))
        finally:
            await adapter.close()

        assert caught.value.retryable is False
        assert caught.value.user_message == fal_module.REFUSED
        assert "401" in caught.value.internal
        assert "fal-test-key-wrong" not in caught.value.internal
        assert len(server.submits()) == 1

    async def test_no_key_means_not_configured(self, server: FalServerHandle) -> None:
        adapter = FalProvider(fal_settings(server, fal_key=""))

        with pytest.raises(ProviderError) as caught:
            await adapter.render(render_request("flux_schnell"))

        assert caught.value.retryable is False
        assert caught.value.user_message == fal_module.NOT_CONFIGURED
        assert server.received == []


class TestSizes:
    @pytest.mark.parametrize(
        ("size", "expected"),
        [
            ((1280, 720), {"width": 1280, "height": 720}),
            ((3840, 2160), {"width": 1536, "height": 864}),
            ((1080, 1920), {"width": 864, "height": 1536}),
            ((4000, 200), {"width": 1536, "height": 256}),
        ],
    )
    def test_image_size_keeps_the_shape_within_the_model_limit(
        self, size: tuple[int, int], expected: dict[str, int]
    ) -> None:
        assert fit_image_size(*size, max_long_side=1536) == expected

    @pytest.mark.parametrize(
        ("size", "expected"),
        [
            ((1280, 720), "16:9"),
            ((1080, 1080), "1:1"),
            ((1080, 1920), "9:16"),
            ((1080, 1350), "3:4"),
            ((1500, 500), "21:9"),
        ],
    )
    def test_closest_aspect_ratio(self, size: tuple[int, int], expected: str) -> None:
        assert closest_aspect_ratio(*size) == expected


def test_importing_the_adapter_does_not_import_fal_client() -> None:
    code = "import sys, app.providers.fal; print('fal_client' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
