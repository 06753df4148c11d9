"""Projects over HTTP: presets, validation, ownership, deletion."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.auth.test_router import assert_error
from tests.factories import API, create_project, create_user, submit_job, wait_for_job
from tests.support.dispatch import hold_jobs


class TestCreate:
    @pytest.mark.parametrize(
        ("platform", "size"),
        [
            ("youtube", (1280, 720)),
            ("youtube_shorts", (1080, 1920)),
            ("instagram_post", (1080, 1080)),
            ("instagram_story", (1080, 1920)),
            ("tiktok", (1080, 1920)),
            ("twitter", (1600, 900)),
            ("linkedin", (1200, 627)),
        ],
    )
    async def test_size_comes_from_the_platform(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        platform: str,
        size: tuple[int, int],
    ):
        user = await create_user(app)
        project = await create_project(client, user, platform=platform)
        assert (project["width"], project["height"]) == size
        assert project["status"] == "draft"
        assert project["mode"] == "design"

    async def test_custom_needs_its_own_size(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        project = await create_project(client, user, platform="custom", width=800, height=400)
        assert (project["width"], project["height"]) == (800, 400)
        missing = await client.post(
            f"{API}/projects", json={"platform": "custom", "width": 800}, headers=user.headers
        )
        assert missing.status_code == 422

    @pytest.mark.parametrize(
        "body",
        [
            {"platform": "myspace"},
            {"platform": "custom", "width": 100, "height": 400},
            {"platform": "custom", "width": 5000, "height": 400},
            {"headline": "h" * 201},
            {"mode": "copy"},
            {"selfie_asset_ids": ["not-a-uuid"]},
            {"mode": "remix"},
        ],
    )
    async def test_bad_input_is_422(
        self, client: httpx.AsyncClient, app: FastAPI, body: dict[str, object]
    ):
        user = await create_user(app)
        response = await client.post(f"{API}/projects", json=body, headers=user.headers)
        assert response.status_code == 422, response.text
        listed = (
            await client.get(f"{API}/projects?include_total=true", headers=user.headers)
        ).json()
        assert listed["total"] == 0

    async def test_unknown_model_preference_is_422(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        response = await client.post(
            f"{API}/projects", json={"model_pref": "dall-e-9"}, headers=user.headers
        )
        assert_error(response, 422, "unknown_model")
        refusal = response.json()
        assert {"studio", "nano_banana", "flux_schnell"} <= set(refusal["known_models"])
        assert "studio" in refusal["detail"]
        project = await create_project(client, user, model_pref="studio")
        response = await client.patch(
            f"{API}/projects/{project['id']}",
            json={"model_pref": "gpt-image"},
            headers=user.headers,
        )
        assert_error(response, 422, "unknown_model")
        assert "nano_banana" in response.json()["known_models"]
        kept = await client.get(f"{API}/projects/{project['id']}", headers=user.headers)
        assert kept.json()["model_pref"] == "studio"

    async def test_assets_that_do_not_exist_are_422(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        response = await client.post(
            f"{API}/projects",
            json={"selfie_asset_ids": ["00000000-0000-4000-8000-000000000000"]},
            headers=user.headers,
        )
        assert_error(response, 422, "invalid_asset")


class TestReadUpdateDelete:
    async def test_list_is_paginated_and_filtered(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        for index in range(3):
            await create_project(client, user, headline=f"Project {index}")
        page = (
            await client.get(f"{API}/projects?limit=2&include_total=true", headers=user.headers)
        ).json()
        assert page["total"] == 3
        assert [p["headline"] for p in page["items"]] == ["Project 2", "Project 1"]
        drafts = (
            await client.get(
                f"{API}/projects?status=draft&include_total=true", headers=user.headers
            )
        ).json()
        assert drafts["total"] == 3
        done = (
            await client.get(f"{API}/projects?status=done&include_total=true", headers=user.headers)
        ).json()
        assert done["total"] == 0

    async def test_patch_changes_the_fields_sent(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        project = await create_project(client, user)
        response = await client.patch(
            f"{API}/projects/{project['id']}",
            json={"headline": "New headline", "platform": "tiktok"},
            headers=user.headers,
        )
        assert response.status_code == 200
        body = response.json()
        assert body["headline"] == "New headline"
        assert (body["width"], body["height"]) == (1080, 1920)
        assert body["subtext"] == project["subtext"]
        bad = await client.patch(
            f"{API}/projects/{project['id']}", json={"platform": None}, headers=user.headers
        )
        assert bad.status_code == 422

    async def test_another_users_project_is_404(self, client: httpx.AsyncClient, app: FastAPI):
        owner = await create_user(app)
        stranger = await create_user(app)
        project = await create_project(client, owner)
        for method, suffix, body in [
            ("GET", "", None),
            ("PATCH", "", {"headline": "mine now"}),
            ("DELETE", "", None),
            ("GET", "/jobs", None),
        ]:
            response = await client.request(
                method,
                f"{API}/projects/{project['id']}{suffix}",
                json=body,
                headers=stranger.headers,
            )
            assert_error(response, 404, "not_found")
        still = await client.get(f"{API}/projects/{project['id']}", headers=owner.headers)
        assert still.json()["headline"] == project["headline"]

    async def test_delete_removes_jobs_and_render_files(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user)
        created = await submit_job(client, user, project["id"], variants=2)
        job = await wait_for_job(client, app, user, created["id"])
        urls = [render["url"] for render in job["renders"]]
        assert [(await client.get(url)).status_code for url in urls] == [200, 200]
        response = await client.delete(f"{API}/projects/{project['id']}", headers=user.headers)
        assert response.status_code == 204
        assert (
            await client.get(f"{API}/projects/{project['id']}", headers=user.headers)
        ).status_code == 404
        assert (
            await client.get(f"{API}/jobs/{created['id']}", headers=user.headers)
        ).status_code == 404
        assert [(await client.get(url)).status_code for url in urls] == [404, 404]

    async def test_delete_is_refused_while_a_job_is_active(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        held = hold_jobs(app)
        user = await create_user(app)
        project = await create_project(client, user)
        await submit_job(client, user, project["id"])
        response = await client.delete(f"{API}/projects/{project['id']}", headers=user.headers)
        assert_error(response, 409, "project_busy")
        await held.release()
        response = await client.delete(f"{API}/projects/{project['id']}", headers=user.headers)
        assert response.status_code == 204

    async def test_status_follows_the_latest_job(self, client: httpx.AsyncClient, app: FastAPI):
        held = hold_jobs(app)
        user = await create_user(app)
        project = await create_project(client, user)
        await submit_job(client, user, project["id"])
        queued = await client.get(f"{API}/projects/{project['id']}", headers=user.headers)
        assert queued.json()["status"] == "queued"
        await held.release()
        done = await client.get(f"{API}/projects/{project['id']}", headers=user.headers)
        assert done.json()["status"] == "done"
