"""Cold start under Vercel's Python runtime: process start to the first `GET /health` 200.

Each run starts a fresh `vercel_runtime.vc_init` process on the entrypoint, as a Vercel function
instance starts, with the test suite's stand-in for the platform (IPC socket, edge headers,
freezing). The product (`api/index.py`, `VERCEL=1`, embedded defaults) and a bare FastAPI app
run alternately; figures are medians with their spread, and ratios product / bare.
Run: python bench/coldstart_vercel.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import product_environment  # noqa: E402
from tests.serverless.vercel_platform import VercelPlatform  # noqa: E402


@dataclass(frozen=True)
class Target:
    name: str
    entrypoint: str
    path: str


BASELINE = Target("bare FastAPI", "bench/baseline_app.py", "/ping")
PRODUCT = Target("product", "api/index.py", "/health")


@dataclass
class Samples:
    server_started_s: list[float] = field(default_factory=list)
    first_response_s: list[float] = field(default_factory=list)
    import_fn_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cold_start(target: Target, env: dict[str, str]) -> tuple[float, float, float, float]:
    """Seconds to `server-started` and to the first 200, the runtime's own import-fn figure,
    and the CPU time the process used up to its first answer (steadier on a busy machine)."""
    with tempfile.TemporaryDirectory(prefix="mugshot-vc-bench-") as work_dir:
        function = VercelPlatform(
            env={**env, "VERCEL": "1"}, work_dir=Path(work_dir), entrypoint=target.entrypoint
        )
        try:
            response = function.request("GET", target.path, client_ip="198.51.100.1")
            answered = time.perf_counter()
            if response.status_code != 200:
                raise RuntimeError(f"{target.name}: GET {target.path} -> {response.status_code}")
            [started] = [m for m in function.messages if m["type"] == "server-started"]
            return (
                function.ready_at - function.started_at,
                answered - function.started_at,
                started["payload"]["userInitDuration"] / 1000,
                function.cpu_ticks / CLOCK_TICKS,
            )
        finally:
            function.close()


def measure(runs: int) -> dict[str, Samples]:
    samples = {target.name: Samples() for target in (BASELINE, PRODUCT)}
    with product_environment() as env:
        for target in (BASELINE, PRODUCT):  # warm-up: disk cache and .pyc files
            cold_start(target, env)
        for _ in range(runs):
            # Alternate the apps so drift on the machine affects both alike.
            for target in (BASELINE, PRODUCT):
                ready, first, import_fn, cpu = cold_start(target, env)
                row = samples[target.name]
                row.server_started_s.append(ready)
                row.first_response_s.append(first)
                row.import_fn_s.append(import_fn)
                row.cpu_s.append(cpu)
    return samples


def cell(values: list[float]) -> str:
    """Median with min-max, in milliseconds."""
    median, low, high = (1000 * x for x in (statistics.median(values), min(values), max(values)))
    return f"{median:.0f} ({low:.0f}-{high:.0f})"


def report(samples: dict[str, Samples], runs: int) -> None:
    base, product = samples[BASELINE.name], samples[PRODUCT.name]
    rows = [
        ("entrypoint import (import-fn)", base.import_fn_s, product.import_fn_s),
        ("start to server-started", base.server_started_s, product.server_started_s),
        ("start to first 200", base.first_response_s, product.first_response_s),
        ("CPU time to first 200", base.cpu_s, product.cpu_s),
    ]
    print(f"ms, median (min-max) of {runs} fresh vercel-runtime processes")
    print(f"{'':<32}{'bare':>22}{'product':>22}{'ratio':>8}")
    for label, bare, ours in rows:
        ratio = statistics.median(ours) / statistics.median(bare)
        print(f"{label:<32}{cell(bare):>22}{cell(ours):>22}{ratio:>8.2f}")
    print(f"bare = {BASELINE.entrypoint} answering GET {BASELINE.path}")
    print(f"product = {PRODUCT.entrypoint} answering GET {PRODUCT.path} on embedded defaults")
    print("import-fn is the runtime's own figure from its server-started message")
    print("ratio = product / bare, same runtime, same machine, same run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    report(measure(args.runs), args.runs)


if __name__ == "__main__":
    main()
