"""The Supabase Storage test server answers the real client the way a Supabase project does."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from storage3.exceptions import StorageApiError

from tests.storage.conftest import SERVICE_KEY, SupabaseStorageServer, storage_client
from tests.support.supabase_storage_server import GLOBAL_FILE_SIZE_LIMIT

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
KEY_HEADERS = {"apikey": SERVICE_KEY, "authorization": f"Bearer {SERVICE_KEY}"}


def error_of(exc: pytest.ExceptionInfo[StorageApiError]) -> tuple[str, str, str]:
    return str(exc.value.status), exc.value.code, exc.value.message


async def make_bucket(server: SupabaseStorageServer, name: str, **options: Any) -> None:
    async with storage_client(server.url) as storage:
        await storage.create_bucket(name, options=options or None)


class TestGateway:
    async def test_missing_api_key_is_refused_by_the_gateway(
        self, supabase: SupabaseStorageServer
    ) -> None:
        async with httpx.AsyncClient() as http:
            response = await http.get(
                f"{supabase.url}/storage/v1/bucket",
                headers={"authorization": f"Bearer {SERVICE_KEY}"},
            )
        assert response.status_code == 401
        assert response.json()["message"] == "No API key found in request"
        assert supabase.state.requests == []

    async def test_unknown_api_key_is_refused_by_the_gateway(
        self, supabase: SupabaseStorageServer
    ) -> None:
        async with storage_client(supabase.url, "not-the-key") as storage:
            with pytest.raises(StorageApiError) as exc:
                await storage.list_buckets()
        # The gateway's body has no storage error fields, so storage3 reports it unparsed.
        assert str(exc.value.status) == "401"
        assert "Invalid API key" in exc.value.message

    async def test_wrong_bearer_token_is_access_denied_with_http_400(
        self, supabase: SupabaseStorageServer
    ) -> None:
        async with httpx.AsyncClient() as http:
            response = await http.get(
                f"{supabase.url}/storage/v1/bucket",
                headers={"apikey": SERVICE_KEY, "authorization": "Bearer not-a-jwt"},
            )
        assert response.status_code == 400
        assert response.json() == {
            "statusCode": "403",
            "code": "AccessDenied",
            "error": "Unauthorized",
            "message": "Invalid Compact JWS",
        }

    async def test_client_with_a_foreign_token_gets_storage_api_error(
        self, supabase: SupabaseStorageServer
    ) -> None:
        foreign = jwt.encode({"role": "service_role"}, "another-project-secret-0123456789")
        async with storage_client(
            supabase.url, headers={"Authorization": f"Bearer {foreign}"}
        ) as storage:
            with pytest.raises(StorageApiError) as exc:
                await storage.list_buckets()
        assert error_of(exc) == ("403", "Unauthorized", "signature verification failed")

    async def test_unknown_route_answers_404_in_storage_shape(
        self, supabase: SupabaseStorageServer
    ) -> None:
        async with httpx.AsyncClient(headers=KEY_HEADERS) as http:
            response = await http.get(f"{supabase.url}/storage/v1/nothing/here")
        assert response.status_code == 404
        assert response.json()["message"] == "Route GET:/nothing/here not found"


class TestBuckets:
    async def test_create_get_list_update(self, supabase: SupabaseStorageServer) -> None:
        async with storage_client(supabase.url) as storage:
            created = await storage.create_bucket(
                "photos",
                options={
                    "public": True,
                    "file_size_limit": 1024,
                    "allowed_mime_types": ["image/png"],
                },
            )
            assert created == {"name": "photos"}
            bucket = await storage.get_bucket("photos")
            assert (bucket.id, bucket.public, bucket.file_size_limit) == ("photos", True, 1024)
            assert bucket.allowed_mime_types == ["image/png"]
            assert bucket.owner == ""

            await storage.update_bucket("photos", {"public": False, "file_size_limit": 2048})
            listed = await storage.list_buckets()
        assert [(b.id, b.public, b.file_size_limit, b.type) for b in listed] == [
            ("photos", False, 2048, "STANDARD")
        ]
        assert listed[0].allowed_mime_types == ["image/png"]

    async def test_duplicate_bucket(self, supabase: SupabaseStorageServer) -> None:
        await make_bucket(supabase, "photos")
        async with storage_client(supabase.url) as storage:
            with pytest.raises(StorageApiError) as exc:
                await storage.create_bucket("photos")
        assert error_of(exc) == ("409", "Duplicate", "The resource already exists")

    async def test_missing_bucket(self, supabase: SupabaseStorageServer) -> None:
        async with storage_client(supabase.url) as storage:
            with pytest.raises(StorageApiError) as exc:
                await storage.get_bucket("nope")
        assert error_of(exc) == ("404", "Bucket not found", "Bucket not found")

    async def test_file_size_limit_above_the_global_limit_is_refused(
        self, supabase: SupabaseStorageServer
    ) -> None:
        async with storage_client(supabase.url) as storage:
            with pytest.raises(StorageApiError) as exc:
                await storage.create_bucket(
                    "huge", options={"file_size_limit": GLOBAL_FILE_SIZE_LIMIT + 1}
                )
        assert error_of(exc)[:2] == ("413", "Payload too large")

    async def test_invalid_bucket_name_and_mime_type(self, supabase: SupabaseStorageServer) -> None:
        async with storage_client(supabase.url) as storage:
            with pytest.raises(StorageApiError) as exc:
                await storage.create_bucket("bad/name")
            assert error_of(exc) == ("400", "Invalid Input", "Bucket name invalid")
            with pytest.raises(StorageApiError) as exc:
                await storage.create_bucket("ok", options={"allowed_mime_types": ["not a type"]})
            assert error_of(exc)[:2] == ("415", "invalid_mime_type")

    async def test_delete_needs_an_empty_bucket(self, supabase: SupabaseStorageServer) -> None:
        await make_bucket(supabase, "photos")
        async with storage_client(supabase.url) as storage:
            await storage.from_("photos").upload("a.png", PNG, {"content-type": "image/png"})
            with pytest.raises(StorageApiError) as exc:
                await storage.delete_bucket("photos")
            assert error_of(exc)[0] == "409"
            await storage.empty_bucket("photos")
            assert await storage.delete_bucket("photos") == {"message": "Successfully deleted"}
        assert supabase.state.buckets == {}


class TestUpload:
    async def test_upload_sends_content_type_and_cache_control(
        self, supabase: SupabaseStorageServer
    ) -> None:
        await make_bucket(supabase, "photos")
        async with storage_client(supabase.url) as storage:
            response = await storage.from_("photos").upload(
                "u/a.png", PNG, {"content-type": "image/png", "cache-control": "60"}
            )
        assert response.full_path == "photos/u/a.png"
        stored = supabase.state.objects["photos"]["u/a.png"]
        assert (stored.data, stored.content_type, stored.cache_control) == (
            PNG,
            "image/png",
            "max-age=60",
        )

    async def test_post_refuses_an_existing_object_unless_upserting(
        self, supabase: SupabaseStorageServer
    ) -> None:
        await make_bucket(supabase, "photos")
        async with storage_client(supabase.url) as storage:
            files = storage.from_("photos")
            await files.upload("a.png", b"one", {"content-type": "image/png"})
            with pytest.raises(StorageApiError) as exc:
                await files.upload("a.png", b"two", {"content-type": "image/png"})
            assert error_of(exc) == ("409", "Duplicate", "The resource already exists")
            await files.upload("a.png", b"three", {"content-type": "image/png", "upsert": "true"})
            assert await files.download("a.png") == b"three"
            # PUT replaces without asking.
            await files.update("a.png", b"four", {"content-type": "image/png"})
            assert await files.download("a.png") == b"four"

    async def test_bucket_size_limit(self, supabase: SupabaseStorageServer) -> None:
        await make_bucket(supabase, "small", file_size_limit=10)
        async with storage_client(supabase.url) as storage:
            files = storage.from_("small")
            await files.upload("fits.bin", b"x" * 10, {"content-type": "image/png"})
            with pytest.raises(StorageApiError) as exc:
                await files.upload("big.bin", b"x" * 11, {"content-type": "image/png"})
        assert error_of(exc) == (
            "413",
            "Payload too large",
            "The object exceeded the maximum allowed size",
        )
        assert set(supabase.state.objects["small"]) == {"fits.bin"}

    async def test_allowed_mime_types(self, supabase: SupabaseStorageServer) -> None:
        await make_bucket(supabase, "images", allowed_mime_types=["image/png", "video/*"])
        async with storage_client(supabase.url) as storage:
            files = storage.from_("images")
            await files.upload("a.png", PNG, {"content-type": "image/png"})
            await files.upload("a.mp4", b"v", {"content-type": "video/mp4"})
            with pytest.raises(StorageApiError) as exc:
                await files.upload("a.txt", b"t", {"content-type": "text/plain"})
        assert error_of(exc) == (
            "415",
            "invalid_mime_type",
            "mime type text/plain is not supported",
        )

    async def test_upload_to_missing_bucket(self, supabase: SupabaseStorageServer) -> None:
        async with storage_client(supabase.url) as storage:
            with pytest.raises(StorageApiError) as exc:
                await storage.from_("nope").upload("a.png", PNG, {"content-type": "image/png"})
        assert error_of(exc) == ("404", "Bucket not found", "Bucket not found")


class TestDownload:
    async def test_missing_object_is_http_400_with_not_found_body(
        self, supabase: SupabaseStorageServer
    ) -> None:
        await make_bucket(supabase, "photos")
        async with httpx.AsyncClient(headers=KEY_HEADERS) as http:
            response = await http.get(f"{supabase.url}/storage/v1/object/photos/none.png")
        assert response.status_code == 400
        assert response.json() == {
            "statusCode": "404",
            "code": "NoSuchKey",
            "error": "not_found",
            "message": "Object not found",
        }

    async def test_public_route_serves_public_buckets_only(
        self, supabase: SupabaseStorageServer
    ) -> None:
        await make_bucket(supabase, "open", public=True)
        await make_bucket(supabase, "closed", public=False)
        async with storage_client(supabase.url) as storage:
            for bucket in ("open", "closed"):
                await storage.from_(bucket).upload("a.png", PNG, {"content-type": "image/png"})
            open_url = await storage.from_("open").get_public_url("a.png")
            closed_url = await storage.from_("closed").get_public_url("a.png")
        async with httpx.AsyncClient() as http:
            served = await http.get(open_url)
            refused = await http.get(closed_url)
        assert served.status_code == 200
        assert served.content == PNG
        assert served.headers["content-type"] == "image/png"
        assert served.headers["cache-control"] == "max-age=3600"
        assert refused.status_code == 400
        assert refused.json()["message"] == "Bucket not found"

    async def test_unauthenticated_object_route_reads_public_buckets_only(
        self, supabase: SupabaseStorageServer
    ) -> None:
        await make_bucket(supabase, "open", public=True)
        await make_bucket(supabase, "closed")
        async with storage_client(supabase.url) as storage:
            for bucket in ("open", "closed"):
                await storage.from_(bucket).upload("a.png", PNG, {"content-type": "image/png"})
        async with httpx.AsyncClient(headers={"apikey": SERVICE_KEY}) as http:
            served = await http.get(f"{supabase.url}/storage/v1/object/open/a.png")
            refused = await http.get(f"{supabase.url}/storage/v1/object/closed/a.png")
        assert served.status_code == 200
        assert refused.json()["statusCode"] == "404"


class TestSignedUrls:
    async def signed(self, server: SupabaseStorageServer, expires_in: int = 60) -> str:
        await make_bucket(server, "private")
        async with storage_client(server.url) as storage:
            files = storage.from_("private")
            await files.upload("u/a.png", PNG, {"content-type": "image/png"})
            response = await files.create_signed_url("u/a.png", expires_in)
        url: str = response["signedURL"]
        return url

    async def test_relative_signed_url_with_a_jwt(self, supabase: SupabaseStorageServer) -> None:
        await make_bucket(supabase, "private")
        async with storage_client(supabase.url) as storage:
            await storage.from_("private").upload("u/a.png", PNG, {"content-type": "image/png"})
        async with httpx.AsyncClient(headers=KEY_HEADERS) as http:
            response = await http.post(
                f"{supabase.url}/storage/v1/object/sign/private/u/a.png",
                json={"expiresIn": "120"},
            )
        signed = response.json()["signedURL"]
        path, _, query = signed.partition("?")
        assert path == "/object/sign/private/u/a.png"
        token = parse_qs(query)["token"][0]
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["url"] == "private/u/a.png"
        assert claims["scope"] == "download"
        assert claims["exp"] - claims["iat"] == 120

    async def test_signed_url_serves_the_object(self, supabase: SupabaseStorageServer) -> None:
        url = await self.signed(supabase)
        assert url.startswith(f"{supabase.url}/storage/v1/object/sign/private/u/a.png?token=")
        async with httpx.AsyncClient() as http:
            response = await http.get(url)
        assert response.status_code == 200
        assert response.content == PNG
        assert "expires" in response.headers

    async def test_expired_token(self, supabase: SupabaseStorageServer) -> None:
        url = await self.signed(supabase, expires_in=60)
        supabase.state.clock_offset = 61
        async with httpx.AsyncClient() as http:
            response = await http.get(url)
        assert response.status_code == 400
        assert response.json()["code"] == "InvalidJWT"

    async def test_token_for_another_path(self, supabase: SupabaseStorageServer) -> None:
        url = await self.signed(supabase)
        async with httpx.AsyncClient() as http:
            response = await http.get(url.replace("/u/a.png?", "/u/b.png?"))
        assert response.status_code == 400
        assert response.json()["code"] == "InvalidSignature"

    async def test_forged_token(self, supabase: SupabaseStorageServer) -> None:
        url = await self.signed(supabase)
        token = parse_qs(urlsplit(url).query)["token"][0]
        claims = jwt.decode(token, options={"verify_signature": False})
        forged = jwt.encode(claims, "guessed-secret-guessed-secret-0123")
        async with httpx.AsyncClient() as http:
            response = await http.get(url.replace(token, forged))
        assert response.status_code == 400
        assert response.json() == {
            "statusCode": "400",
            "code": "InvalidJWT",
            "error": "InvalidJWT",
            "message": "signature verification failed",
        }

    async def test_signing_a_missing_object(self, supabase: SupabaseStorageServer) -> None:
        await make_bucket(supabase, "private")
        async with storage_client(supabase.url) as storage:
            with pytest.raises(StorageApiError) as exc:
                await storage.from_("private").create_signed_url("none.png", 60)
        assert error_of(exc) == ("404", "not_found", "Object not found")


class TestListAndRemove:
    async def seed(self, server: SupabaseStorageServer, names: list[str]) -> None:
        await make_bucket(server, "files")
        async with storage_client(server.url) as storage:
            for name in names:
                await storage.from_("files").upload(name, b"x", {"content-type": "image/png"})

    async def test_list_one_level_with_folders(self, supabase: SupabaseStorageServer) -> None:
        await self.seed(supabase, ["u/b.png", "u/a.png", "u/sub/c.png", "v/d.png"])
        async with storage_client(supabase.url) as storage:
            files = storage.from_("files")
            top = await files.list()
            under_u = await files.list("u")
            page = await files.list("u", {"limit": 1, "offset": 1})
            backwards = await files.list("u", {"sortBy": {"column": "name", "order": "desc"}})
            searched = await files.list("u", {"search": "a"})
        assert [(row["name"], row["id"]) for row in top] == [("u", None), ("v", None)]
        assert [row["name"] for row in under_u] == ["a.png", "b.png", "sub"]
        assert under_u[0]["metadata"]["mimetype"] == "image/png"
        assert under_u[2]["id"] is None
        assert [row["name"] for row in page] == ["b.png"]
        assert [row["name"] for row in backwards] == ["sub", "b.png", "a.png"]
        assert [row["name"] for row in searched] == ["a.png"]

    async def test_remove_returns_what_it_deleted(self, supabase: SupabaseStorageServer) -> None:
        await self.seed(supabase, ["u/a.png", "u/b.png"])
        async with storage_client(supabase.url) as storage:
            deleted = await storage.from_("files").remove(["u/a.png", "u/missing.png", "u"])
        assert [row["name"] for row in deleted] == ["u/a.png"]
        assert deleted[0]["bucket_id"] == "files"
        assert set(supabase.state.objects["files"]) == {"u/b.png"}

    async def test_remove_needs_at_least_one_name(self, supabase: SupabaseStorageServer) -> None:
        await self.seed(supabase, [])
        async with storage_client(supabase.url) as storage:
            with pytest.raises(StorageApiError) as exc:
                await storage.from_("files").remove([])
        assert error_of(exc)[0] == "400"
