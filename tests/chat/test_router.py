"""Chats over HTTP: sessions, messages in order, and messages that start a render."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.auth.test_router import assert_error
from tests.factories import API, TestUser, balance, create_project, create_user, wait_for_job


async def new_chat(client: httpx.AsyncClient, user: TestUser, **body: object) -> dict[str, object]:
    response = await client.post(f"{API}/chat/new", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    chat: dict[str, object] = response.json()
    return chat


async def messages(
    client: httpx.AsyncClient, user: TestUser, chat_id: object, **params: str | int
) -> tuple[list[dict[str, Any]], httpx.Headers]:
    """One page of a chat's messages: a plain array, with the page in the headers."""
    response = await client.get(
        f"{API}/chat/{chat_id}/messages", params=params, headers=user.headers
    )
    assert response.status_code == 200, response.text
    items = response.json()
    assert isinstance(items, list)
    return items, response.headers


class TestChats:
    async def test_new_chat_has_a_frontend_url(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        project = await create_project(client, user, headline="Banana bread")
        chat = await new_chat(client, user, project_id=project["id"])
        assert chat["url"] == f"http://frontend.test/c/{chat['chat_id']}"
        assert chat["session_name"] == "Banana bread"
        named = await new_chat(client, user, session_name="Ideas")
        assert named["project_id"] is None
        listed = (await client.get(f"{API}/chat?include_total=true", headers=user.headers)).json()
        assert listed["total"] == 2
        one = await client.get(f"{API}/chat/{chat['chat_id']}", headers=user.headers)
        assert one.json()["project_id"] == project["id"]

    async def test_the_body_is_optional(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        bodies: list[dict[str, Any]] = [{}, {"content": b""}, {"json": {}}, {"json": None}]
        for body in bodies:
            response = await client.post(f"{API}/chat/new", headers=user.headers, **body)
            assert response.status_code == 201, (body, response.text)
            chat = response.json()
            assert chat["session_name"] == "New chat"
            assert chat["project_id"] is None
        response = await client.post(f"{API}/chat/new")
        assert_error(response, 401, "not_authenticated")

    async def test_bad_input(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        stranger = await create_user(app)
        their_project = await create_project(client, stranger)
        response = await client.post(
            f"{API}/chat/new", json={"project_id": their_project["id"]}, headers=user.headers
        )
        assert_error(response, 404, "not_found")
        response = await client.post(
            f"{API}/chat/new", json={"session_name": "x" * 121}, headers=user.headers
        )
        assert response.status_code == 422

    async def test_another_users_chat_is_404(self, client: httpx.AsyncClient, app: FastAPI):
        owner = await create_user(app)
        stranger = await create_user(app)
        chat = await new_chat(client, owner)
        for method, suffix, body in [
            ("GET", "", None),
            ("GET", "/messages", None),
            ("POST", "/messages", {"content": "hello", "sender": "user"}),
        ]:
            response = await client.request(
                method, f"{API}/chat/{chat['chat_id']}{suffix}", json=body, headers=stranger.headers
            )
            assert_error(response, 404, "not_found")
        items, headers = await messages(client, owner, chat["chat_id"], include_total="true")
        assert items == []
        assert headers["X-Total-Count"] == "0"


class TestMessages:
    async def test_messages_come_back_oldest_first_with_replies(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        chat = await new_chat(client, user)
        for text in ("first idea", "second idea"):
            response = await client.post(
                f"{API}/chat/{chat['chat_id']}/messages",
                json={"content": text, "sender": "user"},
                headers=user.headers,
            )
            assert response.status_code == 201
            posted = response.json()
            # The message object itself, with the reply and the job beside its fields.
            assert posted["sender"] == "user"
            assert posted["content"] == text
            assert posted["chat_id"] == chat["chat_id"]
            assert posted["job_id"] is None
            assert posted["job"] is None
            assert posted["reply"]["sender"] == "ai"
            assert posted["reply"]["content"]
        items, headers = await messages(client, user, chat["chat_id"], include_total="true")
        assert headers["X-Total-Count"] == "4"
        assert "Link" not in headers
        assert [(m["sender"], m["content"][:6]) for m in items][::2] == [
            ("user", "first "),
            ("user", "second"),
        ]
        assert [m["sender"] for m in items] == ["user", "ai", "user", "ai"]
        assert items[2]["id"] == posted["id"]
        assert items[3]["id"] == posted["reply"]["id"]
        assert set(items[0]) == {
            "id",
            "chat_id",
            "sender",
            "content",
            "job_id",
            "edits",
            "created_at",
        }

    async def test_pages_follow_the_link_header(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        chat = await new_chat(client, user)
        for index in range(3):
            response = await client.post(
                f"{API}/chat/{chat['chat_id']}/messages",
                json={"content": f"idea {index}"},
                headers=user.headers,
            )
            assert response.status_code == 201
        items, headers = await messages(client, user, chat["chat_id"], limit=4)
        assert len(items) == 4
        # The total is opt-in: counting scans every message of the chat.
        assert "X-Total-Count" not in headers
        link = headers["Link"]
        assert link.endswith('>; rel="next"')
        target = httpx.URL(link[1 : link.index(">")])
        assert target.path == f"{API}/chat/{chat['chat_id']}/messages"
        assert target.params["cursor"] == headers["X-Next-Cursor"]
        assert target.params["limit"] == "4"
        following = await client.get(target, headers={**user.headers, "Host": "evil.example"})
        assert following.status_code == 200
        rest = following.json()
        assert [m["content"] for m in items + rest][::2] == ["idea 0", "idea 1", "idea 2"]
        assert len(rest) == 2
        assert "Link" not in following.headers
        assert "evil.example" not in link

    async def test_a_cursor_that_was_not_handed_out_is_422(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        chat = await new_chat(client, user)
        response = await client.get(
            f"{API}/chat/{chat['chat_id']}/messages?cursor=nonsense", headers=user.headers
        )
        assert_error(response, 422, "invalid_cursor")
        response = await client.get(
            f"{API}/chat/{chat['chat_id']}/messages?limit=0", headers=user.headers
        )
        assert response.status_code == 422

    async def test_generate_starts_a_job_with_what_was_not_understood_as_instruction(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user, headline="Old headline")
        chat = await new_chat(client, user, project_id=project["id"])
        content = 'Make it punchier, use "Big News Today" as the headline'
        response = await client.post(
            f"{API}/chat/{chat['chat_id']}/messages",
            json={"content": content, "sender": "user", "generate": True, "variants": 2},
            headers=user.headers,
        )
        assert response.status_code == 201, response.text
        posted = response.json()
        job_id = posted["job"]["id"]
        assert posted["job"]["cost_credits"] == 2
        assert job_id in posted["reply"]["content"]
        assert "2 credits" in posted["reply"]["content"]
        assert posted["job_id"] == job_id
        assert posted["reply"]["job_id"] == job_id
        assert 'headline → "Big News Today"' in posted["reply"]["content"]
        assert posted["edits"]["applied"], posted["edits"]
        job = await wait_for_job(client, app, user, job_id)
        assert job["status"] == "succeeded"
        # The headline is the project's now; the rest reaches a cloud model as a note.
        assert job["instruction"] == "Make it punchier"
        project = (await client.get(f"{API}/projects/{project['id']}", headers=user.headers)).json()
        assert project["headline"] == "Big News Today"
        assert await balance(client, user) == 8

    async def test_generate_needs_a_project_and_credits(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        loose = await new_chat(client, user)
        response = await client.post(
            f"{API}/chat/{loose['chat_id']}/messages",
            json={"content": "render it", "generate": True},
            headers=user.headers,
        )
        assert_error(response, 422, "chat_has_no_project")
        project = await create_project(client, user)
        chat = await new_chat(client, user, project_id=project["id"])
        for _ in range(2):
            await client.post(
                f"{API}/chat/{chat['chat_id']}/messages",
                json={"content": "go", "generate": True, "quality": "4k", "variants": 2},
                headers=user.headers,
            )
        await app.state.ports.dispatcher.drain()
        broke = await client.post(
            f"{API}/chat/{chat['chat_id']}/messages",
            json={"content": "once more", "generate": True, "quality": "4k", "variants": 2},
            headers=user.headers,
        )
        assert_error(broke, 402, "insufficient_credits")
        assert (broke.json()["cost_credits"], broke.json()["balance"]) == (4, 2)
        _, headers = await messages(client, user, chat["chat_id"], include_total="true")
        # The refused message was not stored: all or nothing.
        assert headers["X-Total-Count"] == "4"

    @pytest.mark.parametrize(
        "body",
        [
            {"content": "", "sender": "user"},
            {"content": "x" * 4001, "sender": "user"},
            {"content": "hi", "sender": "ai"},
            {"content": "hi", "sender": "system"},
            {"sender": "user"},
        ],
    )
    async def test_bad_messages_are_422(
        self, client: httpx.AsyncClient, app: FastAPI, body: dict[str, object]
    ):
        user = await create_user(app)
        chat = await new_chat(client, user)
        response = await client.post(
            f"{API}/chat/{chat['chat_id']}/messages", json=body, headers=user.headers
        )
        assert response.status_code == 422
