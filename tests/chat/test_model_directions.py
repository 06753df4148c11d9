"""Chat directions understood by the text model (google-genai against the wire-level Gemini
test server), and the parser taking over when the model fails, times out or answers badly."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.chat.test_directions_api import BASE, assert_ledger_matches, project_of, say
from tests.chat.test_router import new_chat
from tests.conftest import http_client, make_settings, running_app
from tests.factories import create_project, create_user, wait_for_job
from tests.support.gemini_server import GeminiServerHandle, gemini_server

GEMINI_KEY = "test-gemini-key"


@pytest.fixture(scope="module")
def gemini() -> Iterator[GeminiServerHandle]:
    with gemini_server(GEMINI_KEY) as handle:
        handle.state.slow_seconds = 3.0
        yield handle


@pytest.fixture
async def model_app(
    gemini: GeminiServerHandle, database_url: str, tmp_path: Path
) -> AsyncIterator[FastAPI]:
    gemini.reset()
    settings = make_settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        gemini_api_key=GEMINI_KEY,
        gemini_base_url=gemini.url,
        provider_timeout_seconds=1.0,
        provider_retry_seconds=0.0,
    )
    async with running_app(settings) as application:
        yield application


@pytest.fixture
async def model_client(model_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(model_app) as client:
        yield client


async def setup_chat(
    client: httpx.AsyncClient, app: FastAPI
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    user = await create_user(app)
    project = await create_project(client, user, **BASE)
    chat = await new_chat(client, user, project_id=project["id"])
    return user, project, chat


class TestModelUnderstands:
    async def test_the_models_edit_is_applied_and_rendered(
        self, model_client: httpx.AsyncClient, model_app: FastAPI, gemini: GeminiServerHandle
    ):
        user, project, chat = await setup_chat(model_client, model_app)
        # Wording the parser would not take: the model does.
        gemini.queue_json(
            {
                "headline": "I QUIT SUGAR",
                "background_color": "Forest Green",
                "headline_size": "much_bigger",
                "not_understood": ["make me look shocked"],
                "advice": "Keep the headline to four words.",
            }
        )

        exchange = await say(
            model_client,
            user,
            chat,
            "go with forest tones, scream I QUIT SUGAR, look shocked",
            generate=True,
        )

        edits = exchange["message"]["edits"]
        assert edits["source"] == "model"
        assert [(e["field"], e["value"]) for e in edits["applied"]] == [
            ("headline", "I QUIT SUGAR"),
            ("background_color", "#228b22"),
            ("headline_scale", 1.5),
        ]
        assert edits["not_understood"] == ["make me look shocked"]
        reply = exchange["reply"]["content"]
        assert "Keep the headline to four words." in reply
        assert "Not understood: “make me look shocked”" in reply
        stored = await project_of(model_client, user, project["id"])
        assert (stored["headline"], stored["background_color"]) == ("I QUIT SUGAR", "#228b22")
        job = await wait_for_job(model_client, model_app, user, exchange["job"]["id"])
        assert job["status"] == "succeeded"
        assert job["instruction"] == "make me look shocked"

        [received] = gemini.requests
        config = received.body["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert set(config["responseSchema"]["properties"]) >= {"headline", "background_color"}
        system = received.body["systemInstruction"]["parts"][0]["text"]
        assert 'headline "I tried this for 30 days"' in system
        assert received.texts[-1] == "go with forest tones, scream I QUIT SUGAR, look shocked"

    async def test_an_empty_answer_changes_nothing_and_charges_nothing(
        self, model_client: httpx.AsyncClient, model_app: FastAPI, gemini: GeminiServerHandle
    ):
        user, _, chat = await setup_chat(model_client, model_app)

        # No scripted answer: the server returns the schema's smallest instance (all null).
        exchange = await say(model_client, user, chat, "what a day", generate=True)

        assert exchange["job"] is None
        assert exchange["message"]["edits"] == {
            "applied": [],
            "unchanged": [],
            "not_understood": [],
            "source": "model",
        }
        assert await assert_ledger_matches(model_app, user) == 10


class TestFallback:
    @pytest.mark.parametrize("fault", ["server_error", "invalid_json", "slow", "prompt_blocked"])
    async def test_the_parser_takes_over(
        self,
        model_client: httpx.AsyncClient,
        model_app: FastAPI,
        gemini: GeminiServerHandle,
        fault: str,
    ):
        user, project, chat = await setup_chat(model_client, model_app)
        gemini.set_fault(fault)

        exchange = await say(
            model_client, user, chat, "make the background red and the headline bigger"
        )

        gemini.set_fault(None)
        edits = exchange["message"]["edits"]
        assert edits["source"] == "parser"
        assert [e["field"] for e in edits["applied"]] == ["background_color", "headline_scale"]
        stored = await project_of(model_client, user, project["id"])
        assert (stored["background_color"], stored["headline_scale"]) == ("#ff0000", 1.25)
        assert len(gemini.requests) == 1

    async def test_a_colour_the_model_names_that_no_table_knows_is_reported(
        self, model_client: httpx.AsyncClient, model_app: FastAPI, gemini: GeminiServerHandle
    ):
        user, project, chat = await setup_chat(model_client, model_app)
        gemini.queue_json({"background_color": "sunset over Lisbon", "vibe": "minimal"})

        exchange = await say(model_client, user, chat, "Lisbon sunset colours, calm")

        edits = exchange["message"]["edits"]
        assert edits["source"] == "model"
        assert [(e["field"], e["value"]) for e in edits["applied"]] == [("vibe", "minimal")]
        assert edits["not_understood"] == ["the colour 'sunset over Lisbon'"]
        assert (await project_of(model_client, user, project["id"]))["background_color"] is None
