"""SQLAlchemy tables; importing this package registers every table on `Base.metadata`."""

from app.models.asset import Asset, AssetType
from app.models.base import Base
from app.models.credit import CreditTransaction
from app.models.user import User, UserRole

__all__ = ["Asset", "AssetType", "Base", "CreditTransaction", "User", "UserRole"]
