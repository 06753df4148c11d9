"""Passwords hashed with argon2id at the cost production runs on, and the factory's accounts."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from argon2 import extract_parameters
from fastapi import FastAPI

from app.auth import repository
from app.config import Settings
from app.kit.db import transaction
from app.main import create_app
from tests.conftest import http_client, make_settings, running_app
from tests.factories import API, create_user, sign_up_through_api

PRODUCTION_COST = {
    name: Settings.model_fields[name].default
    for name in ("password_hash_time_cost", "password_hash_memory_kib", "password_hash_parallelism")
}


async def stored_hash(app: FastAPI, user_id: str) -> str:
    async with transaction(app.state.ports.database.read_sessionmaker) as session:
        user = await repository.get_user(session, uuid.UUID(user_id))
    assert user is not None
    assert user.password_hash
    return user.password_hash


class TestProductionParameters:
    """The whole password path on the default parameters, which the rest of the suite lowers."""

    async def test_sign_up_sign_in_and_change_password(self, database_url: str, tmp_path: Path):
        settings = make_settings(database_url=database_url, data_dir=tmp_path, **PRODUCTION_COST)
        async with running_app(settings) as app, http_client(app) as client:
            user = await sign_up_through_api(client, app)
            parameters = extract_parameters(await stored_hash(app, user.id))
            assert (parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (
                3,
                64 * 1024,
                4,
            )

            wrong = await client.post(
                f"{API}/auth/signin", json={"email": user.email, "password": "not the password"}
            )
            assert wrong.status_code == 401
            unknown = await client.post(
                f"{API}/auth/signin", json={"email": "ghost@example.com", "password": "whatever1"}
            )
            assert unknown.status_code == 401

            changed = await client.post(
                f"{API}/auth/change-password",
                json={
                    "current_password": user.password,
                    "new_password": "a brand new passphrase",
                    "confirm_password": "a brand new passphrase",
                },
                headers=user.headers,
            )
            assert changed.status_code == 200, changed.text
            assert extract_parameters(await stored_hash(app, user.id)).memory_cost == 64 * 1024
            signin = await client.post(
                f"{API}/auth/signin",
                json={"email": user.email, "password": "a brand new passphrase"},
            )
            assert signin.status_code == 200


class TestCheapParameters:
    async def test_a_hash_made_cheaply_still_verifies_under_the_production_cost(
        self, database_url: str, tmp_path: Path
    ):
        # Hashes keep the parameters they were made with, so changing the cost locks no one out.
        cheap = make_settings(database_url=database_url, data_dir=tmp_path)
        async with running_app(cheap) as app:
            user = await create_user(app)
            assert extract_parameters(await stored_hash(app, user.id)).memory_cost == 8
            # The same database, now served on the production cost.
            expensive = make_settings(
                database_url=database_url, data_dir=tmp_path, **PRODUCTION_COST
            )
            production_app = create_app(expensive)
            try:
                async with http_client(production_app) as client:
                    signin = await client.post(
                        f"{API}/auth/signin", json={"email": user.email, "password": user.password}
                    )
                    assert signin.status_code == 200, signin.text
            finally:
                await production_app.state.ports.close()


class TestFactory:
    async def test_makes_the_same_account_as_signing_up_over_http(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        made = await create_user(app)
        signed_up = await sign_up_through_api(client, app)
        mine = (await client.get(f"{API}/auth/me", headers=made.headers)).json()
        theirs = (await client.get(f"{API}/auth/me", headers=signed_up.headers)).json()
        different = {"id", "email", "username", "created_at"}
        assert {k: v for k, v in mine.items() if k not in different} == {
            k: v for k, v in theirs.items() if k not in different
        }
        assert mine["email_confirmed"] is True
        refreshed = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": made.refresh_token}
        )
        assert refreshed.status_code == 200
        signin = await client.post(
            f"{API}/auth/signin", json={"email": made.email, "password": made.password}
        )
        assert signin.status_code == 200
