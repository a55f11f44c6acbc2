"""Nudges: writers of desired state tell the framework to look now instead of at its next poll.

Transport: Redis pub/sub, one channel per Redis database (`berth:nudge:<db>`; pub/sub
ignores database numbers, so two Berths sharing a server with different numbers stay
apart), each message the cluster key whose work or kills changed. Without Redis there are
no nudges: the engine's poll (`EngineOptions.poll_seconds`) is then the whole latency. A
local UDP fallback was left out on purpose: the embedded default runs everything on one
machine where `./berth up` starts a Redis whenever `redis-server` is installed, and a
second transport would add a port file, stale-port cases and a second code path for
what only saves a fraction of a second there.

A nudge is a hint, never the record: the row is committed before it is sent, and the
engine still polls, so a nudge that is lost (Redis down, listener reconnecting) costs
latency only. Publishing never raises; the listener never ends until it is stopped.

Nothing here imports Django; cluster.nudge reads the settings and waits for commits.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cluster.backoff import backoff_delay

logger = logging.getLogger(__name__)

T = TypeVar("T")

CHANNEL_PREFIX = "berth:nudge:"
# A writer must never wait long on Redis: a nudge is worth less than the write it follows.
PUBLISH_TIMEOUT = 0.5
# After a failed publish, nudges are dropped for this long instead of each write paying
# another connect timeout against a Redis that is down.
PUBLISH_PAUSE = 5.0


def redis_client(url: str, *, timeout: float, name: str | None = None) -> redis.Redis:
    """A client that fails fast and never retries by itself: callers own the policy.
    ValueError when `url` is not a Redis URL."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        client_name=name,
        # A PING now and then, so a connection that died silently is noticed.
        health_check_interval=30,
    )


def nudge_channel(client: redis.Redis) -> str:
    return f"{CHANNEL_PREFIX}{client.get_connection_kwargs().get('db', 0)}"


class NudgePublisher:
    """Sends nudges for writers. Thread-safe (redis-py pools connections per process and
    starts a fresh pool after a fork); `publish` returns whether Redis took it."""

    def __init__(
        self,
        url: str,
        *,
        pause: float = PUBLISH_PAUSE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = redis_client(url, timeout=PUBLISH_TIMEOUT)
        self.channel = nudge_channel(self.client)
        self.pause = pause
        self.clock = clock
        self._paused_until = 0.0
        self._failing = False

    def publish(self, cluster_key: str) -> bool:
        if self.clock() < self._paused_until:
            return False
        try:
            self.client.publish(self.channel, cluster_key)
        except (redis.RedisError, OSError) as error:
            self._paused_until = self.clock() + self.pause
            log = logger.debug if self._failing else logger.warning
            log("Could not nudge the framework through Redis (%s); it polls instead", error)
            self._failing = True
            return False
        if self._failing:
            logger.info("Nudges reach Redis again")
            self._failing = False
        return True

    def close(self) -> None:
        self.client.close()


class NudgeListener:
    """Calls `on_nudge(cluster_key)` for each nudge, from a thread of its own.

    Each time a subscription is (re)established it also calls `on_nudge(None)`, meaning
    "look at every cluster": nudges sent while it was not listening are gone. A lost
    connection is retried with capped, jittered backoff; nothing ends the thread but
    `stop()`.
    """

    def __init__(
        self,
        url: str,
        on_nudge: Callable[[str | None], None],
        *,
        name: str = "berth-framework",
        tick: float = 0.5,
        backoff_base: float = 0.5,
        backoff_cap: float = 15.0,
    ) -> None:
        self.client = redis_client(url, timeout=10.0, name=name)
        self.channel = nudge_channel(self.client)
        self.on_nudge = on_nudge
        self.tick = tick  # how soon stop() is noticed
        self.backoff = (backoff_base, backoff_cap)
        self.subscribed = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._attempt = 0
        self._failing = False
        self._listened = False

    def start(self) -> NudgeListener:
        self._thread = threading.Thread(target=self.run, name="nudge listener", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("The nudge listener did not stop within %.0f s", timeout)
        self.client.close()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except (redis.RedisError, OSError) as error:
                log = logger.debug if self._failing else logger.warning
                log("Nudge listener lost Redis (%s); retrying", error)
                self._failing = True
                self._pause()
            except Exception:
                # Anything else too: a dead listener would turn nudges off for good.
                logger.exception("Nudge listener failed; retrying")
                self._pause()

    def _pause(self) -> None:
        self.subscribed.clear()
        base, cap = self.backoff
        delay = backoff_delay(self._attempt, base=base, cap=cap)
        self._attempt += 1
        self._stop.wait(delay)

    def _listen(self) -> None:
        pubsub = self.client.pubsub()  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(self.channel)
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=self.tick)
                if message is not None:
                    self._on_message(message)
        finally:
            pubsub.close()

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "subscribe":
            self._attempt = 0
            if self._failing:
                logger.info("Nudge listener is subscribed again")
            elif not self._listened:
                logger.info("Listening for nudges on Redis channel %s", self.channel)
            self._failing = False
            self._listened = True
            self.subscribed.set()
            self._deliver(None)
        elif kind == "message":
            data = message.get("data")
            if isinstance(data, bytes) and data:
                self._deliver(data.decode("utf-8", "replace"))

    def _deliver(self, cluster_key: str | None) -> None:
        try:
            self.on_nudge(cluster_key)
        except Exception:
            logger.exception("Handling a nudge for %s failed", cluster_key or "every cluster")


class WakeQueue(queue.Queue[T]):
    """A queue whose blocking read another thread can also end with `wake()`.

    A wake with nobody waiting ends the next wait at once, so it cannot fall in the gap
    between a caller's last look and its wait.
    """

    def __init__(self) -> None:
        super().__init__()
        self._woken = False

    def wake(self) -> None:
        with self.not_empty:
            self._woken = True
            self.not_empty.notify_all()

    def get_or_wake(self, timeout: float) -> T | None:
        """The next item; None when woken or after `timeout` seconds with neither."""
        deadline = time.monotonic() + timeout
        with self.not_empty:
            while not self._qsize() and not self._woken:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.not_empty.wait(remaining)
            self._woken = False
            if not self._qsize():
                return None
            item = self._get()
            self.not_full.notify()
            return item
