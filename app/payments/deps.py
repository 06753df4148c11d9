"""`OwnedOrder`: the payment order in the path, loaded for its owner only (else 404)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from app.auth.deps import CurrentUser
from app.deps import SessionDep
from app.models import Payment
from app.payments import repository
from app.payments.service import OrderNotFound


async def get_owned_order(order_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Payment:
    payment = await repository.get_owned(session, user_id=user.id, order_id=order_id)
    if payment is None:
        raise OrderNotFound()
    return payment


OwnedOrder = Annotated[Payment, Depends(get_owned_order)]
