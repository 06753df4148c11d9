"""scripts/setup_storage_buckets.py against the Supabase Storage test server and a real Postgres."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from app.adapters.storage import Buckets
from scripts.setup_storage_buckets import main, policy_sql
from tests.conftest import make_settings
from tests.storage.conftest import SERVICE_KEY, SupabaseStorageServer, storage_client
from tests.support.services import free_loopback_port

ROOT = Path(__file__).resolve().parents[2]
IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp"]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, supabase: SupabaseStorageServer):
    """Environment for the script: the test server, and no developer .env in the way."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SUPABASE_URL", supabase.url)
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", SERVICE_KEY)
    monkeypatch.setenv("ENVIRONMENT", "development")
    for name in (
        "USER_ASSETS_BUCKET",
        "PROFILE_PHOTOS_BUCKET",
        "RENDERS_BUCKET",
        "MAX_UPLOAD_BYTES",
        "PROVIDER_OUTPUT_MAX_BYTES",
        "DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def bucket_rows(server: SupabaseStorageServer) -> dict[str, tuple[bool, int | None, list[str]]]:
    return {
        bucket.id: (bucket.public, bucket.file_size_limit, bucket.allowed_mime_types or [])
        for bucket in server.state.buckets.values()
    }


def bucket_writes(server: SupabaseStorageServer) -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path in server.state.requests
        if path.startswith("/bucket") and method != "GET"
    ]


class TestBuckets:
    def test_first_run_creates_the_three_buckets(
        self, env: pytest.MonkeyPatch, supabase: SupabaseStorageServer, capsys
    ) -> None:
        assert main([]) == 0

        settings = make_settings()
        assert bucket_rows(supabase) == {
            "user_assets": (False, settings.max_upload_bytes, IMAGE_TYPES),
            "profile_photos": (True, settings.max_upload_bytes, IMAGE_TYPES),
            "renders": (True, settings.provider_output_max_bytes, IMAGE_TYPES),
        }
        out = capsys.readouterr().out
        for name in ("user_assets", "profile_photos", "renders"):
            assert f"created        {name}" in out
        assert "private" in out

    def test_second_run_changes_nothing(
        self, env: pytest.MonkeyPatch, supabase: SupabaseStorageServer, capsys
    ) -> None:
        assert main([]) == 0
        before = bucket_rows(supabase)
        capsys.readouterr()
        supabase.state.requests.clear()

        assert main([]) == 0

        lines = capsys.readouterr().out.splitlines()
        assert lines == [
            "already there  user_assets",
            "already there  profile_photos",
            "already there  renders",
        ]
        assert bucket_writes(supabase) == []
        assert supabase.state.requests == [("GET", "/bucket")]
        assert bucket_rows(supabase) == before

    def test_bucket_names_and_limits_come_from_settings(
        self, env: pytest.MonkeyPatch, supabase: SupabaseStorageServer
    ) -> None:
        env.setenv("USER_ASSETS_BUCKET", "mugshot-uploads")
        env.setenv("PROFILE_PHOTOS_BUCKET", "mugshot-avatars")
        env.setenv("RENDERS_BUCKET", "mugshot-renders")
        env.setenv("MAX_UPLOAD_BYTES", "2048")
        env.setenv("PROVIDER_OUTPUT_MAX_BYTES", "4096")

        assert main([]) == 0

        assert bucket_rows(supabase) == {
            "mugshot-uploads": (False, 2048, IMAGE_TYPES),
            "mugshot-avatars": (True, 2048, IMAGE_TYPES),
            "mugshot-renders": (True, 4096, IMAGE_TYPES),
        }

    async def test_a_differing_bucket_is_reported_and_changed_only_with_update(
        self, env: pytest.MonkeyPatch, supabase: SupabaseStorageServer, capsys
    ) -> None:
        async with storage_client(supabase.url) as storage:
            await storage.create_bucket("renders", options={"public": False})
        supabase.state.requests.clear()

        assert await asyncio.to_thread(main, []) == 1
        captured = capsys.readouterr()
        assert "differs        renders: public is False, wanted True" in captured.out
        assert "file_size_limit is None" in captured.out
        assert "--update" in captured.err
        assert ("PUT", "/bucket/renders") not in supabase.state.requests
        assert supabase.state.buckets["renders"].public is False

        assert await asyncio.to_thread(main, ["--update"]) == 0
        assert "updated        renders" in capsys.readouterr().out
        renders = supabase.state.buckets["renders"]
        assert (renders.public, renders.allowed_mime_types) == (True, IMAGE_TYPES)

        assert await asyncio.to_thread(main, []) == 0
        assert "already there  renders" in capsys.readouterr().out

    def test_without_supabase_settings_it_explains_what_it_would_do(
        self, env: pytest.MonkeyPatch, supabase: SupabaseStorageServer, capsys
    ) -> None:
        env.delenv("SUPABASE_URL")
        env.delenv("SUPABASE_SERVICE_ROLE_KEY")
        env.setenv("RENDERS_BUCKET", "mugshot-renders")
        env.setenv("PROVIDER_OUTPUT_MAX_BYTES", "4096")

        assert main([]) == 0

        captured = capsys.readouterr()
        assert captured.err == ""
        out = captured.out
        settings = make_settings()
        assert "nothing was changed" in out
        assert (
            f"user_assets      private, at most {settings.max_upload_bytes} bytes, "
            "image/png, image/jpeg, image/webp"
        ) in out
        assert f"profile_photos   public, at most {settings.max_upload_bytes} bytes" in out
        assert "mugshot-renders  public, at most 4096 bytes" in out
        for name in ("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "USER_ASSETS_BUCKET"):
            assert name in out
        assert supabase.state.requests == []
        assert supabase.state.buckets == {}

    def test_run_as_a_program_without_settings_it_exits_0(self, tmp_path: Path) -> None:
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("SUPABASE_", "DATABASE_"))
        }
        environment["DATA_DIR"] = str(tmp_path / "data")
        finished = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "setup_storage_buckets.py")],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert finished.returncode == 0, finished.stderr
        assert "SUPABASE_SERVICE_ROLE_KEY" in finished.stdout
        assert "user_assets" in finished.stdout

    def test_refuses_half_a_configuration_or_a_change_it_cannot_make(
        self, env: pytest.MonkeyPatch, supabase: SupabaseStorageServer, capsys
    ) -> None:
        env.setenv("SUPABASE_SERVICE_ROLE_KEY", "")
        assert main([]) == 1
        assert "error: SUPABASE_SERVICE_ROLE_KEY must be set" in capsys.readouterr().err
        env.setenv("SUPABASE_URL", "")
        for flags in (["--update"], ["--apply-sql"]):
            assert main(flags) == 1
            assert "SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY must be set" in (
                capsys.readouterr().err
            )
        assert supabase.state.requests == []
        env.setenv("SUPABASE_SERVICE_ROLE_KEY", SERVICE_KEY)
        env.setenv("SUPABASE_URL", "")
        assert main(["--apply-sql"]) == 1
        assert supabase.state.requests == []

    def test_unreachable_project(self, env: pytest.MonkeyPatch, capsys) -> None:
        env.setenv("SUPABASE_URL", f"http://127.0.0.1:{free_loopback_port()}")
        assert main([]) == 1
        err = capsys.readouterr().err
        assert "could not be reached" in err
        assert SERVICE_KEY not in err

    def test_wrong_key(self, env: pytest.MonkeyPatch, capsys) -> None:
        env.setenv("SUPABASE_SERVICE_ROLE_KEY", "not-the-service-key")
        assert main([]) == 1
        err = capsys.readouterr().err
        assert "refused" in err
        assert "not-the-service-key" not in err


class TestPolicySql:
    def test_print_sql_needs_no_credentials(
        self, env: pytest.MonkeyPatch, supabase: SupabaseStorageServer, capsys
    ) -> None:
        env.delenv("SUPABASE_URL")
        env.setenv("RENDERS_BUCKET", "mugshot-renders")
        assert main(["--print-sql"]) == 0
        sql = capsys.readouterr().out
        assert 'create policy "user_assets: owner reads" on storage.objects' in sql
        assert "split_part(name, '/', 1) = (auth.uid())::text" in sql
        for command in ("select", "insert", "update", "delete"):
            assert f"for {command} to authenticated" in sql
        assert "using (bucket_id = 'profile_photos')" in sql
        assert "using (bucket_id = 'mugshot-renders')" in sql
        assert sql.count("drop policy if exists") == sql.count("create policy") == 6
        assert supabase.state.requests == []

    def test_bucket_names_are_quoted(self) -> None:
        sql = policy_sql(Buckets.from_settings(make_settings(renders_bucket="it's")))
        assert "bucket_id = 'it''s'" in sql


STAND_IN_SCHEMA = """
do $$ begin
  create role anon nologin;
exception when duplicate_object then null;
end $$;
do $$ begin
  create role authenticated nologin;
exception when duplicate_object then null;
end $$;
create schema storage;
create schema auth;
create table storage.objects (
  id uuid primary key default gen_random_uuid(),
  bucket_id text not null,
  name text not null,
  owner uuid
);
alter table storage.objects enable row level security;
grant usage on schema storage, auth to anon, authenticated;
grant select, insert, update, delete on storage.objects to anon, authenticated;
-- Supabase's auth.uid(): the subject of the request's JWT.
create function auth.uid() returns uuid language sql stable as $fn$
  select nullif(current_setting('request.jwt.claim.sub', true), '')::uuid
$fn$;
"""


async def _create_database(server_url: str) -> str:
    name = f"storage_policies_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    url = server_url.rsplit("/", 1)[0] + f"/{name}"
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(STAND_IN_SCHEMA)
    finally:
        await connection.close()
    return url


async def _visible_names(url: str, role: str, user: uuid.UUID | None) -> set[str]:
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            await connection.execute(f"set local role {role}")
            if user is not None:
                await connection.execute(f"set local request.jwt.claim.sub = '{user}'")
            rows = await connection.fetch("select bucket_id || ':' || name from storage.objects")
        return {row[0] for row in rows}
    finally:
        await connection.close()


@pytest.mark.postgres
class TestApplySql:
    def test_apply_twice_and_policies_hold(
        self, env: pytest.MonkeyPatch, postgres_url: str, capsys
    ) -> None:
        database_url = asyncio.run(_create_database(postgres_url))
        env.setenv("DATABASE_URL", database_url)

        assert main(["--apply-sql"]) == 0
        assert main(["--apply-sql"]) == 0
        assert capsys.readouterr().out.count("applied storage policies") == 2

        async def policies() -> list[tuple[str, str, list[str]]]:
            connection = await asyncpg.connect(database_url)
            try:
                rows = await connection.fetch(
                    "select policyname, cmd, roles::text[] from pg_policies "
                    "where schemaname = 'storage' and tablename = 'objects' order by policyname"
                )
            finally:
                await connection.close()
            return [(row[0], row[1], sorted(row[2])) for row in rows]

        assert asyncio.run(policies()) == [
            ("profile_photos: public read", "SELECT", ["anon", "authenticated"]),
            ("renders: public read", "SELECT", ["anon", "authenticated"]),
            ("user_assets: owner deletes", "DELETE", ["authenticated"]),
            ("user_assets: owner reads", "SELECT", ["authenticated"]),
            ("user_assets: owner updates", "UPDATE", ["authenticated"]),
            ("user_assets: owner uploads", "INSERT", ["authenticated"]),
        ]

        alice, bob = uuid.uuid4(), uuid.uuid4()

        async def seed() -> None:
            connection = await asyncpg.connect(database_url)
            try:
                await connection.executemany(
                    "insert into storage.objects (bucket_id, name) values ($1, $2)",
                    [
                        ("user_assets", f"{alice}/a.png"),
                        ("user_assets", f"{bob}/b.png"),
                        ("renders", f"{bob}/job/v1.png"),
                    ],
                )
            finally:
                await connection.close()

        asyncio.run(seed())
        assert asyncio.run(_visible_names(database_url, "authenticated", alice)) == {
            f"user_assets:{alice}/a.png",
            f"renders:{bob}/job/v1.png",
        }
        assert asyncio.run(_visible_names(database_url, "anon", None)) == {
            f"renders:{bob}/job/v1.png"
        }

    def test_apply_needs_a_postgres_url(self, env: pytest.MonkeyPatch, capsys) -> None:
        env.setenv("DATABASE_URL", "sqlite:///x.db")
        assert main(["--apply-sql"]) == 1
        assert "DATABASE_URL" in capsys.readouterr().err
