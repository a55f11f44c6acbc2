"""The Django-backed store the engine calls: launches, updates, kills, reconciliation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from cluster.actions import task_submit
from cluster.framework import LaunchRecord
from cluster.models import Desired, FrameworkRecord, Task
from cluster.owners import _handlers, owner_register
from cluster.store import DjangoStore, cluster_configs
from cluster.types import CommandSpec, TaskSpec, TaskStatus
from portal import crypto
from portal.models import ConfigValue, Environment
from tests.factories import EnvironmentFactory, TeamFactory

pytestmark = pytest.mark.django_db
MASTER = "http://127.0.0.1:5999"


@pytest.fixture
def store() -> DjangoStore:
    return DjangoStore()


@pytest.fixture
def env() -> Environment:
    return EnvironmentFactory(slug="qa", mesos_role="qa", master_urls=MASTER)


@pytest.fixture
def notified() -> Iterator[list[tuple[str, str, str]]]:
    calls: list[tuple[str, str, str]] = []
    owner_register(
        "test", lambda task, previous: calls.append((task.mesos_task_id, previous, task.state))
    )
    yield calls
    _handlers.pop("test", None)


def submit(env: Environment, instance: str = "a", **spec: Any) -> Task:
    fields: dict[str, Any] = {"cpus": 0.1, "mem": 32, **spec}
    task_spec = TaskSpec(
        task_id="", name=instance, command=CommandSpec.shell_line("true"), **fields
    )
    return task_submit(
        owner_kind="test", owner_id=1, instance=instance, environment=env, spec=task_spec
    )


def launch(store: DjangoStore, *tasks: Task, agent: str = "S1") -> set[int]:
    records = [
        LaunchRecord(
            t.pk, t.mesos_task_id, agent, f"host-{agent}", "http://a:5051", (31000,), {"rack": "r1"}
        )
        for t in tasks
    ]
    return store.tasks_mark_launching(records, "F-1")


def update(task: Task, state: str, **fields: Any) -> TaskStatus:
    return TaskStatus(task_id=task.mesos_task_id, state=state, agent_id="S1", **fields)


def reload(task: Task) -> Task:
    task.refresh_from_db()
    return task


# -- launching -----------------------------------------------------------------------


def test_launches_are_recorded_for_pending_tasks_only(store: DjangoStore, env: Environment) -> None:
    first, killed = submit(env, "a"), submit(env, "b")
    Task.objects.filter(pk=killed.pk).update(desired=Desired.KILL)

    marked = launch(store, first, killed)

    assert marked == {first.pk}
    first = reload(first)
    assert (first.state, first.agent_id, first.hostname, first.ports) == (
        "LAUNCHING",
        "S1",
        "host-S1",
        [31000],
    )
    assert (first.framework_id, first.agent_url, first.agent_attributes) == (
        "F-1",
        "http://a:5051",
        {"rack": "r1"},
    )
    assert first.launched_at is not None
    assert reload(killed).state == "PENDING"
    assert launch(store, first) == set()  # already launching: never twice


def test_an_unsent_launch_goes_back_to_pending(store: DjangoStore, env: Environment) -> None:
    task = submit(env)
    launch(store, task)

    store.tasks_unlaunch([task.pk])

    task = reload(task)
    assert (task.state, task.agent_id, task.ports, task.launched_at) == ("PENDING", "", [], None)


def test_pending_work_comes_in_queue_order_with_its_spec_and_owner_labels(
    store: DjangoStore, env: Environment
) -> None:
    team = TeamFactory(slug="pay")
    older = submit(env, "older", ports=(0,))
    newer = task_submit(
        owner_kind="test",
        owner_id=2,
        instance="newer",
        environment=env,
        team=team,
        spec=TaskSpec(task_id="", name="n", command=CommandSpec.shell_line("true"), cpus=1, mem=1),
        constraints=["hostname:UNIQUE"],
    )

    pks = store.pending_pks(env_key(env), ["qa"], 10)
    work, problems = store.pending_load(pks)

    assert pks == [older.pk, newer.pk]
    assert problems == {}
    assert work[0].spec.ports == (0,)
    assert work[1].labels == {
        "berth.owner_kind": "test",
        "berth.owner_id": "2",
        "berth.environment": "qa",
        "berth.team": "pay",
    }
    assert [str(c) for c in work[1].constraints] == ["hostname:UNIQUE"]
    assert store.pending_pks(env_key(env), ["other"], 10) == []


def env_key(env: Environment) -> str:
    return str(Task.objects.filter(environment=env).values_list("cluster_key", flat=True).first())


def test_an_unreadable_spec_is_reported_and_the_task_fails_with_the_reason(
    store: DjangoStore, env: Environment, notified: list[tuple[str, str, str]]
) -> None:
    task = submit(env)
    Task.objects.filter(pk=task.pk).update(spec={"version": 1, "name": 3})

    work, problems = store.pending_load([task.pk])
    store.tasks_fail(problems)

    assert work == []
    task = reload(task)
    assert task.state == "TASK_ERROR"
    assert "spec.name: expected text" in task.message
    assert notified == [(task.mesos_task_id, "PENDING", "TASK_ERROR")]


def test_pending_summary_counts_per_role_and_finds_the_newest(
    store: DjangoStore, env: Environment
) -> None:
    first, second = submit(env, "a"), submit(env, "b")

    summary = store.pending_summary(env_key(env), 0)

    assert summary.by_role == {"qa": 2}
    assert summary.newest_pk == second.pk
    assert store.pending_summary(env_key(env), second.pk).newest_pk == second.pk
    launch(store, first)
    assert store.pending_summary(env_key(env), 0).total == 1


def test_why_not_counts_are_kept_on_pending_tasks_only(
    store: DjangoStore, env: Environment
) -> None:
    waiting, launched = submit(env, "a"), submit(env, "b")
    launch(store, launched)

    store.why_not_save({waiting.pk: {"offers": 4, "cpus": 4}, launched.pk: {"offers": 1}})

    assert reload(waiting).why_not_placed == {"offers": 4, "cpus": 4}
    assert reload(launched).why_not_placed == {}


def test_running_placements_count_a_groups_tasks_per_agent(
    store: DjangoStore, env: Environment
) -> None:
    a, b, c = submit(env, "a"), submit(env, "b"), submit(env, "c")
    launch(store, a, b, agent="S1")
    launch(store, c, agent="S2")

    (group,) = store.running_placements(env_key(env), ["test.1"]).values()

    assert sorted((r.hostname, r.count, dict(r.attributes)) for r in group) == [
        ("host-S1", 2, {"rack": "r1"}),
        ("host-S2", 1, {"rack": "r1"}),
    ]


def test_the_launch_environment_has_configuration_with_secrets_decrypted(
    store: DjangoStore, env: Environment
) -> None:
    ConfigValue.objects.create(environment=env, key="PLAIN", value="p")
    ConfigValue.objects.create(
        environment=env, key="SECRET", is_secret=True, value_encrypted=crypto.encrypt("s")
    )

    assert store.launch_environment(env.pk, None) == {"PLAIN": "p", "SECRET": "s"}


# -- updates -------------------------------------------------------------------------


def test_updates_are_applied_in_order_and_each_is_kept_in_the_trail(
    store: DjangoStore, env: Environment, notified: list[tuple[str, str, str]]
) -> None:
    task = submit(env)
    launch(store, task)

    outcomes = store.updates_store(
        [
            update(task, "TASK_STARTING", uuid="u1"),
            update(task, "TASK_RUNNING", uuid="u2", healthy=True),
            update(task, "TASK_FAILED", uuid="u3", message="Command exited with status 3"),
        ]
    )

    assert [o.changed for o in outcomes] == [True, True, True]
    task = reload(task)
    assert (task.state, task.exit_code, task.healthy) == ("TASK_FAILED", 3, True)
    assert task.started_at is not None and task.finished_at is not None
    assert list(task.statuses.values_list("state", "uuid")) == [
        ("TASK_STARTING", "u1"),
        ("TASK_RUNNING", "u2"),
        ("TASK_FAILED", "u3"),
    ]
    # One call per task and batch, with the state it had before the batch.
    assert notified == [(task.mesos_task_id, "LAUNCHING", "TASK_FAILED")]


def test_a_duplicate_delivery_changes_nothing_but_is_reported_for_acknowledgement(
    store: DjangoStore, env: Environment
) -> None:
    task = submit(env)
    launch(store, task)
    store.updates_store([update(task, "TASK_RUNNING", uuid="u1")])

    (outcome,) = store.updates_store([update(task, "TASK_RUNNING", uuid="u1")])

    assert (outcome.known, outcome.changed) == (True, False)
    assert task.statuses.count() == 1


def test_a_terminal_state_is_final(store: DjangoStore, env: Environment) -> None:
    task = submit(env)
    launch(store, task)
    store.updates_store(
        [update(task, "TASK_FINISHED", uuid="u1", message="Command exited with status 0")]
    )

    (outcome,) = store.updates_store(
        [
            update(
                task,
                "TASK_GONE",
                reason="REASON_RECONCILIATION",
                message="Reconciliation: Task is unknown",
            )
        ]
    )

    assert not outcome.changed
    task = reload(task)
    assert (task.state, task.exit_code, task.message) == (
        "TASK_FINISHED",
        0,
        "Command exited with status 0",
    )
    assert task.statuses.count() == 2


def test_a_launch_on_a_rescinded_offer_waits_for_another_offer_under_the_same_id(
    store: DjangoStore, env: Environment, notified: list[tuple[str, str, str]]
) -> None:
    task = submit(env)
    launch(store, task)

    store.updates_store(
        [
            update(
                task,
                "TASK_DROPPED",
                reason="REASON_INVALID_OFFERS",
                message="Offer O1 is no longer valid",
            )
        ]
    )

    task = reload(task)
    assert (task.state, task.agent_id, task.launched_at) == ("PENDING", "", None)
    assert "Offer O1 is no longer valid" in task.message
    assert launch(store, task) == {task.pk}


def test_a_duplicate_id_error_does_not_touch_the_running_task(
    store: DjangoStore, env: Environment
) -> None:
    task = submit(env)
    launch(store, task)
    store.updates_store([update(task, "TASK_RUNNING", uuid="u1")])

    store.updates_store(
        [
            update(
                task, "TASK_ERROR", message="Task has duplicate ID: x", reason="REASON_TASK_INVALID"
            )
        ]
    )

    assert reload(task).state == "TASK_RUNNING"


def test_an_update_for_a_task_berth_does_not_know_is_reported_unknown(store: DjangoStore) -> None:
    (outcome,) = store.updates_store(
        [TaskStatus(task_id="stranger", state="TASK_RUNNING", uuid="u")]
    )

    assert (outcome.known, outcome.changed) == (False, False)


def test_a_missing_health_flag_keeps_the_last_one_seen(
    store: DjangoStore, env: Environment
) -> None:
    task = submit(env)
    launch(store, task)
    store.updates_store([update(task, "TASK_RUNNING", uuid="u1", healthy=False)])

    store.updates_store([update(task, "TASK_RUNNING", reason="REASON_RECONCILIATION")])

    assert reload(task).healthy is False


# -- kills and reconciliation -------------------------------------------------------


def test_pending_tasks_to_kill_are_settled_at_once_and_launched_ones_are_due(
    store: DjangoStore, env: Environment, notified: list[tuple[str, str, str]]
) -> None:
    pending, launched, finished = submit(env, "a"), submit(env, "b"), submit(env, "c")
    launch(store, launched, finished)
    store.updates_store([update(finished, "TASK_FINISHED", uuid="u")])
    Task.objects.update(desired=Desired.KILL)

    assert store.kills_settle_pending(env_key(env)) == 1
    due = store.kills_due(env_key(env), 10)

    assert reload(pending).state == "TASK_KILLED"
    assert notified[-1] == (pending.mesos_task_id, "PENDING", "TASK_KILLED")
    assert [(k.task_id, k.agent_id, k.state) for k in due] == [
        (launched.mesos_task_id, "S1", "LAUNCHING")
    ]


def test_live_tasks_are_the_launched_non_terminal_ones(
    store: DjangoStore, env: Environment
) -> None:
    pending, running, done = submit(env, "a"), submit(env, "b"), submit(env, "c")
    launch(store, running, done)
    store.updates_store(
        [update(running, "TASK_RUNNING", uuid="1"), update(done, "TASK_FAILED", uuid="2")]
    )

    assert store.tasks_live(env_key(env)) == [(running.mesos_task_id, "S1")]
    del pending


def test_uncertain_tasks_are_silent_launches_and_unreachable_ones(
    store: DjangoStore, env: Environment
) -> None:
    silent, fresh, cut_off = submit(env, "a"), submit(env, "b"), submit(env, "c")
    launch(store, silent, fresh, cut_off)
    store.updates_store([update(cut_off, "TASK_UNREACHABLE")])
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Task.objects.filter(pk__in=[silent.pk, cut_off.pk]).update(
        launched_at=an_hour_ago, status_at=an_hour_ago
    )
    Task.objects.filter(pk=fresh.pk).update(launched_at=timezone.now())

    uncertain = store.tasks_uncertain(env_key(env), 60)

    assert sorted(uncertain) == sorted(
        [(silent.mesos_task_id, "S1"), (cut_off.mesos_task_id, "S1")]
    )


# -- the subscription --------------------------------------------------------------------


def test_environments_on_the_same_masters_share_one_cluster_with_all_their_roles() -> None:
    Environment.objects.all().delete()
    EnvironmentFactory(
        slug="a", mesos_role="web", master_urls="http://m1:5050,http://m2:5050", position=1
    )
    EnvironmentFactory(
        slug="b",
        mesos_role="batch",
        master_urls="m2:5050, m1:5050",
        mesos_principal="berth",
        position=2,
    )
    EnvironmentFactory(
        slug="c", mesos_role="other", master_urls="http://elsewhere:5050", position=3
    )

    configs = {c.key: c for c in cluster_configs()}

    shared = configs["http://m1:5050,http://m2:5050"]
    assert shared.roles == ("batch", "web")
    assert shared.masters == ("http://m1:5050", "http://m2:5050")
    assert shared.principal == "berth"
    assert configs["http://elsewhere:5050"].roles == ("other",)


def test_an_environment_with_unusable_masters_is_left_out(caplog: pytest.LogCaptureFixture) -> None:
    Environment.objects.all().delete()
    EnvironmentFactory(slug="ok", master_urls="http://m:5050")
    EnvironmentFactory(slug="bad", master_urls="ftp://nope")

    assert [c.key for c in cluster_configs()] == ["http://m:5050"]
    assert "Environment bad is left out" in caplog.text


def test_the_framework_id_is_kept_and_forgotten(store: DjangoStore) -> None:
    assert store.framework_id_get("k") is None
    store.framework_id_save("k", "F-1")
    assert store.framework_id_get("k") == "F-1"
    store.framework_id_save("k", None)
    assert store.framework_id_get("k") is None
    assert FrameworkRecord.objects.get(cluster_key="k").framework_id == ""


def test_bulk_updates_write_what_save_would(env: Environment) -> None:
    from cluster.store import rows

    first, second, done = submit(env, "a"), submit(env, "b"), submit(env, "c")
    Task.objects.filter(pk=done.pk).update(state="TASK_FINISHED")
    attributes = {"rack": 'r"1', "@zone": "z"}
    when = timezone.now() - timedelta(minutes=3)

    updated = rows.update_tasks(
        [
            {
                "id": first.pk,
                "ports": [31000, 31001],
                "agent_attributes": attributes,
                "healthy": True,
                "exit_code": None,
                "started_at": when,
            },
            {
                "id": second.pk,
                "ports": [],
                "agent_attributes": {},
                "healthy": None,
                "exit_code": 3,
                "started_at": None,
            },
            {
                "id": done.pk,
                "ports": [1],
                "agent_attributes": {},
                "healthy": False,
                "exit_code": 0,
                "started_at": None,
            },
        ],
        common={"message": 'it\'s "quoted"', "why_not_placed": {}},
        where_pending=True,
    )

    assert updated == 2  # the finished task is not pending: left alone
    one, two, three = (Task.objects.get(pk=t.pk) for t in (first, second, done))
    assert (one.ports, one.agent_attributes, one.healthy, one.started_at) == (
        [31000, 31001], attributes, True, when
    )  # fmt: skip
    assert (two.ports, two.agent_attributes, two.healthy, two.exit_code) == ([], {}, None, 3)
    assert one.message == two.message == 'it\'s "quoted"'
    assert (three.ports, three.message, three.exit_code) == ([], "", None)


def test_a_database_the_framework_cannot_write_to_is_refused_at_start_up() -> None:
    from cluster.checks import database_problems

    old = database_problems({"sqlite"}, (3, 31, 1))
    assert [p.id for p in old] == ["cluster.E001"] and "SQLite 3.31.1 is too old" in old[0].msg
    assert [p.id for p in database_problems({"mysql"}, (3, 45, 0))] == ["cluster.E002"]
    assert database_problems({"sqlite", "postgresql"}, (3, 33, 0)) == []
