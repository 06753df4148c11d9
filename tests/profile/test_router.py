"""The caller's own profile: read, edit, delete."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from app.models import CreditTransaction
from tests.auth.test_router import assert_error
from tests.factories import API, create_user


class TestReadAndEdit:
    async def test_get_profile(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app, full_name="Ada Lovelace")
        response = await client.get(f"{API}/profile", headers=user.headers)
        assert response.status_code == 200
        assert response.json()["full_name"] == "Ada Lovelace"
        assert response.json()["username"] == user.username

    async def test_patch_changes_only_the_fields_sent(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app, full_name="Before")
        response = await client.patch(
            f"{API}/profile",
            headers=user.headers,
            json={"bio": "  I make videos about bread.  ", "username": "Bread_Maker"},
        )
        assert response.status_code == 200
        body = response.json()
        assert body["bio"] == "I make videos about bread."
        assert body["username"] == "bread_maker"
        assert body["full_name"] == "Before"
        cleared = await client.patch(f"{API}/profile", headers=user.headers, json={"bio": None})
        assert cleared.json()["bio"] is None

    async def test_taken_username_is_409(self, client: httpx.AsyncClient, app: FastAPI):
        alice = await create_user(app)
        bob = await create_user(app)
        response = await client.patch(
            f"{API}/profile", headers=bob.headers, json={"username": alice.username.upper()}
        )
        assert_error(response, 409, "username_taken")

    async def test_bad_input_is_422_and_changes_nothing(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app, full_name="Stays")
        for body in ({"username": "x"}, {"dob": "2100-01-01"}, {"bio": "b" * 501}):
            response = await client.patch(f"{API}/profile", headers=user.headers, json=body)
            assert response.status_code == 422, body
        empty_name = await client.patch(
            f"{API}/profile", headers=user.headers, json={"full_name": None}
        )
        assert empty_name.status_code == 422
        profile = (await client.get(f"{API}/profile", headers=user.headers)).json()
        assert profile["full_name"] == "Stays"

    async def test_needs_a_token(self, client: httpx.AsyncClient):
        assert (await client.get(f"{API}/profile")).status_code == 401


class TestDelete:
    async def test_deletes_the_account_rows_and_sessions(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        other = await create_user(app)
        response = await client.request(
            "DELETE", f"{API}/profile", headers=user.headers, json={"password": user.password}
        )
        assert response.status_code == 204
        assert (await client.get(f"{API}/auth/me", headers=user.headers)).status_code == 401
        signin = await client.post(
            f"{API}/auth/signin", json={"email": user.email, "password": user.password}
        )
        assert signin.status_code == 401
        start = await client.post(f"{API}/auth/start", json={"email": user.email})
        assert start.json()["exists"] is False
        async with app.state.ports.database.sessionmaker() as session:
            rows = await session.scalar(select(func.count()).select_from(CreditTransaction))
        assert rows == 1  # only the other person's welcome credits remain
        assert (await client.get(f"{API}/auth/me", headers=other.headers)).status_code == 200

    async def test_wrong_password_deletes_nothing(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        response = await client.request(
            "DELETE", f"{API}/profile", headers=user.headers, json={"password": "not mine!"}
        )
        assert_error(response, 400, "wrong_password")
        assert (await client.get(f"{API}/auth/me", headers=user.headers)).status_code == 200
