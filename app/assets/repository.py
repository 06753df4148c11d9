"""All SQL about uploaded assets; every read is scoped to the owner."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import PageParams, Window, fetch_window
from app.models import Asset, AssetType


async def add_asset(session: AsyncSession, asset: Asset) -> Asset:
    session.add(asset)
    await session.flush()
    return asset


async def get_owned_asset(
    session: AsyncSession, *, user_id: uuid.UUID, asset_id: uuid.UUID
) -> Asset | None:
    return await session.scalar(select(Asset).where(Asset.id == asset_id, Asset.user_id == user_id))


async def get_owned_assets(
    session: AsyncSession, *, user_id: uuid.UUID, ids: Collection[uuid.UUID]
) -> list[Asset]:
    """The caller's assets among `ids`, in the order asked; ids of others are left out."""
    if not ids:
        return []
    rows = await session.scalars(
        select(Asset).where(Asset.user_id == user_id, Asset.id.in_(set(ids)))
    )
    by_id = {row.id: row for row in rows}
    return [by_id[asset_id] for asset_id in dict.fromkeys(ids) if asset_id in by_id]


async def list_assets(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    type: AssetType | None,
    page: PageParams,
) -> Window[Asset]:
    query = select(Asset).where(Asset.user_id == user_id)
    if type is not None:
        query = query.where(Asset.type == type.value)
    return await fetch_window(session, query, params=page, timestamp=Asset.created_at, id=Asset.id)


async def delete_owned_asset(
    session: AsyncSession, *, user_id: uuid.UUID, asset_id: uuid.UUID
) -> None:
    await session.execute(delete(Asset).where(Asset.id == asset_id, Asset.user_id == user_id))
