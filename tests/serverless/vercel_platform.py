"""Vercel's side of a Python function, in miniature: its IPC socket, its requests, its freezing.

`vercel-runtime` (`vercel_runtime.vc_init`, what the function's trampoline imports) connects to
the Unix socket named by `VERCEL_IPC_PATH`, imports the entrypoint, serves its ASGI app with its
own uvicorn on an ephemeral port and announces that port in a `server-started` message. Each
request arrives over HTTP carrying `x-vercel-internal-invocation-id` and `-request-id`; the
runtime answers `handler-started` when it begins and `end` once the app has returned and the
request's `wait_until` work has drained. Messages are JSON objects, each followed by a NUL byte.

The platform lets an instance run only while one of its invocations is open: from the request
until both the response is delivered and the runtime said `end`. `VercelPlatform` freezes the
process with SIGSTOP whenever nothing is open and thaws it with SIGCONT for the next request.
Like Vercel's edge it sets the client address headers itself, whatever the client sent.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
HOST = "mugshot-studio.vercel.app"
# The runtime's messages travel NUL-separated over the IPC socket.
SEPARATOR = b"\0"


class RuntimeFailed(RuntimeError):
    """The runtime process exited, reported an unrecoverable error, or never got ready."""


@dataclass
class Invocation:
    """One request's invocation: when it opened (monotonic, for maxDuration), and the wall-clock
    times at which its response was complete and the runtime reported its `end`."""

    method: str
    path: str
    opened_at: float = field(default_factory=time.monotonic)
    responded_at: float | None = None
    ended_at: float | None = None

    @property
    def closed(self) -> bool:
        return self.responded_at is not None and self.ended_at is not None


def runtime_environment(
    *, ipc_path: Path, entrypoint: str = "api/index.py", variable: str = "app"
) -> dict[str, str]:
    """What the function's trampoline and bundle set before importing `vercel_runtime.vc_init`."""
    return {
        "VERCEL_IPC_PATH": str(ipc_path),
        "__VC_HANDLER_MODULE_NAME": entrypoint.removesuffix(".py").replace("/", "."),
        "__VC_HANDLER_ENTRYPOINT": entrypoint,
        "__VC_HANDLER_ENTRYPOINT_ABS": str(ROOT / entrypoint),
        "__VC_HANDLER_VARIABLE_NAME": variable,
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


class VercelPlatform:
    """Start a function under vercel-runtime, deliver requests to it, freeze it when idle."""

    def __init__(
        self,
        *,
        env: dict[str, str],
        work_dir: Path,
        entrypoint: str = "api/index.py",
        variable: str = "app",
        max_duration_seconds: int = 300,
        startup_timeout: float = 60.0,
    ) -> None:
        self.env = env
        self.max_duration_seconds = max_duration_seconds
        # Unix socket paths are limited to ~100 bytes; pytest's tmp paths can be longer.
        self._ipc_dir = Path(os.path.realpath(os.environ.get("TMPDIR", "/tmp")))
        self._ipc_path = self._ipc_dir / f"vc-ipc-{uuid.uuid4().hex[:12]}.sock"
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self._ipc_path))
        self._listener.listen(1)
        self._condition = threading.Condition()
        self._open: dict[tuple[str, int], Invocation] = {}
        self.invocations: list[Invocation] = []
        self._request_ids = itertools.count(1)
        self._frozen = False
        self._closed = False
        self.messages: list[dict[str, Any]] = []
        self.logs: list[str] = []
        self.port: int | None = None
        self.failure: str | None = None
        self.timed_out = False
        self._output = (work_dir / f"vercel-runtime-{uuid.uuid4().hex[:8]}.log").open("wb")
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-c", "import vercel_runtime.vc_init"],
            cwd=ROOT,
            env={
                "PATH": os.environ.get("PATH", ""),
                "HOME": os.environ.get("HOME", "/tmp"),
                **runtime_environment(
                    ipc_path=self._ipc_path, entrypoint=entrypoint, variable=variable
                ),
                **env,
            },
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        self._reader = threading.Thread(target=self._read_ipc, name="vercel-ipc", daemon=True)
        self._reader.start()
        self._watchdog = threading.Thread(target=self._enforce_max_duration, daemon=True)
        self._watchdog.start()
        try:
            self._wait_until_started(startup_timeout)
        except BaseException:
            self.close()
            raise
        self.ready_at = time.perf_counter()
        # A connection per request: an idle keep-alive one could be closed by uvicorn's
        # keep-alive timer the moment a thawed process looks at the clock again.
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            timeout=max_duration_seconds,
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        with self._condition:
            self._freeze_if_idle()

    # IPC ---------------------------------------------------------------------------------------

    def _read_ipc(self) -> None:
        self._listener.settimeout(1.0)
        connection = None
        while connection is None:
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                if self._closed or self.process.poll() is not None:
                    return
        buffer = b""
        with connection:
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                buffer += chunk
                *complete, buffer = buffer.split(SEPARATOR)
                for raw in complete:
                    if raw:
                        self._handle(json.loads(raw))

    def _handle(self, message: dict[str, Any]) -> None:
        kind, payload = message.get("type"), message.get("payload", {})
        with self._condition:
            self.messages.append(message)
            if kind == "server-started":
                self.port = int(payload["httpPort"])
            elif kind == "unrecoverable-error":
                self.failure = str(payload.get("message"))
            elif kind == "log":
                self.logs.append(base64.b64decode(payload["message"]).decode(errors="replace"))
            elif kind == "end":
                context = payload["context"]
                key = (str(context["invocationId"]), int(context["requestId"]))
                invocation = self._open.get(key)
                if invocation is not None:
                    invocation.ended_at = time.time()
                    self._settle(key)
            self._condition.notify_all()

    def _wait_until_started(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._condition:
            while self.port is None:
                if self.failure is not None:
                    raise RuntimeFailed(self.failure)
                if self.process.poll() is not None:
                    raise RuntimeFailed(f"the runtime exited with {self.process.returncode}")
                if time.monotonic() > deadline:
                    raise RuntimeFailed("the runtime did not report server-started")
                self._condition.wait(0.05)

    def _enforce_max_duration(self) -> None:
        """An invocation open past maxDuration ends the instance, wait_until work and all."""
        with self._condition:
            while not self._closed and self.process.poll() is None:
                now = time.monotonic()
                if any(
                    now - invocation.opened_at > self.max_duration_seconds
                    for invocation in self._open.values()
                ):
                    self.process.kill()
                    self.process.wait()
                    self.timed_out = True
                    self._open.clear()
                    self._condition.notify_all()
                    return
                self._condition.wait(0.05)

    # Freezing ----------------------------------------------------------------------------------

    def _settle(self, key: tuple[str, int]) -> None:
        invocation = self._open.get(key)
        # Absent once the platform ended the instance (maxDuration).
        if invocation is not None and invocation.closed:
            del self._open[key]
            self._freeze_if_idle()

    def _freeze_if_idle(self) -> None:
        if not (self._open or self._frozen or self._closed) and self.process.poll() is None:
            self.process.send_signal(signal.SIGSTOP)
            self._frozen = True

    def _thaw(self) -> None:
        if self._frozen:
            self.process.send_signal(signal.SIGCONT)
            self._frozen = False

    def _stat(self) -> list[str]:
        # Fields after the command name, which is in parentheses: state, ppid, ...
        return Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()

    @property
    def frozen(self) -> bool:
        """Whether the kernel has the process stopped (state `T`)."""
        return self._stat()[0] == "T"

    @property
    def cpu_ticks(self) -> int:
        """User plus system CPU time the process has had, in clock ticks."""
        fields = self._stat()
        return int(fields[11]) + int(fields[12])

    def wait_idle(self, timeout: float) -> None:
        """Until every invocation has ended (its wait_until work included) and the process froze."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._open:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None and not self.timed_out):
                    raise RuntimeFailed(f"{len(self._open)} invocation(s) still open")
                self._condition.wait(remaining)
        if self.timed_out:
            return
        # SIGSTOP is delivered asynchronously; wait until the kernel has stopped the process.
        while not self.frozen:
            if time.monotonic() > deadline:
                raise RuntimeFailed("the idle runtime was not stopped")
            time.sleep(0.01)

    # Requests ----------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        client_ip: str,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Deliver one request as the edge does, from a client at `client_ip`.

        The response is returned as soon as it is complete; the invocation stays open (and the
        instance awake) until the runtime also reports its end.
        """
        key = (str(uuid.uuid4()), next(self._request_ids))
        with self._condition:
            if self.failure is not None or self.process.poll() is not None:
                raise RuntimeFailed(self.failure or "the runtime is not running")
            invocation = Invocation(method, path)
            self._open[key] = invocation
            self.invocations.append(invocation)
            self._thaw()
        sent = httpx.Headers(headers or {})
        # A proxy in front of Vercel would pass the client's X-Forwarded-For on with the address
        # appended; the headers Vercel's edge vouches for are overwritten with the true address.
        forwarded = sent.get("x-forwarded-for")
        sent["x-forwarded-for"] = f"{forwarded}, {client_ip}" if forwarded else client_ip
        sent["x-vercel-forwarded-for"] = client_ip
        sent["x-real-ip"] = client_ip
        sent["host"] = HOST
        sent["x-forwarded-host"] = HOST
        sent["x-forwarded-proto"] = "https"
        sent["x-vercel-id"] = f"fra1::iad1::{uuid.uuid4().hex[:20]}"
        sent["x-vercel-internal-invocation-id"] = key[0]
        sent["x-vercel-internal-request-id"] = str(key[1])
        deadline = datetime.now(UTC) + timedelta(seconds=self.max_duration_seconds)
        sent["x-vercel-internal-deadline"] = deadline.isoformat(timespec="milliseconds")
        try:
            return self.http.request(method, path, headers=sent, **kwargs)
        except BaseException:
            with self._condition:
                # No answer: the platform gives up on the invocation.
                invocation.ended_at = invocation.ended_at or time.time()
            raise
        finally:
            with self._condition:
                invocation.responded_at = time.time()
                self._settle(key)

    # Shutdown ----------------------------------------------------------------------------------

    def runtime_output(self) -> str:
        if not self._output.closed:
            self._output.flush()
        text = Path(self._output.name).read_text(errors="replace")
        return "\n".join([*self.logs, text])

    def close(self) -> None:
        """Stop the runtime (thawed first, so it can shut down) and release the socket."""
        self._closed = True
        if hasattr(self, "http"):
            self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self._frozen = False
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        with self._condition:
            self._condition.notify_all()
        self._watchdog.join(timeout=5)
        self._reader.join(timeout=5)
        self._listener.close()
        self._ipc_path.unlink(missing_ok=True)
        self._output.close()
