"""SQLAlchemy tables; importing this package registers every table on `Base.metadata`."""

from app.models.admin import AdminAction
from app.models.asset import Asset, AssetType
from app.models.base import Base
from app.models.chat import Chat, ChatMessage
from app.models.credit import CreditTransaction
from app.models.payment import Payment, PaymentStatus
from app.models.project import IdempotencyKey, Job, JobStatus, Project, ProjectStatus, Render
from app.models.stats import StatsDailyRow, StatsDay
from app.models.user import User, UserRole

__all__ = [
    "AdminAction",
    "Asset",
    "AssetType",
    "Base",
    "Chat",
    "ChatMessage",
    "CreditTransaction",
    "IdempotencyKey",
    "Job",
    "JobStatus",
    "Payment",
    "PaymentStatus",
    "Project",
    "ProjectStatus",
    "Render",
    "StatsDailyRow",
    "StatsDay",
    "User",
    "UserRole",
]
