"""Jobs that use uploaded photos: selfies in renders, and photos deleted before the run."""

from __future__ import annotations

from io import BytesIO

import httpx
from fastapi import FastAPI
from PIL import Image

from tests.factories import API, balance, create_project, create_user, submit_job, wait_for_job
from tests.images import image_bytes, upload
from tests.jobs.test_router import ledger_matches
from tests.support.dispatch import hold_jobs

MAGENTA = (255, 0, 255)


def magenta_share(data: bytes) -> float:
    image = Image.open(BytesIO(data)).convert("RGB").resize((160, 90))
    red, green, blue = (channel.tobytes() for channel in image.split())
    close = sum(
        1 for r, g, b in zip(red, green, blue, strict=True) if r > 200 and g < 60 and b > 200
    )
    return close / len(red)


class TestSelfies:
    async def test_the_selfie_appears_in_the_render(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        selfie = await upload(
            client, user, image_bytes("JPEG", size=(600, 800), color="#ff00ff"), type="selfie"
        )
        assert selfie.status_code == 201, selfie.text
        with_selfie = await create_project(
            client, user, selfie_asset_ids=[selfie.json()["id"]], vibe="minimal"
        )
        without = await create_project(client, user, vibe="minimal")
        results = []
        for project in (with_selfie, without):
            created = await submit_job(client, user, project["id"])
            job = await wait_for_job(client, app, user, created["id"])
            assert job["status"] == "succeeded", job
            results.append((await client.get(job["renders"][0]["url"])).content)
        assert magenta_share(results[0]) > 0.05
        assert magenta_share(results[1]) < 0.01

    async def test_a_deleted_photo_fails_the_job_with_a_full_refund(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        held = hold_jobs(app)
        user = await create_user(app)
        selfie = (await upload(client, user, image_bytes(), type="selfie")).json()
        project = await create_project(client, user, selfie_asset_ids=[selfie["id"]])
        created = await submit_job(client, user, project["id"], variants=2)
        deleted = await client.delete(f"{API}/assets/{selfie['id']}", headers=user.headers)
        assert deleted.status_code == 204
        await held.release()
        job = (await client.get(f"{API}/jobs/{created['id']}", headers=user.headers)).json()
        assert job["status"] == "failed"
        assert "deleted" in job["error"]
        assert job["refunded_credits"] == 2
        assert await balance(client, user) == 10
        assert await ledger_matches(app, user.id) == (10, 10)
        reasons = [
            row["reason"]
            for row in (
                await client.get(f"{API}/credits/transactions", headers=user.headers)
            ).json()["items"]
        ]
        assert reasons.count("job_refund") == 1
        project_now = await client.get(f"{API}/projects/{project['id']}", headers=user.headers)
        assert project_now.json()["status"] == "failed"


class TestProjectAssets:
    async def test_assets_must_be_the_callers_and_of_the_right_type(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        owner = await create_user(app)
        stranger = await create_user(app)
        selfie = (await upload(client, owner, image_bytes(), type="selfie")).json()
        ref = (await upload(client, owner, image_bytes(), type="ref")).json()
        target = (await upload(client, owner, image_bytes(), type="copy_target")).json()

        ok = await client.post(
            f"{API}/projects",
            json={
                "mode": "copy",
                "selfie_asset_ids": [selfie["id"]],
                "ref_asset_ids": [ref["id"]],
                "copy_target_asset_id": target["id"],
            },
            headers=owner.headers,
        )
        assert ok.status_code == 201, ok.text
        assert ok.json()["mode"] == "copy"

        stolen = await client.post(
            f"{API}/projects", json={"selfie_asset_ids": [selfie["id"]]}, headers=stranger.headers
        )
        assert stolen.status_code == 422
        assert stolen.json()["code"] == "invalid_asset"
        wrong_type = await client.post(
            f"{API}/projects", json={"selfie_asset_ids": [ref["id"]]}, headers=owner.headers
        )
        assert wrong_type.status_code == 422
        assert wrong_type.json()["code"] == "invalid_asset"
