"""User administration over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select, text, update

from app.kit.db import transaction
from app.models import AdminAction, CreditTransaction, Job, User
from tests.admin.test_foundation import assert_error, audit_rows
from tests.factories import (
    API,
    DEFAULT_PASSWORD,
    TestUser,
    balance,
    create_admin,
    create_project,
    create_user,
    signin,
    submit_job,
)
from tests.images import fetch, image_bytes, upload
from tests.profile.test_avatar import files_under
from tests.support.dispatch import hold_jobs

USERS = f"{API}/admin/users"
GHOST = str(uuid.uuid4())


async def ledger_matches(app: FastAPI, user_id: str) -> tuple[int, int]:
    async with transaction(app.state.ports.database.sessionmaker) as session:
        cached = await session.scalar(select(User.credits).where(User.id == uuid.UUID(user_id)))
        ledger = await session.scalar(
            select(func.coalesce(func.sum(CreditTransaction.delta), 0)).where(
                CreditTransaction.user_id == uuid.UUID(user_id)
            )
        )
    return int(cached or 0), int(ledger or 0)


async def set_columns(app: FastAPI, user_id: str, **values: Any) -> None:
    async with transaction(app.state.ports.database.sessionmaker) as session:
        await session.execute(update(User).where(User.id == uuid.UUID(user_id)).values(**values))


# Every route: method, path (with {id} for the target) and a valid body.
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/users", None),
    ("GET", "/users/{id}", None),
    ("POST", "/users/{id}/credits", {"delta": 5, "reason": "goodwill"}),
    ("POST", "/users/{id}/suspend", {"reason": "abuse"}),
    ("POST", "/users/{id}/unsuspend", {"reason": "appeal"}),
    ("DELETE", "/users/{id}", None),
    (
        "POST",
        "/users/bulk",
        {
            "users": [
                {
                    "email": "bulk@example.com",
                    "username": "bulk_one",
                    "full_name": "Bulk One",
                    "dob": "1990-01-01",
                }
            ]
        },
    ),
    ("GET", "/audit", None),
]


async def call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    *,
    target: str,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    url = f"{API}/admin{path.replace('{id}', target)}"
    return await client.request(method, url, json=body, headers=headers)


class TestAccess:
    @pytest.mark.parametrize(("method", "path", "body"), ROUTES)
    async def test_no_token_is_401(
        self, client: httpx.AsyncClient, user: TestUser, method: str, path: str, body: Any
    ):
        response = await call(client, method, path, body, target=user.id)
        assert_error(response, 401, "not_authenticated")

    @pytest.mark.parametrize(("method", "path", "body"), ROUTES)
    async def test_a_user_is_403_and_nothing_changes(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        user: TestUser,
        other: TestUser,
        method: str,
        path: str,
        body: Any,
    ):
        response = await call(client, method, path, body, target=other.id, headers=user.headers)
        assert_error(response, 403, "admin_required")
        assert await audit_rows(app) == []
        assert (await client.get(f"{API}/auth/me", headers=other.headers)).status_code == 200
        assert await balance(client, other) == 10

    @pytest.mark.parametrize(
        ("method", "path", "body"), [route for route in ROUTES if "{id}" in route[1]]
    )
    async def test_an_unknown_id_is_404(
        self, client: httpx.AsyncClient, admin: TestUser, method: str, path: str, body: Any
    ):
        response = await call(client, method, path, body, target=GHOST, headers=admin.headers)
        assert_error(response, 404, "not_found")

    @pytest.mark.parametrize(
        ("method", "path", "body"), [route for route in ROUTES if "{id}" in route[1]]
    )
    async def test_a_malformed_id_is_404(
        self, client: httpx.AsyncClient, admin: TestUser, method: str, path: str, body: Any
    ):
        # Only UUIDs match these paths, so `/users/bulk` never reads as an id.
        response = await call(client, method, path, body, target="nope", headers=admin.headers)
        assert_error(response, 404, "not_found")


class TestList:
    async def _seed(self, app: FastAPI) -> dict[str, TestUser]:
        people = {
            "ana": await create_user(
                app, email="ana.lima@example.com", username="ana_l", full_name="Ana Lima"
            ),
            "bob": await create_user(
                app, email="bob@stonecorp.io", username="bobby", full_name="Robert Stone"
            ),
            "cy": await create_user(
                app, email="cy@example.com", username="cyrus", full_name="Cyrus Ánimo"
            ),
        }
        now = datetime.now(UTC)
        await set_columns(app, people["bob"].id, credits=50, last_seen_at=now)
        await set_columns(app, people["cy"].id, email_confirmed_at=None, credits=0)
        await set_columns(
            app,
            people["ana"].id,
            last_seen_at=now - timedelta(days=1),
            created_at=now - timedelta(days=30),
        )
        return people

    async def test_search_is_case_insensitive_over_email_username_and_name(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser
    ):
        people = await self._seed(app)

        async def ids(search: str) -> set[str]:
            response = await client.get(USERS, params={"search": search}, headers=admin.headers)
            assert response.status_code == 200, response.text
            return {item["id"] for item in response.json()["items"]}

        assert await ids("LIMA") == {people["ana"].id}  # email and name
        assert await ids("Bobb") == {people["bob"].id}  # username
        assert await ids("stone") == {people["bob"].id}  # full name
        assert await ids("example.com") == {people["ana"].id, people["cy"].id, admin.id}
        # LIKE's wildcards are searched for as text.
        assert await ids("%") == set()
        assert await ids("_l") == {people["ana"].id}
        # The term is written into the statement: quotes and backslashes stay text.
        for term in ("o'brien", "x' OR '1'='1", "\\", "\\' OR 1=1 --", "'; DROP TABLE users; --"):
            assert await ids(term) == set(), term
        assert await ids("lima") == {people["ana"].id}

    async def test_filters(self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser):
        people = await self._seed(app)

        async def ids(**params: str) -> set[str]:
            response = await client.get(USERS, params=params, headers=admin.headers)
            assert response.status_code == 200, response.text
            return {item["id"] for item in response.json()["items"]}

        assert await ids(role="admin") == {admin.id}
        assert await ids(status="unconfirmed") == {people["cy"].id}
        assert await ids(status="active") == {people["ana"].id, people["bob"].id, admin.id}
        assert await ids(status="suspended") == set()
        cutoff = (datetime.now(UTC) - timedelta(days=7)).isoformat()
        assert await ids(created_to=cutoff) == {people["ana"].id}
        assert people["ana"].id not in await ids(created_from=cutoff)

    @pytest.mark.parametrize(
        ("sort", "order", "expected"),
        [
            ("email", "asc", ["admin", "ana", "bob", "cy"]),
            ("email", "desc", ["cy", "bob", "ana", "admin"]),
            ("username", "desc", ["admin", "cy", "bob", "ana"]),
            ("credits", "desc", ["bob", "admin", "ana", "cy"]),
            ("credits", "asc", ["cy", "ana", "admin", "bob"]),
            # Never seen (cy) sorts last ascending and first descending, as Postgres orders
            # NULLs, on both databases.
            ("last_seen_at", "asc", ["ana", "bob", "admin", "cy"]),
            ("last_seen_at", "desc", ["cy", "admin", "bob", "ana"]),
            # Ana was created a month ago; the others in the order they were made.
            ("created_at", "asc", ["ana", "admin", "bob", "cy"]),
            ("created_at", "desc", ["cy", "bob", "admin", "ana"]),
        ],
    )
    async def test_sorts(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        admin: TestUser,
        sort: str,
        order: str,
        expected: list[str],
    ):
        people = await self._seed(app)
        await set_columns(
            app,
            admin.id,
            email="aaa-admin@example.com",
            username="zzz_admin",
            credits=20,
            last_seen_at=datetime.now(UTC) + timedelta(minutes=1),
        )
        names = {person.id: name for name, person in people.items()} | {admin.id: "admin"}

        response = await client.get(
            USERS, params={"sort": sort, "order": order}, headers=admin.headers
        )

        assert response.status_code == 200, response.text
        assert [names[item["id"]] for item in response.json()["items"]] == expected

    async def test_limit_offset_total_and_cursor(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser
    ):
        await self._seed(app)
        first = await client.get(
            USERS,
            params={"sort": "email", "order": "asc", "limit": 2, "include_total": "true"},
            headers=admin.headers,
        )
        body = first.json()
        assert body["total"] == 4
        assert len(body["items"]) == 2
        second = await client.get(
            USERS,
            params={"sort": "email", "order": "asc", "limit": 2, "offset": 2},
            headers=admin.headers,
        )
        emails = [item["email"] for item in body["items"] + second.json()["items"]]
        assert emails == sorted(emails)
        assert len(set(emails)) == 4

        page = await client.get(USERS, params={"limit": 3}, headers=admin.headers)
        cursor = page.json()["next_cursor"]
        assert cursor
        rest = await client.get(USERS, params={"limit": 3, "cursor": cursor}, headers=admin.headers)
        assert len(rest.json()["items"]) == 1
        assert rest.json()["next_cursor"] is None

        refused = await client.get(
            USERS, params={"sort": "email", "cursor": cursor}, headers=admin.headers
        )
        assert_error(refused, 422, "invalid_cursor")

    @pytest.mark.parametrize(
        "params",
        [
            {"sort": "password_hash"},
            {"order": "sideways"},
            {"status": "deleted"},
            {"role": "root"},
            {"created_from": "yesterday"},
            {"limit": 101},
            {"search": ""},
            {"search": "x" * 101},
        ],
    )
    async def test_bad_input_is_422(
        self, client: httpx.AsyncClient, admin: TestUser, params: dict[str, Any]
    ):
        response = await client.get(USERS, params=params, headers=admin.headers)
        assert response.status_code == 422, response.text

    async def test_no_secret_is_listed(self, client: httpx.AsyncClient, admin: TestUser):
        response = await client.get(USERS, headers=admin.headers)
        assert "password" not in response.text.replace("has_password", "")


@pytest.mark.postgres
class TestSearchIndexes:
    async def test_postgres_serves_search_from_trigram_indexes(
        self, app: FastAPI, database_url: str
    ):
        if not database_url.startswith("postgresql"):
            pytest.skip("the trigram indexes are Postgres'")
        async with transaction(app.state.ports.database.sessionmaker) as session:
            names = set(
                await session.scalars(
                    text("select indexname from pg_indexes where tablename = 'users'")
                )
            )
            assert {
                "ix_users_email_trgm",
                "ix_users_username_trgm",
                "ix_users_full_name_trgm",
            } <= names
            await session.execute(text("set local enable_seqscan = off"))
            plan = "\n".join(
                await session.scalars(
                    text(
                        "explain select id from users where lower(email) like '%abc%' "
                        "or lower(username) like '%abc%' or lower(full_name) like '%abc%'"
                    )
                )
            )
        assert "ix_users_email_trgm" in plan
        assert "ix_users_full_name_trgm" in plan

    async def test_each_search_statement_carries_its_term(self, app: FastAPI):
        """A prepared statement bound to any pattern gets a generic plan after a few runs,
        which cannot tell a rare term from a common one: the term is written into the
        statement (quoted by the dialect), so each search is planned for its own term."""
        from app.admin import repository
        from app.admin.schemas import SortOrder, UserSort
        from app.kit.pagination import PageParams

        page = PageParams(limit=10, offset=0, cursor=None, include_total=True)
        database = app.state.ports.database
        statements: list[str] = []

        def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        event.listen(database.engine.sync_engine, "before_cursor_execute", capture)
        try:
            async with database.read_sessionmaker() as session:
                window = await repository.list_users(
                    session,
                    filters=repository.UserFilters(search="Rare'Term"),
                    sort=UserSort.EMAIL,
                    order=SortOrder.ASC,
                    page=page,
                )
        finally:
            event.remove(database.engine.sync_engine, "before_cursor_execute", capture)
        assert window.rows == []
        assert window.total == 0
        assert len(statements) == 2  # the count and the page
        assert all("LIKE '%rare''term%'" in statement for statement in statements)


class TestDetail:
    async def test_profile_balance_counts_ledger_sessions_and_jobs(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        hold_jobs(app)
        response = await upload(client, user, image_bytes(), type="selfie")
        assert response.status_code == 201, response.text
        project = await create_project(client, user)
        job = await submit_job(client, user, project["id"], variants=2)
        await signin(client, user.email, DEFAULT_PASSWORD, **{"User-Agent": "second-browser"})

        response = await client.get(f"{USERS}/{user.id}", headers=admin.headers)

        assert response.status_code == 200, response.text
        detail = response.json()
        assert detail["user"]["id"] == user.id
        assert detail["user"]["status"] == "active"
        assert detail["user"]["has_password"] is True
        assert detail["balance"] == 8
        assert detail["counts"] == {"projects": 1, "jobs": 1, "assets": 1}
        assert [row["reason"] for row in detail["recent_transactions"]] == [
            "job_charge",
            "signup_bonus",
        ]
        assert len(detail["sessions"]) == 2
        assert "second-browser" in {session["user_agent"] for session in detail["sessions"]}
        assert [item["id"] for item in detail["recent_jobs"]] == [job["id"]]
        assert detail["recent_jobs"][0]["status"] == "queued"
        assert "password_hash" not in response.text
        assert "refresh_hash" not in response.text


class TestCredits:
    async def test_grant_and_deduct_through_the_ledger_with_audit(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        url = f"{USERS}/{user.id}/credits"
        granted = await client.post(
            url, json={"delta": 25, "reason": "support ticket 12"}, headers=admin.headers
        )
        assert granted.status_code == 200, granted.text
        body = granted.json()
        assert body["balance"] == 35
        deducted = await client.post(
            url, json={"delta": -30, "reason": "duplicate grant"}, headers=admin.headers
        )
        assert deducted.json()["balance"] == 5
        assert await balance(client, user) == 5
        assert await ledger_matches(app, user.id) == (5, 5)

        rows = await audit_rows(app, action="user.credits")
        assert [(row.before, (row.after or {})["credits"], row.reason) for row in rows] == [
            ({"credits": 10}, 35, "support ticket 12"),
            ({"credits": 35}, 5, "duplicate grant"),
        ]
        assert rows[0].actor_id == uuid.UUID(admin.id)
        assert rows[0].request_id == granted.headers["X-Request-ID"]
        assert str(rows[0].id) == body["action_id"]
        async with transaction(app.state.ports.database.sessionmaker) as session:
            references = list(
                await session.scalars(
                    select(CreditTransaction.reason + ":" + CreditTransaction.reference).where(
                        CreditTransaction.reference.like("admin:%")
                    )
                )
            )
        assert sorted(references) == sorted(
            [f"admin_grant:admin:{rows[0].id}", f"admin_deduction:admin:{rows[1].id}"]
        )

    async def test_never_below_zero(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        response = await client.post(
            f"{USERS}/{user.id}/credits",
            json={"delta": -11, "reason": "x"},
            headers=admin.headers,
        )
        assert_error(response, 409, "insufficient_credits")
        assert await balance(client, user) == 10
        assert await audit_rows(app, action="user.credits") == []

    @pytest.mark.parametrize(
        "body",
        [
            {"delta": 0, "reason": "nothing"},
            {"delta": 5},
            {"delta": 5, "reason": ""},
            {"delta": 5, "reason": "   "},
            {"delta": 10**9, "reason": "too much"},
            {"delta": "ten", "reason": "x"},
            {"delta": 1.5, "reason": "x"},
        ],
    )
    async def test_bad_input_is_422(
        self, client: httpx.AsyncClient, admin: TestUser, user: TestUser, body: dict
    ):
        response = await client.post(f"{USERS}/{user.id}/credits", json=body, headers=admin.headers)
        assert response.status_code == 422, response.text

    async def test_balance_equals_the_ledger_under_concurrent_grants_and_deductions(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        url = f"{USERS}/{user.id}/credits"
        deltas = [7, -5, -5, 3, -4, -6, 10, -8, -2, -9] * 3

        async def change(delta: int) -> int:
            response = await client.post(
                url, json={"delta": delta, "reason": "load"}, headers=admin.headers
            )
            assert response.status_code in (200, 409), response.text
            return response.status_code

        statuses = await asyncio.gather(*(change(delta) for delta in deltas))

        cached, ledger = await ledger_matches(app, user.id)
        assert cached == ledger
        assert cached >= 0
        applied = [delta for delta, code in zip(deltas, statuses, strict=True) if code == 200]
        assert cached == 10 + sum(applied)
        assert len(await audit_rows(app, action="user.credits")) == len(applied)
        assert statuses.count(409) >= 1  # the deductions outrun the balance at some point


class TestSuspension:
    async def test_every_session_ends_on_its_next_request(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        second = await signin(client, user.email, DEFAULT_PASSWORD)
        second_headers = {"Authorization": f"Bearer {second['access_token']}"}
        for headers in (user.headers, second_headers):
            assert (await client.get(f"{API}/auth/me", headers=headers)).status_code == 200

        response = await client.post(
            f"{USERS}/{user.id}/suspend", json={"reason": "spam"}, headers=admin.headers
        )

        assert response.status_code == 200, response.text
        assert response.json()["revoked_sessions"] == 2
        assert response.json()["user"]["status"] == "suspended"
        for headers in (user.headers, second_headers):
            me = await client.get(f"{API}/auth/me", headers=headers)
            assert me.status_code == 401, me.text
        refresh = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": second["refresh_token"]}
        )
        assert refresh.status_code == 401
        signin_again = await client.post(
            f"{API}/auth/signin", json={"email": user.email, "password": DEFAULT_PASSWORD}
        )
        assert_error(signin_again, 403, "account_suspended")
        # The admin's own session is untouched.
        assert (await client.get(f"{API}/auth/me", headers=admin.headers)).status_code == 200

    async def test_queued_jobs_are_canceled_and_refunded_once(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        held = hold_jobs(app)
        project = await create_project(client, user)
        first = await submit_job(client, user, project["id"], variants=3)
        second = await submit_job(client, user, project["id"], variants=2)
        assert await balance(client, user) == 5

        response = await client.post(
            f"{USERS}/{user.id}/suspend", json={"reason": "fraud"}, headers=admin.headers
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert sorted(body["canceled_jobs"]) == sorted([first["id"], second["id"]])
        assert body["refunded_credits"] == 5
        assert body["user"]["credits"] == 10
        # The worker arrives later and finds nothing to run or refund.
        assert await held.release() == [None, None]
        assert await ledger_matches(app, user.id) == (10, 10)
        async with transaction(app.state.ports.database.sessionmaker) as session:
            statuses = set(await session.scalars(select(Job.status)))
            refunds = await session.scalar(
                select(func.count())
                .select_from(CreditTransaction)
                .where(CreditTransaction.reason == "job_refund")
            )
        assert statuses == {"canceled"}
        assert refunds == 2

        (row,) = await audit_rows(app, action="user.suspend")
        assert row.reason == "fraud"
        assert row.before is not None
        assert row.after is not None
        assert row.before["suspended_at"] is None
        assert row.after["refunded_credits"] == 5
        assert sorted(row.after["canceled_jobs"]) == sorted([first["id"], second["id"]])

    async def test_unsuspend_lets_them_sign_in_again(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        await client.post(f"{USERS}/{user.id}/suspend", json={"reason": "x"}, headers=admin.headers)
        again = await client.post(
            f"{USERS}/{user.id}/suspend", json={"reason": "x"}, headers=admin.headers
        )
        assert_error(again, 409, "already_suspended")

        response = await client.post(f"{USERS}/{user.id}/unsuspend", headers=admin.headers)

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "active"
        assert response.json()["suspension_reason"] is None
        tokens = await signin(client, user.email, DEFAULT_PASSWORD)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await client.get(f"{API}/auth/me", headers=headers)).status_code == 200
        # The old session stays ended.
        assert (await client.get(f"{API}/auth/me", headers=user.headers)).status_code == 401
        twice = await client.post(
            f"{USERS}/{user.id}/unsuspend", json={"reason": "again"}, headers=admin.headers
        )
        assert_error(twice, 409, "not_suspended")
        actions = [row.action for row in await audit_rows(app, target_id=uuid.UUID(user.id))]
        assert actions == ["user.suspend", "user.unsuspend"]

    async def test_an_admin_cannot_suspend_themselves(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser
    ):
        response = await client.post(
            f"{USERS}/{admin.id}/suspend", json={"reason": "x"}, headers=admin.headers
        )
        assert_error(response, 409, "own_account")

    @pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 501}, None])
    async def test_a_reason_is_required(
        self, client: httpx.AsyncClient, admin: TestUser, user: TestUser, body: Any
    ):
        response = await client.post(f"{USERS}/{user.id}/suspend", json=body, headers=admin.headers)
        assert response.status_code == 422, response.text

    async def test_unsuspend_rejects_a_bad_reason(
        self, client: httpx.AsyncClient, admin: TestUser, user: TestUser
    ):
        response = await client.post(
            f"{USERS}/{user.id}/unsuspend", json={"reason": ""}, headers=admin.headers
        )
        assert response.status_code == 422, response.text


def bulk_row(**overrides: Any) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    row: dict[str, Any] = {
        "email": f"bulk-{suffix}@example.com",
        "username": f"bulk_{suffix}",
        "full_name": "Bulk Person",
        "dob": "1992-03-04",
    }
    row.update(overrides)
    return row


async def user_count(app: FastAPI) -> int:
    async with transaction(app.state.ports.database.sessionmaker) as session:
        return int(await session.scalar(select(func.count()).select_from(User)) or 0)


class TestBulk:
    async def test_creates_confirmed_and_unconfirmed_accounts_with_credits(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser
    ):
        with_password = bulk_row(password="violet canyon sparrow", confirmed=True, credits=40)
        without = bulk_row()
        response = await client.post(
            f"{USERS}/bulk",
            json={"users": [with_password, without], "reason": "workshop"},
            headers=admin.headers,
        )

        assert response.status_code == 201, response.text
        created = response.json()["created"]
        assert [item["email"] for item in created] == [with_password["email"], without["email"]]
        assert [item["status"] for item in created] == ["active", "unconfirmed"]
        assert [item["credits"] for item in created] == [40, 0]
        assert [item["has_password"] for item in created] == [True, False]
        assert await ledger_matches(app, created[0]["id"]) == (40, 40)
        tokens = await signin(client, with_password["email"], "violet canyon sparrow")
        assert tokens["user"]["credits"] == 40
        # No password: sign-in is refused like a wrong one, until forgot-password sets one.
        refused = await client.post(
            f"{API}/auth/signin", json={"email": without["email"], "password": "anything at all"}
        )
        assert_error(refused, 401, "invalid_credentials")

        rows = await audit_rows(app, action="users.bulk_create")
        assert {str(row.target_id) for row in rows} == {item["id"] for item in created}
        assert {row.reason for row in rows} == {"workshop"}
        assert {row.request_id for row in rows} == {response.headers["X-Request-ID"]}
        async with transaction(app.state.ports.database.sessionmaker) as session:
            grant = await session.scalar(
                select(CreditTransaction).where(
                    CreditTransaction.user_id == uuid.UUID(created[0]["id"])
                )
            )
        granted_row = next(row for row in rows if str(row.target_id) == created[0]["id"])
        assert grant is not None
        assert grant.reference == f"admin:{granted_row.id}"

    async def test_a_duplicate_inside_the_batch_writes_nothing(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser
    ):
        before = await user_count(app)
        first = bulk_row(credits=5)
        rows = [
            first,
            bulk_row(),
            bulk_row(email=first["email"].upper()),
            bulk_row(username=first["username"]),
        ]

        response = await client.post(f"{USERS}/bulk", json={"users": rows}, headers=admin.headers)

        assert_error(response, 422, "invalid_rows")
        problems = {(row["index"], row["field"]) for row in response.json()["rows"]}
        assert problems == {(2, "email"), (3, "username")}
        assert "2, 3" in response.json()["detail"]
        assert await user_count(app) == before
        assert await audit_rows(app, action="users.bulk_create") == []

    async def test_a_clash_with_an_existing_account_writes_nothing(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        before = await user_count(app)
        rows = [bulk_row(credits=5), bulk_row(email=user.email), bulk_row(username=user.username)]
        response = await client.post(f"{USERS}/bulk", json={"users": rows}, headers=admin.headers)
        assert_error(response, 422, "invalid_rows")
        assert {(row["index"], row["field"]) for row in response.json()["rows"]} == {
            (1, "email"),
            (2, "username"),
        }
        assert await user_count(app) == before

    async def test_a_weak_password_writes_nothing(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser
    ):
        before = await user_count(app)
        weak = bulk_row(password="password123")
        own = bulk_row()
        own["password"] = own["username"]
        response = await client.post(
            f"{USERS}/bulk",
            json={"users": [bulk_row(password="violet canyon sparrow"), weak, own]},
            headers=admin.headers,
        )
        assert_error(response, 422, "invalid_rows")
        assert {(row["index"], row["field"]) for row in response.json()["rows"]} == {
            (1, "password"),
            (2, "password"),
        }
        assert "password123" not in response.text
        assert await user_count(app) == before

    @pytest.mark.parametrize(
        "body",
        [
            {"users": []},
            {"users": [bulk_row() for _ in range(101)]},
            {"users": [bulk_row(email="not-an-email")]},
            {"users": [bulk_row(dob="2020-01-01")]},
            {"users": [bulk_row(credits=-1)]},
            {"users": [bulk_row(password="short")]},
            {},
        ],
    )
    async def test_bad_input_is_422(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, body: dict
    ):
        before = await user_count(app)
        response = await client.post(f"{USERS}/bulk", json=body, headers=admin.headers)
        assert response.status_code == 422, response.text
        assert await user_count(app) == before

    async def test_a_hundred_rows_in_one_request(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser
    ):
        before = await user_count(app)
        rows = [bulk_row(credits=1) for _ in range(100)]
        response = await client.post(f"{USERS}/bulk", json={"users": rows}, headers=admin.headers)
        assert response.status_code == 201, response.text
        assert await user_count(app) == before + 100


class TestDelete:
    async def test_deletes_rows_files_and_sessions_like_delete_profile(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        admin: TestUser,
        user: TestUser,
        other: TestUser,
    ):
        storage = app.state.ports.storage
        uploaded = await upload(client, user, image_bytes(), type="selfie")
        assert uploaded.status_code == 201, uploaded.text
        await storage.put("renders", f"{user.id}/job-1/variant-a.png", b"r", content_type="x")
        kept = (await upload(client, other, image_bytes(), type="selfie")).json()
        for bucket in ("user_assets", "renders"):
            assert files_under(app, bucket, user.id)

        response = await client.delete(
            f"{USERS}/{user.id}", params={"reason": "GDPR request"}, headers=admin.headers
        )

        assert response.status_code == 204, response.text
        for bucket in ("user_assets", "renders"):
            assert files_under(app, bucket, user.id) == []
        assert files_under(app, "user_assets", other.id)
        assert (await fetch(client, uploaded.json()["url"])).status_code == 404
        assert (await fetch(client, kept["url"])).status_code == 200
        assert (await client.get(f"{API}/auth/me", headers=user.headers)).status_code == 401
        assert (await client.get(f"{USERS}/{user.id}", headers=admin.headers)).status_code == 404
        assert await user_count(app) == 2
        (row,) = await audit_rows(app, action="user.delete")
        assert row.target_id == uuid.UUID(user.id)
        assert row.reason == "GDPR request"
        assert row.before is not None
        assert row.before["email"] == user.email
        again = await client.delete(f"{USERS}/{user.id}", headers=admin.headers)
        assert_error(again, 404, "not_found")

    async def test_an_admin_cannot_delete_themselves(
        self, client: httpx.AsyncClient, admin: TestUser
    ):
        response = await client.delete(f"{USERS}/{admin.id}", headers=admin.headers)
        assert_error(response, 409, "own_account")

    async def test_a_deleted_admins_audit_rows_stay(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        await client.post(
            f"{USERS}/{user.id}/credits", json={"delta": 1, "reason": "x"}, headers=admin.headers
        )
        second = await create_admin(app)
        response = await client.delete(f"{USERS}/{admin.id}", headers=second.headers)
        assert response.status_code == 204, response.text
        (row,) = await audit_rows(app, action="user.credits")
        assert row.actor_id is None
        assert row.target_id == uuid.UUID(user.id)

    async def test_a_long_reason_is_422(
        self, client: httpx.AsyncClient, admin: TestUser, user: TestUser
    ):
        response = await client.delete(
            f"{USERS}/{user.id}", params={"reason": "x" * 501}, headers=admin.headers
        )
        assert response.status_code == 422


class TestAuditOfEveryAction:
    async def test_audit_lists_each_action_by_target(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        await client.post(
            f"{USERS}/{user.id}/credits", json={"delta": 3, "reason": "a"}, headers=admin.headers
        )
        await client.post(f"{USERS}/{user.id}/suspend", json={"reason": "b"}, headers=admin.headers)
        await client.post(f"{USERS}/{user.id}/unsuspend", headers=admin.headers)
        await client.delete(f"{USERS}/{user.id}", headers=admin.headers)
        response = await client.get(
            f"{API}/admin/audit", params={"target_id": user.id}, headers=admin.headers
        )
        assert [item["action"] for item in response.json()["items"]] == [
            "user.delete",
            "user.unsuspend",
            "user.suspend",
            "user.credits",
        ]
        assert {item["actor_id"] for item in response.json()["items"]} == {admin.id}
        async with transaction(app.state.ports.database.sessionmaker) as session:
            total = await session.scalar(select(func.count()).select_from(AdminAction))
        assert total == 5  # and the admin's own promotion


async def read_user(app: FastAPI, user_id: str) -> User:
    async with transaction(app.state.ports.database.sessionmaker) as session:
        row = await session.get(User, uuid.UUID(user_id))
        assert row is not None
        return row


class TestLastSeen:
    async def test_written_at_sign_in_and_refresh_only(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        assert (await read_user(app, user.id)).last_seen_at is None  # made without signing in
        tokens = await signin(client, user.email, DEFAULT_PASSWORD)
        signed_in = (await read_user(app, user.id)).last_seen_at
        assert signed_in is not None
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await client.get(f"{API}/auth/me", headers=headers)).status_code == 200
        assert (await read_user(app, user.id)).last_seen_at == signed_in  # not per request

        refreshed = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 200, refreshed.text
        later = (await read_user(app, user.id)).last_seen_at
        assert later is not None
        assert later >= signed_in


class TestSuspendedAccountWithALiveSession:
    """Suspension revokes sessions; these checks hold even for one that survived a race."""

    async def test_requests_are_401_and_refresh_is_403(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        await set_columns(app, user.id, suspended_at=datetime.now(UTC), suspension_reason="x")

        me = await client.get(f"{API}/auth/me", headers=user.headers)
        assert_error(me, 401, "session_revoked")
        refresh = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": user.refresh_token}
        )
        assert_error(refresh, 403, "account_suspended")


class TestSuspensionOfRunningJobs:
    async def test_a_running_job_is_asked_to_stop(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        hold_jobs(app)
        project = await create_project(client, user)
        job = await submit_job(client, user, project["id"], variants=2)
        # As a runner's claim leaves it; the runner refunds what it does not deliver.
        async with transaction(app.state.ports.database.sessionmaker) as session:
            await session.execute(
                update(Job)
                .where(Job.id == uuid.UUID(job["id"]))
                .values(status="running", attempts=1, lease_until=datetime.now(UTC))
            )

        response = await client.post(
            f"{USERS}/{user.id}/suspend", json={"reason": "x"}, headers=admin.headers
        )

        assert response.status_code == 200, response.text
        assert response.json()["stopping_jobs"] == [job["id"]]
        assert response.json()["canceled_jobs"] == []
        assert response.json()["refunded_credits"] == 0
        async with transaction(app.state.ports.database.sessionmaker) as session:
            row = await session.get(Job, uuid.UUID(job["id"]))
            assert row is not None
            assert row.cancel_requested is True
