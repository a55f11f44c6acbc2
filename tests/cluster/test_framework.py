"""The engine against a real devcluster over real HTTP: launches, kills, ports, constraints,
configuration, offer filters, suppression, why-not counts, and bad events survived.

Each test runs an engine in a thread on a database the test can see (shared_db), with its
own framework on a devcluster shared by the module; the framework is torn down at the end.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cluster.actions import task_kill, task_submit
from cluster.client import AgentClient
from cluster.framework import ClusterEngine
from cluster.models import FrameworkRecord, Task
from cluster.owners import _handlers, owner_register
from cluster.states import TaskState
from cluster.store import cluster_configs
from cluster.types import CommandSpec, TaskSpec
from portal import crypto
from portal.models import ConfigValue, Environment
from tests.cluster.framework_harness import (
    SHARED_DB,
    EngineThread,
    engine_for,
    faster,
    point_environments_at,
    shared_db,  # noqa: F401 (a fixture)
    wait_for,
    wait_state,
)
from tests.devcluster_fixture import DevCluster

pytestmark = [
    SHARED_DB,
    pytest.mark.devcluster("--agents", "3", "--agent-attributes", "rack:r{i}"),
]
FINISHED, FAILED, KILLED, RUNNING = (
    TaskState.FINISHED.value,
    TaskState.FAILED.value,
    TaskState.KILLED.value,
    TaskState.RUNNING.value,
)


@pytest.fixture
def cluster(devcluster_module: DevCluster) -> DevCluster:
    return devcluster_module


@pytest.fixture
def dev(request: pytest.FixtureRequest, cluster: DevCluster) -> Environment:
    request.getfixturevalue("shared_db")
    (environment,) = point_environments_at(cluster, "dev")
    return environment


@pytest.fixture
def engine(dev: Environment, cluster: DevCluster) -> Iterator[ClusterEngine]:
    running = EngineThread(engine_for(cluster))
    with running as engine:
        wait_for("the subscription", lambda: engine.connected)
        yield engine


@pytest.fixture
def owner_calls() -> Iterator[list[tuple[str, str, str]]]:
    calls: list[tuple[str, str, str]] = []
    owner_register(
        "test", lambda task, previous: calls.append((task.mesos_task_id, previous, task.state))
    )
    yield calls
    _handlers.pop("test", None)


_serial = iter(range(10**9))


def submit(env: Environment, line: str, **kwargs: Any) -> Task:
    spec_fields = {k: kwargs.pop(k) for k in ("cpus", "mem", "ports", "variables") if k in kwargs}
    spec = TaskSpec(
        task_id="",
        name=kwargs.pop("name", "t"),
        command=CommandSpec.shell_line(line),
        cpus=spec_fields.get("cpus", 0.1),
        mem=spec_fields.get("mem", 32),
        ports=spec_fields.get("ports", ()),
        environment=spec_fields.get("variables", {}),
    )
    return task_submit(
        owner_kind=kwargs.pop("owner_kind", "test"),
        owner_id=kwargs.pop("owner_id", 1),
        instance=kwargs.pop("instance", f"i{next(_serial)}"),
        environment=env,
        spec=spec,
        **kwargs,
    )


def sandbox(task: Task, name: str = "stdout") -> str:
    with AgentClient(task.agent_url) as agent:
        return agent.read_sandbox_file(task.framework_id, task.mesos_task_id, name)


def test_a_task_is_launched_runs_and_finishes_with_every_update_recorded(
    engine: ClusterEngine, dev: Environment
) -> None:
    task = wait_state(submit(dev, "echo hello"), FINISHED)

    assert task.exit_code == 0
    assert task.message == "Command exited with status 0"
    assert task.framework_id == engine.framework_id
    assert task.started_at is not None and task.finished_at is not None
    trail = list(task.statuses.values_list("state", flat=True))
    assert trail == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    assert all(uuid for uuid in task.statuses.values_list("uuid", flat=True))
    assert sandbox(task) == "hello\n"


def test_a_failing_command_reports_its_exit_code(engine: ClusterEngine, dev: Environment) -> None:
    task = wait_state(submit(dev, "echo oops >&2; exit 3"), FAILED)

    assert task.exit_code == 3
    assert task.message == "Command exited with status 3"
    assert "oops" in sandbox(task, "stderr")


def test_a_running_task_is_killed_through_killing_to_killed(
    engine: ClusterEngine, dev: Environment, owner_calls: list[tuple[str, str, str]]
) -> None:
    task = wait_state(submit(dev, "sleep 60"), RUNNING)

    task_kill(task=task)
    task = wait_state(task, KILLED)

    trail = list(task.statuses.values_list("state", flat=True))
    assert trail[-2:] == ["TASK_KILLING", "TASK_KILLED"]
    assert task.exit_code is None
    assert "signal" in task.message
    assert (task.mesos_task_id, RUNNING, "TASK_KILLING") in owner_calls
    assert (task.mesos_task_id, "TASK_KILLING", KILLED) in owner_calls


def test_a_pending_task_is_killed_at_once_and_never_reaches_mesos(
    engine: ClusterEngine, dev: Environment, owner_calls: list[tuple[str, str, str]]
) -> None:
    task = submit(dev, "true", cpus=64)

    task = task_kill(task=task)

    assert task.state == KILLED
    assert task.launched_at is None
    assert owner_calls == [(task.mesos_task_id, "PENDING", KILLED)]


def test_ports_reach_the_process_as_port0_ports_and_host(
    engine: ClusterEngine, dev: Environment
) -> None:
    task = wait_state(
        submit(dev, 'echo "$PORT0 $PORT1 $PORT $PORTS $HOST"', ports=(0, 0)), FINISHED
    )

    first, second = task.ports
    assert first != second
    assert sandbox(task) == f"{first} {second} {first} {first},{second} {task.hostname}\n"


def test_configuration_and_secrets_reach_the_process_but_never_the_stored_spec(
    engine: ClusterEngine, dev: Environment
) -> None:
    ConfigValue.objects.create(environment=dev, key="GREETING", value="from config")
    ConfigValue.objects.create(
        environment=dev, key="DB_PASS", is_secret=True, value_encrypted=crypto.encrypt("s3cr3t")
    )
    task = submit(
        dev, 'echo "$GREETING/$DB_PASS/$OWN"', variables={"OWN": "mine", "GREETING": "spec"}
    )

    task = wait_state(task, FINISHED)

    assert sandbox(task) == "from config/s3cr3t/mine\n"
    assert "s3cr3t" not in json.dumps(task.spec)


def test_hostname_unique_spreads_a_group_and_the_extra_task_waits_with_reasons(
    engine: ClusterEngine, dev: Environment
) -> None:
    tasks = [
        submit(dev, "sleep 30", group="web", constraints=["hostname:UNIQUE"]) for _ in range(4)
    ]

    def settled() -> bool:
        states = [t.state for t in Task.objects.filter(pk__in=[t.pk for t in tasks])]
        return states.count(RUNNING) == 3 and states.count("PENDING") == 1

    wait_for("three running and one pending", settled)
    running = Task.objects.filter(pk__in=[t.pk for t in tasks], state=RUNNING)
    assert len({t.hostname for t in running}) == 3
    waiting = Task.objects.get(pk__in=[t.pk for t in tasks], state="PENDING")
    reasons = wait_for("why-not counts", lambda: Task.objects.get(pk=waiting.pk).why_not_placed)
    assert reasons.get("constraint hostname:UNIQUE", 0) > 0
    for task in tasks:
        task_kill(task=task)


def test_a_task_too_big_for_any_agent_waits_and_says_why(
    engine: ClusterEngine, dev: Environment
) -> None:
    task = submit(dev, "true", cpus=100)

    def counted() -> dict[str, int] | None:
        reasons = Task.objects.get(pk=task.pk).why_not_placed
        return reasons if reasons.get("offers", 0) >= 3 else None

    reasons = wait_for("why-not counts", counted)
    assert reasons["cpus"] >= 3
    assert Task.objects.get(pk=task.pk).state == "PENDING"


def test_declined_offers_come_back_only_after_the_refuse_filter(
    dev: Environment, cluster: DevCluster
) -> None:
    submit(dev, "true", cpus=100)  # keeps the role wanting offers it can never use
    with EngineThread(engine_for(cluster, faster(refuse_seconds=3.0))) as engine:
        wait_for("a first round", lambda: engine.metrics.offers_received.total >= 3)
        before = engine.metrics.offers_received.total
        time.sleep(2.0)
        during = engine.metrics.offers_received.total - before
        time.sleep(2.5)
        after = engine.metrics.offers_received.total - before - during

    # Without the filter each of 3 agents is offered every 0.5 s allocation pass.
    assert during == 0
    assert after >= 3


def test_offers_are_suppressed_when_idle_and_revived_when_work_appears(
    engine: ClusterEngine, dev: Environment
) -> None:
    wait_for("suppression", lambda: "dev" in engine.demand.suppressed)
    quiet = engine.metrics.offers_received.total
    time.sleep(1.5)
    assert engine.metrics.offers_received.total == quiet

    task = wait_state(submit(dev, "true"), FINISHED)

    assert task.exit_code == 0
    wait_for("suppression again", lambda: "dev" in engine.demand.suppressed)
    # The record was already suppressed before the launch: wait for the flush that counts it.
    record = wait_for(
        "the dashboard record",
        lambda: next(
            (
                r
                for r in FrameworkRecord.objects.filter(
                    cluster_key=engine.config.key, suppressed=True
                )
                if r.metrics.get("launches_total", 0) >= 1
            ),
            None,
        ),
    )
    assert record.connected
    assert record.framework_id == engine.framework_id
    assert record.metrics["launches_total"] >= 1


def test_malformed_and_unknown_events_are_logged_and_survived(
    engine: ClusterEngine, dev: Environment, cluster: DevCluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="cluster")
    for body in (b"{not json", b'{"type":"FROM_THE_FUTURE","from_the_future":{}}', b'{"type":7}'):
        cluster.inject_record(str(engine.framework_id), body)

    wait_for(
        "the warnings",
        lambda: sum("Ignoring" in r.getMessage() for r in caplog.records) >= 3,
    )
    task = wait_state(submit(dev, "echo still here"), FINISHED)

    assert engine.connected
    assert task.exit_code == 0


class _FlakyStore:
    """The real store, except that the first `failures` update batches fail to commit."""

    def __init__(self, store: Any, failures: int) -> None:
        self._store = store
        self.failures = failures
        self.refused: list[str] = []

    def updates_store(self, statuses: Any) -> Any:
        if self.failures > 0:
            self.failures -= 1
            self.refused.extend(s.state for s in statuses)
            raise RuntimeError("the database is down")
        return self._store.updates_store(statuses)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_an_update_that_could_not_be_stored_is_not_acknowledged_and_comes_again(
    dev: Environment, cluster: DevCluster, caplog: pytest.LogCaptureFixture
) -> None:
    engine = engine_for(cluster)
    flaky = _FlakyStore(engine.store, failures=1)
    engine.store = engine.launcher.store = flaky
    with EngineThread(engine):
        task = wait_state(submit(dev, "true"), FINISHED)

    assert flaky.refused == ["TASK_STARTING"]
    trail = list(task.statuses.values_list("state", flat=True))
    assert trail == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]


def test_an_attribute_constraint_keeps_a_group_on_matching_agents(
    engine: ClusterEngine, dev: Environment
) -> None:
    tasks = [submit(dev, "true", group="batch", constraints=["rack:IS:r2"]) for _ in range(3)]

    finished = [wait_state(task, FINISHED) for task in tasks]

    assert {t.agent_attributes["rack"] for t in finished} == {"r2"}
    assert len({t.hostname for t in finished}) == 1


def test_a_new_environment_on_the_cluster_adds_its_role_to_the_subscription(
    engine: ClusterEngine, dev: Environment, cluster: DevCluster
) -> None:
    qa = Environment.objects.create(name="qa", slug="qa", mesos_role="qa", master_urls=cluster.url)
    (config,) = [c for c in cluster_configs() if c.key == engine.config.key]

    engine.new_config = config

    wait_for("the new role", lambda: engine.config.roles == ("dev", "qa"))
    task = wait_state(submit(qa, "echo in qa"), FINISHED)
    assert task.role == "qa"
    assert sandbox(task) == "in qa\n"
