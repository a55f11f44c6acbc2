"""Shared pieces of the framework tests: a database other threads and processes can see,
engines in a thread, `manage.py run_framework` as a real subprocess, and waiting.

The database: pytest-django's test database lives inside one transaction (invisible to
anyone else), and on SQLite it is in memory. `shared_db` gives committed data instead:
on PostgreSQL the test database itself (transactional_db), on SQLite a file copy of the
migrated in-memory database that every connection opened during the test points at.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.conf import settings
from django.db import connection, connections

from cluster.client import MesosError, OperatorClient
from cluster.framework import ClusterEngine, EngineOptions
from cluster.models import Task
from cluster.store import DjangoStore, cluster_configs
from portal import crypto
from portal.models import Environment
from tests.devcluster_fixture import ROOT, DevCluster

T = TypeVar("T")
WAIT = 20.0  # generous: the suite shares two cores with devcluster processes

FAST = EngineOptions(
    user="root",
    name="berth-test",
    failover_timeout=300.0,
    poll_seconds=0.1,
    refuse_seconds=1.0,
    idle_refuse_seconds=5.0,
    revive_min_interval=0.2,
    kill_retry_seconds=2.0,
    launch_timeout=2.0,
    reconcile_retry_seconds=0.5,
    reconcile_retry_cap=2.0,
    metrics_seconds=0.3,
    why_not_seconds=0.2,
    heartbeat_misses=3.0,
    backoff_base=0.05,
    backoff_cap=0.5,
    request_timeout=10.0,
)

FAST_COMMAND = (
    "--lease-ttl", "3", "--renew-every", "0.5", "--poll", "0.1", "--refuse-seconds", "1",
    "--idle-refuse-seconds", "5", "--kill-retry", "2", "--launch-timeout", "2",
    "--reconcile-retry", "0.5", "--metrics-every", "0.3", "--heartbeat-misses", "3",
    "--backoff-cap", "0.5",
)  # fmt: skip


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
    """Poll `probe` until it returns something truthy; fail saying what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def task_state(task: Task) -> str:
    return str(Task.objects.values_list("state", flat=True).get(pk=task.pk))


def wait_state(task: Task, *states: str, timeout: float = WAIT) -> Task:
    wait_for(f"{task.mesos_task_id} to reach {states}", lambda: task_state(task) in states, timeout)
    task.refresh_from_db()
    return task


# -- the database -------------------------------------------------------------------


@dataclass(frozen=True)
class SharedDb:
    url: str  # DATABASE_URL for a subprocess


# Tests that use shared_db carry this mark: pytest-django then sets the test database
# up and uses transactional_db (committed data) for them.
SHARED_DB = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shared_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SharedDb]:
    marker = request.node.get_closest_marker("django_db")
    assert marker is not None and marker.kwargs.get("transaction"), "mark the test SHARED_DB"
    if connection.vendor != "sqlite":
        yield SharedDb(_postgres_url(connection.settings_dict))
    elif not connection.is_in_memory_db():  # type: ignore[attr-defined]
        yield SharedDb(f"sqlite:///{connection.settings_dict['NAME']}")
    else:
        yield from _sqlite_file_copy(tmp_path / "berth.sqlite3")


def _sqlite_file_copy(path: Path) -> Iterator[SharedDb]:
    settings_dict = connection.settings_dict
    memory_name = settings_dict["NAME"]
    connection.ensure_connection()
    target = sqlite3.connect(path)
    connection.connection.backup(target)
    target.close()
    # Keeps the in-memory database alive while no Django connection points at it.
    keeper = sqlite3.connect(memory_name, uri=True)
    # Django never closes an in-memory connection; with a file name it really closes.
    settings_dict["NAME"] = str(path)
    connection.close()
    try:
        yield SharedDb(f"sqlite:///{path}")
    finally:
        connections.close_all()
        settings_dict["NAME"] = memory_name
        connection.ensure_connection()
        keeper.close()


def _postgres_url(settings_dict: dict[str, Any]) -> str:
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "localhost"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


# -- environments on a devcluster -------------------------------------------------------


def point_environments_at(cluster: DevCluster, *slugs: str) -> list[Environment]:
    """Environments `slugs` (role = slug) on the test's devcluster, and no other: the data
    migration's would send a framework to a devcluster someone runs on the default port."""
    Environment.objects.exclude(slug__in=slugs).delete()
    for position, slug in enumerate(slugs):
        Environment.objects.update_or_create(
            slug=slug,
            defaults={
                "name": slug,
                "mesos_role": slug,
                "master_urls": cluster.url,
                "position": position,
            },
        )
    return list(Environment.objects.filter(slug__in=slugs).order_by("position"))


def engine_for(cluster: DevCluster, options: EngineOptions = FAST) -> ClusterEngine:
    (config,) = [c for c in cluster_configs() if c.key == cluster.url]
    return ClusterEngine(config, DjangoStore(), options)


class EngineThread:
    """An engine running in a thread, as run_framework runs it. On exit the engine stops
    (leaving its tasks running, as the real one does) and then its framework is torn down
    through the operator API, so a devcluster shared by several tests starts clean."""

    def __init__(self, engine: ClusterEngine, *, teardown: bool = True) -> None:
        self.engine = engine
        self.teardown = teardown
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.died: BaseException | None = None

    def _run(self) -> None:
        try:
            self.engine.run(self.stop)
        except BaseException as error:  # a test that simulates a crash looks at it
            self.died = error
        finally:
            connections.close_all()

    def __enter__(self) -> ClusterEngine:
        self.thread.start()
        return self.engine

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.engine.conn.close()
        self.thread.join(15)
        assert not self.thread.is_alive(), "the engine thread did not stop"
        if self.teardown and self.engine.framework_id:
            teardown_framework(self.engine.config.masters[0], self.engine.framework_id)


def teardown_framework(master: str, framework_id: str) -> None:
    with OperatorClient(master) as operator, contextlib.suppress(MesosError):
        operator.call("TEARDOWN", {"framework_id": {"value": framework_id}})


def faster(**changes: Any) -> EngineOptions:
    return replace(FAST, **changes)


# -- run_framework as a real process ------------------------------------------------------


class FrameworkProcess:
    """`manage.py run_framework` against the shared database, output in a log file."""

    def __init__(self, db: SharedDb, log: Path, *extra: str) -> None:
        self.db = db
        self.log = log
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> FrameworkProcess:
        crypto.key_count()  # the key ring file exists once it has been used
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": self.db.url,
            "BERTH_DATA_DIR": str(self.log.parent / "data"),
            "BERTH_SECRET_KEY": "framework-test",
            # The same key ring as this test process, so secrets decrypt in both.
            crypto.ENV_VAR: Path(settings.BERTH_ENCRYPTION_KEYS_FILE)
            .read_text()
            .replace("\n", ","),
            "BERTH_FAILOVER_TIMEOUT": "300",
            "BERTH_FRAMEWORK_NAME": "berth-test",
            "LOG_LEVEL": "INFO",
        }
        command = [sys.executable, "manage.py", "run_framework", *FAST_COMMAND, *self.extra]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, as a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def terminate(self, timeout: float = 20.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def __enter__(self) -> FrameworkProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
