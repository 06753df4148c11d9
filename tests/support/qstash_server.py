"""A local stand-in for Upstash QStash: takes publishes over HTTP, then signs and delivers them.

Publishing speaks QStash's wire protocol (`POST /v2/publish/<destination url>` with a bearer
token and `Upstash-*` headers, answering `{"messageId": ...}`), so the real `qstash` client
talks to it. Deliveries are made by the test, on its own event loop, through an httpx client
(an ASGI transport into the app under test): each attempt is signed as QStash signs it, and
attempts that do not answer 2xx are retried up to the message's retry count.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import inspect
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.wire import serve

# QStash's documented values: tokens live 5 minutes, ids are remembered for 10.
SIGNATURE_LIFETIME_SECONDS = 300
DEDUPLICATION_WINDOW_SECONDS = 600
# What QStash retries when a publish names no count (the free plan's maximum).
DEFAULT_RETRIES = 3
PUBLISH_PREFIX = "/v2/publish/"
FORWARD_PREFIX = "upstash-forward-"
USER_AGENT = "Upstash-QStash"


def body_hash(body: bytes) -> str:
    """base64url of the body's SHA-256, padded, as QStash puts it in the `body` claim."""
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode()


def sign(
    key: str,
    *,
    url: str,
    body: bytes,
    issued_at: float | None = None,
    lifetime: int = SIGNATURE_LIFETIME_SECONDS,
    **claims: Any,
) -> str:
    """An `Upstash-Signature` value: an HS256 JWT over the destination URL and the body."""
    issued = int(time.time() if issued_at is None else issued_at)
    payload: dict[str, Any] = {
        "iss": "Upstash",
        "sub": url,
        "exp": issued + lifetime,
        "nbf": issued,
        "iat": issued,
        "jti": f"jwt_{secrets.token_urlsafe(18)}",
        "body": body_hash(body),
    }
    payload.update(claims)
    return jwt.encode(payload, key, algorithm="HS256")


def signing_key() -> str:
    return f"sig_{secrets.token_urlsafe(24)}"


@dataclass
class Delivery:
    """One attempt at delivering a message, as QStash's logs would show it."""

    message_id: str
    retried: int
    status: int | None
    error: str | None = None
    body: Any = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Message:
    id: str
    url: str
    method: str
    body: bytes
    headers: dict[str, str]
    retries: int
    deduplication_id: str | None
    published_at: float
    deliveries: list[Delivery] = field(default_factory=list)
    state: str = "pending"  # pending, delivered, failed


AfterAttempt = Callable[[Message, Delivery], Awaitable[None] | None]


class QStashState:
    """What the stand-in holds: keys, accepted messages and every delivery attempt."""

    def __init__(self, token: str, *, retry_backoff_seconds: float = 0.01) -> None:
        self.token = token
        self.current_signing_key = signing_key()
        self.next_signing_key = signing_key()
        self.retry_backoff_seconds = retry_backoff_seconds
        self._lock = threading.Lock()
        self._messages: dict[str, Message] = {}
        self._deduplication: dict[str, tuple[str, float]] = {}
        self.publish_headers: list[dict[str, str]] = []

    # Publishing (called on the server's thread)

    def authorized(self, header: str) -> bool:
        scheme, _, supplied = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            supplied.strip().encode(), self.token.encode()
        )

    def publish(
        self,
        *,
        url: str,
        method: str,
        body: bytes,
        headers: dict[str, str],
        retries: int,
        deduplication_id: str | None,
    ) -> tuple[Message, bool]:
        """Accept a message; a deduplication id seen within the window returns the first one."""
        now = time.time()
        with self._lock:
            if deduplication_id is not None:
                seen = self._deduplication.get(deduplication_id)
                if seen is not None and now - seen[1] < DEDUPLICATION_WINDOW_SECONDS:
                    return self._messages[seen[0]], True
            message = Message(
                id=f"msg_{secrets.token_urlsafe(18)}",
                url=url,
                method=method,
                body=body,
                headers=headers,
                retries=retries,
                deduplication_id=deduplication_id,
                published_at=now,
            )
            self._messages[message.id] = message
            if deduplication_id is not None:
                self._deduplication[deduplication_id] = (message.id, now)
            return message, False

    # Inspection and control (called from the test)

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._messages.values())

    def pending(self) -> list[Message]:
        return [message for message in self.messages if message.state == "pending"]

    def message(self, message_id: str) -> Message:
        with self._lock:
            return self._messages[message_id]

    def rotate_keys(self) -> None:
        """Roll the keys as the console does: the next key signs from now on."""
        self.current_signing_key, self.next_signing_key = self.next_signing_key, signing_key()

    def expire_deduplication(self) -> None:
        """Act as if the deduplication window had passed for every id."""
        with self._lock:
            self._deduplication.clear()

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._deduplication.clear()
            self.publish_headers.clear()

    # Delivery (runs on the test's event loop)

    async def attempt(self, message: Message, client: httpx.AsyncClient, retried: int) -> Delivery:
        headers = {
            **message.headers,
            "User-Agent": USER_AGENT,
            "Upstash-Message-Id": message.id,
            "Upstash-Retried": str(retried),
            "Upstash-Signature": sign(self.current_signing_key, url=message.url, body=message.body),
        }
        try:
            response = await client.request(
                message.method, message.url, content=message.body, headers=headers
            )
        except httpx.TransportError as exc:
            delivery = Delivery(message.id, retried, None, error=f"{type(exc).__name__}: {exc}")
        else:
            try:
                answer: Any = response.json()
            except ValueError:
                answer = response.text
            delivery = Delivery(message.id, retried, response.status_code, body=answer)
        with self._lock:
            message.deliveries.append(delivery)
        return delivery

    async def deliver(
        self,
        message: Message,
        client: httpx.AsyncClient,
        *,
        after_attempt: AfterAttempt | None = None,
    ) -> list[Delivery]:
        """Deliver until an attempt answers 2xx or the retries are used up.

        Like QStash, any other answer or a failed connection counts as a failure, except that
        489 with `Upstash-NonRetryable-Error: true` stops the retries.
        """
        attempts: list[Delivery] = []
        for retried in range(message.retries + 1):
            if retried:
                await asyncio.sleep(self.retry_backoff_seconds * retried)
            delivery = await self.attempt(message, client, retried)
            attempts.append(delivery)
            if after_attempt is not None:
                outcome = after_attempt(message, delivery)
                if inspect.isawaitable(outcome):
                    await outcome
            if delivery.ok or _non_retryable(delivery):
                break
        message.state = "delivered" if attempts[-1].ok else "failed"
        return attempts

    async def deliver_pending(
        self, client: httpx.AsyncClient, *, after_attempt: AfterAttempt | None = None
    ) -> list[Delivery]:
        """Deliver every pending message, including ones published meanwhile."""
        attempts: list[Delivery] = []
        while pending := self.pending():
            for message in pending:
                attempts += await self.deliver(message, client, after_attempt=after_attempt)
        return attempts

    async def redeliver(self, message_id: str, client: httpx.AsyncClient) -> Delivery:
        """Deliver a message once more, as at-least-once delivery occasionally does."""
        message = self.message(message_id)
        return await self.attempt(message, client, len(message.deliveries))


def _non_retryable(delivery: Delivery) -> bool:
    return delivery.status == 489


def create_qstash_app(state: QStashState) -> Starlette:
    async def publish(request: Request) -> JSONResponse:
        if not state.authorized(request.headers.get("authorization", "")):
            return JSONResponse({"error": "Unauthorized"}, status_code=401)
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        destination = raw_path.decode()[len(PUBLISH_PREFIX) :]
        if request.url.query:
            destination += f"?{request.url.query}"
        if not destination.startswith(("http://", "https://")):
            return JSONResponse(
                {"error": f"invalid destination url: {destination!r}"}, status_code=400
            )
        headers = {key.lower(): value for key, value in request.headers.items()}
        state.publish_headers.append(headers)
        try:
            retries = int(headers.get("upstash-retries", DEFAULT_RETRIES))
        except ValueError:
            return JSONResponse({"error": "invalid Upstash-Retries header"}, status_code=400)
        if retries < 0:
            return JSONResponse({"error": "invalid Upstash-Retries header"}, status_code=400)
        body = await request.body()
        forwarded = {
            key[len(FORWARD_PREFIX) :]: value
            for key, value in headers.items()
            if key.startswith(FORWARD_PREFIX)
        }
        if "content-type" in headers:
            forwarded["content-type"] = headers["content-type"]
        deduplication_id = headers.get("upstash-deduplication-id")
        if headers.get("upstash-content-based-deduplication", "").lower() == "true":
            parts = [destination, body.decode(errors="replace"), *sorted(forwarded.items())]
            deduplication_id = hashlib.sha256(repr(parts).encode()).hexdigest()
        message, duplicate = state.publish(
            url=destination,
            method=headers.get("upstash-method", "POST").upper(),
            body=body,
            headers=forwarded,
            retries=retries,
            deduplication_id=deduplication_id,
        )
        if duplicate:
            return JSONResponse({"messageId": message.id, "deduplicated": True}, status_code=202)
        return JSONResponse({"messageId": message.id}, status_code=201)

    return Starlette(
        routes=[Route(PUBLISH_PREFIX + "{destination:path}", publish, methods=["POST"])]
    )


@contextmanager
def qstash_server(token: str, *, retry_backoff_seconds: float = 0.01) -> Iterator[QStashServer]:
    """Serve the stand-in on a free loopback port; yield its URL and state."""
    state = QStashState(token, retry_backoff_seconds=retry_backoff_seconds)
    with serve(create_qstash_app(state), "qstash") as url:
        yield QStashServer(url=url, state=state)


@dataclass
class QStashServer:
    url: str
    state: QStashState


__all__ = [
    "Delivery",
    "Message",
    "QStashServer",
    "QStashState",
    "body_hash",
    "create_qstash_app",
    "qstash_server",
    "sign",
    "signing_key",
]
