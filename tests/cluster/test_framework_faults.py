"""What real clusters do to a framework, provoked through the devcluster's fault endpoints:
a master failover, a dropped stream, silent heartbeats, agents removed or partitioned, a
framework removed behind Berth's back, and a crash between recording launches and ACCEPT.

Each test gets a devcluster of its own: these faults would disturb a shared one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cluster.actions import task_kill, task_submit
from cluster.client import OperatorClient
from cluster.framework import ClusterEngine
from cluster.models import FrameworkRecord, Task
from cluster.owners import _handlers, owner_register
from cluster.states import TaskState
from cluster.types import CommandSpec, TaskSpec
from portal.models import Environment
from tests.cluster.framework_harness import (
    SHARED_DB,
    EngineThread,
    engine_for,
    point_environments_at,
    shared_db,  # noqa: F401 (a fixture)
    teardown_framework,
    wait_for,
    wait_state,
)
from tests.devcluster_fixture import DevCluster

pytestmark = [SHARED_DB, pytest.mark.devcluster("--agents", "2")]
RUNNING, KILLED, FINISHED = (
    TaskState.RUNNING.value,
    TaskState.KILLED.value,
    TaskState.FINISHED.value,
)
OwnerCalls = list[tuple[str, str, str]]


@pytest.fixture
def dev(request: pytest.FixtureRequest, devcluster: DevCluster) -> Environment:
    request.getfixturevalue("shared_db")
    (environment,) = point_environments_at(devcluster, "dev")
    return environment


@pytest.fixture
def owner_calls() -> Iterator[OwnerCalls]:
    calls: OwnerCalls = []
    owner_register(
        "test", lambda task, previous: calls.append((task.mesos_task_id, previous, task.state))
    )
    yield calls
    _handlers.pop("test", None)


def submit(env: Environment, line: str, instance: str, attempt: int = 0) -> Task:
    spec = TaskSpec(
        task_id="", name=instance, command=CommandSpec.shell_line(line), cpus=0.1, mem=32
    )
    return task_submit(
        owner_kind="test",
        owner_id=1,
        instance=instance,
        attempt=attempt,
        environment=env,
        spec=spec,
    )


def resubscribed(engine: ClusterEngine, since: float) -> bool:
    subscribed = engine.metrics.subscribed_at
    return engine.connected and subscribed is not None and subscribed > since


def reconciled(task: Task) -> bool:
    return task.statuses.filter(reason="REASON_RECONCILIATION").exists()


def test_after_a_master_failover_it_resubscribes_under_the_same_id_and_reconciles(
    dev: Environment, devcluster: DevCluster
) -> None:
    with EngineThread(engine_for(devcluster)) as engine:
        task = wait_state(submit(dev, "sleep 60", "web"), RUNNING)
        framework_id, before = engine.framework_id, time.time()

        devcluster.restart_master(agent_delay=1.0)

        wait_for("a new subscription", lambda: resubscribed(engine, before))
        wait_for("a reconciliation answer", lambda: reconciled(task))
        assert engine.framework_id == framework_id
        assert (
            FrameworkRecord.objects.get(cluster_key=engine.config.key).framework_id == framework_id
        )
        assert wait_state(task, RUNNING).state == RUNNING
        task_kill(task=task)
        assert wait_state(task, KILLED).state == KILLED


def test_a_dropped_stream_is_resubscribed_and_work_goes_on(
    dev: Environment, devcluster: DevCluster
) -> None:
    with EngineThread(engine_for(devcluster)) as engine:
        wait_for("the subscription", lambda: engine.connected)
        before = time.time()

        devcluster.drop_framework(str(engine.framework_id))

        wait_for("a new subscription", lambda: resubscribed(engine, before))
        assert wait_state(submit(dev, "true", "after-drop"), FINISHED).exit_code == 0


def test_silent_heartbeats_make_it_reconnect(
    dev: Environment, devcluster: DevCluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="cluster.framework")
    with EngineThread(engine_for(devcluster)) as engine:
        wait_for("the subscription", lambda: engine.connected)
        before = time.time()

        devcluster.stop_heartbeats(str(engine.framework_id))
        wait_for(
            "the stall to be noticed",
            lambda: any("stalled" in r.getMessage() for r in caplog.records),
        )
        devcluster.resume_heartbeats()

        wait_for("a new subscription", lambda: resubscribed(engine, before))
        assert wait_state(submit(dev, "true", "after-stall"), FINISHED).exit_code == 0


def test_tasks_of_a_removed_agent_are_gone_and_their_owner_hears_of_it(
    dev: Environment, devcluster: DevCluster, owner_calls: OwnerCalls
) -> None:
    with EngineThread(engine_for(devcluster)):
        task = wait_state(submit(dev, "sleep 60", "doomed"), RUNNING)

        devcluster.remove_agent(task.agent_id)

        task = wait_state(task, TaskState.GONE.value)
    assert task.reason == "REASON_AGENT_REMOVED"
    assert (task.mesos_task_id, RUNNING, TaskState.GONE.value) in owner_calls


def test_a_partitioned_agent_makes_tasks_unreachable_until_it_heals(
    dev: Environment, devcluster: DevCluster, owner_calls: OwnerCalls
) -> None:
    with EngineThread(engine_for(devcluster)):
        task = wait_state(submit(dev, "sleep 60", "cut-off"), RUNNING)

        devcluster.partition_agent(task.agent_id)
        wait_state(task, TaskState.UNREACHABLE.value)
        devcluster.heal_agent(task.agent_id)

        assert wait_state(task, RUNNING).state == RUNNING
        task_kill(task=task)
        wait_state(task, KILLED)
    assert (task.mesos_task_id, RUNNING, TaskState.UNREACHABLE.value) in owner_calls
    assert (task.mesos_task_id, TaskState.UNREACHABLE.value, RUNNING) in owner_calls


def test_a_removed_framework_is_forgotten_and_its_tasks_are_reported_gone(
    dev: Environment, devcluster: DevCluster, caplog: pytest.LogCaptureFixture
) -> None:
    with EngineThread(engine_for(devcluster), teardown=False) as first:
        task = wait_state(submit(dev, "sleep 60", "orphaned"), RUNNING)
    teardown_framework(devcluster.url, str(first.framework_id))
    caplog.set_level(logging.ERROR, logger="cluster.framework")

    with EngineThread(engine_for(devcluster)) as second:
        task = wait_state(task, TaskState.GONE.value)

        assert second.framework_id not in (None, first.framework_id)
        assert any("removed framework" in r.getMessage() for r in caplog.records)
        stored = FrameworkRecord.objects.get(cluster_key=second.config.key).framework_id
        assert stored == second.framework_id


class Crash(BaseException):
    """Not an Exception: the engine's loop must not survive it, as a process would not."""


class _CrashAfterRecording:
    """The real store; but the process dies right after launches are committed, before
    any ACCEPT can be sent."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def tasks_mark_launching(self, launches: Any, framework_id: str) -> set[int]:
        self._store.tasks_mark_launching(launches, framework_id)
        raise Crash()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_crash_between_recording_launches_and_accept_loses_and_doubles_nothing(
    dev: Environment, devcluster: DevCluster, tmp_path: Path, owner_calls: OwnerCalls
) -> None:
    """The launches were recorded but never sent. After the restart, reconciliation finds
    Mesos never heard of them (TASK_GONE); the owner decides, here: a new attempt."""

    def retry(task: Task, previous: str) -> None:
        if task.state == TaskState.GONE.value:
            line = f"echo ran >> {tmp_path}/{task.name}"
            submit(task.environment, line, task.name, attempt=1)

    owner_register("test", retry)
    tasks = [submit(dev, f"echo ran >> {tmp_path}/job{n}", f"job{n}") for n in range(3)]
    crashing = engine_for(devcluster)
    crashing.store = crashing.launcher.store = _CrashAfterRecording(crashing.store)
    running = EngineThread(crashing, teardown=False)
    with running:
        wait_for("the crash", lambda: not running.thread.is_alive())
    assert isinstance(running.died, Crash)
    assert Task.objects.filter(state="LAUNCHING").count() == 3

    with EngineThread(engine_for(devcluster)) as engine:
        for task in tasks:
            assert wait_state(task, TaskState.GONE.value).framework_id == engine.framework_id
        retries = [Task.objects.get(mesos_task_id=t.mesos_task_id[:-1] + "1") for t in tasks]
        for retry_task in retries:
            wait_state(retry_task, FINISHED)
        with OperatorClient(devcluster.url) as operator:
            active, unreachable, completed = operator.get_tasks()
    launched = [t.task_id for t in (*active, *unreachable, *completed)]
    assert sorted(launched) == sorted(t.mesos_task_id for t in retries)
    for n in range(3):
        assert (tmp_path / f"job{n}").read_text() == "ran\n"
