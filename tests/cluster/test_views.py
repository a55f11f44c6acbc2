from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from cluster.models import FrameworkRecord, Task, TaskStatusRecord
from portal.models import Environment
from tests.cluster.test_selectors import make_task
from tests.cluster.test_selectors import master_down as master_down  # the fixture

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("master_down")]

INDEX = reverse("cluster:index")
HTMX = {"HTTP_HX_REQUEST": "true"}
# Background tabs do not poll: a page left open all day must not cost the server anything.
POLL = "hx-trigger=\"every 2s [document.visibilityState=='visible']\""


def _detail(task: Task) -> str:
    return reverse("cluster:task_detail", args=[task.mesos_task_id])


def _body(response) -> str:
    return response.content.decode()


# Access


@pytest.mark.parametrize("name", ["cluster:index", "cluster:summary"])
def test_anonymous_readers_are_sent_to_sign_in(client_for, name) -> None:
    response = client_for(None).get(reverse(name))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_anonymous_readers_of_a_task_are_sent_to_sign_in(client_for, team) -> None:
    response = client_for(None).get(_detail(make_task(team=team)))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


@pytest.mark.parametrize("name", ["cluster:index", "cluster:summary"])
def test_pages_only_answer_get(client_for, viewer, name) -> None:
    assert client_for(viewer).post(reverse(name)).status_code == 405


def test_the_task_page_only_answers_get(client_for, viewer, team) -> None:
    assert client_for(viewer).post(_detail(make_task(team=team))).status_code == 405


def test_viewers_see_their_teams_tasks(client_for, viewer, team) -> None:
    task = make_task(team=team, name="payments-api")
    body = _body(client_for(viewer).get(INDEX))
    assert "payments-api" in body and task.mesos_task_id in body
    assert client_for(viewer).get(_detail(task)).status_code == 200


def test_outsiders_see_neither_the_task_in_the_list_nor_its_page(
    client_for, outsider, team
) -> None:
    task = make_task(team=team, name="payments-api")
    assert "payments-api" not in _body(client_for(outsider).get(INDEX))
    assert client_for(outsider).get(_detail(task)).status_code == 404


def test_ad_hoc_tasks_are_for_superusers_only(client_for, viewer, superuser) -> None:
    task = make_task(team=None, name="adhoc-echo")
    assert "adhoc-echo" in _body(client_for(superuser).get(INDEX))
    assert client_for(superuser).get(_detail(task)).status_code == 200
    assert "adhoc-echo" not in _body(client_for(viewer).get(INDEX))
    assert client_for(viewer).get(_detail(task)).status_code == 404


def test_any_signed_in_user_sees_the_cluster_state(client_for, user) -> None:
    FrameworkRecord.objects.create(
        cluster_key="k",
        master_urls=list(Environment.objects.get(slug="dev").master_url_list()),
        framework_id="fw-123",
        connected=True,
        last_heartbeat_at=timezone.now(),
    )
    body = _body(client_for(user).get(INDEX))
    assert "fw-123" in body and "Connected" in body


# Fragments


def test_an_htmx_poll_of_the_task_table_gets_only_the_table(client_for, viewer, team) -> None:
    make_task(team=team, name="payments-api")
    response = client_for(viewer).get(INDEX, HTTP_HX_TARGET="cluster-tasks", **HTMX)
    body = _body(response)
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="cluster-tasks"') and "payments-api" in body
    assert "<html" not in body and 'id="cluster-status"' not in body


def test_an_htmx_poll_of_the_status_gets_only_the_status(client_for, viewer, team) -> None:
    make_task(team=team, name="payments-api")
    response = client_for(viewer).get(INDEX, HTTP_HX_TARGET="cluster-status", **HTMX)
    body = _body(response)
    assert body.lstrip().startswith('<div id="cluster-status"')
    assert "<html" not in body and "payments-api" not in body


def test_the_polled_table_keeps_the_filters_it_was_rendered_with(client_for, superuser) -> None:
    make_task()
    body = _body(client_for(superuser).get(INDEX, {"state": "pending", "q": "task"}))
    assert 'hx-get="/cluster/?state=pending&amp;q=task"' in body


def test_an_htmx_poll_of_a_running_task_gets_the_live_part(client_for, viewer, team) -> None:
    task = make_task(team=team, state="TASK_RUNNING", hostname="agent-1.example")
    response = client_for(viewer).get(_detail(task), **HTMX)
    body = _body(response)
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="task-live"') and POLL in body
    assert "<html" not in body


def test_polling_a_finished_task_stops(client_for, viewer, team) -> None:
    task = make_task(team=team, state="TASK_FINISHED", exit_code=0)
    response = client_for(viewer).get(_detail(task), **HTMX)
    assert response.status_code == 286
    assert "Finished" in _body(response) and "every 2s" not in _body(response)


def test_the_summary_fragment_refreshes_itself(client_for, user) -> None:
    body = _body(client_for(user).get(reverse("cluster:summary")))
    assert 'id="cluster-summary"' in body and POLL in body
    assert "<html" not in body


# The task list


def test_pending_tasks_say_why_they_are_not_placed(client_for, superuser) -> None:
    make_task(why_not_placed={"mem": 12, "constraint hostname:UNIQUE": 3, "offers": 15})
    body = _body(client_for(superuser).get(INDEX))
    assert "Not placed: 12 offers too small in memory, 3 broke constraint hostname:UNIQUE" in body


def test_a_pending_task_without_counts_waits_for_an_offer(client_for, superuser) -> None:
    make_task()
    assert "Waiting for an offer" in _body(client_for(superuser).get(INDEX))


def test_rows_show_badge_environment_host_ports_and_failure(client_for, superuser) -> None:
    prod = Environment.objects.get(slug="prod")
    make_task(environment=prod, state="TASK_RUNNING", hostname="agent-7.example", ports=[31005])
    make_task(state="TASK_FAILED", message="Command exited with status 3")
    body = _body(client_for(superuser).get(INDEX))
    assert 'badge badge-ok" title="TASK_RUNNING">Running' in body
    assert "agent-7.example" in body and "31005" in body and "--env: #cf222e" in body
    assert 'badge badge-bad" title="TASK_FAILED">Failed' in body
    assert "Command exited with status 3" in body


def test_filters_narrow_the_list(client_for, superuser) -> None:
    prod = Environment.objects.get(slug="prod")
    make_task(name="in-prod", environment=prod, state="TASK_RUNNING")
    make_task(name="in-dev-failed", state="TASK_FAILED")
    client = client_for(superuser)
    body = _body(client.get(INDEX, {"environment": "prod"}))
    assert "in-prod" in body and "in-dev-failed" not in body
    body = _body(client.get(INDEX, {"state": "failed"}))
    assert "in-dev-failed" in body and "in-prod" not in body
    body = _body(client.get(INDEX, {"q": "PROD"}))
    assert "in-prod" in body and "in-dev-failed" not in body


def test_filtering_by_environment_shows_that_environments_band(client_for, superuser) -> None:
    body = _body(client_for(superuser).get(INDEX, {"environment": "prod"}))
    assert 'data-environment="prod"' in body


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"state": "sleeping"}, "Select a valid choice. sleeping is not one of"),
        ({"environment": "moon"}, "Select a valid choice. moon is not one of"),
        ({"q": "x" * 201}, "Ensure this value has at most 200 characters"),
    ],
)
def test_bad_filters_are_explained_beside_the_field(client_for, superuser, params, message):
    make_task(name="still-listed")
    response = client_for(superuser).get(INDEX, params)
    body = _body(response)
    assert response.status_code == 200
    assert message in body and "still-listed" in body


def test_a_bad_page_link_shows_the_newest_tasks_and_says_why(client_for, superuser) -> None:
    make_task(name="newest")
    response = client_for(superuser).get(INDEX, {"cursor": "garbage"})
    body = _body(response)
    assert response.status_code == 200
    assert "invalid or expired" in body and "newest" in body


def test_keyset_pages_walk_every_task_once_in_order(client_for, superuser) -> None:
    made = [make_task(name=f"t{i:03d}") for i in range(60)]
    client = client_for(superuser)
    first = client.get(INDEX)
    assert first.context["next_url"] and first.context["prev_url"] is None
    second = client.get(first.context["next_url"])
    seen = [row.task.pk for row in first.context["rows"]] + [
        row.task.pk for row in second.context["rows"]
    ]
    assert seen == [task.pk for task in reversed(made)]
    assert second.context["next_url"] is None
    back = client.get(second.context["prev_url"])
    assert [row.task.pk for row in back.context["rows"]] == seen[:50]


@pytest.mark.parametrize("who", ["superuser", "viewer"])
def test_the_page_needs_the_same_few_queries_for_5_or_50_tasks(
    request, client_for, team, who, django_assert_max_num_queries
) -> None:
    client = client_for(request.getfixturevalue(who))
    for i in range(5):
        make_task(team=team, name=f"few-{i}")
    with django_assert_max_num_queries(8) as few:
        client.get(INDEX)
    for i in range(45):
        make_task(team=team, name=f"many-{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(INDEX)
    assert len(response.context["rows"]) == 50


def test_the_task_query_uses_no_count(client_for, superuser, django_assert_max_num_queries):
    make_task()
    client = client_for(superuser)
    with django_assert_max_num_queries(8) as queries:
        client.get(INDEX)
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)


def test_a_new_install_explains_how_to_run_a_first_task(client_for, superuser) -> None:
    body = _body(client_for(superuser).get(INDEX))
    assert "No tasks yet" in body and "manage.py run_task --env dev -- echo hello" in body


def test_readers_in_no_team_are_told_why_they_see_no_tasks(client_for, user) -> None:
    assert "You are in no team" in _body(client_for(user).get(INDEX))


def test_a_filter_that_matches_nothing_says_so(client_for, superuser) -> None:
    make_task()
    assert "No tasks match" in _body(client_for(superuser).get(INDEX, {"q": "zzz"}))


# Cluster state


def test_an_unreachable_master_is_explained_not_a_500(client_for, user, master_down) -> None:
    response = client_for(user).get(INDEX)
    body = _body(response)
    assert response.status_code == 200
    assert f'Cannot reach the master at <span class="mono">{master_down}</span>' in body
    assert "Connection refused" in body and "./berth up" in body


def test_a_missing_framework_is_explained(client_for, user) -> None:
    body = _body(client_for(user).get(INDEX))
    assert "Not registered" in body and "manage.py run_framework" in body


def test_the_framework_record_and_its_metrics_are_shown(client_for, user) -> None:
    masters = Environment.objects.get(slug="dev").master_url_list()
    FrameworkRecord.objects.create(
        cluster_key=",".join(masters),
        framework_id="fw-abc",
        connected=True,
        leader_url="http://leader.example:5050",
        last_heartbeat_at=timezone.now() - timedelta(seconds=5),
        suppressed=True,
        metrics={"offers_received_per_min": 42, "pending": 0, "subscribed_at": 1_800_000_000},
    )
    body = _body(client_for(user).get(INDEX))
    assert "fw-abc" in body and "http://leader.example:5050" in body and "suppressed" in body
    assert "Offers received" in body and "42/min" in body and "Subscribed" in body


def test_a_framework_that_stopped_heartbeating_is_flagged(client_for, user) -> None:
    masters = Environment.objects.get(slug="dev").master_url_list()
    stale = timezone.now() - timedelta(minutes=10)
    FrameworkRecord.objects.create(cluster_key=",".join(masters), connected=True)
    FrameworkRecord.objects.update(last_heartbeat_at=stale, updated_at=stale)
    body = _body(client_for(user).get(INDEX))
    assert "No heartbeat" in body and "is the framework still running?" in body


@pytest.mark.devcluster("--agents", "2", "--agent-attributes", "rack:r{i}")
def test_the_agents_table_shows_the_devclusters_agents(client_for, user, devcluster, settings):
    settings.BERTH_MESOS_MASTER = [devcluster.url]
    cache.clear()
    body = _body(client_for(user).get(INDEX))
    for agent in devcluster.agents:
        assert f'title="{agent["id"]}">{agent["hostname"]}</span>' in body
    assert "rack:r0" in body and "rack:r1" in body
    assert "0 / 4 cpus" in body and "Cannot reach the master" not in body
    summary = _body(client_for(user).get(reverse("cluster:summary")))
    assert "2 agents" in summary and "0 / 4 cpus" in summary


# The task page


def test_the_task_page_tells_the_whole_story(client_for, viewer, team) -> None:
    task = make_task(
        team=team,
        state="TASK_FAILED",
        exit_code=3,
        reason="REASON_COMMAND_EXECUTOR_FAILED",
        message="Command exited with status 3",
        hostname="agent-1.example",
        agent_id="S1",
        agent_attributes={"rack": "r1"},
        ports=[31000],
    )
    for state in ("TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"):
        TaskStatusRecord.objects.create(task=task, state=state, source="SOURCE_EXECUTOR")
    body = _body(client_for(viewer).get(_detail(task)))
    assert 'with exit code <span class="mono">3</span>' in body
    assert "REASON_COMMAND_EXECUTOR_FAILED" in body and "agent-1.example" in body
    assert '<span class="mono">rack:r1</span>' in body
    trail = body[body.index("data-trail") :]
    assert trail.index("Starting") < trail.index("Running") < trail.index("Failed")
    assert 'data-environment="dev"' in body


def test_the_page_of_a_pending_task_says_why_it_waits(client_for, superuser) -> None:
    task = make_task(why_not_placed={"cpus": 2, "offers": 2})
    body = _body(client_for(superuser).get(_detail(task)))
    assert "Why it is not placed yet:" in body
    assert "2 offers too small in CPUs (of 2 offers considered)" in body


def test_the_page_of_a_task_no_agent_can_hold_says_so(client_for, superuser, devcluster, settings):
    settings.BERTH_MESOS_MASTER = [devcluster.url]
    cache.clear()
    task = make_task(spec={"cpus": 0.1, "mem": 9999}, why_not_placed={"mem": 4, "offers": 4})
    body = _body(client_for(superuser).get(_detail(task)))
    assert "No agent can ever run this task:" in body
    assert "9.8 GB of memory, and the largest agent has 2 GB" in body


def test_task_ids_with_dots_colons_and_slashes_have_pages(client_for, superuser) -> None:
    task = make_task(mesos_task_id="svc/web:v2.instance-1.attempt-0")
    response = client_for(superuser).get(_detail(task))
    assert response.status_code == 200 and task.mesos_task_id in _body(response)


def test_an_unknown_task_is_a_404(client_for, superuser) -> None:
    response = client_for(superuser).get(reverse("cluster:task_detail", args=["nope"]))
    assert response.status_code == 404
