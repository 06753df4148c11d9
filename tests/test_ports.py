"""Which adapters the settings select, and the deployments that refuse to start."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigurationError, Settings
from app.ports import DispatchChoice, build_ports, resolve_dispatch

PLATFORM_ENV = {"server": None, "vercel": "VERCEL", "aws_lambda": "AWS_LAMBDA_FUNCTION_NAME"}


@pytest.fixture(params=list(PLATFORM_ENV))
def platform(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    for variable in PLATFORM_ENV.values():
        if variable:
            monkeypatch.delenv(variable, raising=False)
    name: str = request.param
    variable = PLATFORM_ENV[name]
    if variable:
        monkeypatch.setenv(variable, "1")
    return name


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "database_url": f"sqlite+aiosqlite:///{tmp_path}/ports.db",
        "jwt_secret": "p" * 40,
        "public_base_url": "https://api.example.com",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def production(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "production",
        "upstash_redis_rest_url": "https://kv.example.com",
        "upstash_redis_rest_token": "token",
        "allow_local_storage": True,
    }
    values.update(overrides)
    return settings_for(tmp_path, **values)


QSTASH = {"qstash_token": "token", "qstash_current_signing_key": "sig_current"}
NATIVE = {
    "server": DispatchChoice.IN_PROCESS,
    "vercel": DispatchChoice.VERCEL_WAIT_UNTIL,
    "aws_lambda": DispatchChoice.LAMBDA_INVOKE,
}


class TestDispatchSelection:
    def test_auto_prefers_qstash_when_it_is_configured(self, platform: str, tmp_path: Path):
        assert resolve_dispatch(settings_for(tmp_path, **QSTASH)) is DispatchChoice.QSTASH

    def test_auto_otherwise_takes_the_platforms_own_way(self, platform: str, tmp_path: Path):
        assert resolve_dispatch(settings_for(tmp_path)) is NATIVE[platform]

    @pytest.mark.parametrize(
        ("setting", "choice"),
        [
            ("in_process", DispatchChoice.IN_PROCESS),
            ("lambda", DispatchChoice.LAMBDA_INVOKE),
            ("vercel", DispatchChoice.VERCEL_WAIT_UNTIL),
            ("qstash", DispatchChoice.QSTASH),
        ],
    )
    def test_an_explicit_choice_wins(
        self, platform: str, tmp_path: Path, setting: str, choice: DispatchChoice
    ):
        settings = settings_for(tmp_path, job_dispatch=setting, **QSTASH)
        assert resolve_dispatch(settings) is choice

    def test_qstash_needs_its_token(self, tmp_path: Path):
        with pytest.raises(ValueError, match="JOB_DISPATCH=qstash needs QSTASH_TOKEN"):
            settings_for(tmp_path, job_dispatch="qstash")

    def test_an_unknown_choice_is_refused(self, tmp_path: Path):
        with pytest.raises(ValueError, match="job_dispatch"):
            settings_for(tmp_path, job_dispatch="carrier_pigeon")


class TestServerlessRefusals:
    @pytest.mark.parametrize("platform", ["vercel", "aws_lambda"], indirect=True)
    def test_in_process_dispatch_refuses_to_start_in_production(
        self, platform: str, tmp_path: Path
    ):
        with pytest.raises(ConfigurationError, match="ALLOW_IN_PROCESS_DISPATCH") as refused:
            build_ports(production(tmp_path, job_dispatch="in_process"))
        assert "QSTASH_TOKEN" in str(refused.value)

    @pytest.mark.parametrize("platform", ["vercel", "aws_lambda"], indirect=True)
    async def test_qstash_or_the_explicit_setting_starts(self, platform: str, tmp_path: Path):
        for settings in (
            production(tmp_path, **QSTASH),
            production(tmp_path, job_dispatch="in_process", allow_in_process_dispatch=True),
        ):
            ports = build_ports(settings)
            await ports.close()

    @pytest.mark.parametrize("platform", ["server"], indirect=True)
    async def test_a_long_running_server_keeps_in_process_dispatch(
        self, platform: str, tmp_path: Path
    ):
        ports = build_ports(production(tmp_path))
        assert ports.dispatcher.name == "in_process"
        await ports.close()

    @pytest.mark.parametrize("platform", ["aws_lambda"], indirect=True)
    async def test_development_on_serverless_is_not_refused(self, platform: str, tmp_path: Path):
        ports = build_ports(settings_for(tmp_path, job_dispatch="in_process"))
        assert ports.dispatcher.finishes_after_response is False
        await ports.close()

    @pytest.mark.parametrize("platform", ["vercel", "aws_lambda"], indirect=True)
    def test_local_storage_refuses_to_start_in_production(self, platform: str, tmp_path: Path):
        with pytest.raises(ValueError, match="ALLOW_LOCAL_STORAGE") as refused:
            production(tmp_path, allow_local_storage=False, **QSTASH)
        assert "SUPABASE_URL" in str(refused.value)
        supabase = production(
            tmp_path,
            allow_local_storage=False,
            supabase_url="https://project.supabase.co",
            supabase_service_role_key="service-key",
            **QSTASH,
        )
        assert supabase.uses_supabase_storage

    @pytest.mark.parametrize("platform", ["server"], indirect=True)
    def test_local_storage_on_a_server_is_fine(self, platform: str, tmp_path: Path):
        assert production(tmp_path, allow_local_storage=False).is_production
