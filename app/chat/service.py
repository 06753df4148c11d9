"""Chat rules: messages on a project, optionally starting a job, with an assistant reply."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.identity import SignedInUser
from app.chat import repository
from app.chat.schemas import ChatCreate, ChatOut, MessageCreate, MessageExchange, MessageOut
from app.config import secret_value
from app.jobs.schemas import JobCreate, JobCreated
from app.jobs.service import submit_job
from app.kit.db import end_read_only_transaction
from app.kit.errors import NotFound, Unprocessable
from app.models import Chat, ChatMessage, Project
from app.models.base import utcnow
from app.ports import Ports
from app.projects import repository as projects_repository
from app.projects.service import ProjectNotFound
from app.providers.base import ProviderError
from app.providers.registry import get_model

logger = logging.getLogger("app.chat")
HISTORY_FOR_REPLY = 20


class ChatNotFound(NotFound):
    message = "Chat not found."


class ChatHasNoProject(Unprocessable):
    code = "chat_has_no_project"
    message = "This chat is not attached to a project, so it cannot start a render."


def chat_view(chat: Chat, ports: Ports) -> ChatOut:
    return ChatOut(
        id=chat.id,
        chat_id=chat.id,
        session_name=chat.session_name,
        project_id=chat.project_id,
        url=f"{ports.settings.frontend_url.rstrip('/')}/c/{chat.id}",
        created_at=chat.created_at,
        updated_at=chat.updated_at,
    )


async def create_chat(*, session: AsyncSession, user: SignedInUser, data: ChatCreate) -> Chat:
    name = data.session_name
    if data.project_id is not None:
        project = await projects_repository.get_owned(
            session, user_id=user.id, project_id=data.project_id
        )
        if project is None:
            raise ProjectNotFound()
        name = name or project.headline or None
    chat = Chat(user_id=user.id, project_id=data.project_id, session_name=name or "New chat")
    session.add(chat)
    await session.flush()
    return chat


def _summary(project: Project | None) -> str | None:
    if project is None:
        return None
    parts = [f"{project.platform} thumbnail {project.width}x{project.height}"]
    if project.headline:
        parts.append(f'headline "{project.headline}"')
    if project.subtext:
        parts.append(f'subtext "{project.subtext}"')
    if project.vibe:
        parts.append(f"vibe {project.vibe}")
    return ", ".join(parts)


def _acknowledgement(job: JobCreated | None) -> str:
    if job is None:
        return (
            "Noted. Send your next message with generate on to render a new version "
            "with this direction."
        )
    label = get_model(job.model).label
    variants = f"{job.variants} variant{'s' if job.variants != 1 else ''}"
    return (
        f"Started a {label} render ({variants}, {job.quality} quality) for "
        f"{job.cost_credits} credit{'s' if job.cost_credits != 1 else ''}: job {job.id}."
    )


async def _advice(
    ports: Ports, history: list[ChatMessage], content: str, project: Project | None
) -> str | None:
    """A reply from the text model when one is configured; None to fall back."""
    if not secret_value(ports.settings.gemini_api_key):
        return None
    from app.providers.gemini import chat_reply

    try:
        return await chat_reply(
            settings=ports.settings,
            history=[(message.sender, message.content) for message in history],
            message=content,
            project_summary=_summary(project),
        )
    except ProviderError as error:
        logger.warning("assistant reply unavailable", extra={"reason": error.internal})
        return None


async def post_message(
    *, session: AsyncSession, ports: Ports, user: SignedInUser, chat: Chat, data: MessageCreate
) -> MessageExchange:
    project = await session.get(Project, chat.project_id) if chat.project_id else None
    if data.generate and project is None:
        raise ChatHasNoProject()
    history = await repository.recent_messages(session, chat_id=chat.id, count=HISTORY_FOR_REPLY)
    # The assistant may take seconds to answer: hold no transaction while it thinks.
    await end_read_only_transaction(session)
    advice = await _advice(ports, history, data.content, project)

    job: JobCreated | None = None
    if data.generate and project is not None:
        job = await submit_job(
            session=session,
            ports=ports,
            user=user,
            data=JobCreate(
                project_id=project.id,
                quality=data.quality,
                variants=data.variants,
                model=data.model,
                params=data.params,
            ),
            instruction=data.content,
        )
    now = utcnow()
    message = ChatMessage(
        chat_id=chat.id,
        sender="user",
        content=data.content,
        job_id=job.id if job else None,
        created_at=now,
    )
    parts = [advice] if advice else []
    if job is not None or not advice:
        parts.append(_acknowledgement(job))
    # The reply sorts after the message even when both share a clock tick.
    reply = ChatMessage(
        chat_id=chat.id,
        sender="ai",
        content="\n\n".join(parts),
        job_id=job.id if job else None,
        created_at=now + timedelta(microseconds=1),
    )
    session.add_all([message, reply])
    chat.updated_at = now
    await session.flush()
    return MessageExchange(
        message=MessageOut.model_validate(message),
        reply=MessageOut.model_validate(reply),
        job=job,
    )
