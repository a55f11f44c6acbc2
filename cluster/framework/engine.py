"""The engine for one Mesos cluster: drives Mesos toward the desired state in the store.

One thread runs `run()`, a loop of small steps that each return whether they did work
(tests call them directly). Stream events go to the `on_<kind>` handlers of events.py.
Nothing here imports Django: the store is injected.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from cluster.backoff import backoff_delay
from cluster.client import ConnectionClosed, MesosError, SchedulerConnection, SubscribeRejected
from cluster.client.stream import parsed
from cluster.framework.config import ClusterConfig, EngineOptions
from cluster.framework.demand import Demand
from cluster.framework.events import EventHandlers
from cluster.framework.launching import Launcher
from cluster.framework.metrics import EngineMetrics
from cluster.framework.nudge import WakeQueue
from cluster.framework.reconcile import Reconciler
from cluster.framework.storage import EngineStore
from cluster.types import Event, UnparsedEvent

logger = logging.getLogger(__name__)

# Drained per step; bounded so a flood of updates cannot starve kills and offers for long.
MAX_EVENTS_PER_STEP = 20_000


class ClusterEngine(EventHandlers):
    def __init__(
        self,
        config: ClusterConfig,
        store: EngineStore,
        options: EngineOptions | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.store = store
        self.options = options = options or EngineOptions()
        self.clock = clock
        # nudge() can end the idle wait as an event does (see WakeQueue).
        self._events: WakeQueue[Event | UnparsedEvent] = WakeQueue()
        self._nudged = threading.Event()
        self.conn = SchedulerConnection(
            list(config.masters),
            options=config.http_options(request_timeout=options.request_timeout),
            events=self._events,
            # Updates are parsed here, between offer rounds, not in the stream's reader
            # thread, where they would take the interpreter from a round half the time.
            defer_parsing=True,
            heartbeat_misses=options.heartbeat_misses,
            backoff_base=options.backoff_base,
            backoff_cap=options.backoff_cap,
        )
        self.framework_id: str | None = None
        self.connected = False
        self.last_heartbeat: float | None = None
        self.last_error = ""
        self.metrics = EngineMetrics()
        self.demand = Demand(config.roles, revive_min_interval=options.revive_min_interval)
        self.reconciler = Reconciler(
            retry_seconds=options.reconcile_retry_seconds, retry_cap=options.reconcile_retry_cap
        )
        self.launcher = Launcher(
            config, store, self.conn, options, self.demand, self.metrics, clock
        )
        self.new_config: ClusterConfig | None = None  # set by another thread, applied here
        self._id_loaded = False
        self._connect_attempt = 0
        self._next_connect = 0.0
        self._stashed: list[Event | UnparsedEvent] = []
        self._kills_sent: dict[str, float] = {}
        self._orphans_killed: set[str] = set()
        self._next_poll = 0.0
        self._next_kill_check = 0.0
        self._next_stale_check = 0.0
        self._next_implicit = 0.0
        self._next_metrics = 0.0

    # -- the loop ----------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set; an error in a step is logged, then retried after a pause
        that grows, so a broken database is not hammered (and never a crash loop)."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    did = self.run_once()
                    failures = 0
                except ConnectionClosed:
                    if stop.is_set():
                        break  # closed by whoever stopped us, in the middle of a step
                    raise
                except Exception:
                    failures += 1
                    logger.exception("Framework step failed for %s", self.config.key)
                    self._recover()
                    stop.wait(min(30.0, 0.25 * 2 ** min(failures, 7)))
                    continue
                if not did:
                    self.wait(self.options.poll_seconds)
        finally:
            self.close()

    def run_once(self) -> bool:
        did = False
        for step in (
            self.step_config,
            self.step_connect,
            self.step_events,
            self.step_kills,
            self.step_demand,
            self.step_reconcile,
            self.step_metrics,
        ):
            did = step() or did
        return did

    def wait(self, timeout: float) -> None:
        """Sleep until an event arrives (kept for the next step), a nudge, or `timeout`."""
        if self._stashed or self._nudged.is_set():
            return
        event = self._events.get_or_wake(timeout)
        if event is not None:
            self._stashed.append(event)

    def nudge(self) -> None:
        """From any thread: new work or a kill is waiting; look now, not at the next poll."""
        self._nudged.set()
        self._events.wake()

    def _take_nudge(self) -> None:
        # Either step may see it first; both become due, and a nudge arriving after the
        # clear is kept for the next round (the reads below come after it).
        if self._nudged.is_set():
            self._nudged.clear()
            self._next_kill_check = self._next_poll = 0.0

    def close(self) -> None:
        """Leave the subscription without TEARDOWN: tasks keep running and the next
        leader resubscribes under the same framework id within the failover timeout."""
        self.conn.close()
        self.connected = False
        try:
            self.launcher.flush_why_not(force=True)
            self._save_status()
        except Exception:
            logger.exception("Could not record that %s is disconnected", self.config.key)

    def _recover(self) -> None:
        try:
            self.store.recover()
        except Exception:
            logger.exception("Store recovery failed")

    # -- steps -------------------------------------------------------------------

    def step_config(self) -> bool:
        """Apply roles that changed meanwhile (an environment was added or edited)."""
        config, self.new_config = self.new_config, None
        if config is None or config.roles == self.config.roles:
            return False
        logger.info("Roles of %s are now %s", config.key, ", ".join(config.roles))
        self.config = self.launcher.config = config
        self.demand.set_roles(config.roles)
        if self.connected:
            info = self.options.framework_info(config, self.framework_id)
            self.conn.update_framework(info, sorted(self.demand.suppressed))
        return True

    def step_connect(self) -> bool:
        if self.connected or self.clock() < self._next_connect:
            return False
        if not self._id_loaded:
            self.framework_id = self.store.framework_id_get(self.config.key)
            self._id_loaded = True
        summary = self.store.pending_summary(self.config.key, 0)
        suppressed = [r for r in self.config.roles if not summary.by_role.get(r)]
        # The connection would reuse an id it saw before; only the stored one counts.
        self.conn.framework_id = self.framework_id
        info = self.options.framework_info(self.config, self.framework_id)
        try:
            self.conn.connect(info, suppressed, max_rounds=1)
        except SubscribeRejected as error:
            self._subscribe_failed(str(error), removed=error.framework_removed)
            return True
        except MesosError as error:
            self._subscribe_failed(str(error), removed=False)
            return True
        self._connect_attempt = 0
        self.demand.subscribed(suppressed, summary.newest_pk)
        # SUBSCRIBED is already queued: on_subscribed records the framework id, marks us
        # connected and starts reconciling, before anything else is looked at.
        self.step_events()
        return True

    def _subscribe_failed(self, reason: str, *, removed: bool) -> None:
        self.last_error = reason
        if removed:
            self._forget_framework(reason)
            self._next_connect = self.clock()
            return
        delay = backoff_delay(
            self._connect_attempt, base=self.options.backoff_base, cap=self.options.backoff_cap
        )
        self._connect_attempt += 1
        self._next_connect = self.clock() + delay
        logger.warning(
            "Subscribing to %s failed (%s); next try in %.1f s", self.config.key, reason, delay
        )
        self._save_status()

    def _forget_framework(self, reason: str) -> None:
        logger.error(
            "Mesos removed framework %s of %s (%s). Its tasks are gone; subscribing as a "
            "NEW framework, and reconciliation will report every task it had as lost.",
            self.framework_id,
            self.config.key,
            reason,
        )
        self.framework_id = None
        self.conn.framework_id = None
        self.store.framework_id_save(self.config.key, None)

    def step_events(self) -> bool:
        events = self._drain()
        if not events:
            return False
        self.handle_events(events)
        return True

    def _drain(self) -> list[Event]:
        taken, self._stashed = self._stashed, []
        while len(taken) < MAX_EVENTS_PER_STEP:
            try:
                taken.append(self.conn.events.get_nowait())
            except queue.Empty:
                break
        return [parsed(item) for item in taken]

    def step_kills(self) -> bool:
        self._take_nudge()
        now = self.clock()
        if now < self._next_kill_check:
            return False
        self._next_kill_check = now + self.options.poll_seconds
        did = self.store.kills_settle_pending(self.config.key) > 0
        if not self.connected:
            return did
        due = self.store.kills_due(self.config.key, 1000)
        if len(due) < 1000:
            wanted = {order.task_id for order in due}
            self._kills_sent = {t: at for t, at in self._kills_sent.items() if t in wanted}
        for order in due:
            sent = self._kills_sent.get(order.task_id)
            if sent is not None and now - sent < self.options.kill_retry_seconds:
                continue
            self.conn.kill(order.task_id, order.agent_id or None)
            self._kills_sent[order.task_id] = now
            self.metrics.kills.add(1, time.time())
            did = True
        return did

    def step_demand(self) -> bool:
        self._take_nudge()
        now = self.clock()
        if now < self._next_poll:
            return False
        self._next_poll = now + self.options.poll_seconds
        summary = self.store.pending_summary(self.config.key, self.demand.watermark)
        self.metrics.pending = summary.total
        if not self.connected:
            return False
        self.launcher.sync(summary)
        revive, suppress = self.demand.decide(summary, now)
        if revive:
            self.conn.revive(revive)
            self.demand.revived(revive, now)
            logger.info("Reviving offers for %s: work is waiting", ", ".join(revive))
        if suppress:
            self.conn.suppress(suppress)
            self.demand.suppressed_now(suppress)
            logger.info("Suppressing offers for %s: nothing to launch", ", ".join(suppress))
        return bool(revive or suppress)

    def step_reconcile(self) -> bool:
        if not self.connected:
            return False
        now = self.clock()
        asked: list[tuple[str, str | None]] = []
        if now >= self._next_stale_check:
            self._next_stale_check = now + max(1.0, self.options.launch_timeout / 2)
            uncertain = self.store.tasks_uncertain(self.config.key, self.options.launch_timeout)
            asked += self.reconciler.add(uncertain, now)
        asked += self.reconciler.due(now)
        self.send_reconcile(asked)
        if now >= self._next_implicit:
            # Also hears of tasks Berth has no row for, which on_update then kills.
            self._next_implicit = now + self.options.implicit_reconcile_seconds
            self.conn.reconcile([])
            return True
        return bool(asked)

    def send_reconcile(self, tasks: Sequence[tuple[str, str | None]]) -> None:
        chunk = self.options.reconcile_chunk
        for start in range(0, len(tasks), chunk):
            self.conn.reconcile(tasks[start : start + chunk])

    def step_metrics(self) -> bool:
        now = self.clock()
        self.launcher.flush_why_not()
        if now < self._next_metrics:
            return False
        self._next_metrics = now + self.options.metrics_seconds
        self._save_status()
        return False  # bookkeeping: never a reason to skip the idle wait

    def _save_status(self) -> None:
        snapshot = self.metrics.snapshot(
            time.time(),
            reconcile_lag=self.reconciler.lag(self.clock()),
            reconciling=len(self.reconciler.outstanding),
        )
        snapshot["suppressed_roles"] = sorted(self.demand.suppressed)
        self.store.framework_status_save(
            self.config,
            connected=self.connected,
            leader_url=self.conn.leader_url or "",
            last_heartbeat=self.last_heartbeat,
            suppressed=self.demand.all_suppressed,
            metrics=snapshot,
            error="" if self.connected else self.last_error,
        )
