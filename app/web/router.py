"""Serves the browser app: its pages at `/...` and its files under `/static/<version>/`.

The files are read once, on the first request that needs them, so API requests and cold
starts never pay for them. The version in each file's URL is a hash of every file, so the
browser may keep them forever; the pages themselves are revalidated on every visit.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import HTMLResponse

from app.adapters.payments import PaymentProviders, ProviderName
from app.config import Settings
from app.deps import SettingsDep
from app.kit.errors import NotFound

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/static"
VERSION_PLACEHOLDER = "__ASSET_VERSION__"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}

# Paths the app renders itself (history routing). Each is listed, so an unknown path, or any
# method but GET and HEAD, keeps the API's own 404 and 405 answers.
PAGES = (
    "/",
    "/signin",
    "/signup",
    "/confirm-email",
    "/forgot-password",
    "/reset-password",
    "/projects",
    "/projects/new",
    "/projects/{item}",
    "/jobs/{item}",
    "/assets",
    "/credits",
    "/profile",
    "/sessions",
    "/c/{item}",
)


class StaticFileNotFound(NotFound):
    code = "not_found"
    message = "No such file."


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


@dataclass(frozen=True, slots=True)
class Bundle:
    version: str
    files: dict[str, StaticFile]
    index: bytes


@lru_cache(maxsize=1)
def load_bundle(root: Path = STATIC_DIR) -> Bundle:
    """Every file of the app in memory (a few dozen kilobytes), keyed by its relative path."""
    raw = {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
    digest = hashlib.sha256()
    for name, body in raw.items():
        digest.update(name.encode() + b"\0" + body + b"\0")
    version = digest.hexdigest()[:16]
    files = {}
    for name, body in raw.items():
        suffix = Path(name).suffix
        content_type = _TYPES.get(suffix) or mimetypes.guess_type(name)[0]
        files[name] = StaticFile(
            body=body,
            content_type=content_type or "application/octet-stream",
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        )
    index = raw["index.html"].replace(VERSION_PLACEHOLDER.encode(), version.encode())
    return Bundle(version=version, files=files, index=index)


# Razorpay's Standard Checkout: its script, and the payment form it opens in frames.
RAZORPAY_SCRIPT_ORIGIN = "https://checkout.razorpay.com"
RAZORPAY_FRAME_ORIGINS = ("https://api.razorpay.com", "https://checkout.razorpay.com")


def content_security_policy(storage_origin: str, *, razorpay: bool = False) -> str:
    """Only this origin, except images, which may also come from the storage's own origin,
    and, where the page pays through Razorpay, Checkout.js and the frames it opens."""
    images = " ".join(filter(None, ("'self'", "data:", "blob:", storage_origin)))
    scripts = f"'self' {RAZORPAY_SCRIPT_ORIGIN}" if razorpay else "'self'"
    frames = f"frame-src {' '.join(RAZORPAY_FRAME_ORIGINS)}; " if razorpay else ""
    return (
        f"default-src 'self'; script-src {scripts}; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; font-src 'self'; {frames}object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def pays_through_razorpay(settings: Settings) -> bool:
    """The page buys with the deployment's default provider; only Razorpay's opens in it."""
    return PaymentProviders(settings).default() is ProviderName.RAZORPAY


def _storage_origin(supabase_url: str) -> str:
    if not supabase_url:
        return ""
    parts = urlsplit(supabase_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


router = APIRouter(include_in_schema=False)


async def app_page(settings: SettingsDep) -> HTMLResponse:
    """The app's shell; the script renders the page the path names."""
    bundle = load_bundle()
    return HTMLResponse(
        bundle.index,
        headers={
            "Cache-Control": REVALIDATE,
            "Content-Security-Policy": content_security_policy(
                _storage_origin(settings.supabase_url),
                razorpay=pays_through_razorpay(settings),
            ),
        },
    )


for page in PAGES:
    router.add_api_route(page, app_page, methods=["GET", "HEAD"], response_class=HTMLResponse)


@router.api_route(f"{STATIC_PREFIX}/{{version}}/{{name:path}}", methods=["GET", "HEAD"])
async def static_file(
    request: Request,
    version: str,
    name: str,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    bundle = load_bundle()
    found = bundle.files.get(name)
    if found is None or name == "index.html":
        raise StaticFileNotFound()
    # An old version's URL gets today's file, but only for a revalidated moment.
    cache = IMMUTABLE if version == bundle.version else REVALIDATE
    headers = {"Cache-Control": cache, "ETag": found.etag}
    if if_none_match and found.etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else found.body
    headers["Content-Length"] = str(len(found.body))
    return Response(body, media_type=found.content_type, headers=headers)
