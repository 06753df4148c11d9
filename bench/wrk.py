"""Load a server with wrk and read its figures, with the server's own CPU time per request."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def ensure_wrk() -> str:
    """The wrk binary, installed from Debian apt when it is missing (needs root)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (needs root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, env=env)
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    return shutil.which("wrk") or "wrk"


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    server_cpu_s: float

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_s / max(self.requests, 1) * 1e6

    @property
    def server_core_use(self) -> float:
        """Share of one core the server used while loaded (about 1.0 when CPU-bound)."""
        return self.server_cpu_s / self.seconds


def _latency(output: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {percentile}% latency in wrk output:\n{output}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(
    url: str,
    *,
    server_pid: int,
    connections: int,
    seconds: float,
    headers: dict[str, str] | None = None,
) -> Load:
    """One wrk thread against `url`; every response must be 2xx."""
    command = [
        ensure_wrk(),
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    cpu_before = cpu_seconds(server_pid)
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    cpu = cpu_seconds(server_pid) - cpu_before
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw failures against {url}:\n{output}")
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if done is None or rate is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return Load(
        requests=int(done.group(1)),
        seconds=float(done.group(2)) * _UNITS[done.group(3)] / 1000,
        per_second=float(rate.group(1)),
        p50_ms=_latency(output, "50"),
        p99_ms=_latency(output, "99"),
        server_cpu_s=cpu,
    )
