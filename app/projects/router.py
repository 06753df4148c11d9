"""HTTP routes of `/projects`: thumbnail briefs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.auth.deps import AUTHED, CurrentUser
from app.config import API_PREFIX
from app.deps import DatabaseDep, PortsDep, SessionDep
from app.jobs import service as jobs_service
from app.jobs.schemas import JobOut
from app.kit.errors import Unprocessable, responses
from app.kit.pagination import InvalidCursor, Page, PageParamsDep
from app.models import ProjectStatus
from app.projects import repository, service
from app.projects.deps import OwnedProject
from app.projects.schemas import ProjectCreate, ProjectOut, ProjectUpdate
from app.providers.registry import UnknownModel

router = APIRouter(prefix=f"{API_PREFIX}/projects", tags=["projects"], responses=AUTHED)
NOT_FOUND = responses(service.ProjectNotFound)


@router.post(
    "",
    response_model=ProjectOut,
    status_code=status.HTTP_201_CREATED,
    responses=responses(service.InvalidAssetReference, UnknownModel),
)
async def create_project(body: ProjectCreate, user: CurrentUser, session: SessionDep) -> ProjectOut:
    """Describe a thumbnail. Width and height default from the platform preset."""
    project = await service.create_project(session=session, user=user, data=body)
    return ProjectOut.model_validate(project)


@router.get("", response_model=Page[ProjectOut], responses=responses(InvalidCursor))
async def list_projects(
    user: CurrentUser,
    database: DatabaseDep,
    page: PageParamsDep,
    status_filter: Annotated[ProjectStatus | None, Query(alias="status")] = None,
) -> Page[ProjectOut]:
    window = await repository.list_owned(
        database, user_id=user.id, status=status_filter.value if status_filter else None, page=page
    )
    return Page.of(window, window.rows)


@router.get("/{project_id}", response_model=ProjectOut, responses=NOT_FOUND)
async def get_project(project: OwnedProject) -> ProjectOut:
    return ProjectOut.model_validate(project)


@router.patch(
    "/{project_id}",
    response_model=ProjectOut,
    responses={
        **NOT_FOUND,
        **responses(service.InvalidAssetReference, UnknownModel, Unprocessable),
    },
)
async def update_project(
    body: ProjectUpdate, project: OwnedProject, user: CurrentUser, session: SessionDep
) -> ProjectOut:
    updated = await service.update_project(session=session, user=user, project=project, data=body)
    return ProjectOut.model_validate(updated)


@router.delete(
    "/{project_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**NOT_FOUND, **responses(service.ProjectBusy)},
)
async def delete_project(
    project: OwnedProject, user: CurrentUser, session: SessionDep, ports: PortsDep
) -> None:
    """Delete the project with its jobs and render files; refused while a job is active."""
    await service.delete_project(session=session, ports=ports, user=user, project=project)


@router.get(
    "/{project_id}/jobs",
    response_model=Page[JobOut],
    responses={**NOT_FOUND, **responses(InvalidCursor)},
)
async def list_project_jobs(
    project: OwnedProject, session: SessionDep, ports: PortsDep, page: PageParamsDep
) -> Page[JobOut]:
    return await jobs_service.list_jobs(
        session=session,
        ports=ports,
        user_id=project.user_id,
        project_id=project.id,
        status=None,
        page=page,
    )
