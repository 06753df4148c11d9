"""Cold start under AWS Lambda's runtime client, against a bare FastAPI app behind Mangum.

Each run starts a fresh execution environment, `python -m awslambdaric <handler>`, with a
`GET /health` API Gateway event waiting on the Runtime API (tests/support/lambda_service.py),
and times process start to the 200 response posted back; then one warm invocation. The product
and the bare app run alternately in the same run; figures are medians with their spread.
Run: python bench/lambda_coldstart.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, product_environment  # noqa: E402
from tests.serverless.lambda_events import Gateway, build_event  # noqa: E402
from tests.support.lambda_service import (  # noqa: E402
    AwsCredentials,
    LambdaFunction,
    lambda_service,
)

CREDENTIALS = AwsCredentials("ASIAQ3EGUXJMUBENCHKEY", "bench-secret-access-key", "bench-token")


@dataclass(frozen=True)
class Target:
    name: str
    handler: str
    path: str


BASELINE = Target("bare FastAPI + Mangum", "bench.baseline_lambda.handler", "/ping")
PRODUCT = Target("product", "app.lambda_handler.handler", "/health")


@dataclass
class Samples:
    cold_s: list[float] = field(default_factory=list)
    warm_s: list[float] = field(default_factory=list)


def one_run(target: Target, env: dict[str, str]) -> tuple[float, float]:
    """Seconds from process start to the first 200, and of the next (warm) invocation."""
    with tempfile.TemporaryDirectory(prefix="mugshot-lambda-bench-") as logs:
        with lambda_service(
            function=LambdaFunction(),
            credentials=CREDENTIALS,
            handler=target.handler,
            environment=env,
            cwd=ROOT,
            log_dir=Path(logs),
        ) as service:
            timings = []
            for _ in range(2):
                event = build_event(Gateway.HTTP_API, "GET", target.path)
                started = time.perf_counter()
                # The first event starts the environment: the clock includes the process start.
                response = service.invoke(event)
                timings.append(time.perf_counter() - started)
                if response["statusCode"] != 200:
                    raise RuntimeError(f"{target.name}: {response}\n{service.logs()}")
            return timings[0], timings[1]


def spread(values: list[float], scale: float) -> str:
    quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return f"{quartiles[0] * scale:.0f}–{quartiles[2] * scale:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    samples = {target.name: Samples() for target in (BASELINE, PRODUCT)}
    with product_environment() as env:
        env = {key: value for key, value in env.items()}
        for target in (BASELINE, PRODUCT):  # warm-up: disk cache and .pyc files
            one_run(target, env)
        for _ in range(args.runs):
            for target in (BASELINE, PRODUCT):
                cold, warm = one_run(target, env)
                samples[target.name].cold_s.append(cold)
                samples[target.name].warm_s.append(warm)
    base, product = samples[BASELINE.name], samples[PRODUCT.name]
    print(f"median of {args.runs} environments (ms, IQR)   {'bare':>16}{'product':>16}{'ratio':>8}")
    for label, bare, ours in (
        ("process start → first 200", base.cold_s, product.cold_s),
        ("warm invocation", base.warm_s, product.warm_s),
    ):
        bare_median, our_median = statistics.median(bare), statistics.median(ours)
        print(
            f"{label:<36}{bare_median * 1000:>8.0f} ({spread(bare, 1000):>7})"
            f"{our_median * 1000:>8.0f} ({spread(ours, 1000):>7}){our_median / bare_median:>8.2f}"
        )
    print(f"bare = {BASELINE.handler} answering GET {BASELINE.path}")
    print(f"product = {PRODUCT.handler} answering GET {PRODUCT.path} on embedded defaults")
    print("both under awslambdaric, frozen between invocations; ratio = product / bare")


if __name__ == "__main__":
    main()
