"""HTTP routes of `/chat`: conversational iteration on a project."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request, Response, status

from app.auth.deps import AUTHED, CurrentUser
from app.chat import repository, service
from app.chat.deps import OwnedChat
from app.chat.schemas import ChatCreate, ChatOut, MessageCreate, MessageOut, MessagePosted
from app.config import API_PREFIX
from app.credits.service import InsufficientCredits
from app.deps import DatabaseDep, PortsDep, SessionDep
from app.kit.errors import responses
from app.kit.pagination import (
    PAGE_HEADERS_OPENAPI,
    InvalidCursor,
    Page,
    PageParamsDep,
    page_headers,
)
from app.projects.service import ProjectNotFound
from app.providers.registry import ModelUnavailable, UnknownModel

router = APIRouter(prefix=f"{API_PREFIX}/chat", tags=["chat"], responses=AUTHED)
NOT_FOUND = responses(service.ChatNotFound)


@router.post(
    "/new",
    response_model=ChatOut,
    status_code=status.HTTP_201_CREATED,
    responses=responses(ProjectNotFound),
)
async def new_chat(
    user: CurrentUser,
    session: SessionDep,
    ports: PortsDep,
    body: Annotated[ChatCreate | None, Body()] = None,
) -> ChatOut:
    """Start a chat; the body is optional (no name, no project)."""
    chat = await service.create_chat(session=session, user=user, data=body or ChatCreate())
    return service.chat_view(chat, ports)


@router.get("", response_model=Page[ChatOut], responses=responses(InvalidCursor))
async def list_chats(
    user: CurrentUser, session: SessionDep, ports: PortsDep, page: PageParamsDep
) -> Page[ChatOut]:
    window = await repository.list_owned(session, user_id=user.id, page=page)
    return Page.of(window, [service.chat_view(chat, ports) for chat in window.rows])


# Only ids match here, so `GET /chat/new` is 405 (it is POST-only) rather than a malformed id.
@router.get("/{chat_id:uuid}", response_model=ChatOut, responses=NOT_FOUND)
async def get_chat(chat: OwnedChat, ports: PortsDep) -> ChatOut:
    return service.chat_view(chat, ports)


@router.get(
    "/{chat_id}/messages",
    response_model=list[MessageOut],
    responses={
        200: {"description": "One page of messages.", "headers": PAGE_HEADERS_OPENAPI},
        **NOT_FOUND,
        **responses(InvalidCursor),
    },
)
async def list_messages(
    chat: OwnedChat,
    database: DatabaseDep,
    page: PageParamsDep,
    request: Request,
    response: Response,
) -> list[MessageOut]:
    """Messages oldest first, as a plain array. The page travels in headers: `Link`
    (`rel="next"`) and `X-Next-Cursor` while more follow, `X-Total-Count` with
    `include_total=true`."""
    window = await repository.list_messages(database, chat_id=chat.id, page=page)
    response.headers.update(
        page_headers(window, path=request.url.path, query=request.query_params.multi_items())
    )
    return window.rows


@router.post(
    "/{chat_id}/messages",
    response_model=MessagePosted,
    status_code=status.HTTP_201_CREATED,
    responses={
        **NOT_FOUND,
        **responses(service.ChatHasNoProject, UnknownModel, ModelUnavailable, InsufficientCredits),
    },
)
async def post_message(
    body: MessageCreate, chat: OwnedChat, user: CurrentUser, session: SessionDep, ports: PortsDep
) -> MessagePosted:
    """Store the message; with `generate`, start a job on the chat's project with the message
    as an extra instruction (same rules and costs as POST /jobs). An `ai` reply follows.

    Answers the stored message object, with the reply (`reply`) and the job (`job`) as extra
    fields."""
    exchange = await service.post_message(
        session=session, ports=ports, user=user, chat=chat, data=body
    )
    return MessagePosted.of(exchange)
