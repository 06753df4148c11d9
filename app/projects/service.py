"""Project rules: sizes from platform presets, referenced assets owned and of the right type."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.assets import repository as assets_repository
from app.auth.identity import SignedInUser
from app.kit.db import after_commit
from app.kit.errors import Conflict, NotFound, Unprocessable
from app.models import Asset, AssetType, Project
from app.ports import Ports
from app.projects import repository
from app.projects.schemas import PLATFORM_SIZES, ProjectCreate, ProjectUpdate
from app.providers.registry import get_model


class ProjectNotFound(NotFound):
    code = "not_found"
    message = "Project not found."


class InvalidAssetReference(Unprocessable):
    code = "invalid_asset"
    message = "A referenced asset does not exist or has the wrong type."


class ProjectBusy(Conflict):
    code = "project_busy"
    message = "A job of this project is still queued or running; cancel it first."


async def _check_assets(
    session: AsyncSession,
    *,
    user: SignedInUser,
    ids: Sequence[uuid.UUID],
    allowed: set[AssetType],
    field: str,
) -> None:
    unique = list(dict.fromkeys(ids))
    found: dict[uuid.UUID, Asset] = {
        asset.id: asset
        for asset in await assets_repository.get_owned_assets(session, user_id=user.id, ids=unique)
    }
    for asset_id in unique:
        asset = found.get(asset_id)
        if asset is None:
            raise InvalidAssetReference(f"{field}: asset {asset_id} was not found.")
        if AssetType(asset.type) not in allowed:
            names = " or ".join(sorted(kind.value for kind in allowed))
            raise InvalidAssetReference(
                f"{field}: asset {asset_id} is a {asset.type}, not {names}."
            )


async def _validate(session: AsyncSession, *, user: SignedInUser, project: Project) -> None:
    if project.model_pref is not None:
        get_model(project.model_pref)
    await _check_assets(
        session,
        user=user,
        ids=[uuid.UUID(str(i)) for i in project.selfie_asset_ids],
        allowed={AssetType.SELFIE},
        field="selfie_asset_ids",
    )
    await _check_assets(
        session,
        user=user,
        ids=[uuid.UUID(str(i)) for i in project.ref_asset_ids],
        allowed={AssetType.REF, AssetType.SELFIE},
        field="ref_asset_ids",
    )
    if project.copy_target_asset_id is not None:
        await _check_assets(
            session,
            user=user,
            ids=[project.copy_target_asset_id],
            allowed={AssetType.COPY_TARGET, AssetType.REF},
            field="copy_target_asset_id",
        )
    if project.mode == "copy" and project.copy_target_asset_id is None:
        raise Unprocessable("Copy mode needs copy_target_asset_id.")


def _size(platform: str, width: int | None, height: int | None) -> tuple[int, int]:
    preset = PLATFORM_SIZES.get(platform)
    if preset is None:
        if width is None or height is None:
            raise Unprocessable("A custom platform needs both width and height (256-4096).")
        return width, height
    return width or preset[0], height or preset[1]


async def create_project(
    *, session: AsyncSession, user: SignedInUser, data: ProjectCreate
) -> Project:
    width, height = _size(data.platform, data.width, data.height)
    project = Project(
        user_id=user.id,
        mode=data.mode,
        platform=data.platform,
        width=width,
        height=height,
        headline=data.headline,
        subtext=data.subtext or None,
        vibe=data.vibe or None,
        model_pref=data.model_pref,
        selfie_asset_ids=[str(i) for i in dict.fromkeys(data.selfie_asset_ids)],
        ref_asset_ids=[str(i) for i in dict.fromkeys(data.ref_asset_ids)],
        copy_target_asset_id=data.copy_target_asset_id,
        background_color=data.background_color,
        accent_color=data.accent_color,
        headline_scale=data.headline_scale if data.headline_scale is not None else 1.0,
        person_side=data.person_side,
    )
    await _validate(session, user=user, project=project)
    session.add(project)
    await session.flush()
    return project


async def update_project(
    *, session: AsyncSession, user: SignedInUser, project: Project, data: ProjectUpdate
) -> Project:
    changes = data.model_dump(exclude_unset=True)
    for required in ("mode", "platform", "headline", "width", "height", "headline_scale"):
        if required in changes and changes[required] is None:
            raise Unprocessable(f"{required} cannot be null.")
    if "platform" in changes:
        width, height = _size(changes["platform"], changes.get("width"), changes.get("height"))
        changes["width"], changes["height"] = width, height
    for name in ("selfie_asset_ids", "ref_asset_ids"):
        if name in changes:
            changes[name] = [str(i) for i in dict.fromkeys(changes[name] or [])]
    for name in ("subtext", "vibe"):
        if name in changes:
            changes[name] = changes[name] or None
    for name, value in changes.items():
        setattr(project, name, value)
    await _validate(session, user=user, project=project)
    await session.flush()
    return project


async def delete_project(
    *, session: AsyncSession, ports: Ports, user: SignedInUser, project: Project
) -> None:
    if await repository.has_active_job(session, project.id):
        raise ProjectBusy()
    job_ids = await repository.job_ids(session, project.id)
    await repository.delete_project(session, project.id)
    await session.flush()
    renders = ports.buckets.renders.name

    async def remove_render_files() -> None:
        for job_id in job_ids:
            await ports.storage.delete_prefix(renders, f"{user.id}/{job_id}")

    # Files go only once the rows are gone for good.
    after_commit(session, remove_render_files)
