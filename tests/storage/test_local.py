"""The local object storage: files under a folder, kept inside their bucket, signed URLs."""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from app.adapters.storage import (
    Buckets,
    InvalidObjectPath,
    LocalObjectStorage,
    ObjectAlreadyExists,
    ObjectNotFound,
    StorageUnavailable,
    object_url,
)
from tests.conftest import make_settings

BUCKETS = Buckets.from_settings(make_settings())
PRIVATE = BUCKETS.user_assets.name
PUBLIC = BUCKETS.profile_photos.name


@pytest.fixture
def storage(tmp_path: Path) -> LocalObjectStorage:
    return LocalObjectStorage(
        tmp_path / "storage",
        signing_secret="a-secret-for-signing-local-urls-0123456789",
        base_url="http://files.test/",
        buckets=BUCKETS,
    )


def signed_parts(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return parts.path, int(query["expires"][0]), query["signature"][0]


class TestReadWrite:
    async def test_put_then_get_returns_the_bytes(self, storage: LocalObjectStorage):
        await storage.put(PRIVATE, "u1/selfie/a.png", b"one", content_type="image/png")
        assert await storage.get(PRIVATE, "u1/selfie/a.png") == b"one"
        assert (storage.root / PRIVATE / "u1/selfie/a.png").read_bytes() == b"one"

    async def test_upsert_replaces_and_leaves_no_temporary_files(self, storage: LocalObjectStorage):
        await storage.put(PRIVATE, "u1/a.png", b"one", content_type="image/png")
        await storage.put(PRIVATE, "u1/a.png", b"two", content_type="image/png")
        assert await storage.get(PRIVATE, "u1/a.png") == b"two"
        assert os.listdir(storage.root / PRIVATE / "u1") == ["a.png"]

    async def test_without_upsert_an_existing_object_is_an_error(self, storage: LocalObjectStorage):
        await storage.put(PRIVATE, "u1/a.png", b"one", content_type="image/png", upsert=False)
        with pytest.raises(ObjectAlreadyExists):
            await storage.put(PRIVATE, "u1/a.png", b"two", content_type="image/png", upsert=False)
        assert await storage.get(PRIVATE, "u1/a.png") == b"one"
        assert os.listdir(storage.root / PRIVATE / "u1") == ["a.png"]

    async def test_missing_objects_and_unknown_buckets_are_not_found(
        self, storage: LocalObjectStorage
    ):
        with pytest.raises(ObjectNotFound):
            await storage.get(PRIVATE, "u1/missing.png")
        with pytest.raises(ObjectNotFound):
            await storage.get("other-bucket", "u1/a.png")
        with pytest.raises(InvalidObjectPath):
            await storage.put("other-bucket", "u1/a.png", b"x", content_type="image/png")

    async def test_a_write_that_cannot_happen_is_reported_as_unavailable(
        self, storage: LocalObjectStorage
    ):
        # A file where the folder should be makes the write fail like a broken disk would.
        (storage.root / PRIVATE).mkdir(parents=True)
        (storage.root / PRIVATE / "u1").write_bytes(b"in the way")
        with pytest.raises(StorageUnavailable):
            await storage.put(PRIVATE, "u1/a.png", b"x", content_type="image/png")

    async def test_delete_ignores_missing_objects(self, storage: LocalObjectStorage):
        await storage.put(PRIVATE, "u1/a.png", b"a", content_type="image/png")
        await storage.put(PRIVATE, "u1/b.png", b"b", content_type="image/png")
        await storage.delete(PRIVATE, ["u1/a.png", "u1/never.png"])
        with pytest.raises(ObjectNotFound):
            await storage.get(PRIVATE, "u1/a.png")
        assert await storage.get(PRIVATE, "u1/b.png") == b"b"

    async def test_delete_prefix_removes_one_folder_tree_only(self, storage: LocalObjectStorage):
        await storage.put(PUBLIC, "u1/job/1.png", b"1", content_type="image/png")
        await storage.put(PUBLIC, "u1/job/2.png", b"2", content_type="image/png")
        await storage.put(PUBLIC, "u1/avatar.png", b"3", content_type="image/png")
        await storage.put(PUBLIC, "u10/avatar.png", b"4", content_type="image/png")
        assert await storage.delete_prefix(PUBLIC, "u1") == 3
        assert not (storage.root / PUBLIC / "u1").exists()
        assert await storage.get(PUBLIC, "u10/avatar.png") == b"4"
        assert await storage.delete_prefix(PUBLIC, "u1/") == 0
        assert await storage.delete_prefix(PUBLIC, "nobody") == 0

    async def test_ping_needs_a_writable_root(self, storage: LocalObjectStorage, tmp_path: Path):
        await storage.ping()
        assert storage.root.is_dir()
        blocked = LocalObjectStorage(
            tmp_path / "a-file",
            signing_secret="s" * 40,
            base_url="http://files.test",
            buckets=BUCKETS,
        )
        (tmp_path / "a-file").write_bytes(b"not a folder")
        with pytest.raises(OSError):  # noqa: PT011 - any file system error means unhealthy
            await blocked.ping()


class TestContainment:
    @pytest.mark.parametrize(
        "path",
        [
            "",
            "/etc/passwd",
            "../outside.png",
            "u1/../../outside.png",
            "u1/./a.png",
            "a\\b.png",
            "u1//a.png",
            "u1/a.png\x00.txt",
            "x" * 1100,
        ],
    )
    async def test_paths_that_could_escape_are_refused(
        self, storage: LocalObjectStorage, path: str
    ):
        with pytest.raises(InvalidObjectPath):
            await storage.put(PRIVATE, path, b"x", content_type="image/png")
        with pytest.raises(InvalidObjectPath):
            await storage.get(PRIVATE, path)
        with pytest.raises(InvalidObjectPath):
            await storage.delete(PRIVATE, [path])

    async def test_a_symlink_out_of_the_bucket_is_not_followed(
        self, storage: LocalObjectStorage, tmp_path: Path
    ):
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "secret.png").write_bytes(b"secret")
        bucket = storage.root / PRIVATE
        bucket.mkdir(parents=True)
        (bucket / "u1").symlink_to(outside, target_is_directory=True)
        with pytest.raises(InvalidObjectPath):
            await storage.get(PRIVATE, "u1/secret.png")
        with pytest.raises(InvalidObjectPath):
            await storage.put(PRIVATE, "u1/new.png", b"x", content_type="image/png")
        with pytest.raises(InvalidObjectPath):
            await storage.delete_prefix(PRIVATE, "u1")
        assert sorted(os.listdir(outside)) == ["secret.png"]

    async def test_a_symlinked_file_out_of_the_bucket_is_not_read(
        self, storage: LocalObjectStorage, tmp_path: Path
    ):
        (tmp_path / "secret.png").write_bytes(b"secret")
        folder = storage.root / PRIVATE / "u1"
        folder.mkdir(parents=True)
        (folder / "link.png").symlink_to(tmp_path / "secret.png")
        with pytest.raises(InvalidObjectPath):
            await storage.get(PRIVATE, "u1/link.png")
        with pytest.raises(InvalidObjectPath):
            storage.local_file(PRIVATE, "u1/link.png")


class TestUrls:
    def test_public_url_points_at_the_files_route(self, storage: LocalObjectStorage):
        url = storage.public_url(PUBLIC, "u1/avatar one.png")
        assert url == f"http://files.test/api/v1/files/{PUBLIC}/u1/avatar%20one.png"

    async def test_signed_url_verifies_for_its_bucket_path_and_expiry_only(
        self, storage: LocalObjectStorage
    ):
        url = await storage.signed_url(PRIVATE, "u1/a.png", expires_in=600)
        path, expires, signature = signed_parts(url)
        assert path == f"/api/v1/files/{PRIVATE}/u1/a.png"
        assert time.time() + 590 < expires <= time.time() + 601
        assert "=" not in signature
        assert storage.verify_signature(PRIVATE, "u1/a.png", expires, signature)
        assert not storage.verify_signature(PRIVATE, "u1/b.png", expires, signature)
        assert not storage.verify_signature(PUBLIC, "u1/a.png", expires, signature)
        assert not storage.verify_signature(PRIVATE, "u1/a.png", expires + 1, signature)
        tampered = signature[:-1] + ("B" if signature.endswith("A") else "A")
        assert not storage.verify_signature(PRIVATE, "u1/a.png", expires, tampered)
        assert not storage.verify_signature(PRIVATE, "u1/a.png", expires, "é")

    async def test_signatures_depend_on_the_secret(self, storage: LocalObjectStorage):
        other = LocalObjectStorage(
            storage.root, signing_secret="another-secret-" * 4, base_url="", buckets=BUCKETS
        )
        url = await storage.signed_url(PRIVATE, "u1/a.png", expires_in=600)
        _, expires, signature = signed_parts(url)
        assert not other.verify_signature(PRIVATE, "u1/a.png", expires, signature)

    async def test_object_url_signs_only_private_buckets(self, storage: LocalObjectStorage):
        public = await object_url(storage, BUCKETS, PUBLIC, "u1/a.png", expires_in=60)
        assert "signature=" not in public
        private = await object_url(storage, BUCKETS, PRIVATE, "u1/a.png", expires_in=60)
        assert "signature=" in private
