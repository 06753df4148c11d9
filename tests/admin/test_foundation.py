"""Who reaches the admin API, how its operations are marked, ADMIN_EMAILS and the audit row."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.admin.audit import AdminActionName, AuditActor, record_admin_action
from app.admin.deps import ADMIN_OPENAPI_MARK, ADMIN_PREFIX, ADMIN_TAG
from app.admin.roles import set_role
from app.auth import repository
from app.config import Settings
from app.kit.db import transaction
from app.main import create_app
from app.models import AdminAction, UserRole
from tests.conftest import make_settings, running_app
from tests.factories import (
    API,
    TestUser,
    confirm,
    create_user,
    signin,
    signup,
)

AUDIT = f"{API}/admin/audit"


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.json()


async def audit_rows(app: FastAPI, **filters: object) -> list[AdminAction]:
    async with transaction(app.state.ports.database.sessionmaker) as session:
        query = select(AdminAction).order_by(AdminAction.created_at, AdminAction.id)
        for name, value in filters.items():
            query = query.where(getattr(AdminAction, name) == value)
        return list(await session.scalars(query))


class TestAccess:
    async def test_no_token_is_401(self, client: httpx.AsyncClient):
        assert_error(await client.get(AUDIT), 401, "not_authenticated")

    async def test_a_signed_in_user_is_403(self, client: httpx.AsyncClient, user: TestUser):
        assert_error(await client.get(AUDIT, headers=user.headers), 403, "admin_required")

    async def test_an_admin_is_let_in(self, client: httpx.AsyncClient, admin: TestUser):
        response = await client.get(AUDIT, headers=admin.headers)
        assert response.status_code == 200, response.text

    async def test_the_role_is_read_from_the_database_on_each_request(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser
    ):
        assert (await client.get(AUDIT, headers=admin.headers)).status_code == 200
        async with transaction(app.state.ports.database.sessionmaker) as session:
            row = await repository.get_user(session, uuid.UUID(admin.id))
            assert row is not None
            await set_role(session=session, user=row, role=UserRole.USER)

        # The same token, still valid: the demotion counts at once.
        assert_error(await client.get(AUDIT, headers=admin.headers), 403, "admin_required")


def _schema() -> dict:
    app = create_app(
        make_settings(database_url="sqlite+aiosqlite:///:memory:", data_dir=Path("unused"))
    )
    return app.openapi()


class TestOpenAPI:
    def test_every_admin_operation_is_tagged_marked_and_declares_403(self):
        operations = [
            (path, operation)
            for path, item in _schema()["paths"].items()
            if path.startswith(ADMIN_PREFIX)
            for operation in item.values()
        ]
        assert operations
        for path, operation in operations:
            assert operation.get(ADMIN_OPENAPI_MARK) is True, path
            assert operation["tags"] == [ADMIN_TAG], path
            assert {"401", "403"} <= set(operation["responses"]), path
            assert "admin_required" in operation["responses"]["403"]["description"], path

    def test_every_admin_request_body_has_an_example(self):
        schema = _schema()
        components = schema["components"]["schemas"]
        bodies = 0
        for path, item in schema["paths"].items():
            if not path.startswith(ADMIN_PREFIX):
                continue
            for operation in item.values():
                if "requestBody" not in operation:
                    continue
                bodies += 1
                body = operation["requestBody"]["content"]["application/json"]["schema"]
                refs = [body.get("$ref")] + [part.get("$ref") for part in body.get("anyOf", [])]
                (name,) = [ref.rsplit("/", 1)[-1] for ref in refs if ref]
                assert components[name].get("examples"), path
        assert bodies >= 4

    def test_no_other_operation_is_marked(self):
        for path, item in _schema()["paths"].items():
            if path.startswith(ADMIN_PREFIX):
                continue
            for operation in item.values():
                assert ADMIN_OPENAPI_MARK not in operation, path
                assert ADMIN_TAG not in operation.get("tags", []), path


@pytest.fixture
def admin_email() -> str:
    return f"boss-{uuid.uuid4().hex[:8]}@example.com"


@pytest.fixture
async def admin_emails_app(settings: Settings, admin_email: str):
    configured = settings.model_copy(
        update={"admin_emails": frozenset({admin_email, "other@example.com"})}
    )
    async with running_app(configured) as application:
        yield application


class TestAdminEmails:
    def test_the_setting_is_split_trimmed_and_lowercased(self):
        settings = Settings(_env_file=None, admin_emails=" A@Example.com, b@example.com ,,")
        assert settings.admin_emails == frozenset({"a@example.com", "b@example.com"})

    def test_unset_means_nobody(self):
        assert Settings(_env_file=None).admin_emails == frozenset()

    async def test_a_listed_account_becomes_admin_when_it_confirms(
        self, admin_emails_app: FastAPI, admin_email: str
    ):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=admin_emails_app), base_url="http://test"
        ) as client:
            body = await signup(client, email=admin_email.upper())
            await confirm(client, admin_emails_app, body["email"])
            tokens = await signin(client, body["email"])
            assert tokens["user"]["role"] == "admin"
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            assert (await client.get(AUDIT, headers=headers)).status_code == 200

        rows = await audit_rows(admin_emails_app, action=AdminActionName.USER_PROMOTE.value)
        assert [(row.target_id, row.actor_id, row.reason) for row in rows] == [
            (uuid.UUID(tokens["user"]["id"]), None, "ADMIN_EMAILS")
        ]
        assert rows[0].before == {"role": "user"}
        assert rows[0].after == {"role": "admin"}

    async def test_an_existing_account_becomes_admin_when_it_signs_in(
        self, admin_emails_app: FastAPI, admin_email: str
    ):
        person = await create_user(admin_emails_app, email=admin_email)
        # As if it had been confirmed before the address was listed.
        async with transaction(admin_emails_app.state.ports.database.sessionmaker) as session:
            row = await repository.get_user(session, uuid.UUID(person.id))
            assert row is not None
            await set_role(session=session, user=row, role=UserRole.USER)

        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=admin_emails_app), base_url="http://test"
        ) as client:
            tokens = await signin(client, person.email)
        assert tokens["user"]["role"] == "admin"

    async def test_an_unlisted_account_stays_a_user(self, client: httpx.AsyncClient, app: FastAPI):
        body = await signup(client)
        await confirm(client, app, body["email"])
        tokens = await signin(client, body["email"])
        assert tokens["user"]["role"] == "user"
        assert await audit_rows(app) == []


class TestRecordAdminAction:
    async def test_the_row_rolls_back_with_its_transaction(self, app: FastAPI, admin: TestUser):
        maker = app.state.ports.database.sessionmaker
        before = len(await audit_rows(app))

        async def failing_action() -> None:
            async with transaction(maker) as session:
                await record_admin_action(
                    session=session,
                    actor=AuditActor(user_id=uuid.UUID(admin.id), request_id="req-1"),
                    action="job.retry",
                    target_type="job",
                    target_id=uuid.uuid4(),
                )
                raise RuntimeError("the action failed")

        with pytest.raises(RuntimeError):
            await failing_action()
        assert len(await audit_rows(app)) == before

    async def test_json_values_are_stored_as_json(self, app: FastAPI, admin: TestUser):
        target = uuid.uuid4()
        async with transaction(app.state.ports.database.sessionmaker) as session:
            await record_admin_action(
                session=session,
                actor=AuditActor(user_id=uuid.UUID(admin.id), request_id="req-2"),
                action=AdminActionName.JOB_REFUND,
                target_type="job",
                target_id=target,
                reason="x" * 600,
                before={"id": target, "credits": 3},
                after={"credits": 0},
            )
        (row,) = await audit_rows(app, target_id=target)
        assert row.action == "job.refund"
        assert row.before == {"id": str(target), "credits": 3}
        assert row.request_id == "req-2"
        assert row.reason == "x" * 500


class TestAuditList:
    async def test_filters_and_request_ids(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser
    ):
        actor = AuditActor(user_id=uuid.UUID(admin.id), request_id="req-a")
        targets = [uuid.uuid4(), uuid.uuid4()]
        async with transaction(app.state.ports.database.sessionmaker) as session:
            for target, action in zip(targets, ["job.retry", "job.refund"], strict=True):
                await record_admin_action(
                    session=session,
                    actor=actor,
                    action=action,
                    target_type="job",
                    target_id=target,
                )
        # create_admin's own promotion is in the trail too, by no one.
        everything = (await client.get(AUDIT, headers=admin.headers)).json()["items"]
        assert [item["action"] for item in everything] == [
            "job.refund",
            "job.retry",
            "user.promote",
        ]

        by_target = await client.get(
            AUDIT, params={"target_id": str(targets[0])}, headers=admin.headers
        )
        assert [item["action"] for item in by_target.json()["items"]] == ["job.retry"]
        by_actor = await client.get(AUDIT, params={"actor_id": admin.id}, headers=admin.headers)
        assert len(by_actor.json()["items"]) == 2
        by_action = await client.get(AUDIT, params={"action": "job.refund"}, headers=admin.headers)
        (item,) = by_action.json()["items"]
        assert item["target_id"] == str(targets[1])
        assert item["request_id"] == "req-a"
        assert item["actor_id"] == admin.id

    async def test_paging(self, client: httpx.AsyncClient, admin: TestUser):
        response = await client.get(
            AUDIT, params={"limit": 1, "include_total": "true"}, headers=admin.headers
        )
        assert response.json()["total"] == 1
        assert response.json()["limit"] == 1

    @pytest.mark.parametrize(
        "params",
        [{"actor_id": "nope"}, {"action": "DROP TABLE"}, {"limit": 0}, {"cursor": "garbage"}],
    )
    async def test_bad_filters_are_422(
        self, client: httpx.AsyncClient, admin: TestUser, params: dict
    ):
        response = await client.get(AUDIT, params=params, headers=admin.headers)
        assert response.status_code == 422, response.text
