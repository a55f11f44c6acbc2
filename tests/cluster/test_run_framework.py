"""`manage.py run_framework` as real processes on a database they share with the test:
one active replica and a standby, SIGTERM, and SIGKILL in the middle of launching.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cluster.actions import task_kill, task_submit
from cluster.client import OperatorClient
from cluster.leader import FRAMEWORK_LEASE, lease_holder
from cluster.models import FrameworkRecord, Task
from cluster.states import TERMINAL_STATES, TaskState
from cluster.types import CommandSpec, TaskSpec
from portal.models import Environment
from tests.cluster.framework_harness import (
    SHARED_DB,
    FrameworkProcess,
    SharedDb,
    point_environments_at,
    shared_db,  # noqa: F401 (a fixture)
    teardown_framework,
    wait_for,
    wait_state,
)
from tests.devcluster_fixture import DevCluster

pytestmark = [SHARED_DB, pytest.mark.devcluster("--agents", "2")]
RUNNING, FINISHED, KILLED = (
    TaskState.RUNNING.value,
    TaskState.FINISHED.value,
    TaskState.KILLED.value,
)


@pytest.fixture
def dev(shared_db: SharedDb, devcluster: DevCluster) -> Environment:  # noqa: F811
    (environment,) = point_environments_at(devcluster, "dev")
    return environment


def submit(env: Environment, line: str, instance: str, cpus: float = 0.1) -> Task:
    spec = TaskSpec(
        task_id="", name=instance, command=CommandSpec.shell_line(line), cpus=cpus, mem=32
    )
    return task_submit(owner_kind="test", owner_id=7, instance=instance, environment=env, spec=spec)


def connected_record(cluster: DevCluster) -> FrameworkRecord | None:
    return FrameworkRecord.objects.filter(cluster_key=cluster.url, connected=True).first()


def active_frameworks(cluster: DevCluster) -> list[str]:
    with OperatorClient(cluster.url) as operator:
        frameworks, _completed = operator.get_frameworks()
    return [f.framework_id for f in frameworks if f.active]


def process_of(processes: list[FrameworkProcess]) -> FrameworkProcess:
    holder = lease_holder(name=FRAMEWORK_LEASE) or ""
    (leader,) = [p for p in processes if f":{p.pid}:" in holder]
    return leader


def test_one_replica_is_active_and_the_standby_takes_over_when_it_is_killed(
    shared_db: SharedDb,  # noqa: F811
    dev: Environment,
    devcluster: DevCluster,
    tmp_path: Path,
) -> None:
    processes = [FrameworkProcess(shared_db, tmp_path / f"fw{n}.log").start() for n in range(2)]
    try:
        record = wait_for("an active framework", lambda: connected_record(devcluster))
        time.sleep(1.0)  # the standby had time to misbehave, if it were going to
        assert active_frameworks(devcluster) == [record.framework_id]
        leader = process_of(processes)
        (standby,) = [p for p in processes if p is not leader]

        leader.kill()
        FrameworkRecord.objects.filter(pk=record.pk).update(connected=False)

        wait_for(
            "the standby to lead",
            lambda: f":{standby.pid}:" in (lease_holder(name=FRAMEWORK_LEASE) or ""),
        )
        taken = wait_for("the standby's subscription", lambda: connected_record(devcluster))
        assert taken.framework_id == record.framework_id
        assert wait_state(submit(dev, "true", "after-takeover"), FINISHED).exit_code == 0
    finally:
        for process in processes:
            process.kill()
        teardown_framework(
            devcluster.url,
            str(FrameworkRecord.objects.get(cluster_key=devcluster.url).framework_id),
        )


def test_sigterm_stops_cleanly_and_leaves_tasks_running_for_the_next_leader(
    shared_db: SharedDb,  # noqa: F811
    dev: Environment,
    devcluster: DevCluster,
    tmp_path: Path,
) -> None:
    with FrameworkProcess(shared_db, tmp_path / "first.log") as first:
        task = wait_state(submit(dev, "sleep 60", "long"), RUNNING)
        assert first.terminate() == 0, first.log_text()
    record = FrameworkRecord.objects.get(cluster_key=devcluster.url)
    assert not record.connected
    assert lease_holder(name=FRAMEWORK_LEASE) is None
    with OperatorClient(devcluster.url) as operator:
        (running,), _, _ = operator.get_tasks()
    assert (running.task_id, running.state) == (task.mesos_task_id, RUNNING)

    with FrameworkProcess(shared_db, tmp_path / "second.log"):
        wait_for("the next leader", lambda: connected_record(devcluster))
        assert (
            FrameworkRecord.objects.get(cluster_key=devcluster.url).framework_id
            == record.framework_id
        )
        wait_for(
            "a reconciliation",
            lambda: task.statuses.filter(reason="REASON_RECONCILIATION").exists(),
        )
        task_kill(task=task)
        assert wait_state(task, KILLED).state == KILLED
    teardown_framework(devcluster.url, record.framework_id)


def test_killing_the_process_in_the_middle_of_launching_loses_and_doubles_nothing(
    shared_db: SharedDb,  # noqa: F811
    dev: Environment,
    devcluster: DevCluster,
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    tasks = [
        submit(dev, f"echo ran >> {runs}/job{n}; sleep 0.5", f"job{n}", cpus=0.05)
        for n in range(30)
    ]
    ids = [t.pk for t in tasks]

    with FrameworkProcess(shared_db, tmp_path / "first.log") as first:
        wait_for(
            "the first launches",
            lambda: Task.objects.filter(pk__in=ids).exclude(state="PENDING").exists(),
            timeout=60,
        )
        first.kill()
    caught = Task.objects.filter(pk__in=ids).exclude(state="PENDING").count()

    with FrameworkProcess(shared_db, tmp_path / "second.log") as second:
        wait_for(
            "every task to end",
            lambda: Task.objects.filter(pk__in=ids, state__in=TERMINAL_STATES).count() == 30,
            timeout=90,
        )
        second.terminate()

    ended = dict(Task.objects.filter(pk__in=ids).values_list("mesos_task_id", "state"))
    assert caught > 0
    for n, task in enumerate(tasks):
        ran = runs / f"job{n}"
        lines = ran.read_text().splitlines() if ran.exists() else []
        if ended[task.mesos_task_id] == FINISHED:
            assert lines == ["ran"], f"{task.mesos_task_id} ran {len(lines)} times"
        else:
            # Recorded as launching but never sent: Mesos never ran it; the owner decides.
            assert ended[task.mesos_task_id] == TaskState.GONE.value
            assert lines == []
    teardown_framework(
        devcluster.url, FrameworkRecord.objects.get(cluster_key=devcluster.url).framework_id
    )


def test_an_unreachable_master_is_retried_and_the_error_is_recorded(
    shared_db: SharedDb,  # noqa: F811
    dev: Environment,
    tmp_path: Path,
) -> None:
    Environment.objects.filter(pk=dev.pk).update(master_urls="http://127.0.0.1:9")

    with FrameworkProcess(shared_db, tmp_path / "fw.log") as process:
        record = wait_for(
            "the error on the dashboard record",
            lambda: FrameworkRecord.objects.exclude(last_error="").first(),
        )
        assert process.process is not None and process.process.poll() is None
        assert process.terminate() == 0
    assert "cannot reach http://127.0.0.1:9" in record.last_error
    assert not record.connected


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--round-budget", "nan", "must be a finite number"),
        ("--poll", "0", "must be above 0"),
        ("--max-launches", "0", "must be at least 1"),
        ("--refuse-seconds", "-1", "must be a finite number, 0 or more"),
        ("--lease-ttl", "soon", "is not a number"),
    ],
)
def test_bad_figures_are_refused_before_anything_starts(
    flag: str, value: str, message: str
) -> None:
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=message):
        call_command("run_framework", flag, value)
