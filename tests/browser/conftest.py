"""Playwright driving Debian's Chromium against a live Django server.

Never downloads Playwright's own browsers: /usr/bin/chromium comes from the distribution
(`apt-get install chromium`). Without it the browser tests skip with that hint, unless
BERTH_REQUIRE_BROWSER=1 (as in CI), where a missing browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest
from django.contrib.auth.models import User

from portal.env import env_bool
from portal.models import Environment

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize
    from pytest_django.live_server_helper import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP: ViewportSize = {"width": 1366, "height": 860}
PHONE: ViewportSize = {"width": 390, "height": 844}
PASSWORD = "correct horse battery"
# Short enough that a broken page fails fast on a 2-core CI box, long enough for a cold start.
TIMEOUT_MS = 10_000


class LogIn(Protocol):
    def __call__(self, page: Page, username: str, password: str = ...) -> None: ...


# "localhost" makes Chromium try ::1 first and wait out its fallback delay on every new
# connection where IPv6 loopback is missing; the server listens on IPv4 anyway.
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")


# Package scope, not session: the sync API's event loop keeps running while Playwright is
# open, and later packages (the devcluster's) call asyncio.run(), which refuses to start
# inside a running loop.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = (
            f"Chromium is not installed at {CHROMIUM}; install it with "
            "`apt-get install chromium` to run the browser tests."
        )
        if env_bool("BERTH_REQUIRE_BROWSER", False):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        # The sync API keeps an event loop running in this thread, and Django refuses ORM
        # calls from such a thread unless told the mix is deliberate (it is: tests only).
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True
            )
            yield chromium
            chromium.close()


@pytest.fixture
def environments(transactional_db: None) -> dict[str, Environment]:
    # update_or_create: the data migration's rows exist in some tests and not in others
    # (live-server tests flush the database after each test).
    made = {}
    for slug, colour, position in (("dev", "#1f883d", 0), ("prod", "#cf222e", 2)):
        made[slug], _ = Environment.objects.update_or_create(
            slug=slug, defaults={"name": slug, "colour": colour, "position": position}
        )
    return made


@pytest.fixture
def new_page(browser: Browser, live_server: LiveServer) -> Iterator[Callable[..., Page]]:
    contexts = []

    def _new_page(**options: object) -> Page:
        context = browser.new_context(base_url=live_server.url, viewport=LAPTOP, **options)  # type: ignore[arg-type]
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield _new_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    return new_page()


@pytest.fixture
def log_in() -> LogIn:
    def _log_in(page: Page, username: str, password: str = PASSWORD) -> None:
        page.goto("/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        if "/login/" in page.url:
            raise AssertionError(f"could not log in as {username}: still on {page.url}")

    return _log_in


@pytest.fixture
def superuser(django_user_model: type[User], transactional_db: None) -> User:
    return django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def admin_page(
    page: Page, superuser: User, environments: dict[str, Environment], log_in: LogIn
) -> Page:
    log_in(page, superuser.get_username())
    return page


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    path = Path(os.environ.get("BERTH_SCREENSHOT_DIR", "/tmp/berth-screenshots"))
    path.mkdir(parents=True, exist_ok=True)
    return path
