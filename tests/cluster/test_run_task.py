"""`manage.py run_task`: one ad-hoc command through a running framework, its states and
output shown, its exit code passed on."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from cluster.framework import ClusterEngine
from cluster.leader import FRAMEWORK_LEASE, lease_acquire
from cluster.models import Task
from portal.models import Environment
from tests.cluster.framework_harness import (
    SHARED_DB,
    EngineThread,
    SharedDb,
    engine_for,
    point_environments_at,
    shared_db,  # noqa: F401 (a fixture)
    wait_for,
    wait_state,
)
from tests.devcluster_fixture import ROOT, DevCluster

pytestmark = [SHARED_DB]


@pytest.fixture
def dev(shared_db: SharedDb, devcluster_module: DevCluster) -> Environment:  # noqa: F811
    (environment,) = point_environments_at(devcluster_module, "dev")
    return environment


@pytest.fixture
def framework(dev: Environment, devcluster_module: DevCluster) -> Iterator[ClusterEngine]:
    """A running framework, as run_framework would be: an engine and the lease."""
    lease_acquire(name=FRAMEWORK_LEASE, holder="test", ttl=timedelta(minutes=5))
    with EngineThread(engine_for(devcluster_module)) as engine:
        wait_for("the subscription", lambda: engine.connected)
        wait_for("the dashboard record", lambda: engine.metrics.subscribed_at)
        yield engine


def run_task(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("run_task", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_runs_a_command_shows_each_state_and_the_output(framework: ClusterEngine) -> None:
    out, err = run_task("--env", "dev", "--", "echo", "hello world")

    assert "berth.adhoc.x." in out
    for line in (
        "PENDING",
        "TASK_STARTING",
        "TASK_RUNNING",
        "TASK_FINISHED - Finished: Command exited with status 0",
    ):
        assert line in out
    assert out.endswith("--- stdout ---\nhello world\n")
    assert "--- stderr ---" in err
    task = Task.objects.get()
    assert (task.owner_kind, task.owner_id, task.state) == ("adhoc", None, "TASK_FINISHED")


def test_it_exits_with_the_tasks_exit_code(framework: ClusterEngine) -> None:
    with pytest.raises(SystemExit) as exited:
        run_task("--env", "dev", "--", "echo broken >&2; exit 3")

    assert exited.value.code == 3


def test_ports_are_handed_to_the_command(framework: ClusterEngine) -> None:
    out, _ = run_task("--env", "dev", "--ports", "1", "--", "echo port=$PORT0")

    assert f"port={Task.objects.get().ports[0]}\n" in out


def test_a_task_that_outlives_the_timeout_is_killed_and_exits_124(framework: ClusterEngine) -> None:
    with pytest.raises(CommandError, match="did not finish within 1 s") as failed:
        run_task("--env", "dev", "--timeout", "1", "--", "sleep 60")

    assert failed.value.returncode == 124
    assert wait_state(Task.objects.get(), "TASK_KILLED").desired == "kill"


def test_an_unknown_environment_is_named_with_the_known_ones(dev: Environment) -> None:
    with pytest.raises(CommandError, match="unknown environment 'nope'; known environments: dev"):
        run_task("--env", "nope", "--", "true")


def test_without_a_running_framework_it_says_how_to_start_one(dev: Environment) -> None:
    expected = r"no framework is connected to http://127.0.0.1:\d+; start one with `manage.py run_"
    with pytest.raises(CommandError, match=expected):
        run_task("--env", "dev", "--", "true")
    assert not Task.objects.exists()


def test_a_task_mesos_would_refuse_is_refused_with_the_reason(framework: ClusterEngine) -> None:
    with pytest.raises(
        CommandError, match="the task was refused: cpus must be a finite number >= 0"
    ):
        run_task("--env", "dev", "--cpus", "-1", "--", "true")
    assert not Task.objects.exists()


def test_bad_input_is_refused_even_when_no_framework_runs(db: None) -> None:
    # Earlier transactional tests flush the data migration's environments.
    Environment.objects.update_or_create(slug="dev", defaults={"name": "dev", "mesos_role": "dev"})
    with pytest.raises(
        CommandError, match="the task was refused: cpus must be a finite number >= 0"
    ):
        run_task("--env", "dev", "--cpus", "-1", "--", "true")
    assert not Task.objects.exists()


def test_the_real_command_line_exits_with_the_tasks_exit_code(
    shared_db: SharedDb,  # noqa: F811
    framework: ClusterEngine,
) -> None:
    env: dict[str, Any] = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": shared_db.url,
        "BERTH_SECRET_KEY": "run-task-test",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "run_task", "--env", "dev", "--", "echo out; exit 5"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 5, done.stderr
    assert done.stdout.endswith("--- stdout ---\nout\n")
