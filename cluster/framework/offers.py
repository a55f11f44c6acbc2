"""From a batch of offers and the pending queue to ACCEPTs and DECLINEs: pure decisions.

The engine loads, calls `plan_round`, stores the launches, and sends what comes out. A
task's final TaskSpec (`launch_spec`) is built here too, from its stored spec, the ports
the offer gave it and the configuration resolved at that moment.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from cluster.constraints import HOSTNAME, REGION_FIELD, ZONE_FIELD, format_scalar
from cluster.framework.pools import usable_by
from cluster.framework.storage import PendingWork
from cluster.placement import PendingTask, PlacementOffer, PlacementSpec, RunningOn, place_tasks
from cluster.types import (
    Attribute,
    DockerContainer,
    MesosContainer,
    Offer,
    PortMapping,
    ResourceTotals,
    TaskSpec,
)

logger = logging.getLogger(__name__)

Launches = tuple[tuple[PendingWork, tuple[int, ...]], ...]


@dataclass(frozen=True, slots=True)
class AcceptPlan:
    """One ACCEPT: offers of one agent allocated to one role, and the tasks to launch."""

    agent_id: str
    role: str
    offer_ids: tuple[str, ...]
    launches: Launches


@dataclass(frozen=True, slots=True)
class RoundPlan:
    accepts: tuple[AcceptPlan, ...]
    declines: tuple[str, ...]
    offers: Mapping[str, PlacementOffer]
    # pk -> {"offers": n, "cpus": k, ...} for every task left pending.
    why_not: Mapping[int, Mapping[str, int]]
    # More tasks fitted than one round launches: the rest go with the next offers.
    capped: bool = False


def render_attribute(attribute: Attribute) -> str:
    """The value as constraints compare it (Marathon's rendering, as in constraints.py)."""
    if attribute.type == "TEXT":
        return attribute.text or ""
    if attribute.type == "SCALAR":
        return format_scalar(attribute.scalar or 0.0)
    if attribute.type == "RANGES":
        return "[" + ",".join(f"{r.begin}-{r.end}" for r in sorted(attribute.ranges)) + "]"
    return "{" + ",".join(sorted(attribute.items)) + "}"


def offer_attributes(offer: Offer) -> dict[str, str]:
    rendered: dict[str, str] = {}
    for attribute in offer.attributes:
        rendered.setdefault(attribute.name, render_attribute(attribute))
    return rendered


def placement_offer(offer: Offer) -> PlacementOffer:
    """What a plain task may use of the offer: the unreserved resources plus those reserved
    for the offer's allocation role (or an ancestor of it). A reservation for another role
    is never used, nor are persistent volumes, revocable or shared resources. The TaskInfo
    then names each part as the offer did, reserved first (cluster.framework.pools)."""
    role = offer.allocation_role or "*"
    # Shared resources are persistent volumes, which are reserved: they take this branch.
    if any(r.reservations or r.role not in (None, "*") for r in offer.resources):
        totals = ResourceTotals.of(r for r in offer.resources if usable_by(r, role))
    else:
        totals = offer.totals  # all unreserved: already summed when the offer was parsed
    return PlacementOffer(
        offer_id=offer.id,
        agent_id=offer.agent_id,
        hostname=offer.hostname,
        role=role,
        cpus=totals.cpus,
        mem=totals.mem,
        disk=totals.disk,
        gpus=totals.gpus,
        ports=tuple((r.begin, r.end) for r in totals.ports),
        attributes=offer_attributes(offer),
        region=offer.region,
        zone=offer.zone,
    )


def plan_round(
    offers: Sequence[Offer],
    work: Sequence[PendingWork],
    running: Mapping[str, Sequence[RunningOn]] | None = None,
    placed: Mapping[int, PendingTask] | None = None,
    max_launches: int | None = None,
) -> RoundPlan:
    """Which tasks go where; one ACCEPT per agent and role, every other offer declined.

    `placed` may hold each task's PendingTask, made once while it waits (by pk). With
    `max_launches`, the decision stops after that many launches, so that one round's
    latency stays bounded however long the queue is; `capped` says tasks were left over."""
    by_id = {offer.id: offer for offer in offers}
    usable, broken = [], []
    for offer in offers:
        try:
            usable.append(placement_offer(offer))
        except ValueError as error:  # a malformed offer is declined, never a crash
            logger.warning("Declining offer %s: %s", offer.id, error)
            broken.append(offer.id)
    if placed is None:
        shapes: dict[tuple[object, ...], PlacementSpec] = {}
        tasks = [w.placement(shapes) for w in work]
    else:
        tasks = [placed[w.pk] for w in work]
    placement = place_tasks(usable, tasks, running or {}, max_launches=max_launches)
    work_by_id = {w.task_id: w for w in work}
    grouped: dict[tuple[str, str], list[tuple[str, list[tuple[PendingWork, tuple[int, ...]]]]]]
    grouped = defaultdict(list)
    unused = list(placement.unused_offer_ids)
    for plan in placement.plans:
        offer = by_id[plan.offer_id]
        launches = [(work_by_id[launch.task_id], launch.ports) for launch in plan.launches]
        grouped[(offer.agent_id, offer.allocation_role or "*")].append((plan.offer_id, launches))
    accepts = tuple(
        AcceptPlan(
            agent_id=agent_id,
            role=role,
            offer_ids=tuple(offer_id for offer_id, _ in items),
            launches=tuple(pair for _, launches in items for pair in launches),
        )
        for (agent_id, role), items in sorted(grouped.items())
    )
    # A task the launch limit cut off was never checked against these offers: counting
    # them as rejections would make "why is this pending" lie.
    why_not = {
        work_by_id[task_id].pk: {"offers": reason.offers, **reason.counts()}
        for task_id, reason in placement.not_placed.items()
        if not reason.limited
    }
    capped = any(reason.limited for reason in placement.not_placed.values())
    declines = (*unused, *broken)
    return RoundPlan(accepts, declines, {o.offer_id: o for o in usable}, why_not, capped)


def port_environment(ports: Sequence[int], hostname: str) -> dict[str, str]:
    """Marathon's variables, which Mesos itself never sets (06-ports): PORT0..N, PORTS,
    PORT (the first one) and HOST."""
    env = {f"PORT{i}": str(port) for i, port in enumerate(ports)}
    if ports:
        env["PORT"] = str(ports[0])
        env["PORTS"] = ",".join(str(port) for port in ports)
    env["HOST"] = hostname
    return env


def launch_spec(
    work: PendingWork,
    ports: Sequence[int],
    hostname: str,
    configured: Mapping[str, str],
) -> TaskSpec:
    """The TaskSpec to send: the stored spec with its id, the offer's ports bound, and the
    environment in layers: the spec's own, then the environment's configuration (which
    differs per environment, so it wins), then the facts of this launch (PORT0, HOST).
    """
    spec = work.spec
    assigned = tuple(ports)
    environment = {**spec.environment, **configured, **port_environment(assigned, hostname)}
    return dataclasses.replace(
        spec,
        task_id=work.task_id,
        ports=assigned,
        environment=environment,
        labels={**spec.labels, **work.labels},
        container=_bind_container(spec.container, spec.ports, assigned),
    )


def _bind_container(
    container: DockerContainer | MesosContainer | None,
    requested: Sequence[int],
    assigned: Sequence[int],
) -> DockerContainer | MesosContainer | None:
    """Port mappings with host_port 0 take the ports given for the requests of 0, in order."""
    if container is None:
        return None
    free = iter([port for want, port in zip(requested, assigned, strict=True) if want == 0])
    if isinstance(container, DockerContainer):
        mappings = _bind(container.port_mappings, free)
        return dataclasses.replace(container, port_mappings=mappings)
    networks = tuple(
        dataclasses.replace(n, port_mappings=_bind(n.port_mappings, free))
        for n in container.networks
    )
    return dataclasses.replace(container, networks=networks)


def _bind(mappings: Sequence[PortMapping], free: Iterator[int]) -> tuple[PortMapping, ...]:
    bound = []
    for mapping in mappings:
        if mapping.host_port == 0:
            port = next(free, None)
            if port is None:
                raise ValueError("a port mapping with host_port 0 needs a port request of 0")
            mapping = dataclasses.replace(mapping, host_port=port)
        bound.append(mapping)
    return tuple(bound)


def running_attributes(
    attributes: Mapping[str, str],
) -> tuple[dict[str, str], str | None, str | None]:
    """Split what the store keeps per launched task back into RunningOn's parts."""
    plain = {k: v for k, v in attributes.items() if k not in (REGION_FIELD, ZONE_FIELD, HOSTNAME)}
    return plain, attributes.get(REGION_FIELD), attributes.get(ZONE_FIELD)


def stored_attributes(offer: PlacementOffer) -> dict[str, str]:
    """The agent facts constraints look at, kept with a launched task."""
    stored = dict(offer.attributes)
    if offer.region is not None:
        stored[REGION_FIELD] = offer.region
    if offer.zone is not None:
        stored[ZONE_FIELD] = offer.zone
    return stored
