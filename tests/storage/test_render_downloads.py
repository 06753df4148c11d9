"""Render downloads with Supabase Storage behind the API: a redirect to Storage's own download
URL, which answers with the attachment headers, so the bytes never pass through the API."""

from __future__ import annotations

from pathlib import Path

import httpx

from app.adapters.storage import Buckets
from tests.auth.test_router import assert_error
from tests.conftest import http_client, running_app
from tests.factories import create_project, create_user, submit_job, wait_for_job
from tests.storage.conftest import SupabaseStorageServer, create_buckets


async def test_the_download_redirects_to_an_attachment_from_storage(
    supabase: SupabaseStorageServer, database_url: str, tmp_path: Path
) -> None:
    settings = supabase.settings(database_url=database_url, data_dir=tmp_path)
    await create_buckets(supabase, Buckets.from_settings(settings))
    async with (
        running_app(settings) as app,
        http_client(app) as client,
        httpx.AsyncClient() as browser,
    ):
        user = await create_user(app)
        stranger = await create_user(app)
        project = await create_project(client, user, headline="Señor Zürich — 10× faster")
        created = await submit_job(client, user, project["id"])
        job = await wait_for_job(client, app, user, created["id"])
        assert job["status"] == "succeeded", job
        [render] = job["renders"]
        assert render["url"].startswith(f"{supabase.url}/storage/v1/object/public/renders/")

        response = await client.get(render["download_url"], headers=user.headers)
        assert response.status_code == 307
        assert response.headers["cache-control"] == "private, no-store"
        location = response.headers["location"]
        assert location.startswith(render["url"])

        saved = await browser.get(location)
        assert saved.status_code == 200
        assert saved.headers["content-type"] == "image/jpeg"
        disposition = saved.headers["content-disposition"]
        assert disposition.startswith("attachment; filename=")
        assert "filename*=UTF-8''se%C3%B1or-z%C3%BCrich-10-faster-1.jpg" in disposition
        assert saved.content == (await browser.get(render["url"])).content

        assert_error(
            await client.get(render["download_url"], headers=stranger.headers), 404, "not_found"
        )
        missing = render["download_url"].replace("/renders/0/", "/renders/1/")
        assert_error(await client.get(missing, headers=user.headers), 404, "not_found")
