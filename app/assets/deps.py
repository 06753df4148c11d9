"""`OwnedAsset`: an asset id from the path, loaded only if it belongs to the caller."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from app.assets import repository
from app.assets.service import AssetNotFound
from app.auth.deps import CurrentUser
from app.deps import SessionDep
from app.models import Asset


async def get_owned_asset(asset_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Asset:
    asset = await repository.get_owned_asset(session, user_id=user.id, asset_id=asset_id)
    if asset is None:
        raise AssetNotFound()
    return asset


OwnedAsset = Annotated[Asset, Depends(get_owned_asset)]
