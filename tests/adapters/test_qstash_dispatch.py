"""The QStash dispatcher publishes through the real qstash client to a local QStash stand-in."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.adapters.dispatch import DispatchFailed, QStashDispatcher, job_run_url
from app.composition import build_ports
from tests.conftest import make_settings
from tests.support.qstash_server import QStashServer, QStashState, qstash_server
from tests.support.services import free_loopback_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "dispatch-test-token"
PUBLIC = "https://api.mugshot.example/"


@pytest.fixture(scope="module")
def server() -> Iterator[QStashServer]:
    with qstash_server(TOKEN) as running:
        yield running


@pytest.fixture
def qstash(server: QStashServer) -> QStashState:
    server.state.clear()
    return server.state


def dispatcher(server: QStashServer, token: str = TOKEN) -> QStashDispatcher:
    return QStashDispatcher(token=token, public_base_url=PUBLIC, base_url=server.url)


async def test_publishes_the_job_to_its_run_url(server: QStashServer, qstash: QStashState):
    job_id = uuid.uuid4()
    await dispatcher(server).dispatch(job_id)

    [message] = qstash.messages
    assert message.url == f"https://api.mugshot.example/api/v1/internal/jobs/{job_id}/run"
    assert message.url == job_run_url(PUBLIC, job_id)
    assert message.method == "POST"
    assert json.loads(message.body) == {"job_id": str(job_id)}
    assert message.retries == 3
    assert message.deduplication_id == f"{job_id}-0"
    [headers] = qstash.publish_headers
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["content-type"] == "application/json"
    assert headers["upstash-retries"] == "3"


async def test_the_same_attempt_is_published_once(server: QStashServer, qstash: QStashState):
    job_id = uuid.uuid4()
    sender = dispatcher(server)
    await sender.dispatch(job_id)
    await sender.dispatch(job_id)
    assert len(qstash.messages) == 1

    # A later attempt (its runner died) must reach QStash although the first id is remembered.
    await sender.dispatch(job_id, attempt=1)
    assert [message.deduplication_id for message in qstash.messages] == [
        f"{job_id}-0",
        f"{job_id}-1",
    ]


async def test_a_refused_publish_raises(server: QStashServer, qstash: QStashState):
    with pytest.raises(DispatchFailed, match="401"):
        await dispatcher(server, token="wrong-token").dispatch(uuid.uuid4())
    assert qstash.messages == []


async def test_an_unreachable_qstash_raises():
    unreachable = QStashDispatcher(
        token=TOKEN, public_base_url=PUBLIC, base_url=f"http://127.0.0.1:{free_loopback_port()}"
    )
    with pytest.raises(DispatchFailed):
        await unreachable.dispatch(uuid.uuid4())


async def test_drain_has_nothing_to_wait_for(server: QStashServer):
    await dispatcher(server).drain()


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"qstash_token": TOKEN, "qstash_current_signing_key": "sig_current"}, "qstash"),
        ({}, "in_process"),
    ],
)
async def test_the_token_selects_the_dispatcher(
    tmp_path: Path, overrides: dict[str, str], name: str
):
    ports = build_ports(make_settings(data_dir=tmp_path, **overrides))
    try:
        assert ports.dispatcher.name == name
    finally:
        await ports.close()


def test_importing_the_app_does_not_load_qstash() -> None:
    code = (
        "import sys\n"
        "import app.main, app.ports, app.adapters.dispatch, app.internal.router\n"
        "print('qstash' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
