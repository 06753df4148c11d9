"""The browser app in real Chromium against a live server: the whole product, by hand.

Each test drives the pages as a person would (labels, buttons, links) and checks what the
API did through its own HTTP answers. Screenshots of the key screens land in
`.artifacts/screenshots/`.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
from playwright.async_api import BrowserContext, Page, expect

from tests.factories import API, DEFAULT_PASSWORD, TestUser, sign_up_through_api, signup_body
from tests.images import image_bytes
from tests.support.live_app import LiveApp
from tests.web.conftest import PHONE, START_CREDITS, png_file, screenshot

NEW_PASSWORD = "a new horse battery"


async def assert_every_control_is_labelled(page: Page) -> None:
    unlabelled = await page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
            .filter((el) => !el.hidden && el.offsetParent !== null)
            .filter((el) => el.tagName === 'BUTTON'
                ? !(el.textContent.trim() || el.getAttribute('aria-label'))
                : !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
            .map((el) => el.outerHTML.slice(0, 120))"""
    )
    assert unlabelled == []


# Every element with text of its own: its colour against the backgrounds behind it, blended
# as the browser paints them (a canvas turns any CSS colour into RGBA). WCAG AA: 4.5:1, or
# 3:1 for large text; disabled controls are exempt.
CONTRAST_SCRIPT = (Path(__file__).parent / "contrast.js").read_text()


async def assert_readable(page: Page) -> None:
    assert await page.evaluate(CONTRAST_SCRIPT) == []


async def assert_fits_width(page: Page) -> None:
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"page is {widths[0]} px wide in a {widths[1]} px window"


async def sign_in(page: Page, email: str, password: str = DEFAULT_PASSWORD) -> None:
    await page.goto("/signin")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1, name="Your projects")).to_be_visible()


async def upload(page: Page, kind: str, color: str) -> None:
    await page.get_by_label("Kind of image").select_option(kind)
    await page.get_by_label("Image file (PNG, JPEG or WebP)").set_input_files(
        files=[png_file(f"{kind}.png", image_bytes(color=color, size=(320, 320)))]
    )
    await page.get_by_role("button", name="Upload", exact=True).click()
    await expect(page.get_by_text(re.compile(rf"Uploaded a {kind} image"))).to_be_visible()


async def api_get(http: httpx.AsyncClient, path: str, token: str) -> httpx.Response:
    return await http.get(f"{API}{path}", headers={"Authorization": f"Bearer {token}"})


async def stored_token(page: Page) -> str:
    token: str = await page.evaluate(
        "() => JSON.parse(localStorage.getItem('mugshot.session')).access_token"
    )
    return token


class TestWholeProduct:
    async def test_sign_up_render_chat_buy_and_leave(
        self, page: Page, context: BrowserContext, site: LiveApp, http: httpx.AsyncClient
    ):
        person = signup_body()

        # Sign up; on embedded defaults the page links the mail the outbox holds.
        await page.goto("/")
        await expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
        await page.get_by_role("link", name="Create an account").click()
        await page.get_by_label("Email").fill(person["email"])
        await page.get_by_label("Username").fill(person["username"])
        await page.get_by_label("Full name").fill(person["full_name"])
        await page.get_by_label("Date of birth").fill(person["dob"])
        await page.get_by_label("Password", exact=True).fill(person["password"])
        await page.get_by_label("Confirm password").fill(person["password"])
        await assert_every_control_is_labelled(page)
        await screenshot(page, "01-sign-up")
        await page.get_by_role("button", name="Create account").click()
        await expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
        await assert_readable(page)
        await screenshot(page, "02-check-your-mail")
        await page.get_by_role("link", name="Open the confirmation link").click()
        await expect(page.get_by_text("Email confirmed").first).to_be_visible()
        await page.get_by_role("link", name="Sign in").last.click()

        # Sign in.
        await page.get_by_label("Email").fill(person["email"])
        await page.get_by_label("Password").fill(person["password"])
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", level=1, name="Your projects")).to_be_visible()
        await expect(page.get_by_role("link", name=f"Credits ({START_CREDITS})")).to_be_visible()
        token = await stored_token(page)

        # Upload a selfie and a reference, then delete a stray one.
        await page.get_by_role("link", name="Images").click()
        await upload(page, "selfie", "orange")
        await upload(page, "ref", "teal")
        await upload(page, "ref", "purple")
        await expect(page.locator("figure.asset")).to_have_count(3)
        await page.get_by_role("button", name=re.compile("^Delete ref image")).first.click()
        await expect(page.locator("figure.asset")).to_have_count(2)
        assets = (await api_get(http, "/assets", token)).json()["items"]
        assert sorted(asset["type"] for asset in assets) == ["ref", "selfie"]
        await screenshot(page, "03-images")

        # A project from a platform preset, featuring both images.
        await page.get_by_role("link", name="Projects").click()
        await page.get_by_role("link", name="New project").click()
        await page.get_by_label("Platform").select_option("instagram_post")
        await page.get_by_label("Headline").fill("Morning Routine")
        await page.get_by_label("Vibe").fill("bright and bold")
        await page.locator("input[name=selfie]").first.check()
        await page.locator("input[name=ref]").first.check()
        await assert_every_control_is_labelled(page)
        await page.get_by_role("button", name="Create project").click()
        await expect(page.get_by_role("heading", level=1, name="Morning Routine")).to_be_visible()
        await expect(page.get_by_text("Instagram post · 1080×1080")).to_be_visible()
        project_id = page.url.rsplit("/", 1)[1]
        project = (await api_get(http, f"/projects/{project_id}", token)).json()
        assert (project["width"], project["height"]) == (1080, 1080)
        assert len(project["selfie_asset_ids"]) == len(project["ref_asset_ids"]) == 1

        # The model list shows costs and which models this server can run.
        model = page.get_by_label("Model")
        await expect(model.locator("option[value=studio]")).to_have_text(
            re.compile(r"1 credit/image$")
        )
        assert await model.locator("option[disabled]").count() > 0
        await page.get_by_label("Variants").fill("2")
        await page.get_by_label("Quality").select_option("std")
        await expect(page.get_by_text("Cost: 2 credits")).to_be_visible()

        # Submit and watch it: progress and renders arrive over the event stream.
        await page.get_by_role("button", name="Render", exact=True).click()
        live = page.locator(".live-job")
        await expect(live).to_have_attribute("data-state", "succeeded", timeout=60_000)
        await expect(live.locator("figure.render")).to_have_count(2)
        await expect(live.get_by_text("Status: succeeded")).to_be_visible()
        await assert_readable(page)
        await screenshot(page, "04-project-rendered")

        # Download a render: the link is the render's own URL.
        async with page.expect_download() as download_info:
            await live.get_by_role("link", name="Download").first.click()
        download = await download_info.value
        assert (await download.path()).stat().st_size > 0
        jobs = (await api_get(http, f"/projects/{project_id}/jobs", token)).json()["items"]
        assert [job["status"] for job in jobs] == ["succeeded"]

        # Chat on the project: a note, then a message that renders again.
        await page.get_by_label("Message").fill("make the headline pop")
        await page.get_by_role("button", name="Send").click()
        await expect(page.locator(".message.user")).to_have_count(1)
        await expect(page.locator(".message.ai")).to_have_count(1)
        await page.get_by_label("Message").fill("make it more dramatic")
        await page.get_by_label("Render after applying the changes").check()
        await page.get_by_role("button", name="Send").click()
        await expect(page.locator(".message.ai")).to_have_count(2)
        # The chat's job takes over the live panel and joins the project's renders.
        await expect(live.filter(has_text="1 variant ·")).to_have_attribute(
            "data-state", "succeeded", timeout=60_000
        )
        await expect(page.locator(".job-row")).to_have_count(2)
        await screenshot(page, "05-chat")
        balance = (await api_get(http, "/credits/balance", token)).json()["credits"]
        assert balance == START_CREDITS - 3

        # The phone width: the same project page, without sideways scrolling.
        phone = await context.new_page()
        await phone.set_viewport_size(PHONE)
        await phone.goto(f"/projects/{project_id}")
        await expect(phone.get_by_role("heading", level=1, name="Morning Routine")).to_be_visible()
        await expect(phone.locator("figure.render").first).to_be_visible()
        await assert_fits_width(phone)
        await screenshot(phone, "06-phone-project")

        # Credits: balance, ledger, packages, and the local test checkout.
        await page.get_by_role("link", name=re.compile(r"^Credits")).click()
        await expect(page.get_by_test_id("balance")).to_have_text(f"{balance} credits")
        await expect(page.get_by_role("cell", name="Welcome credits")).to_be_visible()
        await expect(page.get_by_role("cell", name="Render")).to_have_count(2)
        await assert_readable(page)
        await screenshot(page, "07-credits")
        await page.get_by_role("button", name=re.compile("^Buy Starter")).click()
        await expect(page.get_by_role("heading", name="Test checkout")).to_be_visible()
        await page.get_by_role("button", name=re.compile("^Pay")).click()
        await expect(page.get_by_text("Paid. 50 credits were added")).to_be_visible()
        await page.get_by_role("link", name="Back to MugShot Studio").click()
        await expect(page.get_by_text("Payment received")).to_be_visible()
        await expect(page.get_by_test_id("balance")).to_have_text(f"{balance + 50} credits")
        await expect(page.get_by_role("cell", name="Purchase")).to_be_visible()
        await phone.emulate_media(color_scheme="dark")
        await phone.goto("/credits")
        await expect(phone.get_by_test_id("balance")).to_be_visible()
        await assert_fits_width(phone)
        await assert_readable(phone)
        await screenshot(phone, "08-phone-credits")
        await phone.close()

        # Sessions: a second sign-in elsewhere, revoked from here.
        other = await http.post(
            f"{API}/auth/signin",
            json={"email": person["email"], "password": person["password"]},
            headers={"User-Agent": "Other Device/1.0"},
        )
        other_token = other.json()["access_token"]
        await page.get_by_role("link", name="Sessions").click()
        await expect(page.locator(".session")).to_have_count(2)
        await expect(page.get_by_text("This browser")).to_be_visible()
        await screenshot(page, "09-sessions")
        await page.get_by_role("button", name=re.compile("^Revoke the session")).click()
        await expect(page.locator(".session")).to_have_count(1)
        assert (await api_get(http, "/auth/me", other_token)).status_code == 401

        # Profile: details, photo, password.
        await page.get_by_role("link", name="Profile").click()
        await page.get_by_label("Full name").fill("Renamed Person")
        await page.get_by_label("Bio").fill("I make videos.")
        await page.get_by_role("button", name="Save profile").click()
        await expect(page.get_by_text("Profile saved.")).to_be_visible()
        await page.get_by_label("New photo (PNG, JPEG or WebP)").set_input_files(
            files=[png_file("me.png", image_bytes(color="navy", size=(200, 200)))]
        )
        await page.get_by_role("button", name="Upload photo").click()
        await expect(page.get_by_alt_text("Your profile photo")).to_be_visible()
        await page.get_by_label("Current password").fill(person["password"])
        await page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        await page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
        await page.get_by_role("button", name="Change password").click()
        await expect(page.get_by_text(re.compile("Password changed"))).to_be_visible()
        await assert_every_control_is_labelled(page)
        await assert_readable(page)
        await screenshot(page, "10-profile")
        profile = (await api_get(http, "/profile", await stored_token(page))).json()
        assert (profile["full_name"], profile["bio"]) == ("Renamed Person", "I make videos.")
        assert profile["avatar_url"]

        # Delete the project, then the account; signing in again fails with the API's words.
        await page.goto(f"/projects/{project_id}")
        await page.get_by_role("button", name="Delete project").click()
        await expect(page.get_by_role("heading", level=1, name="Your projects")).to_be_visible()
        assert (await api_get(http, f"/projects/{project_id}", token)).status_code in (401, 404)
        await page.get_by_role("link", name="Profile").click()
        await (
            page.locator("form")
            .filter(has_text="Delete my account")
            .get_by_label("Password")
            .fill(NEW_PASSWORD)
        )
        await page.get_by_role("button", name="Delete my account").click()
        await expect(page.get_by_text("Your account was deleted.")).to_be_visible()
        await page.get_by_label("Email").fill(person["email"])
        await page.get_by_label("Password").fill(NEW_PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("alert")).to_have_text("Email or password is incorrect.")


class TestErrorsShown:
    async def test_a_failed_sign_in_shows_the_api_message(self, page: Page):
        # By keyboard alone: the skip link comes first, and focus is visible.
        await page.goto("/signin")
        await page.keyboard.press("Tab")
        focused = await page.evaluate(
            """() => [document.activeElement.textContent,
                      getComputedStyle(document.activeElement).outlineStyle]"""
        )
        assert focused == ["Skip to content", "solid"]
        await page.keyboard.press("Enter")
        await page.keyboard.press("Tab")
        await page.keyboard.type(f"nobody-{uuid.uuid4().hex[:6]}@example.com")
        await page.keyboard.press("Tab")
        await page.keyboard.type("not the password")
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("alert")).to_have_text("Email or password is incorrect.")
        await expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
        await screenshot(page, "11-sign-in-failed")
        await page.set_viewport_size(PHONE)
        await assert_fits_width(page)
        await screenshot(page, "12-phone-sign-in-failed")

    async def test_too_few_credits_shows_the_cost_and_the_balance(
        self, page: Page, site: LiveApp, http: httpx.AsyncClient
    ):
        person = await sign_up_through_api(http, site.app)
        created = await http.post(
            f"{API}/projects",
            json={"platform": "youtube", "headline": "Too Expensive"},
            headers={"Authorization": f"Bearer {person.access_token}"},
        )
        await sign_in(page, person.email)
        await page.goto(f"/projects/{created.json()['id']}")
        await page.get_by_label("Quality").select_option("4k")
        await page.get_by_label("Variants").fill("2")
        await page.get_by_role("button", name="Render", exact=True).click()
        alert = page.get_by_role("alert").filter(has_text=re.compile("credit"))
        await expect(alert).to_be_visible()
        submitted = await http.post(
            f"{API}/jobs",
            json={"project_id": created.json()["id"], "quality": "4k", "variants": 2},
            headers={"Authorization": f"Bearer {person.access_token}"},
        )
        assert submitted.status_code == 402
        # The page shows the API's own message, word for word: the cost and the balance.
        refusal = submitted.json()
        await expect(alert).to_have_text(refusal["detail"])
        assert str(refusal["cost_credits"]) in refusal["detail"]
        assert str(START_CREDITS) in refusal["detail"]
        await assert_readable(page)
        await screenshot(page, "13-not-enough-credits")


class TestOtherPeoplesThings:
    async def test_another_users_project_and_job_are_not_found(
        self, page: Page, site: LiveApp, http: httpx.AsyncClient
    ):
        owner = await sign_up_through_api(http, site.app)
        headers = {"Authorization": f"Bearer {owner.access_token}"}
        project = (
            await http.post(f"{API}/projects", json={"headline": "Mine"}, headers=headers)
        ).json()
        job = await http.post(f"{API}/jobs", json={"project_id": project["id"]}, headers=headers)
        assert job.status_code == 202
        intruder = await sign_up_through_api(http, site.app)

        await sign_in(page, intruder.email)
        await page.goto(f"/projects/{project['id']}")
        await expect(page.get_by_role("heading", level=1, name="Not found")).to_be_visible()
        await expect(page.get_by_role("alert")).to_have_text("Project not found.")
        await expect(page.get_by_text("Mine")).to_have_count(0)
        await screenshot(page, "14-not-found")
        await page.goto(f"/jobs/{job.json()['id']}")
        await expect(page.get_by_role("alert")).to_have_text("Job not found.")


class TestSession:
    async def test_an_expired_access_token_is_refreshed_without_a_word(
        self, page: Page, site: LiveApp, http: httpx.AsyncClient
    ):
        person: TestUser = await sign_up_through_api(http, site.app)
        await sign_in(page, person.email)
        before = await page.evaluate("() => JSON.parse(localStorage.getItem('mugshot.session'))")
        # A token the API no longer accepts: it answers 401 invalid_token.
        await page.evaluate(
            """() => {
                const s = JSON.parse(localStorage.getItem('mugshot.session'));
                s.access_token = s.access_token.slice(0, -4) + 'AAAA';
                localStorage.setItem('mugshot.session', JSON.stringify(s));
            }"""
        )
        await page.goto("/credits")
        await expect(page.get_by_test_id("balance")).to_have_text(f"{START_CREDITS} credits")
        after = await page.evaluate("() => JSON.parse(localStorage.getItem('mugshot.session'))")
        assert after["refresh_token"] != before["refresh_token"]
        assert (await api_get(http, "/auth/me", after["access_token"])).status_code == 200

        # Signing out ends the session on the server too.
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
        assert (await api_get(http, "/auth/me", after["access_token"])).status_code == 401
        refused = await http.post(
            f"{API}/auth/refresh", json={"refresh_token": after["refresh_token"]}
        )
        assert refused.status_code == 401

    async def test_a_forgotten_password_is_reset_from_the_mailed_link(
        self, page: Page, site: LiveApp, http: httpx.AsyncClient
    ):
        person = await sign_up_through_api(http, site.app)
        await page.goto("/signin")
        await page.get_by_role("link", name="Forgot your password?").click()
        await page.get_by_label("Email").fill(person.email)
        await page.get_by_role("button", name="Send a reset link").click()
        await page.get_by_role("link", name="Open the reset link").click()
        await page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        await page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
        await page.get_by_role("button", name="Set the new password").click()
        await expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
        await sign_in(page, person.email, NEW_PASSWORD)
