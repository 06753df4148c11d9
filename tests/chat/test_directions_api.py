"""Chat directions over HTTP: they edit the project, the studio render follows, and a message
that changes nothing starts no job and costs nothing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from PIL import ImageChops

from app.credits import repository as credits_repository
from app.jobs.delivery import delivery_for
from app.jobs.imaging import deliver_still
from app.providers.studio import StudioBrief, render_thumbnail
from tests.auth.test_router import assert_error
from tests.chat.test_router import new_chat
from tests.factories import API, TestUser, balance, create_project, create_user, wait_for_job
from tests.images import fetch, image_bytes, open_image, upload

BASE = {"headline": "I tried this for 30 days", "subtext": "What nobody tells you", "vibe": "neon"}


async def say(
    client: httpx.AsyncClient, user: TestUser, chat: dict[str, Any], content: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/chat/{chat['chat_id']}/messages",
        json={"content": content, "sender": "user", **body},
        headers=user.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    # Read as {message, reply, job} whether the message comes back wrapped or as the message
    # object carrying `reply` and `job`.
    if "message" in body:
        return dict(body)
    return {"message": body, "reply": body["reply"], "job": body["job"]}


async def project_of(client: httpx.AsyncClient, user: TestUser, project_id: str) -> dict[str, Any]:
    response = await client.get(f"{API}/projects/{project_id}", headers=user.headers)
    assert response.status_code == 200
    project: dict[str, Any] = response.json()
    return project


def delivered(png: bytes) -> bytes:
    """The studio's picture as the pipeline stores a YouTube render: JPEG within its limit."""
    return deliver_still(png, 1280, 720, "jpeg", delivery_for("youtube").max_bytes).data


async def render_of(client: httpx.AsyncClient, job: dict[str, Any]) -> bytes:
    assert job["status"] == "succeeded", job
    response = await fetch(client, job["renders"][0]["url"])
    assert response.status_code == 200
    return response.content


async def assert_ledger_matches(app: FastAPI, user: TestUser) -> int:
    async with app.state.ports.database.sessionmaker() as session:
        cached = await credits_repository.current_balance(session, uuid.UUID(user.id))
        total = await credits_repository.ledger_sum(session, uuid.UUID(user.id))
    assert cached == total
    assert cached is not None
    return cached


def studio_brief(**fields: Any) -> StudioBrief:
    values: dict[str, Any] = {"width": 1280, "height": 720, "platform": "youtube", **BASE}
    values.update(fields)
    return StudioBrief(**values)


def changed_share(first: bytes, second: bytes) -> float:
    difference = ImageChops.difference(open_image(first), open_image(second)).convert("L")
    histogram = difference.histogram()
    return sum(histogram[24:]) / sum(histogram)


def red_share(png: bytes) -> float:
    data = open_image(png).convert("RGB").resize((128, 72)).tobytes()
    pixels = [data[i : i + 3] for i in range(0, len(data), 3)]
    red = sum(1 for r, g, b in pixels if r > g + 60 and r > b + 60)
    return red / len(pixels)


class TestDirectionsEditTheProject:
    async def test_background_and_bigger_headline_change_the_project_and_the_render(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user, **BASE)
        chat = await new_chat(client, user, project_id=project["id"])

        exchange = await say(
            client, user, chat, "make the background red and the headline bigger", generate=True
        )

        edits = exchange["message"]["edits"]
        assert [(e["field"], e["value"]) for e in edits["applied"]] == [
            ("background_color", "#ff0000"),
            ("headline_scale", 1.25),
        ]
        assert edits["not_understood"] == []
        assert edits["source"] == "parser"
        reply = exchange["reply"]["content"]
        assert "background → red (#ff0000)" in reply
        assert "headline bigger" in reply
        assert exchange["job"]["cost_credits"] == 1
        stored = await project_of(client, user, project["id"])
        assert (stored["background_color"], stored["headline_scale"]) == ("#ff0000", 1.25)

        job = await wait_for_job(client, app, user, exchange["job"]["id"])
        png = await render_of(client, job)
        # The stored render is exactly the studio's picture of the edited project...
        expected = render_thumbnail(
            studio_brief(background_color="#ff0000", headline_scale=1.25), seed=job["id"], variant=0
        )
        assert png == delivered(expected)
        # ...which differs clearly from the picture before the edit, with the same seed.
        before = render_thumbnail(studio_brief(), seed=job["id"], variant=0)
        assert changed_share(png, before) > 0.3
        assert red_share(png) > 0.4 > 0.2 > red_share(before)

        # The next job keeps the edits: they live on the project.
        again = await say(client, user, chat, "another variant", generate=True)
        assert [e["field"] for e in again["message"]["edits"]["applied"]] == ["variant"]
        second = await wait_for_job(client, app, user, again["job"]["id"])
        assert await render_of(client, second) == delivered(
            render_thumbnail(
                studio_brief(background_color="#ff0000", headline_scale=1.25),
                seed=second["id"],
                variant=0,
            )
        )
        assert await assert_ledger_matches(app, user) == 8

    async def test_new_headline_after_to_colon(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        project = await create_project(client, user, **BASE)
        chat = await new_chat(client, user, project_id=project["id"])

        exchange = await say(client, user, chat, "change the headline to: I QUIT SUGAR")

        assert exchange["job"] is None
        assert "generate on" in exchange["reply"]["content"]
        assert (await project_of(client, user, project["id"]))["headline"] == "I QUIT SUGAR"
        assert await balance(client, user) == 10

    async def test_person_side_moves_the_photo(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        uploaded = await upload(client, user, image_bytes(size=(300, 400), color="green"))
        assert uploaded.status_code == 201, uploaded.text
        selfie = uploaded.json()
        project = await create_project(client, user, selfie_asset_ids=[selfie["id"]], **BASE)
        chat = await new_chat(client, user, project_id=project["id"])

        exchange = await say(client, user, chat, "put me on the left", generate=True)

        assert exchange["message"]["edits"]["applied"][0]["value"] == "left"
        job = await wait_for_job(client, app, user, exchange["job"]["id"])
        png = await render_of(client, job)
        photo = (await fetch(client, selfie["url"])).content
        assert png == delivered(
            render_thumbnail(
                studio_brief(selfie=photo, person_side="left"), seed=job["id"], variant=0
            )
        )
        # Variant 0 puts the photo on the right unless told otherwise.
        default = render_thumbnail(studio_brief(selfie=photo), seed=job["id"], variant=0)
        assert changed_share(png, default) > 0.3
        green = open_image(png).convert("RGB").resize((40, 20)).getpixel((8, 10))
        assert isinstance(green, tuple)
        assert green[1] > 100 > green[0], green

    async def test_remove_subtext_and_vibe(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        project = await create_project(client, user, **BASE)
        chat = await new_chat(client, user, project_id=project["id"])

        exchange = await say(client, user, chat, "remove the subtext and make it more dramatic")

        assert {e["field"] for e in exchange["message"]["edits"]["applied"]} == {
            "subtext",
            "vibe",
        }
        stored = await project_of(client, user, project["id"])
        assert (stored["subtext"], stored["vibe"]) == (None, "dramatic")


class TestNothingChanges:
    async def test_a_no_op_direction_starts_no_job_and_charges_nothing(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user, background_color="#ff0000", **BASE)
        chat = await new_chat(client, user, project_id=project["id"])

        for content in (
            "make the background red",  # already red
            "make the person bigger",  # not something the studio can do
            "hello!",
            "remove the background",
        ):
            exchange = await say(client, user, chat, content, generate=True)
            assert exchange["job"] is None, content
            assert exchange["message"]["job_id"] is None
            assert exchange["message"]["edits"]["applied"] == []
            assert "no credits were charged" in exchange["reply"]["content"]

        assert await assert_ledger_matches(app, user) == 10
        jobs = await client.get(f"{API}/jobs?include_total=true", headers=user.headers)
        assert jobs.json()["total"] == 0
        last = (
            await client.get(f"{API}/chat/{chat['chat_id']}/messages", headers=user.headers)
        ).json()
        items = last["items"] if isinstance(last, dict) else last
        assert items[0]["edits"]["unchanged"] == ["The background is already red (#ff0000)."]
        assert items[-2]["edits"]["not_understood"] == ["remove the background"]
        assert items[-1]["edits"] is None  # the reply

    async def test_another_variant_without_generate_renders_nothing(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user, **BASE)
        chat = await new_chat(client, user, project_id=project["id"])

        exchange = await say(client, user, chat, "another variant")

        assert exchange["job"] is None
        edits = exchange["message"]["edits"]
        assert edits["applied"] == []
        assert edits["unchanged"] == ["Another variant renders when sent with generate on."]
        assert await balance(client, user) == 10

    async def test_the_reply_says_what_it_did_not_understand(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user, **BASE)
        chat = await new_chat(client, user, project_id=project["id"])

        exchange = await say(
            client, user, chat, "make the background teal and make me look shocked"
        )

        reply = exchange["reply"]["content"]
        assert "background → teal (#008080)" in reply
        assert "Not understood: “make me look shocked”" in reply
        assert "I understand:" in reply

    async def test_a_chat_without_a_project_changes_nothing(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        chat = await new_chat(client, user)

        exchange = await say(client, user, chat, "make the background red")

        assert exchange["message"]["edits"]["applied"] == []
        assert "not attached to a project" in exchange["reply"]["content"]


class TestJobPrompt:
    async def test_the_studio_follows_the_prompt_without_changing_the_project(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user, **BASE)

        response = await client.post(
            f"{API}/jobs",
            json={
                "project_id": project["id"],
                "prompt": 'headline "PROMPTED" on a gold background',
            },
            headers=user.headers,
        )

        assert response.status_code == 202, response.text
        job = await wait_for_job(client, app, user, response.json()["id"])
        assert job["instruction"] == 'headline "PROMPTED" on a gold background'
        png = await render_of(client, job)
        assert png == delivered(
            render_thumbnail(
                studio_brief(headline="PROMPTED", background_color="#ffd700"),
                seed=job["id"],
                variant=0,
            )
        )
        stored = await project_of(client, user, project["id"])
        assert (stored["headline"], stored["background_color"]) == (BASE["headline"], None)

    async def test_a_prompt_is_bounded(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        project = await create_project(client, user)
        response = await client.post(
            f"{API}/jobs",
            json={"project_id": project["id"], "prompt": "x" * 2001},
            headers=user.headers,
        )
        assert response.status_code == 422
        assert await balance(client, user) == 10


class TestProjectStyleFields:
    async def test_set_and_cleared_through_the_project_api(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(
            client, user, background_color="Navy Blue", accent_color="#F80", person_side="right"
        )
        assert (project["background_color"], project["accent_color"]) == ("#1b2a5c", "#ff8800")
        assert (project["headline_scale"], project["person_side"]) == (1.0, "right")
        response = await client.patch(
            f"{API}/projects/{project['id']}",
            json={"background_color": None, "headline_scale": 1.5},
            headers=user.headers,
        )
        assert response.status_code == 200, response.text
        assert (response.json()["background_color"], response.json()["headline_scale"]) == (
            None,
            1.5,
        )

    async def test_bad_style_values_are_422(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        project = await create_project(client, user)
        for body in (
            {"background_color": "bluish"},
            {"headline_scale": 3},
            {"headline_scale": None},
            {"person_side": "top"},
        ):
            response = await client.patch(
                f"{API}/projects/{project['id']}", json=body, headers=user.headers
            )
            assert response.status_code == 422, body

    async def test_another_users_chat_cannot_edit_a_project(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        owner = await create_user(app)
        stranger = await create_user(app)
        project = await create_project(client, owner, **BASE)
        chat = await new_chat(client, owner, project_id=project["id"])
        response = await client.post(
            f"{API}/chat/{chat['chat_id']}/messages",
            json={"content": "make the background red", "generate": True},
            headers=stranger.headers,
        )
        assert_error(response, 404, "not_found")
        assert (await project_of(client, owner, project["id"]))["background_color"] is None


class TestConcurrentDirections:
    async def test_relative_edits_from_two_tabs_both_count(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user, **BASE)
        chat = await new_chat(client, user, project_id=project["id"])

        responses = await asyncio.gather(
            *(
                client.post(
                    f"{API}/chat/{chat['chat_id']}/messages",
                    json={"content": "make the headline bigger"},
                    headers=user.headers,
                )
                for _ in range(3)
            )
        )

        assert [response.status_code for response in responses] == [201, 201, 201]
        # Each message saw the one before it: three steps, no lost update.
        scales = sorted(
            response.json().get("message", response.json())["edits"]["applied"][0]["value"]
            for response in responses
        )
        assert scales[0] == 1.25
        assert scales[0] < scales[1] < scales[2]
        stored = await project_of(client, user, project["id"])
        assert stored["headline_scale"] == scales[2]
        assert abs(stored["headline_scale"] - 1.25**3) < 0.01
