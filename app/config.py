"""Application settings: one pydantic-settings class read from the environment and `.env`."""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.kit.security import PasswordHashCost

MIN_SECRET_BYTES = 32
MIN_PRODUCTION_HASH_MEMORY_KIB = 19 * 1024
MIN_PRODUCTION_HASH_TIME_COST = 2
# Every route of the public API lives under this prefix (health and version stay at the root).
API_PREFIX = "/api/v1"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class CreditPackage(BaseModel):
    """A pack of credits for sale; the amount is in minor units (paise, cents)."""

    id: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=80)
    credits: int = Field(gt=0)
    amount: int = Field(gt=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    popular: bool = False


DEFAULT_CREDIT_PACKAGES = [
    CreditPackage(id="starter", name="Starter", credits=50, amount=19900, currency="INR"),
    CreditPackage(
        id="creator", name="Creator", credits=150, amount=49900, currency="INR", popular=True
    ),
    CreditPackage(id="studio", name="Studio", credits=500, amount=149900, currency="INR"),
]


class Platform(StrEnum):
    """Where the process runs, read from the variables each platform sets in its functions."""

    SERVER = "server"
    VERCEL = "vercel"
    AWS_LAMBDA = "aws_lambda"


class JobDispatch(StrEnum):
    """`JOB_DISPATCH`: how jobs reach a runner; `auto` picks by configuration and platform."""

    AUTO = "auto"
    QSTASH = "qstash"
    LAMBDA = "lambda"
    VERCEL = "vercel"
    IN_PROCESS = "in_process"


class ConfigurationError(Exception):
    """The configuration cannot work where the process runs; the message names the fix."""


def detect_platform() -> Platform:
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return Platform.AWS_LAMBDA
    if os.environ.get("VERCEL"):
        return Platform.VERCEL
    return Platform.SERVER


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # Application
    environment: Environment = Environment.DEVELOPMENT
    app_name: str = "MugShot Studio API"
    app_version: str = "0.1.0"
    git_commit: str = Field(default="", validation_alias="VERCEL_GIT_COMMIT_SHA")
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".data")
    log_level: str = "INFO"
    # Where mails, chats and checkouts link to. Empty: PUBLIC_BASE_URL, whose `/` serves the
    # browser app; set it when another frontend is deployed elsewhere.
    frontend_url: str = ""
    # Empty: the address `make run` serves on (http://HOST:PORT).
    public_base_url: str = ""
    allowed_origins: Annotated[list[str], NoDecode] = ["http://localhost:3000"]
    # AWS Lambda: the prefix API Gateway puts before our routes (a named HTTP API stage such as
    # "/prod", or a custom domain's base path mapping); "/" for the $default stage.
    api_gateway_base_path: str = "/"

    # Database
    database_url: str = ""
    database_echo: bool = False
    # asyncpg's prepared-statement cache. Unset: on, unless DATABASE_URL names a transaction
    # pooler (port 6543, as Supabase's, or `?pgbouncer=true`), which cannot keep statements.
    database_statement_cache: bool | None = None
    # SQLite: how long a writer waits for the write lock before the request is answered 503.
    database_busy_timeout_seconds: float = Field(default=3.0, ge=0, le=60)

    # Request bounds: body size (JSON and other non-upload bodies), the time a client may take
    # to send its body (408 after it), and the time the API may take to answer (504 after it;
    # streams and downloads are bounded only until they start).
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    request_body_timeout_seconds: float = Field(default=60.0, gt=0)
    request_timeout_seconds: float = Field(default=30.0, gt=0)

    # Health: each probe's time limit, and the free space DATA_DIR needs to count as healthy
    health_probe_timeout_seconds: float = Field(default=3.0, gt=0)
    min_free_disk_bytes: int = Field(default=100 * 1024 * 1024, ge=0)

    # Tokens and accounts
    jwt_secret: SecretStr | None = None
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_days: int = 30
    confirm_token_ttl_hours: int = 24
    reset_token_ttl_hours: int = 1
    default_user_credits: int = Field(default=10, ge=0)
    # Accounts made admins when they confirm their address or sign in (comma-separated; case
    # does not matter). Removing an address does not demote: scripts/create_admin.py --demote.
    admin_emails: Annotated[frozenset[str], NoDecode] = frozenset()
    # argon2id cost; the defaults are RFC 9106's second recommendation (also argon2-cffi's).
    # Production refuses anything below OWASP's minimum (19 MiB, 2 passes).
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=64 * 1024, ge=8)
    password_hash_parallelism: int = Field(default=4, ge=1)

    # Rate limits: attempts per window, per client IP and per account
    rate_limit_window_seconds: int = 60
    rate_limit_signin: int = 10
    rate_limit_signup: int = 5
    rate_limit_start: int = 30
    rate_limit_resend: int = 3
    rate_limit_forgot: int = 3
    # Data exports per account per hour: each one reads every row and file of the account.
    rate_limit_export: int = Field(default=3, ge=1)

    # Key-value store
    upstash_redis_rest_url: str = ""
    upstash_redis_rest_token: SecretStr | None = None
    kv_key_prefix: str = "mugshot"
    allow_ephemeral_kv: bool = False

    # Mail
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "MugShot Studio <no-reply@mugshot.studio>"

    # Object storage: Supabase Storage when both are set, else a local folder served by the API
    supabase_url: str = ""
    supabase_service_role_key: SecretStr | None = None
    user_assets_bucket: str = "user_assets"
    profile_photos_bucket: str = "profile_photos"
    renders_bucket: str = "renders"
    signed_url_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 86400)
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_upload_pixels: int = Field(default=40_000_000, ge=1)
    allow_local_storage: bool = False

    # Image providers (a model whose key is missing is listed as unavailable)
    gemini_api_key: SecretStr | None = None
    gemini_base_url: str = ""
    gemini_text_model: str = "gemini-2.5-flash"
    bytedance_api_key: SecretStr | None = None
    seedream_base_url: str = "https://ark.ap-southeast.bytepluses.com/api/v3"
    fal_key: SecretStr | None = None
    fal_queue_url: str = ""
    provider_timeout_seconds: float = Field(default=120.0, gt=0)
    provider_retry_seconds: float = Field(default=60.0, ge=0)
    provider_output_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # Video jobs: the largest clip stored, and how long a video model may take to make one.
    video_output_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    video_timeout_seconds: float = Field(default=600.0, gt=0)
    # Variants of one job rendered at once per cloud provider, across all jobs of this process:
    # keep them within each account's rate limit (429s are still retried with backoff).
    gemini_max_concurrency: int = Field(default=4, ge=1)
    seedream_max_concurrency: int = Field(default=4, ge=1)
    fal_max_concurrency: int = Field(default=4, ge=1)
    # Worker processes for studio renders and render cropping; 0 runs them in a thread of the
    # API process. Unset: 0 on serverless, else one fewer than the CPUs (1 to 4).
    render_processes: int | None = Field(default=None, ge=0, le=64)
    # The studio's person-cutout models (scripts/fetch_cutout_models.py puts them here). Without
    # them, or without requirements-cutout.txt installed, selfies are framed instead.
    cutout_models_dir: Path | None = Path(".data/models")

    # Jobs
    job_lease_seconds: int = Field(default=300, ge=5)
    job_max_attempts: int = Field(default=3, ge=1)
    job_stale_after_seconds: int = Field(default=120, ge=1)
    sweep_interval_seconds: int = Field(default=60, ge=0)
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    # Progress streams: each ends after this long (unset: 25 s on AWS Lambda, whose API Gateway
    # cuts responses at 29 s, else 55 s) and EventSource reconnects; at most this many per user.
    sse_max_seconds: float | None = Field(default=None, gt=0, le=3600)
    sse_max_streams_per_user: int = Field(default=3, ge=1)

    # Dispatch: QStash when its token is set, else the platform's own way, else in-process
    job_dispatch: JobDispatch = JobDispatch.AUTO
    allow_in_process_dispatch: bool = False
    qstash_token: SecretStr | None = None
    qstash_url: str = ""
    qstash_current_signing_key: SecretStr | None = None
    qstash_next_signing_key: SecretStr | None = None
    cron_secret: SecretStr | None = None

    # Payments: Razorpay and Stripe when their keys are set; the local test checkout otherwise
    credit_packages: list[CreditPackage] = Field(default_factory=lambda: DEFAULT_CREDIT_PACKAGES)
    payment_provider: str = Field(default="", pattern=r"^(|razorpay|stripe|test)$")
    razorpay_key_id: str = ""
    razorpay_key_secret: SecretStr | None = None
    razorpay_webhook_secret: SecretStr | None = None
    razorpay_base_url: str = "https://api.razorpay.com"
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str = "https://api.stripe.com"
    # Where Stripe Checkout sends the buyer back; "{order_id}" is replaced. Empty: FRONTEND_URL.
    payment_success_url: str = ""
    payment_cancel_url: str = ""
    # The local test checkout (never in production).
    test_checkout_enabled: bool = True

    # AWS Lambda sets these in every function; jobs are sent back to the same function.
    aws_lambda_function_name: str = ""
    aws_region: str = ""

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("admin_emails", mode="before")
    @classmethod
    def _split_admin_emails(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(str(part).strip().lower() for part in value if str(part).strip())
        return value

    @field_validator("database_statement_cache", mode="before")
    @classmethod
    def _empty_is_automatic(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator(
        "jwt_secret",
        "upstash_redis_rest_token",
        "smtp_password",
        "supabase_service_role_key",
        "gemini_api_key",
        "bytedance_api_key",
        "fal_key",
        "qstash_token",
        "qstash_current_signing_key",
        "qstash_next_signing_key",
        "cron_secret",
        "razorpay_key_secret",
        "razorpay_webhook_secret",
        "stripe_secret_key",
        "stripe_webhook_secret",
        mode="before",
    )
    @classmethod
    def _empty_secret_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("sse_max_seconds", mode="before")
    @classmethod
    def _empty_is_the_platform_default(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _default_public_base_url(self) -> Settings:
        if not self.public_base_url:
            if self.environment is Environment.PRODUCTION and self.qstash_token is not None:
                raise ValueError(
                    "PUBLIC_BASE_URL must be set when QStash delivers jobs: it is the address "
                    "QStash calls and the one every delivery signature names"
                )
            self.public_base_url = f"http://{self.host}:{self.port}"
        self.public_base_url = self.public_base_url.rstrip("/")
        if not self.frontend_url:
            self.frontend_url = self.public_base_url
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment is not Environment.PRODUCTION:
            return self
        secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"JWT_SECRET must be set to at least {MIN_SECRET_BYTES} bytes in production"
            )
        if not self.upstash_redis_rest_url and not self.allow_ephemeral_kv:
            raise ValueError(
                "production needs UPSTASH_REDIS_REST_URL: the in-memory key-value store loses "
                "sessions and tokens on restart (set ALLOW_EPHEMERAL_KV=true to accept that)"
            )
        if (
            self.password_hash_memory_kib < MIN_PRODUCTION_HASH_MEMORY_KIB
            or self.password_hash_time_cost < MIN_PRODUCTION_HASH_TIME_COST
        ):
            raise ValueError(
                "PASSWORD_HASH_MEMORY_KIB and PASSWORD_HASH_TIME_COST are too low for production "
                f"(at least {MIN_PRODUCTION_HASH_MEMORY_KIB} KiB and "
                f"{MIN_PRODUCTION_HASH_TIME_COST} passes)"
            )
        if self.qstash_token is not None and self.qstash_current_signing_key is None:
            raise ValueError(
                "QSTASH_TOKEN needs QSTASH_CURRENT_SIGNING_KEY (and QSTASH_NEXT_SIGNING_KEY): "
                "without them every delivery to the job endpoint is refused"
            )
        if self.is_serverless and not self.uses_supabase_storage and not self.allow_local_storage:
            raise ValueError(
                "production on a serverless platform needs SUPABASE_URL and "
                "SUPABASE_SERVICE_ROLE_KEY: the local storage folder vanishes with the function "
                "instance, and with it every upload and render (set ALLOW_LOCAL_STORAGE=true to "
                "accept that)"
            )
        return self

    @model_validator(mode="after")
    def _dispatch_needs_its_service(self) -> Settings:
        if self.job_dispatch is JobDispatch.QSTASH and self.qstash_token is None:
            raise ValueError("JOB_DISPATCH=qstash needs QSTASH_TOKEN (and the signing keys)")
        return self

    @model_validator(mode="after")
    def _check_payment_providers(self) -> Settings:
        if self.razorpay_key_id and self.razorpay_key_secret is None:
            raise ValueError("RAZORPAY_KEY_ID needs RAZORPAY_KEY_SECRET")
        if not self.razorpay_key_id and self.razorpay_key_secret is not None:
            raise ValueError("RAZORPAY_KEY_SECRET needs RAZORPAY_KEY_ID")
        if len({package.id for package in self.credit_packages}) != len(self.credit_packages):
            raise ValueError("CREDIT_PACKAGES has two packages with the same id")
        if not self.is_production:
            return self
        # Without the webhook secret every webhook is refused and paid orders never credit.
        if self.razorpay_key_id and self.razorpay_webhook_secret is None:
            raise ValueError("RAZORPAY_KEY_ID needs RAZORPAY_WEBHOOK_SECRET in production")
        if self.stripe_secret_key is not None and self.stripe_webhook_secret is None:
            raise ValueError("STRIPE_SECRET_KEY needs STRIPE_WEBHOOK_SECRET in production")
        if self.payment_provider == "test":
            raise ValueError("PAYMENT_PROVIDER=test: the test checkout is refused in production")
        return self

    @property
    def uses_test_checkout(self) -> bool:
        return self.test_checkout_enabled and not self.is_production

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def password_hash_cost(self) -> PasswordHashCost:
        return PasswordHashCost(
            time_cost=self.password_hash_time_cost,
            memory_kib=self.password_hash_memory_kib,
            parallelism=self.password_hash_parallelism,
        )

    @property
    def platform(self) -> Platform:
        return detect_platform()

    @property
    def is_serverless(self) -> bool:
        return self.platform is not Platform.SERVER

    @property
    def event_stream_seconds(self) -> float:
        if self.sse_max_seconds is not None:
            return self.sse_max_seconds
        return 25.0 if self.platform is Platform.AWS_LAMBDA else 55.0

    @property
    def resolved_render_processes(self) -> int:
        if self.render_processes is not None:
            return self.render_processes
        if self.is_serverless:
            return 0
        return min(4, max(1, (os.cpu_count() or 2) - 1))

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'mugshot.db').as_posix()}"

    @cached_property
    def signing_secret(self) -> str:
        """The JWT secret; in development an unset one is generated once and kept in DATA_DIR."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        path = self.data_dir / "jwt_secret"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.write_text(value)
        path.chmod(0o600)
        return value

    @property
    def uses_supabase_storage(self) -> bool:
        return bool(self.supabase_url and self.supabase_service_role_key)


def secret_value(secret: SecretStr | None) -> str:
    return secret.get_secret_value() if secret is not None else ""


def normalise_database_url(url: str) -> str:
    """Accept the plain URLs hosting providers hand out and pick the async driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


@lru_cache
def get_settings() -> Settings:
    return Settings()
