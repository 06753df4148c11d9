"""A bucket's own limits, stricter than the API's: a final 413/415, never an outage."""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image

from app.adapters.storage import Buckets
from tests.auth.test_router import assert_error
from tests.conftest import http_client, running_app
from tests.factories import API, create_user
from tests.images import image_bytes, upload
from tests.storage.conftest import SupabaseStorageServer, storage_client

BUCKET_LIMIT = 4096


async def test_uploads_refused_by_the_bucket_are_413_and_415(
    supabase: SupabaseStorageServer, sqlite_database: str, tmp_path: Path
):
    settings = supabase.settings(database_url=sqlite_database, data_dir=tmp_path)
    buckets = Buckets.from_settings(settings)
    async with storage_client(supabase.url) as storage:
        for spec in buckets.all():
            strict = spec.name == buckets.user_assets.name
            await storage.create_bucket(
                spec.name,
                options={
                    "public": spec.public,
                    "file_size_limit": BUCKET_LIMIT if strict else spec.file_size_limit,
                    "allowed_mime_types": ["image/png"] if strict else spec.allowed_mime_types,
                },
            )
    noise = Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3))
    large_png = io.BytesIO()
    noise.save(large_png, format="PNG")
    assert len(large_png.getvalue()) > BUCKET_LIMIT

    async with running_app(settings) as app, http_client(app) as client:
        user = await create_user(app)
        supabase.state.requests.clear()
        too_large = await upload(client, user, large_png.getvalue())
        assert_error(too_large, 413, "payload_too_large")
        refused_type = await upload(
            client, user, image_bytes("JPEG"), filename="a.jpg", content_type="image/jpeg"
        )
        assert_error(refused_type, 415, "unsupported_media_type")
        # Each was sent to storage once: a refusal is not retried.
        uploads = [path for method, path in supabase.state.requests if method == "POST"]
        assert len(uploads) == 2, supabase.state.requests
        listing = (await client.get(f"{API}/assets", headers=user.headers)).json()
        assert listing["items"] == []
