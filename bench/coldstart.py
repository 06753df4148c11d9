"""Cold start of the product against a bare FastAPI app: import time, first request, peak memory.

Every figure comes from fresh Python processes, run alternately for both apps on this machine,
and is reported as a median with the ratio product / bare FastAPI. The import is also set
against `import fastapi, sqlalchemy.ext.asyncio` (the two libraries every request needs), and
split into where the product's own time goes: its route modules (declaring a route analyses its
dependencies and response model) and create_app().
Run: python bench/coldstart.py [--runs N] [--no-bytecode-cache]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
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
STACK = "fastapi, sqlalchemy.ext.asyncio"

# Runs in the fresh process: the product's import split into libraries, modules and the app.
BREAKDOWN = """
import json, time
started = time.perf_counter()
import app.main
imported = time.perf_counter()
app.main.create_app()
print(json.dumps({"modules_s": imported - started, "create_app_s": time.perf_counter() - imported}))
"""
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


@dataclass
class Samples:
    process_s: list[float]
    process_cpu_s: list[float]
    import_s: list[float]
    first_request_s: list[float]
    max_rss_kb: list[float]


@dataclass
class Breakdown:
    stack_process_s: list[float]
    stack_process_cpu_s: list[float]
    modules_s: list[float]
    create_app_s: list[float]
    routers_self_s: list[float]


def _environment(base: dict[str, str], fresh_bytecode: bool) -> dict[str, str]:
    env = {**os.environ, **base}
    if fresh_bytecode:
        # An empty cache folder per run: every module is compiled from source, as in a bundle
        # shipped without .pyc files.
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="mugshot-pycache-")
    return env


def import_process_seconds(
    module: str, env: dict[str, str], fresh_bytecode: bool
) -> tuple[float, float]:
    """Wall and CPU time of `python -c "import <module>"`, interpreter start included.

    CPU time (user + system) is the steadier figure on a machine shared with other work.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        env=_environment(env, fresh_bytecode),
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


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


def breakdown(env: dict[str, str], fresh_bytecode: bool, into: Breakdown) -> None:
    environment = _environment(env, fresh_bytecode)
    result = subprocess.run(
        [sys.executable, "-c", BREAKDOWN],
        cwd=ROOT,
        env=environment,
        check=True,
        capture_output=True,
    )
    figures = json.loads(result.stdout.decode().strip().splitlines()[-1])
    into.modules_s.append(figures["modules_s"])
    into.create_app_s.append(figures["create_app_s"])
    # -X importtime's self time of each route module: mostly its route declarations.
    traced = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app.main"],
        cwd=ROOT,
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    )
    routers_us = 0
    for line in traced.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match and match[4].startswith("app.") and match[4].endswith(".router"):
            routers_us += int(match[1])
    into.routers_self_s.append(routers_us / 1e6)


def measure(runs: int, fresh_bytecode: bool) -> tuple[dict[str, Samples], Breakdown]:
    samples = {target.name: Samples([], [], [], [], []) for target in (BASELINE, PRODUCT)}
    split = Breakdown([], [], [], [], [])
    with product_environment() as env:
        for target in (BASELINE, PRODUCT):  # warm-up: disk cache and, by default, .pyc files
            first_request(target, env, fresh_bytecode=False)
        for _ in range(runs):
            # Alternate the apps so drift on the machine affects both alike.
            for target in (BASELINE, PRODUCT):
                row = samples[target.name]
                wall, cpu = import_process_seconds(target.module, env, fresh_bytecode)
                row.process_s.append(wall)
                row.process_cpu_s.append(cpu)
                figures = first_request(target, env, fresh_bytecode)
                row.import_s.append(figures["import_s"])
                row.first_request_s.append(figures["first_request_s"])
                row.max_rss_kb.append(figures["max_rss_kb"])
            wall, cpu = import_process_seconds(STACK, env, fresh_bytecode)
            split.stack_process_s.append(wall)
            split.stack_process_cpu_s.append(cpu)
            breakdown(env, fresh_bytecode, split)
    return samples, split


def spread(values: list[float], scale: float) -> str:
    low, high = min(values) * scale, max(values) * scale
    return f"{statistics.median(values) * scale:.1f} ({low:.1f}-{high:.1f})"


def report(samples: dict[str, Samples], split: Breakdown, runs: int, fresh_bytecode: bool) -> None:
    base, product = samples[BASELINE.name], samples[PRODUCT.name]
    rows = [
        ("python -c 'import …' (ms)", base.process_s, product.process_s, 1000),
        ("  the same, CPU time (ms)", base.process_cpu_s, product.process_cpu_s, 1000),
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
    stack_wall = statistics.median(split.stack_process_s)
    product_wall = statistics.median(product.process_s)
    stack_cpu = statistics.median(split.stack_process_cpu_s)
    product_cpu = statistics.median(product.process_cpu_s)
    print(
        f"python -c 'import {STACK}': {spread(split.stack_process_s, 1000)} ms, CPU "
        f"{spread(split.stack_process_cpu_s, 1000)} ms; import api.index / that = "
        f"{product_wall / stack_wall:.2f} (CPU {product_cpu / stack_cpu:.2f})"
    )
    print(
        f"product import split (ms, median (min-max)): import app.main "
        f"{spread(split.modules_s, 1000)}, of which route modules' own time "
        f"{spread(split.routers_self_s, 1000)}; create_app() {spread(split.create_app_s, 1000)}"
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
    samples, split = measure(args.runs, args.no_bytecode_cache)
    report(samples, split, args.runs, args.no_bytecode_cache)


if __name__ == "__main__":
    main()
