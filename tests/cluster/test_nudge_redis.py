"""Nudges through a real Redis: publisher to listener, the listener surviving a dropped
connection, and run_framework with a one-minute poll launching a submitted task and
killing it within seconds because task_submit and task_kill nudge it.

Redis: REDIS_URL (CI sets redis://127.0.0.1:6379/15), else that same URL when a local
redis-server answers there. Skipped only when REDIS_URL is unset and nothing answers;
with REDIS_URL set, a Redis that does not answer is a failure.
"""

from __future__ import annotations

import os
import queue
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from cluster.actions import task_kill, task_submit
from cluster.framework.nudge import NudgeListener, NudgePublisher
from cluster.models import FrameworkRecord, Task
from cluster.states import TaskState
from cluster.types import CommandSpec, TaskSpec
from portal.models import Environment
from tests.cluster.framework_harness import (
    SHARED_DB,
    WAIT,
    FrameworkProcess,
    SharedDb,
    point_environments_at,
    shared_db,  # noqa: F401 (a fixture)
    wait_for,
    wait_state,
)
from tests.devcluster_fixture import DevCluster

LOCAL_REDIS = "redis://127.0.0.1:6379/15"
# Far longer than any wait below: whatever happens within WAIT came from a nudge.
LONG_POLL = "60"
assert float(LONG_POLL) > WAIT


@pytest.fixture(scope="module")
def redis_url() -> str:
    configured = os.environ.get("REDIS_URL", "")
    url = configured or LOCAL_REDIS
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        if configured:
            pytest.fail(f"REDIS_URL is set but Redis does not answer ({error})")
        pytest.skip(f"no Redis answers at {LOCAL_REDIS} and REDIS_URL is unset: {error}")
    finally:
        client.close()
    return url


class Heard:
    """What a listener passed on, in order (None: 'look at every cluster')."""

    def __init__(self) -> None:
        self.keys: queue.Queue[str | None] = queue.Queue()

    def __call__(self, key: str | None) -> None:
        self.keys.put(key)

    def next_of(self, *wanted: str | None) -> str | None:
        """The next key among `wanted`, skipping others (other Berths may share the channel)."""
        while True:
            key = self.keys.get(timeout=WAIT)
            if key in wanted:
                return key


@pytest.fixture
def listening(redis_url: str) -> Iterator[tuple[NudgeListener, Heard]]:
    heard = Heard()
    name = f"berth-test-{uuid.uuid4().hex[:8]}"
    listener = NudgeListener(redis_url, heard, name=name, backoff_base=0.05, backoff_cap=0.5)
    listener.start()
    try:
        assert heard.next_of(None) is None  # subscribed
        yield listener, heard
    finally:
        listener.stop()


def test_a_published_nudge_reaches_the_listener(
    redis_url: str, listening: tuple[NudgeListener, Heard]
) -> None:
    _, heard = listening
    key = f"http://{uuid.uuid4().hex}:5050"

    assert NudgePublisher(redis_url).publish(key)

    assert heard.next_of(key) == key


def test_the_listener_subscribes_again_when_redis_drops_its_connection(
    redis_url: str, listening: tuple[NudgeListener, Heard]
) -> None:
    listener, heard = listening
    admin = redis.Redis.from_url(redis_url)
    name = listener.client.get_connection_kwargs()["client_name"]
    (mine,) = [c for c in admin.client_list() if c.get("name") == name]

    assert admin.client_kill_filter(_id=mine["id"]) == 1

    # None again: the new subscription asks every engine to look for what it missed.
    assert heard.next_of(None) is None
    key = f"http://{uuid.uuid4().hex}:5050"
    wait_for("the new subscription", listener.subscribed.is_set)
    assert NudgePublisher(redis_url).publish(key)
    assert heard.next_of(key) == key
    admin.close()


# -- run_framework, end to end ----------------------------------------------------------------


def submit(env: Environment, line: str, instance: str) -> Task:
    spec = TaskSpec(
        task_id="", name=instance, command=CommandSpec.shell_line(line), cpus=0.1, mem=32
    )
    return task_submit(owner_kind="test", owner_id=9, instance=instance, environment=env, spec=spec)


@SHARED_DB
@pytest.mark.devcluster
def test_run_framework_with_a_long_poll_launches_and_kills_at_once_when_nudged(
    redis_url: str,
    shared_db: SharedDb,  # noqa: F811
    devcluster: DevCluster,
    tmp_path: Path,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (dev,) = point_environments_at(devcluster, "dev")
    settings.REDIS_URL = redis_url  # this process's writers
    monkeypatch.setenv("REDIS_URL", redis_url)  # the framework process's listener
    with FrameworkProcess(shared_db, tmp_path / "fw.log", "--poll", LONG_POLL) as framework:
        wait_for("the nudge listener", lambda: "Listening for nudges" in framework.log_text())
        wait_for(
            "the subscription",
            lambda: FrameworkRecord.objects.filter(
                cluster_key=devcluster.url, connected=True
            ).exists(),
        )

        try:
            task = submit(dev, "sleep 60", "nudged")
            task = wait_state(task, TaskState.RUNNING.value)

            task_kill(task=task)
            task = wait_state(task, TaskState.KILLED.value)
        except AssertionError:
            print(framework.log_text()[-6000:])  # shown with the failure
            raise

        assert framework.terminate() == 0
    assert task.desired == "kill"
