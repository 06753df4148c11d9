"""Video jobs on fal's video models, through the real fal-client against the local queue server,
on both databases: charged per second, checked to be MP4, given a poster, refunded on failure."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image, ImageChops, ImageOps, ImageStat

from app.config import Settings
from tests.auth.test_router import assert_error
from tests.conftest import http_client, make_settings, running_app
from tests.factories import API, TestUser, balance, create_project, create_user, wait_for_job
from tests.jobs.test_router import ledger_matches
from tests.support.fal_server import FalServerHandle, fal_server

FAL_KEY = "test-fal-video-key"
START = 100


@pytest.fixture(scope="module")
def fal() -> Iterator[FalServerHandle]:
    with fal_server(FAL_KEY) as handle:
        yield handle


def video_settings(
    fal: FalServerHandle, database_url: str, tmp_path: Path, **overrides: object
) -> Settings:
    fal.reset()
    return make_settings(
        database_url=database_url,
        data_dir=tmp_path,
        fal_key=FAL_KEY,
        fal_queue_url=fal.url,
        provider_timeout_seconds=5.0,
        provider_retry_seconds=0.0,
        default_user_credits=START,
        **overrides,
    )


@pytest.fixture
async def video_app(
    fal: FalServerHandle, database_url: str, tmp_path: Path
) -> AsyncIterator[FastAPI]:
    async with running_app(video_settings(fal, database_url, tmp_path)) as app:
        yield app


@pytest.fixture
async def client(video_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(video_app) as http:
        yield http


async def submit(client: httpx.AsyncClient, user: TestUser, **body: Any) -> httpx.Response:
    return await client.post(f"{API}/jobs", json=body, headers=user.headers)


async def run_video(
    client: httpx.AsyncClient, app: FastAPI, user: TestUser, **body: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    response = await submit(client, user, **body)
    assert response.status_code == 202, response.text
    created = response.json()
    return created, await wait_for_job(client, app, user, created["id"])


async def picture(client: httpx.AsyncClient, url: str) -> Image.Image:
    response = await client.get(url)
    assert response.status_code == 200
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


class TestFalVideo:
    async def test_wan_makes_an_mp4_charged_per_second_with_a_poster(
        self, client: httpx.AsyncClient, video_app: FastAPI, fal: FalServerHandle
    ):
        user = await create_user(video_app)
        project = await create_project(client, user)
        created, job = await run_video(
            client, video_app, user, project_id=project["id"], model="wan_25", duration=5
        )
        assert (created["kind"], created["duration"], created["aspect_ratio"]) == (
            "video",
            5,
            "16:9",
        )
        assert created["cost_credits"] == 10  # 2 credits a second
        assert job["status"] == "succeeded", job
        (sent,) = fal.submits("fal-ai/wan-25-preview/text-to-video")
        assert sent.body["duration"] == "5"
        assert (sent.body["aspect_ratio"], sent.body["resolution"]) == ("16:9", "720p")
        assert "No on-screen text" in sent.body["prompt"]
        [render] = job["renders"]
        assert (render["format"], render["content_type"]) == ("mp4", "video/mp4")
        assert (render["width"], render["height"]) == (1280, 720)  # read from the MP4
        stored = await client.get(render["url"])
        assert stored.headers["content-type"] == "video/mp4"
        assert stored.content[4:8] == b"ftyp"
        assert render["size_bytes"] == len(stored.content)
        poster = await picture(client, render["poster_url"])
        assert (poster.format, poster.size) == ("JPEG", (1280, 720))
        download = await client.get(render["download_url"], headers=user.headers)
        assert download.status_code == 200
        assert (
            'filename="i-tried-this-for-30-days-1.mp4"' in download.headers["content-disposition"]
        )
        assert download.content == stored.content
        assert await balance(client, user) == START - 10
        assert await ledger_matches(video_app, user.id) == (START - 10, START - 10)

    async def test_veo_draft_portrait_takes_its_own_words_for_length(
        self, client: httpx.AsyncClient, video_app: FastAPI, fal: FalServerHandle
    ):
        user = await create_user(video_app)
        project = await create_project(client, user, platform="youtube_shorts")
        created, job = await run_video(
            client,
            video_app,
            user,
            project_id=project["id"],
            model="veo3_fast",
            quality="draft",
            duration=4,
        )
        assert created["cost_credits"] == 6  # 3 a second, half for a draft
        assert created["aspect_ratio"] == "9:16"
        assert job["status"] == "succeeded", job
        (sent,) = fal.submits("fal-ai/veo3/fast")
        assert (sent.body["duration"], sent.body["resolution"]) == ("4s", "720p")
        assert sent.body["generate_audio"] is False
        [render] = job["renders"]
        assert (render["width"], render["height"]) == (720, 1280)

    async def test_the_poster_is_the_projects_thumbnail_when_there_is_one(
        self, client: httpx.AsyncClient, video_app: FastAPI
    ):
        user = await create_user(video_app)
        project = await create_project(client, user)
        _, still = await run_video(client, video_app, user, project_id=project["id"])
        thumbnail = await picture(client, still["renders"][0]["url"])
        _, video = await run_video(
            client, video_app, user, project_id=project["id"], model="wan_25", quality="draft"
        )
        assert video["cost_credits"] == 5
        poster = await picture(client, video["renders"][0]["poster_url"])
        assert poster.size == (832, 480)
        # Cropped to the clip's shape, as the poster was.
        resized = ImageOps.fit(thumbnail.convert("RGB"), poster.size)
        difference = ImageStat.Stat(ImageChops.difference(resized, poster.convert("RGB")))
        assert max(difference.mean) < 6

    async def test_values_the_model_does_not_take_are_422(
        self, client: httpx.AsyncClient, video_app: FastAPI, fal: FalServerHandle
    ):
        user = await create_user(video_app)
        project = await create_project(client, user)
        for body in (
            {"model": "wan_25", "duration": 6},
            {"model": "wan_25", "aspect_ratio": "21:9"},
            {"model": "veo3_fast", "aspect_ratio": "1:1"},
            {"model": "veo3_fast", "duration": 5},
            {"model": "veo3_fast", "quality": "4k"},
            {"model": "wan_25", "params": {"num_frames": 81}},
        ):
            response = await submit(client, user, project_id=project["id"], **body)
            assert_error(response, 422, "invalid_parameter")
        assert fal.submits() == []
        assert await balance(client, user) == START


class TestRefusedOutput:
    async def test_a_file_that_is_not_mp4_fails_and_is_refunded_once(
        self, client: httpx.AsyncClient, video_app: FastAPI, fal: FalServerHandle
    ):
        fal.fault = "not_a_video"
        user = await create_user(video_app)
        project = await create_project(client, user)
        created, job = await run_video(
            client, video_app, user, project_id=project["id"], model="wan_25", duration=10
        )
        assert created["cost_credits"] == 20
        assert job["status"] == "failed", job
        assert "not an MP4" in job["error"]
        assert job["renders"] == []
        assert job["refunded_credits"] == 20
        assert await balance(client, user) == START
        assert await ledger_matches(video_app, user.id) == (START, START)
        ledger = (await client.get(f"{API}/credits/transactions", headers=user.headers)).json()
        reasons = [row["reason"] for row in ledger["items"]]
        assert reasons.count("job_refund") == reasons.count("job_charge") == 1

    async def test_a_clip_over_the_size_limit_fails_and_is_refunded(
        self, fal: FalServerHandle, database_url: str, tmp_path: Path
    ):
        settings = video_settings(fal, database_url, tmp_path, video_output_max_bytes=2048)
        async with running_app(settings) as app, http_client(app) as client:
            user = await create_user(app)
            project = await create_project(client, user)
            _, job = await run_video(client, app, user, project_id=project["id"], model="veo3_fast")
            assert job["status"] == "failed", job
            assert "too large" in job["error"]
            assert job["refunded_credits"] == job["cost_credits"] == 12  # 4 s, the shortest
            assert await balance(client, user) == START
