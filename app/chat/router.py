"""HTTP routes of `/chat`: conversational iteration on a project."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from app.auth.deps import CurrentUser
from app.auth.router import AUTHED
from app.chat import repository, service
from app.chat.schemas import ChatCreate, ChatOut, MessageCreate, MessageExchange, MessageOut
from app.config import API_PREFIX
from app.credits.service import InsufficientCredits
from app.deps import PortsDep, SessionDep
from app.kit.errors import NotFound, responses
from app.kit.pagination import Page, PageParamsDep
from app.models import Chat
from app.projects.deps import ProjectNotFound

router = APIRouter(prefix=f"{API_PREFIX}/chat", tags=["chat"], responses=AUTHED)


class ChatNotFound(NotFound):
    message = "Chat not found."


async def get_owned_chat(chat_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Chat:
    chat = await repository.get_owned(session, user_id=user.id, chat_id=chat_id)
    if chat is None:
        raise ChatNotFound()
    return chat


OwnedChat = Annotated[Chat, Depends(get_owned_chat)]
NOT_FOUND = responses(ChatNotFound)


@router.post(
    "/new",
    response_model=ChatOut,
    status_code=status.HTTP_201_CREATED,
    responses=responses(ProjectNotFound),
)
async def new_chat(
    body: ChatCreate, user: CurrentUser, session: SessionDep, ports: PortsDep
) -> ChatOut:
    chat = await service.create_chat(session=session, user=user, data=body)
    return service.chat_view(chat, ports)


@router.get("", response_model=Page[ChatOut])
async def list_chats(
    user: CurrentUser, session: SessionDep, ports: PortsDep, page: PageParamsDep
) -> Page[ChatOut]:
    rows, total = await repository.list_owned(
        session, user_id=user.id, limit=page.limit, offset=page.offset
    )
    return Page(
        items=[service.chat_view(chat, ports) for chat in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


# Only ids match here, so `GET /chat/new` is 405 (it is POST-only) rather than a malformed id.
@router.get("/{chat_id:uuid}", response_model=ChatOut, responses=NOT_FOUND)
async def get_chat(chat: OwnedChat, ports: PortsDep) -> ChatOut:
    return service.chat_view(chat, ports)


@router.get("/{chat_id}/messages", response_model=Page[MessageOut], responses=NOT_FOUND)
async def list_messages(
    chat: OwnedChat, session: SessionDep, page: PageParamsDep
) -> Page[MessageOut]:
    """Messages oldest first."""
    rows, total = await repository.list_messages(
        session, chat_id=chat.id, limit=page.limit, offset=page.offset
    )
    return Page(
        items=[MessageOut.model_validate(row) for row in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/{chat_id}/messages",
    response_model=MessageExchange,
    status_code=status.HTTP_201_CREATED,
    responses={**NOT_FOUND, **responses(service.ChatHasNoProject, InsufficientCredits)},
)
async def post_message(
    body: MessageCreate, chat: OwnedChat, user: CurrentUser, session: SessionDep, ports: PortsDep
) -> MessageExchange:
    """Store the message; with `generate`, start a job on the chat's project with the message
    as an extra instruction (same rules and costs as POST /jobs). An `ai` reply follows."""
    return await service.post_message(session=session, ports=ports, user=user, chat=chat, data=body)
