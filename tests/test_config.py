"""Settings: safe production defaults and the development conveniences."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings, normalise_database_url


def production(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "production",
        "jwt_secret": "p" * 40,
        "upstash_redis_rest_url": "https://kv.example.com",
        "upstash_redis_rest_token": "token",
        "public_base_url": "https://api.example.com",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


class TestProductionGuards:
    def test_accepts_a_complete_configuration(self):
        assert production().is_production

    @pytest.mark.parametrize("secret", [None, "", "too-short-secret"])
    def test_refuses_a_missing_or_short_secret(self, secret: str | None):
        with pytest.raises(ValidationError, match="JWT_SECRET"):
            production(jwt_secret=secret)

    def test_refuses_the_memory_store_unless_allowed(self):
        with pytest.raises(ValidationError, match="UPSTASH_REDIS_REST_URL"):
            production(upstash_redis_rest_url="")
        assert production(upstash_redis_rest_url="", allow_ephemeral_kv=True).is_production

    def test_refuses_qstash_without_a_signing_key(self):
        with pytest.raises(ValidationError, match="QSTASH_CURRENT_SIGNING_KEY"):
            production(qstash_token="token")
        assert production(qstash_token="token", qstash_current_signing_key="sig_1").is_production

    @pytest.mark.parametrize(
        "cost", [{"password_hash_memory_kib": 8}, {"password_hash_time_cost": 1}]
    )
    def test_refuses_a_cheap_password_hash(self, cost: dict[str, int]):
        with pytest.raises(ValidationError, match="PASSWORD_HASH"):
            production(**cost)


class TestPublicBaseUrl:
    def test_defaults_to_the_served_address(self):
        settings = Settings(_env_file=None, host="0.0.0.0", port=8123)
        assert settings.public_base_url == "http://0.0.0.0:8123"

    def test_an_explicit_one_is_kept_without_a_trailing_slash(self):
        settings = Settings(_env_file=None, public_base_url="https://api.example.com/")
        assert settings.public_base_url == "https://api.example.com"

    def test_production_with_qstash_needs_it(self):
        with pytest.raises(ValidationError, match="PUBLIC_BASE_URL"):
            production(qstash_token="token", qstash_current_signing_key="key", public_base_url="")
        explicit = production(
            qstash_token="token",
            qstash_current_signing_key="key",
            public_base_url="https://api.example.com",
        )
        assert explicit.public_base_url == "https://api.example.com"


class TestDevelopment:
    def test_generates_a_secret_once_and_keeps_it(self, tmp_path: Path):
        first = Settings(_env_file=None, data_dir=tmp_path)
        second = Settings(_env_file=None, data_dir=tmp_path)
        assert len(first.signing_secret) >= 32
        assert first.signing_secret == second.signing_secret
        assert (tmp_path / "jwt_secret").stat().st_mode & 0o777 == 0o600

    def test_default_database_lives_in_the_data_folder(self, tmp_path: Path):
        settings = Settings(_env_file=None, data_dir=tmp_path)
        assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path}/mugshot.db"

    def test_origins_from_a_comma_list(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("ALLOWED_ORIGINS", "https://a.example, https://b.example")
        settings = Settings(_env_file=None)
        assert settings.allowed_origins == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
        ("postgresql://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_urls_get_the_async_driver(given: str, expected: str):
    assert normalise_database_url(given) == expected


class TestPaymentSettings:
    def test_production_refuses_razorpay_without_its_webhook_secret(self):
        keys = {"razorpay_key_id": "rzp_live_1", "razorpay_key_secret": "secret"}
        with pytest.raises(ValidationError, match="RAZORPAY_WEBHOOK_SECRET"):
            production(**keys)
        with pytest.raises(ValidationError, match="RAZORPAY_WEBHOOK_SECRET"):
            production(**keys, razorpay_webhook_secret="")
        assert production(**keys, razorpay_webhook_secret="whsec").is_production

    def test_production_refuses_stripe_without_its_webhook_secret(self):
        with pytest.raises(ValidationError, match="STRIPE_WEBHOOK_SECRET"):
            production(stripe_secret_key="sk_live_1")
        assert production(stripe_secret_key="sk_live_1", stripe_webhook_secret="whsec_1")

    def test_a_razorpay_key_id_needs_its_secret_everywhere(self):
        with pytest.raises(ValidationError, match="RAZORPAY_KEY_SECRET"):
            Settings(_env_file=None, razorpay_key_id="rzp_test_1")
        with pytest.raises(ValidationError, match="RAZORPAY_KEY_ID"):
            Settings(_env_file=None, razorpay_key_secret="secret")

    def test_the_test_checkout_is_never_on_in_production(self):
        assert Settings(_env_file=None).uses_test_checkout
        assert not production().uses_test_checkout
        with pytest.raises(ValidationError, match="PAYMENT_PROVIDER=test"):
            production(payment_provider="test")

    def test_secrets_are_not_shown_in_the_settings_repr(self):
        settings = production(stripe_secret_key="sk_live_hidden", stripe_webhook_secret="whsec_h")
        assert "sk_live_hidden" not in repr(settings)
        assert "whsec_h" not in repr(settings)

    def test_packages_from_json_and_their_checks(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv(
            "CREDIT_PACKAGES",
            '[{"id": "one", "name": "One", "credits": 10, "amount": 500, "currency": "USD"}]',
        )
        [package] = Settings(_env_file=None).credit_packages
        assert (package.id, package.amount, package.currency) == ("one", 500, "USD")
        monkeypatch.setenv(
            "CREDIT_PACKAGES",
            '[{"id": "one", "name": "One", "credits": 10, "amount": 500, "currency": "usd"}]',
        )
        with pytest.raises(ValidationError, match="currency"):
            Settings(_env_file=None)
        monkeypatch.setenv(
            "CREDIT_PACKAGES",
            '[{"id": "a", "name": "A", "credits": 1, "amount": 100, "currency": "INR"},'
            ' {"id": "a", "name": "B", "credits": 2, "amount": 200, "currency": "INR"}]',
        )
        with pytest.raises(ValidationError, match="same id"):
            Settings(_env_file=None)


class TestEventStreams:
    def test_streams_end_before_api_gateway_cuts_them_on_lambda(
        self, monkeypatch: pytest.MonkeyPatch
    ):
        monkeypatch.delenv("VERCEL", raising=False)
        assert Settings(_env_file=None).event_stream_seconds == 55
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "mugshot-api")
        assert Settings(_env_file=None).event_stream_seconds == 25
        assert Settings(_env_file=None, sse_max_seconds=10).event_stream_seconds == 10
        # As .env.example leaves it: empty means the platform's default.
        monkeypatch.setenv("SSE_MAX_SECONDS", "")
        assert Settings(_env_file=None).event_stream_seconds == 25
