"""Start and stop throwaway PostgreSQL and Redis servers for a test run."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Generous bounds: a cold CI machine can be slow, a healthy one takes well under a second.
POSTGRES_START_TIMEOUT = 60.0
POSTGRES_STOP_TIMEOUT = 30.0
REDIS_START_TIMEOUT = 15.0
REDIS_STOP_TIMEOUT = 10.0
# Another process may grab the free port between probing and binding it.
START_ATTEMPTS = 3

_POSTGRES_PROGRAMS = ("initdb", "pg_ctl", "postgres")
_POSTGRES_USER = "postgres"


class ServiceUnavailable(RuntimeError):
    """A server binary (or the account to run it) is missing on this machine."""


class ServiceStartError(RuntimeError):
    """A server binary exists but the server did not come up."""


def free_loopback_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _version_key(path: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin: newest version first when sorting descending.
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))


def _is_postgres_bindir(path: Path) -> bool:
    return all(os.access(path / program, os.X_OK) for program in _POSTGRES_PROGRAMS)


def find_postgres_bindir() -> Path | None:
    """Locate a directory holding initdb, pg_ctl and postgres, newest version first.

    ``POSTGRES_BINDIR`` overrides the search.
    """
    override = os.environ.get("POSTGRES_BINDIR")
    if override:
        return Path(override) if _is_postgres_bindir(Path(override)) else None
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        # Symlinks such as /usr/local/bin/pg_ctl point into the real bindir.
        candidates.append(Path(on_path).resolve().parent)
    for candidate in candidates:
        if _is_postgres_bindir(candidate):
            return candidate
    return None


def find_redis_server() -> str | None:
    """Locate the redis-server binary; ``REDIS_SERVER`` overrides the search."""
    override = os.environ.get("REDIS_SERVER")
    if override:
        return override if os.access(override, os.X_OK) else None
    found = shutil.which("redis-server")
    if found:
        return found
    for fallback in ("/usr/bin/redis-server", "/usr/local/bin/redis-server"):
        if os.access(fallback, os.X_OK):
            return fallback
    return None


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


class _PostgresRunner:
    """Runs PostgreSQL programs as the right account inside one scratch directory."""

    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self._account: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root, so hand everything to its own account.
            try:
                self._account = pwd.getpwnam(_POSTGRES_USER)
            except KeyError:
                raise ServiceUnavailable(
                    f"running as root but there is no {_POSTGRES_USER!r} account to run "
                    "PostgreSQL as; run scripts/install_test_services.sh"
                ) from None
            os.chown(root, self._account.pw_uid, self._account.pw_gid)

    def run(self, program: str, args: Sequence[str], timeout: float) -> None:
        command = [str(self.bindir / program), *args]
        kwargs: dict[str, Any] = {}
        if self._account is not None:
            kwargs.update(user=self._account.pw_uid, group=self._account.pw_gid, extra_groups=[])
        # The scratch directory as cwd: the postgres account may not be able to read ours.
        # A new session keeps Ctrl-C away from the server so the cleanup code stops it.
        result = subprocess.run(
            command,
            cwd=self.root,
            env={**os.environ, "LC_ALL": "C", "PGTZ": "UTC"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
            check=False,
            **kwargs,
        )
        if result.returncode != 0:
            raise ServiceStartError(
                f"{program} {' '.join(args)} failed with exit code {result.returncode}:\n"
                f"{result.stdout}{result.stderr}\nserver log:\n{_log_tail(self.log)}"
            )

    def write_as_owner(self, path: Path, text: str) -> None:
        path.write_text(text)
        if self._account is not None:
            os.chown(path, self._account.pw_uid, self._account.pw_gid)

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None


def _scratch_dir(prefix: str) -> Path:
    parent = Path(tempfile.gettempdir())
    if os.geteuid() == 0 and not parent.stat().st_mode & 0o001:
        # The postgres account must be able to traverse the parent directory.
        parent = Path("/tmp")
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def _init_cluster(runner: _PostgresRunner) -> None:
    runner.run(
        "initdb",
        [
            "--pgdata",
            str(runner.data),
            "--username",
            _POSTGRES_USER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        ],
        timeout=POSTGRES_START_TIMEOUT,
    )
    # Trust is acceptable only because nothing but loopback and the private socket can reach it.
    hba_lines = [
        "local all all trust",
        "host all all 127.0.0.1/32 trust",
        "host all all ::1/128 trust",
    ]
    runner.write_as_owner(runner.data / "pg_hba.conf", "\n".join(hba_lines) + "\n")
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "unix_socket_directories": f"'{runner.root}'",
        # Durability is pointless for a throwaway cluster; these make tests much faster.
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "200",
        "logging_collector": "off",
    }
    config = runner.data / "postgresql.conf"
    extra = "".join(f"{name} = {value}\n" for name, value in settings.items())
    runner.write_as_owner(config, config.read_text() + "\n# test settings\n" + extra)


def _stop_cluster(runner: _PostgresRunner) -> None:
    if runner.postmaster_pid() is None:
        return
    try:
        runner.run(
            "pg_ctl",
            ["stop", "--pgdata", str(runner.data), "--mode", "fast", "--wait"],
            timeout=POSTGRES_STOP_TIMEOUT,
        )
    except (ServiceStartError, subprocess.TimeoutExpired):
        # Last resort so a wedged server never outlives the test run.
        pid = runner.postmaster_pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@contextmanager
def postgres_server() -> Iterator[str]:
    """Run a scratch PostgreSQL cluster and yield its superuser URL.

    The cluster lives in a fresh temporary directory, listens on a free loopback port and is
    stopped and deleted on exit, including on errors and KeyboardInterrupt.
    """
    bindir = find_postgres_bindir()
    if bindir is None:
        raise ServiceUnavailable(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; "
            "run scripts/install_test_services.sh or set POSTGRES_BINDIR"
        )
    root = _scratch_dir("mugshot-pg-")
    runner: _PostgresRunner | None = None
    try:
        runner = _PostgresRunner(bindir, root)
        _init_cluster(runner)
        for attempt in range(1, START_ATTEMPTS + 1):
            port = free_loopback_port()
            try:
                runner.run(
                    "pg_ctl",
                    [
                        "start",
                        "--pgdata",
                        str(runner.data),
                        "--log",
                        str(runner.log),
                        "--wait",
                        "--timeout",
                        str(int(POSTGRES_START_TIMEOUT)),
                        "-o",
                        f"-p {port}",
                    ],
                    timeout=POSTGRES_START_TIMEOUT + 5,
                )
                break
            except ServiceStartError:
                _stop_cluster(runner)
                if attempt == START_ATTEMPTS:
                    raise
        yield f"postgresql://{_POSTGRES_USER}@127.0.0.1:{port}/postgres"
    finally:
        if runner is not None:
            _stop_cluster(runner)
        shutil.rmtree(root, ignore_errors=True)


def _redis_answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


def _start_redis(binary: str, root: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    for attempt in range(1, START_ATTEMPTS + 1):
        port = free_loopback_port()
        with log.open("ab") as log_file:
            process = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    # No persistence: the data is thrown away with the process.
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(root),
                    "--daemonize",
                    "no",
                    "--loglevel",
                    "warning",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + REDIS_START_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            if _redis_answers_ping(port):
                return process, port
            time.sleep(0.01)  # poll interval, not a fixed wait
        exited = process.poll() is not None
        _stop_process(process, REDIS_STOP_TIMEOUT)
        if not exited or attempt == START_ATTEMPTS:
            reason = "exited early" if exited else f"no PING reply in {REDIS_START_TIMEOUT:.0f}s"
            raise ServiceStartError(f"redis-server {reason}; log:\n{_log_tail(log)}")
    raise AssertionError("unreachable")


@contextmanager
def redis_server() -> Iterator[str]:
    """Run a scratch redis-server without persistence and yield its URL."""
    binary = find_redis_server()
    if binary is None:
        raise ServiceUnavailable(
            "redis-server not found; run scripts/install_test_services.sh or set REDIS_SERVER"
        )
    root = _scratch_dir("mugshot-redis-")
    process: subprocess.Popen[bytes] | None = None
    try:
        process, port = _start_redis(binary, root, root / "redis.log")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        if process is not None:
            _stop_process(process, REDIS_STOP_TIMEOUT)
        shutil.rmtree(root, ignore_errors=True)
