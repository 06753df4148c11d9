"""The one error base of the API and the handlers that render every error in the shared shape."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.constants import REF_PREFIX
from fastapi.openapi.utils import validation_error_definition, validation_error_response_definition
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.adapters.kv import KeyValueUnavailable
from app.adapters.storage import StorageUnavailable
from app.kit.outages import is_database_unavailable

logger = logging.getLogger("app.errors")


class ErrorBody(BaseModel):
    """The body of every error response (validation errors keep FastAPI's own 422 body)."""

    detail: str
    code: str


class AppError(Exception):
    """An expected failure with its HTTP status, a stable code and a message for people.

    An error that has more to say to a program than its message (which models would work,
    what a job costs) declares those fields in `fields` (a model) and passes them as `extra`;
    they sit beside `detail` and `code` in the body.
    """

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    message: ClassVar[str] = "The request could not be processed."
    fields: ClassVar[type[BaseModel] | None] = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: BaseModel | dict[str, Any] | None = None,
    ):
        self.detail = detail or self.message
        self.headers = headers
        self.extra = extra
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        if isinstance(self.extra, BaseModel):
            extra = self.extra.model_dump(mode="json")
        else:
            extra = self.extra or {}
        return {**extra, "detail": self.detail, "code": self.code}

    @classmethod
    def openapi(cls) -> dict[int | str, dict[str, Any]]:
        """An entry for a route's `responses=` so the schema documents this error."""
        return {
            cls.status: {
                "description": f"`{cls.code}`: {cls.message}",
                "content": error_content(cls.status, fields=cls.fields),
            }
        }


# Components for errors with fields of their own, added to the schema by `document_errors`.
_ERRORS_WITH_FIELDS: dict[str, type[BaseModel]] = {}


def _body_ref(fields: type[BaseModel] | None) -> dict[str, Any]:
    if fields is None:
        return {"$ref": f"{REF_PREFIX}ErrorBody"}
    name = f"{fields.__name__}Error"
    _ERRORS_WITH_FIELDS[name] = fields
    return {"$ref": f"{REF_PREFIX}{name}"}


def error_content(
    status: int | str,
    *,
    fields: type[BaseModel] | None = None,
    bodies: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The JSON body of an error, whatever the route's own media type (streams included).

    A 422 may also be FastAPI's list of validation errors: every route with parameters or a
    body sends that when the request does not match its models. `bodies` lists the error
    bodies of several errors that share the status.
    """
    options = bodies or [_body_ref(fields)]
    if int(status) == 422:
        options = [*options, {"$ref": f"{REF_PREFIX}HTTPValidationError"}]
    schema = options[0] if len(options) == 1 else {"anyOf": options}
    return {"application/json": {"schema": schema}}


def responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    merged: dict[int | str, dict[str, Any]] = {}
    bodies: dict[int | str, list[dict[str, Any]]] = {}
    for error in errors:
        for status, entry in error.openapi().items():
            body = _body_ref(error.fields)
            if status in merged:
                merged[status]["description"] += f" / {entry['description']}"
                if body not in bodies[status]:
                    bodies[status].append(body)
                    merged[status]["content"] = error_content(status, bodies=bodies[status])
            else:
                merged[status] = dict(entry)
                bodies[status] = [body]
    return merged


class BadRequest(AppError):
    status = 400
    code = "bad_request"


class Unauthorized(AppError):
    status = 401
    code = "not_authenticated"
    message = "Sign in to continue."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(detail, headers=headers or {"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    message = "You are not allowed to do that."


class NotFound(AppError):
    status = 404
    code = "not_found"
    message = "Not found."


class Conflict(AppError):
    status = 409
    code = "conflict"
    message = "The request conflicts with the current state."


class Unprocessable(AppError):
    status = 422
    code = "invalid_request"
    message = "The request is not valid."


class RateLimited(AppError):
    status = 429
    code = "rate_limited"
    message = "Too many attempts. Try again later."

    def __init__(self, retry_after_seconds: int):
        retry = max(1, retry_after_seconds)
        super().__init__(
            f"Too many attempts. Try again in {retry} seconds.",
            headers={"Retry-After": str(retry)},
        )


class ServiceUnavailable(AppError):
    status = 503
    code = "service_unavailable"
    message = "A backing service is unavailable. Try again shortly."


_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    408: "request_body_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


async def _app_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = getattr(exc, "code", None) or _STATUS_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").capitalize()
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return error_response(exc.status_code, code, detail, headers or None)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path (Starlette names only the first route's)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


# Seconds a client is asked to wait before retrying after an outage.
RETRY_AFTER_SECONDS = 5
_OUTAGES: dict[str, tuple[str, str]] = {
    "database": ("database_unavailable", "The database is busy or unavailable. Try again shortly."),
    "kv": ("service_unavailable", "A backing service is unavailable. Try again shortly."),
    "storage": ("storage_unavailable", "File storage is unavailable. Try again shortly."),
}


def _outage_response(request: Request, exc: Exception, which: str) -> JSONResponse:
    code, detail = _OUTAGES[which]
    logger.warning(
        "backing service unavailable",
        extra={"path": request.url.path, "service": which, "error": type(exc).__name__},
    )
    return error_response(503, code, detail, {"Retry-After": str(RETRY_AFTER_SECONDS)})


async def _kv_unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    return _outage_response(request, exc, "kv")


async def _storage_unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    return _outage_response(request, exc, "storage")


async def _database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    # Registered for the database's error classes so that an outage is answered here, in the
    # app, instead of as an unhandled error that also closes the client's connection.
    if is_database_unavailable(exc):
        return _outage_response(request, exc, "database")
    return await _unhandled_error_handler(request, exc)


async def _unhandled_error_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", extra={"path": request.url.path})
    return error_response(500, "internal_error", "Something went wrong on our side.")


# Fields whose input a validation error never repeats: the client knows what it sent, and
# error bodies end up in logs, proxies and bug reports.
_SECRET_FIELD = re.compile(r"password|secret|token|signature|api_?key", re.IGNORECASE)
MAX_ECHOED_CHARS = 100
MAX_ECHOED_ITEMS = 10
MAX_ECHOED_DEPTH = 3
_REDACTED = "[redacted]"


def _is_secret(name: object) -> bool:
    return isinstance(name, str) and bool(_SECRET_FIELD.search(name))


def _echo(value: Any, depth: int = 0) -> Any:
    """A short, secret-free copy of an input, safe to send back whatever was sent."""
    if isinstance(value, str):
        text = value.encode("utf-8", "replace").decode("utf-8")
        return text if len(text) <= MAX_ECHOED_CHARS else text[:MAX_ECHOED_CHARS] + "…"
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        # Integers of thousands of digits stay out of the body (and int-to-str limits).
        return value if abs(value) < 10**18 else _echo(f"{value:.3e}")
    if depth >= MAX_ECHOED_DEPTH:
        return "…"
    if isinstance(value, dict):
        echoed: dict[str, Any] = {}
        for key in list(value)[:MAX_ECHOED_ITEMS]:
            name = _echo(str(key))
            echoed[name] = _REDACTED if _is_secret(key) else _echo(value[key], depth + 1)
        return echoed
    if isinstance(value, list | tuple):
        return [_echo(item, depth + 1) for item in list(value)[:MAX_ECHOED_ITEMS]]
    return _echo(str(value), depth)


def _clean_error(error: dict[str, Any]) -> dict[str, Any]:
    location = [_echo(part) if isinstance(part, str) else part for part in error.get("loc", ())]
    cleaned: dict[str, Any] = {
        "type": str(error.get("type", "value_error")),
        "loc": location,
        "msg": _echo(str(error.get("msg", "Invalid value."))),
    }
    if "input" in error:
        if any(_is_secret(part) for part in location):
            cleaned["input"] = _REDACTED
        else:
            cleaned["input"] = _echo(error["input"])
    context = error.get("ctx")
    if isinstance(context, dict):
        cleaned["ctx"] = {str(key): _echo(str(value)) for key, value in context.items()}
    return cleaned


MAX_REPORTED_ERRORS = 20
MAX_VALIDATION_BODY_CHARS = 16 * 1024


def validation_error_response(errors: Sequence[dict[str, Any]]) -> JSONResponse:
    """FastAPI's 422 body (`{"detail": [...]}`), bounded in size and without secrets."""
    detail = [_clean_error(error) for error in list(errors)[:MAX_REPORTED_ERRORS]]
    if len(json.dumps(detail)) > MAX_VALIDATION_BODY_CHARS:
        # Many errors each echoing much of the body: the locations and messages say enough.
        for error in detail:
            error.pop("input", None)
    return JSONResponse({"detail": detail}, status_code=422)


async def _validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_error_response(exc.errors())


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(KeyValueUnavailable, _kv_unavailable_handler)
    app.add_exception_handler(StorageUnavailable, _storage_unavailable_handler)
    for database_error in (sa_exc.DBAPIError, sa_exc.TimeoutError, OSError):
        app.add_exception_handler(database_error, _database_error_handler)
    app.add_exception_handler(Exception, _unhandled_error_handler)
    document_errors(app)


def _errors_every_operation_can_send(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What the framework and the handlers above answer on any route, beyond its own errors."""
    errors: dict[str, dict[str, Any]] = {}
    if "requestBody" in operation:
        errors["400"] = {
            "description": "`bad_request`: the body could not be read.",
            "content": error_content(400),
        }
    return errors


def document_errors(app: FastAPI) -> None:
    """Complete the OpenAPI schema with the error bodies and the errors every route can send."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("ErrorBody", ErrorBody.model_json_schema())
        components.setdefault("ValidationError", validation_error_definition)
        components.setdefault("HTTPValidationError", validation_error_response_definition)
        for name, fields in _ERRORS_WITH_FIELDS.items():
            own = fields.model_json_schema()
            components.setdefault(
                name,
                {
                    "title": name,
                    "description": own.get("description", ""),
                    "allOf": [
                        {"$ref": f"{REF_PREFIX}ErrorBody"},
                        {"type": "object", "properties": own.get("properties", {})},
                    ],
                },
            )
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                declared = operation.setdefault("responses", {})
                for status, entry in _errors_every_operation_can_send(operation).items():
                    declared.setdefault(status, entry)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
