"""The application's ports, each built from settings with its cloud or embedded adapter."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from app.adapters.dispatch import (
    InProcessDispatcher,
    JobDispatcher,
    JobRunner,
    QStashDispatcher,
)
from app.adapters.kv import KeyValueStore, create_key_value_store
from app.adapters.lambda_dispatch import LambdaInvokeDispatcher
from app.adapters.mail import Mailer, OutboxMailer, SmtpMailer
from app.adapters.payments import PaymentProviders
from app.adapters.storage import Buckets, LocalObjectStorage, ObjectStorage
from app.config import ConfigurationError, JobDispatch, Platform, Settings
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


class DispatchChoice(StrEnum):
    """The dispatcher a deployment uses, named as its adapter reports itself."""

    QSTASH = "qstash"
    LAMBDA_INVOKE = "lambda_invoke"
    VERCEL_WAIT_UNTIL = "vercel_wait_until"
    IN_PROCESS = "in_process"


_EXPLICIT_DISPATCH = {
    JobDispatch.QSTASH: DispatchChoice.QSTASH,
    JobDispatch.LAMBDA: DispatchChoice.LAMBDA_INVOKE,
    JobDispatch.VERCEL: DispatchChoice.VERCEL_WAIT_UNTIL,
    JobDispatch.IN_PROCESS: DispatchChoice.IN_PROCESS,
}
_NATIVE_DISPATCH = {
    Platform.AWS_LAMBDA: DispatchChoice.LAMBDA_INVOKE,
    Platform.VERCEL: DispatchChoice.VERCEL_WAIT_UNTIL,
    Platform.SERVER: DispatchChoice.IN_PROCESS,
}


def resolve_dispatch(settings: Settings) -> DispatchChoice:
    """`JOB_DISPATCH` when it names one; `auto`: QStash if configured, else the platform's way."""
    if settings.job_dispatch is not JobDispatch.AUTO:
        return _EXPLICIT_DISPATCH[settings.job_dispatch]
    if settings.qstash_token is not None:
        return DispatchChoice.QSTASH
    return _NATIVE_DISPATCH[settings.platform]


def build_dispatcher(ports: Ports) -> JobDispatcher:
    settings = ports.settings
    choice = resolve_dispatch(settings)
    match choice:
        case DispatchChoice.QSTASH:
            assert settings.qstash_token is not None  # Settings refuses qstash without one
            return QStashDispatcher(
                token=settings.qstash_token.get_secret_value(),
                public_base_url=settings.public_base_url,
                base_url=settings.qstash_url,
            )
        case DispatchChoice.IN_PROCESS:
            return InProcessDispatcher(_job_runner(ports))
        case DispatchChoice.LAMBDA_INVOKE:
            return LambdaInvokeDispatcher(
                function_name=settings.aws_lambda_function_name, region=settings.aws_region
            )
        case DispatchChoice.VERCEL_WAIT_UNTIL:
            raise _not_available(choice)


def _not_available(choice: DispatchChoice) -> ConfigurationError:
    return ConfigurationError(
        f"the {choice} dispatcher is not available; set JOB_DISPATCH=qstash "
        "(with QSTASH_TOKEN) or JOB_DISPATCH=in_process"
    )


def _job_runner(ports: Ports) -> JobRunner:
    from app.jobs.runner import run_job

    async def run(job_id: uuid.UUID) -> None:
        await run_job(ports, job_id)

    return run


def refuse_unfinishable_dispatch(settings: Settings, dispatcher: JobDispatcher) -> None:
    """A serverless function freezes after its response: production there needs a dispatcher
    whose jobs still finish, unless the setting says stalled jobs are acceptable."""
    if not (settings.is_production and settings.is_serverless):
        return
    if dispatcher.finishes_after_response or settings.allow_in_process_dispatch:
        return
    raise ConfigurationError(
        f"jobs dispatched by '{dispatcher.name}' would stop when the {settings.platform} "
        "function answers and stall until a later request runs them. Dispatch through QStash "
        "(QSTASH_TOKEN and the signing keys) or the platform's own way (JOB_DISPATCH=auto), or "
        "set ALLOW_IN_PROCESS_DISPATCH=true to accept stalled jobs"
    )


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
    refuse_unfinishable_dispatch(settings, ports.dispatcher)
    ports.payments = PaymentProviders(settings)
    return ports
