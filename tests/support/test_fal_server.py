"""The local fal queue server on the wire: routes, statuses and bodies the fal-client relies on."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.support.fal_server import FalServerHandle, fal_server

KEY = "fal-key-id:fal-key-secret"
AUTH = {"Authorization": f"Key {KEY}"}


@pytest.fixture
def server() -> Iterator[FalServerHandle]:
    with fal_server(KEY) as handle:
        yield handle


@pytest.fixture
def http(server: FalServerHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as client:
        yield client


def _submit(http: httpx.Client, app_id: str, arguments: Any) -> dict[str, Any]:
    response = http.post(f"/{app_id}", json=arguments)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _poll_until_completed(http: httpx.Client, status_url: str) -> list[tuple[int, str]]:
    seen: list[tuple[int, str]] = []
    for _ in range(10):
        response = http.get(status_url, params={"logs": "1"})
        seen.append((response.status_code, response.json()["status"]))
        if seen[-1][1] == "COMPLETED":
            return seen
    raise AssertionError(f"never completed: {seen}")


def test_submit_needs_the_key(server: FalServerHandle) -> None:
    for headers in ({}, {"Authorization": "Key wrong"}, {"Authorization": f"Bearer {KEY}"}):
        response = httpx.post(
            f"{server.url}/fal-ai/flux/schnell", json={"prompt": "x"}, headers=headers
        )
        assert response.status_code == 401
        assert isinstance(response.json()["detail"], str)


def test_queue_lifecycle_and_urls(server: FalServerHandle, http: httpx.Client) -> None:
    submitted = _submit(
        http, "fal-ai/flux-pro/v1.1-ultra", {"prompt": "a cat", "aspect_ratio": "1:1"}
    )

    request_id = submitted["request_id"]
    base = f"{server.url}/fal-ai/flux-pro/requests/{request_id}"
    assert submitted["status"] == "IN_QUEUE"
    assert submitted["response_url"] == base
    assert submitted["status_url"] == f"{base}/status"
    assert submitted["cancel_url"] == f"{base}/cancel"
    early = http.get(submitted["response_url"])
    assert early.status_code == 400
    assert early.json() == {"detail": "Request is still in progress"}
    assert _poll_until_completed(http, submitted["status_url"]) == [
        (202, "IN_QUEUE"),
        (202, "IN_PROGRESS"),
        (200, "COMPLETED"),
    ]
    result = http.get(submitted["response_url"])
    assert result.status_code == 200
    assert result.headers["x-fal-request-id"] == request_id
    output = result.json()
    assert output["has_nsfw_concepts"] == [False]
    (image,) = output["images"]
    # Files are public, like fal's CDN.
    png = httpx.get(image["url"]).content
    with Image.open(io.BytesIO(png)) as picture:
        assert picture.format == "PNG"
        assert picture.size == (image["width"], image["height"])
        assert picture.width == picture.height
    assert http.put(submitted["cancel_url"]).json() == {"status": "ALREADY_COMPLETED"}


def test_cancel_while_running(http: httpx.Client, server: FalServerHandle) -> None:
    server.fault = "slow"
    submitted = _submit(http, "fal-ai/flux/schnell", {"prompt": "a cat"})

    response = http.put(submitted["cancel_url"])

    assert (response.status_code, response.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
    assert _poll_until_completed(http, submitted["status_url"])[-1] == (200, "COMPLETED")
    assert http.get(submitted["response_url"]).status_code == 400


def test_runner_rejects_bad_input_in_fals_detail_shape(http: httpx.Client) -> None:
    submitted = _submit(http, "fal-ai/flux-pro/kontext", {"prompt": "make it pop"})

    _poll_until_completed(http, submitted["status_url"])
    completed = http.get(submitted["status_url"]).json()
    result = http.get(submitted["response_url"])

    assert completed["status"] == "COMPLETED"
    assert completed["error"]
    assert result.status_code == 422
    assert result.json() == {
        "detail": [{"loc": ["body", "image_url"], "msg": "Field required", "type": "missing"}]
    }


def test_validation_at_submit(http: httpx.Client, server: FalServerHandle) -> None:
    server.validation = "submit"

    response = http.post("/fal-ai/flux/schnell", json={"num_images": 1})

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"}
    ]
    assert server.queued() == []


def test_kontext_output_follows_the_inline_picture(http: httpx.Client) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 600), "red").save(buffer, format="JPEG")
    image_url = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
    submitted = _submit(
        http, "fal-ai/flux-pro/kontext", {"prompt": "make it pop", "image_url": image_url}
    )

    _poll_until_completed(http, submitted["status_url"])
    (image,) = http.get(submitted["response_url"]).json()["images"]

    assert abs(image["height"] / image["width"] - 2) < 0.05  # sides snap to multiples of 16


def test_unknown_application(http: httpx.Client) -> None:
    response = http.post("/fal-ai/does-not-exist", json={"prompt": "x"})

    assert response.status_code == 404


def test_rate_limit_once_then_accepts(http: httpx.Client, server: FalServerHandle) -> None:
    server.fault = "rate_limit_once"

    first = http.post("/fal-ai/flux/schnell", json={"prompt": "x"})
    second = http.post("/fal-ai/flux/schnell", json={"prompt": "x"})

    assert first.status_code == 429
    assert second.status_code == 200
