"""Every request body in the OpenAPI schema shows an example, and the examples are accepted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from tests.conftest import make_settings
from tests.factories import API, TestUser, create_project


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    app = create_app(
        make_settings(database_url="sqlite+aiosqlite:///:memory:", data_dir=Path("unused"))
    )
    document: dict[str, Any] = app.openapi()
    return document


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema and, through `$ref` and `anyOf`, every schema it may be."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return resolve(document, document["components"]["schemas"][name])
    found = [schema]
    for option in schema.get("anyOf", []):
        found += resolve(document, option)
    return found


def examples_of(document: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    found: list[Any] = []
    if "example" in media:
        found.append(media["example"])
    found += [example["value"] for example in media.get("examples", {}).values()]
    for schema in resolve(document, media.get("schema", {})):
        if "example" in schema:
            found.append(schema["example"])
        found += schema.get("examples", [])
    return found


def request_bodies(document: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, media_type, media)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
        for media_type, media in operation["requestBody"]["content"].items()
    ]


class TestExamples:
    def test_every_request_body_has_an_example(self, schema: dict[str, Any]):
        bodies = request_bodies(schema)
        assert len(bodies) >= 20
        missing = [
            f"{method} {path} ({media_type})"
            for method, path, media_type, media in bodies
            if not examples_of(schema, media)
        ]
        assert not missing, (
            "add an example (`body_examples` in the model's json_schema_extra, or "
            f"`example=` of multipart_openapi) to: {missing}"
        )

    def test_json_examples_carry_only_fields_of_their_model(self, schema: dict[str, Any]):
        for method, path, media_type, media in request_bodies(schema):
            if media_type != "application/json":
                continue
            properties: set[str] = set()
            for option in resolve(schema, media["schema"]):
                properties |= set(option.get("properties", {}))
            for example in examples_of(schema, media):
                assert set(example) <= properties, (method, path, example)

    async def test_the_examples_of_the_main_flow_are_accepted(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        document = app.openapi()
        bodies = {(method, path): media for method, path, _, media in request_bodies(document)}
        project = await create_project(client, user)

        def example(method: str, path: str, **ids: str) -> dict[str, Any]:
            first: dict[str, Any] = examples_of(document, bodies[(method, path)])[0]
            return {**first, **{name: value for name, value in ids.items() if name in first}}

        project_body = example("POST", f"{API}/projects")
        project_body["selfie_asset_ids"] = []
        created = await client.post(f"{API}/projects", json=project_body, headers=user.headers)
        assert created.status_code == 201, created.text
        patched = await client.patch(
            f"{API}/projects/{project['id']}",
            json=example("PATCH", f"{API}/projects/{{project_id}}"),
            headers=user.headers,
        )
        assert patched.status_code == 200, patched.text
        job = await client.post(
            f"{API}/jobs",
            json=example("POST", f"{API}/jobs", project_id=project["id"]),
            headers=user.headers,
        )
        assert job.status_code == 202, job.text
        chat = await client.post(
            f"{API}/chat/new",
            json=example("POST", f"{API}/chat/new", project_id=project["id"]),
            headers=user.headers,
        )
        assert chat.status_code == 201, chat.text
        message = await client.post(
            f"{API}/chat/{chat.json()['id']}/messages",
            json=example("POST", f"{API}/chat/{{chat_id}}/messages"),
            headers=user.headers,
        )
        assert message.status_code == 201, message.text
        profile = await client.patch(
            f"{API}/profile", json=example("PATCH", f"{API}/profile"), headers=user.headers
        )
        assert profile.status_code == 200, profile.text
        purchase = await client.post(
            f"{API}/credits/purchase",
            json=example("POST", f"{API}/credits/purchase"),
            headers=user.headers,
        )
        assert purchase.status_code == 201, purchase.text
        await app.state.ports.dispatcher.drain()
