"""`OwnedJob`: the job in the path, loaded for its owner only (else 404)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from app.auth.deps import CurrentUser
from app.deps import SessionDep
from app.jobs import repository
from app.jobs.service import JobNotFound
from app.models import Job


async def get_owned_job(job_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Job:
    job = await repository.get_owned(session, user_id=user.id, job_id=job_id)
    if job is None:
        raise JobNotFound()
    return job


OwnedJob = Annotated[Job, Depends(get_owned_job)]
