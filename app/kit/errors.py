"""The one error base of the API and the handlers that render every error in the shared shape."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("app.errors")


class ErrorBody(BaseModel):
    """The body of every error response (validation errors keep FastAPI's own 422 body)."""

    detail: str
    code: str


class AppError(Exception):
    """An expected failure with its HTTP status, a stable code and a message for people."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    message: ClassVar[str] = "The request could not be processed."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        self.detail = detail or self.message
        self.headers = headers
        super().__init__(self.detail)

    @classmethod
    def openapi(cls) -> dict[int | str, dict[str, Any]]:
        """An entry for a route's `responses=` so the schema documents this error."""
        return {
            cls.status: {
                "model": ErrorBody,
                "description": f"`{cls.code}`: {cls.message}",
            }
        }


def responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    merged: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        for status, entry in error.openapi().items():
            if status in merged:
                merged[status]["description"] += f" / {entry['description']}"
            else:
                merged[status] = dict(entry)
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
    return error_response(exc.status, exc.code, exc.detail, exc.headers)


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").capitalize()
    return error_response(exc.status_code, code, detail, getattr(exc, "headers", None))


async def _unhandled_error_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", extra={"path": request.url.path})
    return error_response(500, "internal_error", "Something went wrong on our side.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(Exception, _unhandled_error_handler)
