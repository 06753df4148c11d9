"""The whole product on its embedded defaults, driven over HTTP as the frontend would."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.factories import (
    API,
    DEFAULT_PASSWORD,
    create_user,
    latest_token,
    signup_body,
)
from tests.images import image_bytes, open_image, upload


async def test_sign_up_to_finished_thumbnails(client: httpx.AsyncClient, app: FastAPI):
    body = signup_body()
    signup = await client.post(f"{API}/auth/signup", json=body)
    assert signup.status_code == 201
    token = latest_token(app, body["email"], "confirm-email")
    assert (await client.post(f"{API}/auth/confirm", json={"token": token})).status_code == 200
    signin = await client.post(
        f"{API}/auth/signin", json={"email": body["email"], "password": DEFAULT_PASSWORD}
    )
    headers = {"Authorization": f"Bearer {signin.json()['access_token']}"}
    assert (await client.get(f"{API}/credits/balance", headers=headers)).json() == {"credits": 10}

    selfie = await client.post(
        f"{API}/assets/upload",
        headers=headers,
        data={"type": "selfie"},
        files={"file": ("me.jpg", image_bytes("JPEG", size=(900, 1200)), "image/jpeg")},
    )
    assert selfie.status_code == 201, selfie.text
    project = await client.post(
        f"{API}/projects",
        headers=headers,
        json={
            "platform": "youtube",
            "headline": "I built a studio in a week",
            "subtext": "and it renders thumbnails",
            "vibe": "neon",
            "selfie_asset_ids": [selfie.json()["id"]],
        },
    )
    assert project.status_code == 201
    job = await client.post(
        f"{API}/jobs",
        headers=headers,
        json={
            "project_id": project.json()["id"],
            "quality": "std",
            "variants": 2,
            "model": "studio",
        },
    )
    assert job.status_code == 202
    assert job.json()["cost_credits"] == 2
    job_id = job.json()["id"]

    # Follow the job over server-sent events until it ends.
    final = None
    async with client.stream("GET", f"{API}/jobs/{job_id}/events", headers=headers) as events:
        async for line in events.aiter_lines():
            if line.startswith("data:") and '"succeeded"' in line:
                final = line
    assert final is not None

    finished = (await client.get(f"{API}/jobs/{job_id}", headers=headers)).json()
    assert finished["status"] == "succeeded"
    assert len(finished["renders"]) == 2
    for render in finished["renders"]:
        picture = await client.get(render["url"])
        assert picture.status_code == 200
        assert picture.headers["content-type"] == "image/jpeg"  # YouTube takes JPEG
        assert open_image(picture.content).size == (1280, 720)
    assert (await client.get(f"{API}/credits/balance", headers=headers)).json() == {"credits": 8}

    # Another person sees none of it.
    stranger = await create_user(app)
    chat = await client.post(
        f"{API}/chat/new", headers=headers, json={"project_id": project.json()["id"]}
    )
    for path in (
        f"/jobs/{job_id}",
        f"/projects/{project.json()['id']}",
        f"/assets/{selfie.json()['id']}",
        f"/chat/{chat.json()['chat_id']}",
    ):
        response = await client.get(f"{API}{path}", headers=stranger.headers)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"

    # Spending past the balance is refused, and the refusal costs nothing.
    spend_all = {"project_id": project.json()["id"], "quality": "4k", "variants": 4}
    assert (await client.post(f"{API}/jobs", headers=headers, json=spend_all)).status_code == 202
    one_more = {"project_id": project.json()["id"]}
    refused = await client.post(f"{API}/jobs", headers=headers, json=one_more)
    assert refused.status_code == 402
    assert refused.json()["code"] == "insufficient_credits"
    assert (await client.get(f"{API}/credits/balance", headers=headers)).json() == {"credits": 0}
    own = await upload(client, stranger, image_bytes(), type="ref")
    assert own.status_code == 201
