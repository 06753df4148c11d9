"""Per-day rollups of the admin stats: settled UTC days' job counts, ledger sums and durations."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class StatsDay(Base):
    """One UTC day whose rollup rows are complete, or stale (changed since: recompute).

    Database triggers on `jobs` and `credit_transactions` mark a past day stale in the same
    transaction as any change to its rows (migration 0010_stats_daily).
    """

    __tablename__ = "stats_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the rows were counted; none for a day a trigger marked stale before any count.
    computed_at: Mapped[datetime | None] = mapped_column(default=None)


class StatsDailyRow(Base):
    """One figure of one day: jobs by (status, model), a ledger reason's sum, or the number of
    succeeded jobs in one duration bucket."""

    __tablename__ = "stats_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    section: Mapped[str] = mapped_column(String(16), primary_key=True)
    key1: Mapped[str] = mapped_column(String(64), primary_key=True)
    key2: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
