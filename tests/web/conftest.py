"""One Chromium (Debian's, driven by Playwright) and one live server for the browser tests.

The server is the real app on a loopback socket with embedded defaults, as `make run`
serves it; every test opens its own browser context, so nobody shares a session.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Dialog,
    FilePayload,
    Page,
    ViewportSize,
    async_playwright,
)

from app.config import Settings
from tests.conftest import IN_CI, ROOT, make_settings
from tests.support.live_app import LiveApp, live_site

SCREENSHOTS = ROOT / ".artifacts" / "screenshots"
# Few credits, so that a 402 takes one click and the walk has to buy more.
START_CREDITS = 3
DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=360, height=740)


def chromium_path() -> str | None:
    override = os.environ.get("CHROMIUM")
    if override:
        return override
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    if executable is None:
        message = "Chromium is not installed (scripts/install_test_services.sh installs it)"
        if IN_CI:
            pytest.fail(message + " (CI must run the browser tests)", pytrace=False)
        pytest.skip(message)
    async with async_playwright() as playwright:
        # As root (containers, CI) Chromium refuses to start with its sandbox.
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="module")
async def site(
    sqlite_database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveApp]:
    data_dir = tmp_path_factory.mktemp("site")

    def settings_for(url: str) -> Settings:
        return make_settings(
            database_url=sqlite_database,
            data_dir=data_dir,
            public_base_url=url,
            frontend_url="",
            allowed_origins=url,
            default_user_credits=START_CREDITS,
            log_level="ERROR",
        )

    async with live_site(settings_for) as live:
        yield live


@pytest.fixture
async def http(site: LiveApp) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.url) as client:
        yield client


class Console:
    """Errors the page logged or threw, so a broken script fails the test that saw it."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on(
            "console",
            lambda message: (
                self.errors.append(f"console: {message.text}")
                if message.type == "error" and "Failed to load resource" not in message.text
                else None
            ),
        )


@pytest.fixture
async def context(browser: Browser, site: LiveApp) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(base_url=site.url, viewport=DESKTOP, accept_downloads=True)
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture
async def console() -> Console:
    return Console()


@pytest.fixture
async def page(context: BrowserContext, console: Console) -> AsyncIterator[Page]:
    tab = await context.new_page()
    console.watch(tab)

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    # Confirmation prompts (delete this?) are answered yes.
    tab.on("dialog", accept)
    yield tab
    assert console.errors == []


def png_file(name: str, data: bytes) -> FilePayload:
    return FilePayload(name=name, mimeType="image/png", buffer=data)


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
