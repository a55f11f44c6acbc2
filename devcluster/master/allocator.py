"""Offer allocation, like the hierarchical DRF allocator in spirit.

An allocation pass runs every --allocation-interval, and right away (on the next loop
iteration) after a SUBSCRIBE, a REVIVE or a new agent. Each agent's free resources go to
one (framework, role) at a time, least dominant share first; what one takes is gone for
the next. Declined or recovered resources wait for the next periodic pass, which is why a
0 s filter still gives the next offer about a second later, as on the real master.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING

from devcluster.interfaces import Json
from devcluster.master.resources import Resources
from devcluster.master.state import ACTIVE, AgentRecord, Filter, FrameworkRecord, Offer

if TYPE_CHECKING:
    from devcluster.master.master import Master

MAX_REFUSE_SECONDS = 365 * 24 * 3600.0
_SHARE_NAMES = ("cpus", "mem", "disk")


class Allocator:
    def __init__(self, master: Master) -> None:
        self.master = master
        self._soon: asyncio.Handle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.runs = 0

    def start(self) -> None:
        self._schedule_tick()

    def stop(self) -> None:
        for handle in (self._soon, self._timer):
            if handle is not None:
                handle.cancel()
        self._soon = self._timer = None

    def request(self) -> None:
        """Allocate on the next loop iteration (batched: many requests, one pass)."""
        if self._soon is None:
            self._soon = asyncio.get_running_loop().call_soon(self._run_soon)

    def _run_soon(self) -> None:
        self._soon = None
        self.allocate()

    def _schedule_tick(self) -> None:
        interval = self.master.config.allocation_interval
        self._timer = asyncio.get_running_loop().call_later(interval, self._tick)

    def _tick(self) -> None:
        self._schedule_tick()
        self.allocate()

    # -- filters --------------------------------------------------------------------

    def refuse(
        self, framework: FrameworkRecord, offer: Offer, refused: Resources, filters: Json | None
    ) -> None:
        """Filter `refused` for the offer's agent and role (DECLINE, or ACCEPT's remainder)."""
        seconds = refuse_seconds(filters, self.master.config.refuse_seconds)
        if seconds <= 0 or refused.is_empty():
            return
        key = (offer.agent_id, offer.role)
        framework.filters.setdefault(key, []).append(Filter(refused, time.time() + seconds))

    def revive(self, framework: FrameworkRecord, roles: list[str]) -> None:
        if not roles:
            framework.filters.clear()
        else:
            wanted = set(roles)
            for key in [k for k in framework.filters if k[1] in wanted]:
                del framework.filters[key]

    # -- the pass -------------------------------------------------------------------

    def allocate(self) -> None:
        master = self.master
        candidates = [
            (framework, role)
            for framework in master.frameworks.values()
            if framework.active and framework.stream is not None
            for role in framework.roles
            if role not in framework.suppressed
        ]
        if not candidates:
            return
        self.runs += 1
        now = time.time()
        totals = master.total_quantities()
        used = {fw.id: _used(fw) for fw, _ in candidates}
        made: dict[str, list[Offer]] = {}
        for agent in list(master.free_agents.values()):
            if agent.state != ACTIVE:
                continue
            ordered = candidates
            if len(candidates) > 1:
                ordered = sorted(candidates, key=lambda c: _share(used[c[0].id], totals))
            for framework, role in ordered:
                offer = self._offer_one(framework, role, agent, now)
                if offer is None:
                    continue
                made.setdefault(framework.id, []).append(offer)
                for name, amount in offer.resources.quantities().items():
                    used[framework.id][name] = used[framework.id].get(name, 0.0) + amount
                if not agent.free.allocatable():
                    break
        for framework_id, offers in made.items():
            master.send_offers(master.frameworks[framework_id], offers)

    def _offer_one(
        self, framework: FrameworkRecord, role: str, agent: AgentRecord, now: float
    ) -> Offer | None:
        offerable = agent.free.offerable_to(role)
        if not offerable.allocatable():
            return None
        if _filtered(framework, agent.id, role, offerable, now):
            return None
        if not _min_allocatable(framework, role, offerable):
            return None
        if not constraints_allow(framework, role, agent):
            return None
        return self.master.make_offer(framework, agent, role, offerable)


def refuse_seconds(filters: Json | None, default: float) -> float:
    """Filters.refuse_seconds: default when unset or negative, capped at a year."""
    if not isinstance(filters, dict) or "refuse_seconds" not in filters:
        return default
    seconds = float(filters["refuse_seconds"])
    if seconds < 0 or seconds != seconds:
        return default
    return min(seconds, MAX_REFUSE_SECONDS)


def _used(framework: FrameworkRecord) -> dict[str, float]:
    used = framework.allocated.quantities()
    for name, amount in framework.offered_quantities.items():
        used[name] = used.get(name, 0.0) + amount
    return used


def _share(used: dict[str, float], totals: dict[str, float]) -> float:
    return max(
        (used.get(n, 0.0) / totals[n] for n in _SHARE_NAMES if totals.get(n)),
        default=0.0,
    )


def _filtered(
    framework: FrameworkRecord, agent_id: str, role: str, offerable: Resources, now: float
) -> bool:
    """A filter blocks only offers that fit inside what was refused (02-launch-finish)."""
    filters = framework.filters.get((agent_id, role))
    if not filters:
        return False
    live = [f for f in filters if f.expires > now]
    if len(live) != len(filters):
        if live:
            framework.filters[(agent_id, role)] = live
        else:
            del framework.filters[(agent_id, role)]
    return any(f.refused.contains(offerable) for f in live)


def _min_allocatable(framework: FrameworkRecord, role: str, offerable: Resources) -> bool:
    """FrameworkInfo.offer_filters[role].min_allocatable_resources: any group suffices."""
    role_filters = framework.info.get("offer_filters", {}).get(role, {})
    groups = role_filters.get("min_allocatable_resources", {}).get("quantities", [])
    if not groups:
        return True
    have = offerable.quantities()
    return any(
        all(
            have.get(name, 0.0) >= q.get("value", 0.0)
            for name, q in g.get("quantities", {}).items()
        )
        for g in groups
    )


def constraints_allow(framework: FrameworkRecord, role: str, agent: AgentRecord) -> bool:
    """Subscribe.offer_constraints: any group whose constraints all hold."""
    role_constraints = framework.offer_constraints.get("role_constraints", {}).get(role)
    groups = (role_constraints or {}).get("groups", [])
    if not groups:
        return True
    return any(all(_holds(c, agent) for c in g.get("attribute_constraints", [])) for g in groups)


def _holds(constraint: Json, agent: AgentRecord) -> bool:
    value = _selected(constraint.get("selector", {}), agent)
    predicate = constraint.get("predicate", {})
    if "exists" in predicate:
        return value is not None
    if "not_exists" in predicate:
        return value is None
    if "text_equals" in predicate:
        return value is not None and value == predicate["text_equals"].get("value")
    if "text_matches" in predicate:
        return value is not None and _matches(predicate["text_matches"], value)
    # The negative predicates hold for an agent that lacks the attribute.
    if "text_not_equals" in predicate:
        return value is None or value != predicate["text_not_equals"].get("value")
    if "text_not_matches" in predicate:
        return value is None or not _matches(predicate["text_not_matches"], value)
    return True


def _matches(predicate: Json, value: str) -> bool:
    try:
        return re.fullmatch(predicate.get("regex", ""), value) is not None
    except re.error:
        return False


def _selected(selector: Json, agent: AgentRecord) -> str | None:
    if selector.get("pseudoattribute_type") == "HOSTNAME":
        return agent.hostname
    name = selector.get("attribute_name")
    for attribute in agent.attributes:
        if attribute.get("name") == name:
            return attribute_text(attribute)
    return None


def attribute_text(attribute: Json) -> str:
    kind = attribute.get("type")
    if kind == "TEXT":
        return str(attribute.get("text", {}).get("value", ""))
    if kind == "SCALAR":
        return format(attribute.get("scalar", {}).get("value", 0.0), "g")
    if kind == "RANGES":
        ranges = attribute.get("ranges", {}).get("range", [])
        return "[" + ", ".join(f"{r['begin']}-{r['end']}" for r in ranges) + "]"
    items = attribute.get("set", {}).get("item", [])
    return "{" + ",".join(items) + "}"
