"""Chat rules: a message's directions edit the project, optionally start a job, and get a reply."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.identity import SignedInUser
from app.chat import repository
from app.chat.directions import (
    MODEL_INSTRUCTION,
    VIBES,
    DirectionEdit,
    EditOutcome,
    ModelDirections,
    apply_edit,
    parse_directions,
    project_style,
    store_style,
)
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
ADVICE_MAX = 600
HINT = (
    "I understand: a new headline or subtext (in quotes, or after “to:” or “say”), a background "
    "or accent colour by name, a bigger or smaller headline, a vibe ("
    + ", ".join(VIBES)
    + "), the person on the left or right, removing the subtext, and “another variant”."
)


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
    if project.background_color:
        parts.append(f"background {project.background_color}")
    if project.accent_color:
        parts.append(f"accent {project.accent_color}")
    if project.headline_scale != 1.0:
        parts.append(f"headline at {round(project.headline_scale * 100)}% size")
    if project.selfie_asset_ids:
        side = f" on the {project.person_side}" if project.person_side else ""
        parts.append(f"a photo of the creator{side}")
    else:
        parts.append("no photo of a person")
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Understanding:
    edit: DirectionEdit
    source: Literal["parser", "model"]
    advice: str | None = None


async def understand(
    ports: Ports, history: list[ChatMessage], content: str, project: Project | None
) -> Understanding:
    """The message's directions: from the text model when one is configured and answers
    well, else from the deterministic parser."""
    if secret_value(ports.settings.gemini_api_key):
        from app.providers.gemini import structured_answer

        instruction = MODEL_INSTRUCTION
        summary = _summary(project)
        if summary:
            instruction += f"\nThe thumbnail being worked on: {summary}"
        try:
            answer = await structured_answer(
                settings=ports.settings,
                instruction=instruction,
                history=[(message.sender, message.content) for message in history],
                message=content,
                schema=ModelDirections,
            )
            directions = ModelDirections.model_validate_json(answer)
            advice = (directions.advice or "").strip()[:ADVICE_MAX] or None
            return Understanding(directions.to_edit(), "model", advice)
        except ProviderError as error:
            logger.warning(
                "text model unavailable for directions", extra={"reason": error.internal}
            )
        except ValidationError as error:
            logger.warning(
                "text model answered outside its schema",
                extra={"reason": f"{error.error_count()} errors"},
            )
    return Understanding(parse_directions(content), "parser")


def _outcome_without_project(edit: DirectionEdit) -> EditOutcome:
    outcome = EditOutcome(not_understood=list(edit.not_understood))
    if edit.asks_for_something():
        outcome.unchanged.append(
            "This chat is not attached to a project, so there is nothing to change yet."
        )
    return outcome


def _quoted(notes: list[str]) -> str:
    return "; ".join(f"“{note}”" for note in notes)


def _reply_text(
    outcome: EditOutcome,
    *,
    advice: str | None,
    generate: bool,
    job: JobCreated | None,
) -> str:
    parts: list[str] = []
    if outcome.applied:
        parts.append("Applied: " + "; ".join(edit.summary for edit in outcome.applied) + ".")
    parts.extend(outcome.unchanged)
    if outcome.not_understood:
        parts.append(f"Not understood: {_quoted(outcome.not_understood)}. {HINT}")
    elif not outcome.applied and not outcome.unchanged and not advice:
        parts.append(f"I did not find a direction in that. {HINT}")
    if advice:
        parts.append(advice)
    if job is not None:
        label = get_model(job.model).label
        variants = f"{job.variants} variant{'s' if job.variants != 1 else ''}"
        parts.append(
            f"Started a {label} render ({variants}, {job.quality} quality) for "
            f"{job.cost_credits} credit{'s' if job.cost_credits != 1 else ''}: job {job.id}."
        )
    elif generate:
        parts.append("Nothing changed, so no render was started and no credits were charged.")
    elif outcome.changes_project:
        parts.append("Saved to the project. Send a message with generate on to render it.")
    return "\n\n".join(parts)


async def post_message(
    *, session: AsyncSession, ports: Ports, user: SignedInUser, chat: Chat, data: MessageCreate
) -> MessageExchange:
    project = await session.get(Project, chat.project_id) if chat.project_id else None
    if data.generate and project is None:
        raise ChatHasNoProject()
    history = await repository.recent_messages(session, chat_id=chat.id, count=HISTORY_FOR_REPLY)
    # The text model may take seconds to answer: hold no transaction while it thinks.
    await end_read_only_transaction(session)
    understanding = await understand(ports, history, data.content, project)

    if project is not None:
        # Read again under a row lock: another message may have changed the style meanwhile.
        await session.refresh(project, with_for_update=True)
        style, outcome = apply_edit(
            project_style(project), understanding.edit, source=understanding.source
        )
        if outcome.changes_project:
            store_style(project, style)
            await session.flush()
    else:
        outcome = _outcome_without_project(understanding.edit)
        outcome.source = understanding.source

    job: JobCreated | None = None
    if data.generate and project is not None and outcome.wants_render:
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
            # The edits are in the project now; what was not understood still reaches a cloud
            # model as a free-form note (and means nothing to the studio).
            instruction="; ".join(outcome.not_understood) or None,
        )
    if job is None and any(edit.field == "variant" for edit in outcome.applied):
        # Nothing rendered: another variant was asked for, not made.
        outcome.applied = [edit for edit in outcome.applied if edit.field != "variant"]
        if project is not None:
            outcome.unchanged.append("Another variant renders when sent with generate on.")
    now = utcnow()
    message = ChatMessage(
        chat_id=chat.id,
        sender="user",
        content=data.content,
        job_id=job.id if job else None,
        edits=outcome.model_dump(mode="json"),
        created_at=now,
    )
    # The reply sorts after the message even when both share a clock tick.
    reply = ChatMessage(
        chat_id=chat.id,
        sender="ai",
        content=_reply_text(
            outcome,
            advice=understanding.advice,
            generate=data.generate,
            job=job,
        ),
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
