"""What jobs deliver, over HTTP with the studio: file formats by platform, draft size and cost,
downloads named after the headline, and studio videos (animated WebP with a poster)."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from app.jobs.imaging import srgb_profile
from tests.auth.test_router import assert_error
from tests.factories import API, TestUser, balance, create_project, create_user, wait_for_job


async def run_job(
    client: httpx.AsyncClient, app: FastAPI, user: TestUser, **body: Any
) -> dict[str, Any]:
    response = await client.post(f"{API}/jobs", json=body, headers=user.headers)
    assert response.status_code == 202, response.text
    return await wait_for_job(client, app, user, response.json()["id"])


async def fetch_image(client: httpx.AsyncClient, url: str) -> tuple[httpx.Response, Image.Image]:
    response = await client.get(url)
    assert response.status_code == 200
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return response, image


class TestFormats:
    @pytest.mark.parametrize(
        ("platform", "expected"),
        [("youtube", "jpeg"), ("instagram_post", "jpeg"), ("linkedin", "png")],
    )
    async def test_the_platform_picks_the_default(
        self, client: httpx.AsyncClient, app: FastAPI, platform: str, expected: str
    ):
        user = await create_user(app)
        project = await create_project(client, user, platform=platform)
        job = await run_job(client, app, user, project_id=project["id"])
        assert job["status"] == "succeeded", job
        assert job["format"] == expected
        [render] = job["renders"]
        extension = {"jpeg": ".jpg", "png": ".png"}[expected]
        assert render["url"].endswith(extension)
        assert render["format"] == expected
        assert render["content_type"] == f"image/{expected}"
        response, image = await fetch_image(client, render["url"])
        assert response.headers["content-type"] == f"image/{expected}"
        assert image.format == expected.upper()
        assert render["size_bytes"] == len(response.content)
        # Every still carries its colour space: sRGB.
        assert image.info["icc_profile"] == srgb_profile()

    @pytest.mark.parametrize("image_format", ["png", "jpeg", "webp"])
    async def test_an_asked_format_is_delivered(
        self, client: httpx.AsyncClient, app: FastAPI, image_format: str
    ):
        user = await create_user(app)
        project = await create_project(client, user)
        job = await run_job(client, app, user, project_id=project["id"], format=image_format)
        assert job["format"] == image_format
        [render] = job["renders"]
        _, image = await fetch_image(client, render["url"])
        assert image.format == image_format.upper()
        assert image.size == (1280, 720)
        assert image.info["icc_profile"] == srgb_profile()

    async def test_a_youtube_4k_render_stays_under_two_megabytes(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user, vibe="neon gaming")
        job = await run_job(client, app, user, project_id=project["id"], quality="4k")
        [render] = job["renders"]
        assert (render["width"], render["height"]) == (3840, 2160)
        assert render["format"] == "jpeg"
        response, image = await fetch_image(client, render["url"])
        assert len(response.content) <= 2_000_000
        assert image.info["icc_profile"] == srgb_profile()

    @pytest.mark.parametrize("image_format", ["gif", "PNG", "tiff", 3])
    async def test_an_unknown_format_is_422_and_charges_nothing(
        self, client: httpx.AsyncClient, app: FastAPI, image_format: object
    ):
        user = await create_user(app)
        project = await create_project(client, user)
        response = await client.post(
            f"{API}/jobs",
            json={"project_id": project["id"], "format": image_format},
            headers=user.headers,
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"][-1] == "format"
        assert await balance(client, user) == 10


class TestDraft:
    async def test_draft_is_half_the_size_and_cheaper(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user)
        draft = await run_job(
            client, app, user, project_id=project["id"], quality="draft", variants=2
        )
        std = await run_job(client, app, user, project_id=project["id"], quality="std", variants=2)
        assert (draft["cost_credits"], std["cost_credits"]) == (1, 2)
        for render in draft["renders"]:
            assert (render["width"], render["height"]) == (640, 360)
            _, image = await fetch_image(client, render["url"])
            assert image.size == (640, 360)
        assert await balance(client, user) == 10 - 1 - 2

    async def test_the_catalogue_prices_drafts_at_half(self, client: httpx.AsyncClient):
        models = {m["id"]: m for m in (await client.get(f"{API}/models")).json()}
        for model_id in ("nano_banana", "seedream", "flux_schnell", "ideogram_v3"):
            costs = models[model_id]["cost_by_quality"]
            assert costs["draft"] < costs["std"] < costs["4k"], model_id
            assert costs["draft"] == -(-costs["std"] // 2)
        # One credit is the least a job costs.
        assert models["studio"]["cost_by_quality"] == {"draft": 1, "std": 1, "4k": 2}


def assert_attachment(response: httpx.Response, ascii_name: str, utf8_name: str) -> None:
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert f'filename="{ascii_name}"' in disposition
    assert f"filename*=UTF-8''{utf8_name}" in disposition


class TestDownload:
    async def test_the_file_is_an_attachment_named_after_the_headline(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user, headline="Café déjà vu: 30 days!")
        job = await run_job(client, app, user, project_id=project["id"], variants=2)
        render = job["renders"][1]
        assert render["download_url"].endswith(f"/jobs/{job['id']}/renders/1/download")
        response = await client.get(render["download_url"], headers=user.headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        assert_attachment(
            response, "cafe-deja-vu-30-days-2.jpg", "caf%C3%A9-d%C3%A9j%C3%A0-vu-30-days-2.jpg"
        )
        stored = await client.get(render["url"])
        assert response.content == stored.content

    async def test_a_headline_without_letters_gets_a_plain_name(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user, headline="!!! ???", platform="linkedin")
        job = await run_job(client, app, user, project_id=project["id"])
        response = await client.get(
            f"{API}/jobs/{job['id']}/renders/0/download", headers=user.headers
        )
        assert_attachment(response, "thumbnail-1.png", "thumbnail-1.png")

    async def test_another_users_job_and_a_missing_variant_are_404(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        stranger = await create_user(app)
        project = await create_project(client, user)
        job = await run_job(client, app, user, project_id=project["id"])
        path = f"{API}/jobs/{job['id']}/renders"
        assert_error(
            await client.get(f"{path}/0/download", headers=stranger.headers), 404, "not_found"
        )
        assert_error(await client.get(f"{path}/1/download", headers=user.headers), 404, "not_found")
        unknown = f"{API}/jobs/00000000-0000-4000-8000-000000000000/renders/0/download"
        assert_error(await client.get(unknown, headers=user.headers), 404, "not_found")
        assert (await client.get(f"{path}/0/download")).status_code == 401
        assert (await client.get(f"{path}/9/download", headers=user.headers)).status_code == 422


class TestStudioVideo:
    async def test_a_studio_clip_is_an_animated_webp_with_a_poster(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user)
        job = await run_job(client, app, user, project_id=project["id"], kind="video", duration=3)
        assert job["status"] == "succeeded", job
        assert (job["kind"], job["model"], job["duration"], job["aspect_ratio"]) == (
            "video",
            "studio_motion",
            3,
            "16:9",
        )
        assert job["format"] is None
        assert job["cost_credits"] == 3
        [render] = job["renders"]
        assert (render["format"], render["content_type"]) == ("webp", "image/webp")
        _, clip = await fetch_image(client, render["url"])
        assert clip.format == "WEBP"
        assert getattr(clip, "is_animated", False)
        assert getattr(clip, "n_frames", 1) >= 12
        assert clip.size == (render["width"], render["height"]) == (640, 360)
        _, poster = await fetch_image(client, render["poster_url"])
        assert (poster.format, poster.size) == ("JPEG", (640, 360))
        assert poster.info["icc_profile"] == srgb_profile()
        download = await client.get(render["download_url"], headers=user.headers)
        assert download.headers["content-disposition"].startswith(
            'attachment; filename="i-tried-this-for-30-days-1.webp"'
        )
        assert await balance(client, user) == 7

    async def test_a_portrait_project_gets_a_portrait_clip(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user, platform="youtube_shorts")
        job = await run_job(
            client, app, user, project_id=project["id"], model="studio_motion", quality="draft"
        )
        assert (job["aspect_ratio"], job["duration"], job["cost_credits"]) == ("9:16", 2, 1)
        [render] = job["renders"]
        assert (render["width"], render["height"]) == (270, 480)

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"kind": "video", "duration": 5}, "duration"),
            ({"kind": "video", "aspect_ratio": "4:3"}, "aspect_ratio"),
            ({"kind": "video", "quality": "4k"}, "quality"),
            ({"kind": "video", "format": "png"}, "format"),
            ({"kind": "video", "variants": 2}, "variants"),
            ({"kind": "image", "model": "studio_motion"}, "kind"),
            ({"kind": "video", "model": "studio"}, "kind"),
            ({"duration": 3}, "duration"),
            ({"aspect_ratio": "16:9"}, "aspect_ratio"),
        ],
    )
    async def test_what_the_model_does_not_take_is_422_and_charges_nothing(
        self, client: httpx.AsyncClient, app: FastAPI, body: dict[str, Any], field: str
    ):
        user = await create_user(app)
        project = await create_project(client, user)
        response = await client.post(
            f"{API}/jobs", json={"project_id": project["id"], **body}, headers=user.headers
        )
        assert_error(response, 422, "invalid_parameter")
        assert await balance(client, user) == 10

    @pytest.mark.parametrize(
        "body",
        [{"duration": 0}, {"duration": "three"}, {"aspect_ratio": "wide"}, {"kind": "gif"}],
    )
    async def test_malformed_values_are_422(
        self, client: httpx.AsyncClient, app: FastAPI, body: dict[str, Any]
    ):
        user = await create_user(app)
        project = await create_project(client, user)
        response = await client.post(
            f"{API}/jobs",
            json={"project_id": project["id"], "kind": "video", **body},
            headers=user.headers,
        )
        assert response.status_code == 422
        assert isinstance(response.json()["detail"], list)

    async def test_the_catalogue_lists_video_models(self, client: httpx.AsyncClient):
        models = {m["id"]: m for m in (await client.get(f"{API}/models")).json()}
        motion = models["studio_motion"]
        assert (motion["kind"], motion["available"]) == ("video", True)
        assert motion["durations"] == [2, 3, 4]
        assert motion["qualities"] == ["draft", "std"]
        for remote in ("wan_25", "veo3_fast"):
            assert models[remote]["kind"] == "video"
            assert models[remote]["available"] is False
            assert models[remote]["credits_per_second"] > 0
        assert models["veo3_fast"]["aspect_ratios"] == ["16:9", "9:16"]
        assert models["studio"]["kind"] == "image"
        assert models["studio"]["durations"] is None
