"""The application's ports, each built from settings with its cloud or embedded adapter."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from app.adapters.dispatch import InProcessDispatcher, JobDispatcher, QStashDispatcher
from app.adapters.kv import KeyValueStore, create_key_value_store
from app.adapters.lambda_dispatch import LambdaInvokeDispatcher
from app.adapters.mail import Mailer, OutboxMailer, SmtpMailer
from app.adapters.payments import PaymentProviders
from app.adapters.storage import Buckets, LocalObjectStorage, ObjectStorage
from app.config import Platform, Settings
from app.kit.db import Database
from app.providers.registry import ProviderRegistry

logger = logging.getLogger("app.ports")


@dataclass
class Ports:
    settings: Settings
    database: Database
    kv: KeyValueStore
    mailer: Mailer
    storage: ObjectStorage
    buckets: Buckets
    providers: ProviderRegistry
    dispatcher: JobDispatcher = field(init=False)
    payments: PaymentProviders = field(init=False)

    async def close(self) -> None:
        await self.dispatcher.drain()
        await self.payments.close()
        await self.providers.close()
        await self.kv.close()
        await self.storage.close()
        await self.database.dispose()


def build_mailer(settings: Settings) -> Mailer:
    if settings.smtp_host:
        return SmtpMailer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.mail_from,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else "",
            starttls=settings.smtp_starttls,
            use_tls=settings.smtp_ssl,
            timeout=settings.smtp_timeout_seconds,
        )
    return OutboxMailer(settings.data_dir / "outbox", settings.mail_from)


def build_storage(settings: Settings) -> ObjectStorage:
    """Supabase Storage when it is configured, else a folder under DATA_DIR served by the API."""
    buckets = Buckets.from_settings(settings)
    if settings.uses_supabase_storage:
        # Imported only here, so a deployment without Supabase never loads it.
        from app.adapters.supabase_storage import SupabaseObjectStorage

        return SupabaseObjectStorage(settings)
    return LocalObjectStorage(
        settings.data_dir / "storage",
        signing_secret=settings.signing_secret,
        base_url=settings.public_base_url,
        buckets=buckets,
    )


def build_dispatcher(ports: Ports) -> JobDispatcher:
    """QStash when a token is set, else the platform's own path, else a task in this process."""
    settings = ports.settings
    if settings.qstash_token is not None:
        return QStashDispatcher(
            token=settings.qstash_token.get_secret_value(),
            public_base_url=settings.public_base_url,
            base_url=settings.qstash_url,
        )
    if settings.platform is Platform.AWS_LAMBDA:
        return LambdaInvokeDispatcher(
            function_name=settings.aws_lambda_function_name, region=settings.aws_region
        )

    from app.jobs.runner import run_job

    async def run(job_id: uuid.UUID) -> None:
        await run_job(ports, job_id)

    return InProcessDispatcher(run)


def build_ports(settings: Settings) -> Ports:
    token = settings.upstash_redis_rest_token
    ports = Ports(
        settings=settings,
        database=Database(
            settings.resolved_database_url,
            serverless=settings.is_serverless,
            echo=settings.database_echo,
            statement_cache=settings.database_statement_cache,
        ),
        kv=create_key_value_store(
            settings.upstash_redis_rest_url,
            token.get_secret_value() if token else None,
            prefix=settings.kv_key_prefix,
        ),
        mailer=build_mailer(settings),
        providers=ProviderRegistry(settings),
        storage=build_storage(settings),
        buckets=Buckets.from_settings(settings),
    )
    ports.dispatcher = build_dispatcher(ports)
    ports.payments = PaymentProviders(settings)
    return ports
