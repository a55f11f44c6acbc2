"""The cluster page in a real browser, against a real devcluster."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from playwright.sync_api import Page, expect

from cluster.models import Task
from portal.models import Environment
from tests.cluster.test_selectors import closed_port_url, make_task

pytestmark = pytest.mark.browser


@pytest.fixture
def on_devcluster(devcluster, settings, environments: dict[str, Environment]):
    settings.BERTH_MESOS_MASTER = [devcluster.url]
    cache.clear()
    yield devcluster
    cache.clear()


@pytest.mark.devcluster("--agents", "2", "--agent-attributes", "rack:r{i}")
def test_the_cluster_page_shows_the_agents_and_the_tasks(admin_page: Page, on_devcluster) -> None:
    make_task(name="hello-echo", why_not_placed={"mem": 2})
    make_task(name="web-1", state="TASK_RUNNING", hostname="127.0.0.2", ports=[31001])
    admin_page.goto("/cluster/")
    agents = admin_page.locator("table[data-agents] tbody tr")
    expect(agents).to_have_count(2)
    for agent in on_devcluster.agents:
        expect(admin_page.locator("table[data-agents]")).to_contain_text(agent["hostname"])
    expect(admin_page.locator("table[data-agents]")).to_contain_text("rack:r1")
    tasks = admin_page.locator("table[data-tasks]")
    expect(tasks.locator("tbody tr")).to_have_count(2)
    expect(tasks).to_contain_text("Not placed: 2 offers too small in memory")
    expect(tasks.locator("tr", has_text="web-1").locator(".badge")).to_have_text("Running")
    expect(admin_page.get_by_text("Cannot reach the master")).to_have_count(0)


def test_the_task_table_follows_state_changes_without_a_reload(
    admin_page: Page, settings, environments: dict[str, Environment]
) -> None:
    settings.BERTH_MESOS_MASTER = [closed_port_url()]
    task = make_task(name="flips")
    admin_page.goto("/cluster/")
    row = admin_page.locator("tr", has_text="flips")
    expect(row.locator(".badge").first).to_have_text("Pending")
    admin_page.get_by_label("Search").fill("fli")
    Task.objects.filter(pk=task.pk).update(state="TASK_RUNNING", hostname="127.0.0.9")
    # The poll swaps the table in place; what the reader typed stays where it was.
    expect(row.locator(".badge").first).to_have_text("Running", timeout=6000)
    expect(row).to_contain_text("127.0.0.9")
    expect(admin_page.get_by_label("Search")).to_have_value("fli")
    expect(admin_page).to_have_url(re.compile(r"/cluster/\?.*q=fli"))


def test_choosing_a_state_filters_in_place(
    admin_page: Page, settings, environments: dict[str, Environment]
) -> None:
    settings.BERTH_MESOS_MASTER = [closed_port_url()]
    make_task(name="waiting")
    make_task(name="broken", state="TASK_FAILED", message="Command exited with status 1")
    admin_page.goto("/cluster/")
    admin_page.get_by_label("State").select_option("failed")
    tasks = admin_page.locator("table[data-tasks] tbody tr")
    expect(tasks).to_have_count(1)
    expect(tasks).to_contain_text("Command exited with status 1")
    expect(admin_page).to_have_url(re.compile(r"state=failed"))


def test_an_unreachable_master_is_explained(
    admin_page: Page, settings, environments: dict[str, Environment]
) -> None:
    url = closed_port_url()
    settings.BERTH_MESOS_MASTER = [url]
    cache.clear()
    admin_page.goto("/cluster/")
    expect(admin_page.get_by_role("alert").first).to_contain_text(
        f"Cannot reach the master at {url}"
    )
    expect(admin_page.get_by_text("No tasks yet")).to_be_visible()


def test_a_task_opens_on_its_own_page(
    admin_page: Page, settings, environments: dict[str, Environment]
) -> None:
    settings.BERTH_MESOS_MASTER = [closed_port_url()]
    make_task(
        name="crashy", state="TASK_FAILED", exit_code=7, message="Command exited with status 7"
    )
    admin_page.goto("/cluster/")
    admin_page.get_by_role("link", name="crashy").click()
    expect(admin_page.get_by_role("heading", name="crashy", level=1)).to_be_visible()
    expect(admin_page.locator("#task-live")).to_contain_text("with exit code 7")
