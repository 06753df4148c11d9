"""scripts/create_admin.py: promote and demote an existing account, refuse an unknown email."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.auth import repository
from app.kit.db import transaction
from app.models import AdminAction
from scripts.create_admin import UNKNOWN_EMAIL, main
from tests.factories import API, TestUser


async def role_and_trail(app: FastAPI, user: TestUser) -> tuple[str, list[str]]:
    async with transaction(app.state.ports.database.sessionmaker) as session:
        row = await repository.get_user(session, uuid.UUID(user.id))
        assert row is not None
        actions = await session.scalars(
            select(AdminAction.action)
            .where(AdminAction.target_id == row.id)
            .order_by(AdminAction.created_at)
        )
        return row.role, list(actions)


def run(argv: list[str]) -> int:
    # The script runs its own event loop, as it does from a shell; keep it off the test's.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(main, argv).result()


class TestCreateAdmin:
    async def test_promotes_then_demotes(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        user: TestUser,
        database_url: str,
        capsys: pytest.CaptureFixture[str],
    ):
        await app.state.ports.database.dispose()  # SQLite: let the script take the write lock
        assert run([user.email.upper(), "--database-url", database_url]) == 0
        assert "is now an admin" in capsys.readouterr().out
        assert await role_and_trail(app, user) == ("admin", ["user.promote"])
        # The running session's next request sees the role.
        response = await client.get(f"{API}/admin/audit", headers=user.headers)
        assert response.status_code == 200, response.text

        assert run([user.email, "--database-url", database_url]) == 0
        assert "already an admin" in capsys.readouterr().out
        assert await role_and_trail(app, user) == ("admin", ["user.promote"])

        assert run([user.email, "--demote", "--database-url", database_url]) == 0
        assert "is now a user" in capsys.readouterr().out
        assert await role_and_trail(app, user) == ("user", ["user.promote", "user.demote"])
        response = await client.get(f"{API}/admin/audit", headers=user.headers)
        assert response.status_code == 403

    async def test_an_unknown_email_is_refused(
        self,
        app: FastAPI,
        database_url: str,
        capsys: pytest.CaptureFixture[str],
    ):
        assert run(["nobody@example.com", "--database-url", database_url]) == UNKNOWN_EMAIL
        error = capsys.readouterr().err
        assert "no account has the email 'nobody@example.com'" in error

    def test_reads_database_url_from_the_environment(
        self,
        sqlite_database: str,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ):
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("DATABASE_URL", sqlite_database.replace("+aiosqlite", ""))
        assert main(["ghost@example.com"]) == UNKNOWN_EMAIL
        assert "ghost@example.com" in capsys.readouterr().err

    def test_the_email_is_required(self, capsys: pytest.CaptureFixture[str]):
        with pytest.raises(SystemExit) as exited:
            main([])
        assert exited.value.code == 2
