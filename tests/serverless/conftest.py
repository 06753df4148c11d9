"""Fixtures for the serverless entry points."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.config import Settings
from tests.serverless.lambda_runtime import LambdaEnvironment


@pytest.fixture
def lambda_env(settings: Settings) -> Iterator[LambdaEnvironment]:
    """The function on test settings (temp DATA_DIR, migrated database, known JWT secret)."""
    environment = LambdaEnvironment(settings)
    try:
        yield environment
    finally:
        environment.close()
