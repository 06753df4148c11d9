"""Dependency aliases that hand handlers their settings, session and ports.

Every dependency here is `async def`: a plain `def` would run in the threadpool, a thread hop
on every request for what is an attribute read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.kit.db import transaction
from app.ports import Ports


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
