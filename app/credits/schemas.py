"""Bodies of the credit endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class BalanceOut(BaseModel):
    credits: int


class TransactionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    delta: int
    reason: str
    reference: str | None
    balance_after: int
    created_at: datetime
