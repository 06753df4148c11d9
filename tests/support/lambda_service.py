"""The Lambda service around one function, for tests: its Runtime API and its Invoke API.

- The Runtime API (2018-06-01) is what `awslambdaric` talks to inside an execution environment:
  `GET /2018-06-01/runtime/invocation/next` hands out the next event with the
  `Lambda-Runtime-*` headers, `POST …/invocation/{id}/response` and `…/{id}/error` end it
  (202), `POST /2018-06-01/runtime/init/error` reports a failed init (202).
- The Invoke API (`POST /2015-03-31/functions/{name}/invocations`) is what botocore calls; it
  checks the SigV4 signature for service `lambda` as AWS does, and an `Event` invocation is
  queued (202) for the function.

Each execution environment is a real `python -m awslambdaric <handler>` process. As on Lambda,
it is frozen (SIGSTOP) while it waits for an event and thawed (SIGCONT) when one comes; one that
dies mid-invocation, or runs past the function timeout (then it is killed, `Sandbox.Timedout`),
fails that invocation, and the next event starts a new environment. The
function has one environment at a time, as with a reserved concurrency of 1. Async invocations
that fail are retried with the same request id, twice, after `retry_delays` (60 s and 120 s on
Lambda).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

RUNTIME_PREFIX = "/2018-06-01/runtime"
INVOKE_PREFIX = "/2015-03-31/functions/"
# Lambda's quotas: 6 MB for a synchronous request or response, 1 MB for an async event
# (256 KB until October 2025).
SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 1024 * 1024
SIGNATURE_MAX_AGE = timedelta(minutes=5)
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class AwsCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str


@dataclass(frozen=True)
class LambdaFunction:
    name: str = "mugshot-api"
    region: str = "eu-west-1"
    # Versions and aliases a caller may name as the qualifier.
    qualifiers: frozenset[str] = frozenset({"$LATEST", "live"})
    timeout_seconds: float = 60.0
    memory_mb: int = 1024

    def arn(self, qualifier: str | None = None) -> str:
        base = f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{self.name}"
        return f"{base}:{qualifier}" if qualifier else base


class SignatureRefused(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def verify_sigv4(
    *,
    method: str,
    raw_path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    credentials: AwsCredentials,
    region: str,
    service: str,
    now: datetime,
) -> None:
    """Recompute an AWS Signature Version 4 and refuse the request unless it matches.

    `headers` have lower-case names. The canonical request follows AWS's rules for services
    other than S3: the path as sent, URI-encoded once more; the query sorted; the signed
    headers with trimmed values; the SHA-256 of the body.
    """
    algorithm, _, rest = headers.get("authorization", "").partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        raise SignatureRefused("MissingAuthenticationTokenException", "Missing Authentication")
    try:
        fields = dict(part.strip().split("=", 1) for part in rest.split(","))
        key_id, date, scope_region, scope_service, terminator = fields["Credential"].split("/")
        signed_headers = fields["SignedHeaders"].split(";")
        signature = fields["Signature"]
        amz_date = headers["x-amz-date"]
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except (KeyError, ValueError):
        raise SignatureRefused("IncompleteSignatureException", "Malformed signature") from None
    if key_id != credentials.access_key_id:
        raise SignatureRefused(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    if (date, scope_region, scope_service, terminator) != (
        amz_date[:8],
        region,
        service,
        "aws4_request",
    ):
        raise SignatureRefused("InvalidSignatureException", "Credential should be scoped right")
    if abs(now - signed_at) > SIGNATURE_MAX_AGE:
        raise SignatureRefused("InvalidSignatureException", "Signature expired")
    if headers.get("x-amz-security-token", "") != credentials.session_token:
        raise SignatureRefused(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    required = {"host", "x-amz-date"} | (
        {"x-amz-security-token"} if credentials.session_token else set()
    )
    if not required <= set(signed_headers) or signed_headers != sorted(signed_headers):
        raise SignatureRefused("IncompleteSignatureException", "Headers must be signed")
    pairs = sorted(
        (quote(key, safe="-_.~"), quote(value, safe="-_.~"))
        for key, value in parse_qsl(query, keep_blank_values=True)
    )
    canonical_request = "\n".join(
        [
            method,
            quote(raw_path, safe="/~"),
            "&".join(f"{key}={value}" for key, value in pairs),
            "".join(
                f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed_headers
            ),
            ";".join(signed_headers),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = _hmac(("AWS4" + credentials.secret_access_key).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise SignatureRefused(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        )


@dataclass
class Invocation:
    payload: bytes
    asynchronous: bool
    qualifier: str | None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    retries: int = 0
    done: threading.Event = field(default_factory=threading.Event)
    result: bytes | None = None
    error: dict[str, Any] | None = None
    # One line per time an environment took it: "<environment> <outcome>".
    deliveries: list[str] = field(default_factory=list)

    @property
    def event(self) -> Any:
        return json.loads(self.payload)


@dataclass
class InvokeCall:
    """One request to the Invoke API, as received."""

    function_name: str
    qualifier: str | None
    invocation_type: str
    headers: dict[str, str]
    payload: bytes
    status: int


class FunctionError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(json.dumps(error)[:2000])
        self.error = error


@dataclass
class Environment:
    number: int
    process: subprocess.Popen[bytes]
    log_path: Path
    current: Invocation | None = None
    frozen: bool = False
    freezes: int = 0
    waiting: bool = False
    dead: bool = False
    timed_out: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_until_stopped(self, timeout: float = 5.0) -> None:
        # The signal takes effect when the kernel next schedules the process.
        deadline = time.monotonic() + timeout
        while self.process_state() not in {"T", "gone"} and time.monotonic() < deadline:
            time.sleep(0.002)

    def process_state(self) -> str:
        """The kernel's state letter for the process: T when stopped (frozen)."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return "gone"
        return stat.rsplit(")", 1)[1].split()[0]


class LambdaService:
    def __init__(
        self,
        *,
        function: LambdaFunction,
        credentials: AwsCredentials,
        handler: str | None,
        environment: dict[str, str],
        cwd: Path,
        log_dir: Path,
        retry_delays: tuple[float, ...] = (60.0, 120.0),
    ) -> None:
        self.function = function
        self.credentials = credentials
        self.handler = handler
        self.variables = environment
        self.cwd = cwd
        self.log_dir = log_dir
        self.retry_delays = retry_delays
        self.invocations: list[Invocation] = []
        self.invoke_calls: list[InvokeCall] = []
        self.environments: list[Environment] = []
        self._queue: deque[Invocation] = deque()
        self._timers: set[threading.Timer] = set()
        self._deadlines: list[threading.Timer] = []
        self._condition = threading.Condition()
        self._closing = False
        self._server = _Server(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.address}"

    def start(self) -> None:
        self._thread.start()

    # The function's callers -------------------------------------------------------------

    def invoke(self, event: dict[str, Any], *, qualifier: str | None = "live") -> Any:
        """A synchronous invocation, as API Gateway makes: wait for the function's answer."""
        invocation = Invocation(json.dumps(event).encode(), asynchronous=False, qualifier=qualifier)
        self._enqueue(invocation)
        if not invocation.done.wait(self.function.timeout_seconds + 30):
            raise TimeoutError(f"no answer to {invocation.request_id}\n{self.logs()}")
        if invocation.error is not None:
            raise FunctionError(invocation.error)
        assert invocation.result is not None
        return json.loads(invocation.result)

    def invoke_async(self, event: dict[str, Any], *, qualifier: str | None = None) -> Invocation:
        """An asynchronous invocation, as EventBridge or the Invoke API with `Event` make."""
        invocation = Invocation(json.dumps(event).encode(), asynchronous=True, qualifier=qualifier)
        self._enqueue(invocation)
        return invocation

    def _enqueue(self, invocation: Invocation, *, retry: bool = False) -> None:
        with self._condition:
            if not retry:
                self.invocations.append(invocation)
            self._queue.append(invocation)
            self._ensure_environment()
            self._condition.notify_all()

    # Execution environments --------------------------------------------------------------

    def _live_environment(self) -> Environment | None:
        if self.environments and not self.environments[-1].dead:
            return self.environments[-1]
        return None

    def _ensure_environment(self) -> None:
        if self.handler is None or self._closing or self._live_environment() is not None:
            return
        number = len(self.environments) + 1
        log_path = self.log_dir / f"environment-{number}.log"
        stream = f"2026/12/02/[$LATEST]{uuid.uuid4().hex}"
        variables = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": str(self.cwd),
            "LAMBDA_TASK_ROOT": str(self.cwd),
            "_HANDLER": self.handler,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_LAMBDA_RUNTIME_API": self.address,
            "AWS_LAMBDA_FUNCTION_NAME": self.function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.function.memory_mb),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_REGION": self.function.region,
            "AWS_DEFAULT_REGION": self.function.region,
            "AWS_ACCESS_KEY_ID": self.credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.credentials.secret_access_key,
            "AWS_SESSION_TOKEN": self.credentials.session_token,
            # botocore's standard endpoint override: the function's Invoke calls come here.
            "AWS_ENDPOINT_URL_LAMBDA": self.endpoint_url,
            **self.variables,
        }
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "awslambdaric", self.handler],
                cwd=self.cwd,
                env=variables,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        environment = Environment(number, process, log_path)
        self.environments.append(environment)
        threading.Thread(target=self._watch, args=(environment,), daemon=True).start()

    def _watch(self, environment: Environment) -> None:
        environment.process.wait()
        with self._condition:
            environment.dead = True
            invocation = environment.current
            environment.current = None
            if invocation is not None and not invocation.done.is_set():
                code = environment.process.returncode
                if environment.timed_out:
                    seconds = self.function.timeout_seconds
                    error = {
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"RequestId: {invocation.request_id} Error: "
                        f"Task timed out after {seconds:.2f} seconds",
                    }
                else:
                    error = {
                        "errorType": "Runtime.ExitError",
                        "errorMessage": f"RequestId: {invocation.request_id} Error: "
                        f"Runtime exited with error: {code}",
                    }
                self._failed(invocation, environment, error)
            if self._queue:
                self._ensure_environment()
            self._condition.notify_all()

    def _failed(
        self, invocation: Invocation, environment: Environment, error: dict[str, Any]
    ) -> None:
        invocation.deliveries.append(f"{environment.number} {error.get('errorType', 'error')}")
        if (
            invocation.asynchronous
            and invocation.retries < len(self.retry_delays)
            and not self._closing
        ):
            delay = self.retry_delays[invocation.retries]
            invocation.retries += 1
            timer = threading.Timer(delay, self._retry, args=(invocation,))
            timer.daemon = True
            self._timers.add(timer)
            timer.start()
            return
        invocation.error = error
        invocation.done.set()

    def _retry(self, invocation: Invocation) -> None:
        with self._condition:
            self._timers = {
                timer
                for timer in self._timers
                if timer.is_alive() and timer is not threading.current_thread()
            }
        self._enqueue(invocation, retry=True)

    def kill_environment(self) -> Environment:
        """End the live environment's process at once, as a crash or an out-of-memory would."""
        with self._condition:
            environment = self._live_environment()
            assert environment is not None, "no live environment"
        os.kill(environment.pid, signal.SIGKILL)
        environment.process.wait(timeout=10)
        return environment

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until every event was handled and the environment is frozen, waiting for more."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                environment = self._live_environment()
                busy = (
                    self._queue
                    or self._timers
                    or (
                        environment is not None and not (environment.waiting and environment.frozen)
                    )
                )
                if not busy:
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"the function did not go idle\n{self.logs()}")
                self._condition.wait(min(remaining, 0.05))

    def logs(self) -> str:
        return "\n".join(
            f"--- environment {env.number} (pid {env.pid})\n"
            + env.log_path.read_text(errors="replace")[-6000:]
            for env in self.environments
        )

    def close(self) -> None:
        with self._condition:
            self._closing = True
            for timer in [*self._timers, *self._deadlines]:
                timer.cancel()
            self._condition.notify_all()
        for environment in self.environments:
            if environment.process.poll() is None:
                # SIGKILL ends a stopped process too.
                environment.process.kill()
                environment.process.wait(timeout=10)
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # The Runtime API ---------------------------------------------------------------------

    def next_invocation(self) -> tuple[Invocation, Environment] | None:
        with self._condition:
            environment = self._live_environment()
            if environment is None:
                return None
            environment.current = None
            environment.waiting = True
            self._condition.notify_all()
            while not self._queue and not self._closing:
                if not environment.frozen:
                    # Lambda freezes an environment that has asked for work and has none.
                    os.kill(environment.pid, signal.SIGSTOP)
                    environment.wait_until_stopped()
                    environment.frozen = True
                    environment.freezes += 1
                    self._condition.notify_all()
                self._condition.wait()
            if self._closing:
                return None
            invocation = self._queue.popleft()
            environment.current = invocation
            environment.waiting = False
            if environment.frozen:
                os.kill(environment.pid, signal.SIGCONT)
                environment.frozen = False
            deadline = threading.Timer(
                self.function.timeout_seconds, self._time_out, args=(environment, invocation)
            )
            deadline.daemon = True
            deadline.start()
            self._deadlines.append(deadline)
            return invocation, environment

    def _time_out(self, environment: Environment, invocation: Invocation) -> None:
        """Past the function timeout Lambda stops the environment, and the invocation fails."""
        with self._condition:
            if environment.current is not invocation or environment.dead:
                return
            environment.timed_out = True
        environment.process.kill()

    def finish(self, request_id: str, *, result: bytes | None, error: dict[str, Any] | None) -> int:
        with self._condition:
            environment = self._live_environment()
            invocation = environment.current if environment else None
            if environment is None or invocation is None or invocation.request_id != request_id:
                return 400
            if error is None and len(result or b"") > SYNC_PAYLOAD_LIMIT:
                return 413
            if error is not None:
                self._failed(invocation, environment, error)
            else:
                invocation.deliveries.append(f"{environment.number} ok")
                invocation.result = result
                invocation.done.set()
            environment.current = None
            self._condition.notify_all()
            return 202

    def init_failed(self, error: dict[str, Any]) -> None:
        with self._condition:
            environment = self._live_environment()
            if environment is not None and environment.current is None and self._queue:
                # The event that started this environment fails with the init error.
                environment.current = self._queue.popleft()
            if environment is not None and environment.current is not None:
                self._failed(environment.current, environment, error)
                environment.current = None
            self._condition.notify_all()

    # The Invoke API ----------------------------------------------------------------------

    def resolve(self, function_name: str, qualifier: str | None) -> str | None | bool:
        """The qualifier the call names, or False when it names no function of ours."""
        name = function_name
        if name.startswith("arn:aws:lambda:"):
            parts = name.split(":")
            if parts[3] != self.function.region or parts[4] != ACCOUNT or parts[5] != "function":
                return False
            name = ":".join(parts[6:])
        elif name.startswith(f"{ACCOUNT}:function:"):
            name = name.split(":", 2)[2]
        name, _, suffix = name.partition(":")
        if name != self.function.name:
            return False
        if suffix and qualifier and suffix != qualifier:
            return False
        chosen = qualifier or suffix or None
        if chosen is not None and chosen not in self.function.qualifiers:
            return False
        return chosen


def trace_id() -> str:
    """An X-Ray trace header as Lambda passes it: Root=1-<epoch hex>-<24 hex>;Sampled=0."""
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0"


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A killed environment drops its connection mid-request; that is the point, not a bug.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_class(service: LambdaService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _send(
            self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
            self._send(
                status,
                json.dumps(data).encode(),
                {"Content-Type": "application/json", **(headers or {})},
            )

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            if self.path != f"{RUNTIME_PREFIX}/invocation/next":
                self._json(404, {"errorType": "NotFound", "errorMessage": self.path})
                return
            handed = service.next_invocation()
            if handed is None:
                self._json(500, {"errorType": "Runtime.Shutdown", "errorMessage": "shutting down"})
                return
            invocation, _ = handed
            deadline_ms = int((time.time() + service.function.timeout_seconds) * 1000)
            self._send(
                200,
                invocation.payload,
                {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": service.function.arn(
                        invocation.qualifier
                    ),
                    "Lambda-Runtime-Trace-Id": trace_id(),
                },
            )

        def do_POST(self) -> None:
            body = self._body()
            path = urlsplit(self.path)
            if path.path.startswith(INVOKE_PREFIX):
                self._invoke(path.path, path.query, body)
                return
            if path.path == f"{RUNTIME_PREFIX}/init/error":
                service.init_failed(self._error(body))
                self._json(202, {"status": "OK"})
                return
            parts = path.path.removeprefix(f"{RUNTIME_PREFIX}/invocation/").split("/")
            if (
                not path.path.startswith(f"{RUNTIME_PREFIX}/invocation/")
                or len(parts) != 2
                or parts[1] not in {"response", "error"}
            ):
                self._json(404, {"errorType": "NotFound", "errorMessage": self.path})
                return
            request_id, kind = parts
            if kind == "response":
                status = service.finish(request_id, result=body, error=None)
            else:
                status = service.finish(request_id, result=None, error=self._error(body))
            if status == 202:
                self._json(202, {"status": "OK"})
            elif status == 413:
                self._json(
                    413,
                    {
                        "errorType": "RequestEntityTooLarge",
                        "errorMessage": "Response payload too large",
                    },
                )
            else:
                self._json(
                    400, {"errorType": "InvalidRequestID", "errorMessage": "Invalid request ID"}
                )

        def _error(self, body: bytes) -> dict[str, Any]:
            try:
                error: dict[str, Any] = json.loads(body)
            except ValueError:
                error = {"errorMessage": body.decode(errors="replace")}
            error.setdefault(
                "errorType", self.headers.get("Lambda-Runtime-Function-Error-Type", "")
            )
            return error

        def _refuse(self, status: int, error_type: str, message: str) -> None:
            self._json(
                status,
                {"Type": "User", "message": message},
                {"x-amzn-ErrorType": error_type, "x-amzn-RequestId": str(uuid.uuid4())},
            )

        def _invoke(self, raw_path: str, query: str, body: bytes) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                verify_sigv4(
                    method="POST",
                    raw_path=raw_path,
                    query=query,
                    headers=headers,
                    body=body,
                    credentials=service.credentials,
                    region=service.function.region,
                    service="lambda",
                    now=datetime.now(UTC),
                )
            except SignatureRefused as refused:
                self._refuse(403, refused.error_type, refused.message)
                return
            segments = raw_path.removeprefix(INVOKE_PREFIX).split("/")
            if len(segments) != 2 or segments[1] != "invocations":
                self._refuse(404, "UnknownOperationException", "Unknown operation")
                return
            function_name = unquote(segments[0])
            asked = dict(parse_qsl(query)).get("Qualifier")
            invocation_type = headers.get("x-amz-invocation-type", "RequestResponse")
            qualifier = service.resolve(function_name, asked)
            # The call is recorded before it is answered, so a client that has its answer
            # always finds its call in `invoke_calls`.
            status, respond = self._answer_invoke(function_name, qualifier, invocation_type, body)
            service.invoke_calls.append(
                InvokeCall(function_name, asked, invocation_type, headers, body, status)
            )
            respond()

        def _answer_invoke(
            self,
            function_name: str,
            qualifier: str | None | bool,
            invocation_type: str,
            body: bytes,
        ) -> tuple[int, Callable[[], None]]:
            if qualifier is False:
                return 404, partial(
                    self._refuse,
                    404,
                    "ResourceNotFoundException",
                    f"Function not found: {function_name}",
                )
            if invocation_type == "DryRun":
                return 204, partial(self._send, 204)
            if invocation_type != "Event":
                # Synchronous calls to itself would wait on the only environment: not served.
                return 400, partial(
                    self._refuse,
                    400,
                    "InvalidParameterValueException",
                    f"{invocation_type} is not served here",
                )
            if len(body) > ASYNC_PAYLOAD_LIMIT:
                return 413, partial(
                    self._refuse,
                    413,
                    "RequestTooLargeException",
                    "Request must be smaller than 1048576 bytes for the InvokeAsync operation",
                )
            try:
                event = json.loads(body or b"{}")
            except ValueError:
                return 400, partial(
                    self._refuse,
                    400,
                    "InvalidRequestContentException",
                    "Could not parse request body into json",
                )
            assert not isinstance(qualifier, bool)
            invocation = service.invoke_async(event, qualifier=qualifier)
            return 202, partial(
                self._send, 202, headers={"x-amzn-RequestId": invocation.request_id}
            )

    return Handler


@contextmanager
def lambda_service(**options: Any) -> Iterator[LambdaService]:
    service = LambdaService(**options)
    service.start()
    try:
        yield service
    finally:
        service.close()
