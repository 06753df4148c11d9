"""Admin job tools: list every job, read one in full, retry a failed one, refund a succeeded one."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from app.admin.ops.service import admin_refund_reference
from app.jobs.service import charge_reference, refund_reference
from app.models import AdminAction, CreditTransaction, Job, User
from app.models.base import utcnow
from tests.factories import API, TestUser, balance, create_project, submit_job, wait_for_job
from tests.images import image_bytes, upload
from tests.support.dispatch import hold_jobs

ADMIN = f"{API}/admin"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    if status == 422 and isinstance(body["detail"], list):
        return
    # The shared shape; some errors add their figures (a short balance names both amounts).
    assert {"detail", "code"} <= set(body), body
    if code is not None:
        assert body["code"] == code, body


async def ledger_matches(app: FastAPI, user_id: str) -> tuple[int, int]:
    """The cached balance and the sum of the ledger, which must be equal."""
    async with app.state.ports.database.sessionmaker() as session:
        credits = await session.scalar(select(User.credits).where(User.id == uuid.UUID(user_id)))
        total = await session.scalar(
            select(func.coalesce(func.sum(CreditTransaction.delta), 0)).where(
                CreditTransaction.user_id == uuid.UUID(user_id)
            )
        )
    return int(credits or 0), int(total or 0)


async def ledger_rows(app: FastAPI, reference: str) -> list[CreditTransaction]:
    async with app.state.ports.database.sessionmaker() as session:
        rows = await session.scalars(
            select(CreditTransaction).where(CreditTransaction.reference == reference)
        )
        return list(rows)


async def audit_rows(app: FastAPI, action: str, target: str) -> list[AdminAction]:
    async with app.state.ports.database.sessionmaker() as session:
        rows = await session.scalars(
            select(AdminAction).where(
                AdminAction.action == action, AdminAction.target_id == uuid.UUID(target)
            )
        )
        return list(rows)


async def succeeded_job(
    client: httpx.AsyncClient, app: FastAPI, user: TestUser, **overrides: Any
) -> dict[str, Any]:
    project = await create_project(client, user)
    job = await submit_job(client, user, project["id"], **overrides)
    done = await wait_for_job(client, app, user, job["id"])
    assert done["status"] == "succeeded", done
    return done


async def failed_job(
    client: httpx.AsyncClient, app: FastAPI, user: TestUser, *, variants: int = 2
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A job that failed for real: its project's selfie was deleted before it ran.

    Returns the job as its owner reads it and the project.
    """
    uploaded = await upload(client, user, image_bytes(), type="selfie")
    assert uploaded.status_code == 201, uploaded.text
    asset = uploaded.json()
    project = await create_project(client, user, selfie_asset_ids=[asset["id"]])
    ports = app.state.ports
    dispatcher = ports.dispatcher
    held = hold_jobs(app)
    job = await submit_job(client, user, project["id"], variants=variants)
    deleted = await client.delete(f"{API}/assets/{asset['id']}", headers=user.headers)
    assert deleted.status_code == 204, deleted.text
    await held.release()
    ports.dispatcher = dispatcher
    done = await wait_for_job(client, app, user, job["id"])
    assert done["status"] == "failed", done
    return done, project


ROUTES = [
    ("GET", "/jobs", None),
    ("GET", f"/jobs/{UNKNOWN}", None),
    ("POST", f"/jobs/{UNKNOWN}/retry", {"reason": "again"}),
    ("POST", f"/jobs/{UNKNOWN}/refund", {"reason": "sorry"}),
    ("GET", "/stats", None),
    ("GET", "/metrics/database", None),
    ("GET", "/metrics/system", None),
]


class TestAccess:
    @pytest.mark.parametrize(("method", "path", "body"), ROUTES)
    async def test_without_a_token_is_401(
        self, client: httpx.AsyncClient, method: str, path: str, body: dict[str, str] | None
    ):
        response = await client.request(method, f"{ADMIN}{path}", json=body)

        assert_error(response, 401, "not_authenticated")

    @pytest.mark.parametrize(("method", "path", "body"), ROUTES)
    async def test_a_non_admin_is_403(
        self,
        client: httpx.AsyncClient,
        user: TestUser,
        method: str,
        path: str,
        body: dict[str, str] | None,
    ):
        response = await client.request(method, f"{ADMIN}{path}", json=body, headers=user.headers)

        assert_error(response, 403, "admin_required")


class TestList:
    async def test_lists_every_users_jobs_with_filters(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        admin: TestUser,
        user: TestUser,
        other: TestUser,
    ):
        mine = await succeeded_job(client, app, user)
        theirs = await succeeded_job(client, app, other, quality="draft")
        failed, _ = await failed_job(client, app, other)

        everything = await client.get(f"{ADMIN}/jobs", headers=admin.headers)
        by_user = await client.get(
            f"{ADMIN}/jobs", params={"user_id": user.id}, headers=admin.headers
        )
        by_status = await client.get(
            f"{ADMIN}/jobs", params={"status": "failed"}, headers=admin.headers
        )
        by_model = await client.get(
            f"{ADMIN}/jobs", params={"model": "nano_banana"}, headers=admin.headers
        )

        assert everything.status_code == 200, everything.text
        assert [item["id"] for item in everything.json()["items"]] == [
            failed["id"],
            theirs["id"],
            mine["id"],
        ]
        assert [item["id"] for item in by_user.json()["items"]] == [mine["id"]]
        [row] = by_status.json()["items"]
        assert (row["id"], row["error_kind"]) == (failed["id"], "provider_error")
        assert by_model.json()["items"] == []

    async def test_time_range_and_sorts(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        first = await succeeded_job(client, app, user)
        failed, _ = await failed_job(client, app, user, variants=1)
        last = await succeeded_job(client, app, user)
        now = utcnow()
        async with app.state.ports.database.sessionmaker.begin() as session:
            for job_id, days in ((first["id"], 3), (failed["id"], 2)):
                await session.execute(
                    update(Job)
                    .where(Job.id == uuid.UUID(job_id))
                    .values(created_at=now - timedelta(days=days))
                )

        window = await client.get(
            f"{ADMIN}/jobs",
            params={
                "created_from": (now - timedelta(days=2, hours=1)).isoformat(),
                "created_to": (now - timedelta(days=1)).isoformat(),
            },
            headers=admin.headers,
        )
        oldest_first = await client.get(
            f"{ADMIN}/jobs", params={"order": "asc"}, headers=admin.headers
        )
        by_status = await client.get(
            f"{ADMIN}/jobs", params={"sort": "status", "order": "asc"}, headers=admin.headers
        )
        by_updated = await client.get(
            f"{ADMIN}/jobs", params={"sort": "updated_at", "limit": 1}, headers=admin.headers
        )
        by_model = await client.get(
            f"{ADMIN}/jobs",
            params={"sort": "model", "limit": 1, "offset": 2, "include_total": True},
            headers=admin.headers,
        )

        assert [item["id"] for item in window.json()["items"]] == [failed["id"]]
        assert [item["id"] for item in oldest_first.json()["items"]] == [
            first["id"],
            failed["id"],
            last["id"],
        ]
        # failed < succeeded; ties newest first would be desc, asc keeps creation order.
        assert [item["status"] for item in by_status.json()["items"]] == [
            "failed",
            "succeeded",
            "succeeded",
        ]
        page = by_updated.json()
        assert len(page["items"]) == 1
        assert page["next_cursor"]
        following = await client.get(
            f"{ADMIN}/jobs",
            params={"sort": "updated_at", "limit": 5, "cursor": page["next_cursor"]},
            headers=admin.headers,
        )
        seen = [page["items"][0]["id"]] + [item["id"] for item in following.json()["items"]]
        assert sorted(seen) == sorted([first["id"], failed["id"], last["id"]])
        assert (by_model.json()["total"], len(by_model.json()["items"])) == (3, 1)

    @pytest.mark.parametrize(
        "params",
        [
            {"sort": "cost"},
            {"order": "sideways"},
            {"status": "lost"},
            {"user_id": "not-a-uuid"},
            {"created_from": "yesterday"},
            {"created_to": "0.5"},
            {"limit": 0},
            {"limit": 101},
            {"model": "x" * 41},
        ],
    )
    async def test_bad_parameters_are_422(
        self, client: httpx.AsyncClient, admin: TestUser, params: dict[str, Any]
    ):
        response = await client.get(f"{ADMIN}/jobs", params=params, headers=admin.headers)

        assert_error(response, 422)

    async def test_an_empty_time_range_and_a_cursor_on_offset_orders_are_422(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        await succeeded_job(client, app, user)
        await succeeded_job(client, app, user)
        now = utcnow().isoformat()
        page = await client.get(f"{ADMIN}/jobs", params={"limit": 1}, headers=admin.headers)

        empty = await client.get(
            f"{ADMIN}/jobs", params={"created_from": now, "created_to": now}, headers=admin.headers
        )
        cursor = await client.get(
            f"{ADMIN}/jobs",
            params={"sort": "status", "cursor": page.json()["next_cursor"]},
            headers=admin.headers,
        )

        assert_error(empty, 422, "invalid_time_range")
        assert_error(cursor, 422, "invalid_cursor")


class TestDetail:
    async def test_shows_what_the_owner_never_sees(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        failed, _ = await failed_job(client, app, user)

        response = await client.get(f"{ADMIN}/jobs/{failed['id']}", headers=admin.headers)
        owner_view = await client.get(f"{API}/jobs/{failed['id']}", headers=user.headers)

        assert response.status_code == 200, response.text
        detail = response.json()
        assert detail["error"] == failed["error"]
        assert detail["error_kind"] == "provider_error"
        assert detail["error_detail"] == "studio: asset row gone"
        assert detail["error_retryable"] is False
        assert detail["attempt_counts"] == {
            "current_round": 1,
            "earlier_rounds": 0,
            "total": 1,
            "max_per_round": app.state.ports.settings.job_max_attempts,
        }
        # The lease ends with the run; its holder is the process that claimed it.
        assert detail["lease"]["expires_at"] is None
        assert detail["lease"]["expired"] is False
        assert ":" in detail["lease"]["holder"]
        assert [(row["reason"], row["delta"]) for row in detail["ledger"]] == [
            ("job_charge", -2),
            ("job_refund", 2),
        ]
        body = owner_view.json()
        assert not {"error_detail", "error_kind", "lease", "ledger"} & set(body)
        assert "asset row gone" not in owner_view.text

    async def test_a_succeeded_job_lists_its_renders(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        done = await succeeded_job(client, app, user, variants=2)

        detail = (await client.get(f"{ADMIN}/jobs/{done['id']}", headers=admin.headers)).json()

        assert [render["variant"] for render in detail["renders"]] == [0, 1]
        assert detail["error_detail"] is None
        assert detail["progress"] == 100

    async def test_unknown_and_malformed_ids(self, client: httpx.AsyncClient, admin: TestUser):
        unknown = await client.get(f"{ADMIN}/jobs/{UNKNOWN}", headers=admin.headers)
        malformed = await client.get(f"{ADMIN}/jobs/not-a-uuid", headers=admin.headers)

        assert_error(unknown, 404, "not_found")
        assert_error(malformed, 422)


class TestRetry:
    async def test_a_refunded_failure_is_charged_again_and_runs(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        failed, project = await failed_job(client, app, user)
        before = await balance(client, user)
        # The cause is fixed: the project no longer names the deleted photo.
        fixed = await client.patch(
            f"{API}/projects/{project['id']}", json={"selfie_asset_ids": []}, headers=user.headers
        )
        assert fixed.status_code == 200, fixed.text

        response = await client.post(
            f"{ADMIN}/jobs/{failed['id']}/retry",
            json={"reason": "photo fixed"},
            headers=admin.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "queued"
        assert response.json()["retries"] == 1
        assert await balance(client, user) == before - 2
        done = await wait_for_job(client, app, user, failed["id"])
        assert done["status"] == "succeeded", done
        assert done["refunded_credits"] == 0
        assert len(await ledger_rows(app, charge_reference(uuid.UUID(failed["id"]), 1))) == 1
        credits, ledger = await ledger_matches(app, user.id)
        assert credits == ledger == before - 2
        [audit] = await audit_rows(app, "job.retry", failed["id"])
        assert audit.actor_id == uuid.UUID(admin.id)
        assert audit.reason == "photo fixed"
        assert audit.before is not None
        assert audit.before["status"] == "failed"
        assert audit.after is not None
        assert audit.after["charged_credits"] == 2

    async def test_a_failure_that_was_not_refunded_is_not_charged_again(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        failed, _ = await failed_job(client, app, user)
        # As a job whose refund never happened (the refund was given back another way).
        async with app.state.ports.database.sessionmaker.begin() as session:
            await session.execute(
                update(Job).where(Job.id == uuid.UUID(failed["id"])).values(refunded_credits=0)
            )
        hold_jobs(app)
        before = await balance(client, user)

        response = await client.post(f"{ADMIN}/jobs/{failed['id']}/retry", headers=admin.headers)

        assert response.status_code == 200, response.text
        assert await balance(client, user) == before
        assert await ledger_rows(app, charge_reference(uuid.UUID(failed["id"]), 1)) == []

    async def test_failing_again_refunds_again_under_its_own_reference(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        failed, _ = await failed_job(client, app, user)
        before = await balance(client, user)

        response = await client.post(f"{ADMIN}/jobs/{failed['id']}/retry", headers=admin.headers)
        assert response.status_code == 200, response.text
        again = await wait_for_job(client, app, user, failed["id"])

        assert again["status"] == "failed"
        job_id = uuid.UUID(failed["id"])
        assert len(await ledger_rows(app, refund_reference(job_id))) == 1
        assert len(await ledger_rows(app, refund_reference(job_id, 1))) == 1
        assert await balance(client, user) == before
        credits, ledger = await ledger_matches(app, user.id)
        assert credits == ledger
        detail = (await client.get(f"{ADMIN}/jobs/{failed['id']}", headers=admin.headers)).json()
        assert detail["attempt_counts"]["total"] == 2
        assert detail["attempt_counts"]["earlier_rounds"] == 1

    async def test_an_owner_who_cannot_pay_is_402_and_nothing_changes(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        failed, project = await failed_job(client, app, user, variants=2)
        hold_jobs(app)
        for _ in range(await balance(client, user) - 1):
            await submit_job(client, user, project["id"], variants=1)
        assert await balance(client, user) == 1

        response = await client.post(f"{ADMIN}/jobs/{failed['id']}/retry", headers=admin.headers)

        assert_error(response, 402, "insufficient_credits")
        detail = (await client.get(f"{ADMIN}/jobs/{failed['id']}", headers=admin.headers)).json()
        assert (detail["status"], detail["retries"]) == ("failed", 0)
        assert await audit_rows(app, "job.retry", failed["id"]) == []
        assert await balance(client, user) == 1

    async def test_only_a_failed_job_is_retried(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        done = await succeeded_job(client, app, user)

        response = await client.post(f"{ADMIN}/jobs/{done['id']}/retry", headers=admin.headers)

        assert_error(response, 409, "job_not_failed")

    async def test_concurrent_retries_run_and_charge_once(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        failed, _ = await failed_job(client, app, user)
        held = hold_jobs(app)
        before = await balance(client, user)

        responses = await asyncio.gather(
            *(
                client.post(f"{ADMIN}/jobs/{failed['id']}/retry", headers=admin.headers)
                for _ in range(4)
            )
        )

        assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
        assert held.held == [uuid.UUID(failed["id"])]
        assert await balance(client, user) == before - 2
        assert len(await audit_rows(app, "job.retry", failed["id"])) == 1

    async def test_unknown_id_and_bad_body(self, client: httpx.AsyncClient, admin: TestUser):
        unknown = await client.post(f"{ADMIN}/jobs/{UNKNOWN}/retry", headers=admin.headers)
        extra = await client.post(
            f"{ADMIN}/jobs/{UNKNOWN}/retry", json={"force": True}, headers=admin.headers
        )
        long_reason = await client.post(
            f"{ADMIN}/jobs/{UNKNOWN}/retry", json={"reason": "x" * 501}, headers=admin.headers
        )

        assert_error(unknown, 404, "not_found")
        assert_error(extra, 422)
        assert_error(long_reason, 422)


class TestRefund:
    async def test_a_succeeded_job_is_refunded_once(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        done = await succeeded_job(client, app, user, variants=2)
        before = await balance(client, user)

        first = await client.post(
            f"{ADMIN}/jobs/{done['id']}/refund",
            json={"reason": "blank renders"},
            headers=admin.headers,
        )
        second = await client.post(
            f"{ADMIN}/jobs/{done['id']}/refund", json={"reason": "again"}, headers=admin.headers
        )

        assert first.status_code == 200, first.text
        assert first.json()["refunded_credits"] == 2
        assert first.json()["status"] == "succeeded"
        assert_error(second, 409, "job_already_refunded")
        assert await balance(client, user) == before + 2
        assert len(await ledger_rows(app, admin_refund_reference(uuid.UUID(done["id"])))) == 1
        credits, ledger = await ledger_matches(app, user.id)
        assert credits == ledger == before + 2
        [audit] = await audit_rows(app, "job.refund", done["id"])
        assert (audit.reason, audit.actor_id) == ("blank renders", uuid.UUID(admin.id))
        assert audit.after is not None
        assert audit.after["refunded_now"] == 2

    async def test_concurrent_refunds_pay_exactly_once(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        done = await succeeded_job(client, app, user, variants=3)
        before = await balance(client, user)

        responses = await asyncio.gather(
            *(
                client.post(
                    f"{ADMIN}/jobs/{done['id']}/refund",
                    json={"reason": f"request {index}"},
                    headers=admin.headers,
                )
                for index in range(6)
            )
        )

        assert sorted(r.status_code for r in responses) == [200, 409, 409, 409, 409, 409]
        assert {r.json()["code"] for r in responses if r.status_code == 409} == {
            "job_already_refunded"
        }
        assert await balance(client, user) == before + 3
        assert len(await ledger_rows(app, admin_refund_reference(uuid.UUID(done["id"])))) == 1
        assert len(await audit_rows(app, "job.refund", done["id"])) == 1
        credits, ledger = await ledger_matches(app, user.id)
        assert credits == ledger

    async def test_only_a_succeeded_job_is_refunded(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        failed, _ = await failed_job(client, app, user)

        response = await client.post(
            f"{ADMIN}/jobs/{failed['id']}/refund", json={"reason": "x"}, headers=admin.headers
        )

        assert_error(response, 409, "job_not_succeeded")

    @pytest.mark.parametrize(
        "body", [None, {}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}, {"reason": 5}]
    )
    async def test_a_reason_is_required(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser, body: Any
    ):
        done = await succeeded_job(client, app, user)

        response = await client.post(
            f"{ADMIN}/jobs/{done['id']}/refund", json=body, headers=admin.headers
        )

        assert_error(response, 422)
        assert await audit_rows(app, "job.refund", done["id"]) == []

    async def test_unknown_id_is_404(self, client: httpx.AsyncClient, admin: TestUser):
        response = await client.post(
            f"{ADMIN}/jobs/{UNKNOWN}/refund", json={"reason": "x"}, headers=admin.headers
        )

        assert_error(response, 404, "not_found")
