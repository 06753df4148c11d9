"""`OwnedChat`: the chat in the path, loaded for its owner only (else 404)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from app.auth.deps import CurrentUser
from app.chat import repository
from app.chat.service import ChatNotFound
from app.deps import SessionDep
from app.models import Chat


async def get_owned_chat(chat_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Chat:
    chat = await repository.get_owned(session, user_id=user.id, chat_id=chat_id)
    if chat is None:
        raise ChatNotFound()
    return chat


OwnedChat = Annotated[Chat, Depends(get_owned_chat)]
