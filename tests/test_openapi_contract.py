"""The API against its own OpenAPI schema, with schemathesis generating the requests.

Every operation gets generated requests, valid and invalid, signed in as a confirmed user who
owns a project, assets, a finished job and a chat; each response must be declared by the schema
(status, content type, headers, body) and no request may cause a 5xx. The run is bounded and
derandomized so it takes the same cases each time, and it runs on SQLite only: the subject is
the contract, which does not depend on the database.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from app.config import Settings
from app.main import create_app
from tests.conftest import empty_tables, http_client, make_settings
from tests.factories import (
    API,
    TestUser,
    create_admin,
    create_project,
    create_user,
    submit_job,
    wait_for_job,
)
from tests.images import image_bytes, upload

# These end the session the run is signed in with; tests/auth and tests/profile cover them.
ENDS_THE_SESSION = {
    ("POST", f"{API}/auth/logout"),
    ("DELETE", f"{API}/auth/sessions/{{session_id}}"),
    ("DELETE", f"{API}/profile"),
}
# The rate limits production runs with, rather than the test suite's generous ones.
PRODUCTION_RATE_LIMITS = {
    name: Settings.model_fields[name].default
    for name in Settings.model_fields
    if name.startswith("rate_limit_")
}


@dataclass
class Seeded:
    """What the signed-in user owns; generated ids are swapped for these so requests reach
    real rows instead of answering 404 every time."""

    user: TestUser | None = None
    # Signs the admin operations, which then act on `user`.
    admin: TestUser | None = None
    ids: dict[str, str] = field(default_factory=dict)
    signed_file: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        assert self.user is not None, "the app was not seeded"
        return self.user.headers

    def headers_for(self, case: schemathesis.Case) -> dict[str, str]:
        if case.operation.path.startswith(f"{API}/admin/"):
            assert self.admin is not None, "the app was not seeded"
            return self.admin.headers
        return self.headers

    def fill(self, case: schemathesis.Case) -> None:
        """Point the ids of a valid request at the seeded objects."""
        if case.meta is not None and case.meta.generation.mode.is_negative:
            return
        for container in (case.path_parameters, case.query):
            if container:
                self._swap(container)
        if isinstance(case.body, dict):
            self._swap(case.body)
        if case.operation.path == f"{API}/files/{{bucket}}/{{path}}" and case.path_parameters:
            case.path_parameters.update(
                bucket=self.signed_file["bucket"], path=self.signed_file["path"]
            )
            case.query = {
                "expires": self.signed_file["expires"],
                "signature": self.signed_file["signature"],
            }

    def _swap(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            replacement = self.ids.get(name)
            if replacement is None:
                continue
            if isinstance(value, list):
                values[name] = [replacement if _is_uuid(item) else item for item in value]
            elif _is_uuid(value):
                values[name] = replacement


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


async def seed(app: FastAPI, seeded: Seeded) -> None:
    """A user with assets, a project that uses them, a finished job and a chat; an admin."""
    user = await create_user(app)
    seeded.admin = await create_admin(app)
    async with http_client(app) as client:
        assets = {}
        for kind in ("selfie", "ref", "copy_target"):
            response = await upload(client, user, image_bytes(), type=kind)
            assert response.status_code == 201, response.text
            assets[kind] = response.json()
        project = await create_project(
            client,
            user,
            selfie_asset_ids=[assets["selfie"]["id"]],
            ref_asset_ids=[assets["ref"]["id"]],
        )
        job = await submit_job(client, user, project["id"])
        await wait_for_job(client, app, user, job["id"])
        chat = await client.post(
            f"{API}/chat/new", json={"project_id": project["id"]}, headers=user.headers
        )
        assert chat.status_code == 201, chat.text
    seeded.user = user
    seeded.ids = {
        "project_id": project["id"],
        "job_id": job["id"],
        "chat_id": chat.json()["id"],
        "asset_id": assets["selfie"]["id"],
        "selfie_asset_ids": assets["selfie"]["id"],
        "ref_asset_ids": assets["ref"]["id"],
        "copy_target_asset_id": assets["copy_target"]["id"],
        "user_id": user.id,
    }
    url = urlsplit(assets["selfie"]["url"])
    bucket, path = url.path.removeprefix(f"{API}/files/").split("/", 1)
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    seeded.signed_file = {"bucket": bucket, "path": path, **query}


@dataclass
class ContractApp:
    app: FastAPI
    seeded: Seeded


@pytest.fixture
async def contract_app(sqlite_database: str, tmp_path: Path) -> AsyncIterator[ContractApp]:
    """A seeded app on production rate limits, for the cases of one operation.

    Schemathesis serves the app from an event loop of its own (and starts its lifespan there),
    so nothing tied to this loop may outlive the seeding: the job has finished and the
    database pool is emptied before the cases run.
    """
    application = create_app(
        make_settings(
            database_url=sqlite_database,
            data_dir=tmp_path / "data",
            sweep_interval_seconds=0,
            **PRODUCTION_RATE_LIMITS,
        )
    )
    database = application.state.ports.database
    await empty_tables(database)
    seeded = Seeded()
    await seed(application, seeded)
    await application.state.ports.dispatcher.drain()
    await database.dispose()
    try:
        yield ContractApp(application, seeded)
    finally:
        await empty_tables(database)
        await database.dispose()


# Valid requests must succeed, except where the API refuses them for a reason no schema can
# state; schemathesis accepts only 2xx, 3xx, 401, 403, 404, 409 and 429 (5xx fail elsewhere).
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
CANNOT_BE_STATED = {
    # Age from the date of birth; the password differs from the email; passwords match.
    ("POST", f"{API}/auth/signup"): ["422"],
    # An address on a reserved domain (`.test`, `.local`) is no address: `format: email`
    # allows it, the email validator does not.
    ("POST", f"{API}/auth/start"): ["422"],
    ("POST", f"{API}/auth/signin"): ["422"],
    ("POST", f"{API}/auth/resend-confirmation"): ["422"],
    ("POST", f"{API}/auth/forgot-password"): ["422"],
    ("PATCH", f"{API}/profile"): ["422"],
    # A token that was never issued, or has been spent.
    ("POST", f"{API}/auth/confirm"): ["400"],
    ("POST", f"{API}/auth/reset-password"): ["400", "422"],
    # The current password is wrong; the new one is not confirmed or not new.
    ("POST", f"{API}/auth/change-password"): ["400", "422"],
    # The bytes are not a PNG, JPEG or WebP image, too many pixels, or none at all.
    ("POST", f"{API}/profile/avatar"): ["400", "413", "415", "422"],
    ("POST", f"{API}/assets/upload"): ["400", "413", "415", "422"],
    # Too few credits; a model parameter or a picture the project lacks; a reused key.
    ("POST", f"{API}/jobs"): ["402", "422"],
    ("POST", f"{API}/chat/{{chat_id}}/messages"): ["402", "422"],
    # Every list takes `cursor`, an opaque token: one it never handed out is a 422.
    ("GET", f"{API}/credits/transactions"): ["422"],
    ("GET", f"{API}/credits/orders"): ["422"],
    ("GET", f"{API}/projects"): ["422"],
    ("GET", f"{API}/projects/{{project_id}}/jobs"): ["422"],
    ("GET", f"{API}/jobs"): ["422"],
    ("GET", f"{API}/chat"): ["422"],
    ("GET", f"{API}/chat/{{chat_id}}/messages"): ["422"],
    ("GET", f"{API}/assets"): ["422"],
    # A Last-Event-ID this stream never sent.
    ("GET", f"{API}/jobs/{{job_id}}/events"): ["400"],
    # The packages on sale are settings (CREDIT_PACKAGES), not part of the schema.
    ("POST", f"{API}/credits/purchase"): ["422"],
    # Assets of the wrong type, or a model that takes no such project.
    ("POST", f"{API}/projects"): ["422"],
    ("PATCH", f"{API}/projects/{{project_id}}"): ["422"],
    # Rows that repeat an email or username, weak passwords, too young a date of birth.
    ("POST", f"{API}/admin/users/bulk"): ["422"],
    # `cursor` pages only the created_at order, and must be one the list handed out.
    ("GET", f"{API}/admin/users"): ["422"],
    ("GET", f"{API}/admin/audit"): ["422"],
}
CONFIG = schemathesis.Config.from_dict(
    {
        # The API refuses NUL in any text (Postgres cannot store it): a rule for every string
        # that the schema does not repeat on each field.
        "generation": {"allow-x00": False},
        "operations": [
            {
                "include-name": f"{method} {path}",
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, *extra]}},
            }
            for (method, path), extra in CANNOT_BE_STATED.items()
        ],
    }
)

# The cases come from the schema the app serves at /api/v1/openapi.json, read from an app that
# needs no database; every case is then sent to the seeded app of its test (`app=`).
schema = schemathesis.openapi.from_asgi(
    f"{API}/openapi.json",
    create_app(
        make_settings(
            database_url="sqlite+aiosqlite:///:memory:",
            data_dir=Path("unused"),
            sweep_interval_seconds=0,
        )
    ),
    config=CONFIG,
).exclude(lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in ENDS_THE_SESSION)


@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_response_is_what_the_schema_says(
    case: schemathesis.Case, contract_app: ContractApp
) -> None:
    contract_app.seeded.fill(case)
    case.call_and_validate(app=contract_app.app, headers=contract_app.seeded.headers_for(case))
