"""How the engine answers each stream event: `on_<kind>` handlers (STYLE rule 19).

Updates are stored and then acknowledged in batches; the offers of one drain form one
offer round; an event of an unknown type, or one that cannot be read, is logged and
survived. ClusterEngine (engine.py) owns the loop and the steps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from cluster.backoff import backoff_delay
from cluster.client import MesosError, SchedulerConnection
from cluster.framework.config import ClusterConfig, EngineOptions
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

logger = logging.getLogger("cluster.framework.engine")

FAILED_OVER = "Framework failed over"


class EventHandlers:
    """The event half of ClusterEngine; the attributes are the engine's."""

    config: ClusterConfig
    store: EngineStore
    options: EngineOptions
    conn: SchedulerConnection
    clock: Callable[[], float]
    metrics: EngineMetrics
    reconciler: Reconciler
    launcher: Launcher
    framework_id: str | None
    connected: bool
    last_heartbeat: float | None
    last_error: str
    _kills_sent: dict[str, float]
    _orphans_killed: set[str]
    _connect_attempt: int
    _next_connect: float
    _next_implicit: float
    _next_poll: float

    def send_reconcile(self, tasks: Sequence[tuple[str, str | None]]) -> None:
        raise NotImplementedError

    def _save_status(self) -> None:
        raise NotImplementedError

    def _forget_framework(self, reason: str) -> None:
        raise NotImplementedError

    def handle_events(self, events: Sequence[Event]) -> None:
        """Updates are stored in batches and the offers of the whole drain form one round;
        anything else is dispatched in order, after the updates that came before it. If
        anything fails on the way (the database, say), the drain's offers are declined
        before the error goes on: the updates come again from the agents, offers never."""
        try:
            self._handle_events(events)
        except Exception:
            self._decline_all(events)
            raise

    def _decline_all(self, events: Sequence[Event]) -> None:
        # Offers of an older subscription or already answered: a master ignores those.
        offer_ids = [o.id for e in events if isinstance(e, OffersEvent) for o in e.offers]
        if offer_ids and self.connected:
            try:
                self.conn.decline(offer_ids, self.options.refuse_seconds)
            except MesosError as error:
                logger.warning("DECLINE of %d offer(s) failed: %s", len(offer_ids), error)

    def _handle_events(self, events: Sequence[Event]) -> None:
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
