"""HTTP routes of `/credits`: the balance and the ledger behind it."""

from __future__ import annotations

from fastapi import APIRouter

from app.auth.deps import AUTHED, CurrentUser
from app.config import API_PREFIX
from app.credits import repository
from app.credits.schemas import BalanceOut, TransactionOut
from app.deps import DatabaseDep
from app.kit.errors import responses
from app.kit.pagination import InvalidCursor, Page, PageParamsDep

router = APIRouter(prefix=f"{API_PREFIX}/credits", tags=["credits"], responses=AUTHED)


@router.get("/balance", response_model=BalanceOut)
async def balance(user: CurrentUser) -> BalanceOut:
    return BalanceOut(credits=user.credits)


@router.get(
    "/transactions", response_model=Page[TransactionOut], responses=responses(InvalidCursor)
)
async def transactions(
    user: CurrentUser, database: DatabaseDep, page: PageParamsDep
) -> Page[TransactionOut]:
    """The ledger, newest first; `balance_after` is the balance right after each row."""
    window = await repository.list_transactions(database, user_id=user.id, page=page)
    return Page.of(window, window.rows)
