"""Cold start of the product against a bare FastAPI app: import time, first request, peak memory.

Every figure comes from fresh Python processes, run alternately for both apps on this machine,
and is reported as a median with the ratio product / bare FastAPI.
Run: python bench/coldstart.py [--runs N] [--no-bytecode-cache]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, product_environment  # noqa: E402

# Runs in the fresh process. The client's own imports happen before the clock starts, so both
# apps are charged only for themselves.
FIRST_REQUEST = """
import asyncio, importlib, json, resource, sys, time
import httpx
started = time.perf_counter()
module = importlib.import_module(sys.argv[1])
imported = time.perf_counter()
app = getattr(module, sys.argv[2])

async def first_request() -> int:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        return (await client.get(sys.argv[3])).status_code

status = asyncio.run(first_request())
answered = time.perf_counter()
print(json.dumps({
    "status": status,
    "import_s": imported - started,
    "first_request_s": answered - started,
    "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


@dataclass(frozen=True)
class Target:
    name: str
    module: str
    attribute: str
    path: str


BASELINE = Target("bare FastAPI", "bench.baseline_app", "app", "/ping")
PRODUCT = Target("product", "api.index", "app", "/health")


@dataclass
class Samples:
    process_s: list[float]
    import_s: list[float]
    first_request_s: list[float]
    max_rss_kb: list[float]


def _environment(base: dict[str, str], fresh_bytecode: bool) -> dict[str, str]:
    env = {**os.environ, **base}
    if fresh_bytecode:
        # An empty cache folder per run: every module is compiled from source, as in a bundle
        # shipped without .pyc files.
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="mugshot-pycache-")
    return env


def import_process_seconds(module: str, env: dict[str, str], fresh_bytecode: bool) -> float:
    """Wall time of `python -c "import <module>"`, interpreter start included."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        env=_environment(env, fresh_bytecode),
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def first_request(target: Target, env: dict[str, str], fresh_bytecode: bool) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", FIRST_REQUEST, target.module, target.attribute, target.path],
        cwd=ROOT,
        env=_environment(env, fresh_bytecode),
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    if figures["status"] != 200:
        raise RuntimeError(f"{target.name}: GET {target.path} answered {figures['status']}")
    return figures


def measure(runs: int, fresh_bytecode: bool) -> dict[str, Samples]:
    samples = {target.name: Samples([], [], [], []) for target in (BASELINE, PRODUCT)}
    with product_environment() as env:
        for target in (BASELINE, PRODUCT):  # warm-up: disk cache and, by default, .pyc files
            first_request(target, env, fresh_bytecode=False)
        for _ in range(runs):
            # Alternate the apps so drift on the machine affects both alike.
            for target in (BASELINE, PRODUCT):
                row = samples[target.name]
                row.process_s.append(import_process_seconds(target.module, env, fresh_bytecode))
                figures = first_request(target, env, fresh_bytecode)
                row.import_s.append(figures["import_s"])
                row.first_request_s.append(figures["first_request_s"])
                row.max_rss_kb.append(figures["max_rss_kb"])
    return samples


def report(samples: dict[str, Samples], runs: int, fresh_bytecode: bool) -> None:
    base, product = samples[BASELINE.name], samples[PRODUCT.name]
    rows = [
        ("python -c 'import …' (ms)", base.process_s, product.process_s, 1000),
        ("import in process (ms)", base.import_s, product.import_s, 1000),
        ("import + first GET (ms)", base.first_request_s, product.first_request_s, 1000),
        ("peak RSS (MiB)", base.max_rss_kb, product.max_rss_kb, 1 / 1024),
    ]
    heading = f"median of {runs} fresh processes"
    print(f"{heading:<30}{'bare':>10}{'product':>10}{'ratio':>9}")
    for label, bare, ours, scale in rows:
        bare_median, our_median = statistics.median(bare), statistics.median(ours)
        print(
            f"{label:<30}{bare_median * scale:>10.1f}{our_median * scale:>10.1f}"
            f"{our_median / bare_median:>9.2f}"
        )
    cache = "compiled from source every run" if fresh_bytecode else "cached .pyc files"
    print(f"bare = {BASELINE.module} answering GET {BASELINE.path}")
    print(f"product = {PRODUCT.module} answering GET {PRODUCT.path} on embedded defaults")
    print(f"bytecode: {cache}; ratio = product / bare, same machine, same run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="compile every module from source in every run (a bundle without .pyc files)",
    )
    args = parser.parse_args()
    report(measure(args.runs, args.no_bytecode_cache), args.runs, args.no_bytecode_cache)


if __name__ == "__main__":
    main()
