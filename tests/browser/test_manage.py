from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

SECRET = "s3cr3t-from-the-browser"


def test_a_secret_added_in_the_browser_is_masked_and_never_in_the_html(
    admin_page: Page, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    page = admin_page
    page.goto("/environments/prod/config/")
    expect(page.get_by_role("heading", name="Set a value")).to_be_visible()
    page.get_by_label("Name").fill("DB_PASSWORD")
    page.locator("textarea[name=value]").fill(SECRET)
    page.get_by_role("checkbox", name="Secret").check()
    page.get_by_role("button", name="Save value").click()

    row = page.locator("table.table tr", has_text="DB_PASSWORD")
    expect(row).to_contain_text("••••••••")
    expect(row).to_contain_text("by root")
    # The form came back empty: nothing typed lingers in the DOM either.
    expect(page.locator("textarea[name=value]")).to_have_value("")
    assert SECRET not in page.content()
    page.screenshot(path=str(screenshot_dir / "config-secret.png"), full_page=True)

    page.reload()
    expect(page.locator("table.table tr", has_text="DB_PASSWORD")).to_contain_text("••••••••")
    assert SECRET not in page.content()
    page.goto("/environments/prod/config/?key=DB_PASSWORD")
    expect(page.locator("textarea[name=value]")).to_have_value("")
    assert SECRET not in page.content()
