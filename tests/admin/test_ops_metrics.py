"""GET /admin/metrics/database and /admin/metrics/system."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.models import Job, Project
from app.models.base import utcnow
from tests.admin.test_ops_jobs import ADMIN
from tests.conftest import make_settings
from tests.factories import API, TestUser

CRON_SECRET = "test-cron-secret-0123456789abcdef"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url=database_url, data_dir=tmp_path / "data", cron_secret=CRON_SECRET
    )


class TestDatabase:
    async def test_reports_the_pool_and_the_server(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser
    ):
        response = await client.get(f"{ADMIN}/metrics/database", headers=admin.headers)

        assert response.status_code == 200, response.text
        body = response.json()
        dialect = app.state.ports.database.dialect
        assert body["dialect"] == dialect
        assert body["driver"] == ("asyncpg" if dialect == "postgresql" else "aiosqlite")
        assert body["server_version"][0].isdigit()
        pool = body["pool"]
        assert pool["implementation"] == "FairAsyncQueuePool"
        assert pool["size"] == (20 if dialect == "postgresql" else 16)
        # This request's own connection is out while it asks.
        assert pool["checked_out"] >= 1
        assert pool["checked_in"] >= 0
        assert pool["overflow"] <= 0
        assert "Pool size" in pool["status"]


class TestSystem:
    async def test_reports_the_queue_dispatch_and_sweeper(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        before = await client.get(f"{ADMIN}/metrics/system", headers=admin.headers)
        swept = await client.get(
            f"{API}/internal/cron/sweep", headers={"Authorization": f"Bearer {CRON_SECRET}"}
        )
        assert swept.status_code == 200, swept.text
        now = utcnow()
        async with app.state.ports.database.sessionmaker.begin() as session:
            project = Project(user_id=uuid.UUID(user.id), platform="youtube", width=1, height=1)
            session.add(project)
            await session.flush()
            common = {
                "user_id": project.user_id,
                "project_id": project.id,
                "model": "studio",
                "quality": "std",
                "variants": 1,
                "cost_credits": 1,
            }
            session.add_all(
                [
                    Job(**common, status="queued", created_at=now - timedelta(minutes=10)),
                    Job(**common, status="queued", created_at=now - timedelta(seconds=5)),
                    Job(
                        **common,
                        status="running",
                        created_at=now,
                        lease_until=now - timedelta(seconds=1),
                    ),
                    Job(
                        **common,
                        status="running",
                        created_at=now,
                        lease_until=now + timedelta(minutes=5),
                    ),
                    Job(**common, status="succeeded", created_at=now - timedelta(days=1)),
                ]
            )

        after = await client.get(f"{ADMIN}/metrics/system", headers=admin.headers)

        assert before.status_code == 200, before.text
        assert before.json()["sweeper"]["last_run_at"] is None
        assert before.json()["jobs"]["oldest_queued_age_seconds"] is None
        body = after.json()
        jobs = body["jobs"]
        assert (jobs["queued"], jobs["running"]) == (2, 2)
        assert (jobs["stale_leases"], jobs["stale_queued"]) == (1, 1)
        assert 600 <= jobs["oldest_queued_age_seconds"] < 660
        assert body["dispatch"] == {"adapter": "in_process", "finishes_after_response": False}
        sweeper = body["sweeper"]
        assert sweeper["last_run_at"] is not None
        assert 0 <= sweeper["seconds_since_last_run"] < 60
        assert (sweeper["checked"], sweeper["redispatched"], sweeper["failed"]) == (0, 0, 0)
        assert sweeper["interval_seconds"] == app.state.ports.settings.sweep_interval_seconds
