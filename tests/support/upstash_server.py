"""Upstash-REST-compatible HTTP server in front of a real Redis, for tests."""

from __future__ import annotations

import hashlib
import hmac
import json
from base64 import b64encode
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import TypeAlias
from urllib.parse import unquote

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.wire import serve

SERVER_START_TIMEOUT = 10.0
SERVER_STOP_TIMEOUT = 10.0

# A Redis reply as redis-py parses RESP2 with decoding off. Simple and bulk strings both
# arrive as bytes; errors nested in arrays arrive as ResponseError instances.
Reply: TypeAlias = bytes | int | None | list["Reply"] | ResponseError
JSONValue: TypeAlias = str | int | None | list["JSONValue"]
Command: TypeAlias = list[bytes]

# Script flags Redis understands. Upstash also accepts its own (the rate limiter sends
# "allow-key-locking"), which Redis rejects, so those are dropped before forwarding.
_REDIS_SCRIPT_FLAGS = frozenset(
    {"no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"}
)
_SCRIPT_COMMANDS = frozenset({b"EVAL", b"EVAL_RO"})
_SHA_COMMANDS = frozenset({b"EVALSHA", b"EVALSHA_RO"})
# These would change the state of a pooled connection or never return; REST cannot serve them.
_REFUSED_COMMANDS = frozenset(
    {
        b"MULTI",
        b"EXEC",
        b"DISCARD",
        b"WATCH",
        b"UNWATCH",
        b"SELECT",
        b"AUTH",
        b"HELLO",
        b"RESET",
        b"QUIT",
        b"MONITOR",
        b"SUBSCRIBE",
        b"PSUBSCRIBE",
        b"SSUBSCRIBE",
        b"BLPOP",
        b"BRPOP",
        b"BRPOPLPUSH",
        b"BLMOVE",
        b"BZPOPMIN",
        b"BZPOPMAX",
    }
)


class CommandError(Exception):
    """A request the server rejects before it reaches Redis."""


def _error_text(error: ResponseError) -> str:
    # redis-py strips known prefixes ("ERR", "NOSCRIPT", ...) into status_code; put them back
    # so clients see the text Redis sent.
    message = str(error.args[0]) if error.args else str(error)
    status = getattr(error, "status_code", None)
    return f"{status} {message}" if status else message


def encode_reply(reply: Reply, base64: bool) -> JSONValue:
    """Render a Redis reply as Upstash puts it in ``result``.

    With ``Upstash-Encoding: base64`` every string is base64 except the status reply OK;
    integers, nil and array nesting are kept. Without it strings are UTF-8 text with invalid
    bytes replaced by U+FFFD.
    """
    if isinstance(reply, ResponseError):
        reply = _error_text(reply).encode()
    if isinstance(reply, bytes):
        # RESP2 parsing cannot tell +OK from a bulk "OK"; both decode to "OK" in clients.
        if reply == b"OK":
            return "OK"
        return b64encode(reply).decode("ascii") if base64 else reply.decode(errors="replace")
    if isinstance(reply, list):
        return [encode_reply(item, base64) for item in reply]
    return reply


def _parse_argument(value: object) -> bytes:
    # bool first: it is an int subclass, and JSON spells it true/false.
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int | float):
        return str(value).encode()
    raise CommandError("ERR command arguments must be strings or numbers")


def parse_command(value: object) -> Command:
    """Validate one JSON command (``["SET", "k", "v"]``) into Redis arguments."""
    if not isinstance(value, list) or not value:
        raise CommandError("ERR command must be a non-empty JSON array")
    return [_parse_argument(item) for item in value]


def parse_commands(value: object) -> list[Command]:
    """Validate a JSON array of commands for the pipeline and transaction routes."""
    if not isinstance(value, list) or not value:
        raise CommandError("ERR request body must be a non-empty JSON array of commands")
    return [parse_command(item) for item in value]


def _adapt_script(script: bytes) -> bytes:
    if not script.startswith(b"#!"):
        return script
    shebang, newline, body = script.partition(b"\n")
    words = shebang.decode(errors="replace").split()
    kept: list[str] = []
    for word in words:
        if word.startswith("flags="):
            flags = [flag for flag in word[6:].split(",") if flag in _REDIS_SCRIPT_FLAGS]
            word = "flags=" + ",".join(flags)
        kept.append(word)
    return " ".join(kept).encode() + newline + body


class _ScriptTranslator:
    """Keeps script SHAs stable when a script's shebang had to be rewritten.

    Clients compute SHA1 over the script they send; Redis hashes the rewritten text. EVALSHA
    and SCRIPT EXISTS are mapped from the client's SHA to the one Redis knows.
    """

    def __init__(self) -> None:
        self._to_redis: dict[bytes, bytes] = {}

    def _adapt(self, script: bytes) -> tuple[bytes, bytes]:
        adapted = _adapt_script(script)
        original_sha = hashlib.sha1(script).hexdigest().encode()
        if adapted != script:
            self._to_redis[original_sha] = hashlib.sha1(adapted).hexdigest().encode()
        return adapted, original_sha

    def _sha(self, sha: bytes) -> bytes:
        return self._to_redis.get(sha.lower(), sha)

    def translate(self, command: Command) -> tuple[Command, bytes | None]:
        """Return the command to send and, for SCRIPT LOAD, the SHA to report back."""
        name = command[0].upper()
        if name in _SCRIPT_COMMANDS and len(command) > 1:
            return [command[0], self._adapt(command[1])[0], *command[2:]], None
        if name in _SHA_COMMANDS and len(command) > 1:
            return [command[0], self._sha(command[1]), *command[2:]], None
        if name == b"SCRIPT" and len(command) > 2:
            sub = command[1].upper()
            if sub == b"LOAD":
                adapted, original_sha = self._adapt(command[2])
                return [command[0], command[1], adapted, *command[3:]], original_sha
            if sub == b"EXISTS":
                return [*command[:2], *(self._sha(sha) for sha in command[2:])], None
        return command, None


def _reported(reply: Reply, sha: bytes | None) -> Reply:
    # SCRIPT LOAD answers with the SHA of the script the client sent, not the rewritten one.
    return sha if sha is not None and not isinstance(reply, ResponseError) else reply


class UpstashBackend:
    """Executes REST requests on Redis and shapes the replies like Upstash."""

    def __init__(self, redis_url: str) -> None:
        self._redis_url = redis_url
        self._client: Redis | None = None
        self._scripts = _ScriptTranslator()

    @property
    def client(self) -> Redis:
        if self._client is None:
            # RESP2 and no decoding: replies stay raw bytes, the shape Upstash encodes from.
            self._client = Redis.from_url(self._redis_url, protocol=2, decode_responses=False)
            # Without callbacks redis-py returns replies as parsed from the wire.
            self._client.response_callbacks.clear()
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _prepare(self, command: Command) -> tuple[Command, bytes | None]:
        if command[0].upper() in _REFUSED_COMMANDS:
            name = command[0].decode(errors="replace").lower()
            raise CommandError(f"ERR Command is not available: '{name}'")
        return self._scripts.translate(command)

    async def execute(self, command: Command) -> Reply:
        """Run one command; a Redis error reply raises ResponseError."""
        prepared, reported = self._prepare(command)
        reply: Reply = await self.client.execute_command(*prepared)
        return _reported(reply, reported)

    async def _round_trip(self, commands: Sequence[Command]) -> list[Reply]:
        # One connection and one write for the whole batch, like a client-side pipeline.
        pool = self.client.connection_pool
        connection = await pool.get_connection()
        try:
            await connection.send_packed_command(connection.pack_commands(commands))
            replies: list[Reply] = []
            for _ in commands:
                try:
                    replies.append(await connection.read_response(disable_decoding=True))
                except ResponseError as error:
                    replies.append(error)
            return replies
        except BaseException:
            # A half-read batch would desynchronise the pooled connection.
            await connection.disconnect()
            raise
        finally:
            await pool.release(connection)

    async def pipeline(self, commands: Sequence[Command]) -> list[Reply]:
        """Run commands in order, non-atomically; errors are returned in place."""
        prepared: list[tuple[Command, bytes | None]] = []
        rejected: dict[int, ResponseError] = {}
        for index, command in enumerate(commands):
            try:
                prepared.append(self._prepare(command))
            except CommandError as error:
                rejected[index] = ResponseError(str(error))
        replies = iter(await self._round_trip([cmd for cmd, _ in prepared]) if prepared else [])
        reported = iter([sha for _, sha in prepared])
        results: list[Reply] = []
        for index in range(len(commands)):
            if index in rejected:
                results.append(rejected[index])
                continue
            results.append(_reported(next(replies), next(reported)))
        return results

    async def transaction(self, commands: Sequence[Command]) -> list[Reply]:
        """Run commands in MULTI/EXEC; a command Redis refuses to queue aborts them all."""
        prepared = [self._prepare(command) for command in commands]
        replies = await self._round_trip([[b"MULTI"], *(cmd for cmd, _ in prepared), [b"EXEC"]])
        queued, exec_reply = replies[1:-1], replies[-1]
        if isinstance(exec_reply, ResponseError):
            first = next((r for r in queued if isinstance(r, ResponseError)), exec_reply)
            raise first
        if not isinstance(exec_reply, list):
            raise ResponseError(f"ERR unexpected EXEC reply: {exec_reply!r}")
        return [_reported(reply, sha) for reply, (_, sha) in zip(exec_reply, prepared, strict=True)]


def _error(message: str, status_code: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status_code)


def _item(reply: Reply, base64: bool) -> dict[str, JSONValue]:
    if isinstance(reply, ResponseError):
        return {"error": _error_text(reply)}
    return {"result": encode_reply(reply, base64)}


def create_upstash_app(redis_url: str, token: str) -> Starlette:
    """Build the ASGI app serving Upstash's REST API for the Redis at ``redis_url``.

    Routes: ``POST /`` (one JSON command), ``POST /pipeline``, ``POST /multi-exec`` and the
    path form ``/<command>/<arg>/...`` (GET or POST; a POST body is the last argument).
    Every request needs ``Authorization: Bearer <token>`` or ``?_token=<token>``.
    """
    backend = UpstashBackend(redis_url)
    expected = token.encode()

    def authorized(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, supplied = header.partition(" ")
        if scheme.lower() != "bearer" or not supplied:
            supplied = request.query_params.get("_token", "")
        return bool(supplied) and hmac.compare_digest(supplied.strip().encode(), expected)

    def wants_base64(request: Request) -> bool:
        return request.headers.get("upstash-encoding", "").lower() == "base64"

    async def json_body(request: Request) -> object:
        try:
            return json.loads(await request.body())
        except ValueError:
            raise CommandError("ERR request body is not valid JSON") from None

    async def single(request: Request, command: Command) -> JSONResponse:
        try:
            reply = await backend.execute(command)
        except CommandError as error:
            return _error(str(error))
        except ResponseError as error:
            return _error(_error_text(error))
        return JSONResponse({"result": encode_reply(reply, wants_base64(request))})

    async def root(request: Request) -> JSONResponse:
        if not authorized(request):
            return _error("Unauthorized", 401)
        try:
            command = parse_command(await json_body(request))
        except CommandError as error:
            return _error(str(error))
        return await single(request, command)

    async def path_command(request: Request) -> JSONResponse:
        if not authorized(request):
            return _error("Unauthorized", 401)
        raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
        # Split before unquoting so an encoded "/" stays inside its argument.
        command = [unquote(part.decode()).encode() for part in raw_path.split(b"/") if part]
        if request.method == "POST":
            body = await request.body()
            if body:
                command.append(body)
        if not command:
            return _error("ERR no command given")
        return await single(request, command)

    async def pipeline(request: Request) -> JSONResponse:
        if not authorized(request):
            return _error("Unauthorized", 401)
        try:
            commands = parse_commands(await json_body(request))
        except CommandError as error:
            return _error(str(error))
        try:
            replies = await backend.pipeline(commands)
        except ResponseError as error:
            return _error(_error_text(error))
        base64 = wants_base64(request)
        return JSONResponse([_item(reply, base64) for reply in replies])

    async def multi_exec(request: Request) -> JSONResponse:
        if not authorized(request):
            return _error("Unauthorized", 401)
        try:
            commands = parse_commands(await json_body(request))
            replies = await backend.transaction(commands)
        except CommandError as error:
            return _error(str(error))
        except ResponseError as error:
            # EXECABORT or a command Redis refused to queue: the transaction was discarded as
            # a whole, so the request gets one error instead of a result array.
            return _error(_error_text(error))
        base64 = wants_base64(request)
        return JSONResponse([_item(reply, base64) for reply in replies])

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await backend.aclose()

    return Starlette(
        routes=[
            Route("/", root, methods=["POST"]),
            Route("/pipeline", pipeline, methods=["POST"]),
            Route("/multi-exec", multi_exec, methods=["POST"]),
            Route("/{path:path}", path_command, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )


@contextmanager
def upstash_rest_server(redis_url: str, token: str) -> Iterator[str]:
    """Serve :func:`create_upstash_app` on a free loopback port and yield its base URL."""
    with serve(create_upstash_app(redis_url, token), "Upstash REST", lifespan=True) as url:
        yield url


__all__ = [
    "CommandError",
    "UpstashBackend",
    "create_upstash_app",
    "encode_reply",
    "parse_command",
    "parse_commands",
    "upstash_rest_server",
]
