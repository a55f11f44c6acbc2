"""The portal frame in a real browser: sign-in, navigation, environment colour, layout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from playwright.sync_api import Page, expect

from portal.models import Environment, Membership, Team
from tests.browser.conftest import LAPTOP, PASSWORD, PHONE, LogIn

pytestmark = pytest.mark.browser

DEV_RGB = "rgb(31, 136, 61)"
PROD_RGB = "rgb(207, 34, 46)"
TOP_LEVEL_PAGES = ["dashboard", "environments", "audit", "cluster:index"]


def _band_colour(page: Page) -> str:
    return str(page.locator(".env-band").evaluate("el => getComputedStyle(el).backgroundColor"))


def test_signing_in_through_the_form_lands_on_the_dashboard(
    page: Page, django_user_model: type[User], environments: dict[str, Environment], log_in: LogIn
) -> None:
    django_user_model.objects.create_user("grace", password=PASSWORD)
    page.goto("/")
    expect(page).to_have_url("/login/?next=/")
    log_in(page, "grace")
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.get_by_text("You are in no team")).to_be_visible()


def test_a_wrong_password_is_explained_and_the_username_kept(
    page: Page, django_user_model: type[User], environments: dict[str, Environment]
) -> None:
    django_user_model.objects.create_user("grace", password=PASSWORD)
    page.goto("/login/")
    page.get_by_label("Username").fill("grace")
    page.get_by_label("Password").fill("not it")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".form-errors")).to_contain_text("correct username and password")
    expect(page.get_by_label("Username")).to_have_value("grace")


@pytest.mark.parametrize("url_name", TOP_LEVEL_PAGES)
def test_each_top_level_page_renders(admin_page: Page, url_name: str) -> None:
    url = reverse(url_name)  # a page renamed away fails here, never skips
    response = admin_page.goto(url)
    assert response is not None
    assert response.status == 200, f"{url} answered {response.status}"
    expect(admin_page.locator(".env-band")).to_be_visible()
    expect(admin_page.locator("h1").first).to_be_visible()


def test_the_band_shows_the_environment_colour_and_follows_a_switch(admin_page: Page) -> None:
    admin_page.goto("/")
    assert _band_colour(admin_page) == DEV_RGB
    expect(admin_page.locator(".env-band-name")).to_have_text("dev")
    admin_page.locator(".env-switch summary").click()
    with admin_page.expect_navigation():
        admin_page.locator(".env-switch button[value=prod]").click()
    assert _band_colour(admin_page) == PROD_RGB
    expect(admin_page.locator(".env-band-name")).to_have_text("prod")
    expect(admin_page).to_have_title("[prod] Dashboard · Berth")


def test_the_environment_can_be_switched_with_the_keyboard_alone(admin_page: Page) -> None:
    admin_page.goto("/")
    admin_page.locator(".env-switch summary").focus()
    admin_page.keyboard.press("Enter")
    admin_page.keyboard.press("Tab")
    expect(admin_page.locator(".env-switch button[value=dev]")).to_be_focused()
    admin_page.keyboard.press("Tab")
    with admin_page.expect_navigation():
        admin_page.keyboard.press("Enter")
    assert _band_colour(admin_page) == PROD_RGB


def test_escape_closes_an_open_menu(admin_page: Page) -> None:
    admin_page.goto("/")
    admin_page.locator(".user-menu summary").click()
    expect(admin_page.get_by_role("link", name="Admin", exact=True)).to_be_visible()
    admin_page.keyboard.press("Escape")
    expect(admin_page.get_by_role("link", name="Admin", exact=True)).to_be_hidden()


def test_logging_out_returns_to_the_sign_in_page(admin_page: Page) -> None:
    admin_page.goto("/")
    admin_page.locator(".user-menu summary").click()
    with admin_page.expect_navigation():
        admin_page.get_by_role("button", name="Log out").click()
    expect(admin_page).to_have_url("/login/")
    admin_page.goto("/")
    expect(admin_page).to_have_url("/login/?next=/")


def test_relative_times_keep_counting_while_the_page_stays_open(
    page: Page, django_user_model: type[User], environments: dict[str, Environment], log_in: LogIn
) -> None:
    grace = django_user_model.objects.create_user("grace", password=PASSWORD)
    Membership.objects.create(team=Team.objects.create(name="Ops", slug="ops"), user=grace)
    page.clock.install()
    log_in(page, "grace")
    when = page.locator("time[data-relative]").first
    expect(when).to_have_text(re.compile(r"^(just now|\d+s ago)$"))
    page.clock.fast_forward("03:00")
    expect(when).to_have_text(re.compile(r"^3m( \d+s)? ago$"))


def test_htmx_is_served_from_the_portal_itself(admin_page: Page) -> None:
    admin_page.goto("/")
    assert admin_page.evaluate("window.htmx && htmx.version").startswith("2.")


def test_light_and_dark_follow_the_system_setting(admin_page: Page) -> None:
    admin_page.goto("/")
    body = admin_page.locator("body")
    admin_page.emulate_media(color_scheme="light")
    light = body.evaluate("el => getComputedStyle(el).backgroundColor")
    admin_page.emulate_media(color_scheme="dark")
    dark = body.evaluate("el => getComputedStyle(el).backgroundColor")
    assert light != dark
    # The environment colour stays exactly itself in both themes.
    assert _band_colour(admin_page) == DEV_RGB


def test_the_dashboard_fits_laptop_and_phone_screens_in_both_themes(
    admin_page: Page, screenshot_dir: Path
) -> None:
    for width_name, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        admin_page.set_viewport_size(viewport)
        for scheme in ("light", "dark"):
            admin_page.emulate_media(color_scheme=scheme)
            admin_page.goto("/")
            overflow = admin_page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"the page is {overflow}px wider than a {width_name} screen"
            nav = admin_page.locator(".mainnav")
            for name in ("Dashboard", "Services", "Jobs", "Cluster", "Environments", "Audit"):
                expect(nav.get_by_role("link", name=name)).to_be_attached()
            shot = screenshot_dir / f"dashboard-{width_name}-{scheme}.png"
            admin_page.screenshot(path=shot, full_page=True)
        # The band sticks: a reader deep in a long page still sees which environment it is.
        admin_page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        expect(admin_page.locator(".env-band")).to_be_in_viewport()
