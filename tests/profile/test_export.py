"""The data export: every row and file of the account in a streamed zip, nothing of anyone else."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.models import (
    Asset,
    Chat,
    ChatMessage,
    CreditTransaction,
    Job,
    Payment,
    Project,
    Render,
)
from app.profile.export import export_archive
from tests.auth.test_router import assert_error
from tests.factories import API, TestUser, create_project, submit_job, wait_for_job
from tests.images import image_bytes, upload

TABLES: dict[str, Any] = {
    "projects.json": Project,
    "jobs.json": Job,
    "renders.json": Render,
    "assets.json": Asset,
    "ledger.json": CreditTransaction,
    "chats.json": Chat,
    "orders.json": Payment,
}


async def fill_account(client: httpx.AsyncClient, app: FastAPI, user: TestUser) -> None:
    """Something in every table and bucket: assets, an avatar, a rendered job, a chat, an order."""
    for kind in ("selfie", "ref"):
        response = await upload(client, user, image_bytes(color="blue"), type=kind)
        assert response.status_code == 201, response.text
    response = await client.post(
        f"{API}/profile/avatar",
        headers=user.headers,
        files={"file": ("me.png", image_bytes(color="green"), "image/png")},
    )
    assert response.status_code == 200, response.text
    project = await create_project(client, user)
    job = await submit_job(client, user, project["id"], variants=2)
    await wait_for_job(client, app, user, job["id"])
    chat = await client.post(
        f"{API}/chat/new", json={"project_id": project["id"]}, headers=user.headers
    )
    assert chat.status_code == 201, chat.text
    message = await client.post(
        f"{API}/chat/{chat.json()['id']}/messages",
        json={"content": "Make it “louder” — ünïcode too"},
        headers=user.headers,
    )
    assert message.status_code == 201, message.text
    order = await client.post(
        f"{API}/credits/purchase", json={"package_id": "creator"}, headers=user.headers
    )
    assert order.status_code == 201, order.text
    paid = await client.post(f"{API}/payments/test/{order.json()['order_id']}/pay")
    assert paid.status_code in (200, 303), paid.text


async def export(client: httpx.AsyncClient, user: TestUser) -> zipfile.ZipFile:
    response = await client.get(f"{API}/profile/export", headers=user.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="mugshot-export-{user.username}-')
    assert disposition.endswith('.zip"')
    assert response.headers["cache-control"] == "no-store"
    # Streamed: the length is not known up front.
    assert "content-length" not in response.headers
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    return archive


def loaded(archive: zipfile.ZipFile, name: str) -> Any:
    return json.loads(archive.read(name))


async def rows_of(app: FastAPI, user_id: str) -> dict[str, set[str]]:
    owner = uuid.UUID(user_id)
    found: dict[str, set[str]] = {}
    async with app.state.ports.database.sessionmaker() as session:
        for name, model in TABLES.items():
            found[name] = {
                str(i)
                for i in await session.scalars(select(model.id).where(model.user_id == owner))
            }
        found["chat_messages.json"] = {
            str(i)
            for i in await session.scalars(
                select(ChatMessage.id).join(Chat).where(Chat.user_id == owner)
            )
        }
    return found


class TestExport:
    async def test_every_row_and_file_of_the_account_and_nothing_else(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser, other: TestUser
    ):
        await fill_account(client, app, user)
        await fill_account(client, app, other)
        archive = await export(client, user)

        expected = await rows_of(app, user.id)
        for name, ids in expected.items():
            assert ids, name  # the account has rows of every kind
            exported = loaded(archive, name)
            # In id order, each row once.
            assert [row["id"] for row in exported] == sorted(ids, key=uuid.UUID), name
        profile = loaded(archive, "profile.json")
        assert profile["id"] == user.id
        assert profile["email"] == user.email
        assert "password_hash" not in profile
        messages = loaded(archive, "chat_messages.json")
        assert "Make it “louder” — ünïcode too" in [m["content"] for m in messages]
        orders = loaded(archive, "orders.json")
        assert [order["status"] for order in orders] == ["paid"]
        ledger = loaded(archive, "ledger.json")
        assert {row["reason"] for row in ledger} >= {"signup_bonus", "job_charge", "purchase"}

        storage = app.state.ports.storage
        files = (
            set(archive.namelist())
            - set(TABLES)
            - {
                "profile.json",
                "chat_messages.json",
                "manifest.json",
            }
        )
        wanted: dict[str, tuple[str, str]] = {}
        for asset in loaded(archive, "assets.json"):
            wanted[f"files/assets/{asset['path']}"] = (asset["bucket"], asset["path"])
        for render in loaded(archive, "renders.json"):
            wanted[f"files/renders/{render['path']}"] = (render["bucket"], render["path"])
        avatar = profile["avatar_url"].rsplit("/files/profile_photos/", 1)[1]
        wanted[f"files/avatar/{avatar}"] = ("profile_photos", avatar)
        assert files == set(wanted)
        assert len(wanted) == 2 + 2 + 1
        for name, (bucket, path) in wanted.items():
            assert archive.read(name) == await storage.get(bucket, path), name
        manifest = loaded(archive, "manifest.json")
        assert manifest["user_id"] == user.id
        assert sorted(manifest["files"]) == sorted(wanted)
        assert manifest["missing_files"] == []
        assert manifest["rows"]["chat_messages.json"] == len(expected["chat_messages.json"])

        # Nothing of the other account, anywhere in the archive.
        for name in archive.namelist():
            assert other.id not in name
            assert other.id.encode() not in archive.read(name), name
        for ids in (await rows_of(app, other.id)).values():
            for row_id in ids:
                assert all(row_id.encode() not in archive.read(n) for n in archive.namelist())

    async def test_an_empty_account_exports_its_profile(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        archive = await export(client, user)
        assert loaded(archive, "projects.json") == []
        assert loaded(archive, "chat_messages.json") == []
        assert len(loaded(archive, "ledger.json")) == 1  # the sign-up bonus
        assert loaded(archive, "manifest.json")["files"] == []

    async def test_a_file_missing_from_storage_is_listed_not_fatal(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        asset = (await upload(client, user, image_bytes())).json()
        async with app.state.ports.database.sessionmaker() as session:
            row = await session.get(Asset, uuid.UUID(asset["id"]))
            assert row is not None
            bucket, path = row.bucket, row.path
        await app.state.ports.storage.delete(bucket, [path])
        archive = await export(client, user)
        manifest = loaded(archive, "manifest.json")
        assert manifest["missing_files"] == [f"files/assets/{path}"]
        assert [row["id"] for row in loaded(archive, "assets.json")] == [asset["id"]]

    async def test_it_is_written_in_chunks(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        for _ in range(3):
            await upload(client, user, image_bytes(size=(400, 300), color="red"))
        chunks = [chunk async for chunk in export_archive(app.state.ports, uuid.UUID(user.id))]
        whole = b"".join(chunks)
        assert zipfile.ZipFile(io.BytesIO(whole)).testzip() is None
        # One chunk per file at least: the archive is never assembled before it is sent.
        assert len([chunk for chunk in chunks if chunk]) > 3
        assert max(len(chunk) for chunk in chunks) < len(whole) / 2

    async def test_needs_a_signed_in_caller(self, client: httpx.AsyncClient):
        response = await client.get(f"{API}/profile/export")
        assert_error(response, 401, "not_authenticated")
        response = await client.get(
            f"{API}/profile/export", headers={"Authorization": "Bearer not-a-token"}
        )
        assert_error(response, 401, "invalid_token")

    async def test_a_few_per_hour_per_account(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser, other: TestUser
    ):
        limit = app.state.ports.settings.rate_limit_export
        for _ in range(limit):
            await export(client, user)
        response = await client.get(f"{API}/profile/export", headers=user.headers)
        assert_error(response, 429, "rate_limited")
        assert 0 < int(response.headers["retry-after"]) <= 3600
        # Another account has its own allowance.
        await export(client, other)

    @pytest.mark.parametrize("method", ["POST", "DELETE"])
    async def test_only_get(self, client: httpx.AsyncClient, user: TestUser, method: str):
        response = await client.request(method, f"{API}/profile/export", headers=user.headers)
        assert_error(response, 405, "method_not_allowed")
