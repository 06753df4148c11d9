"""Every path answers with and without a trailing slash, directly; root docs lead to the API."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests.auth.test_router import assert_error
from tests.factories import API, TestUser, create_project

# These would end the session the test uses (tests/auth and tests/profile cover them); the
# internal routes are signed deliveries.
ENDS_THE_SESSION = {
    ("POST", f"{API}/auth/logout"),
    ("DELETE", f"{API}/auth/sessions"),
    ("DELETE", f"{API}/profile"),
}


def operations(app: FastAPI) -> list[tuple[str, str]]:
    schema = app.openapi()
    return [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "patch", "delete", "put"}
    ]


def concrete(path: str) -> str:
    """A documented path with a random id for each parameter (nobody's, so 404 at most)."""
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


def collections(app: FastAPI) -> set[str]:
    """Paths that end in a collection: no parameter at their end."""
    return {path for _, path in operations(app) if not path.endswith("}")}


class TestTrailingSlash:
    async def test_every_operation_answers_the_same_with_a_slash(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        assert not client.follow_redirects
        for method, path in operations(app):
            if path.startswith(f"{API}/internal/") or (method, path) in ENDS_THE_SESSION:
                continue
            url = concrete(path)
            if "{bucket}" in path:
                url = f"{API}/files/user_assets/nobody.png"
            bare = await client.request(method, url, headers=user.headers)
            slashed = await client.request(method, url + "/", headers=user.headers)
            assert slashed.status_code == bare.status_code, (method, path, slashed.text)
            assert not 300 <= slashed.status_code < 400, (method, path)
            assert "location" not in slashed.headers

    async def test_collections_are_served_directly(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        assert f"{API}/projects" in collections(app)
        created = await client.post(
            f"{API}/projects/", json={"platform": "youtube"}, headers=user.headers
        )
        assert created.status_code == 201, created.text
        project_id = created.json()["id"]
        job = await client.post(
            f"{API}/jobs/", json={"project_id": project_id}, headers=user.headers
        )
        assert job.status_code == 202, job.text
        await app.state.ports.dispatcher.drain()
        chat = await client.post(f"{API}/chat/new/", headers=user.headers)
        assert chat.status_code == 201, chat.text
        sent = await client.post(
            f"{API}/chat/{chat.json()['id']}/messages/",
            json={"content": "hi"},
            headers=user.headers,
        )
        assert sent.status_code == 201, sent.text
        for path in (
            f"{API}/projects/",
            f"{API}/jobs/",
            f"{API}/chat/",
            f"{API}/assets/",
            f"{API}/credits/transactions/",
            f"{API}/credits/orders/",
            f"{API}/projects/{project_id}/jobs/",
            f"{API}/chat/{chat.json()['id']}/messages/",
            f"{API}/auth/sessions/",
            f"{API}/models/",
        ):
            response = await client.get(path, headers=user.headers)
            assert response.status_code == 200, (path, response.text)
            assert response.json(), path

    async def test_bad_input_and_another_users_ids_keep_their_answers(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser, other: TestUser
    ):
        response = await client.post(f"{API}/projects/", json={"width": 1}, headers=user.headers)
        assert response.status_code == 422
        response = await client.post(f"{API}/projects/", json={"platform": "youtube"})
        assert_error(response, 401, "not_authenticated")
        theirs = await create_project(client, other)
        response = await client.get(f"{API}/projects/{theirs['id']}/", headers=user.headers)
        assert_error(response, 404, "not_found")
        response = await client.post(
            f"{API}/jobs/", json={"project_id": theirs["id"]}, headers=user.headers
        )
        assert_error(response, 404, "not_found")

    async def test_a_double_slash_is_not_a_second_spelling(
        self, client: httpx.AsyncClient, user: TestUser
    ):
        response = await client.get(f"{API}/projects//", headers=user.headers)
        assert_error(response, 404, "not_found")

    def test_the_schema_lists_each_path_once(self, app: FastAPI):
        paths = list(app.openapi()["paths"])
        assert not [path for path in paths if path.endswith("/")]
        assert len(paths) == len(set(paths))


class TestDocs:
    @pytest.mark.parametrize(("path", "target"), [("/docs", "docs"), ("/redoc/", "redoc")])
    async def test_root_docs_lead_to_the_api_docs(
        self, client: httpx.AsyncClient, path: str, target: str
    ):
        response = await client.get(path, headers={"Host": "evil.example"})
        assert response.status_code == 307
        assert response.headers["location"] == f"{API}/{target}"
        page = await client.get(response.headers["location"])
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]

    async def test_only_get_is_redirected(self, client: httpx.AsyncClient):
        response = await client.post("/docs?target=https://evil.example")
        assert response.status_code == 405
