"""A client that sends its upload slowly holds no database connection and delays nobody.

Real sockets against a real uvicorn server: the slow client trickles one byte every half
second, as an attacker (or a very bad network) would.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.factories import API, TestUser, sign_up_through_api
from tests.images import image_bytes
from tests.support.live_app import LiveApp, live_app, read_response, request_head

TRICKLE_INTERVAL = 0.5
# Long enough for the other requests to run while the upload is still arriving.
BODY_TIMEOUT = 4.0


def multipart(fields: dict[str, str], file: bytes, boundary: str) -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        + file
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts)


class SlowUpload:
    """Sends the headers at once, then the body one byte per interval, until stopped."""

    def __init__(self, live: LiveApp, user: TestUser, path: str, body: bytes, boundary: str):
        self.live, self.user, self.path = live, user, path
        self.body, self.boundary = body, boundary
        self.sent = 0

    async def run(self) -> tuple[int, dict[str, object]]:
        reader, writer = await asyncio.open_connection(*self.live.address)
        try:
            headers = {
                "Authorization": f"Bearer {self.user.access_token}",
                "Content-Type": f"multipart/form-data; boundary={self.boundary}",
                "Content-Length": str(len(self.body)),
            }
            writer.write(request_head("POST", self.path, headers))
            answer = asyncio.ensure_future(read_response(reader))
            while not answer.done() and self.sent < len(self.body):
                writer.write(self.body[self.sent : self.sent + 1])
                await writer.drain()
                self.sent += 1
                await asyncio.wait({answer}, timeout=TRICKLE_INTERVAL)
            response = await answer
            return response.status, response.json()
        finally:
            writer.close()


@pytest.mark.parametrize(
    ("path", "fields"),
    [(f"{API}/assets/upload", {"type": "selfie"}), (f"{API}/profile/avatar", {})],
    ids=["asset", "avatar"],
)
async def test_a_trickling_upload_holds_no_connection_and_others_write(
    database_url: str, tmp_path: Path, path: str, fields: dict[str, str]
):
    settings = make_settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        request_body_timeout_seconds=BODY_TIMEOUT,
        # A writer queued behind a held SQLite lock would fail fast, not wait it out.
        database_busy_timeout_seconds=1.0,
    )
    async with live_app(settings) as live, httpx.AsyncClient(base_url=live.url) as client:
        # Over HTTP: the served app's connections belong to the server's event loop.
        slow_user = await sign_up_through_api(client, live.app)
        other = await sign_up_through_api(client, live.app)
        boundary = uuid.uuid4().hex
        body = multipart(fields, image_bytes(), boundary)
        slow = SlowUpload(live, slow_user, path, body, boundary)
        trickle = asyncio.create_task(slow.run())
        # Past the headers and the first bytes of the form: the upload is being read.
        while slow.sent < 4:
            await asyncio.sleep(TRICKLE_INTERVAL / 5)

        pool = live.app.state.ports.database.engine.pool
        assert pool.checkedout() == 0
        for bio in ("first", "second"):
            response = await client.patch(
                f"{API}/profile", json={"bio": bio}, headers=other.headers
            )
            assert response.status_code == 200, response.text
        signup = await client.post(f"{API}/auth/start", json={"email": "x@example.com"})
        assert signup.status_code == 200
        assert not trickle.done()
        assert pool.checkedout() == 0

        status, answer = await trickle
        assert status == 408
        assert answer["code"] == "request_body_timeout"
        assert isinstance(answer["detail"], str)
        # Nothing of the slow upload was stored.
        listing = await client.get(f"{API}/assets", headers=slow_user.headers)
        assert listing.json()["items"] == []
        profile = await client.get(f"{API}/profile", headers=slow_user.headers)
        assert profile.json()["avatar_url"] is None
