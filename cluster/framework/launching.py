"""One offer round: load the queue, decide, record the launches, then ACCEPT and DECLINE.

Order matters (invariant 2): task ids, agents and ports are committed as LAUNCHING before
the ACCEPT goes out, so a crash between the two leaves tasks that reconciliation settles,
never a task Mesos runs and Berth has no record of. Every offer of the round is answered,
also when something fails half-way (invariant 5).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cluster.client import (
    ConnectionClosed,
    MesosError,
    MesosHttpError,
    NotSubscribed,
    SchedulerConnection,
    TooManyRedirects,
)
from cluster.framework.config import ClusterConfig, EngineOptions
from cluster.framework.demand import Demand
from cluster.framework.metrics import EngineMetrics, OfferRound
from cluster.framework.offers import RoundPlan, launch_spec, plan_round, stored_attributes
from cluster.framework.storage import EngineStore, LaunchRecord, PendingWork
from cluster.placement import RunningOn
from cluster.translate import launch_operation, task_info
from cluster.translate.calls import Json
from cluster.types import Offer

logger = logging.getLogger(__name__)

# The call never reached a master that acted on it: its tasks may go out again as they are.
_NOT_APPLIED = (MesosHttpError, NotSubscribed, ConnectionClosed, TooManyRedirects)


@dataclass
class _Round:
    offers: dict[str, Offer]
    answered: set[str] = field(default_factory=set)
    launched: int = 0


class Launcher:
    def __init__(
        self,
        config: ClusterConfig,
        store: EngineStore,
        conn: SchedulerConnection,
        options: EngineOptions,
        demand: Demand,
        metrics: EngineMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.store = store
        self.conn = conn
        self.options = options
        self.demand = demand
        self.metrics = metrics
        self.clock = clock
        self._cache: dict[int, PendingWork] = {}
        self._why_not: dict[int, dict[str, int]] = {}
        self._why_not_dirty = False
        self._why_not_at = 0.0

    # -- the round ---------------------------------------------------------------

    def handle(self, offers: Sequence[Offer], framework_id: str) -> None:
        started = self.clock()
        current = _Round({offer.id: offer for offer in offers})
        roles = sorted({offer.allocation_role or "*" for offer in offers})
        self.metrics.offers_received.add(len(offers), time.time())
        decided = started
        try:
            work = self._pending(roles)
            if not work:
                self._decline(
                    current, list(current.offers), self.options.idle_refuse_seconds, roles
                )
                return
            plan = plan_round(list(current.offers.values()), work, self._running(work))
            self._remember_why_not(plan.why_not)
            infos, records = self._build(plan, current)
            marked = self.store.tasks_mark_launching(records, framework_id) if records else set()
            decided = self.clock()
            refuse = self._refuse_seconds(plan, len(work))
            self._accept_all(current, plan, infos, marked, refuse)
            self._decline(current, list(plan.declines), refuse, roles)
        finally:
            # Whatever failed above, no offer stays with us unanswered.
            left = [offer_id for offer_id in current.offers if offer_id not in current.answered]
            if left:
                self._decline(current, left, self.options.refuse_seconds, roles)
            done = self.clock()
            self.metrics.rounds.append(
                OfferRound(len(offers), current.launched, decided - started, done - started)
            )

    def _refuse_seconds(self, plan: RoundPlan, loaded: int) -> float:
        more = bool(plan.why_not) or loaded >= self.options.pending_batch
        return self.options.refuse_seconds if more else self.options.idle_refuse_seconds

    def _pending(self, roles: Sequence[str]) -> list[PendingWork]:
        """The queue for these roles; specs already parsed are kept, since they never
        change while a task waits."""
        pks = self.store.pending_pks(self.config.key, roles, self.options.pending_batch)
        wanted = set(pks)
        for pk in [pk for pk, w in self._cache.items() if w.role in roles and pk not in wanted]:
            self._forget(pk)
        missing = [pk for pk in pks if pk not in self._cache]
        if missing:
            loaded, problems = self.store.pending_load(missing)
            self._cache.update((w.pk, w) for w in loaded)
            if problems:
                logger.error("%d pending task(s) have a spec Berth cannot read", len(problems))
                self.store.tasks_fail(problems)
        return [self._cache[pk] for pk in pks if pk in self._cache]

    def _running(self, work: Sequence[PendingWork]) -> dict[str, list[RunningOn]]:
        groups = sorted({w.group for w in work if w.constraints})
        if not groups:
            return {}
        return self.store.running_placements(self.config.key, groups)

    def _build(
        self, plan: RoundPlan, current: _Round
    ) -> tuple[dict[int, Json], list[LaunchRecord]]:
        """TaskInfos with configuration and secrets resolved now; they live only in memory
        until sent, and are never logged."""
        configured: dict[tuple[int, int | None], dict[str, str]] = {}
        infos: dict[int, Json] = {}
        records: list[LaunchRecord] = []
        problems: dict[int, str] = {}
        for accept in plan.accepts:
            offer = plan.offers[accept.offer_ids[0]]
            attributes = stored_attributes(offer)
            endpoint = current.offers[accept.offer_ids[0]].agent_endpoint
            agent_url = endpoint.base_url if endpoint is not None else ""
            for work, ports in accept.launches:
                key = (work.environment_id, work.team_id)
                try:
                    if key not in configured:
                        configured[key] = self.store.launch_environment(*key)
                    spec = launch_spec(work, ports, offer.hostname, configured[key])
                    infos[work.pk] = task_info(
                        spec, agent_id=accept.agent_id, allocation_role=accept.role
                    )
                except ValueError as error:
                    problems[work.pk] = f"cannot launch: {error}"
                    continue
                records.append(
                    LaunchRecord(
                        work.pk,
                        work.task_id,
                        accept.agent_id,
                        offer.hostname,
                        agent_url,
                        tuple(ports),
                        attributes,
                    )
                )
        if problems:
            self.store.tasks_fail(problems)
            for pk in problems:
                self._forget(pk)
        return infos, records

    def _accept_all(
        self,
        current: _Round,
        plan: RoundPlan,
        infos: Mapping[int, Json],
        marked: set[int],
        refuse: float,
    ) -> None:
        for accept in plan.accepts:
            launching = [w.pk for w, _ in accept.launches if w.pk in marked]
            for pk in launching:
                self._forget(pk)
            if not launching:
                self._decline(current, list(accept.offer_ids), refuse, [accept.role])
                continue
            operation = launch_operation([infos[pk] for pk in launching])
            current.answered.update(accept.offer_ids)
            try:
                self.conn.accept(accept.offer_ids, [operation], refuse)
            except _NOT_APPLIED as error:
                logger.warning(
                    "ACCEPT on %s refused (%s); %d task(s) wait for another offer",
                    accept.agent_id,
                    error,
                    len(launching),
                )
                self.store.tasks_unlaunch(launching)
                continue
            except MesosError as error:
                # The master may have acted on it: reconciliation settles these tasks.
                logger.warning("ACCEPT on %s may not have arrived: %s", accept.agent_id, error)
            current.launched += len(launching)
            self.metrics.launches.add(len(launching), time.time())
            self.metrics.offers_used.add(len(accept.offer_ids), time.time())

    def _decline(
        self, current: _Round, offer_ids: list[str], refuse: float, roles: Sequence[str]
    ) -> None:
        offer_ids = [o for o in offer_ids if o not in current.answered]
        if not offer_ids:
            return
        current.answered.update(offer_ids)
        try:
            self.conn.decline(offer_ids, refuse)
        except MesosError as error:
            # Offers die with their subscription; nothing is held if this one ended.
            logger.warning("DECLINE of %d offer(s) failed: %s", len(offer_ids), error)
            return
        self.demand.declined(roles)
        self.metrics.offers_declined.add(len(offer_ids), time.time())

    # -- why tasks wait ----------------------------------------------------------

    def _remember_why_not(self, counts: Mapping[int, Mapping[str, int]]) -> None:
        for pk, reasons in counts.items():
            total = self._why_not.setdefault(pk, {})
            for reason, count in reasons.items():
                total[reason] = total.get(reason, 0) + count
        if counts:
            self._why_not_dirty = True

    def flush_why_not(self, *, force: bool = False) -> bool:
        """Write the counts, at most every why_not_seconds: a pending task must not cost
        a database write per offer round."""
        now = self.clock()
        if not self._why_not_dirty or (
            not force and now - self._why_not_at < self.options.why_not_seconds
        ):
            return False
        self._why_not_at = now
        self._why_not_dirty = False
        self.store.why_not_save({pk: dict(c) for pk, c in self._why_not.items()})
        return True

    def _forget(self, pk: int) -> None:
        self._cache.pop(pk, None)
        self._why_not.pop(pk, None)

    @property
    def tracked(self) -> int:
        return len(self._cache)
