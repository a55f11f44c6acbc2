"""task_submit and task_kill: the desired state services, jobs and commands write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cluster.actions import TaskRejected, task_id_for, task_kill, task_submit
from cluster.models import Desired, Task
from cluster.owners import _handlers, owner_register
from cluster.spec import spec_load
from cluster.types import CommandSpec, DockerContainer, PortMapping, TaskSpec
from portal.models import Environment
from tests.factories import EnvironmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def env() -> Environment:
    return EnvironmentFactory(slug="qa", mesos_role="qa", master_urls="m2:5050,http://m1:5050/")


@pytest.fixture
def notified() -> Iterator[list[tuple[str, str, str]]]:
    calls: list[tuple[str, str, str]] = []
    owner_register(
        "test", lambda task, previous: calls.append((task.mesos_task_id, previous, task.state))
    )
    yield calls
    _handlers.pop("test", None)


def spec(**fields: Any) -> TaskSpec:
    values: dict[str, Any] = {"cpus": 0.5, "mem": 64, **fields}
    return TaskSpec(task_id="", name="web", command=CommandSpec.shell_line("serve"), **values)


def submit(env: Environment, **kwargs: Any) -> Task:
    values: dict[str, Any] = {
        "owner_kind": "test",
        "owner_id": 4,
        "instance": "web-0",
        "spec": spec(),
        **kwargs,
    }
    return task_submit(environment=env, **values)


def test_a_submitted_task_waits_with_everything_the_framework_needs(env: Environment) -> None:
    task = submit(env, spec=spec(ports=(0, 0)), constraints=["hostname:UNIQUE"], attempt=2)

    assert task.mesos_task_id == "berth.test.4.web-0.2"
    assert (task.state, task.desired, task.role) == ("PENDING", Desired.RUN, "qa")
    assert task.cluster_key == "http://m1:5050,http://m2:5050"
    assert task.group == "test.4"
    stored = spec_load(task.spec)
    assert stored.spec.ports == (0, 0)
    assert [str(c) for c in stored.constraints] == ["hostname:UNIQUE"]


def test_submitting_the_same_decision_again_returns_the_same_task(env: Environment) -> None:
    first = submit(env)

    again = submit(env, spec=spec(cpus=4))

    assert again.pk == first.pk
    assert Task.objects.count() == 1
    assert spec_load(again.spec).spec.cpus == 0.5


def test_ids_are_deterministic_and_say_whose_they_are() -> None:
    same = {
        task_id_for(owner_kind="job", owner_id=9, instance="run-3", attempt=1) for _ in range(3)
    }

    assert same == {"berth.job.9.run-3.1"}
    assert (
        task_id_for(owner_kind="adhoc", owner_id=None, instance="x1", attempt=0)
        == "berth.adhoc.x.x1.0"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"owner_kind": "Bad Kind"}, "owner kind 'Bad Kind' must be lower-case"),
        ({"instance": "a/b"}, "instance 'a/b' must be 1-100 letters"),
        ({"attempt": -1}, "attempt must be >= 0"),
        ({"constraints": ["rack:SOMETIMES"]}, "constraint 1 .*unknown operator"),
        ({"spec": spec(cpus=-1)}, "cpus must be a finite number >= 0"),
        ({"spec": spec(cpus=0, mem=0)}, "a task needs some cpus or mem"),
        ({"spec": spec(environment={"A=B": "x"})}, "bad environment variable name"),
        ({"spec": spec(limits={"mem": 1})}, "the mem limit 1 is below the request"),
        (
            {
                "spec": spec(
                    container=DockerContainer(
                        image="x", network="BRIDGE", port_mappings=(PortMapping(0, 80),)
                    )
                )
            },
            "needs a port request of 0",
        ),
        ({"spec": spec(ports=(0,) * 70_000)}, "asks for 70000 ports; a machine has at most"),
    ],
)
def test_a_task_mesos_would_refuse_is_refused_with_what_is_wrong(
    env: Environment, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(TaskRejected, match=message):
        submit(env, **kwargs)
    assert not Task.objects.exists()


def test_an_environment_without_usable_masters_is_refused(env: Environment) -> None:
    Environment.objects.filter(pk=env.pk).update(master_urls=" , ")
    env.refresh_from_db()

    with pytest.raises(
        TaskRejected, match="environment qa: an environment needs at least one master URL"
    ):
        submit(env)


def test_killing_a_pending_task_ends_it_at_once(
    env: Environment, notified: list[tuple[str, str, str]]
) -> None:
    task = task_kill(task=submit(env))

    assert (task.state, task.desired) == ("TASK_KILLED", Desired.KILL)
    assert task.message == "Killed before it was launched"
    assert list(task.statuses.values_list("state", "source")) == [("TASK_KILLED", "SOURCE_BERTH")]
    assert notified == [(task.mesos_task_id, "PENDING", "TASK_KILLED")]


def test_killing_a_launched_task_asks_the_framework_once(env: Environment) -> None:
    task = submit(env)
    Task.objects.filter(pk=task.pk).update(state="TASK_RUNNING")

    first = task_kill(task=task)
    again = task_kill(task=task)

    assert (first.state, first.desired) == ("TASK_RUNNING", Desired.KILL)
    assert again.kill_requested_at == first.kill_requested_at


def test_killing_a_finished_task_changes_nothing(env: Environment) -> None:
    task = submit(env)
    Task.objects.filter(pk=task.pk).update(state="TASK_FINISHED")

    assert task_kill(task=task).desired == Desired.RUN
