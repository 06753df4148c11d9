"""Test factories: accounts, projects and jobs for tests, and mail read from the outbox."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from app.admin.roles import set_role
from app.auth import repository as auth_repository
from app.auth import service as auth_service
from app.auth.schemas import SignupRequest
from app.kit.db import transaction
from app.models import UserRole
from app.ports import Ports

DEFAULT_PASSWORD = "correct horse battery"
API = "/api/v1"
FACTORY_USER_AGENT = "tests/factory"


@dataclass
class TestUser:
    __test__ = False

    id: str
    email: str
    username: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def signup_body(**overrides: Any) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    body: dict[str, Any] = {
        "email": f"person-{suffix}@example.com",
        "password": DEFAULT_PASSWORD,
        "confirm_password": DEFAULT_PASSWORD,
        "username": f"person_{suffix}",
        "full_name": "Test Person",
        "dob": "1995-04-12",
    }
    body.update(overrides)
    if "password" in overrides and "confirm_password" not in overrides:
        body["confirm_password"] = overrides["password"]
    return body


def outbox_messages(app: FastAPI) -> list[Message]:
    folder: Path = app.state.ports.settings.data_dir / "outbox"
    if not folder.exists():
        return []
    return [message_from_bytes(path.read_bytes()) for path in sorted(folder.glob("*.eml"))]


def message_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("message has no text part")


def token_from_text(text: str, page: str) -> str:
    match = re.search(rf"/{page}\?token=([A-Za-z0-9_\-]+)", text)
    assert match, f"no {page} link in: {text!r}"
    return match.group(1)


def latest_token(app: FastAPI, email: str, page: str) -> str:
    for message in reversed(outbox_messages(app)):
        if message["To"] == email.lower() and f"/{page}?" in message_text(message):
            return token_from_text(message_text(message), page)
    raise AssertionError(f"no {page} mail for {email}")


async def signup(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    body = signup_body(**overrides)
    response = await client.post(f"{API}/auth/signup", json=body)
    assert response.status_code == 201, response.text
    return body


async def confirm(client: httpx.AsyncClient, app: FastAPI, email: str) -> None:
    token = latest_token(app, email, "confirm-email")
    response = await client.post(f"{API}/auth/confirm", json={"token": token})
    assert response.status_code == 200, response.text


async def signin(
    client: httpx.AsyncClient, email: str, password: str = DEFAULT_PASSWORD, **headers: str
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/auth/signin", json={"email": email, "password": password}, headers=headers
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def sign_up_through_api(
    client: httpx.AsyncClient, app: FastAPI, **overrides: Any
) -> TestUser:
    """A confirmed account with a live session, made as a person would: sign-up, the mailed
    confirmation link and sign-in, over HTTP. For tests of that path; others use `create_user`.
    """
    body = await signup(client, **overrides)
    await confirm(client, app, body["email"])
    tokens = await signin(client, body["email"], body["password"])
    return TestUser(
        id=tokens["user"]["id"],
        email=body["email"].lower(),
        username=body["username"].lower(),
        password=body["password"],
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )


async def create_user(app: FastAPI, **overrides: Any) -> TestUser:
    """A confirmed account with a live session, written through the account service.

    The same rows, credits and session as `sign_up_through_api`, without its three requests.
    """
    ports: Ports = app.state.ports
    body = signup_body(**overrides)
    data = SignupRequest.model_validate(body)
    async with transaction(ports.database.sessionmaker) as session:
        user = await auth_service.signup(session=session, ports=ports, data=data)
        await auth_service.mark_confirmed(session=session, ports=ports, user=user)
    tokens = await auth_service.open_session(
        ports=ports, user=user, user_agent=FACTORY_USER_AGENT, ip="127.0.0.1"
    )
    return TestUser(
        id=str(user.id),
        email=user.email,
        username=user.username,
        password=data.password,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
    )


async def create_project(
    client: httpx.AsyncClient, user: TestUser, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "platform": "youtube",
        "headline": "I tried this for 30 days",
        "subtext": "What nobody tells you",
        "vibe": "bold",
    }
    body.update(overrides)
    response = await client.post(f"{API}/projects", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    return project


async def submit_job(
    client: httpx.AsyncClient, user: TestUser, project_id: str, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"project_id": project_id, "quality": "std", "variants": 1}
    body.update(overrides)
    response = await client.post(f"{API}/jobs", json=body, headers=user.headers)
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return job


async def wait_for_job(
    client: httpx.AsyncClient, app: FastAPI, user: TestUser, job_id: str
) -> dict[str, Any]:
    """Let the background work finish, then read the job as a client would."""
    await app.state.ports.dispatcher.drain()
    response = await client.get(f"{API}/jobs/{job_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


async def balance(client: httpx.AsyncClient, user: TestUser) -> int:
    response = await client.get(f"{API}/credits/balance", headers=user.headers)
    credits: int = response.json()["credits"]
    return credits


async def create_admin(app: FastAPI, **overrides: Any) -> TestUser:
    """A confirmed account with the admin role and a live session."""
    person = await create_user(app, **overrides)
    ports: Ports = app.state.ports
    async with transaction(ports.database.sessionmaker) as session:
        user = await auth_repository.get_user(session, uuid.UUID(person.id))
        assert user is not None
        await set_role(session=session, user=user, role=UserRole.ADMIN, reason="tests")
    return person
