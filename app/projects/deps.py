"""`OwnedProject`: the project in the path, loaded for its owner only (else 404)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from app.auth.deps import CurrentUser
from app.deps import SessionDep
from app.models import Project
from app.projects import repository
from app.projects.service import ProjectNotFound


async def get_owned_project(
    project_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> Project:
    project = await repository.get_owned(session, user_id=user.id, project_id=project_id)
    if project is None:
        raise ProjectNotFound()
    return project


OwnedProject = Annotated[Project, Depends(get_owned_project)]
