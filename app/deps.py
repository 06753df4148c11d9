"""Dependency aliases that hand handlers their settings, session and ports.

Every dependency here is `async def`: a plain `def` would run in the threadpool, a thread hop
on every request for what is an attribute read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.dispatch import JobDispatcher
from app.adapters.kv import KeyValueStore
from app.adapters.mail import Mailer
from app.adapters.storage import Buckets, ObjectStorage
from app.config import Settings
from app.kit.db import Database, transaction
from app.ports import Ports
from app.providers.registry import ProviderRegistry


async def get_ports(request: Request) -> Ports:
    ports: Ports = request.app.state.ports
    return ports


PortsDep = Annotated[Ports, Depends(get_ports)]


async def get_settings_dep(ports: PortsDep) -> Settings:
    return ports.settings


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request, ports: PortsDep) -> AsyncIterator[AsyncSession]:
    # Safe methods only read (HTTP semantics, and every GET route here keeps to them).
    database = ports.database
    maker = database.read_sessionmaker if request.method in SAFE_METHODS else database.sessionmaker
    async with transaction(maker) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# "function" scope: the transaction commits when the handler returns, before the response is
# sent, so a client never sees success for work that was rolled back.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


# One port each, for handlers that need only that one (async: no trip through the threadpool).
def _ports(request: Request) -> Ports:
    ports: Ports = request.app.state.ports
    return ports


async def get_storage(request: Request) -> ObjectStorage:
    return _ports(request).storage


async def get_buckets(request: Request) -> Buckets:
    return _ports(request).buckets


async def get_kv(request: Request) -> KeyValueStore:
    return _ports(request).kv


async def get_mailer(request: Request) -> Mailer:
    return _ports(request).mailer


async def get_database(request: Request) -> Database:
    return _ports(request).database


async def get_providers(request: Request) -> ProviderRegistry:
    return _ports(request).providers


async def get_dispatcher(request: Request) -> JobDispatcher:
    return _ports(request).dispatcher


StorageDep = Annotated[ObjectStorage, Depends(get_storage)]
BucketsDep = Annotated[Buckets, Depends(get_buckets)]
KVDep = Annotated[KeyValueStore, Depends(get_kv)]
MailerDep = Annotated[Mailer, Depends(get_mailer)]
DatabaseDep = Annotated[Database, Depends(get_database)]
ProvidersDep = Annotated[ProviderRegistry, Depends(get_providers)]
DispatcherDep = Annotated[JobDispatcher, Depends(get_dispatcher)]
