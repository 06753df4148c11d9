"""HTTP routes of `/chat`: conversational iteration on a project."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.auth.deps import AUTHED, CurrentUser
from app.chat import repository, service
from app.chat.deps import OwnedChat
from app.chat.schemas import ChatCreate, ChatOut, MessageCreate, MessageExchange, MessageOut
from app.config import API_PREFIX
from app.credits.service import InsufficientCredits
from app.deps import PortsDep, SessionDep
from app.kit.errors import responses
from app.kit.pagination import InvalidCursor, Page, PageParamsDep
from app.projects.service import ProjectNotFound

router = APIRouter(prefix=f"{API_PREFIX}/chat", tags=["chat"], responses=AUTHED)
NOT_FOUND = responses(service.ChatNotFound)


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
    response_model=Page[MessageOut],
    responses={**NOT_FOUND, **responses(InvalidCursor)},
)
async def list_messages(
    chat: OwnedChat, session: SessionDep, page: PageParamsDep
) -> Page[MessageOut]:
    """Messages oldest first."""
    window = await repository.list_messages(session, chat_id=chat.id, page=page)
    return Page.of(window, [MessageOut.model_validate(row) for row in window.rows])


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
