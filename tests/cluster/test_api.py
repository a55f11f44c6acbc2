from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from cluster.models import FrameworkRecord, TaskStatusRecord
from portal.models import Environment
from tests.cluster.test_selectors import make_task
from tests.cluster.test_selectors import master_down as master_down  # the fixture

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("master_down")]

TASKS = reverse("cluster:api_tasks")
STATUS = reverse("cluster:api_status")


def _task_url(mesos_task_id: str) -> str:
    return reverse("cluster:api_task", args=[mesos_task_id])


def _names(response) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


# Access


@pytest.mark.parametrize("url", [TASKS, STATUS])
def test_anonymous_callers_are_refused(api_client_for, url) -> None:
    assert api_client_for(None).get(url).status_code == 403


def test_anonymous_callers_cannot_read_a_task(api_client_for, team) -> None:
    task = make_task(team=team)
    assert api_client_for(None).get(_task_url(task.mesos_task_id)).status_code == 403


@pytest.mark.parametrize("url", [TASKS, STATUS])
def test_the_endpoints_are_read_only(api_client_for, superuser, url) -> None:
    client = api_client_for(superuser)
    assert client.post(url, {}).status_code == 405
    assert client.delete(url).status_code == 405


def test_a_task_cannot_be_changed_through_the_api(api_client_for, superuser) -> None:
    task = make_task()
    client = api_client_for(superuser)
    url = _task_url(task.mesos_task_id)
    assert client.post(url, {"state": "TASK_KILLED"}).status_code == 405
    assert client.patch(url, {"state": "TASK_KILLED"}).status_code == 405


def test_viewers_list_their_teams_tasks_only(api_client_for, viewer, team, outsider) -> None:
    make_task(team=team, name="mine")
    make_task(team=outsider.memberships.get().team, name="theirs")
    make_task(team=None, name="adhoc")
    response = api_client_for(viewer).get(TASKS)
    assert response.status_code == 200 and _names(response) == ["mine"]


def test_superusers_list_ad_hoc_tasks_too(api_client_for, superuser, team) -> None:
    make_task(team=team, name="mine")
    make_task(team=None, name="adhoc")
    assert set(_names(api_client_for(superuser).get(TASKS))) == {"mine", "adhoc"}


def test_outsiders_get_a_404_for_another_teams_task(api_client_for, outsider, team) -> None:
    task = make_task(team=team)
    assert api_client_for(outsider).get(_task_url(task.mesos_task_id)).status_code == 404


def test_ad_hoc_tasks_are_a_404_for_members(api_client_for, viewer) -> None:
    task = make_task(team=None)
    assert api_client_for(viewer).get(_task_url(task.mesos_task_id)).status_code == 404


# Shapes


def test_a_listed_task_carries_its_state_badge_and_reasons(api_client_for, viewer, team) -> None:
    task = make_task(team=team, why_not_placed={"mem": 12, "constraint hostname:UNIQUE": 3})
    (row,) = api_client_for(viewer).get(TASKS).json()["results"]
    assert row["mesos_task_id"] == task.mesos_task_id
    assert (row["state"], row["state_label"], row["badge"]) == ("PENDING", "Pending", "info")
    assert row["environment"] == "dev" and row["team"] == "payments"
    assert row["why_not_placed_text"] == [
        "12 offers too small in memory",
        "3 broke constraint hostname:UNIQUE",
    ]
    assert row["url"] == _task_url(task.mesos_task_id)


def test_a_task_in_detail_has_its_status_trail_oldest_first(api_client_for, viewer, team) -> None:
    task = make_task(
        team=team,
        state="TASK_FAILED",
        exit_code=2,
        message="exited with status 2",
        agent_attributes={"rack": "r1"},
    )
    for state in ("TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"):
        TaskStatusRecord.objects.create(task=task, state=state, source="SOURCE_EXECUTOR")
    body = api_client_for(viewer).get(_task_url(task.mesos_task_id)).json()
    assert body["exit_code"] == 2 and body["badge"] == "bad" and body["terminal"] is True
    assert [s["state"] for s in body["statuses"]] == [
        "TASK_STARTING",
        "TASK_RUNNING",
        "TASK_FAILED",
    ]
    assert body["spec"] == task.spec and body["agent_attributes"] == {"rack": "r1"}


# Filters and pages


def test_filters_narrow_the_list(api_client_for, superuser) -> None:
    prod = Environment.objects.get(slug="prod")
    make_task(name="prod-running", environment=prod, state="TASK_RUNNING")
    make_task(name="dev-failed", state="TASK_FAILED")
    client = api_client_for(superuser)
    assert _names(client.get(TASKS, {"environment": "prod"})) == ["prod-running"]
    assert _names(client.get(TASKS, {"state": "failed"})) == ["dev-failed"]
    assert _names(client.get(TASKS, {"q": "RUNNING"})) == ["prod-running"]


@pytest.mark.parametrize(
    ("params", "field", "text"),
    [
        ({"environment": "moon"}, "environment", "There is no environment called 'moon'."),
        ({"state": "sleeping"}, "state", '"sleeping" is not a valid choice.'),
        ({"limit": "0"}, "limit", "greater than or equal to 1"),
        ({"limit": "many"}, "limit", "A valid integer is required."),
        ({"cursor": "garbage"}, "cursor", "invalid or expired"),
    ],
)
def test_bad_parameters_get_a_400_that_says_what_is_wrong(
    api_client_for, superuser, params, field, text
):
    response = api_client_for(superuser).get(TASKS, params)
    assert response.status_code == 400
    assert text in " ".join(response.json()[field])


def test_pages_follow_next_links_through_every_task(
    api_client_for, superuser, django_assert_max_num_queries
) -> None:
    made = [make_task(name=f"t{i:02d}") for i in range(25)]
    client = api_client_for(superuser)
    seen: list[str] = []
    url: str | None = f"{TASKS}?limit=10"
    while url:
        with django_assert_max_num_queries(3):
            body = client.get(url).json()
        seen += [row["name"] for row in body["results"]]
        url = body["next"]
    assert seen == [task.name for task in reversed(made)]


# Cluster status


def test_the_status_reports_an_unreachable_master_without_failing(
    api_client_for, user, master_down
) -> None:
    response = api_client_for(user).get(STATUS)
    assert response.status_code == 200
    (cluster,) = response.json()["clusters"]
    assert cluster["master_urls"] == [master_down]
    assert cluster["master_reachable"] is False and "Connection refused" in cluster["master_error"]
    assert cluster["framework"] is None and cluster["connection"]["state"] == "Not registered"
    assert sorted(cluster["environments"]) == ["dev", "prod", "staging"]


def test_the_status_includes_the_framework_record(api_client_for, user, master_down) -> None:
    FrameworkRecord.objects.create(
        cluster_key=master_down,
        framework_id="fw-1",
        connected=True,
        last_heartbeat_at=timezone.now(),
        metrics={"pending": 3},
    )
    (cluster,) = api_client_for(user).get(STATUS).json()["clusters"]
    assert cluster["framework"]["framework_id"] == "fw-1"
    assert cluster["framework"]["metrics"] == {"pending": 3}
    assert cluster["connection"] == {"state": "Connected", "badge": "ok"}


@pytest.mark.devcluster("--agents", "2")
def test_the_status_lists_the_devclusters_agents(api_client_for, user, devcluster, settings):
    settings.BERTH_MESOS_MASTER = [devcluster.url]
    cache.clear()
    (cluster,) = api_client_for(user).get(STATUS).json()["clusters"]
    assert cluster["master_reachable"] is True
    assert sorted(a["agent_id"] for a in cluster["agents"]) == sorted(devcluster.agent_ids)
    assert cluster["totals"]["cpus"] == {"used": 0.0, "total": 4.0}
    assert cluster["agents"][0]["mem"] == {"used": 0.0, "total": 2048.0}
