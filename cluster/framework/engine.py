"""The engine for one Mesos cluster: drives Mesos toward the desired state in the store.

One thread runs `run()`, a loop of small steps that each return whether they did work
(tests call them directly). Stream events are dispatched to `on_<kind>` handlers; an
unknown or malformed event is logged and survived. Nothing here imports Django: the store
is injected.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from cluster.backoff import backoff_delay
from cluster.client import ConnectionClosed, MesosError, SchedulerConnection, SubscribeRejected
from cluster.framework.config import ClusterConfig, EngineOptions
from cluster.framework.demand import Demand
from cluster.framework.launching import Launcher
from cluster.framework.metrics import EngineMetrics
from cluster.framework.reconcile import Reconciler
from cluster.framework.storage import EngineStore
from cluster.states import is_terminal
from cluster.types import (
    DisconnectCause,
    DisconnectedEvent,
    ErrorEvent,
    Event,
    FailureEvent,
    HeartbeatEvent,
    InverseOffersEvent,
    MalformedEvent,
    MessageEvent,
    Offer,
    OffersEvent,
    OperationUpdateEvent,
    RescindEvent,
    RescindInverseOfferEvent,
    SubscribedEvent,
    TaskStatus,
    UnknownEvent,
    UpdateEvent,
)

logger = logging.getLogger(__name__)

# Drained per step; bounded so a flood of updates cannot starve kills and offers for long.
MAX_EVENTS_PER_STEP = 20_000
FAILED_OVER = "Framework failed over"


class ClusterEngine:
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
        self.conn = SchedulerConnection(
            list(config.masters),
            options=config.http_options(request_timeout=options.request_timeout),
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
        self._stashed: list[Event] = []
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
        """Sleep until an event arrives (kept for the next step) or `timeout` passes."""
        if self._stashed:
            return
        with contextlib.suppress(queue.Empty):
            self._stashed.append(self.conn.events.get(timeout=timeout))

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
        self.connected = True
        self._connect_attempt = 0
        self.demand.subscribed(suppressed, summary.newest_pk)
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
        events, self._stashed = self._stashed, []
        while len(events) < MAX_EVENTS_PER_STEP:
            try:
                events.append(self.conn.events.get_nowait())
            except queue.Empty:
                break
        return events

    def handle_events(self, events: Sequence[Event]) -> None:
        """Updates are stored in batches and the offers of the whole drain form one round;
        anything else is dispatched in order, after the updates that came before it."""
        rescinded = {e.offer_id for e in events if isinstance(e, RescindEvent)}
        updates: list[TaskStatus] = []
        offers: list[Offer] = []
        for event in events:
            if isinstance(event, UpdateEvent):
                updates.append(event.status)
            elif isinstance(event, OffersEvent):
                offers.extend(o for o in event.offers if o.id not in rescinded)
            else:
                if isinstance(event, SubscribedEvent | DisconnectedEvent):
                    self.store_updates(updates)
                    updates = []
                    offers = []  # offers die with the subscription that made them
                self.dispatch(event)
        self.store_updates(updates)
        if offers:
            self.dispatch(OffersEvent(tuple(offers)))

    def dispatch(self, event: Event) -> None:
        handler = getattr(self, f"on_{event.kind}", None)
        if handler is None:
            logger.warning("No handler for %s events; ignored", event.kind)
            return
        handler(event)

    def step_kills(self) -> bool:
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
        now = self.clock()
        if now < self._next_poll:
            return False
        self._next_poll = now + self.options.poll_seconds
        summary = self.store.pending_summary(self.config.key, self.demand.watermark)
        self.metrics.pending = summary.total
        if not self.connected:
            return False
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

    # -- updates -----------------------------------------------------------------

    def store_updates(self, statuses: Sequence[TaskStatus]) -> None:
        """Store, then acknowledge (invariant 3): if storing fails nothing is
        acknowledged, and the agents send the updates again."""
        if not statuses:
            return
        outcomes = self.store.updates_store(statuses)
        now = self.clock()
        self.metrics.updates.add(len(statuses), time.time())
        for outcome in outcomes:
            status = outcome.status
            self.reconciler.answered(status.task_id, now)
            if is_terminal(status.state):
                self._kills_sent.pop(status.task_id, None)
            elif not outcome.known:
                self._kill_orphan(status)
        self._acknowledge(statuses)

    def _acknowledge(self, statuses: Sequence[TaskStatus]) -> None:
        """Only updates with a uuid (the master's own have none, and acknowledging one would
        be a 400), pipelined: thousands a second arrive when many tasks start at once."""
        errors: list[MesosError | None]
        try:
            errors = list(self.conn.acknowledge_many(statuses))
        except MesosError as failure:
            errors = [failure]
        failed = next((error for error in errors if error is not None), None)
        if failed is not None:
            # Unacknowledged updates come again from the agents (to the next subscription
            # if this one ended), and storing them again is a no-op.
            logger.info("Some acknowledgements failed (%s); agents will resend", failed)

    def _kill_orphan(self, status: TaskStatus) -> None:
        """A task this framework runs but Berth has no row for (a restored database, a
        deleted row): nobody owns it, so it must not hold resources."""
        if status.task_id in self._orphans_killed:
            return
        self._orphans_killed.add(status.task_id)
        logger.warning(
            "Killing task %s: Mesos runs it for Berth but Berth has no record of it", status.task_id
        )
        try:
            self.conn.kill(status.task_id, status.agent_id)
        except MesosError as error:
            logger.warning("Could not kill orphan %s: %s", status.task_id, error)

    # -- handlers ----------------------------------------------------------------

    def on_subscribed(self, event: SubscribedEvent) -> None:
        if event.framework_id != self.framework_id:
            logger.info("Registered with %s as framework %s", self.config.key, event.framework_id)
            self.store.framework_id_save(self.config.key, event.framework_id)
        self.framework_id = event.framework_id
        self.connected = True
        self.last_error = ""
        now = self.clock()
        self.last_heartbeat = time.time()
        self.metrics.subscribed_at = time.time()
        self._kills_sent.clear()
        # Explicit reconciliation of everything Berth believes is live (invariant 2).
        self.send_reconcile(self.reconciler.begin(self.store.tasks_live(self.config.key), now))
        self._next_implicit = now + self.options.implicit_reconcile_seconds
        self._next_poll = 0.0
        self._save_status()

    def on_offers(self, event: OffersEvent) -> None:
        if not self.connected or self.framework_id is None:
            return  # an ended subscription's offers are already rescinded
        self.launcher.handle(event.offers, self.framework_id)

    def on_update(self, event: UpdateEvent) -> None:
        self.store_updates([event.status])

    def on_rescind(self, event: RescindEvent) -> None:
        # Offers are answered as soon as they arrive, so there is nothing to take back.
        logger.debug("Offer %s rescinded", event.offer_id)

    def on_inverse_offers(self, event: InverseOffersEvent) -> None:
        logger.info("Ignoring %d inverse offer(s) (maintenance)", len(event.inverse_offers))

    def on_rescind_inverse_offer(self, event: RescindInverseOfferEvent) -> None:
        logger.debug("Inverse offer %s rescinded", event.inverse_offer_id)

    def on_update_operation_status(self, event: OperationUpdateEvent) -> None:
        logger.info("Ignoring an operation status (%s): Berth starts no operations", event.state)

    def on_message(self, event: MessageEvent) -> None:
        logger.info("Message from executor %s on %s ignored", event.executor_id, event.agent_id)

    def on_failure(self, event: FailureEvent) -> None:
        if event.executor_id is None:
            # The master follows with an update for each task that ran there.
            logger.warning("Agent %s was removed from %s", event.agent_id, self.config.key)
        else:
            logger.info(
                "Executor %s on %s exited (status %s)",
                event.executor_id,
                event.agent_id,
                event.exit_code,
            )

    def on_error(self, event: ErrorEvent) -> None:
        logger.error("Mesos reported an error on %s: %s", self.config.key, event.message)

    def on_heartbeat(self, event: HeartbeatEvent) -> None:
        self.last_heartbeat = time.time()

    def on_unknown(self, event: UnknownEvent) -> None:
        logger.warning("Ignoring an event of unknown type %s: %s", event.type, event.raw)

    def on_malformed(self, event: MalformedEvent) -> None:
        logger.warning("Ignoring a malformed event (%s): %s", event.problem, event.raw)

    def on_disconnected(self, event: DisconnectedEvent) -> None:
        if not self.conn.is_current(event) or not self.connected:
            return
        self.connected = False
        self.last_error = event.reason
        self.reconciler.reset()
        if event.framework_removed:
            self._forget_framework(event.reason)
        if event.cause is DisconnectCause.CLOSED:
            return
        if event.cause is DisconnectCause.ERROR and FAILED_OVER in event.reason:
            # Another scheduler took this framework over; racing it back helps nobody.
            delay = self.options.backoff_cap
        else:
            delay = backoff_delay(
                self._connect_attempt, base=self.options.backoff_base, cap=self.options.backoff_cap
            )
        self._connect_attempt += 1
        self._next_connect = self.clock() + delay
        logger.warning(
            "Lost the subscription to %s (%s: %s); resubscribing in %.1f s",
            self.config.key,
            event.cause,
            event.reason,
            delay,
        )
        self._save_status()
