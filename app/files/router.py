"""`/files`: objects of the local storage, public ones as they are and private ones when signed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import FileResponse

from app.config import API_PREFIX
from app.deps import BucketsDep, StorageDep
from app.files import service
from app.kit.errors import responses

router = APIRouter(prefix=f"{API_PREFIX}/files", tags=["files"])


@router.head("/{bucket}/{path:path}", response_class=FileResponse, include_in_schema=False)
@router.get(
    "/{bucket}/{path:path}",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}},
        304: {"description": "The cached copy is current."},
        **responses(service.FileNotFound, service.InvalidSignature, service.UrlExpired),
    },
)
async def serve_file(
    bucket: str,
    path: str,
    storage: StorageDep,
    buckets: BucketsDep,
    expires: Annotated[int | None, Query(description="Signed link expiry (unix time).")] = None,
    signature: Annotated[str | None, Query(max_length=128)] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Serve a stored file when the storage is the local folder (cloud storage has its own URLs).

    Files in public buckets need no signature; private ones need the `expires` and `signature`
    of a link handed out by the API.
    """
    found = await service.locate_file(
        storage=storage,
        buckets=buckets,
        bucket=bucket,
        path=path,
        expires=expires,
        signature=signature,
    )
    headers = {"ETag": found.etag, "Cache-Control": found.cache_control}
    if service.etag_matches(if_none_match, found.etag):
        return Response(status_code=304, headers=headers)
    return FileResponse(
        found.path,
        media_type=found.content_type,
        stat_result=found.stat,
        headers=headers,
        content_disposition_type="inline",
    )
