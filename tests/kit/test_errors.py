"""Errors the framework sends on any route: 405 with every allowed method, and their schema."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import API, TestUser


class TestMethodNotAllowed:
    @pytest.mark.parametrize(
        ("method", "path", "allowed"),
        [
            ("OPTIONS", f"{API}/profile", {"GET", "PATCH", "DELETE"}),
            ("PUT", f"{API}/auth/sessions", {"GET", "DELETE"}),
            # Literal paths beside an id route: not taken for a malformed id.
            ("GET", f"{API}/chat/new", {"POST"}),
            ("GET", f"{API}/assets/upload", {"POST"}),
            ("DELETE", f"{API}/assets/upload", {"POST"}),
        ],
    )
    async def test_allow_names_every_method_of_the_path(
        self, client: httpx.AsyncClient, user: TestUser, method: str, path: str, allowed: set[str]
    ):
        response = await client.request(method, path, headers=user.headers)
        assert response.status_code == 405
        assert response.json()["code"] == "method_not_allowed"
        methods = {name.strip() for name in response.headers["allow"].split(",")}
        assert allowed <= methods
        assert method not in methods


class TestSchema:
    @pytest.fixture
    async def schema(self, client: httpx.AsyncClient) -> dict:
        response = await client.get(f"{API}/openapi.json")
        assert response.status_code == 200
        document: dict = response.json()
        return document

    async def test_a_422_of_the_api_is_declared_beside_fastapis_list(self, schema: dict):
        declared = schema["paths"][f"{API}/jobs"]["post"]["responses"]["422"]
        refs = declared["content"]["application/json"]["schema"]["anyOf"]
        # Model errors name the models one may pick instead, beside the shared fields.
        assert {ref["$ref"].rsplit("/", 1)[1] for ref in refs} == {
            "ErrorBody",
            "ModelChoicesError",
            "HTTPValidationError",
        }
        assert {"ErrorBody", "HTTPValidationError", "ValidationError"} <= set(
            schema["components"]["schemas"]
        )

    async def test_errors_with_fields_extend_the_shared_body(self, schema: dict):
        components = schema["components"]["schemas"]
        for name, fields in [
            ("ModelChoicesError", {"known_models", "available_models"}),
            ("CreditShortfallError", {"cost_credits", "balance"}),
        ]:
            shared, own = components[name]["allOf"]
            assert shared == {"$ref": "#/components/schemas/ErrorBody"}
            assert set(own["properties"]) == fields
        declared = schema["paths"][f"{API}/jobs"]["post"]["responses"]["402"]
        assert declared["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/CreditShortfallError"
        }

    async def test_errors_of_the_event_stream_are_json(self, schema: dict):
        responses = schema["paths"][f"{API}/jobs/{{job_id}}/events"]["get"]["responses"]
        assert set(responses["200"]["content"]) == {"text/event-stream"}
        for status in ("401", "404", "422"):
            assert set(responses[status]["content"]) == {"application/json"}

    async def test_every_route_with_a_body_declares_an_unreadable_one(self, schema: dict):
        for path_item in schema["paths"].values():
            for operation in path_item.values():
                if "requestBody" in operation:
                    assert "400" in operation["responses"], operation["operationId"]

    async def test_rules_of_the_models_are_in_the_schema(self, schema: dict):
        components = schema["components"]["schemas"]
        username = components["SignupRequest"]["properties"]["username"]
        assert "pattern" in username
        assert "studio" in components["JobCreate"]["properties"]["model"]["anyOf"][0]["enum"]
        # Fields an update may leave out but never clear.
        assert components["ProjectUpdate"]["properties"]["mode"] == {
            "enum": ["design", "copy"],
            "title": "Mode",
            "type": "string",
        }
        offset = next(
            parameter
            for parameter in schema["paths"][f"{API}/projects"]["get"]["parameters"]
            if parameter["name"] == "offset"
        )
        assert offset["schema"]["maximum"] == 2**63 - 1


class TestRulesTheSchemaStates:
    async def test_an_offset_sql_cannot_hold_is_422(
        self, client: httpx.AsyncClient, user: TestUser
    ):
        response = await client.get(f"{API}/chat?offset={2**63}", headers=user.headers)
        assert response.status_code == 422

    async def test_a_date_of_birth_is_a_date_not_a_number(
        self, client: httpx.AsyncClient, user: TestUser
    ):
        response = await client.patch(f"{API}/profile", json={"dob": 0}, headers=user.headers)
        assert response.status_code == 422

    async def test_null_for_a_field_that_cannot_be_cleared_is_422(
        self, client: httpx.AsyncClient, user: TestUser
    ):
        response = await client.patch(
            f"{API}/profile", json={"username": None}, headers=user.headers
        )
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_request"
