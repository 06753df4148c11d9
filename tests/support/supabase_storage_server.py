"""Supabase-Storage-compatible HTTP server (gateway plus storage REST API), in memory, for tests."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import jwt
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from tests.support.wire import serve

SERVER_START_TIMEOUT = 10.0
SERVER_STOP_TIMEOUT = 10.0
# The storage server's default upload limit; a bucket's own limit can only lower it.
GLOBAL_FILE_SIZE_LIMIT = 50 * 1024 * 1024
# storage.search() caps one page at this many rows whatever the client asks for.
MAX_LIST_LIMIT = 1500
DEFAULT_LIST_LIMIT = 100
# Bulk deletes are refused above this many names per request.
MAX_DELETE_NAMES = 1000
SERVICE_ROLE = "service_role"
DOWNLOAD_SCOPE = "download"

_VALID_KEY = re.compile(r"^[A-Za-z0-9_/!.*'() &$=@;:+,?-]*$")
_VALID_BUCKET_NAME = re.compile(r"^[A-Za-z0-9_!.*'() &$=@;:+,?-]*$")
_VALID_MIME = re.compile(
    r"^([a-zA-Z0-9\-+.]+)/([a-zA-Z0-9\-+.]+)(;\s*charset=[a-zA-Z0-9\-]+)?$|\*$"
)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def _attachment(download: str) -> str:
    """Storage's answer to `?download=`: a bare attachment for an empty value, else the name
    as an ASCII fallback and as UTF-8 `filename*`."""
    if not download:
        return "attachment;"
    fallback = "".join(c if 32 < ord(c) < 127 and c not in '"\\;,' else "_" for c in download)
    return f"attachment; filename={fallback}; filename*=UTF-8''{quote(download, safe='')}"


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StorageError(Exception):
    """An error the storage API renders as ``{statusCode, code, error, message}``.

    ``status`` is the status the storage service means; like the real one, the HTTP reply
    carries 400 for every status below 500 and 500 otherwise, unless ``http_status`` says.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        error: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.error = error or code
        self.http_status = http_status or (500 if status >= 500 else 400)

    def response(self) -> JSONResponse:
        body = {
            "statusCode": str(self.status),
            "code": self.code,
            "error": self.error,
            "message": self.message,
        }
        return JSONResponse(body, status_code=self.http_status)


def no_such_bucket() -> StorageError:
    return StorageError(404, "NoSuchBucket", "Bucket not found", error="Bucket not found")


def no_such_key() -> StorageError:
    return StorageError(404, "NoSuchKey", "Object not found", error="not_found")


def access_denied(message: str, *, http_status: int | None = None) -> StorageError:
    return StorageError(403, "AccessDenied", message, error="Unauthorized", http_status=http_status)


def invalid_jwt(message: str) -> StorageError:
    return StorageError(400, "InvalidJWT", message)


def entity_too_large() -> StorageError:
    return StorageError(
        413,
        "EntityTooLarge",
        "The object exceeded the maximum allowed size",
        error="Payload too large",
    )


def invalid_mime_type(mime_type: str) -> StorageError:
    return StorageError(
        415, "InvalidMimeType", f"mime type {mime_type} is not supported", error="invalid_mime_type"
    )


def validation_error(message: str) -> StorageError:
    # Schema failures come from the web framework, which names its own error class.
    return StorageError(400, "InvalidRequest", message, error="FastifyError")


def already_exists(code: str) -> StorageError:
    return StorageError(409, code, "The resource already exists", error="Duplicate")


@dataclass
class StoredBucket:
    id: str
    name: str
    public: bool
    file_size_limit: int | None
    allowed_mime_types: list[str] | None
    created_at: datetime
    updated_at: datetime

    def to_json(self, *, with_type: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            # Buckets created with a service role key have no owner; it serialises as "".
            "owner": "",
            "public": self.public,
            "created_at": _timestamp(self.created_at),
            "updated_at": _timestamp(self.updated_at),
            "file_size_limit": self.file_size_limit,
            "allowed_mime_types": self.allowed_mime_types,
        }
        if with_type:
            body["type"] = "STANDARD"
        return body


@dataclass
class StoredObject:
    id: str
    bucket_id: str
    name: str
    data: bytes
    content_type: str
    cache_control: str
    version: str
    created_at: datetime
    updated_at: datetime

    @property
    def etag(self) -> str:
        return f'"{hashlib.md5(self.data, usedforsecurity=False).hexdigest()}"'

    def metadata(self) -> dict[str, Any]:
        return {
            "eTag": self.etag,
            "size": len(self.data),
            "mimetype": self.content_type,
            "cacheControl": self.cache_control,
            "lastModified": _timestamp(self.updated_at),
            "contentLength": len(self.data),
            "httpStatusCode": 200,
        }

    def listing(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "id": self.id,
            "updated_at": _timestamp(self.updated_at),
            "created_at": _timestamp(self.created_at),
            "last_accessed_at": _timestamp(self.updated_at),
            "metadata": self.metadata(),
        }

    def row(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "bucket_id": self.bucket_id,
            "owner": "",
            "owner_id": "",
            "version": self.version,
            "id": self.id,
            "updated_at": _timestamp(self.updated_at),
            "created_at": _timestamp(self.created_at),
            "last_accessed_at": _timestamp(self.updated_at),
            "metadata": self.metadata(),
            "user_metadata": {},
        }


@dataclass
class StorageState:
    """Everything the server holds, shared with the test that started it."""

    buckets: dict[str, StoredBucket] = field(default_factory=dict)
    objects: dict[str, dict[str, StoredObject]] = field(default_factory=dict)
    # (method, path below /storage/v1) of every request that reached the storage API.
    requests: list[tuple[str, str]] = field(default_factory=list)
    url_signing_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # Seconds added to the wall clock, so tests can let signed URLs expire without sleeping.
    clock_offset: float = 0.0

    def now(self) -> float:
        return time.time() + self.clock_offset

    def moment(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def clear(self) -> None:
        """Forget every bucket, object and request (between tests sharing one server)."""
        self.buckets.clear()
        self.objects.clear()
        self.requests.clear()
        self.clock_offset = 0.0

    def calls(self, method: str, path: str) -> int:
        return sum(1 for seen in self.requests if seen == (method, path))


def _parse_size(value: object) -> int:
    if isinstance(value, bool):
        raise validation_error("body/file_size_limit must be integer,string")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match:
            unit = (match.group(2) or "B").upper()
            return int(float(match.group(1)) * _SIZE_UNITS[unit])
        raise StorageError(
            400, "InvalidRequest", "Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B"
        )
    raise validation_error("body/file_size_limit must be integer,string")


def _check_mime_types(value: object) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise validation_error("body/allowed_mime_types must be array")
    kept = [item for item in value if item]
    for item in kept:
        # search, not match: the "*$" alternative is not anchored at the start, so any
        # wildcard such as "video/*" passes, as on the real server.
        if len(item) > 1000 or not _VALID_MIME.search(item):
            raise invalid_mime_type(item)
    return kept


def _mime_allowed(mime_type: str, allowed: list[str]) -> bool:
    requested = mime_type.split("/")
    if len(requested) < 2:
        return False
    kind, subtype = requested[0], requested[1]
    for entry in allowed:
        allowed_kind, _, allowed_subtype = entry.partition("/")
        if allowed_kind == kind and allowed_subtype in ("*", subtype):
            return True
    return False


class StorageApi:
    """Request handlers of the storage REST API; the gateway checks run first."""

    def __init__(self, service_key: str, state: StorageState) -> None:
        self.service_key = service_key
        self.state = state

    # --- gateway and authentication -------------------------------------------------------

    def check_api_key(self, request: Request) -> JSONResponse | None:
        """The API gateway: every request to a keyed route needs a known `apikey`."""
        supplied = request.headers.get("apikey") or request.query_params.get("apikey")
        if not supplied:
            return JSONResponse(
                {
                    "message": "No API key found in request",
                    "hint": "No `apikey` request header or url param was found.",
                },
                status_code=401,
            )
        if not hmac.compare_digest(supplied.encode(), self.service_key.encode()):
            return JSONResponse(
                {
                    "message": "Invalid API key",
                    "hint": "Double check your Supabase `anon` or `service_role` API key.",
                },
                status_code=401,
            )
        return None

    def role(self, request: Request) -> str | None:
        """The role of the request's bearer token, or None when it is missing or invalid."""
        header = request.headers.get("authorization", "")
        token = re.sub(r"^Bearer\s+", "", header, flags=re.IGNORECASE)
        if token and hmac.compare_digest(token.encode(), self.service_key.encode()):
            return SERVICE_ROLE
        return None

    def authenticate(self, request: Request) -> str:
        role = self.role(request)
        if role is not None:
            return role
        header = request.headers.get("authorization", "")
        token = re.sub(r"^Bearer\s+", "", header, flags=re.IGNORECASE)
        if token.count(".") != 2:
            raise access_denied("Invalid Compact JWS")
        raise access_denied("signature verification failed")

    # --- helpers ----------------------------------------------------------------------------

    async def json_body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise validation_error(
                "Body is not valid JSON but content-type is set to 'application/json'"
            ) from None
        if not isinstance(body, dict):
            raise validation_error("body must be object")
        return body

    def bucket(self, bucket_id: str) -> StoredBucket:
        found = self.state.buckets.get(bucket_id)
        if found is None:
            raise no_such_bucket()
        return found

    def find_object(self, bucket_id: str, name: str) -> StoredObject:
        found = self.state.objects.get(bucket_id, {}).get(name)
        if found is None:
            raise no_such_key()
        return found

    @staticmethod
    def object_response(
        obj: StoredObject, *, expires: float | None = None, download: str | None = None
    ) -> Response:
        headers = {
            "cache-control": obj.cache_control,
            "etag": obj.etag,
            "last-modified": obj.updated_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        }
        if expires is not None:
            moment = datetime.fromtimestamp(expires, UTC)
            headers["expires"] = moment.strftime("%a, %d %b %Y %H:%M:%S GMT")
        if download is not None:
            headers["content-disposition"] = _attachment(download)
        return Response(obj.data, media_type=obj.content_type, headers=headers)

    # --- buckets ----------------------------------------------------------------------------

    async def list_buckets(self, request: Request) -> Response:
        self.authenticate(request)
        buckets = sorted(self.state.buckets.values(), key=lambda bucket: bucket.name)
        return JSONResponse([bucket.to_json(with_type=True) for bucket in buckets])

    async def get_bucket(self, request: Request) -> Response:
        self.authenticate(request)
        return JSONResponse(self.bucket(request.path_params["bucket"]).to_json())

    async def create_bucket(self, request: Request) -> Response:
        self.authenticate(request)
        body = await self.json_body(request)
        name = body.get("name")
        if not isinstance(name, str):
            raise validation_error("body must have required property 'name'")
        bucket_id = body.get("id") or name
        if not isinstance(bucket_id, str):
            raise validation_error("body/id must be string")
        if (
            name.strip() != name
            or not name
            or len(name) > 100
            or not _VALID_BUCKET_NAME.match(name)
        ):
            raise StorageError(
                400, "InvalidBucketName", "Bucket name invalid", error="Invalid Input"
            )
        is_public = body.get("public")
        if is_public is not None and not isinstance(is_public, bool):
            raise validation_error("body/public must be boolean")
        limit = body.get("file_size_limit")
        size_limit = None if limit is None else _parse_size(limit)
        if size_limit is not None and size_limit > GLOBAL_FILE_SIZE_LIMIT:
            raise entity_too_large()
        mime_types = _check_mime_types(body.get("allowed_mime_types"))
        if bucket_id in self.state.buckets:
            raise already_exists("BucketAlreadyExists")
        moment = self.state.moment()
        self.state.buckets[bucket_id] = StoredBucket(
            id=bucket_id,
            name=name,
            public=bool(is_public),
            file_size_limit=size_limit,
            allowed_mime_types=mime_types,
            created_at=moment,
            updated_at=moment,
        )
        self.state.objects[bucket_id] = {}
        return JSONResponse({"name": name})

    async def update_bucket(self, request: Request) -> Response:
        self.authenticate(request)
        body = await self.json_body(request)
        bucket_id = request.path_params["bucket"]
        changes = {
            key: body[key]
            for key in ("public", "file_size_limit", "allowed_mime_types")
            if key in body
        }
        if not changes:
            raise StorageError(400, "InvalidRequest", "No content provided")
        if "public" in changes and not isinstance(changes["public"], bool):
            raise validation_error("body/public must be boolean")
        size_limit: int | None = None
        if changes.get("file_size_limit") is not None:
            size_limit = _parse_size(changes["file_size_limit"])
            if size_limit > GLOBAL_FILE_SIZE_LIMIT:
                raise entity_too_large()
        mime_types = _check_mime_types(changes.get("allowed_mime_types"))
        bucket = self.bucket(bucket_id)
        if "public" in changes:
            bucket.public = changes["public"]
        if "file_size_limit" in changes:
            bucket.file_size_limit = size_limit
        if "allowed_mime_types" in changes:
            bucket.allowed_mime_types = mime_types
        bucket.updated_at = self.state.moment()
        return JSONResponse({"message": "Successfully updated"})

    async def delete_bucket(self, request: Request) -> Response:
        self.authenticate(request)
        bucket_id = request.path_params["bucket"]
        self.bucket(bucket_id)
        if self.state.objects.get(bucket_id):
            raise StorageError(
                409, "ResourceNotEmpty", "The bucket you tried to delete is not empty"
            )
        del self.state.buckets[bucket_id]
        self.state.objects.pop(bucket_id, None)
        return JSONResponse({"message": "Successfully deleted"})

    async def empty_bucket(self, request: Request) -> Response:
        if self.authenticate(request) != SERVICE_ROLE:
            raise access_denied("Access denied: Invalid role", http_status=403)
        bucket_id = request.path_params["bucket"]
        self.bucket(bucket_id)
        self.state.objects[bucket_id] = {}
        return JSONResponse(
            {"message": "Empty bucket has been queued. Completion may take up to an hour."}
        )

    # --- objects ----------------------------------------------------------------------------

    async def upload(self, request: Request) -> Response:
        self.authenticate(request)
        bucket_id = request.path_params["bucket"]
        name = request.path_params["path"]
        # POST creates unless x-upsert is exactly "true"; PUT always replaces.
        upsert = request.method == "PUT" or request.headers.get("x-upsert") == "true"
        bucket = self.bucket(bucket_id)
        limit = min(bucket.file_size_limit or GLOBAL_FILE_SIZE_LIMIT, GLOBAL_FILE_SIZE_LIMIT)
        data, content_type, cache_control = await self._read_upload(request)
        if bucket.allowed_mime_types:
            if not _mime_allowed(content_type, bucket.allowed_mime_types):
                raise invalid_mime_type(content_type)
        if not name or not _VALID_KEY.match(name):
            raise StorageError(400, "InvalidKey", f"Invalid key: {name}")
        objects = self.state.objects.setdefault(bucket_id, {})
        current = objects.get(name)
        if current is not None and not upsert:
            raise already_exists("KeyAlreadyExists")
        if len(data) > limit:
            raise entity_too_large()
        moment = self.state.moment()
        stored = StoredObject(
            id=current.id if current else str(uuid.uuid4()),
            bucket_id=bucket_id,
            name=name,
            data=data,
            content_type=content_type,
            cache_control=cache_control,
            version=str(uuid.uuid4()),
            created_at=current.created_at if current else moment,
            updated_at=moment,
        )
        objects[name] = stored
        return JSONResponse({"Id": stored.id, "Key": f"{bucket_id}/{name}"})

    async def _read_upload(self, request: Request) -> tuple[bytes, str, str]:
        header = request.headers.get("content-type", "")
        if header.startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=10)
            part = form.get("file")
            if not isinstance(part, UploadFile):
                raise StorageError(400, "InvalidRequest", "No content provided")
            data = await part.read()
            cache_seconds = form.get("cacheControl")
            override = form.get("contentType")
            content_type = (
                override if isinstance(override, str) and override else part.content_type
            ) or "application/octet-stream"
            cache = f"max-age={cache_seconds}" if isinstance(cache_seconds, str) else "no-cache"
            return data, content_type, cache
        data = await request.body()
        content_type = header or "application/octet-stream"
        return data, content_type, request.headers.get("cache-control", "no-cache")

    async def download(self, request: Request) -> Response:
        bucket_id = request.path_params["bucket"]
        authenticated = request.url.path.startswith("/storage/v1/object/authenticated/")
        role = self.authenticate(request) if authenticated else self.role(request)
        bucket = self.state.buckets.get(bucket_id)
        # Without a valid token only public buckets can be read through this route.
        if bucket is None or (role is None and not bucket.public):
            raise no_such_bucket()
        return self.object_response(
            self.find_object(bucket_id, request.path_params["path"]),
            download=request.query_params.get("download"),
        )

    async def download_public(self, request: Request) -> Response:
        bucket_id = request.path_params["bucket"]
        bucket = self.state.buckets.get(bucket_id)
        if bucket is None or not bucket.public:
            raise no_such_bucket()
        return self.object_response(
            self.find_object(bucket_id, request.path_params["path"]),
            download=request.query_params.get("download"),
        )

    async def sign(self, request: Request) -> Response:
        self.authenticate(request)
        body = await self.json_body(request)
        expires_in = body.get("expiresIn")
        # Like the real schema, a numeric string is coerced to an integer.
        if isinstance(expires_in, str) and expires_in.isdigit():
            expires_in = int(expires_in)
        if expires_in is None:
            raise validation_error("body must have required property 'expiresIn'")
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in < 1:
            raise validation_error("body/expiresIn must be >= 1")
        bucket_id = request.path_params["bucket"]
        name = request.path_params["path"]
        self.find_object(bucket_id, name)
        issued = int(self.state.now())
        claims = {
            "url": f"{bucket_id}/{name}",
            "scope": DOWNLOAD_SCOPE,
            "iat": issued,
            "exp": issued + expires_in,
        }
        token = jwt.encode(claims, self.state.url_signing_secret, algorithm="HS256")
        return JSONResponse({"signedURL": f"/object/sign/{bucket_id}/{name}?token={token}"})

    async def download_signed(self, request: Request) -> Response:
        token = request.query_params.get("token")
        if not token:
            raise validation_error("querystring must have required property 'token'")
        bucket_id = request.path_params["bucket"]
        name = request.path_params["path"]
        try:
            claims = jwt.decode(
                token,
                self.state.url_signing_secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False},
            )
        except jwt.InvalidSignatureError:
            raise invalid_jwt("signature verification failed") from None
        except jwt.DecodeError:
            raise invalid_jwt("Invalid Compact JWS") from None
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp <= self.state.now():
            raise invalid_jwt('"exp" claim timestamp check failed')
        if claims.get("scope", DOWNLOAD_SCOPE) != DOWNLOAD_SCOPE or "upsert" in claims:
            raise StorageError(400, "InvalidSignature", "Token is not scoped for download")
        if claims.get("url") != f"{bucket_id}/{name}":
            raise StorageError(400, "InvalidSignature", "Invalid signature")
        obj = self.find_object(bucket_id, name)
        return self.object_response(
            obj, expires=float(exp), download=request.query_params.get("download")
        )

    async def list_objects(self, request: Request) -> Response:
        self.authenticate(request)
        body = await self.json_body(request)
        prefix = body.get("prefix")
        if not isinstance(prefix, str):
            raise validation_error("body must have required property 'prefix'")
        limit = body.get("limit", DEFAULT_LIST_LIMIT)
        offset = body.get("offset", 0)
        if not isinstance(limit, int) or limit < 1:
            raise validation_error("body/limit must be >= 1")
        if not isinstance(offset, int) or offset < 0:
            raise validation_error("body/offset must be >= 0")
        sort_by = body.get("sortBy") or {}
        column = sort_by.get("column", "name")
        if column not in ("name", "updated_at", "created_at", "last_accessed_at"):
            raise validation_error("body/sortBy/column must be equal to one of the allowed values")
        descending = str(sort_by.get("order", "asc")).lower() == "desc"
        search = body.get("search") or ""
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        wanted = (prefix + search).lower()
        folders: set[str] = set()
        files: list[tuple[str, StoredObject]] = []
        for name, obj in self.state.objects.get(request.path_params["bucket"], {}).items():
            if not name.lower().startswith(wanted):
                continue
            rest = name[len(prefix) :]
            head, slash, _ = rest.partition("/")
            if slash:
                folders.add(head)
            else:
                files.append((rest, obj))
        folder_rows: list[dict[str, Any]] = [
            {
                "name": folder,
                "id": None,
                "updated_at": None,
                "created_at": None,
                "last_accessed_at": None,
                "metadata": None,
            }
            for folder in folders
        ]
        file_rows = [obj.listing(name) for name, obj in files]
        if column == "name":
            rows = sorted(
                folder_rows + file_rows, key=lambda row: row["name"].lower(), reverse=descending
            )
        else:
            # Folders have no timestamps: they come first, then files in the asked order.
            folder_rows.sort(key=lambda row: row["name"], reverse=descending)
            file_rows.sort(key=lambda row: row[column], reverse=descending)
            rows = folder_rows + file_rows
        page = rows[offset : offset + min(limit, MAX_LIST_LIMIT)]
        return JSONResponse(page)

    async def delete_objects(self, request: Request) -> Response:
        self.authenticate(request)
        body = await self.json_body(request)
        names = body.get("prefixes")
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise validation_error("body must have required property 'prefixes'")
        if not names:
            raise validation_error("body/prefixes must NOT have fewer than 1 items")
        if len(names) > MAX_DELETE_NAMES:
            raise StorageError(
                400,
                "InvalidRequest",
                f"Bulk object requests are limited to {MAX_DELETE_NAMES} objects per request.",
            )
        objects = self.state.objects.get(request.path_params["bucket"], {})
        # Names are matched exactly, whatever the field is called.
        deleted = [objects.pop(name) for name in dict.fromkeys(names) if name in objects]
        return JSONResponse([obj.row() for obj in deleted])

    async def delete_object(self, request: Request) -> Response:
        self.authenticate(request)
        bucket_id = request.path_params["bucket"]
        name = request.path_params["path"]
        self.find_object(bucket_id, name)
        del self.state.objects[bucket_id][name]
        return JSONResponse({"message": "Successfully deleted"})


Handler = Callable[[Request], Awaitable[Response]]


def create_storage_app(service_key: str, state: StorageState | None = None) -> Starlette:
    """Build the ASGI app serving Supabase Storage's REST API under ``/storage/v1``.

    Routes that need a key pass the gateway check (``apikey``) and then the storage service's
    own check (``Authorization: Bearer <service key>``). Public and signed downloads need
    neither, as on a real project.
    """
    api = StorageApi(service_key, state or StorageState())

    def keyed(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            refused = api.check_api_key(request)
            if refused is not None:
                return refused
            return await open_route(handler)(request)

        return endpoint

    def open_route(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            api.state.requests.append(
                (request.method, request.url.path.removeprefix("/storage/v1"))
            )
            try:
                return await handler(request)
            except StorageError as error:
                return error.response()

        return endpoint

    async def not_found(request: Request, exc: Exception) -> Response:
        path = request.url.path
        if not path.startswith("/storage/v1/"):
            return JSONResponse({"message": "no Route matched with those values"}, 404)
        route = path.removeprefix("/storage/v1")
        return JSONResponse(
            {
                "statusCode": "404",
                "error": "Not Found",
                "message": f"Route {request.method}:{route} not found",
                "code": "InvalidRequest",
            },
            status_code=404,
        )

    object_path = "/{bucket}/{path:path}"
    routes = [
        Route("/bucket", keyed(api.list_buckets), methods=["GET"]),
        Route("/bucket", keyed(api.create_bucket), methods=["POST"]),
        Route("/bucket/", keyed(api.list_buckets), methods=["GET"]),
        Route("/bucket/", keyed(api.create_bucket), methods=["POST"]),
        Route("/bucket/{bucket}/empty", keyed(api.empty_bucket), methods=["POST"]),
        Route("/bucket/{bucket}", keyed(api.get_bucket), methods=["GET"]),
        Route("/bucket/{bucket}", keyed(api.update_bucket), methods=["PUT"]),
        Route("/bucket/{bucket}", keyed(api.delete_bucket), methods=["DELETE"]),
        Route("/object/list/{bucket}", keyed(api.list_objects), methods=["POST"]),
        Route("/object/sign" + object_path, keyed(api.sign), methods=["POST"]),
        Route("/object/sign" + object_path, open_route(api.download_signed), methods=["GET"]),
        Route("/object/public" + object_path, open_route(api.download_public), methods=["GET"]),
        Route("/object/authenticated" + object_path, keyed(api.download), methods=["GET"]),
        Route("/object/{bucket}", keyed(api.delete_objects), methods=["DELETE"]),
        Route("/object" + object_path, keyed(api.upload), methods=["POST", "PUT"]),
        Route("/object" + object_path, keyed(api.download), methods=["GET"]),
        Route("/object" + object_path, keyed(api.delete_object), methods=["DELETE"]),
    ]
    app = Starlette(
        routes=[Mount("/storage/v1", routes=routes)],
        exception_handlers={HTTPException: not_found},
    )
    app.state.storage = api.state
    return app


@contextmanager
def supabase_storage_server(
    service_key: str, *, state: StorageState | None = None
) -> Iterator[str]:
    """Serve :func:`create_storage_app` on a free loopback port and yield its base URL.

    ``acreate_client(url, service_key)`` talks to it as to a Supabase project. Pass ``state``
    to look at (or seed) what the server holds.
    """
    with serve(create_storage_app(service_key, state), "Supabase Storage") as url:
        yield url


def service_role_key(jwt_secret: str, project_ref: str = "localtest") -> str:
    """A key shaped like a project's service_role key: an HS256 JWT with that role."""
    issued = int(time.time())
    claims = {
        "iss": "supabase",
        "ref": project_ref,
        "role": SERVICE_ROLE,
        "iat": issued,
        "exp": issued + 10 * 365 * 86400,
    }
    return jwt.encode(claims, jwt_secret, algorithm="HS256")


__all__ = [
    "StorageApi",
    "StorageError",
    "StorageState",
    "StoredBucket",
    "StoredObject",
    "create_storage_app",
    "service_role_key",
    "supabase_storage_server",
]
