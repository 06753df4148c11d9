"""Builds the FastAPI application: ports, middleware, error handlers and routers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from app.adapters.mail import OutboxMailer
from app.admin.ops.router import router as admin_ops_router
from app.admin.router import router as admin_router
from app.assets.router import router as assets_router
from app.auth.router import router as auth_router
from app.auth.snapshots import keep_account_snapshots
from app.chat.router import router as chat_router
from app.composition import build_ports
from app.config import API_PREFIX, Settings, get_settings
from app.credits.router import router as credits_router
from app.dev.router import router as dev_router
from app.files.router import router as files_router
from app.health.router import router as health_router
from app.internal.router import router as internal_router
from app.internal.service import periodic_sweeps
from app.jobs.router import router as jobs_router
from app.kit.errors import install_error_handlers
from app.kit.limits import RequestLimits
from app.kit.middleware import RequestMiddleware
from app.kit.observability import configure_logging
from app.payments.router import router as payments_router
from app.payments.router import test_checkout_router, webhooks_router
from app.ports import Ports
from app.profile.router import router as profile_router
from app.projects.router import router as projects_router
from app.web.router import router as web_router


def create_app(settings: Settings | None = None, *, ports: Ports | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    app_ports = ports or build_ports(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with periodic_sweeps(app_ports):
            yield
        await app_ports.close()

    app = FastAPI(
        title=settings.app_name,
        version=settings.app_version,
        summary="Sign up, upload selfies, describe a thumbnail and let image models render it.",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=f"{API_PREFIX}/redoc",
        openapi_url=f"{API_PREFIX}/openapi.json",
        swagger_ui_oauth2_redirect_url=f"{API_PREFIX}/docs/oauth2-redirect",
        lifespan=lifespan,
        # Paths lose a trailing slash before routing (app.kit.middleware), so nothing is
        # left for Starlette to redirect.
        redirect_slashes=False,
    )
    app.state.ports = app_ports
    keep_account_snapshots(app_ports.database, lambda: app_ports.kv)
    install_error_handlers(app)

    # Routes are matched in order, each router's in turn: the ones a client calls most come
    # first.
    for router in (
        auth_router,
        projects_router,
        jobs_router,
        chat_router,
        assets_router,
        credits_router,
        files_router,
        profile_router,
        payments_router,
        webhooks_router,
        test_checkout_router,
        health_router,
        internal_router,
        admin_router,
        admin_ops_router,
    ):
        app.include_router(router)
    install_docs_redirects(app)
    # Development on embedded defaults: the browser app reads the confirmation mail here.
    if isinstance(app_ports.mailer, OutboxMailer) and not settings.is_production:
        app.include_router(dev_router)
    # Last, so none of its pages can stand in front of an API route.
    app.include_router(web_router)

    # The only middleware: request id, security headers, CORS and the request bounds in one
    # layer (see app.kit.middleware). Add behaviour there rather than another layer.
    app.add_middleware(
        RequestMiddleware,
        limits=RequestLimits(
            max_body_bytes=settings.max_request_body_bytes,
            max_upload_bytes=settings.max_upload_bytes,
            body_timeout_seconds=settings.request_body_timeout_seconds,
            request_timeout_seconds=settings.request_timeout_seconds,
            deadline_exempt_prefixes=(f"{API_PREFIX}/internal/",),
        ),
        allowed_origins=settings.allowed_origins,
        # The browser app reads the page of a plain-array list (chat messages) from headers.
        expose_headers=["X-Request-ID", "Retry-After", "X-Total-Count", "Link", "X-Next-Cursor"],
        hsts=settings.is_production,
        docs_prefixes=(f"{API_PREFIX}/docs", f"{API_PREFIX}/redoc"),
    )
    return app


def _redirect_to(target: str) -> Callable[[], Awaitable[RedirectResponse]]:
    async def redirect() -> RedirectResponse:
        # A relative Location: never built from the request's Host header.
        return RedirectResponse(target, status_code=307)

    return redirect


def install_docs_redirects(app: FastAPI) -> None:
    """`/docs` and `/redoc`, where FastAPI apps usually keep them, lead to the API's own."""
    for name in ("docs", "redoc"):
        app.add_api_route(
            f"/{name}",
            _redirect_to(f"{API_PREFIX}/{name}"),
            methods=["GET"],
            include_in_schema=False,
        )
