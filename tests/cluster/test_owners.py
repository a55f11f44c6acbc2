"""The owner hook: how services and jobs hear about their tasks, inside the transaction
that stores the update."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from cluster.actions import task_submit
from cluster.framework import LaunchRecord
from cluster.models import Task
from cluster.owners import OwnerHandler, _handlers, owner_register
from cluster.store import DjangoStore
from cluster.types import CommandSpec, TaskSpec, TaskStatus
from portal.models import Environment
from tests.factories import EnvironmentFactory

pytestmark = pytest.mark.django_db
Register = Callable[[str, OwnerHandler], None]


@pytest.fixture
def env() -> Environment:
    return EnvironmentFactory(slug="qa", mesos_role="qa", master_urls="http://m:5050")


@pytest.fixture
def register() -> Iterator[Register]:
    def add(kind: str, handler: OwnerHandler) -> None:
        owner_register(kind, handler)
        kinds.append(kind)

    kinds: list[str] = []
    yield add
    for kind in kinds:
        _handlers.pop(kind, None)


def launched(env: Environment, kind: str, instance: str) -> Task:
    spec = TaskSpec(
        task_id="", name=instance, command=CommandSpec.shell_line("true"), cpus=0.1, mem=32
    )
    task = task_submit(owner_kind=kind, owner_id=1, instance=instance, environment=env, spec=spec)
    record = LaunchRecord(task.pk, task.mesos_task_id, "S1", "h", "", (), {})
    DjangoStore().tasks_mark_launching([record], "F")
    return task


def finished(task: Task, uuid: str) -> TaskStatus:
    return TaskStatus(task_id=task.mesos_task_id, state="TASK_FINISHED", agent_id="S1", uuid=uuid)


def test_the_owner_sees_the_new_state_already_saved(env: Environment, register: Register) -> None:
    seen: list[tuple[str, str]] = []
    register(
        "job", lambda task, previous: seen.append((previous, Task.objects.get(pk=task.pk).state))
    )
    task = launched(env, "job", "a")

    DjangoStore().updates_store([finished(task, "u1")])

    assert seen == [("LAUNCHING", "TASK_FINISHED")]


def test_an_owner_can_record_its_follow_up_in_the_same_transaction(
    env: Environment, register: Register
) -> None:
    def restart(task: Task, previous: str) -> None:
        if task.is_terminal():
            spec = TaskSpec(
                task_id="", name="a", command=CommandSpec.shell_line("true"), cpus=0.1, mem=32
            )
            task_submit(
                owner_kind="job",
                owner_id=1,
                instance="a",
                attempt=1,
                environment=task.environment,
                spec=spec,
            )

    register("job", restart)
    task = launched(env, "job", "a")

    DjangoStore().updates_store([finished(task, "u1")])

    assert Task.objects.filter(mesos_task_id="berth.job.1.a.1", state="PENDING").exists()


def test_a_failing_owner_is_contained_and_the_update_is_still_stored(
    env: Environment, register: Register, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(task: Task, previous: str) -> None:
        Task.objects.filter(pk=task.pk).update(message="half-done work")
        raise RuntimeError("owner bug")

    heard: list[str] = []
    register("broken", broken)
    register("job", lambda task, previous: heard.append(task.mesos_task_id))
    bad, good = launched(env, "broken", "a"), launched(env, "job", "b")

    DjangoStore().updates_store([finished(bad, "u1"), finished(good, "u2")])

    bad.refresh_from_db()
    assert bad.state == "TASK_FINISHED"
    assert bad.message != "half-done work"  # the owner's partial writes were rolled back
    assert heard == [good.mesos_task_id]
    assert "owner broken failed to handle LAUNCHING -> TASK_FINISHED" in caplog.text


def test_a_kind_nobody_registered_is_stored_without_a_hook(env: Environment) -> None:
    task = launched(env, "nobody", "a")

    DjangoStore().updates_store([finished(task, "u1")])

    task.refresh_from_db()
    assert task.state == "TASK_FINISHED"
