"""One offer round: load the queue, decide, record the launches, then ACCEPT and DECLINE.

Order matters (invariant 2): task ids, agents and ports are committed as LAUNCHING before
the ACCEPT goes out, so a crash between the two leaves tasks that reconciliation settles,
never a task Mesos runs and Berth has no record of. Every offer of the round is answered,
also when something fails half-way (invariant 5).
"""

from __future__ import annotations

import contextlib
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
from cluster.framework.offers import (
    AcceptPlan,
    RoundPlan,
    launch_spec,
    plan_round,
    stored_attributes,
)
from cluster.framework.pools import ResourcePools, has_reserved
from cluster.framework.storage import EngineStore, LaunchRecord, PendingSummary, PendingWork
from cluster.framework.taskinfo import TaskInfoTemplate, needs_own_build
from cluster.gcpause import collector_paused
from cluster.placement import PendingTask, PlacementSpec, RunningOn
from cluster.translate import (
    EncodedCall,
    accept_launch_encoded,
    decline_call,
    encode_call,
    revive_call,
    task_info,
)
from cluster.translate.calls import Json
from cluster.types import Offer

logger = logging.getLogger(__name__)

# The call never reached a master that acted on it: its tasks may go out again as they are.
_NOT_APPLIED = (MesosHttpError, NotSubscribed, ConnectionClosed, TooManyRedirects)


def _mix(average: float, seen: float) -> float:
    """A moving average that follows a change within a few rounds."""
    return 0.7 * average + 0.3 * seen


class _InfoBuilder:
    """TaskInfos of one round: configuration resolved once per environment and team,
    one template per spec, environment, role and owner."""

    def __init__(self, store: EngineStore) -> None:
        self.store = store
        self.configured: dict[tuple[int, int | None], dict[str, str]] = {}
        self.templates: dict[tuple[object, ...], TaskInfoTemplate] = {}

    def build(
        self,
        work: PendingWork,
        ports: Sequence[int],
        agent_id: str,
        role: str,
        hostname: str,
        pools: ResourcePools | None = None,
    ) -> str:
        """The TaskInfo as JSON text. With `pools` (an ACCEPT whose offers hold resources
        reserved for the role), its resources are drawn from them, reserved first."""
        scope = (work.environment_id, work.team_id)
        if scope not in self.configured:
            self.configured[scope] = self.store.launch_environment(*scope)
        configured = self.configured[scope]
        if needs_own_build(work):
            spec = launch_spec(work, ports, hostname, configured)
            info = task_info(spec, agent_id=agent_id, allocation_role=role)
            if pools is not None:
                info["resources"] = pools.draw(_scalars(info), ports)
            return encode_call(info).decode()
        # Specs read from identical stored JSON are one object (the store parses each once).
        key = (id(work.spec), *scope, role, tuple(sorted(work.labels.items())))
        template = self.templates.get(key)
        if template is None:
            template = self.templates[key] = TaskInfoTemplate(work, configured, role)
        if pools is not None:
            return template.stamp_drawn(work.task_id, agent_id, ports, hostname, pools)
        return template.stamp(work.task_id, agent_id, ports, hostname)


def _scalars(info: Json) -> list[tuple[str, float]]:
    return [(r["name"], r["scalar"]["value"]) for r in info["resources"] if r["name"] != "ports"]


def _pools(offers: Sequence[Offer], role: str) -> ResourcePools | None:
    """The pools the tasks of one ACCEPT draw from, when its offers hold resources reserved
    for the role; None otherwise (the common case: every task takes unreserved resources,
    and its TaskInfo is the template's with only the ports stamped)."""
    return ResourcePools(offers, role) if has_reserved(offers, role) else None


@dataclass
class _Round:
    offers: dict[str, Offer]
    started: float
    answered: set[str] = field(default_factory=set)
    launched: int = 0
    planned: float | None = None
    decided: float | None = None
    sent: float | None = None

    def mark_sent(self, now: float) -> None:
        self.sent = now


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
        # The queue, loaded outside offer rounds (sync) so a round reads no rows: pks in
        # queue order, and the parsed work of each.
        self._queue: list[int] = []
        self._cache: dict[int, PendingWork] = {}
        self._synced: PendingSummary | None = None
        self._placed: dict[int, PendingTask] = {}
        # What a round costs, learnt from the rounds so far: the decision, and seconds
        # per launch after it (recording, building and sending). The launch limit is
        # what fits in round_budget. Until rounds have been seen, a guess on the slow
        # side: a quarter of the budget to decide, a tenth of a millisecond per launch.
        self._fixed = options.round_budget / 4
        self._per_launch = 0.0001
        self._asked_more_at = -1e18  # the last REVIVE for the tasks a limit left over
        self._shapes: dict[tuple[object, ...], PlacementSpec] = {}
        self._why_not: dict[int, dict[str, int]] = {}
        self._why_not_dirty = False
        self._why_not_at = 0.0

    # -- the round ---------------------------------------------------------------

    def handle(self, offers: Sequence[Offer], framework_id: str) -> None:
        started = self.clock()
        current = _Round({offer.id: offer for offer in offers}, started=started)
        roles = sorted({offer.allocation_role or "*" for offer in offers})
        self.metrics.offers_received.add(len(offers), time.time())
        try:
            with collector_paused():
                self._decide_and_send(current, roles, framework_id)
        finally:
            # Whatever failed above, no offer stays with us unanswered.
            left = [offer_id for offer_id in current.offers if offer_id not in current.answered]
            if left:
                self._decline(current, left, self.options.refuse_seconds, roles)
            self._measure(current)

    def _decide_and_send(self, current: _Round, roles: Sequence[str], framework_id: str) -> None:
        work = self._pending(roles)
        if not work:
            self._decline(current, list(current.offers), self.options.idle_refuse_seconds, roles)
            return
        plan = plan_round(
            list(current.offers.values()),
            work,
            self._running(work),
            self._placed,
            self._launch_limit(),
        )
        current.planned = self.clock()
        self._remember_why_not(plan.why_not)
        infos, records = self._build(plan, current)
        marked = self.store.tasks_mark_launching(records, framework_id) if records else set()
        current.decided = self.clock()
        refuse = self._refuse_seconds(plan, len(work))
        self._answer(current, plan, infos, marked, refuse, framework_id, roles)
        self._learn(current)

    def _launch_limit(self) -> int:
        """How many launches fit in one round's time budget at the costs seen so far: a
        round must answer its offers promptly (they are the cluster's, not ours), and what
        does not fit goes with the next offers, asked for at once (see _answer)."""
        options = self.options
        fits = int((options.round_budget - self._fixed) / max(self._per_launch, 1e-6))
        # The floor keeps a slow round launching something; it never lifts the ceiling.
        floor = min(options.min_launches_per_round, options.max_launches_per_round)
        limit = max(floor, min(fits, options.max_launches_per_round))
        self.metrics.launch_limit = limit
        return limit

    def _learn(self, current: _Round) -> None:
        if current.sent is None or current.planned is None:
            return
        # The decision's cost grows a little with its launches: counting all of it as
        # fixed makes a larger limit raise it, and the next limit shrink: it settles.
        self._fixed = _mix(self._fixed, current.planned - current.started)
        if current.launched >= self.options.min_launches_per_round:
            self._per_launch = _mix(
                self._per_launch, (current.sent - current.planned) / current.launched
            )

    def _measure(self, current: _Round) -> None:
        done = self.clock()
        decided = current.decided if current.decided is not None else done
        sent = current.sent if current.sent is not None else done
        planned = current.planned if current.planned is not None else decided
        start = current.started
        self.metrics.rounds.append(
            OfferRound(
                start,
                len(current.offers),
                current.launched,
                decided - start,
                sent - start,
                done - start,
                planned - start,
            )
        )

    def _refuse_seconds(self, plan: RoundPlan, loaded: int) -> float:
        if plan.capped:
            return 0.0  # tasks that fit are waiting: have the offers back at once
        more = bool(plan.why_not) or loaded >= self.options.pending_batch
        return self.options.refuse_seconds if more else self.options.idle_refuse_seconds

    def sync(self, summary: PendingSummary) -> None:
        """Reload the queue when the store's pending work differs from what is held (new
        tasks, kills, launches handed back). Called between rounds: a round then reads
        nothing. A queue a little out of date is safe: marking a task LAUNCHING is
        conditional on it still being pending and wanted (tasks_mark_launching)."""
        if self._synced is not None and self._matches(summary):
            return
        self._load(self.config.roles)
        self._synced = summary

    def _matches(self, summary: PendingSummary) -> bool:
        if len(self._cache) >= self.options.pending_batch:
            return False  # a capped load: what lies beyond it changes without a sign here
        held: dict[str, int] = {}
        sums: dict[str, int] = {}
        for pk, work in self._cache.items():
            held[work.role] = held.get(work.role, 0) + 1
            sums[work.role] = sums.get(work.role, 0) + pk
        # Only the roles this cluster serves: a task left pending under a role it no
        # longer serves must not make every poll reload the queue.
        roles = self.config.roles
        if held != {role: n for role, n in summary.by_role.items() if n and role in roles}:
            return False
        # Equal counts may hide a kill and a new task: the pks' sums tell them apart.
        if summary.pk_sums is None:
            return True
        return sums == {r: n for r, n in summary.pk_sums.items() if n and r in roles}

    def _pending(self, roles: Sequence[str]) -> list[PendingWork]:
        """The queue for these roles, as last synced (or loaded now if never)."""
        if self._synced is None:
            self._load(self.config.roles)
        wanted = set(roles)
        cache = self._cache
        return [cache[pk] for pk in self._queue if pk in cache and cache[pk].role in wanted]

    def _load(self, roles: Sequence[str]) -> None:
        """Specs already parsed are kept, since they never change while a task waits."""
        pks = self.store.pending_pks(self.config.key, roles, self.options.pending_batch)
        wanted = set(pks)
        for pk in [pk for pk in self._cache if pk not in wanted]:
            self._forget(pk)
        self._queue = pks
        missing = [pk for pk in pks if pk not in self._cache]
        if missing:
            loaded, problems = self.store.pending_load(missing)
            if not self._cache:
                self._shapes.clear()  # nothing waits: forget needs no task has any more
            for w in loaded:
                try:
                    placed = w.placement(self._shapes)
                except ValueError as error:  # one bad spec must not stop every launch
                    problems[w.pk] = f"the stored spec cannot be placed: {error}"
                    continue
                self._cache[w.pk] = w
                self._placed[w.pk] = placed
                if w.why_not and w.pk not in self._why_not:
                    self._why_not[w.pk] = dict(w.why_not)
            if problems:
                logger.error("%d pending task(s) have a spec Berth cannot read", len(problems))
                self.store.tasks_fail(problems)

    def _running(self, work: Sequence[PendingWork]) -> dict[str, list[RunningOn]]:
        groups = sorted({w.group for w in work if w.constraints})
        if not groups:
            return {}
        return self.store.running_placements(self.config.key, groups)

    def _build(self, plan: RoundPlan, current: _Round) -> tuple[dict[int, str], list[LaunchRecord]]:
        """TaskInfos with configuration and secrets resolved now; they live only in memory
        until sent, and are never logged."""
        builder = _InfoBuilder(self.store)
        infos: dict[int, str] = {}
        records: list[LaunchRecord] = []
        problems: dict[int, str] = {}
        for accept in plan.accepts:
            offer = plan.offers[accept.offer_ids[0]]
            attributes = stored_attributes(offer)
            endpoint = current.offers[accept.offer_ids[0]].agent_endpoint
            agent_url = endpoint.base_url if endpoint is not None else ""
            pools = _pools([current.offers[offer_id] for offer_id in accept.offer_ids], accept.role)
            for work, ports in accept.launches:
                try:
                    infos[work.pk] = builder.build(
                        work, ports, accept.agent_id, accept.role, offer.hostname, pools
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

    def _answer(
        self,
        current: _Round,
        plan: RoundPlan,
        infos: Mapping[int, str],
        marked: set[int],
        refuse: float,
        framework_id: str,
        roles: Sequence[str],
    ) -> None:
        """One ACCEPT per agent and role, and one DECLINE for the rest, all pipelined on
        one connection: every offer is answered before any answer is awaited."""
        batch: list[tuple[AcceptPlan, list[int]]] = []
        declined = list(plan.declines)
        for accept in plan.accepts:
            launching = [w.pk for w, _ in accept.launches if w.pk in marked]
            for pk in launching:
                self._forget(pk)
            if launching:
                batch.append((accept, launching))
            else:
                declined.extend(accept.offer_ids)
        declined = [offer_id for offer_id in declined if offer_id not in current.answered]
        calls: list[Json | EncodedCall] = [
            accept_launch_encoded(
                framework_id, accept.offer_ids, [infos[pk] for pk in launching], refuse
            )
            for accept, launching in batch
        ]
        if declined:
            calls.append(decline_call(framework_id, declined, refuse))
        more = plan.capped and self._may_ask_more(current.started)
        if more:
            # Tasks that fit were left for the next offers: ask for them now (the master
            # allocates on REVIVE), not at its next periodic pass, a second away.
            calls.append(revive_call(framework_id, roles))
        if not calls:
            return
        for accept, _ in batch:
            current.answered.update(accept.offer_ids)
        current.answered.update(declined)
        errors: list[MesosError | None]
        try:
            errors = list(
                self.conn.send_many(calls, written=lambda: current.mark_sent(self.clock()))
            )
        except _NOT_APPLIED as failure:
            errors = [failure] * len(calls)
        except MesosError as failure:
            # Some may have arrived and been acted on: reconciliation settles the launches.
            logger.warning("ACCEPTs may not have arrived: %s", failure)
            errors = [None] * len(calls)
            if declined:
                # The DECLINE may be among what was lost; a master ignores a DECLINE of
                # offers it no longer holds, so sending it again is safe, holding them not.
                with contextlib.suppress(MesosError):
                    self.conn.decline(declined, refuse)
        unused: list[str] = []
        for (accept, launching), refused in zip(batch, errors, strict=False):
            if refused is not None:
                logger.warning(
                    "ACCEPT on %s refused (%s); %d task(s) wait for another offer",
                    accept.agent_id,
                    refused,
                    len(launching),
                )
                self.store.tasks_unlaunch(launching)
                unused.extend(accept.offer_ids)
                continue
            now = time.time()
            current.launched += len(launching)
            self.metrics.launches.add(len(launching), now)
            self.metrics.offers_used.add(len(accept.offer_ids), now)
        if more and errors[-1] is None:
            self.demand.revived(roles, current.started)
        if declined:
            refused = errors[len(batch)]
            if refused is None:
                self.demand.declined(roles)
                self.metrics.offers_declined.add(len(declined), time.time())
            else:
                # Offers die with their subscription; nothing is held if this one ended.
                logger.warning("DECLINE of %d offer(s) failed: %s", len(declined), refused)
        if unused:
            # A refused ACCEPT was not applied: its offers are still ours until declined.
            with contextlib.suppress(MesosError):
                self.conn.decline(unused, refuse)

    def _may_ask_more(self, now: float) -> bool:
        if now - self._asked_more_at < self.options.more_offers_interval:
            return False
        self._asked_more_at = now
        return True

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
        self._placed.pop(pk, None)
        self._why_not.pop(pk, None)

    @property
    def tracked(self) -> int:
        return len(self._cache)
