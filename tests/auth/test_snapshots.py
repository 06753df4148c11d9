"""The caller's account served from its snapshot: every change to the row shows at once."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from app.auth import repository
from app.auth.snapshots import AccountSnapshots, CachedAccount, account_key
from app.credits import repository as credits_repository
from app.kit.db import transaction
from app.models import User
from tests.factories import API, TestUser


async def me(client: httpx.AsyncClient, user: TestUser) -> httpx.Response:
    return await client.get(f"{API}/auth/me", headers=user.headers)


async def snapshot_of(app: FastAPI, user: TestUser) -> str | None:
    value: str | None = await app.state.ports.kv.get(account_key(user.id))
    return value


class TestServedFromTheSnapshot:
    async def test_a_second_read_needs_no_database(
        self, app: FastAPI, client: httpx.AsyncClient, user: TestUser
    ):
        first = await me(client, user)
        assert first.status_code == 200
        assert (await snapshot_of(app, user) or "").startswith("{")
        # The row changes behind the app's back (no session of its database): the snapshot,
        # not the database, answers.
        async with app.state.ports.database.engine.begin() as connection:
            await connection.execute(
                update(User).where(User.id == uuid.UUID(user.id)).values(bio="unseen")
            )
        second = await me(client, user)
        assert second.json() == first.json()


class TestChangesShowAtOnce:
    async def test_profile_edit(self, client: httpx.AsyncClient, user: TestUser):
        assert (await me(client, user)).json()["bio"] is None
        edit = await client.patch(f"{API}/profile", json={"bio": "New bio"}, headers=user.headers)
        assert edit.status_code == 200
        assert (await me(client, user)).json()["bio"] == "New bio"

    async def test_credit_balance(self, app: FastAPI, client: httpx.AsyncClient, user: TestUser):
        before = (await me(client, user)).json()["credits"]
        async with transaction(app.state.ports.database.sessionmaker) as session:
            await credits_repository.add_to_balance(session, user_id=uuid.UUID(user.id), delta=7)
        assert (await me(client, user)).json()["credits"] == before + 7
        balance = await client.get(f"{API}/credits/balance", headers=user.headers)
        assert balance.json()["credits"] == before + 7

    async def test_a_rolled_back_change_keeps_the_snapshot(
        self, app: FastAPI, client: httpx.AsyncClient, user: TestUser
    ):
        await me(client, user)
        snapshot = await snapshot_of(app, user)

        class Abort(Exception):
            pass

        try:
            async with transaction(app.state.ports.database.sessionmaker) as session:
                await credits_repository.add_to_balance(
                    session, user_id=uuid.UUID(user.id), delta=5
                )
                raise Abort
        except Abort:
            pass
        assert await snapshot_of(app, user) == snapshot

    async def test_deleted_account(self, app: FastAPI, client: httpx.AsyncClient, user: TestUser):
        assert (await me(client, user)).status_code == 200
        async with transaction(app.state.ports.database.sessionmaker) as session:
            await repository.delete_user(session, uuid.UUID(user.id))
        gone = await me(client, user)
        assert gone.status_code == 401
        assert gone.json()["code"] == "session_revoked"

    async def test_orm_change_of_a_loaded_row(
        self, app: FastAPI, client: httpx.AsyncClient, user: TestUser
    ):
        await me(client, user)
        async with transaction(app.state.ports.database.sessionmaker) as session:
            row = await repository.get_user(session, uuid.UUID(user.id))
            assert row is not None
            row.full_name = "Renamed Person"
        assert (await me(client, user)).json()["full_name"] == "Renamed Person"

    async def test_change_that_names_no_row_forgets_every_snapshot(
        self, app: FastAPI, client: httpx.AsyncClient, user: TestUser, other: TestUser
    ):
        await me(client, user)
        await me(client, other)
        async with transaction(app.state.ports.database.sessionmaker) as session:
            await session.execute(update(User).values(bio="Everyone"))
        assert (await me(client, user)).json()["bio"] == "Everyone"
        assert (await me(client, other)).json()["bio"] == "Everyone"

    async def test_change_outside_a_request_transaction(
        self, app: FastAPI, client: httpx.AsyncClient, user: TestUser
    ):
        await me(client, user)
        async with app.state.ports.database.sessionmaker() as session:
            await session.execute(
                update(User).where(User.id == uuid.UUID(user.id)).values(bio="From a job")
            )
            await session.commit()
        for _ in range(50):  # the invalidation runs as a task once that session commits
            if (await me(client, user)).json()["bio"] == "From a job":
                break
            await asyncio.sleep(0.01)
        assert (await me(client, user)).json()["bio"] == "From a job"


class TestRaces:
    async def test_a_change_during_a_load_is_not_overwritten(
        self, app: FastAPI, client: httpx.AsyncClient, user: TestUser
    ):
        """A reader that loaded the row before a change committed must not store its copy."""
        ports = app.state.ports
        user_id = uuid.UUID(user.id)
        snapshots = AccountSnapshots(ports.kv)
        real_replace = ports.kv.replace

        async def change_then_replace(*args: object, **kwargs: object) -> bool:
            # The change commits (and marks the snapshot stale) after the reader's SELECT,
            # before its compare-and-set.
            async with transaction(ports.database.sessionmaker) as session:
                await session.execute(update(User).where(User.id == user_id).values(bio="Newer"))
            return bool(await real_replace(*args, **kwargs))

        ports.kv.replace = change_then_replace
        try:
            loaded = await snapshots.load(
                database=ports.database, user_id=user_id, cached=CachedAccount(None, None)
            )
        finally:
            ports.kv.replace = real_replace
        assert loaded is not None
        assert loaded.bio is None  # it read before the change
        assert not (await snapshot_of(app, user) or "").startswith("{")
        assert (await me(client, user)).json()["bio"] == "Newer"


class TestSnapshotFormat:
    async def test_a_snapshot_with_other_fields_is_a_miss(
        self, app: FastAPI, client: httpx.AsyncClient, user: TestUser
    ):
        await me(client, user)
        raw = await snapshot_of(app, user)
        assert raw is not None
        assert CachedAccount(raw, None).user() is not None
        older = json.loads(raw)
        del older["user"]["bio"]
        assert CachedAccount(json.dumps(older), None).user() is None
        assert CachedAccount(raw, "another generation").user() is None
