"""Chats over HTTP: sessions, messages in order, and messages that start a render."""

from __future__ import annotations

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
        messages = await client.get(
            f"{API}/chat/{chat['chat_id']}/messages?include_total=true", headers=owner.headers
        )
        assert messages.json()["total"] == 0


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
            exchange = response.json()
            assert exchange["job"] is None
            assert exchange["reply"]["sender"] == "ai"
            assert exchange["reply"]["content"]
        page = (
            await client.get(
                f"{API}/chat/{chat['chat_id']}/messages?include_total=true", headers=user.headers
            )
        ).json()
        assert page["total"] == 4
        assert [(m["sender"], m["content"][:6]) for m in page["items"]][::2] == [
            ("user", "first "),
            ("user", "second"),
        ]
        assert [m["sender"] for m in page["items"]] == ["user", "ai", "user", "ai"]

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
        exchange = response.json()
        job_id = exchange["job"]["id"]
        assert exchange["job"]["cost_credits"] == 2
        assert job_id in exchange["reply"]["content"]
        assert "2 credits" in exchange["reply"]["content"]
        assert exchange["message"]["job_id"] == job_id
        assert 'headline → "Big News Today"' in exchange["reply"]["content"]
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
        page = (
            await client.get(
                f"{API}/chat/{chat['chat_id']}/messages?include_total=true", headers=user.headers
            )
        ).json()
        # The refused message was not stored: all or nothing.
        assert page["total"] == 4

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
