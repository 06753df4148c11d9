"""Response bodies of the asset endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.models import AssetType


class AssetOut(BaseModel):
    id: uuid.UUID
    type: AssetType
    width: int
    height: int
    size_bytes: int
    content_type: str
    url: str = Field(
        description="Where the browser loads the image; private images get a link that expires."
    )
    sha256: str = Field(description="SHA-256 of the stored bytes, after metadata was stripped.")
    created_at: datetime
