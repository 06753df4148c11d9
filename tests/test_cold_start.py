"""Importing the entry points loads no cloud SDK and no library that only some requests need:
a cold start pays only for what it calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SDKS = [
    "google.genai",
    "supabase",
    "storage3",
    "fal_client",
    "upstash_redis",
    "upstash_ratelimit",
    "qstash",
    "razorpay",
    "stripe",
    "botocore",
]
# Loaded on first use only: images (uploads, renders), tokens (PyJWT pulls in cryptography),
# password hashing, the clients of remote providers, and the studio's person cutout.
HEAVY = ["PIL", "cryptography", "jwt", "argon2", "httpx", "numpy", "ai_edge_litert"]
SQLITE_DRIVER = ["aiosqlite", "sqlite3"]
# Every cloud adapter configured; nothing listens there, and nothing should be contacted.
CLOUD = {
    "DATABASE_URL": "postgresql://mugshot:secret@127.0.0.1:9/mugshot",
    "SUPABASE_URL": "http://127.0.0.1:9",
    "SUPABASE_SERVICE_ROLE_KEY": "service-role-key",
    "UPSTASH_REDIS_REST_URL": "http://127.0.0.1:9",
    "UPSTASH_REDIS_REST_TOKEN": "upstash-token",
    "QSTASH_TOKEN": "qstash-token",
    "QSTASH_CURRENT_SIGNING_KEY": "sig_current",
    "QSTASH_NEXT_SIGNING_KEY": "sig_next",
    "GEMINI_API_KEY": "gemini-key",
    "BYTEDANCE_API_KEY": "seedream-key",
    "FAL_KEY": "fal-key",
    "RAZORPAY_KEY_ID": "rzp_test_cold",
    "RAZORPAY_KEY_SECRET": "razorpay-secret",
    "RAZORPAY_WEBHOOK_SECRET": "razorpay-webhook-secret",
    "STRIPE_SECRET_KEY": "sk_test_cold",
    "STRIPE_WEBHOOK_SECRET": "whsec_cold",
}


def loaded_modules(
    module: str, data_dir: Path, extra: dict[str, str], names: list[str] = SDKS
) -> list[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in CLOUD and key not in ("DATABASE_URL", "SMTP_HOST")
    }
    environment.update(DATA_DIR=str(data_dir), ENVIRONMENT="development", **extra)
    code = (
        "import json, sys\n"
        f"import {module}\n"
        f"print(json.dumps([name for name in {names!r} if name in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    # The last line is ours; the app may log before it.
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("module", ["api.index", "app.lambda_handler"])
@pytest.mark.parametrize("configured", [{}, CLOUD], ids=["embedded", "cloud"])
def test_importing_loads_no_cloud_sdk(
    module: str, configured: dict[str, str], tmp_path: Path
) -> None:
    assert loaded_modules(module, tmp_path / "data", configured) == []


@pytest.mark.parametrize("module", ["api.index", "app.lambda_handler"])
def test_importing_defers_what_only_some_requests_need(module: str, tmp_path: Path) -> None:
    assert loaded_modules(module, tmp_path / "data", {}, HEAVY) == []


def test_the_sqlite_driver_stays_unloaded_on_postgres(tmp_path: Path) -> None:
    names = HEAVY + SQLITE_DRIVER
    assert loaded_modules("api.index", tmp_path / "data", CLOUD, names) == []


def test_the_lambda_dispatcher_loads_botocore_only_when_it_sends(tmp_path: Path) -> None:
    on_lambda = {"AWS_LAMBDA_FUNCTION_NAME": "mugshot-api", "AWS_REGION": "eu-west-1"}
    assert loaded_modules("app.lambda_handler", tmp_path / "data", on_lambda) == []
