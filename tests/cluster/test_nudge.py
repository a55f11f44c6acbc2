"""Nudges without a Redis that answers: the engine wakes from its idle wait and looks for
work and kills at once, the supervisor routes a nudge to its cluster's engine, and a Redis
that is down never breaks a writer or the listener.

The same with a real Redis, end to end through run_framework, is in test_nudge_redis.py.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from cluster.actions import task_kill, task_submit
from cluster.framework import ClusterConfig, ClusterEngine, EngineOptions, Supervisor
from cluster.framework.nudge import NudgeListener, NudgePublisher, WakeQueue
from cluster.framework.runner import _Running
from cluster.framework.storage import KillOrder, PendingSummary
from cluster.models import Task
from cluster.types import CommandSpec, HeartbeatEvent, TaskSpec
from portal.models import Environment
from tests.cluster.framework_harness import wait_for

# Nothing listens on port 1 of loopback: connecting is refused at once.
DEAD_REDIS = "redis://127.0.0.1:1/0"
LONG_POLL = 60.0
DONE = 20.0  # how long a thread gets to finish what a nudge started, far below LONG_POLL


def own_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "cluster.framework.nudge"]


def in_thread(target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def finished(thread: threading.Thread) -> bool:
    thread.join(DONE)
    return not thread.is_alive()


# -- the wake-up queue -----------------------------------------------------------------


def test_a_wait_returns_the_next_item() -> None:
    events: WakeQueue[str] = WakeQueue()
    events.put("offer")

    assert events.get_or_wake(LONG_POLL) == "offer"


def test_a_wait_ends_with_nothing_after_its_timeout() -> None:
    assert WakeQueue[str]().get_or_wake(0.01) is None


def test_a_wake_from_another_thread_ends_a_long_wait_with_nothing() -> None:
    events: WakeQueue[str] = WakeQueue()
    got: list[str | None] = []
    waiting = in_thread(lambda: got.append(events.get_or_wake(LONG_POLL)))

    events.wake()

    assert finished(waiting)
    assert got == [None]


def test_a_wake_before_the_wait_is_kept_for_it_and_used_once() -> None:
    events: WakeQueue[str] = WakeQueue()
    events.wake()

    assert events.get_or_wake(LONG_POLL) is None
    assert events.get_or_wake(0.01) is None  # a timeout this time, not the old wake


# -- the engine ----------------------------------------------------------------------------


class IdleStore:
    """Counts the engine's reads of pending work and kills; `pending` is what it answers."""

    def __init__(self) -> None:
        self.pending: dict[str, int] = {}
        self.newest_pk = 0
        self.kill_reads = 0
        self.demand_reads = 0
        self.changed = threading.Condition()

    def pending_summary(self, cluster_key: str, after_pk: int) -> PendingSummary:
        with self.changed:
            self.demand_reads += 1
            self.changed.notify_all()
        return PendingSummary(dict(self.pending), self.newest_pk)

    def pending_pks(self, cluster_key: str, roles: Any, limit: int) -> list[int]:
        return []  # counts without rows: the engine's queue stays empty

    def kills_settle_pending(self, cluster_key: str) -> int:
        with self.changed:
            self.kill_reads += 1
            self.changed.notify_all()
        return 0

    def kills_due(self, cluster_key: str, limit: int) -> list[KillOrder]:
        return []

    def tasks_uncertain(self, cluster_key: str, older_than: float) -> list[Any]:
        return []

    def framework_status_save(self, config: ClusterConfig, **fields: Any) -> None:
        pass

    def reads(self) -> tuple[int, int]:
        return self.kill_reads, self.demand_reads

    def wait_reads(self, at_least: int) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: min(self.reads()) >= at_least, DONE)


def idle_engine(store: IdleStore) -> tuple[ClusterEngine, list[Sequence[str]]]:
    """A subscribed engine with a long poll whose scheduler calls are recorded, not sent."""
    config = ClusterConfig(
        key="http://127.0.0.1:9", masters=("http://127.0.0.1:9",), roles=("dev",)
    )
    engine = ClusterEngine(config, store, EngineOptions(poll_seconds=LONG_POLL))  # type: ignore[arg-type]
    revived: list[Sequence[str]] = []
    engine.connected, engine.framework_id = True, "F"
    engine.conn.revive = revived.append  # type: ignore[method-assign]
    engine.conn.suppress = lambda roles: None  # type: ignore[method-assign]
    engine.conn.reconcile = lambda tasks: None  # type: ignore[method-assign]
    engine.demand.subscribed(["dev"], 0)
    return engine, revived


def test_a_nudge_makes_kills_and_pending_work_due_before_the_poll_is() -> None:
    store = IdleStore()
    engine, _ = idle_engine(store)
    engine.step_kills(), engine.step_demand()
    engine.step_kills(), engine.step_demand()
    assert store.reads() == (1, 1)  # the poll is not due yet

    engine.nudge()
    engine.step_kills(), engine.step_demand()

    assert store.reads() == (2, 2)
    engine.step_kills(), engine.step_demand()
    assert store.reads() == (2, 2)  # one nudge, one look


def test_a_nudge_from_another_thread_ends_the_idle_wait() -> None:
    engine, _ = idle_engine(IdleStore())
    waiting = in_thread(lambda: engine.wait(LONG_POLL))

    engine.nudge()

    assert finished(waiting)


def test_an_event_still_ends_the_wait_and_is_handled_by_the_next_step() -> None:
    engine, _ = idle_engine(IdleStore())
    engine.conn.events.put(HeartbeatEvent())

    engine.wait(LONG_POLL)

    assert engine.last_heartbeat is None
    assert engine.step_events()
    assert engine.last_heartbeat is not None


def test_a_running_engine_with_a_long_poll_revives_offers_soon_after_a_nudge() -> None:
    store = IdleStore()
    engine, revived = idle_engine(store)
    stop = threading.Event()
    loop = in_thread(lambda: engine.run(stop))
    try:
        assert store.wait_reads(1)
        store.pending, store.newest_pk = {"dev": 1}, 7  # what task_submit would have added

        engine.nudge()

        assert store.wait_reads(2)
        # The read happens before the REVIVE it leads to: wait for that too.
        assert wait_for("the revive", lambda: revived or None) == [["dev"]]
    finally:
        stop.set()
        engine.nudge()  # no stream to close here: this is what ends the wait
        assert finished(loop)


def test_the_supervisor_nudges_the_engine_of_the_cluster_named_or_every_engine() -> None:
    supervisor = Supervisor(IdleStore, EngineOptions(poll_seconds=LONG_POLL))  # type: ignore[arg-type]
    stores = {key: IdleStore() for key in ("http://a:5050", "http://b:5050")}
    for key, store in stores.items():
        engine, _ = idle_engine(store)
        supervisor.running[key] = _Running(engine, threading.Thread(), threading.Event())
        engine.step_kills()

    supervisor.nudge("http://a:5050")
    supervisor.nudge("http://elsewhere:5050")
    for running in supervisor.running.values():
        running.engine.step_kills()
    assert [store.kill_reads for store in stores.values()] == [2, 1]

    supervisor.nudge(None)
    for running in supervisor.running.values():
        running.engine.step_kills()
    assert [store.kill_reads for store in stores.values()] == [3, 2]


# -- Redis down ------------------------------------------------------------------------------


def test_publishing_to_a_redis_that_is_down_warns_once_and_then_pauses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    publisher = NudgePublisher(DEAD_REDIS, pause=5.0, clock=lambda: now[0])

    with caplog.at_level(logging.DEBUG, logger="cluster.framework.nudge"):
        assert not publisher.publish("http://m:5050")
        assert not publisher.publish("http://m:5050")  # paused: not even tried
        now[0] += 5.0
        assert not publisher.publish("http://m:5050")

    records = own_records(caplog)
    assert [r.levelname for r in records] == ["WARNING", "DEBUG"]
    assert "polls instead" in records[0].getMessage()


def test_a_listener_on_a_redis_that_is_down_keeps_trying_and_stops_cleanly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    listener = NudgeListener(DEAD_REDIS, lambda key: None, backoff_base=0.01, backoff_cap=0.02)
    with caplog.at_level(logging.DEBUG, logger="cluster.framework.nudge"):
        listener.start()
        wait_for("three attempts", lambda: len(own_records(caplog)) >= 3)
        listener.stop()

    assert listener._thread is not None and not listener._thread.is_alive()
    assert not listener.subscribed.is_set()
    levels = [r.levelname for r in own_records(caplog)]
    assert levels[0] == "WARNING" and set(levels[1:]) == {"DEBUG"}, levels


# -- writers --------------------------------------------------------------------------------


@pytest.fixture
def dev(db: None) -> Environment:
    environment, _ = Environment.objects.update_or_create(
        slug="dev", defaults={"name": "dev", "mesos_role": "dev", "master_urls": "http://m:5050"}
    )
    return environment


def submit(environment: Environment, instance: str = "a") -> Task:
    spec = TaskSpec(task_id="", name="t", command=CommandSpec.shell_line("true"), cpus=0.1, mem=32)
    return task_submit(
        owner_kind="test", owner_id=1, instance=instance, environment=environment, spec=spec
    )


@pytest.fixture
def nudges(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The cluster keys the writers nudge, published only after their commit."""
    sent: list[str] = []
    monkeypatch.setattr(NudgePublisher, "publish", lambda self, key: sent.append(key) or True)
    yield sent


def test_a_submit_and_a_kill_nudge_their_cluster_after_the_commit(
    dev: Environment,
    settings: Any,
    nudges: list[str],
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.REDIS_URL = DEAD_REDIS
    with django_capture_on_commit_callbacks() as callbacks:
        task = submit(dev)
    assert nudges == []  # not before the commit
    for callback in callbacks:
        callback()
    assert nudges == ["http://m:5050"]

    Task.objects.filter(pk=task.pk).update(state="TASK_RUNNING")
    with django_capture_on_commit_callbacks(execute=True):
        task_kill(task=task)
    assert nudges == ["http://m:5050", "http://m:5050"]


def test_nothing_is_nudged_when_nothing_changed(
    dev: Environment, settings: Any, nudges: list[str], django_capture_on_commit_callbacks: Any
) -> None:
    settings.REDIS_URL = DEAD_REDIS
    task = submit(dev)
    Task.objects.filter(pk=task.pk).update(state="TASK_RUNNING")
    task_kill(task=task)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        submit(dev)  # the same task id: already there
        task_kill(task=task)  # already asked to die

    assert callbacks == []


def test_without_redis_writers_nudge_nothing(
    dev: Environment, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.REDIS_URL = ""
    with django_capture_on_commit_callbacks() as callbacks:
        submit(dev)

    assert callbacks == []


def test_a_redis_that_is_down_never_fails_the_writer(
    dev: Environment, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.REDIS_URL = DEAD_REDIS
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        task = submit(dev, "down")

    assert len(callbacks) == 1
    assert Task.objects.filter(pk=task.pk, state=Task.PENDING).exists()
