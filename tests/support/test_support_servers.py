"""Exercise the scratch servers and the Upstash REST server with the real client SDKs."""

from __future__ import annotations

import os
import time
from base64 import b64decode
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager
from typing import NoReturn

import httpx
import pytest
import pytest_asyncio
from redis import Redis as DirectRedis
from upstash_ratelimit.asyncio import FixedWindow, Ratelimit, SlidingWindow
from upstash_redis.asyncio import Redis
from upstash_redis.errors import UpstashError

from tests.support.services import ServiceUnavailable, postgres_server, redis_server
from tests.support.upstash_server import upstash_rest_server

TOKEN = "test-token"


def _unavailable(reason: str) -> NoReturn:
    # CI installs the services up front, so a missing one there is a broken setup.
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: test services must be installed)")
    pytest.skip(reason)


def _start(service: AbstractContextManager[str]) -> Iterator[str]:
    try:
        url = service.__enter__()
    except ServiceUnavailable as error:
        _unavailable(str(error))
    try:
        yield url
    finally:
        service.__exit__(None, None, None)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    yield from _start(redis_server())


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    yield from _start(postgres_server())


@pytest.fixture(scope="module")
def rest_url(redis_url: str) -> Iterator[str]:
    with upstash_rest_server(redis_url, TOKEN) as url:
        yield url


@pytest.fixture
def direct(redis_url: str) -> Iterator[DirectRedis]:
    """A plain TCP client on the same Redis, to check what the REST layer really did."""
    client = DirectRedis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest_asyncio.fixture
async def upstash(rest_url: str, direct: DirectRedis) -> AsyncIterator[Redis]:
    # No retries: a failure should surface at once instead of after the retry interval.
    client = Redis(url=rest_url, token=TOKEN, rest_retries=0, allow_telemetry=False)
    yield client
    await client.close()


def _headers(base64: bool = True) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if base64:
        headers["Upstash-Encoding"] = "base64"
    return headers


@pytest.mark.asyncio
async def test_postgres_answers_queries(postgres_url: str) -> None:
    asyncpg = pytest.importorskip("asyncpg")
    connection = await asyncpg.connect(postgres_url)
    try:
        assert await connection.fetchval("select 1") == 1
        assert await connection.fetchval("show fsync") == "off"
    finally:
        await connection.close()


@pytest.mark.asyncio
async def test_set_get_text_and_unicode(upstash: Redis) -> None:
    # The SDK annotates SET as returning str, but turns the OK reply into True at runtime.
    stored: object = await upstash.set("greeting", "hello")
    assert stored is True
    assert await upstash.get("greeting") == "hello"
    stored_unicode: object = await upstash.set("unicode", "Grüße, 世界 📸")
    assert stored_unicode is True
    assert await upstash.get("unicode") == "Grüße, 世界 📸"
    # Status replies other than OK are base64 encoded like any other string.
    assert await upstash.ping() == "PONG"
    # A stored "OK" must not be confused with the OK status reply.
    await upstash.set("ok", "OK")
    assert await upstash.get("ok") == "OK"


@pytest.mark.asyncio
async def test_binary_values_round_trip_in_base64(
    upstash: Redis, rest_url: str, direct: DirectRedis
) -> None:
    payload = b"\x00\xffimage\x89PNG\r\n"
    direct.set("blob", payload)
    async with httpx.AsyncClient(base_url=rest_url) as http:
        encoded = await http.post("/", json=["GET", "blob"], headers=_headers())
        plain = await http.post("/", json=["GET", "blob"], headers=_headers(base64=False))
    assert b64decode(encoded.json()["result"]) == payload
    # Without base64, invalid UTF-8 is replaced, as Upstash documents.
    assert plain.json()["result"] == payload.decode(errors="replace")
    # UTF-8 bytes written over TCP read back as text through the SDK.
    direct.set("utf8", "café".encode())
    assert await upstash.get("utf8") == "café"


@pytest.mark.asyncio
async def test_nil_integers_and_expiry(upstash: Redis, direct: DirectRedis) -> None:
    assert await upstash.get("missing") is None
    assert await upstash.incr("counter") == 1
    assert await upstash.incrby("counter", 41) == 42
    assert await upstash.ttl("counter") == -1
    assert await upstash.expire("counter", 100) is True
    assert 0 < await upstash.ttl("counter") <= 100
    assert 0 < direct.ttl("counter") <= 100
    assert await upstash.delete("counter", "missing") == 1
    assert await upstash.exists("counter") == 0


@pytest.mark.asyncio
async def test_hashes(upstash: Redis, direct: DirectRedis) -> None:
    assert await upstash.hset("user:1", values={"name": "Ada", "plan": "pro", "n": "3"}) == 3
    assert await upstash.hgetall("user:1") == {"name": "Ada", "plan": "pro", "n": "3"}
    assert await upstash.hget("user:1", "missing") is None
    assert direct.hget("user:1", "name") == b"Ada"
    assert await upstash.hgetall("no-such-hash") == {}


@pytest.mark.asyncio
async def test_pipeline(upstash: Redis) -> None:
    pipeline = upstash.pipeline()
    pipeline.set("a", "1")
    pipeline.incr("a")
    pipeline.get("a")
    pipeline.get("missing")
    pipeline.rpush("list", "x", "y")
    pipeline.lrange("list", 0, -1)
    assert await pipeline.exec() == [True, 2, "2", None, 2, ["x", "y"]]


@pytest.mark.asyncio
async def test_pipeline_reports_errors_per_command(rest_url: str) -> None:
    commands = [["SET", "word", "abc"], ["INCR", "word"], ["GET", "word"]]
    async with httpx.AsyncClient(base_url=rest_url) as http:
        response = await http.post("/pipeline", json=commands, headers=_headers(base64=False))
    assert response.status_code == 200
    assert response.json() == [
        {"result": "OK"},
        {"error": "ERR value is not an integer or out of range"},
        {"result": "abc"},
    ]


@pytest.mark.asyncio
async def test_multi_exec_transaction(upstash: Redis, direct: DirectRedis) -> None:
    transaction = upstash.multi()
    transaction.set("balance", "10")
    transaction.decrby("balance", 3)
    transaction.hset("meta", values={"owner": "ada"})
    transaction.get("balance")
    assert await transaction.exec() == [True, 7, 1, "7"]
    assert direct.get("balance") == b"7"


@pytest.mark.asyncio
async def test_multi_exec_discarded_as_a_whole(rest_url: str, direct: DirectRedis) -> None:
    commands = [["SET", "never", "1"], ["NOSUCHCOMMAND"]]
    async with httpx.AsyncClient(base_url=rest_url) as http:
        response = await http.post("/multi-exec", json=commands, headers=_headers())
    assert response.status_code == 400
    assert response.json()["error"].startswith("ERR unknown command")
    assert direct.exists("never") == 0


@pytest.mark.asyncio
async def test_error_reply_raises_upstash_error(upstash: Redis, rest_url: str) -> None:
    await upstash.set("word", "abc")
    with pytest.raises(UpstashError, match="ERR value is not an integer"):
        await upstash.incr("word")
    with pytest.raises(UpstashError, match="WRONGTYPE"):
        await upstash.hgetall("word")
    async with httpx.AsyncClient(base_url=rest_url) as http:
        response = await http.post("/", json=["GET"], headers=_headers())
    assert response.status_code == 400
    assert response.json() == {"error": "ERR wrong number of arguments for 'get' command"}


@pytest.mark.asyncio
async def test_connection_state_commands_are_refused(rest_url: str) -> None:
    # SELECT or MULTI on a pooled connection would leak into later requests.
    async with httpx.AsyncClient(base_url=rest_url, headers=_headers(base64=False)) as http:
        single = await http.post("/", json=["SELECT", "1"])
        batch = await http.post("/pipeline", json=[["MULTI"], ["PING"]])
    assert single.status_code == 400
    assert single.json() == {"error": "ERR Command is not available: 'select'"}
    assert batch.json() == [
        {"error": "ERR Command is not available: 'multi'"},
        {"result": "PONG"},
    ]


@pytest.mark.asyncio
async def test_wrong_token_is_rejected(rest_url: str) -> None:
    client = Redis(url=rest_url, token="wrong", rest_retries=0, allow_telemetry=False)
    try:
        with pytest.raises(UpstashError, match="Unauthorized"):
            await client.get("anything")
    finally:
        await client.close()
    async with httpx.AsyncClient(base_url=rest_url) as http:
        missing = await http.post("/", json=["PING"])
        query_token = await http.post("/", params={"_token": TOKEN}, json=["PING"])
    assert missing.status_code == 401
    assert missing.json() == {"error": "Unauthorized"}
    assert query_token.json() == {"result": "PONG"}


@pytest.mark.asyncio
async def test_path_style_commands(rest_url: str) -> None:
    async with httpx.AsyncClient(base_url=rest_url, headers=_headers(base64=False)) as http:
        assert (await http.get("/set/path%2Fkey/value")).json() == {"result": "OK"}
        assert (await http.post("/append/path%2Fkey", content=b"+more")).json() == {"result": 10}
        assert (await http.get("/get/path%2Fkey")).json() == {"result": "value+more"}


@pytest.mark.asyncio
async def test_script_load_and_evalsha_keep_client_shas(upstash: Redis) -> None:
    # Upstash-only shebang flags are accepted and the client's own SHA keeps working.
    script = (
        "#!lua flags=allow-key-locking,no-cluster\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])"
    )
    sha = await upstash.script_load(script)
    assert await upstash.script_exists(sha) == [True]
    assert await upstash.evalsha(sha, keys=["hits"], args=["5"]) == 5
    assert await upstash.eval(script, keys=["hits"], args=["2"]) == 7


@pytest.mark.asyncio
async def test_fixed_window_rate_limit(upstash: Redis) -> None:
    limiter = Ratelimit(redis=upstash, limiter=FixedWindow(max_requests=3, window=60))
    started = time.time()
    responses = [await limiter.limit("user:42") for _ in range(4)]
    assert [response.allowed for response in responses] == [True, True, True, False]
    assert [response.remaining for response in responses] == [2, 1, 0, 0]
    refused = responses[-1]
    assert refused.limit == 3
    # The window is aligned to multiples of 60 s, so it resets within the next minute.
    assert started < refused.reset <= started + 60
    assert await limiter.get_remaining("user:42") == 0
    assert (await limiter.limit("someone-else")).allowed


@pytest.mark.asyncio
async def test_sliding_window_rate_limit(upstash: Redis) -> None:
    limiter = Ratelimit(redis=upstash, limiter=SlidingWindow(max_requests=2, window=60))
    responses = [await limiter.limit("ip:10.0.0.1") for _ in range(3)]
    assert [response.allowed for response in responses] == [True, True, False]
    assert responses[-1].reset > time.time()
