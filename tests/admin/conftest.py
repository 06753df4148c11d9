"""Fixtures of the admin tests: a signed-in admin beside the ordinary `user` and `other`."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.factories import TestUser, create_admin


@pytest.fixture
async def admin(app: FastAPI) -> TestUser:
    """A confirmed admin account with a live session."""
    return await create_admin(app)
