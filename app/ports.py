"""The application's ports: what handlers and jobs use, never which adapter is behind each.

A leaf module: it names the port types only, so any feature can import it. The adapters are
chosen and wired in app/composition.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.adapters.dispatch import JobDispatcher
    from app.adapters.kv import KeyValueStore
    from app.adapters.mail import Mailer
    from app.adapters.payments import PaymentProviders
    from app.adapters.storage import Buckets, ObjectStorage
    from app.config import Settings
    from app.kit.db import Database
    from app.providers.registry import ProviderRegistry


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
