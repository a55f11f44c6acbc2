"""`manage.py run_framework`: the one process that speaks the Mesos scheduler API.

Exactly one replica is active: it holds the database lease and renews it well inside its
lifetime; the others wait and take over once it expires. The active one runs an engine
thread per Mesos cluster (cluster.framework), woken at once by writers' nudges through
Redis when REDIS_URL is set (cluster.nudge). SIGTERM or SIGINT ends it cleanly: engines
stop, connections close (no TEARDOWN: tasks keep running), the lease is released so a
standby takes over at once.
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import os
import signal
import socket
import threading
import time
import uuid
from datetime import timedelta
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, close_old_connections, connections

from cluster.framework import EngineOptions, Supervisor
from cluster.leader import FRAMEWORK_LEASE, lease_acquire, lease_release
from cluster.nudge import nudge_listener
from cluster.store import DjangoStore, cluster_configs

logger = logging.getLogger("cluster.framework")


def positive(text: str) -> float:
    value = not_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def not_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number, 0 or more")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


class Command(BaseCommand):
    help = "Run the Mesos framework: launch, kill and reconcile tasks (one active replica)."

    def add_arguments(self, parser: CommandParser) -> None:
        add = parser.add_argument
        # Every figure is checked here: a zero poll or a NaN budget would otherwise fail
        # every step of the loop, over and over.
        add("--lease-ttl", type=positive, default=10.0, help="leader lease lifetime (s)")
        add("--renew-every", type=positive, default=3.0, help="lease renewal interval (s)")
        add("--poll", type=positive, default=0.5, help="look for new work and kills every (s)")
        add("--refuse-seconds", type=not_negative, default=5.0, help="DECLINE filter, work waiting")
        add("--idle-refuse-seconds", type=not_negative, default=120.0, help="DECLINE filter, idle")
        add("--max-launches", type=positive_int, default=1000, help="launches per round at most")
        add(
            "--round-budget",
            type=positive,
            default=30.0,
            help="ms an offer round may take: its launches are limited to what fits",
        )
        add("--kill-retry", type=positive, default=30.0, help="re-send a KILL after (s)")
        add("--launch-timeout", type=positive, default=60.0, help="reconcile silent launches after")
        add("--reconcile-retry", type=positive, default=5.0, help="first reconcile retry (s)")
        add("--metrics-every", type=positive, default=5.0, help="store framework metrics every (s)")
        add(
            "--heartbeat-misses",
            type=positive,
            default=5.0,
            help="silent heartbeats, then reconnect",
        )
        add("--backoff-cap", type=positive, default=15.0, help="longest resubscribe backoff (s)")
        add("--holder", default="", help="name in the lease (default host:pid:random)")

    def handle(self, *args: Any, **options: Any) -> None:
        # Django and the imported code are here for good: keep the cycle collector from
        # walking them again and again (tens of ms) in the middle of offer rounds.
        gc.freeze()
        self.stop = threading.Event()
        self._install_signals()
        self.holder = (
            options["holder"] or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        )
        self.ttl = timedelta(seconds=options["lease_ttl"])
        self.renew_every = options["renew_every"]
        self.leading = False
        self.lease_until = 0.0
        self.supervisor = Supervisor(
            DjangoStore, engine_options(options), thread_exit=connections.close_all
        )
        # Listening on a standby too: it has no engines to wake, and is ready once it leads.
        self.listener = nudge_listener(self.supervisor.nudge)
        logger.info("Framework process %s started; waiting for the lease", self.holder)
        try:
            if self.listener is not None:
                self.listener.start()
            while not self.stop.is_set():
                self.step_lease()
                if self.leading:
                    self.step_clusters()
                self.stop.wait(self.renew_every if self.leading else min(1.0, self.renew_every))
        finally:
            self.shutdown()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals reach only the main thread; a caller in a thread stops us itself
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        logger.info("Signal %s: stopping", signal.Signals(signum).name)
        self.stop.set()

    def step_lease(self) -> bool:
        """Take or renew the lease; True when leadership changed."""
        try:
            held = lease_acquire(name=FRAMEWORK_LEASE, holder=self.holder, ttl=self.ttl)
        except DatabaseError as error:
            close_old_connections()
            # Unproven is not lost: keep leading until the lease we last renewed runs out.
            held = self.leading and time.monotonic() < self.lease_until
            logger.warning("Lease renewal failed (%s)", error)
        else:
            if held:
                self.lease_until = time.monotonic() + self.ttl.total_seconds()
        if held == self.leading:
            return False
        self.leading = held
        if held:
            logger.info("%s is now the active framework", self.holder)
        else:
            logger.warning("%s lost the lease; stopping engines and standing by", self.holder)
            self.supervisor.stop_all()
        return True

    def step_clusters(self) -> bool:
        """Start, update or stop engines to match the environments."""
        try:
            configs = cluster_configs()
        except DatabaseError as error:
            close_old_connections()
            logger.warning("Could not read environments: %s", error)
            return False
        return self.supervisor.sync(configs)

    def shutdown(self) -> None:
        if self.listener is not None:
            self.listener.stop()
        self.supervisor.stop_all()
        if self.leading:
            try:
                lease_release(name=FRAMEWORK_LEASE, holder=self.holder)
            except DatabaseError as error:
                logger.warning("Could not release the lease (%s); it expires by itself", error)
        self.leading = False
        logger.info("Framework process %s stopped", self.holder)


def engine_options(options: dict[str, Any]) -> EngineOptions:
    return EngineOptions(
        user=settings.BERTH_FRAMEWORK_USER,
        name=settings.BERTH_FRAMEWORK_NAME,
        hostname=socket.gethostname(),
        failover_timeout=float(settings.BERTH_FAILOVER_TIMEOUT),
        poll_seconds=options["poll"],
        refuse_seconds=options["refuse_seconds"],
        idle_refuse_seconds=options["idle_refuse_seconds"],
        max_launches_per_round=options["max_launches"],
        round_budget=options["round_budget"] / 1000,
        kill_retry_seconds=options["kill_retry"],
        launch_timeout=options["launch_timeout"],
        reconcile_retry_seconds=options["reconcile_retry"],
        metrics_seconds=options["metrics_every"],
        heartbeat_misses=options["heartbeat_misses"],
        backoff_cap=options["backoff_cap"],
    )
