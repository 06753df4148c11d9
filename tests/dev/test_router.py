"""`GET /dev/outbox`: the outbox's mails on development servers, and nowhere else."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import http_client, make_settings, running_app
from tests.factories import API, signup

OUTBOX = f"{API}/dev/outbox"


class TestListing:
    async def test_the_confirmation_mail_is_listed_with_its_link(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        person = await signup(client)
        response = await client.get(OUTBOX, params={"to": person["email"]})
        assert response.status_code == 200
        [mail] = response.json()
        assert mail["to"] == person["email"].lower()
        assert mail["subject"] == "Confirm your MugShot Studio account"
        [link] = [url for url in mail["links"] if "/confirm-email?token=" in url]
        assert link.startswith(app.state.ports.settings.frontend_url + "/confirm-email?")
        assert link in mail["text"]
        assert mail["sent_at"].endswith(("Z", "+00:00"))

        confirmed = await client.post(
            f"{API}/auth/confirm", json={"token": link.split("token=", 1)[1]}
        )
        assert confirmed.status_code == 200

    async def test_newest_first_and_only_to_the_address_asked_for(self, client: httpx.AsyncClient):
        first = await signup(client)
        second = await signup(client)
        resent = await client.post(
            f"{API}/auth/resend-confirmation", json={"email": first["email"]}
        )
        assert resent.status_code == 200

        mine = (await client.get(OUTBOX, params={"to": first["email"].upper()})).json()
        assert [mail["to"] for mail in mine] == [first["email"].lower()] * 2
        assert mine[0]["sent_at"] >= mine[1]["sent_at"]
        everyone = (await client.get(OUTBOX, params={"limit": 2})).json()
        assert [mail["to"] for mail in everyone] == [first["email"], second["email"]]

    async def test_an_empty_outbox_is_an_empty_list(self, client: httpx.AsyncClient):
        response = await client.get(OUTBOX, params={"to": "nobody@example.com"})
        assert (response.status_code, response.json()) == (200, [])

    @pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 51}, {"to": "x" * 321}])
    async def test_bad_parameters_are_refused(self, client: httpx.AsyncClient, params: dict):
        response = await client.get(OUTBOX, params=params)
        assert response.status_code == 422
        assert isinstance(response.json()["detail"], list)


class TestAbsentWhereItMustNotExist:
    async def test_production_has_no_outbox_route(self, sqlite_database: str, tmp_path: Path):
        # Production on the outbox mailer (no SMTP_HOST) still must not publish mails.
        settings = make_settings(
            database_url=sqlite_database,
            data_dir=tmp_path / "prod",
            environment="production",
            allow_ephemeral_kv=True,
        )
        async with running_app(settings) as application, http_client(application) as client:
            response = await client.get(OUTBOX)
            assert response.status_code == 404
            assert response.json()["code"] == "not_found"
            assert f"{API}/dev/outbox" not in application.openapi()["paths"]

    async def test_smtp_mail_has_no_outbox_route(self, sqlite_database: str, tmp_path: Path):
        settings = make_settings(
            database_url=sqlite_database, data_dir=tmp_path / "smtp", smtp_host="127.0.0.1"
        )
        async with running_app(settings) as application, http_client(application) as client:
            assert (await client.get(OUTBOX)).status_code == 404
